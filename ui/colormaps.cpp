#include "colormaps.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "conversions.h"

namespace atman::ui {

QStringList colormapNames() {
  QStringList names;
  for (const auto& name : colormap_names()) names << toQString(name);
  return names;
}

Colormap colormapFromName(const QString& name) {
  const auto names = colormap_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (toQString(names[i]) == name) return parse_colormap(names[i]);
  return Colormap::Jet;
}

QColor colormapColour(Colormap map, double t) {
  uint8_t rgb[3];
  colormap_rgb(map, t, rgb);
  return QColor(rgb[0], rgb[1], rgb[2]);
}

QColor tokenBackground(Colormap map, double t) {
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const QColor c = colormapColour(map, t);
  // 0.85 at most: even the hottest token keeps a trace of the paper colour, so text stays legible.
  const double w = 0.85 * t;
  auto mix = [w](int channel) {
    return static_cast<int>(std::lround(255 * (1 - w) + channel * w));
  };
  return QColor(mix(c.red()), mix(c.green()), mix(c.blue()));
}

QImage colourBarImage(Colormap map, int width, int height, bool vertical) {
  QImage image(std::max(1, width), std::max(1, height), QImage::Format_RGB32);
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const double t = vertical
                           ? 1.0 - (image.height() > 1 ? double(y) / (image.height() - 1) : 0.0)
                           : (image.width() > 1 ? double(x) / (image.width() - 1) : 0.0);
      image.setPixel(x, y, colormapColour(map, t).rgb());
    }
  return image;
}

double colormapValue(Colormap map, const QColor& colour) {
  constexpr int kSteps = 256;
  double best = 0, bestDistance = std::numeric_limits<double>::max();
  for (int i = 0; i < kSteps; ++i) {
    const double t = double(i) / (kSteps - 1);
    const QColor c = colormapColour(map, t);
    const double dr = c.red() - colour.red(), dg = c.green() - colour.green(),
                 db = c.blue() - colour.blue();
    const double d = dr * dr + dg * dg + db * db;
    if (d < bestDistance) bestDistance = d, best = t;
  }
  return best;
}

}  // namespace atman::ui
