#include "delta_plot.h"

#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "conversions.h"

namespace atman::ui {
namespace {

QString candidateName(const Candidate& c) {
  if (c.kind == CandidateKind::Patch)  // anyres tiles (view 1) have a grid of their own
    return (c.view == 0 ? QObject::tr("r%1 c%2") : QObject::tr("tiles r%1 c%2"))
        .arg(c.row)
        .arg(c.col);
  QString text = toQString(c.text).trimmed();
  return text.isEmpty() ? QStringLiteral("␣") : text;
}

QCPBars* makeBars(QCustomPlot* plot, const QColor& colour) {
  auto* bars = new QCPBars(plot->xAxis, plot->yAxis);  // owned by the plot
  bars->setWidth(0.8);
  bars->setPen(Qt::NoPen);
  bars->setBrush(colour);
  bars->setSelectable(QCP::stNone);
  return bars;
}

}  // namespace

DeltaPlot::DeltaPlot(QWidget* parent) : QWidget(parent), m_plot(new QCustomPlot(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_plot);
  m_plot->setMouseTracking(true);
  m_plot->setBackground(palette().color(QPalette::Base));
  m_plot->yAxis->setLabel(tr("ΔL (E)"));
  m_plot->xAxis->grid()->setVisible(false);
  m_plot->yAxis->grid()->setZeroLinePen(QPen(QColor(90, 90, 90), 1));
  QFont tickFont = font();
  tickFont.setPointSizeF(std::max(6.0, tickFont.pointSizeF() - 1.5));
  m_plot->xAxis->setTickLabelFont(tickFont);
  m_plot->yAxis->setTickLabelFont(tickFont);
  m_positive = makeBars(m_plot, m_accent);
  m_negative = makeBars(m_plot, QColor(165, 165, 165));  // opposing the target: neutral grey
  m_members = makeBars(m_plot, QColor(240, 180, 0));
  m_hover = makeBars(m_plot, QColor(20, 60, 160));
  m_plot->installEventFilter(this);
  connect(m_plot, &QCustomPlot::mouseMove, this, &DeltaPlot::onMouseMove);
  connect(m_plot, &QCustomPlot::mousePress, this, &DeltaPlot::onMousePress);
  rebuild();
}

void DeltaPlot::setExplanation(const Explanation* explanation) {
  m_values.clear();
  m_candidates.clear();
  m_names.clear();
  m_neighbourhood = {};
  m_hovered = -1;
  m_patches = false;
  if (explanation) {
    m_patches = std::all_of(explanation->candidates.begin(), explanation->candidates.end(),
                            [](const Candidate& c) { return c.kind == CandidateKind::Patch; });
    for (const auto& c : explanation->candidates) {
      m_values.push_back(std::isfinite(c.value) ? c.value : 0.0);
      m_candidates.push_back(c.index);
      m_names.push_back(candidateName(c));
    }
    m_plot->xAxis->setLabel(
        explanation->explained == ExplainWhat::ImagePatches   ? tr("patch (grid row by row)")
        : explanation->explained == ExplainWhat::PromptTokens ? tr("token")
                                                              : tr("patch or token"));
  }
  rebuild();
}

void DeltaPlot::setAccentColour(const QColor& colour) {
  m_accent = colour;
  m_positive->setBrush(colour);
  replot();
}

void DeltaPlot::setHoveredCandidate(int candidate) {
  if (candidate == m_hovered) return;
  m_hovered = candidate;
  updateHighlights();
}

void DeltaPlot::setNeighbourhood(const Neighbourhood& neighbourhood) {
  m_neighbourhood = neighbourhood;
  updateHighlights();
}

void DeltaPlot::rebuild() {
  QVector<double> keys, positive, negative;
  for (size_t i = 0; i < m_values.size(); ++i) {
    keys << double(i);
    positive << std::max(0.0, m_values[i]);
    negative << std::min(0.0, m_values[i]);
  }
  m_positive->setData(keys, positive, true);
  m_negative->setData(keys, negative, true);

  // Patches: one tick per grid row (bars run row by row). Tokens: every token when they fit,
  // otherwise every k-th.
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const int n = static_cast<int>(m_values.size());
  bool rotate = false;
  if (m_patches && n > 16) {
    for (int i = 0; i < n; ++i)
      if (m_names[i].endsWith(QStringLiteral(" c0")))
        ticker->addTick(i, m_names[i].section(QLatin1Char(' '), 0, 0));
  } else {
    const int every = n <= 30 ? 1 : (n + 29) / 30;
    for (int i = 0; i < n; i += every) ticker->addTick(i, m_names[i]);
    rotate = n > 8;
  }
  m_plot->xAxis->setTicker(ticker);
  m_plot->xAxis->setTickLabelRotation(rotate ? 60 : 0);
  m_plot->xAxis->setRange(-0.7, std::max(1, n) - 0.3);
  double lo = 0, hi = 0;
  for (double v : m_values) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi - lo <= 0) hi = 1;
  const double pad = 0.06 * (hi - lo);
  m_plot->yAxis->setRange(lo < 0 ? lo - pad : 0, hi + pad);
  updateHighlights();
}

void DeltaPlot::updateHighlights() {
  QVector<double> memberKeys, memberValues, hoverKeys, hoverValues;
  for (size_t i = 0; i < m_values.size(); ++i) {
    if (m_candidates[i] == m_hovered)
      hoverKeys << double(i), hoverValues << m_values[i];
    else if (m_neighbourhood.centre >= 0 && m_neighbourhood.find(m_candidates[i]))
      memberKeys << double(i), memberValues << m_values[i];
  }
  m_members->setData(memberKeys, memberValues, true);
  m_hover->setData(hoverKeys, hoverValues, true);
  replot();
}

void DeltaPlot::replot() {
  if (isVisible()) m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void DeltaPlot::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool DeltaPlot::eventFilter(QObject* watched, QEvent* event) {
  // QWidget::grab() resizes hidden widgets too; QCustomPlot would then replot into an empty
  // buffer and warn. A plot of no size has nothing to draw, so that resize is skipped.
  if (watched == m_plot && event->type() == QEvent::Resize &&
      static_cast<QResizeEvent*>(event)->size().isEmpty())
    return true;
  return QWidget::eventFilter(watched, event);
}

int DeltaPlot::candidateAtPixel(double x) const {
  const double key = m_plot->xAxis->pixelToCoord(x);
  const int i = static_cast<int>(std::lround(key));
  if (i < 0 || i >= static_cast<int>(m_values.size()) || std::abs(key - i) > 0.45) return -1;
  return m_candidates[i];
}

void DeltaPlot::onMouseMove(QMouseEvent* event) {
  const int candidate = candidateAtPixel(event->position().x());
  if (candidate == m_hovered) return;
  setHoveredCandidate(candidate);
  emit candidateHovered(candidate);
  if (candidate < 0) {
    QToolTip::hideText();
    return;
  }
  const auto it = std::find(m_candidates.begin(), m_candidates.end(), candidate);
  const size_t i = static_cast<size_t>(it - m_candidates.begin());
  const QString text = tr("%1: ΔL (E) = %2").arg(m_names[i], QString::number(m_values[i], 'g', 4));
  emit message(text);
  QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
}

void DeltaPlot::onMousePress(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;
  const int candidate = candidateAtPixel(event->position().x());
  if (candidate >= 0) emit candidateClicked(candidate);
}

}  // namespace atman::ui
