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

std::vector<std::string> overlay_view_names() {
  return {"all", "base", "tiles"};
}

OverlayView parse_overlay_view(const std::string& name) {
  auto names = overlay_view_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<OverlayView>(i);
  throw InputError("unknown overlay view '" + name + "'; available: all, base, tiles");
}

bool has_tile_view(const Explanation& e) {
  for (const auto& c : e.candidates)
    if (c.kind == CandidateKind::Patch && c.view != 0) return true;
  return false;
}

namespace {

bool shown(const Candidate& c, OverlayView view) {
  if (c.kind != CandidateKind::Patch) return false;
  return view == OverlayView::All || (view == OverlayView::Base) == (c.view == 0);
}

// Pixels [lo, hi) whose centre p + 0.5 lies in [a, a + w): neighbouring rectangles that share an
// edge never count a pixel twice.
std::pair<int, int> pixel_span(double a, double w, int size) {
  if (!std::isfinite(a) || !std::isfinite(w) || w <= 0) return {0, 0};
  const double lo = std::clamp(std::ceil(a - 0.5), 0.0, double(size));
  const double hi = std::clamp(std::ceil(a + w - 0.5), lo, double(size));
  return {static_cast<int>(lo), static_cast<int>(hi)};
}

// Per original pixel: the summed values of the shown candidates covering it, and whether any does.
struct EvidenceMap {
  cv::Mat sum;      // CV_64F, height x width
  cv::Mat covered;  // CV_8U
  double min_side = 0;
};

EvidenceMap evidence_map(const Explanation& e, OverlayView view, int width, int height) {
  EvidenceMap m;
  m.sum = cv::Mat::zeros(height, width, CV_64F);
  m.covered = cv::Mat::zeros(height, width, CV_8U);
  m.min_side = 1e300;
  for (const auto& c : e.candidates) {
    if (!shown(c, view)) continue;
    const auto [x0, x1] = pixel_span(c.rect.x, c.rect.width, width);
    const auto [y0, y1] = pixel_span(c.rect.y, c.rect.height, height);
    if (x0 >= x1 || y0 >= y1) continue;  // a rectangle outside the image covers nothing
    m.min_side = std::min({m.min_side, c.rect.width, c.rect.height});
    const double v = std::isfinite(c.value) ? c.value : 0.0;
    m.sum(cv::Range(y0, y1), cv::Range(x0, x1)) += v;
    m.covered(cv::Range(y0, y1), cv::Range(x0, x1)).setTo(1);
  }
  return m;
}

// The largest per-pixel sum render_summed draws, without a full-resolution map: the sum is
// constant between the rectangles' pixel bounds, so one value per cell of those bounds suffices
// (every cell holds a pixel: the bounds are whole pixels).
double max_summed(const Explanation& e, OverlayView view, int width, int height) {
  struct Span {
    int x0, x1, y0, y1;
    double v;
  };
  std::vector<Span> spans;
  std::vector<int> xs = {0, width}, ys = {0, height};
  for (const auto& c : e.candidates) {
    if (!shown(c, view)) continue;
    const auto [x0, x1] = pixel_span(c.rect.x, c.rect.width, width);
    const auto [y0, y1] = pixel_span(c.rect.y, c.rect.height, height);
    if (x0 >= x1 || y0 >= y1) continue;
    spans.push_back({x0, x1, y0, y1, std::isfinite(c.value) ? c.value : 0.0});
    xs.insert(xs.end(), {x0, x1});
    ys.insert(ys.end(), {y0, y1});
  }
  for (auto* v : {&xs, &ys}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const size_t nx = xs.size() - 1;
  std::vector<double> cells(nx * (ys.size() - 1), 0.0);
  auto index = [](const std::vector<int>& v, int x) {
    return static_cast<size_t>(std::lower_bound(v.begin(), v.end(), x) - v.begin());
  };
  for (const Span& s : spans)
    for (size_t iy = index(ys, s.y0); iy < index(ys, s.y1); ++iy)
      for (size_t ix = index(xs, s.x0); ix < index(xs, s.x1); ++ix) cells[iy * nx + ix] += s.v;
  double m = 0;
  for (double v : cells) m = std::max(m, v);
  return m;
}

}  // namespace

double max_patch_value(const Explanation& e, OverlayView view) {
  if (has_tile_view(e) && e.image_width > 0 && e.image_height > 0)
    return max_summed(e, view, e.image_width, e.image_height);
  double m = 0;
  for (const auto& c : e.candidates)
    if (shown(c, view) && std::isfinite(c.value)) m = std::max(m, c.value);
  return m;
}

namespace {

// Explanations with tiles: the per-pixel sum over the shown views' rectangles.
RgbImage render_summed(const RgbImage& image, const Explanation& e, const OverlayOptions& options) {
  EvidenceMap m = evidence_map(e, options.view, image.width, image.height);
  if (cv::countNonZero(m.covered) == 0)
    throw InputError("no image token of this view covers the image");
  double scale = options.scale_max;
  if (scale <= 0) cv::minMaxLoc(m.sum, nullptr, &scale);
  cv::Mat values = m.sum;
  if (options.smooth && m.min_side > 1) {
    const double sigma = m.min_side / 2;
    cv::GaussianBlur(m.sum, values, cv::Size(0, 0), sigma, sigma, cv::BORDER_REPLICATE);
  }
  RgbImage out = image;
  const double alpha = std::clamp(options.opacity, 0.0, 1.0);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      if (!m.covered.at<uint8_t>(y, x)) continue;
      const double v = values.at<double>(y, x);
      uint8_t rgb[3];
      colormap_rgb(options.colormap, scale > 0 ? std::clamp(v / scale, 0.0, 1.0) : 0.0, rgb);
      uint8_t* px = &out.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
      for (int k = 0; k < 3; ++k)
        px[k] = static_cast<uint8_t>(std::lround((1 - alpha) * px[k] + alpha * rgb[k]));
    }
  return out;
}

}  // namespace

RgbImage render_overlay(const RgbImage& image, const Explanation& e,
                        const OverlayOptions& options) {
  if (e.grid_rows <= 0 || e.grid_cols <= 0)
    throw InputError("this explanation has no image patches to draw");
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw InputError("the image to draw on is empty or malformed");
  if (has_tile_view(e)) return render_summed(image, e, options);
  if (options.view == OverlayView::Tiles)
    throw InputError(
        "this explanation has no tiles: only LLaVA-NeXT and LLaVA-OneVision read an "
        "image as a base view and tiles; show all or base");
  // The crop region the model saw, in original pixels: the union of all patch rectangles.
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  bool any_patch = false;
  for (const auto& c : e.candidates) {
    if (c.kind != CandidateKind::Patch || c.view != 0) continue;
    any_patch = true;
    x0 = std::min(x0, c.rect.x);
    y0 = std::min(y0, c.rect.y);
    x1 = std::max(x1, c.rect.x + c.rect.width);
    y1 = std::max(y1, c.rect.y + c.rect.height);
  }
  const double scale = options.scale_max > 0 ? options.scale_max : max_patch_value(e, options.view);
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
