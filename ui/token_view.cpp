#include "token_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <cmath>

namespace atman::ui {

TokenView::TokenView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  QSizePolicy policy(QSizePolicy::Expanding, QSizePolicy::Preferred);
  policy.setHeightForWidth(true);
  setSizePolicy(policy);
  m_style.font = font();
}

void TokenView::setSegments(const QVector<TokenSegment>& segments, bool showValues) {
  m_segments = segments;
  m_style.showValues = showValues;
  m_style.hovered = -1;
  m_style.selectedUpTo = -1;
  m_neighbourhood = {};
  m_marks.clear();
  relayout();
}

void TokenView::setMarks(const QHash<int, QColor>& marks) {
  m_marks = marks;
  update();
}

void TokenView::setColourScale(Colormap colormap, double scaleMax) {
  m_style.colormap = colormap;
  m_style.scaleMax = scaleMax;
  update();
}

void TokenView::setHoveredCandidate(int candidate) {
  if (m_style.hovered == candidate) return;
  m_style.hovered = candidate;
  update();
}

void TokenView::setSelectedUpTo(int candidate) {
  m_style.selectedUpTo = candidate;
  update();
}

void TokenView::setNeighbourhood(const Neighbourhood& neighbourhood) {
  m_neighbourhood = neighbourhood;
  update();
}

void TokenView::setPlaceholderText(const QString& text) {
  m_placeholder = text;
  update();
}

void TokenView::relayout() {
  m_style.font = font();
  double height = 0;
  m_boxes = layoutTokens(m_segments, m_style.font, std::max(40, width() - 2 * kMargin), &height);
  updateGeometry();
  update();
}

int TokenView::heightForWidth(int width) const {
  double height = 0;
  layoutTokens(m_segments, font(), std::max(40, width - 2 * kMargin), &height);
  return std::max(minimumSizeHint().height(), static_cast<int>(std::ceil(height)) + 2 * kMargin);
}

QSize TokenView::sizeHint() const {
  const int w = std::max(width(), 300);
  return {w, heightForWidth(w)};
}

QRectF TokenView::candidateRect(int candidate) const {
  for (const TokenBox& box : m_boxes)
    if (m_segments[box.segment].candidate == candidate)
      return box.rect.translated(kMargin, kMargin);
  return {};
}

int TokenView::candidateAt(const QPointF& position) const {
  for (const TokenBox& box : m_boxes)
    if (box.rect.translated(kMargin, kMargin).contains(position))
      return m_segments[box.segment].candidate;
  return -1;
}

QString TokenView::describe(int candidate) const {
  if (m_describe) return candidate >= 0 ? m_describe(candidate) : QString();
  for (const TokenSegment& seg : m_segments) {
    if (seg.candidate != candidate) continue;
    if (!m_style.showValues)
      return tr("Click to explain the continuation up to “%1”").arg(seg.text.trimmed());
    QString text = tr("Token “%1”: ΔL (E) = %2").arg(seg.text, QString::number(seg.value, 'g', 4));
    if (const NeighbourFactor* n = m_neighbourhood.find(candidate);
        n && m_neighbourhood.centre >= 0)
      text += candidate == m_neighbourhood.centre
                  ? tr("\nSelected: suppressed ×%1").arg(n->factor, 0, 'f', 3)
                  : tr("\nNeighbour: similarity %1, suppressed ×%2")
                        .arg(n->similarity, 0, 'f', 3)
                        .arg(n->factor, 0, 'f', 3);
    return text;
  }
  return {};
}

void TokenView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  if (m_segments.isEmpty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect().adjusted(kMargin, 0, -kMargin, 0),
               Qt::AlignVCenter | Qt::AlignLeft | Qt::TextWordWrap, m_placeholder);
    return;
  }
  p.translate(kMargin, kMargin);
  TokenStyle style = m_style;
  style.neighbourhood = &m_neighbourhood;
  style.marks = &m_marks;
  paintTokens(p, m_segments, m_boxes, style);
}

void TokenView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  relayout();
}

void TokenView::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::FontChange) relayout();
}

void TokenView::mouseMoveEvent(QMouseEvent* event) {
  const int candidate = candidateAt(event->position());
  if (candidate != m_style.hovered) {
    m_style.hovered = candidate;
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

void TokenView::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    const int candidate = candidateAt(event->position());
    if (candidate >= 0) {
      emit candidateClicked(candidate);
      emit candidateClickedWith(candidate, event->modifiers());
    }
  }
  QWidget::mousePressEvent(event);
}

void TokenView::leaveEvent(QEvent* event) {
  if (m_style.hovered >= 0) {
    m_style.hovered = -1;
    update();
    emit candidateHovered(-1);
  }
  QWidget::leaveEvent(event);
}

}  // namespace atman::ui
