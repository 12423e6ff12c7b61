// atman: starts the command-line tool, atman-cli beside it, in the thread environment
// (core/src/base/thread_environment.h). libgomp and OpenBLAS read those variables in their library
// constructors, so they must be set before the CLI's libraries load. This launcher links neither
// LibTorch nor anything else heavy (it starts in about a millisecond), so the CLI's ~340 libraries
// load once, instead of twice as when atman-cli re-executes itself with the variables added.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "base/thread_environment.h"

int main(int argc, char** argv, char** envp) {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::string cli =
      (error ? std::filesystem::path(argv[0]) : self).parent_path() / "atman-cli";
  auto added = atman::thread_environment::additions(argc, argv, envp);
  auto env = atman::thread_environment::environment_with(envp, added);
  ::execve(cli.c_str(), argv, env.data());
  std::fprintf(stderr, "atman: cannot start %s: %s (it is built beside atman)\n", cli.c_str(),
               std::strerror(errno));
  return 127;
}
