// SigLIP 2 NaFlex image preprocessing as transformers' Siglip2ImageProcessor (the PIL one) does it:
// resize keeping the aspect ratio so that the patch grid fits max_num_patches
// (get_image_size_for_max_num_patches), rescale, normalise, cut into patches in row-major order,
// each patch flattened as (y, x, channel), padded with zero rows to max_num_patches.
// Core-internal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

#include "atman/image.h"

namespace atman {

struct Siglip2ImageConfig {
  int patch_size = 16;
  int max_num_patches = 256;
  float mean[3] = {0.5f, 0.5f, 0.5f};
  float std[3] = {0.5f, 0.5f, 0.5f};
  double rescale_factor = 1.0 / 255.0;
  bool do_resize = true;
  bool do_normalize = true;
  ResampleFilter resample = ResampleFilter::bilinear;
};

// Reads <dir>/preprocessor_config.json (Siglip2ImageProcessor's fields); the class defaults when
// the file or a field is absent. ModelError naming the file for a malformed one.
Siglip2ImageConfig load_siglip2_image_config(const std::filesystem::path& model_dir);

// transformers' get_image_size_for_max_num_patches: the (height, width) in pixels, multiples of
// patch_size and at least one patch each, of the largest scale (binary search to 1e-5) whose grid
// holds at most max_num_patches patches.
std::pair<int, int> siglip2_image_size(int image_height, int image_width, int patch_size,
                                       int max_num_patches);

struct Siglip2Pixels {
  // max_patches rows of patch_values = patch_size² * 3 values; the first rows * cols are the
  // patches of the resized image in row-major order (pixel_attention_mask 1), the rest zeros.
  std::vector<float> patches;
  int64_t max_patches = 0, patch_values = 0;
  int rows = 0, cols = 0;  // spatial_shapes: the patch grid of the resized image
  int patch_size = 16;
  int resized_width = 0, resized_height = 0;
  int original_width = 0, original_height = 0;
  int64_t valid() const { return int64_t{rows} * cols; }
  // The rectangle in original-image pixels of the patches in rows [row, row + n_rows) and columns
  // [col, col + n_cols): their pixels of the resized image scaled back per axis.
  RectF rect(int row, int col, int n_rows = 1, int n_cols = 1) const;
};

// InputError for an empty image, or (do_resize off) one whose sides are not multiples of the
// patch size or whose grid exceeds max_num_patches.
Siglip2Pixels preprocess_siglip2(const RgbImage& image, const Siglip2ImageConfig& config);

}  // namespace atman
