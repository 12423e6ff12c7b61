// The thread environment of the CLI and the GUI: variables that libgomp and OpenBLAS read once, in
// their library constructors, before main() runs, so they must be in the environment the process
// starts with. Header-only and free of LibTorch: the `atman` launcher (app/cli/launcher.cpp), which
// sets them before it executes the real CLI, includes it too.
//
// - OMP_WAIT_POLICY=PASSIVE: by default an idle libgomp worker spins for ~300000 pause
//   instructions after every parallel region, competing with OpenBLAS's threads and the GUI.
// - OPENBLAS_THREAD_TIMEOUT=20: an idle OpenBLAS worker calls sched_yield() in a loop for 2^20 TSC
//   ticks (0.4 ms at 2.6 GHz) before it sleeps, instead of 2^28 (0.1 s) after every multithreaded
//   matrix product, i.e. through most of the elementwise work torch's OpenMP workers do between
//   products. Shorter is worse: waking a sleeping worker costs more than a product of a CLIP
//   text tower (measured: 2^4 doubled the preparation of a CLIP B/32 explanation, 0.65 -> 1.25 s).
// - OMP_NUM_THREADS=N (N from --threads, else the online cores, as set_compute_threads(0)): torch's
//   default thread count is then already the one asked for, so set_compute_threads need not call
//   at::set_num_threads, which rebuilds caffe2's pthreadpool (QNNPACK's, unused here) whose fresh
//   workers spin for a million pause instructions each. OpenBLAS reads it too (as its pool size).
//
// A wait policy the user set, or ATMAN_KEEP_OMP_WAIT_POLICY=1, leaves the environment alone.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace atman::thread_environment {

inline bool has_variable(char** envp, const char* name) {
  const size_t length = std::strlen(name);
  for (char** entry = envp; entry && *entry; ++entry)
    if (std::strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return true;
  return false;
}

// The count set_compute_threads() will be given: --threads N or --threads=N when N > 0, else
// every online core. A value that is not a plain number is left to the option parser to refuse.
inline long requested_threads(int argc, char** argv) {
  constexpr char kOption[] = "--threads";
  const char* value = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], kOption) == 0 && i + 1 < argc)
      value = argv[++i];
    else if (std::strncmp(argv[i], kOption, sizeof kOption - 1) == 0 &&
             argv[i][sizeof kOption - 1] == '=')
      value = argv[i] + sizeof kOption;
  }
  if (value && *value && std::strspn(value, "0123456789") == std::strlen(value) &&
      std::strlen(value) < 6) {
    const long threads = std::strtol(value, nullptr, 10);
    if (threads > 0) return threads;
  }
  return std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
}

// Whether envp already is the thread environment: the user chose a wait policy (or asked to keep
// theirs), or a launcher set it.
inline bool is_set(char** envp) {
  return has_variable(envp, "OMP_WAIT_POLICY") || has_variable(envp, "ATMAN_KEEP_OMP_WAIT_POLICY");
}

// The "NAME=value" entries to add to envp for this command line; none when is_set(envp).
inline std::vector<std::string> additions(int argc, char** argv, char** envp) {
  if (is_set(envp)) return {};
  std::vector<std::string> added = {"OMP_WAIT_POLICY=PASSIVE"};
  if (!has_variable(envp, "OPENBLAS_THREAD_TIMEOUT"))
    added.emplace_back("OPENBLAS_THREAD_TIMEOUT=20");
  if (!has_variable(envp, "OMP_NUM_THREADS"))
    added.push_back("OMP_NUM_THREADS=" + std::to_string(requested_threads(argc, argv)));
  return added;
}

// envp followed by `added`, null-terminated, for execve(). Points into both: keep them alive.
inline std::vector<char*> environment_with(char** envp, std::vector<std::string>& added) {
  std::vector<char*> env;
  for (char** entry = envp; entry && *entry; ++entry) env.push_back(*entry);
  for (auto& entry : added) env.push_back(entry.data());
  env.push_back(nullptr);
  return env;
}

}  // namespace atman::thread_environment
