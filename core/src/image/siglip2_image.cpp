// Siglip2ImageProcessor (transformers models/siglip2/image_processing_siglip2.py), the slow (PIL)
// processor: PIL's resize (bilinear by default) on 8-bit RGB, rescale in float64 cast to float32,
// normalise in float32, as CLIP's (preprocess.cpp).
#include "image/siglip2_image.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "image/config_reader.h"

namespace atman {
namespace {

using nlohmann::json;

bool read_bool(const json& root, const char* key, bool fallback) {
  if (!root.contains(key) || !root[key].is_boolean()) return fallback;
  return root[key].get<bool>();
}

}  // namespace

Siglip2ImageConfig load_siglip2_image_config(const std::filesystem::path& model_dir) {
  Siglip2ImageConfig c;
  std::string file;
  const std::optional<json> parsed = read_preprocessor_json(model_dir, file);
  if (!parsed) return c;
  const json& root = *parsed;
  const ConfigReader r{root, file};
  c.patch_size = static_cast<int>(r.integer("patch_size", c.patch_size, 1, 1024));
  c.max_num_patches = static_cast<int>(r.integer("max_num_patches", c.max_num_patches, 1, 1 << 20));
  r.normalisation(c.mean, c.std);
  if (root.contains("rescale_factor") && root["rescale_factor"].is_number())
    c.rescale_factor = root["rescale_factor"].get<double>();
  if (!read_bool(root, "do_rescale", true)) c.rescale_factor = 1.0;
  c.do_resize = read_bool(root, "do_resize", true);
  c.do_normalize = read_bool(root, "do_normalize", true);
  c.resample =
      static_cast<ResampleFilter>(r.integer("resample", int(ResampleFilter::bilinear), 0, 5));
  return c;
}

std::pair<int, int> siglip2_image_size(int image_height, int image_width, int patch_size,
                                       int max_num_patches) {
  // Python floats are doubles: the same search, step for step.
  auto scaled = [&](double scale, int size) {
    const double s = std::ceil(size * scale / patch_size) * patch_size;
    return static_cast<int>(std::max(double(patch_size), s));
  };
  const double eps = 1e-5;
  double scale_min = eps / 10, scale_max = 100.0;
  while (scale_max - scale_min >= eps) {
    const double scale = (scale_min + scale_max) / 2;
    const double patches = (double(scaled(scale, image_height)) / patch_size) *
                           (double(scaled(scale, image_width)) / patch_size);
    if (patches <= max_num_patches)
      scale_min = scale;
    else
      scale_max = scale;
  }
  return {scaled(scale_min, image_height), scaled(scale_min, image_width)};
}

RectF Siglip2Pixels::rect(int row, int col, int n_rows, int n_cols) const {
  const double sx = double(original_width) / resized_width;
  const double sy = double(original_height) / resized_height;
  return RectF{double(col) * patch_size * sx, double(row) * patch_size * sy,
               double(n_cols) * patch_size * sx, double(n_rows) * patch_size * sy};
}

Siglip2Pixels preprocess_siglip2(const RgbImage& image, const Siglip2ImageConfig& config) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("cannot preprocess an image of " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " pixels holding " +
                     std::to_string(image.pixels.size()) + " bytes");
  const int p = config.patch_size;
  int height = image.height, width = image.width;
  if (config.do_resize) {
    std::tie(height, width) =
        siglip2_image_size(image.height, image.width, p, config.max_num_patches);
  } else if (height % p != 0 || width % p != 0 ||
             int64_t{height / p} * (width / p) > config.max_num_patches) {
    throw InputError("the image is " + std::to_string(width) + "x" + std::to_string(height) +
                     " pixels; without do_resize SigLIP 2 needs sides that are multiples of " +
                     std::to_string(p) + " and at most " + std::to_string(config.max_num_patches) +
                     " patches");
  }
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

  Siglip2Pixels out;
  out.patch_size = p;
  out.original_width = image.width;
  out.original_height = image.height;
  out.resized_width = width;
  out.resized_height = height;
  out.rows = height / p;
  out.cols = width / p;
  out.max_patches = config.max_num_patches;
  out.patch_values = int64_t{p} * p * 3;
  out.patches.assign(static_cast<size_t>(out.max_patches * out.patch_values), 0.0f);
  // convert_image_to_patches: (rows, p, cols, p, 3) -> (rows, cols, p, p, 3).
  size_t at = 0;
  for (int r = 0; r < out.rows; ++r)
    for (int c = 0; c < out.cols; ++c)
      for (int y = 0; y < p; ++y) {
        const uint8_t* row = &resized->pixels[(static_cast<size_t>(r * p + y) * width + c * p) * 3];
        for (int x = 0; x < p; ++x)
          for (int ch = 0; ch < 3; ++ch) out.patches[at++] = lut[ch][row[x * 3 + ch]];
      }
  return out;
}

}  // namespace atman
