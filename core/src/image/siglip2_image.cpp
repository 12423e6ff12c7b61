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

namespace atman {
namespace {

using nlohmann::json;

int read_int(const json& root, const char* key, int fallback, int lo, int hi,
             const std::string& file) {
  if (!root.contains(key) || root[key].is_null()) return fallback;
  const json& v = root[key];
  if (!v.is_number() || v.get<double>() != std::floor(v.get<double>()) || v.get<double>() < lo ||
      v.get<double>() > hi)
    throw ModelError(file + ": field \"" + key + "\" must be a whole number between " +
                     std::to_string(lo) + " and " + std::to_string(hi) + ", found " + v.dump());
  return static_cast<int>(v.get<double>());
}

void read_triple(const json& root, const char* key, float (&out)[3], const std::string& file) {
  if (!root.contains(key) || root[key].is_null()) return;
  const json& v = root[key];
  if (v.is_number()) {
    out[0] = out[1] = out[2] = v.get<float>();
    return;
  }
  if (!v.is_array() || v.size() != 3 || !v[0].is_number() || !v[1].is_number() || !v[2].is_number())
    throw ModelError(file + ": field \"" + key + "\" must be a list of 3 numbers, found " +
                     v.dump());
  for (int c = 0; c < 3; ++c) out[c] = v[c].get<float>();
}

bool read_bool(const json& root, const char* key, bool fallback) {
  if (!root.contains(key) || !root[key].is_boolean()) return fallback;
  return root[key].get<bool>();
}

}  // namespace

Siglip2ImageConfig load_siglip2_image_config(const std::filesystem::path& model_dir) {
  Siglip2ImageConfig c;
  const auto path = model_dir / "preprocessor_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return c;
  std::ifstream in(path);
  if (!in) throw ModelError("cannot read " + path.string());
  json root = json::parse(in, nullptr, /*allow_exceptions=*/false);
  const std::string file = path.string();
  if (!root.is_object()) throw ModelError(file + " is not a JSON object");
  c.patch_size = read_int(root, "patch_size", c.patch_size, 1, 1024, file);
  c.max_num_patches = read_int(root, "max_num_patches", c.max_num_patches, 1, 1 << 20, file);
  read_triple(root, "image_mean", c.mean, file);
  read_triple(root, "image_std", c.std, file);
  for (int i = 0; i < 3; ++i)
    if (!(c.std[i] > 0.0f) || !std::isfinite(c.std[i]) || !std::isfinite(c.mean[i]))
      throw ModelError(file + ": image_std must hold finite positive numbers");
  if (root.contains("rescale_factor") && root["rescale_factor"].is_number())
    c.rescale_factor = root["rescale_factor"].get<double>();
  if (!read_bool(root, "do_rescale", true)) c.rescale_factor = 1.0;
  c.do_resize = read_bool(root, "do_resize", true);
  c.do_normalize = read_bool(root, "do_normalize", true);
  c.resample = static_cast<ResampleFilter>(
      read_int(root, "resample", int(ResampleFilter::bilinear), 0, 5, file));
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
