// Colour helpers around the core's colormaps: the colour bar, token backgrounds, and the inverse
// lookup (colour -> value) that tests use to read a heatmap's pixels back as numbers.
#pragma once

#include <QColor>
#include <QImage>
#include <QStringList>

#include "atman/heatmap.h"

namespace atman::ui {

QStringList colormapNames();
Colormap colormapFromName(const QString& name);  // unknown names fall back to jet

// The colormap's colour of t in [0, 1] (clipped), exactly as render_overlay paints it.
QColor colormapColour(Colormap map, double t);

// A token background: the colormap colour faded into white as t goes to 0, so low values stay
// readable behind black text whatever the map's dark end is.
QColor tokenBackground(Colormap map, double t);

// A gradient strip, low values at the bottom (vertical) or left (horizontal).
QImage colourBarImage(Colormap map, int width, int height, bool vertical = true);

// The t in [0, 1] whose colormap colour is nearest to `colour`: reads an overlay painted at
// opacity 1 back into values.
double colormapValue(Colormap map, const QColor& colour);

}  // namespace atman::ui
