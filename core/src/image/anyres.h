// LLaVA-NeXT / LLaVA-OneVision "anyres" image geometry and preprocessing, as transformers'
// image_processing_utils (select_best_resolution, get_patch_output_size) and the
// LlavaNextImageProcessor / LlavaOnevisionImageProcessor compute it. Core-internal, torch-free.
#pragma once

#include <utility>
#include <vector>

#include "atman/image.h"

namespace atman {

// (height, width) of the resolution, among `pinpoints` ((height, width) pairs), that keeps the
// most of an image of height x width pixels and, among equals, wastes the least.
std::pair<int, int> select_best_resolution(int height, int width,
                                           const std::vector<std::pair<int, int>>& pinpoints);

// (height, width) of an image of height x width resized to fit target_height x target_width with
// its aspect ratio (the long side fills the target, the other is ceil'ed, capped at the target).
std::pair<int, int> patch_output_size(int height, int width, int target_height, int target_width);

// Where an image goes in the best resolution: resized, centred, zero-padded, cut into tiles.
struct AnyresLayout {
  int image_width = 0, image_height = 0;
  int best_width = 0, best_height = 0;        // the chosen resolution
  int resized_width = 0, resized_height = 0;  // the image inside it
  int pad_left = 0, pad_top = 0;              // its offset (the padding before it)
  int tile = 0;                               // tile side in pixels (the tower's image_size)
  int tile_rows = 0, tile_cols = 0;           // best_height / tile, best_width / tile
  // A rectangle of best-resolution pixels in original-image pixels, clipped to the image (empty
  // when it lies in the padding).
  RectF to_original(const RectF& best_rect) const;
};
AnyresLayout anyres_layout(int width, int height, const std::vector<std::pair<int, int>>& pinpoints,
                           int tile);

// Clips a rectangle to [0, width] x [0, height] (zero size when it lies outside).
RectF clip_rect(const RectF& rect, int width, int height);

// The pixel values transformers gives for one image: views = 1 + tile_rows * tile_cols, the base
// view (the whole image resized to tile x tile, aspect not kept) then the tiles of the padded
// best-resolution image, row-major, each rescaled and normalised with `config`. The resize filter
// is config.resample. geometry describes the base view.
PixelTensor preprocess_anyres(const RgbImage& image, const ClipPreprocessConfig& config,
                              const std::vector<std::pair<int, int>>& pinpoints, int tile);

}  // namespace atman
