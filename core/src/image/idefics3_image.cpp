// Idefics3ImageProcessor (transformers models/idefics3/image_processing_idefics3.py, the PIL
// processor): the sizes follow _resize_output_size_rescale_to_max_len (then the 4096-pixel cap of
// _resize_output_size_scale_below_upper_bound) and resize_for_vision_encoder, in Python's float64
// arithmetic; the views are split_image's. Each resize runs on the previous one's 8-bit result, as
// the processor's PIL round trips do. Rescale and normalise are preprocess_clip's (float64 rescale
// cast to float32, float32 normalise), applied to every view.
#include "image/idefics3_image.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "image/config_reader.h"

namespace atman {
namespace {

using nlohmann::json;

constexpr int kMaxImageSize = 4096;  // the processor's absolute cap on the resized image

int read_side(const json& root, const char* object, const std::string& file, int fallback) {
  if (!root.contains(object) || root[object].is_null()) return fallback;
  const json& v = root[object];
  if (!v.is_object() || !v.contains("longest_edge"))
    throw ModelError(file + ": field \"" + object +
                     "\" must be {\"longest_edge\": N} for an Idefics3 image processor, found " +
                     v.dump());
  const json& n = v["longest_edge"];
  if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > kMaxImageSize)
    throw ModelError(file + ": field \"" + object + ".longest_edge\" must be a whole number 1.." +
                     std::to_string(kMaxImageSize) + ", found " + n.dump());
  return n.get<int>();
}

// ceil(x / m) * m for Python's math.ceil of a float division.
int round_up(int x, int m) {
  return static_cast<int>(std::ceil(double(x) / m)) * m;
}

void append_view(const RgbImage& view, const Idefics3ImageConfig& config, PixelTensor& out) {
  const PixelTensor p = preprocess_clip(view, config.view_config());
  out.values.insert(out.values.end(), p.values.begin(), p.values.end());
}

}  // namespace

ClipPreprocessConfig Idefics3ImageConfig::view_config() const {
  ClipPreprocessConfig c;
  c.do_resize = c.do_center_crop = false;
  c.crop_size = c.shortest_edge = tile;
  c.do_normalize = do_normalize;
  c.rescale_factor = rescale_factor;
  c.resample = resample;
  for (int i = 0; i < 3; ++i) c.mean[i] = mean[i], c.std[i] = std[i];
  return c;
}

Idefics3ImageConfig load_idefics3_image_config(const std::filesystem::path& model_dir) {
  Idefics3ImageConfig c;
  std::string file;
  const std::optional<json> parsed = read_preprocessor_json(model_dir, file);
  if (!parsed) return c;
  const json& root = *parsed;
  const ConfigReader r{root, file};
  c.do_resize = r.flag("do_resize", c.do_resize);
  c.longest_edge = read_side(root, "size", file, c.longest_edge);
  c.do_image_splitting = r.flag("do_image_splitting", c.do_image_splitting);
  c.tile = read_side(root, "max_image_size", file, c.tile);
  r.normalisation(c.mean, c.std);
  if (root.contains("rescale_factor") && root["rescale_factor"].is_number())
    c.rescale_factor = root["rescale_factor"].get<double>();
  if (!r.flag("do_rescale", true)) c.rescale_factor = 1.0;
  c.do_normalize = r.flag("do_normalize", c.do_normalize);
  if (root.contains("resample") && !root["resample"].is_null()) {
    const json& v = root["resample"];
    if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() > 5)
      throw ModelError(file +
                       ": field \"resample\" must be a PIL filter number 0..5 (1 = "
                       "LANCZOS), found " +
                       v.dump());
    c.resample = static_cast<ResampleFilter>(v.get<int>());
  }
  return c;
}

