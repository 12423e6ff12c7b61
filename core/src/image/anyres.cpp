// Anyres preprocessing. The processors resize with PIL (resize_image is PIL bit for bit), pad the
// resized image with zeros centred in the best resolution (the odd pixel after it), divide it into
// tile x tile crops, and prepend the whole image resized to tile x tile. The per-view
// _preprocess steps (resize to the view's own size, centre crop to it) change nothing for views of
// the tower's size, which the model checks the processor config gives.
#include "image/anyres.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "atman/error.h"

namespace atman {

std::pair<int, int> select_best_resolution(int height, int width,
                                           const std::vector<std::pair<int, int>>& pinpoints) {
  if (pinpoints.empty()) throw ModelError("the model lists no image_grid_pinpoints");
  std::pair<int, int> best = pinpoints.front();
  int64_t max_effective = 0;
  int64_t min_wasted = std::numeric_limits<int64_t>::max();
  for (const auto& [h, w] : pinpoints) {
    const double scale = std::min(double(w) / width, double(h) / height);
    // int(original * scale): truncation, as in Python.
    const int64_t dw = static_cast<int64_t>(width * scale),
                  dh = static_cast<int64_t>(height * scale);
    const int64_t effective = std::min(dw * dh, int64_t{width} * height);
    const int64_t wasted = int64_t{w} * h - effective;
    if (effective > max_effective || (effective == max_effective && wasted < min_wasted)) {
      max_effective = effective;
      min_wasted = wasted;
      best = {h, w};
    }
  }
  return best;
}

std::pair<int, int> patch_output_size(int height, int width, int target_height, int target_width) {
  const double scale_w = double(target_width) / width, scale_h = double(target_height) / height;
  if (scale_w < scale_h)
    return {std::min(static_cast<int>(std::ceil(height * scale_w)), target_height), target_width};
  return {target_height, std::min(static_cast<int>(std::ceil(width * scale_h)), target_width)};
}

AnyresLayout anyres_layout(int width, int height, const std::vector<std::pair<int, int>>& pinpoints,
                           int tile) {
  if (width <= 0 || height <= 0)
    throw InputError("cannot preprocess an image of " + std::to_string(width) + "x" +
                     std::to_string(height) + " pixels");
  AnyresLayout l;
  l.image_width = width;
  l.image_height = height;
  std::tie(l.best_height, l.best_width) = select_best_resolution(height, width, pinpoints);
  std::tie(l.resized_height, l.resized_width) =
      patch_output_size(height, width, l.best_height, l.best_width);
  // _get_padding_size: divmod(target - new, 2), the remainder after the image.
  l.pad_left = (l.best_width - l.resized_width) / 2;
  l.pad_top = (l.best_height - l.resized_height) / 2;
  l.tile = tile;
  l.tile_rows = l.best_height / tile;
  l.tile_cols = l.best_width / tile;
  return l;
}

RectF clip_rect(const RectF& r, int width, int height) {
  const double x0 = std::clamp(r.x, 0.0, double(width)), y0 = std::clamp(r.y, 0.0, double(height));
  const double x1 = std::clamp(r.x + r.width, x0, double(width));
  const double y1 = std::clamp(r.y + r.height, y0, double(height));
  return {x0, y0, x1 - x0, y1 - y0};
}

RectF AnyresLayout::to_original(const RectF& b) const {
  const double sx = double(resized_width) / image_width, sy = double(resized_height) / image_height;
  return clip_rect({(b.x - pad_left) / sx, (b.y - pad_top) / sy, b.width / sx, b.height / sy},
                   image_width, image_height);
}

namespace {

// Rescale and normalise a view of exactly the model's size with preprocess_clip's arithmetic.
void append_view(const RgbImage& view, const ClipPreprocessConfig& config, PixelTensor& out) {
  ClipPreprocessConfig plain = config;
  plain.do_resize = false;
  plain.do_center_crop = false;
  PixelTensor p = preprocess_clip(view, plain);
  out.values.insert(out.values.end(), p.values.begin(), p.values.end());
}

}  // namespace

PixelTensor preprocess_anyres(const RgbImage& image, const ClipPreprocessConfig& config,
                              const std::vector<std::pair<int, int>>& pinpoints, int tile) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("cannot preprocess an image of " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " pixels");
  const AnyresLayout l = anyres_layout(image.width, image.height, pinpoints, tile);
  PixelTensor out;
  out.channels = 3;
  out.width = out.height = tile;
  out.views = 1 + l.tile_rows * l.tile_cols;
  out.values.reserve(static_cast<size_t>(out.views) * 3 * tile * tile);
  out.geometry.original_width = image.width;
  out.geometry.original_height = image.height;
  out.geometry.scale = double(tile) / image.width;
  out.geometry.scale_y = double(tile) / image.height;
  out.geometry.crop_size = tile;

  append_view(resize_image(image, tile, tile, config.resample), config, out);
  const RgbImage resized = resize_image(image, l.resized_width, l.resized_height, config.resample);
  RgbImage view;
  view.width = view.height = tile;
  view.pixels.resize(static_cast<size_t>(tile) * tile * 3);
  for (int tr = 0; tr < l.tile_rows; ++tr)
    for (int tc = 0; tc < l.tile_cols; ++tc) {
      // The tile's pixels of the padded image: the resized image where it lies, zero elsewhere.
      for (int y = 0; y < tile; ++y) {
        const int sy = tr * tile + y - l.pad_top;
        for (int x = 0; x < tile; ++x) {
          const int sx = tc * tile + x - l.pad_left;
          uint8_t* px = &view.pixels[(static_cast<size_t>(y) * tile + x) * 3];
          if (sy >= 0 && sy < resized.height && sx >= 0 && sx < resized.width) {
            const uint8_t* src =
                &resized.pixels[(static_cast<size_t>(sy) * resized.width + sx) * 3];
            px[0] = src[0], px[1] = src[1], px[2] = src[2];
          } else {
            px[0] = px[1] = px[2] = 0;
          }
        }
      }
      append_view(view, config, out);
    }
  return out;
}

}  // namespace atman
