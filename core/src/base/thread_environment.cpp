// The thread environment of the executables that call passive_thread_waiting() (the CLI and the
// GUI). libgomp and OpenBLAS read their settings once, in their library constructors, before
// main() runs. setenv() before they start is not enough: the executable's .preinit_array runs
// before any library constructor, but libc's own initialisation then resets environ to the
// process's original environment. So the process re-executes itself once, from the
// .preinit_array (before LibTorch's ~0.7 s of static initialisation, so it costs only the
// dynamic loading, ~60 ms here), with these variables added where the user has not set them:
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
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "atman/runtime.h"

namespace atman {
namespace {

bool has_variable(char** envp, const char* name) {
  const size_t length = std::strlen(name);
  for (char** entry = envp; entry && *entry; ++entry)
    if (std::strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return true;
  return false;
}

// `atman` commands that run no model (plain `info`, `tokenize`, `fetch`, help): not worth the
// extra exec. No GUI option is spelt like one of these.
bool computes_nothing(int argc, char** argv) {
  if (argc < 2) return false;
  for (const char* command : {"info", "tokenize", "fetch", "help", "--help", "-h", "--version"})
    if (std::strcmp(argv[1], command) == 0) return !(std::strcmp(command, "info") == 0 && argc > 2);
  return false;
}

// The count set_compute_threads() will be given: --threads N or --threads=N when N > 0, else
// every online core. A value that is not a plain number is left to the option parser to refuse.
long requested_threads(int argc, char** argv) {
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

void exec_with_thread_environment(int argc, char** argv, char** envp) {
  if (has_variable(envp, "OMP_WAIT_POLICY") || has_variable(envp, "ATMAN_KEEP_OMP_WAIT_POLICY") ||
      computes_nothing(argc, argv))
    return;
  std::vector<char*> env;
  for (char** entry = envp; entry && *entry; ++entry) env.push_back(*entry);
  static char policy[] = "OMP_WAIT_POLICY=PASSIVE";
  env.push_back(policy);
  static char timeout[] = "OPENBLAS_THREAD_TIMEOUT=20";
  if (!has_variable(envp, "OPENBLAS_THREAD_TIMEOUT")) env.push_back(timeout);
  std::string threads = "OMP_NUM_THREADS=" + std::to_string(requested_threads(argc, argv));
  if (!has_variable(envp, "OMP_NUM_THREADS")) env.push_back(threads.data());
  env.push_back(nullptr);
  ::execve("/proc/self/exe", argv, env.data());
  // Not re-executed (no /proc, say): run on with the libraries' defaults.
}

}  // namespace

// Only an executable has a .preinit_array; this object is linked only into those that reference
// passive_thread_waiting().
__attribute__((section(".preinit_array"),
               used)) static void (*const atman_preinit)(int, char**,
                                                         char**) = &exec_with_thread_environment;

bool passive_thread_waiting() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy && (std::strcmp(policy, "PASSIVE") == 0 || std::strcmp(policy, "passive") == 0);
}

}  // namespace atman
