// Prompt (or label) tokens coloured by relevance; hover shows a token's value, click asks for its
// correlated neighbourhood. With values off it shows a model's continuation as clickable tokens,
// from which the person picks the target.
#pragma once

#include <QWidget>

#include <functional>

#include "token_layout.h"
#include "view_options.h"

namespace atman::ui {

class TokenView : public QWidget {
  Q_OBJECT

 public:
  explicit TokenView(QWidget* parent = nullptr);

  void setSegments(const QVector<TokenSegment>& segments, bool showValues = true);
  void clear() { setSegments({}); }
  const QVector<TokenSegment>& segments() const { return m_segments; }
  bool isEmpty() const { return m_segments.isEmpty(); }
  void setColourScale(Colormap colormap, double scaleMax);
  void setHoveredCandidate(int candidate);
  void setSelectedUpTo(int candidate);
  void setNeighbourhood(const Neighbourhood& neighbourhood);
  // Chips drawn in their own colour (candidate -> fill); cleared by setSegments.
  void setMarks(const QHash<int, QColor>& marks);
  const QHash<int, QColor>& marks() const { return m_marks; }
  // What hovering a chip says, for views whose chips are neither values nor a target to pick.
  void setDescriber(std::function<QString(int candidate)> describe) {
    m_describe = std::move(describe);
  }
  void setPlaceholderText(const QString& text);
  // The chip of a candidate, in widget coordinates (empty when not shown).
  QRectF candidateRect(int candidate) const;

  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override { return {120, 28}; }

 signals:
  void candidateHovered(int candidate);
  void candidateClicked(int candidate);
  // The same click with its modifiers (shift-click extends a selection).
  void candidateClickedWith(int candidate, Qt::KeyboardModifiers modifiers);
  void message(const QString& text);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void changeEvent(QEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  void relayout();
  int candidateAt(const QPointF& position) const;
  QString describe(int candidate) const;

  QVector<TokenSegment> m_segments;
  QVector<TokenBox> m_boxes;
  TokenStyle m_style;
  Neighbourhood m_neighbourhood;
  QHash<int, QColor> m_marks;
  std::function<QString(int)> m_describe;
  QString m_placeholder;
  static constexpr int kMargin = 6;
};

}  // namespace atman::ui
