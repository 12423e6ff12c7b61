// Helpers for benchmarks: process memory (RSS) and tiny random models written on the fly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace atman::cli {

// Current and peak resident set size in bytes (Linux /proc/self/status).
int64_t current_rss_bytes();
int64_t peak_rss_bytes();
// Returns freed heap to the OS and resets the peak to the current RSS, so the next phase's peak
// is its own (Linux >= 4.0: /proc/self/clear_refs "5").
void reset_peak_rss();

// A random-weight causal LM folder ("gpt2" or "llama") with `positions` positions, written under
// `dir`, with the GPT-2 tokenizer files copied from `tokenizer_dir`.
std::filesystem::path write_random_lm(const std::filesystem::path& dir, const std::string& arch,
                                      int positions, int width, int layers,
                                      const std::filesystem::path& tokenizer_dir);

}  // namespace atman::cli
