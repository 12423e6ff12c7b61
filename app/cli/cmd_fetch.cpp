// atman fetch REPO_ID: downloads a model from the Hugging Face Hub into the huggingface_hub cache
// and prints the snapshot folder (progress goes to stderr). Also the progress printer used when
// --model names a repo id that is not cached yet.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "atman/error.h"
#include "atman/hub.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {
namespace {

std::string megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

// One line per file on stderr; on a terminal also a live byte count for the file in flight.
hub::ProgressCallback progress_printer() {
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  return [terminal](const hub::Progress& p) {
    if (p.finished) {
      std::fprintf(stderr, "%sfetch %s [%d/%d] %s %s%s\n", terminal ? "\r\033[K" : "",
                   p.repo_id.c_str(), p.file_index + 1, p.file_count, p.file.c_str(),
                   megabytes(p.bytes_total).c_str(), p.cached ? " (cached)" : "");
    } else if (terminal) {
      if (p.bytes_total)
        std::fprintf(stderr, "\r\033[Kfetch %s [%d/%d] %s %s of %s (%d%%)", p.repo_id.c_str(),
                     p.file_index + 1, p.file_count, p.file.c_str(),
                     megabytes(p.bytes_done).c_str(), megabytes(p.bytes_total).c_str(),
                     static_cast<int>(100.0 * static_cast<double>(p.bytes_done) /
                                      static_cast<double>(p.bytes_total)));
      else
        std::fprintf(stderr, "\r\033[Kfetch %s [%d/%d] %s %s", p.repo_id.c_str(), p.file_index + 1,
                     p.file_count, p.file.c_str(), megabytes(p.bytes_done).c_str());
    }
    std::fflush(stderr);
    return true;
  };
}

}  // namespace

void install_hub_resolver() {
  hub::FetchOptions options;
  options.progress = progress_printer();
  hub::install_repo_resolver(std::move(options));
}

int run_fetch(int argc, char** argv) {
  Args args(argc, argv, 2, common_options({"revision", "cache-dir", "endpoint"}), {"offline"});
  apply_common(args);
  if (args.positional().size() != 1)
    throw InputError(
        "usage: atman fetch REPO_ID [--revision R] [--cache-dir DIR] "
        "(e.g. atman fetch openai/clip-vit-base-patch32)");
  hub::FetchOptions options;
  options.cache_dir = args.get("cache-dir");
  options.endpoint = args.get("endpoint");
  if (args.has("offline")) options.offline = true;
  options.progress = progress_printer();
  const auto snapshot = hub::fetch(args.positional()[0], args.get("revision", "main"), options);
  std::cout << snapshot.string() << "\n";
  return 0;
}

}  // namespace atman::cli
