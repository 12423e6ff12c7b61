// Qwen2VLImageProcessor (transformers models/qwen2_vl/image_processing_qwen2_vl.py), the slow
// (PIL) processor: the resize is PIL's bicubic on 8-bit RGB, rescale in float64 cast to float32,
// normalise in float32, as CLIP's (preprocess.cpp).
#include "image/qwen2_vl_image.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "image/config_reader.h"

namespace atman {
namespace {

using nlohmann::json;

constexpr int64_t kMaxPixelsLimit = int64_t{1} << 31;  // catches garbage configs

}  // namespace

Qwen2VLImageConfig load_qwen2_vl_image_config(const std::filesystem::path& model_dir) {
  Qwen2VLImageConfig c;
  std::string file;
  const std::optional<json> parsed = read_preprocessor_json(model_dir, file);
  if (!parsed) return c;
  const json& root = *parsed;
  const ConfigReader r{root, file};
  c.min_pixels = r.integer("min_pixels", c.min_pixels, 1, kMaxPixelsLimit);
  c.max_pixels = r.integer("max_pixels", c.max_pixels, 1, kMaxPixelsLimit);
  if (root.contains("size") && root["size"].is_object()) {
    const ConfigReader size{root["size"], file};
    c.min_pixels = size.integer("shortest_edge", c.min_pixels, 1, kMaxPixelsLimit);
    c.max_pixels = size.integer("longest_edge", c.max_pixels, 1, kMaxPixelsLimit);
  }
  if (c.min_pixels > c.max_pixels)
    throw ModelError(file + ": min_pixels (" + std::to_string(c.min_pixels) +
                     ") is larger than max_pixels (" + std::to_string(c.max_pixels) + ")");
  c.patch_size = static_cast<int>(r.integer("patch_size", c.patch_size, 1, 1024));
  c.temporal_patch_size =
      static_cast<int>(r.integer("temporal_patch_size", c.temporal_patch_size, 1, 64));
  c.merge_size = static_cast<int>(r.integer("merge_size", c.merge_size, 1, 64));
  r.normalisation(c.mean, c.std);
  if (root.contains("rescale_factor") && root["rescale_factor"].is_number())
    c.rescale_factor = root["rescale_factor"].get<double>();
  if (root.contains("do_rescale") && root["do_rescale"] == false) c.rescale_factor = 1.0;
  if (root.contains("do_normalize") && root["do_normalize"].is_boolean())
    c.do_normalize = root["do_normalize"].get<bool>();
  c.resample =
      static_cast<ResampleFilter>(r.integer("resample", int(ResampleFilter::bicubic), 0, 5));
  return c;
}

std::pair<int, int> smart_resize(int height, int width, int factor, int64_t min_pixels,
                                 int64_t max_pixels) {
  if (height < 10 || width < 10)
    throw InputError("the image is " + std::to_string(width) + "\u00D7" + std::to_string(height) +
                     " pixels; Qwen2-VL models need at least 10 pixels a side");
  if (double(std::max(height, width)) / std::min(height, width) > 200)
    throw InputError("the image is " + std::to_string(width) + "\u00D7" + std::to_string(height) +
                     " pixels, more elongated than the 200:1 Qwen2-VL models accept");
  // Python's round() rounds halves to even, as nearbyint does in the default rounding mode.
  const double f = factor;
  int64_t h_bar = static_cast<int64_t>(std::nearbyint(height / f)) * factor;
  int64_t w_bar = static_cast<int64_t>(std::nearbyint(width / f)) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(double(height) * width / double(max_pixels));
    h_bar = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(height / beta / f)) * factor);
    w_bar = std::max<int64_t>(factor, static_cast<int64_t>(std::floor(width / beta / f)) * factor);
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(double(min_pixels) / (double(height) * width));
    h_bar = static_cast<int64_t>(std::ceil(height * beta / f)) * factor;
    w_bar = static_cast<int64_t>(std::ceil(width * beta / f)) * factor;
  }
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

RectF Qwen2VLPixels::merged_rect(int row, int col) const {
  const double unit = double(patch_size) * merge_size;
  const double sx = double(original_width) / resized_width;
  const double sy = double(original_height) / resized_height;
  return RectF{col * unit * sx, row * unit * sy, unit * sx, unit * sy};
}

Qwen2VLPixels qwen2_vl_grid(int width, int height, const Qwen2VLImageConfig& config) {
  const int p = config.patch_size, m = config.merge_size;
  const auto [resized_height, resized_width] =
      smart_resize(height, width, p * m, config.min_pixels, config.max_pixels);
  Qwen2VLPixels out;
  out.patch_size = p;
  out.merge_size = m;
  out.original_width = width;
  out.original_height = height;
  out.resized_width = resized_width;
  out.resized_height = resized_height;
  out.grid_t = 1;  // one image, repeated to fill the temporal patch
  out.grid_h = resized_height / p;
  out.grid_w = resized_width / p;
  return out;
}

Qwen2VLPixels preprocess_qwen2_vl(const RgbImage& image, const Qwen2VLImageConfig& config) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("cannot preprocess an image of " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " pixels holding " +
                     std::to_string(image.pixels.size()) + " bytes");
  Qwen2VLPixels out = qwen2_vl_grid(image.width, image.height, config);
  const int p = config.patch_size, m = config.merge_size, tp = config.temporal_patch_size;
  const int width = out.resized_width, height = out.resized_height;
  RgbImage resized_storage;
  const RgbImage* resized = &image;
  if (width != image.width || height != image.height) {
    resized_storage = resize_image(image, width, height, config.resample);
    resized = &resized_storage;
  }

  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v * config.rescale_factor);
      if (config.do_normalize) x = (x - config.mean[c]) / config.std[c];
      lut[c][v] = x;
    }

  out.patch_values = int64_t{3} * tp * p * p;
  out.patches.resize(static_cast<size_t>(out.rows() * out.patch_values));
  // permute(0, 3, 6, 4, 7, 2, 1, 5, 8) of (t, frame, c, h/m, m, p, w/m, m, p): rows by
  // (t, h/m, w/m, m, m), values by (c, frame, p, p).
  size_t at = 0;
  for (int bh = 0; bh < out.grid_h / m; ++bh)
    for (int bw = 0; bw < out.grid_w / m; ++bw)
      for (int mh = 0; mh < m; ++mh)
        for (int mw = 0; mw < m; ++mw) {
          const int y0 = (bh * m + mh) * p, x0 = (bw * m + mw) * p;
          for (int c = 0; c < 3; ++c)
            for (int frame = 0; frame < tp; ++frame)
              for (int y = 0; y < p; ++y) {
                const uint8_t* row =
                    &resized->pixels[(static_cast<size_t>(y0 + y) * width + x0) * 3];
                for (int x = 0; x < p; ++x) out.patches[at++] = lut[c][row[x * 3 + c]];
              }
        }
  return out;
}

}  // namespace atman
