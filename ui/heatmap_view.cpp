#include "heatmap_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>

#include "atman/error.h"
#include "conversions.h"

namespace atman::ui {

HeatmapView::HeatmapView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);  // hover shows values without a button held
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setAttribute(Qt::WA_OpaquePaintEvent);
  m_placeholder = tr("Open an image: File › Open, drag and drop, or paste");
}

void HeatmapView::setImage(std::shared_ptr<const RgbImage> image) {
  m_image = std::move(image);
  m_base = m_image ? toQImage(*m_image) : QImage();
  m_explanation.reset();
  m_cells.clear();
  m_overlay = QImage();
  m_neighbourhood = {};
  m_hovered = -1;
  updateScaled();
}

void HeatmapView::setExplanation(const Explanation* explanation) {
  m_cells.clear();
  m_explanation.reset();
  if (explanation) {
    m_explanation = *explanation;
    for (const auto& c : explanation->candidates)
      if (c.kind == CandidateKind::Patch)
        m_cells.push_back({c.index, c.row, c.col,
                           QRectF(c.rect.x, c.rect.y, c.rect.width, c.rect.height), c.value});
  }
  renderOverlay();
}

void HeatmapView::setViewOptions(const ViewOptions& options, double scaleMax) {
  const bool overlayChanged = options.colormap != m_options.colormap ||
                              options.opacity != m_options.opacity ||
                              options.smooth != m_options.smooth || scaleMax != m_scaleMax ||
                              options.overlayView != m_options.overlayView;
  m_options = options;
  m_scaleMax = scaleMax;
  if (overlayChanged)
    renderOverlay();
  else
    update();
}

void HeatmapView::setHoveredCandidate(int candidate) {
  if (candidate == m_hovered) return;
  m_hovered = candidate;
  update();
}

void HeatmapView::setNeighbourhood(const Neighbourhood& neighbourhood) {
  m_neighbourhood = neighbourhood;
  update();
}

void HeatmapView::setPlaceholderText(const QString& text) {
  m_placeholder = text;
  update();
}

void HeatmapView::renderOverlay() {
  m_overlay = QImage();
  if (m_image && m_explanation && !m_cells.empty()) {
    OverlayOptions options;
    options.colormap = m_options.colormap;
    options.opacity = m_options.opacity;
    options.smooth = m_options.smooth;
    // One view only (CLIP, SigLIP, LLaVA-1.5): "Tiles" has nothing to show, the view is all.
    options.view = has_tile_view(*m_explanation) ? m_options.overlayView : OverlayView::All;
    // A scale of 0 would mean "this explanation's own maximum" to the core; a positive one is the
    // shared scale of both panes. An all-negative explanation keeps scale 0 and shows as cold.
    options.scale_max = m_scaleMax;
    try {
      m_overlay = toQImage(render_overlay(*m_image, *m_explanation, options));
    } catch (const Error& e) {
      emit message(toQString(e.what()));
    }
  }
  updateScaled();
}

QRectF HeatmapView::imageRect() const {
  if (m_base.isNull()) return {};
  const QSizeF image = m_base.size();
  const QSizeF fitted = image.scaled(QSizeF(size()), Qt::KeepAspectRatio);
  return QRectF(QPointF((width() - fitted.width()) / 2, (height() - fitted.height()) / 2), fitted);
}

QRectF HeatmapView::toWidget(const QRectF& rect) const {
  const QRectF shown = imageRect();
  if (shown.isEmpty()) return {};
  const double sx = shown.width() / m_base.width(), sy = shown.height() / m_base.height();
  return QRectF(shown.x() + rect.x() * sx, shown.y() + rect.y() * sy, rect.width() * sx,
                rect.height() * sy);
}

int HeatmapView::candidateAt(const QPointF& position) const {
  for (const Cell& c : m_cells)
    if (toWidget(c.rect).contains(position)) return c.candidate;
  return -1;
}

const HeatmapView::Cell* HeatmapView::cell(int candidate) const {
  for (const Cell& c : m_cells)
    if (c.candidate == candidate) return &c;
  return nullptr;
}

