// Shared by the fuzz harnesses: the exception policy (only atman::Error is an acceptable outcome
// of hostile input; anything else aborts, which libFuzzer reports as a crash with the input
// saved), a private scratch folder for harnesses whose API takes paths, and ../shared lookup.
//
// Every harness defines LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize). Built with
// clang and -DATMAN_FUZZ=ON they link libFuzzer; in any other build they link replay_main.cpp,
// which runs the inputs of the folders or files given on the command line once each (ctest replays
// fuzz/regressions/ that way, so every bug the fuzzers found stays fixed).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <vector>

#include "atman/error.h"

namespace atman::fuzz {

// Stops the process with a message: an exception of the wrong type or a broken property is a bug.
[[noreturn]] inline void fail(const char* harness, const std::string& what) {
  std::fprintf(stderr, "\n==%s== BUG: %s\n", harness, what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define ATMAN_FUZZ_CHECK(harness, condition, message)                                          \
  do {                                                                                         \
    if (!(condition))                                                                          \
      ::atman::fuzz::fail(harness, std::string("check failed: " #condition ": ") + (message)); \
  } while (0)

// Runs `body`; atman::Error (with its subclasses ModelError, InputError) is how the core refuses
// bad input and is fine. Any other exception escaping the core is a bug.
template <typename Body>
void guarded(const char* harness, Body&& body) {
  try {
    body();
  } catch (const atman::Error&) {
    // The documented way to refuse hostile input.
  } catch (const std::exception& e) {
    fail(harness, std::string("unexpected exception ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    fail(harness, "unexpected exception of unknown type");
  }
}

// A scratch folder private to this process (several fuzz jobs may run at once), in /dev/shm when
// there is one, so that harnesses whose API takes a path do not wear the disk. Removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    if (!std::filesystem::is_directory(base, ec) || ::access(base.c_str(), W_OK) != 0)
      base = std::filesystem::temp_directory_path();
    auto path = base / ("atman-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored);
    });
    return path;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("fuzz", "cannot write scratch file " + path.string());
}

inline void remove_file(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

// ../shared (bundled models and data): $ATMAN_SHARED, else the folder the build was configured
// with.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("ATMAN_SHARED"); env && *env) return env;
  return ATMAN_SHARED_DIR;
}

// Splits `data` at each occurrence of `separator` into at most `max_parts` parts (the last takes
// the rest). Lets one fuzz input describe several files.
inline std::vector<std::string_view> split(std::string_view data, std::string_view separator,
                                           size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const size_t at = data.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + separator.size());
  }
  parts.push_back(data);
  return parts;
}

}  // namespace atman::fuzz
