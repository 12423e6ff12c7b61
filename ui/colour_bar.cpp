#include "colour_bar.h"

#include <QFontMetricsF>
#include <QPainter>

#include <algorithm>

#include "colormaps.h"

namespace atman::ui {
namespace {

QString tickLabel(double v) {
  return QString::number(v, 'g', 3);
}

}  // namespace

double colourBarLabelWidth(const QFont& font, double scaleMax) {
  const QFontMetricsF fm(font);
  const double labels = std::max({fm.horizontalAdvance(tickLabel(scaleMax)),
                                  fm.horizontalAdvance(tickLabel(scaleMax / 2)),
                                  fm.horizontalAdvance(QStringLiteral("0"))});
  return 4 + labels + 4 + fm.height();
}

void paintColourBar(QPainter& painter, const QRectF& bar, Colormap colormap, double scaleMax,
                    const QString& title, const QFont& font) {
  painter.save();
  painter.setFont(font);
  const QFontMetricsF fm(font);
  painter.drawImage(bar, colourBarImage(colormap, 8, 256, true));
  painter.setPen(QPen(QColor(60, 60, 60), 0.8));
  painter.setBrush(Qt::NoBrush);
  painter.drawRect(bar);
  double labelsRight = bar.right() + 4;
  if (scaleMax > 0) {
    // A short bar (beside a line of tokens) has room for its ends only.
    const bool roomForMiddle = bar.height() >= 3.2 * fm.height();
    for (double f : {0.0, 0.5, 1.0}) {
      if (f == 0.5 && !roomForMiddle) continue;
      const double y = bar.bottom() - f * bar.height();
      painter.drawLine(QPointF(bar.right(), y), QPointF(bar.right() + 3, y));
      const QString label = tickLabel(f * scaleMax);
      const double w = fm.horizontalAdvance(label);
      const double top = std::clamp(y - fm.height() / 2, bar.top() - fm.height() / 2,
                                    bar.bottom() - fm.height() / 2);
      painter.drawText(QRectF(bar.right() + 4, top, w + 2, fm.height()),
                       Qt::AlignLeft | Qt::AlignVCenter, label);
      labelsRight = std::max(labelsRight, bar.right() + 4 + w + 4);
    }
  }
  if (!title.isEmpty()) {
    // Written bottom-to-top beside the labels, centred on the bar.
    painter.translate(labelsRight + fm.ascent(), bar.center().y());
    painter.rotate(-90);
    const double w = fm.horizontalAdvance(title);
    painter.drawText(QPointF(-w / 2, 0), title);
  }
  painter.restore();
}

ColourBar::ColourBar(QWidget* parent) : QWidget(parent), m_title(tr("ΔL (E)")) {
  setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
}

void ColourBar::setScale(Colormap colormap, double scaleMax) {
  m_colormap = colormap;
  m_scaleMax = scaleMax;
  updateGeometry();
  update();
}

void ColourBar::setTitle(const QString& title) {
  m_title = title;
  update();
}

void ColourBar::setSpan(double top, double bottom) {
  m_top = top;
  m_bottom = bottom;
  update();
}

void ColourBar::setCompact(bool compact) {
  m_compact = compact;
  setSizePolicy(QSizePolicy::Fixed, compact ? QSizePolicy::Preferred : QSizePolicy::Expanding);
  updateGeometry();
}

QSize ColourBar::sizeHint() const {
  // Room for labels like "0.000" whatever the scale, so panes side by side keep equal image sizes.
  const QFontMetricsF fm(font());
  const double labels =
      std::max(colourBarLabelWidth(font(), m_scaleMax > 0 ? m_scaleMax : 1.0),
               4 + fm.horizontalAdvance(QStringLiteral("0.0000")) + 4 + fm.height());
  const int width = static_cast<int>(14 + labels + 6);
  return {width, m_compact ? 3 * fontMetrics().height() + 8 : 120};
}

void ColourBar::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const double margin = QFontMetricsF(font()).height() / 2 + 2;
  double top = margin, bottom = height() - margin;
  if (m_bottom - m_top > 40) top = std::max(top, m_top), bottom = std::min(bottom, m_bottom);
  paintColourBar(p, QRectF(2, top, 12, bottom - top), m_colormap, m_scaleMax, m_title, font());
}

}  // namespace atman::ui
