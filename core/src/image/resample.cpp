// PIL's resampling (libImaging/Resample.c), reimplemented so our CLIP inputs match what Hugging
// Face computes from PIL images bit for bit. OpenCV's INTER_CUBIC differs in two ways that matter:
// its cubic uses a = -0.75 (PIL: -0.5), and it never widens the kernel when shrinking, so a
// 4000-pixel photo reduced to 224 aliases badly. PIL's scheme: per output pixel, a window of input
// pixels weighted by the filter evaluated at (input centre − output centre) / filterscale,
// normalised to sum 1, converted to 22-bit fixed point; horizontal pass first, then vertical, each
// rounded to 8 bits.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "atman/error.h"
#include "atman/image.h"

namespace atman {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Filter {
  double (*weight)(double);
  double support;
};

double box_weight(double x) {
  return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
}

double bilinear_weight(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_weight(double x) {
  x = std::abs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= std::numbers::pi;
  return std::sin(x) / x * (0.54 + 0.46 * std::cos(x));
}

double bicubic_weight(double x) {
  constexpr double a = -0.5;  // PIL's choice (Keys' cubic convolution)
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos_weight(double x) {
  return (x >= -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0;
}

Filter filter_for(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::box:
      return {box_weight, 0.5};
    case ResampleFilter::bilinear:
      return {bilinear_weight, 1.0};
    case ResampleFilter::hamming:
      return {hamming_weight, 1.0};
    case ResampleFilter::bicubic:
      return {bicubic_weight, 2.0};
    case ResampleFilter::lanczos:
      return {lanczos_weight, 3.0};
    case ResampleFilter::nearest:
      break;
  }
  throw InputError("resample filter " + std::to_string(static_cast<int>(filter)) +
                   " has no kernel");
}

// For each output pixel: the first input pixel of its window, the window length, and the
// fixed-point weights (ksize of them, zero-padded).
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

// Outputs [from, from + n) of a resize from in_size to out_size: each output's coefficients depend
// only on its own index, so a window of the output costs only the window.
Coefficients precompute(int in_size, int out_size, const Filter& filter, int from, int n) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;  // widen the kernel only when shrinking
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(n);
  c.count.resize(n);
  c.weights.assign(static_cast<size_t>(n) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < n; ++xx) {
    const double center = (from + xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // (int) truncates toward zero, as PIL's C casts do; the clamp makes the sign moot.
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      c.weights[static_cast<size_t>(xx) * c.ksize + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t value) {
  if (value >= (1 << kPrecisionBits << 8)) return 255;
  if (value <= 0) return 0;
  return static_cast<uint8_t>(value >> kPrecisionBits);
}

// Interleaved 8-bit pixels with `channels` samples each.
struct Plane {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> data;
  uint8_t* row(int y) { return data.data() + static_cast<size_t>(y) * width * channels; }
  const uint8_t* row(int y) const {
    return data.data() + static_cast<size_t>(y) * width * channels;
  }
};

// A rectangle of a resize's output.
struct Window {
  int x = 0, y = 0, width = 0, height = 0;
};

// Rows [row_offset, row_offset + out.height) of `in`, resampled horizontally into `out`.
void resample_horizontal(const Plane& in, Plane& out, int row_offset, const Coefficients& c) {
  const int ch = in.channels;
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = in.row(y + row_offset);
    uint8_t* dst = out.row(y);
    for (int xx = 0; xx < out.width; ++xx) {
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* window = src + static_cast<size_t>(c.first[xx]) * ch;
      for (int b = 0; b < ch; ++b) {
        int32_t sum = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < c.count[xx]; ++x) sum += window[x * ch + b] * k[x];
        dst[xx * ch + b] = clip8(sum);
      }
    }
  }
}

// `first` is relative to the rows `in` holds (PIL shifts the bounds the same way).
void resample_vertical(const Plane& in, Plane& out, const Coefficients& c, int first_row_shift) {
  const int row_len = out.width * out.channels;
  for (int yy = 0; yy < out.height; ++yy) {
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    const int ymin = c.first[yy] - first_row_shift;
    uint8_t* dst = out.row(yy);
    for (int i = 0; i < row_len; ++i) {
      int32_t sum = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < c.count[yy]; ++y) sum += in.row(ymin + y)[i] * k[y];
      dst[i] = clip8(sum);
    }
  }
}

// PIL's NEAREST resize: an affine scale whose source coordinate is accumulated step by step
// (ImagingScaleAffine), reproduced with the same accumulation so edge cases pick the same pixel.
Plane resize_nearest(const Plane& in, int width, int height, const Window& window) {
  // The running sum is what PIL computes, so a window still walks from 0 (cheap: one add a pixel).
  auto table = [](int in_size, int out_size, int from, int n) {
    const double step = static_cast<double>(in_size) / out_size;
    std::vector<int> index(n);
    double pos = step * 0.5;
    for (int i = 0; i < from + n; ++i, pos += step) {
      if (i < from) continue;
      const int v = pos < 0.0 ? -1 : static_cast<int>(pos);
      index[i - from] = v < 0 ? 0 : (v >= in_size ? in_size - 1 : v);
    }
    return index;
  };
  const auto xs = table(in.width, width, window.x, window.width);
  const auto ys = table(in.height, height, window.y, window.height);
  Plane out{window.width, window.height, in.channels,
            std::vector<uint8_t>(static_cast<size_t>(window.width) * window.height * in.channels)};
  for (int y = 0; y < window.height; ++y) {
    const uint8_t* src = in.row(ys[y]);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < window.width; ++x)
      for (int b = 0; b < in.channels; ++b) dst[x * in.channels + b] = src[xs[x] * in.channels + b];
  }
  return out;
}

// Copies the window's pixels out of a plane that already has the output size.
Plane crop_plane(const Plane& in, const Window& window) {
  if (window.x == 0 && window.y == 0 && window.width == in.width && window.height == in.height)
    return in;
  Plane out{window.width, window.height, in.channels,
            std::vector<uint8_t>(static_cast<size_t>(window.width) * window.height * in.channels)};
  const size_t row_bytes = static_cast<size_t>(window.width) * in.channels;
  for (int y = 0; y < window.height; ++y)
    std::copy_n(in.row(window.y + y) + static_cast<size_t>(window.x) * in.channels, row_bytes,
                out.row(y));
  return out;
}

// `window` (inside width x height) of PIL's resize of `in` to width x height.
Plane resize_plane(const Plane& in, int width, int height, ResampleFilter filter_id,
                   const Window& window) {
  if (width <= 0 || height <= 0)
    throw InputError("cannot resize an image to " + std::to_string(width) + "x" +
                     std::to_string(height));
  if (window.width <= 0 || window.height <= 0 || window.x < 0 || window.y < 0 ||
      window.width > width - window.x || window.height > height - window.y)
    throw InputError("resize window " + std::to_string(window.width) + "x" +
                     std::to_string(window.height) + " at (" + std::to_string(window.x) + ", " +
                     std::to_string(window.y) + ") is not inside the " + std::to_string(width) +
                     "x" + std::to_string(height) + " output");
  if (width == in.width && height == in.height)
    return crop_plane(in, window);  // PIL returns a copy too
  if (filter_id == ResampleFilter::nearest) return resize_nearest(in, width, height, window);
  const Filter filter = filter_for(filter_id);
  const bool need_horizontal = width != in.width;
  const bool need_vertical = height != in.height;
  // A pass that keeps its size is skipped, as PIL does; along that axis the window is a plain crop.
  Coefficients horizontal, vertical;
  if (need_horizontal) horizontal = precompute(in.width, width, filter, window.x, window.width);
  if (need_vertical) vertical = precompute(in.height, height, filter, window.y, window.height);
  // The vertical pass reads only rows [first used, last used]: resample just those horizontally.
  const int ybox_first = need_vertical ? vertical.first.front() : window.y;
  const int ybox_last =
      need_vertical ? vertical.first.back() + vertical.count.back() : window.y + window.height;
  Plane temp;
  const Plane* source = &in;
  int shift = 0;
  if (need_horizontal) {
    const int rows = ybox_last - ybox_first;
    temp = Plane{window.width, rows, in.channels,
                 std::vector<uint8_t>(static_cast<size_t>(window.width) * rows * in.channels)};
    resample_horizontal(in, temp, ybox_first, horizontal);
    source = &temp;
    shift = ybox_first;
  }
  // Both sizes equal returned above, so without a vertical pass the horizontal one has run and
  // made exactly the window's rows.
  if (!need_vertical) return temp;
  // Without a horizontal pass the columns still need cutting to the window.
  Plane columns;
  if (!need_horizontal) {
    columns = crop_plane(in, Window{window.x, ybox_first, window.width, ybox_last - ybox_first});
    source = &columns;
    shift = ybox_first;
  }
  Plane out{window.width, window.height, in.channels,
            std::vector<uint8_t>(static_cast<size_t>(window.width) * window.height * in.channels)};
  resample_vertical(*source, out, vertical, shift);
  return out;
}

void check_pixels(int width, int height, size_t size, int channels) {
  if (width <= 0 || height <= 0 || size != static_cast<size_t>(width) * height * channels)
    throw InputError(
        "image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels holds " +
        std::to_string(size) + " bytes, not " +
        std::to_string(static_cast<size_t>(std::max(width, 0)) * std::max(height, 0) * channels));
}

// PIL's RGBA → RGBa: c * a / 255 rounded, via its MULDIV255 shortcut.
uint8_t premultiply(uint8_t c, uint8_t a) {
  const unsigned tmp = static_cast<unsigned>(c) * a + 128;
  return static_cast<uint8_t>((tmp + (tmp >> 8)) >> 8);
}

}  // namespace

