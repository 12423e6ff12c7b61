// ΔL (E) per candidate as a QCustomPlot bar chart: how much the target's loss rises when each
// patch or token is suppressed. Hover and click are synchronised with the heatmap and token views.
#pragma once

#include <QColor>
#include <QWidget>

#include <vector>

#include "atman/explanation.h"
#include "view_options.h"

class QCustomPlot;
class QCPBars;
class QMouseEvent;

namespace atman::ui {

class DeltaPlot : public QWidget {
  Q_OBJECT

 public:
  explicit DeltaPlot(QWidget* parent = nullptr);

  void setExplanation(const Explanation* explanation);  // nullptr clears
  void setAccentColour(const QColor& colour);
  void setHoveredCandidate(int candidate);
  void setNeighbourhood(const Neighbourhood& neighbourhood);
  int barCount() const { return static_cast<int>(m_values.size()); }
  QCustomPlot* plot() const { return m_plot; }

  QSize sizeHint() const override { return {420, 190}; }
  QSize minimumSizeHint() const override { return {200, 120}; }

 signals:
  void candidateHovered(int candidate);
  void candidateClicked(int candidate);
  void message(const QString& text);

 protected:
  void showEvent(QShowEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void replot();  // only while visible: a hidden plot has no paint buffer to draw into
  void rebuild();
  void updateHighlights();
  int candidateAtPixel(double x) const;
  void onMouseMove(QMouseEvent* event);
  void onMousePress(QMouseEvent* event);

  QCustomPlot* m_plot = nullptr;
  QCPBars* m_positive = nullptr;
  QCPBars* m_negative = nullptr;
  QCPBars* m_members = nullptr;  // the neighbourhood shown, in the highlight colour
  QCPBars* m_hover = nullptr;
  std::vector<double> m_values;   // by bar position
  std::vector<int> m_candidates;  // candidate index of each bar
  std::vector<QString> m_names;
  bool m_patches = false;
  QColor m_accent{214, 96, 77};
  int m_hovered = -1;
  Neighbourhood m_neighbourhood;
};

}  // namespace atman::ui