void HeatmapView::updateScaled() {
  const QImage shown = shownImage();
  const QRectF target = imageRect();
  if (shown.isNull() || target.isEmpty()) {
    m_scaled = QPixmap();
  } else {
    // Blocky heatmaps stay crisp when enlarged; photographs shrink smoothly.
    const bool enlarging = target.width() > shown.width();
    const auto mode =
        enlarging && !m_options.smooth ? Qt::FastTransformation : Qt::SmoothTransformation;
    m_scaled =
        QPixmap::fromImage(shown.scaled(target.size().toSize(), Qt::IgnoreAspectRatio, mode));
  }
  emit imageRectChanged(target);
  update();
}

void HeatmapView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  updateScaled();
}

void HeatmapView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::Base).darker(108));
  if (m_scaled.isNull()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
               m_placeholder);
    return;
  }
  const QRectF shown = imageRect();
  p.drawPixmap(shown.topLeft(), m_scaled);
  p.setRenderHint(QPainter::Antialiasing);

  if (m_options.showGrid) {
    p.setPen(QPen(QColor(255, 255, 255, 110), 1));
    for (const Cell& c : m_cells) p.drawRect(toWidget(c.rect));
  }

  if (m_neighbourhood.centre >= 0 && !m_cells.empty()) {
    // Veil everything outside the neighbourhood, outline its members, label their factors.
    for (const Cell& c : m_cells)
      if (!m_neighbourhood.find(c.candidate)) p.fillRect(toWidget(c.rect), QColor(0, 0, 0, 120));
    QFont small = font();
    small.setPixelSize(10);
    p.setFont(small);
    for (const auto& member : m_neighbourhood.members) {
      const Cell* c = cell(member.candidate);
      if (!c) continue;
      const QRectF r = toWidget(c->rect).adjusted(1, 1, -1, -1);
      const bool centre = member.candidate == m_neighbourhood.centre;
      p.setPen(QPen(centre ? QColor(255, 255, 255) : QColor(255, 214, 0), centre ? 3 : 1.5));
      p.drawRect(r);
      if (r.width() >= 30 && r.height() >= 16) {
        const QString label = QStringLiteral("×%1").arg(member.factor, 0, 'f', 2);
        const QRectF box(r.x() + 2, r.y() + 2, r.width() - 4, 13);
        p.fillRect(
            QRectF(box.topLeft(), QSizeF(QFontMetricsF(small).horizontalAdvance(label) + 4, 13)),
            QColor(0, 0, 0, 150));
        p.setPen(Qt::white);
        p.drawText(box.adjusted(2, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, label);
      }
    }
  }

  if (const Cell* c = cell(m_hovered)) {
    const QRectF r = toWidget(c->rect);
    p.setPen(QPen(QColor(0, 0, 0, 160), 3));
    p.drawRect(r);
    p.setPen(QPen(Qt::white, 1.5));
    p.drawRect(r);
  }
}

QString HeatmapView::describe(int candidate) const {
  const Cell* c = cell(candidate);
  if (!c) return {};
  QString text =
      tr("Patch row %1, column %2: ΔL (E) = %3").arg(c->row).arg(c->col).arg(c->value, 0, 'g', 4);
  if (const NeighbourFactor* n = m_neighbourhood.find(candidate);
      n && m_neighbourhood.centre >= 0) {
    text += candidate == m_neighbourhood.centre
                ? tr("\nSelected: suppressed ×%1").arg(n->factor, 0, 'f', 3)
                : tr("\nNeighbour: similarity %1, suppressed ×%2")
                      .arg(n->similarity, 0, 'f', 3)
                      .arg(n->factor, 0, 'f', 3);
  }
  return text;
}

void HeatmapView::mouseMoveEvent(QMouseEvent* event) {
  const int candidate = candidateAt(event->position());
  if (candidate != m_hovered) {
    m_hovered = candidate;
    update();
    emit candidateHovered(candidate);
    const QString text = describe(candidate);
    emit message(text);
    if (text.isEmpty())
      QToolTip::hideText();
    else
      QToolTip::showText(event->globalPosition().toPoint(), text, this);
  }
  QWidget::mouseMoveEvent(event);
}

void HeatmapView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    const int candidate = candidateAt(event->position());
    if (candidate >= 0) emit candidateClicked(candidate);
  }
  QWidget::mousePressEvent(event);
}

void HeatmapView::leaveEvent(QEvent* event) {
  if (m_hovered >= 0) {
    m_hovered = -1;
    update();
    emit candidateHovered(-1);
  }
  QWidget::leaveEvent(event);
}

}  // namespace atman::ui
