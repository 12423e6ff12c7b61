// CLIP preprocessing as Hugging Face's CLIPImageProcessor does it: resize (PIL bicubic) so the
// shortest edge is `shortest_edge`, centre crop, rescale by 1/255, normalise with mean/std, CHW.
// SiglipImageProcessor is the same steps with a square resize and no crop (its defaults below).
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/image.h"
#include "image/config_reader.h"

namespace atman {
namespace {

using nlohmann::json;

constexpr int kMaxModelSide = 16384;  // far above any vision tower; catches garbage configs
// Resizing the short side of a very elongated image (a 1x30000 strip) to the model's size makes a
// gigapixel intermediate before the centre crop keeps a square of it; such images are refused.
constexpr double kMaxResizedPixels = 100e6;

// Python's floor division, which HF's center_crop uses: (5 - 8) // 2 == -2, not -1.
int floor_div2(int value) {
  return value >= 0 ? value / 2 : -((-value + 1) / 2);
}

// A model-side size: a whole number 1..kMaxModelSide (HF writes some as 224.0).
int side(const ConfigReader& r, const json& value, const std::string& key) {
  if (!value.is_number_integer() &&
      !(value.is_number_float() && value.get<double>() == std::floor(value.get<double>())))
    r.fail(key, "must be a whole number, found " + value.dump());
  const double v = value.get<double>();
  if (v < 1 || v > kMaxModelSide)
    r.fail(key,
           "must be between 1 and " + std::to_string(kMaxModelSide) + ", found " + value.dump());
  return static_cast<int>(v);
}

ClipPreprocessConfig parse_config(const json& root, const std::string& file) {
  if (!root.is_object())
    throw ModelError(file + ": expected a JSON object, found " + std::string(root.type_name()));
  ConfigReader r{root, file};
  ClipPreprocessConfig config;
  // SiglipImageProcessor (and its Fast variant) has other class defaults than CLIP's: a square
  // resize to size {224, 224} without aspect ratio, no centre crop, mean = std = 0.5
  // (IMAGENET_STANDARD_*). The fields in the file override them below, as in transformers.
  if (const auto it = root.find("image_processor_type");
      it != root.end() && it->is_string() && it->get<std::string>().starts_with("Siglip")) {
    config.do_center_crop = false;
    config.resize_height = config.resize_width = 224;
    for (int c = 0; c < 3; ++c) config.mean[c] = config.std[c] = 0.5f;
  }
  // LlavaOnevisionImageProcessor: views resized to size {384, 384}, no centre crop step at all;
  // mean/std default to CLIP's (the checkpoints write SigLIP's 0.5).
  if (const auto it = root.find("image_processor_type");
      it != root.end() && it->is_string() && it->get<std::string>().starts_with("LlavaOnevision")) {
    config.do_center_crop = false;
    config.resize_height = config.resize_width = 384;
  }

  if (root.contains("size") && !root["size"].is_null()) {
    const json& size = root["size"];
    if (size.is_number()) {
      // CLIPImageProcessor reads a bare int as {"shortest_edge": N} (get_size_dict,
      // default_to_square=False).
      config.shortest_edge = side(r, size, "size");
    } else if (size.is_object() && size.contains("shortest_edge")) {
      config.shortest_edge = side(r, size["shortest_edge"], "size.shortest_edge");
    } else if (size.is_object() && size.contains("height") && size.contains("width")) {
      config.resize_height = side(r, size["height"], "size.height");
      config.resize_width = side(r, size["width"], "size.width");
    } else {
      r.fail("size",
             "must be a number, {\"shortest_edge\": N} or {\"height\": H, \"width\": W}, found " +
                 size.dump());
    }
  }

  if (root.contains("crop_size") && !root["crop_size"].is_null()) {
    const json& crop = root["crop_size"];
    if (crop.is_number()) {
      config.crop_size = side(r, crop, "crop_size");
    } else if (crop.is_object() && crop.contains("height") && crop.contains("width")) {
      // Vision towers take square inputs; a non-square crop would not fit one, so the height wins.
      config.crop_size = side(r, crop["height"], "crop_size.height");
      side(r, crop["width"], "crop_size.width");
    } else {
      r.fail("crop_size",
             "must be a number or {\"height\": H, \"width\": W}, found " + crop.dump());
    }
  }

  r.triple("image_mean", config.mean);
  r.triple("image_std", config.std);
  for (int c = 0; c < 3; ++c)
    if (!(config.std[c] > 0.0f) || !std::isfinite(config.std[c]) || !std::isfinite(config.mean[c]))
      r.fail("image_std", "must hold finite positive numbers (image_mean finite numbers)");

  config.do_resize = r.flag("do_resize", config.do_resize);
  config.do_center_crop = r.flag("do_center_crop", config.do_center_crop);
  config.do_normalize = r.flag("do_normalize", config.do_normalize);
  if (root.contains("rescale_factor") && !root["rescale_factor"].is_null()) {
    const json& v = root["rescale_factor"];
    if (!v.is_number() || !(v.get<double>() > 0.0))
      r.fail("rescale_factor", "must be a positive number, found " + v.dump());
    config.rescale_factor = v.get<double>();
  }
  if (!r.flag("do_rescale", true)) config.rescale_factor = 1.0;

  if (root.contains("resample") && !root["resample"].is_null()) {
    const json& v = root["resample"];
    if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() > 5)
      r.fail("resample", "must be a PIL filter number 0..5 (3 = bicubic), found " + v.dump());
    config.resample = static_cast<ResampleFilter>(v.get<int>());
  }
  return config;
}

}  // namespace

RectF CropGeometry::to_original(const RectF& model_rect) const {
  const double sx = scale;
  const double sy = scale_y > 0.0 ? scale_y : scale;
  return RectF{(model_rect.x + crop_x) / sx, (model_rect.y + crop_y) / sy, model_rect.width / sx,
               model_rect.height / sy};
}

