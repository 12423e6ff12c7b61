// Qwen2-VL / Qwen2.5-VL image preprocessing as transformers' Qwen2VLImageProcessor does it:
// smart_resize to multiples of patch_size * merge_size within [min_pixels, max_pixels], PIL
// bicubic resize, rescale, normalise, the image repeated temporal_patch_size times, and the
// flattening into patches in the processor's order. Core-internal.
#pragma once

#include <filesystem>
#include <utility>
#include <vector>

#include "atman/image.h"

namespace atman {

struct Qwen2VLImageConfig {
  int64_t min_pixels = 56 * 56;
  int64_t max_pixels = 28 * 28 * 1280;
  int patch_size = 14;
  int temporal_patch_size = 2;
  int merge_size = 2;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};  // OPENAI_CLIP_MEAN
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  ResampleFilter resample = ResampleFilter::bicubic;
};

// Reads <dir>/preprocessor_config.json: min_pixels / max_pixels at the top level or as
// size {"shortest_edge", "longest_edge"} (newer processors), patch_size, temporal_patch_size,
// merge_size, image_mean / image_std, rescale_factor, resample. Defaults when absent.
Qwen2VLImageConfig load_qwen2_vl_image_config(const std::filesystem::path& model_dir);

// transformers' smart_resize: (height, width) both multiples of `factor`, area within
// [min_pixels, max_pixels], aspect ratio kept as closely as possible. InputError for images under
// 10 pixels a side or more elongated than 200:1, as there.
std::pair<int, int> smart_resize(int height, int width, int factor, int64_t min_pixels,
                                 int64_t max_pixels);

struct Qwen2VLPixels {
  // (grid_t * grid_h * grid_w) rows of channels * temporal_patch_size * patch_size² values, in the
  // processor's order: rows by (t, h / merge, w / merge, merge row, merge column), values by
  // (channel, frame, y, x).
  std::vector<float> patches;
  int64_t patch_values = 0;                // values per row
  int grid_t = 1, grid_h = 0, grid_w = 0;  // in patches
  int resized_width = 0, resized_height = 0;
  int original_width = 0, original_height = 0;
  int patch_size = 14, merge_size = 2;
  int64_t rows() const { return int64_t{grid_t} * grid_h * grid_w; }
  // The merged grid, one language-model token per cell, in row-major order.
  int merged_rows() const { return grid_h / merge_size; }
  int merged_cols() const { return grid_w / merge_size; }
  // The rectangle of merged token (row, col) in original-image pixels: its
  // (patch_size * merge_size)² square of the resized image scaled back per axis.
  RectF merged_rect(int row, int col) const;
};

// What preprocess_qwen2_vl gives an image of this size, without its patches (`patches` empty):
// the sizes and the grid, so input layouts and rectangles need no resampling.
Qwen2VLPixels qwen2_vl_grid(int width, int height, const Qwen2VLImageConfig& config);

Qwen2VLPixels preprocess_qwen2_vl(const RgbImage& image, const Qwen2VLImageConfig& config);

}  // namespace atman
