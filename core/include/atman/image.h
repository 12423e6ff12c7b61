// Images in, model pixels out. Loading honours EXIF orientation and turns grayscale, alpha,
// 16-bit and CMYK into 8-bit RGB. Preprocessing keeps the crop geometry so a patch heatmap maps back
// onto the original image.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace atman {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel, RGB
};

// Throws InputError for unreadable, empty or absurdly large files, naming the path.
RgbImage load_image(const std::filesystem::path& path);
RgbImage decode_image(const std::vector<uint8_t>& encoded_bytes, const std::string& origin);

struct RectF {
  double x = 0, y = 0, width = 0, height = 0;
};

// How the model's square input relates to the original image: resize by `scale` so the shortest
// side is `resized_shortest`, then crop a `crop_size` square whose top-left corner is at
// (crop_x, crop_y) in resized pixels.
struct CropGeometry {
  int original_width = 0;
  int original_height = 0;
  double scale = 1.0;
  int crop_x = 0;
  int crop_y = 0;
  int crop_size = 0;
  // The rectangle in original-image pixels covered by a rectangle in model-input pixels.
  RectF to_original(const RectF& model_rect) const;
};

struct ClipPreprocessConfig {
  int shortest_edge = 224;
  int crop_size = 224;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  bool do_resize = true;
  bool do_center_crop = true;
  bool do_normalize = true;
  double rescale_factor = 1.0 / 255.0;
};

// Reads <dir>/preprocessor_config.json (HF CLIPImageProcessor fields); defaults when absent.
ClipPreprocessConfig load_preprocess_config(const std::filesystem::path& model_dir);

struct PixelTensor {
  int channels = 3;
  int height = 0;
  int width = 0;
  std::vector<float> values;  // CHW, normalised
  CropGeometry geometry;
};

// HF CLIPImageProcessor: bicubic resize of the shortest side, centre crop, rescale, normalise.
PixelTensor preprocess_clip(const RgbImage& image, const ClipPreprocessConfig& config);

}  // namespace atman
