// The colour scale next to a heatmap: the gradient, its 0 / middle / maximum values and the unit.
// The same painting serves the widget and the exported figure.
#pragma once

#include <QFont>
#include <QRectF>
#include <QString>
#include <QWidget>

#include "atman/heatmap.h"

class QPainter;

namespace atman::ui {

// Paints the gradient into `bar` and the tick labels to its right (within `labelWidth`), with
// `title` written vertically right of the labels.
void paintColourBar(QPainter& painter, const QRectF& bar, Colormap colormap, double scaleMax,
                    const QString& title, const QFont& font);
// Width needed right of the bar for the labels and the title.
double colourBarLabelWidth(const QFont& font, double scaleMax);

class ColourBar : public QWidget {
  Q_OBJECT

 public:
  explicit ColourBar(QWidget* parent = nullptr);
  void setScale(Colormap colormap, double scaleMax);
  void setTitle(const QString& title);
  // The vertical extent of the gradient in this widget's coordinates (aligned with the image
  // beside it); an empty span uses the whole height.
  void setSpan(double top, double bottom);
  // Compact: as tall as a couple of text lines (beside tokens) instead of an image.
  void setCompact(bool compact);
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override { return sizeHint(); }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  Colormap m_colormap = Colormap::Jet;
  double m_scaleMax = 0;
  QString m_title;
  double m_top = 0, m_bottom = 0;
  bool m_compact = false;
};

}  // namespace atman::ui
