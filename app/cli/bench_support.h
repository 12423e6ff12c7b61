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

// Random-weight checkpoints in exact Hugging Face layout at real sizes, for speed comparisons:
// `name` is b32 | b16 | l14 (openai/clip-vit-base-patch32, -base-patch16, -large-patch14; CLIP
// tokenizer files copied from `tokenizer_dir`) or gpt2 | llama-1b (gpt2 124M, a Llama-3.2-1B-like
// decoder written in bf16 as it ships; GPT-2 tokenizer files from `tokenizer_dir`). Seeded: the
// same name gives the same weights.
std::filesystem::path write_random_clip(const std::filesystem::path& dir, const std::string& name,
                                        const std::filesystem::path& tokenizer_dir);
std::filesystem::path write_real_size_lm(const std::filesystem::path& dir, const std::string& name,
                                         const std::filesystem::path& tokenizer_dir);

// Measured single-precision matrix-multiply rate of this process's BLAS (GFLOP/s), on square
// 1024 matrices with the current thread count: the yardstick of the explain phase's FLOP ratio.
double measure_sgemm_gflops();

}  // namespace atman::cli