RgbImage resize_image(const RgbImage& image, int width, int height, ResampleFilter filter) {
  return resize_image_region(image, width, height, 0, 0, width, height, filter);
}

RgbImage resize_image_region(const RgbImage& image, int width, int height, int x, int y,
                             int region_width, int region_height, ResampleFilter filter) {
  check_pixels(image.width, image.height, image.pixels.size(), 3);
  Plane out = resize_plane(Plane{image.width, image.height, 3, image.pixels}, width, height, filter,
                           Window{x, y, region_width, region_height});
  return RgbImage{out.width, out.height, std::move(out.data)};
}

RgbaImage resize_image(const RgbaImage& image, int width, int height, ResampleFilter filter) {
  check_pixels(image.width, image.height, image.pixels.size(), 4);
  Plane in{image.width, image.height, 4, image.pixels};
  // PIL resamples RGBA premultiplied (mode "RGBa") except for NEAREST, then divides back.
  const bool premultiplied = filter != ResampleFilter::nearest;
  if (premultiplied)
    for (size_t i = 0; i < in.data.size(); i += 4)
      for (int b = 0; b < 3; ++b) in.data[i + b] = premultiply(in.data[i + b], in.data[i + 3]);
  Plane out = resize_plane(in, width, height, filter, Window{0, 0, width, height});
  if (premultiplied)
    for (size_t i = 0; i < out.data.size(); i += 4) {
      const unsigned alpha = out.data[i + 3];
      if (alpha == 0 || alpha == 255) continue;
      for (int b = 0; b < 3; ++b) {
        const unsigned v = 255u * out.data[i + b] / alpha;
        out.data[i + b] = static_cast<uint8_t>(v > 255 ? 255 : v);
      }
    }
  return RgbaImage{out.width, out.height, std::move(out.data)};
}

}  // namespace atman
