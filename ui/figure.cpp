#include "figure.h"

#include <QFontMetricsF>
#include <QPainter>

#include <algorithm>
#include <cmath>

#include "colour_bar.h"

namespace atman::ui {
namespace {

constexpr double kMargin = 16, kPanelWidth = 300, kPanelGap = 20, kBarWidth = 14, kBarGap = 10;
constexpr double kTitleHeight = 24, kTokenGap = 8, kCaptionGap = 12;

QFont pixelFont(int pixels, bool bold = false) {
  // Pixel sizes scale with the painter, so PNG, SVG and PDF get the same proportions at any DPI.
  QFont font(QStringLiteral("DejaVu Sans"));
  font.setStyleHint(QFont::SansSerif);
  font.setPixelSize(pixels);
  font.setBold(bold);
  return font;
}

QFont titleFont() {
  return pixelFont(14, true);
}
QFont tokenFont() {
  return pixelFont(13);
}
QFont captionFont() {
  return pixelFont(12);
}
QFont barFont() {
  return pixelFont(11);
}

double imageHeight(const FigurePanel& panel) {
  if (panel.image.isNull() || panel.image.width() <= 0) return 0;
  return std::clamp(kPanelWidth * panel.image.height() / panel.image.width(), 0.4 * kPanelWidth,
                    1.6 * kPanelWidth);
}

double tokensHeight(const FigurePanel& panel) {
  if (panel.tokens.isEmpty()) return 0;
  double h = 0;
  layoutTokens(panel.tokens, tokenFont(), kPanelWidth, &h);
  return h;
}

bool sameScales(const Figure& f) {
  for (const auto& p : f.panels)
    if (p.scales.patches != f.panels.front().scales.patches ||
        p.scales.tokens != f.panels.front().scales.tokens)
      return false;
  return true;
}

// Room for one colour bar with its labels, for the scales of `p`.
double barWidth(const FigurePanel& p) {
  double labels = 0;
  if (!p.image.isNull())
    labels = std::max(labels, colourBarLabelWidth(barFont(), std::max(p.scales.patches, 1e-9)));
  if (!p.tokens.isEmpty())
    labels = std::max(labels, colourBarLabelWidth(barFont(), std::max(p.scales.tokens, 1e-9)));
  return kBarGap + kBarWidth + labels;
}

// Left edge of each panel and the total width of the panels with their bars.
std::vector<double> panelLefts(const Figure& f, double* width) {
  std::vector<double> lefts;
  const bool perPanel = !sameScales(f);
  double x = kMargin;
  for (int i = 0; i < f.panels.size(); ++i) {
    if (i > 0) x += kPanelGap;
    lefts.push_back(x);
    x += kPanelWidth + (perPanel ? barWidth(f.panels[i]) : 0);
  }
  if (!perPanel && !f.panels.isEmpty()) x += barWidth(f.panels.back());
  if (width) *width = x - kMargin;
  return lefts;
}

double panelHeight(const FigurePanel& p) {
  const double image = imageHeight(p), tokens = tokensHeight(p);
  return kTitleHeight + image + (image > 0 && tokens > 0 ? kTokenGap : 0) + tokens;
}

QRectF captionRect(const Figure& f, double top) {
  double width = 0;
  panelLefts(f, &width);
  const QRectF bound =
      QFontMetricsF(captionFont())
          .boundingRect(QRectF(0, 0, width, 1e6), Qt::TextWordWrap | Qt::AlignLeft, f.caption);
  return QRectF(kMargin, top, width, f.caption.isEmpty() ? 0 : bound.height());
}

double panelsHeight(const Figure& f) {
  double h = 0;
  for (const auto& p : f.panels) h = std::max(h, panelHeight(p));
  return h;
}

// The colour bars of one panel, beside its image and its tokens, starting at x.
void paintBars(QPainter& painter, const Figure& f, const FigurePanel& p, double x, double imageTop,
               double tokenTop) {
  const double imageH = imageHeight(p), tokenH = tokensHeight(p);
  painter.setPen(QColor(40, 40, 40));
  if (imageH > 0 && p.scales.patches > 0)
    paintColourBar(painter, QRectF(x, imageTop + 6, kBarWidth, imageH - 12), f.colormap,
                   p.scales.patches, QObject::tr("ΔL (E)"), barFont());
  if (tokenH > 0 && p.scales.tokens > 0)
    paintColourBar(painter, QRectF(x, tokenTop, kBarWidth, std::max(tokenH, 40.0)), f.colormap,
                   p.scales.tokens, imageH > 0 ? QString() : QObject::tr("ΔL (E)"), barFont());
}

}  // namespace

QSizeF figureSize(const Figure& f) {
  double width = 0;
  panelLefts(f, &width);
  const QRectF caption = captionRect(f, 0);
  const double height =
      2 * kMargin + panelsHeight(f) + (caption.height() > 0 ? kCaptionGap + caption.height() : 0);
  return {std::ceil(2 * kMargin + width), std::ceil(height)};
}

void paintFigure(QPainter& painter, const Figure& f) {
  painter.save();
  const QSizeF size = figureSize(f);
  painter.fillRect(QRectF(QPointF(0, 0), size), Qt::white);
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setRenderHint(QPainter::TextAntialiasing);

  const std::vector<double> lefts = panelLefts(f, nullptr);
  const bool perPanel = !sameScales(f);
  const double imageTop = kMargin + kTitleHeight;
  for (int i = 0; i < f.panels.size(); ++i) {
    const FigurePanel& panel = f.panels[i];
    const double x = lefts[i];
    painter.setFont(titleFont());
    painter.setPen(QColor(20, 20, 20));
    painter.drawText(QRectF(x, kMargin, kPanelWidth, kTitleHeight - 4),
                     Qt::AlignLeft | Qt::AlignVCenter, panel.title);
    double y = imageTop;
    if (const double h = imageHeight(panel); h > 0) {
      const QRectF target(x, y, kPanelWidth, h);
      // Letterbox: keep the picture's aspect ratio inside the panel's clamped frame.
      const QSizeF fitted = QSizeF(panel.image.size()).scaled(target.size(), Qt::KeepAspectRatio);
      const QRectF shown(target.center() - QPointF(fitted.width() / 2, fitted.height() / 2),
                         fitted);
      painter.setRenderHint(QPainter::SmoothPixmapTransform,
                            f.smooth || shown.width() < panel.image.width());
      painter.drawImage(shown, panel.image);
      painter.setPen(QPen(QColor(80, 80, 80), 0.8));
      painter.setBrush(Qt::NoBrush);
      painter.drawRect(shown);
      y += h + kTokenGap;
    }
    const double tokenTop = y;
    if (!panel.tokens.isEmpty()) {
      double h = 0;
      const auto boxes = layoutTokens(panel.tokens, tokenFont(), kPanelWidth, &h);
      painter.save();
      painter.translate(x, y);
      TokenStyle style;
      style.font = tokenFont();
      style.colormap = f.colormap;
      style.scaleMax = panel.scales.tokens;
      paintTokens(painter, panel.tokens, boxes, style);
      painter.restore();
    }
    if (perPanel || i + 1 == f.panels.size())
      paintBars(painter, f, panel, x + kPanelWidth + kBarGap, imageTop, tokenTop);
  }

  if (!f.caption.isEmpty()) {
    const QRectF caption = captionRect(f, kMargin + panelsHeight(f) + kCaptionGap);
    painter.setFont(captionFont());
    painter.setPen(QColor(60, 60, 60));
    painter.drawText(caption, Qt::TextWordWrap | Qt::AlignLeft | Qt::AlignTop, f.caption);
  }
  painter.restore();
}

QImage renderFigure(const Figure& figure, double dpi) {
  const double scale = dpi / kFigureUnitsPerInch;
  const QSizeF size = figureSize(figure);
  QImage image(QSize(std::max(1, int(std::lround(size.width() * scale))),
                     std::max(1, int(std::lround(size.height() * scale)))),
               QImage::Format_RGB32);
  const int dotsPerMeter = static_cast<int>(std::lround(dpi / 0.0254));
  image.setDotsPerMeterX(dotsPerMeter);
  image.setDotsPerMeterY(dotsPerMeter);
  image.fill(Qt::white);
  QPainter painter(&image);
  painter.scale(scale, scale);
  paintFigure(painter, figure);
  return image;
}

}  // namespace atman::ui
