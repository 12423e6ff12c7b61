// Idefics3 / SmolVLM image preprocessing as transformers' Idefics3ImageProcessor does it: the
// longest edge resized to size["longest_edge"] (the short side kept in proportion, rounded up to an
// even number), then both sides up to multiples of max_image_size["longest_edge"] (the tile), cut
// into tiles row by row, and the whole image resized to one tile as the global view, last; every
// resize PIL's (LANCZOS in the real checkpoints). Without do_image_splitting the image is squashed
// to one tile. Core-internal, torch-free.
#pragma once

#include <filesystem>

#include "atman/image.h"

namespace atman {

struct Idefics3ImageConfig {
  bool do_resize = true;
  int longest_edge = 4 * 364;  // size["longest_edge"]
  bool do_image_splitting = true;
  int tile = 364;                      // max_image_size["longest_edge"]
  float mean[3] = {0.5f, 0.5f, 0.5f};  // IMAGENET_STANDARD_MEAN
  float std[3] = {0.5f, 0.5f, 0.5f};
  double rescale_factor = 1.0 / 255.0;  // 1.0 when do_rescale is false
  bool do_normalize = true;
  ResampleFilter resample = ResampleFilter::lanczos;
  // The rescale and normalisation as preprocess_clip applies them to a view of the tile's size.
  ClipPreprocessConfig view_config() const;
};

// Reads <dir>/preprocessor_config.json (Idefics3ImageProcessor fields); the class defaults when
// absent. ModelError naming the file for a malformed field.
Idefics3ImageConfig load_idefics3_image_config(const std::filesystem::path& model_dir);

// Where an image goes: resized, cut into rows x cols tiles (0 x 0: the global view alone).
struct Idefics3Layout {
  int image_width = 0, image_height = 0;      // the original
  int longest_width = 0, longest_height = 0;  // after the longest-edge resize
  int resized_width = 0, resized_height = 0;  // the image the tiles are cut from
  int tile = 0;
  int rows = 0, cols = 0;
  int views() const { return rows * cols + 1; }
  // Rectangles of the tiled image's pixels and of the global view's pixels in original-image
  // pixels (each resize scales an axis uniformly).
  RectF tiled_to_original(const RectF& rect) const;
  RectF global_to_original(const RectF& rect) const;
};
Idefics3Layout idefics3_layout(int width, int height, const Idefics3ImageConfig& config);

// The pixel values for one image: rows * cols tiles row-major, then the global view, each
// tile x tile, rescaled and normalised; geometry describes the global view.
PixelTensor preprocess_idefics3(const RgbImage& image, const Idefics3ImageConfig& config);

}  // namespace atman
