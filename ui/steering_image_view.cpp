#include "steering_image_view.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>

#include "steering.h"

namespace atman::ui {

SteeringImageView::SteeringImageView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);  // hovering names the patch under the mouse
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setCursor(Qt::CrossCursor);
  m_placeholder = tr("Open an image to steer its patches.");
}

void SteeringImageView::setImage(const QImage& image) {
  m_image = image;
  if (m_image.isNull()) setCells({});
  m_dragFrom = m_dragTo = {-1, -1};
  updateScaled();
}

void SteeringImageView::setCells(std::vector<PatchCell> cells) {
  m_cells = std::move(cells);
  m_cellAt.clear();
  m_rows = m_cols = 0;
  for (size_t i = 0; i < m_cells.size(); ++i) {
    m_cellAt[{m_cells[i].row, m_cells[i].col}] = i;
    m_rows = std::max(m_rows, m_cells[i].row + 1);
    m_cols = std::max(m_cols, m_cells[i].col + 1);
  }
  m_dragFrom = m_dragTo = {-1, -1};
  update();
}

void SteeringImageView::setPatchFactors(const std::map<std::pair<int, int>, double>& factors) {
  m_factors = factors;
  update();
}

void SteeringImageView::setPlaceholderText(const QString& text) {
  m_placeholder = text;
  update();
}

QRectF SteeringImageView::imageRect() const {
  if (m_image.isNull()) return {};
  const QSizeF fitted = QSizeF(m_image.size()).scaled(QSizeF(size()), Qt::KeepAspectRatio);
  return QRectF(QPointF((width() - fitted.width()) / 2, (height() - fitted.height()) / 2), fitted);
}

QRectF SteeringImageView::toWidget(const QRectF& rect) const {
  const QRectF shown = imageRect();
  if (shown.isEmpty()) return {};
  const double sx = shown.width() / m_image.width(), sy = shown.height() / m_image.height();
  return QRectF(shown.x() + rect.x() * sx, shown.y() + rect.y() * sy, rect.width() * sx,
                rect.height() * sy);
}

QRectF SteeringImageView::patchRect(int row, int col) const {
  const auto at = m_cellAt.find({row, col});
  if (m_image.isNull() || at == m_cellAt.end()) return {};
  return toWidget(m_cells[at->second].rect);
}

std::pair<int, int> SteeringImageView::patchAt(const QPointF& position) const {
  if (m_image.isNull()) return {-1, -1};
  for (const PatchCell& cell : m_cells)
    if (toWidget(cell.rect).contains(position)) return {cell.row, cell.col};
  return {-1, -1};
}

void SteeringImageView::updateScaled() {
  const QRectF target = imageRect();
  m_scaled = m_image.isNull() || target.isEmpty()
                 ? QPixmap()
                 : QPixmap::fromImage(m_image.scaled(target.size().toSize(), Qt::IgnoreAspectRatio,
                                                     Qt::SmoothTransformation));
  update();
}

void SteeringImageView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  updateScaled();
}

void SteeringImageView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::Base).darker(108));
  if (m_scaled.isNull()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
               m_placeholder);
    return;
  }
  p.drawPixmap(imageRect().topLeft(), m_scaled);
  if (!hasImage()) return;

  // The grid shows what a drag can select: whole patches, as the model sees the image.
  p.setPen(QPen(QColor(255, 255, 255, 70), 1));
  for (const PatchCell& cell : m_cells) p.drawRect(toWidget(cell.rect));

  // Steered patches: a flat translucent fill (no outline, so the fill is exactly what it claims).
  for (const auto& [cell, factor] : m_factors) {
    QColor fill = steeringColour(factor);
    fill.setAlphaF(kOverlayAlpha);
    p.fillRect(patchRect(cell.first, cell.second), fill);
  }

  if (m_dragFrom.first >= 0 && m_dragTo.first >= 0) {
    const auto [r0, r1] = std::minmax(m_dragFrom.first, m_dragTo.first);
    const auto [c0, c1] = std::minmax(m_dragFrom.second, m_dragTo.second);
    const QRectF band = patchRect(r0, c0).united(patchRect(r1, c1));
    p.setPen(QPen(Qt::white, 2, Qt::DashLine));
    p.setBrush(Qt::NoBrush);
    p.drawRect(band.adjusted(1, 1, -1, -1));
  }
}

void SteeringImageView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    m_dragFrom = m_dragTo = patchAt(event->position());
    update();
  }
  QWidget::mousePressEvent(event);
}

void SteeringImageView::mouseMoveEvent(QMouseEvent* event) {
  const auto under = patchAt(event->position());
  if ((event->buttons() & Qt::LeftButton) && m_dragFrom.first >= 0 && under.first >= 0 &&
      under != m_dragTo) {
    m_dragTo = under;
    update();
  }
  if (under.first >= 0)
    emit message(tr("Patch row %1, column %2: drag to select a rectangle of patches")
                     .arg(under.first)
                     .arg(under.second));
  QWidget::mouseMoveEvent(event);
}

void SteeringImageView::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton && m_dragFrom.first >= 0) {
    // Copies: std::minmax returns references into the members reset below.
    const int r0 = std::min(m_dragFrom.first, m_dragTo.first),
              r1 = std::max(m_dragFrom.first, m_dragTo.first);
    const int c0 = std::min(m_dragFrom.second, m_dragTo.second),
              c1 = std::max(m_dragFrom.second, m_dragTo.second);
    m_dragFrom = m_dragTo = {-1, -1};
    update();
    emit regionSelected(r0, r1, c0, c1);
  }
  QWidget::mouseReleaseEvent(event);
}

}  // namespace atman::ui
