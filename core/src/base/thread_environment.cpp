// Passive OpenMP waiting for the executables that call passive_thread_waiting() (the CLI and the
// GUI). libgomp reads OMP_WAIT_POLICY once, in its library constructor, before main() runs; by
// default an idle worker then spins for ~300000 pause instructions after every parallel region.
// On a two-core machine that spinning competes with OpenBLAS's own threads and with the GUI
// thread. setenv() before libgomp starts is not enough: the executable's .preinit_array runs
// before any library constructor, but libc's own initialisation then resets environ to the
// process's original environment. So the process re-executes itself once, from the
// .preinit_array (before LibTorch's ~0.7 s of static initialisation, so it costs only the
// dynamic loading, ~60 ms here), with OMP_WAIT_POLICY=PASSIVE added. A value the user set, or
// ATMAN_KEEP_OMP_WAIT_POLICY=1, leaves the environment alone.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "atman/runtime.h"

namespace atman {
namespace {

constexpr char kPolicy[] = "OMP_WAIT_POLICY=PASSIVE";

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

void exec_with_passive_waiting(int argc, char** argv, char** envp) {
  if (has_variable(envp, "OMP_WAIT_POLICY") || has_variable(envp, "ATMAN_KEEP_OMP_WAIT_POLICY") ||
      computes_nothing(argc, argv))
    return;
  std::vector<char*> env;
  for (char** entry = envp; entry && *entry; ++entry) env.push_back(*entry);
  env.push_back(const_cast<char*>(kPolicy));
  env.push_back(nullptr);
  ::execve("/proc/self/exe", argv, env.data());
  // Not re-executed (no /proc, say): run on with libgomp's default policy.
}

}  // namespace

// Only an executable has a .preinit_array; this object is linked only into those that reference
// passive_thread_waiting().
__attribute__((section(".preinit_array"),
               used)) static void (*const atman_preinit)(int, char**,
                                                         char**) = &exec_with_passive_waiting;

bool passive_thread_waiting() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy && (std::strcmp(policy, "PASSIVE") == 0 || std::strcmp(policy, "passive") == 0);
}

}  // namespace atman
