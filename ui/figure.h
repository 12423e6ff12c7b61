// A publication figure of one or two explanations: titled panels (heatmap over the image and/or the
// coloured tokens), the colour bar, and a caption. Painted with QPainter in units of 1/96 inch, so
// the same code draws the PNG (any DPI), the SVG, the PDF and the clipboard image.
#pragma once

#include <QFont>
#include <QImage>
#include <QSizeF>
#include <QString>
#include <QVector>

#include "atman/heatmap.h"
#include "token_layout.h"
#include "view_options.h"

class QPainter;

namespace atman::ui {

struct FigurePanel {
  QString title;
  QImage image;                  // the overlay at full image resolution; null for text-only models
  QVector<TokenSegment> tokens;  // empty when the explanation has no tokens
  Scales scales;                 // the colour scales the overlay and tokens were drawn with
};

// Panels with the same scales share one colour bar at the right; otherwise each panel gets its own.
struct Figure {
  QVector<FigurePanel> panels;  // one (single or correlated) or two (side by side)
  Colormap colormap = Colormap::Jet;
  bool smooth = true;  // how the image is enlarged: smooth, or crisp patches
  QString caption;
};

inline constexpr double kFigureUnitsPerInch = 96.0;

QSizeF figureSize(const Figure& figure);  // in 1/96 inch
void paintFigure(QPainter& painter, const Figure& figure);
// The figure as pixels at `dpi`, with the DPI recorded in the image (PNG pHYs).
QImage renderFigure(const Figure& figure, double dpi);

}  // namespace atman::ui
