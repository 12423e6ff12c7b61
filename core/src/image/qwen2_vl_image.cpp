// Qwen2VLImageProcessor (transformers models/qwen2_vl/image_processing_qwen2_vl.py), the slow
// (PIL) processor: the resize is PIL's bicubic on 8-bit RGB, rescale in float64 cast to float32,
// normalise in float32, as CLIP's (preprocess.cpp).
#include "image/qwen2_vl_image.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"

namespace atman {
namespace {

using nlohmann::json;

constexpr int64_t kMaxPixelsLimit = int64_t{1} << 31;  // catches garbage configs

int64_t read_int(const json& root, const char* key, int64_t fallback, int64_t lo, int64_t hi,
                 const std::string& file) {
  if (!root.contains(key) || root[key].is_null()) return fallback;
  const json& v = root[key];
  if (!v.is_number() || v.get<double>() != std::floor(v.get<double>()) || v.get<double>() < lo ||
      v.get<double>() > hi)
    throw ModelError(file + ": field \"" + key + "\" must be a whole number between " +
                     std::to_string(lo) + " and " + std::to_string(hi) + ", found " + v.dump());
  return static_cast<int64_t>(v.get<double>());
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

}  // namespace

Qwen2VLImageConfig load_qwen2_vl_image_config(const std::filesystem::path& model_dir) {
  Qwen2VLImageConfig c;
  const auto path = model_dir / "preprocessor_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return c;
  std::ifstream in(path);
  if (!in) throw ModelError("cannot read " + path.string());
  json root = json::parse(in, nullptr, /*allow_exceptions=*/false);
  const std::string file = path.string();
  if (!root.is_object()) throw ModelError(file + " is not a JSON object");
  c.min_pixels = read_int(root, "min_pixels", c.min_pixels, 1, kMaxPixelsLimit, file);
  c.max_pixels = read_int(root, "max_pixels", c.max_pixels, 1, kMaxPixelsLimit, file);
  if (root.contains("size") && root["size"].is_object()) {
    c.min_pixels = read_int(root["size"], "shortest_edge", c.min_pixels, 1, kMaxPixelsLimit, file);
    c.max_pixels = read_int(root["size"], "longest_edge", c.max_pixels, 1, kMaxPixelsLimit, file);
  }
  if (c.min_pixels > c.max_pixels)
    throw ModelError(file + ": min_pixels (" + std::to_string(c.min_pixels) +
                     ") is larger than max_pixels (" + std::to_string(c.max_pixels) + ")");
  c.patch_size = static_cast<int>(read_int(root, "patch_size", c.patch_size, 1, 1024, file));
  c.temporal_patch_size =
      static_cast<int>(read_int(root, "temporal_patch_size", c.temporal_patch_size, 1, 64, file));
  c.merge_size = static_cast<int>(read_int(root, "merge_size", c.merge_size, 1, 64, file));
  read_triple(root, "image_mean", c.mean, file);
  read_triple(root, "image_std", c.std, file);
  for (int i = 0; i < 3; ++i)
    if (!(c.std[i] > 0.0f) || !std::isfinite(c.std[i]) || !std::isfinite(c.mean[i]))
      throw ModelError(file + ": image_std must hold finite positive numbers");
  if (root.contains("rescale_factor") && root["rescale_factor"].is_number())
    c.rescale_factor = root["rescale_factor"].get<double>();
  if (root.contains("do_rescale") && root["do_rescale"] == false) c.rescale_factor = 1.0;
  if (root.contains("do_normalize") && root["do_normalize"].is_boolean())
    c.do_normalize = root["do_normalize"].get<bool>();
  c.resample = static_cast<ResampleFilter>(
      read_int(root, "resample", int(ResampleFilter::bicubic), 0, 5, file));
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