ClipPreprocessConfig load_preprocess_config(const std::filesystem::path& model_dir) {
  const auto file = std::filesystem::is_regular_file(model_dir)
                        ? model_dir
                        : model_dir / "preprocessor_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return ClipPreprocessConfig{};
  std::ifstream in(file);
  if (!in) throw ModelError("cannot read " + file.string());
  json root;
  try {
    root = json::parse(in);
  } catch (const json::exception& e) {
    throw ModelError(file.string() + " is not valid JSON: " + e.what());
  }
  try {
    return parse_config(root, file.string());
  } catch (const json::exception& e) {  // a type nlohmann could not convert
    throw ModelError(file.string() + ": " + e.what());
  }
}

ClipInputGeometry clip_input_geometry(int image_width, int image_height,
                                      const ClipPreprocessConfig& config) {
  if (image_width <= 0 || image_height <= 0)
    throw InputError("cannot preprocess an image of " + std::to_string(image_width) + "x" +
                     std::to_string(image_height) + " pixels");
  ClipInputGeometry out;
  CropGeometry& geometry = out.geometry;
  geometry.original_width = image_width;
  geometry.original_height = image_height;

  // 1. Resize. HF's get_resize_output_image_size: the short side becomes shortest_edge and the long
  // side int(shortest_edge * long / short) — truncated, not rounded.
  int width = image_width, height = image_height;
  if (config.do_resize) {
    width = config.resize_width;
    height = config.resize_height;
    if (width <= 0 || height <= 0) {
      const int s = config.shortest_edge;
      const bool portrait = image_width <= image_height;
      const int short_side = portrait ? image_width : image_height;
      const int long_side = portrait ? image_height : image_width;
      const double new_long_exact = static_cast<double>(int64_t{s} * long_side) / short_side;
      // Only the centre crop is ever computed (preprocess_clip), so only an uncropped result is
      // bounded.
      if (!config.do_center_crop && new_long_exact * s > kMaxResizedPixels)
        throw InputError("the image is " + std::to_string(image_width) + "\u00D7" +
                         std::to_string(image_height) +
                         " pixels, too elongated for this model: " + "resizing its short side to " +
                         std::to_string(s) + " pixels would make it " +
                         std::to_string(static_cast<int64_t>(new_long_exact)) + " pixels long. " +
                         "Crop it to a less extreme shape first.");
      const int new_long = static_cast<int>(new_long_exact);
      width = portrait ? s : new_long;
      height = portrait ? new_long : s;
    }
  }
  out.resized_width = width;
  out.resized_height = height;
  geometry.scale = static_cast<double>(width) / image_width;
  geometry.scale_y = static_cast<double>(height) / image_height;

  // 2. Centre crop, HF's center_crop: top = (h - crop) // 2; a side smaller than the crop is
  // zero-padded with the image centred (top then negative), which the same offset expresses.
  out.height = config.do_center_crop ? config.crop_size : height;
  out.width = config.do_center_crop ? config.crop_size : width;
  geometry.crop_x = config.do_center_crop ? floor_div2(width - out.width) : 0;
  geometry.crop_y = config.do_center_crop ? floor_div2(height - out.height) : 0;
  geometry.crop_size = out.height;
  return out;
}

PixelTensor preprocess_clip(const RgbImage& image, const ClipPreprocessConfig& config) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("cannot preprocess an image of " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " pixels holding " +
                     std::to_string(image.pixels.size()) + " bytes");

  const ClipInputGeometry input = clip_input_geometry(image.width, image.height, config);
  PixelTensor out;
  out.geometry = input.geometry;
  const CropGeometry& geometry = out.geometry;
  const int width = input.resized_width, height = input.resized_height;
  const int out_w = input.width, out_h = input.height;

  // Only the part of the resized image inside the crop is resampled: the same pixels as resizing
  // everything and cropping, but an elongated photo costs its middle, not its whole length.
  const int region_x = std::max(0, geometry.crop_x), region_y = std::max(0, geometry.crop_y);
  const int region_w = std::min(width, geometry.crop_x + out_w) - region_x;
  const int region_h = std::min(height, geometry.crop_y + out_h) - region_y;
  RgbImage region_storage;
  const RgbImage* region = &image;
  if (width != image.width || height != image.height || region_w != width || region_h != height) {
    region_storage = resize_image_region(image, width, height, region_x, region_y, region_w,
                                         region_h, config.resample);
    region = &region_storage;
  }

  // 3. Rescale and normalise with HF's arithmetic: rescale in float64 then cast to float32,
  // normalise in float32. Padding pixels are 0 before rescaling, as in HF.
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v * config.rescale_factor);
      if (config.do_normalize) x = (x - config.mean[c]) / config.std[c];
      lut[c][v] = x;
    }

  out.channels = 3;
  out.height = out_h;
  out.width = out_w;
  out.values.resize(static_cast<size_t>(3) * out_h * out_w);
  const size_t plane = static_cast<size_t>(out_h) * out_w;
  for (int y = 0; y < out_h; ++y) {
    const int sy = y + geometry.crop_y;
    for (int x = 0; x < out_w; ++x) {
      const int sx = x + geometry.crop_x;
      const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      const uint8_t* px =
          inside ? &region->pixels[(static_cast<size_t>(sy - region_y) * region->width +
                                    (sx - region_x)) *
                                   3]
                 : nullptr;
      const size_t at = static_cast<size_t>(y) * out_w + x;
      for (int c = 0; c < 3; ++c) out.values[c * plane + at] = lut[c][inside ? px[c] : 0];
    }
  }
  return out;
}

}  // namespace atman
