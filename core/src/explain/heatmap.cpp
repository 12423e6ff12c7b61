#include "atman/heatmap.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "atman/error.h"

namespace atman {
namespace {

struct Stop {
  double t;
  double r, g, b;
};

// Compact piecewise-linear approximations of the usual matplotlib/OpenCV maps.
const std::vector<Stop>& stops(Colormap map) {
  static const std::vector<Stop> jet = {{0, 0, 0, .5},  {.11, 0, 0, 1}, {.125, 0, 0, 1},
                                        {.34, 0, 1, 1}, {.65, 1, 1, 0}, {.89, 1, 0, 0},
                                        {1, .5, 0, 0}};
  static const std::vector<Stop> inferno = {{0, 0, 0, .016},
                                            {.25, .34, .06, .43},
                                            {.5, .73, .21, .33},
                                            {.75, .98, .55, .04},
                                            {1, .99, 1, .64}};
  static const std::vector<Stop> viridis = {{0, .27, .0, .33},
                                            {.25, .23, .32, .55},
                                            {.5, .13, .57, .55},
                                            {.75, .37, .79, .38},
                                            {1, .99, .91, .14}};
  static const std::vector<Stop> turbo = {
      {0, .19, .07, .23},  {.15, .27, .46, .95}, {.35, .1, .87, .76}, {.5, .45, 1, .35},
      {.65, .88, .87, .2}, {.85, .96, .4, .09},  {1, .48, .02, .01}};
  static const std::vector<Stop> hot = {
      {0, 0, 0, 0}, {.375, 1, 0, 0}, {.75, 1, 1, 0}, {1, 1, 1, 1}};
  static const std::vector<Stop> gray = {{0, 0, 0, 0}, {1, 1, 1, 1}};
  switch (map) {
    case Colormap::Jet:
      return jet;
    case Colormap::Inferno:
      return inferno;
    case Colormap::Viridis:
      return viridis;
    case Colormap::Turbo:
      return turbo;
    case Colormap::Hot:
      return hot;
    case Colormap::Gray:
      return gray;
  }
  return jet;
}

}  // namespace

std::vector<std::string> colormap_names() {
  return {"jet", "inferno", "viridis", "turbo", "hot", "gray"};
}

Colormap parse_colormap(const std::string& name) {
  auto names = colormap_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Colormap>(i);
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  throw InputError("unknown colormap '" + name + "'; available: " + all);
}

void colormap_rgb(Colormap map, double t, uint8_t rgb[3]) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const auto& s = stops(map);
  size_t k = 1;
  while (k + 1 < s.size() && s[k].t < t) ++k;
  const Stop& a = s[k - 1];
  const Stop& b = s[k];
  double w = b.t > a.t ? (t - a.t) / (b.t - a.t) : 0.0;
  w = std::clamp(w, 0.0, 1.0);
  rgb[0] = static_cast<uint8_t>(std::lround(255 * (a.r + w * (b.r - a.r))));
  rgb[1] = static_cast<uint8_t>(std::lround(255 * (a.g + w * (b.g - a.g))));
  rgb[2] = static_cast<uint8_t>(std::lround(255 * (a.b + w * (b.b - a.b))));
}

double max_patch_value(const Explanation& e) {
  double m = 0;
  for (const auto& c : e.candidates)
    if (c.kind == CandidateKind::Patch && std::isfinite(c.value)) m = std::max(m, c.value);
  return m;
}

RgbImage render_overlay(const RgbImage& image, const Explanation& e,
                        const OverlayOptions& options) {
  if (e.grid_rows <= 0 || e.grid_cols <= 0)
    throw InputError("this explanation has no image patches to draw");
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("the image to draw on is empty or malformed");
  // The crop region the model saw, in original pixels: the union of all patch rectangles.
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  bool any_patch = false;
  for (const auto& c : e.candidates) {
    if (c.kind != CandidateKind::Patch) continue;
    any_patch = true;
    x0 = std::min(x0, c.rect.x);
    y0 = std::min(y0, c.rect.y);
    x1 = std::max(x1, c.rect.x + c.rect.width);
    y1 = std::max(y1, c.rect.y + c.rect.height);
  }
  const double scale = options.scale_max > 0 ? options.scale_max : max_patch_value(e);
  std::vector<double> grid = e.patch_heatmap();
  cv::Mat values(e.grid_rows, e.grid_cols, CV_32F);
  for (int r = 0; r < e.grid_rows; ++r)
    for (int c = 0; c < e.grid_cols; ++c) {
      double v = grid[r * e.grid_cols + c];
      values.at<float>(r, c) =
          scale > 0 && std::isfinite(v) ? static_cast<float>(std::clamp(v / scale, 0.0, 1.0)) : 0.f;
    }
  if (!any_patch) throw InputError("this explanation has no image patches to draw");
  // Rectangles loaded from a file can hold any number: clamp before converting to pixels (a
  // double outside int's range does not convert).
  auto pixel = [](double v, int lo, int hi) {
    return std::isnan(v) ? lo : static_cast<int>(std::clamp(v, double(lo), double(hi)));
  };
  const int rx = pixel(std::floor(x0), 0, image.width - 1);
  const int ry = pixel(std::floor(y0), 0, image.height - 1);
  const int rw = pixel(std::ceil(x1), rx + 1, image.width) - rx;
  const int rh = pixel(std::ceil(y1), ry + 1, image.height) - ry;
  cv::Mat up;
  cv::resize(values, up, cv::Size(rw, rh), 0, 0,
             options.smooth ? cv::INTER_CUBIC : cv::INTER_NEAREST);
  RgbImage out = image;
  const double alpha = std::clamp(options.opacity, 0.0, 1.0);
  for (int y = 0; y < rh; ++y)
    for (int x = 0; x < rw; ++x) {
      uint8_t rgb[3];
      colormap_rgb(options.colormap, up.at<float>(y, x), rgb);
      uint8_t* px = &out.pixels[(static_cast<size_t>(ry + y) * image.width + rx + x) * 3];
      for (int k = 0; k < 3; ++k)
        px[k] = static_cast<uint8_t>(std::lround((1 - alpha) * px[k] + alpha * rgb[k]));
    }
  return out;
}

}  // namespace atman