Idefics3Layout idefics3_layout(int width, int height, const Idefics3ImageConfig& config) {
  if (width <= 0 || height <= 0)
    throw InputError("cannot preprocess an image of " + std::to_string(width) + "x" +
                     std::to_string(height) + " pixels");
  Idefics3Layout l;
  l.image_width = width;
  l.image_height = height;
  l.tile = config.tile;
  int w = width, h = height;
  if (config.do_resize) {
    // _resize_output_size_rescale_to_max_len: the long side becomes longest_edge, the short one
    // int(...) of the aspect ratio, made even.
    const int max_len = config.longest_edge;
    const double aspect = double(w) / h;
    if (w >= h) {
      w = max_len;
      h = static_cast<int>(double(w) / aspect);
      if (h % 2 != 0) ++h;
    } else {
      h = max_len;
      w = static_cast<int>(double(h) * aspect);
      if (w % 2 != 0) ++w;
    }
    h = std::max(h, 1), w = std::max(w, 1);
    // _resize_output_size_scale_below_upper_bound with the processor's 4096 cap.
    const double aspect2 = double(w) / h;
    if (w >= h && w > kMaxImageSize) {
      w = kMaxImageSize;
      h = static_cast<int>(double(w) / aspect2);
    } else if (h > w && h > kMaxImageSize) {
      h = kMaxImageSize;
      w = static_cast<int>(double(h) * aspect2);
    }
    h = std::max(h, 1), w = std::max(w, 1);
  }
  l.longest_width = w;
  l.longest_height = h;
  const int t = config.tile;
  if (!config.do_image_splitting) {
    l.resized_width = l.resized_height = t;  // squashed to one tile, no split
    return l;
  }
  // resize_for_vision_encoder: the long side up to a multiple of the tile, the short side from the
  // aspect ratio, then up to a multiple too.
  const double aspect = double(w) / h;
  if (w >= h) {
    w = round_up(w, t);
    h = round_up(static_cast<int>(double(w) / aspect), t);
  } else {
    h = round_up(h, t);
    w = round_up(static_cast<int>(double(h) * aspect), t);
  }
  if (w <= 0 || h <= 0 || w > 64 * kMaxImageSize || h > 64 * kMaxImageSize)
    throw InputError("the image is " + std::to_string(width) + "x" + std::to_string(height) +
                     " pixels, too elongated to cut into tiles");
  l.resized_width = w;
  l.resized_height = h;
  if (w > t || h > t) {
    l.rows = h / t;
    l.cols = w / t;
  }
  return l;
}

RectF Idefics3Layout::tiled_to_original(const RectF& r) const {
  const double sx = double(image_width) / resized_width, sy = double(image_height) / resized_height;
  return RectF{r.x * sx, r.y * sy, r.width * sx, r.height * sy};
}

RectF Idefics3Layout::global_to_original(const RectF& r) const {
  const double sx = double(image_width) / tile, sy = double(image_height) / tile;
  return RectF{r.x * sx, r.y * sy, r.width * sx, r.height * sy};
}

PixelTensor preprocess_idefics3(const RgbImage& image, const Idefics3ImageConfig& config) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("cannot preprocess an image of " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " pixels");
  const Idefics3Layout l = idefics3_layout(image.width, image.height, config);
  const int t = l.tile;
  PixelTensor out;
  out.channels = 3;
  out.width = out.height = t;
  out.views = l.views();
  out.values.reserve(static_cast<size_t>(out.views) * 3 * t * t);
  out.geometry.original_width = image.width;
  out.geometry.original_height = image.height;
  out.geometry.scale = double(t) / image.width;
  out.geometry.scale_y = double(t) / image.height;
  out.geometry.crop_size = t;

  // Each step resizes the previous step's 8-bit image (a same-size resize is a copy, as in PIL).
  const RgbImage longest = resize_image(image, l.longest_width, l.longest_height, config.resample);
  const RgbImage resized =
      resize_image(longest, l.resized_width, l.resized_height, config.resample);
  if (l.rows > 0) {
    RgbImage view;
    view.width = view.height = t;
    view.pixels.resize(static_cast<size_t>(t) * t * 3);
    for (int r = 0; r < l.rows; ++r)
      for (int c = 0; c < l.cols; ++c) {
        for (int y = 0; y < t; ++y) {
          const uint8_t* src =
              &resized.pixels[(static_cast<size_t>(r * t + y) * resized.width + c * t) * 3];
          std::copy(src, src + static_cast<size_t>(t) * 3,
                    &view.pixels[static_cast<size_t>(y) * t * 3]);
        }
        append_view(view, config, out);
      }
  }
  append_view(resize_image(resized, t, t, config.resample), config, out);
  return out;
}

}  // namespace atman
