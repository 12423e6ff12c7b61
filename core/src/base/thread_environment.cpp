// The fallback for an executable started without the thread environment (thread_environment.h):
// `atman-cli` run directly instead of through its `atman` launcher, or `atman-studio`. setenv()
// before libgomp and OpenBLAS start is not enough: the executable's .preinit_array runs before any
// library constructor, but libc's own initialisation then resets environ to the process's original
// environment. So the process re-executes itself once, from the .preinit_array (before LibTorch's
// static initialisation, so it costs only the dynamic loading of its ~340 libraries, ~0.15 s of
// CPU here), with the variables added. The launcher avoids that second loading.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "atman/runtime.h"
#include "base/thread_environment.h"

namespace atman {
namespace {

// `atman` commands that run no model (plain `info`, `tokenize`, `fetch`, help): not worth the
// extra exec. No GUI option is spelt like one of these.
bool computes_nothing(int argc, char** argv) {
  if (argc < 2) return false;
  for (const char* command : {"info", "tokenize", "fetch", "help", "--help", "-h", "--version"})
    if (std::strcmp(argv[1], command) == 0) return !(std::strcmp(command, "info") == 0 && argc > 2);
  return false;
}

void exec_with_thread_environment(int argc, char** argv, char** envp) {
  if (thread_environment::is_set(envp) || computes_nothing(argc, argv)) return;
  auto added = thread_environment::additions(argc, argv, envp);
  auto env = thread_environment::environment_with(envp, added);
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
