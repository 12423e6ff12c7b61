#include "explanation_pane.h"

#include <QHBoxLayout>
#include <QVBoxLayout>

#include <algorithm>

#include "colour_bar.h"
#include "delta_plot.h"
#include "heatmap_view.h"
#include "token_view.h"

namespace atman::ui {

ExplanationPane::ExplanationPane(const QString& title, const QColor& accent, QWidget* parent)
    : QWidget(parent) {
  m_title = new QLabel(title, this);
  QFont bold = m_title->font();
  bold.setBold(true);
  bold.setPointSizeF(bold.pointSizeF() + 1);
  m_title->setFont(bold);
  m_summary = new QLabel(this);
  m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_summary->setStyleSheet(QStringLiteral("color: palette(mid);"));

  m_heatmap = new HeatmapView(this);
  m_colourBar = new ColourBar(this);
  m_imageRow = new QWidget(this);
  auto* imageLayout = new QHBoxLayout(m_imageRow);
  imageLayout->setContentsMargins(0, 0, 0, 0);
  imageLayout->addWidget(m_heatmap, 1);
  imageLayout->addWidget(m_colourBar);

  m_tokens = new TokenView(this);
  m_tokens->setPlaceholderText(tr("No token explanation"));
  m_tokenBar = new ColourBar(this);
  m_tokenBar->setTitle(tr("ΔL"));
  m_tokenBar->setCompact(true);
  m_tokenRow = new QWidget(this);
  auto* tokenLayout = new QHBoxLayout(m_tokenRow);
  tokenLayout->setContentsMargins(0, 0, 0, 0);
  tokenLayout->addWidget(m_tokens, 1);
  tokenLayout->addWidget(m_tokenBar);

  m_plot = new DeltaPlot(this);
  m_plot->setAccentColour(accent);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* header = new QHBoxLayout;
  header->addWidget(m_title);
  header->addStretch(1);
  header->addWidget(m_summary);
  layout->addLayout(header);
  layout->addWidget(m_imageRow, 3);
  layout->addWidget(m_tokenRow);
  layout->addWidget(m_plot, 1);
  m_tokenRow->hide();

  // Everything the parts report goes out as the pane's, for the window to synchronise.
  connect(m_heatmap, &HeatmapView::candidateHovered, this, &ExplanationPane::candidateHovered);
  connect(m_heatmap, &HeatmapView::candidateClicked, this, &ExplanationPane::candidateClicked);
  connect(m_heatmap, &HeatmapView::message, this, &ExplanationPane::message);
  // The colour bar spans the picture, not the whole row.
  connect(m_heatmap, &HeatmapView::imageRectChanged, this, [this](const QRectF& rect) {
    const QPoint top =
        m_colourBar->mapFrom(m_imageRow, m_heatmap->mapTo(m_imageRow, rect.topLeft().toPoint()));
    m_colourBar->setSpan(top.y(), top.y() + rect.height());
  });
  connect(m_tokens, &TokenView::candidateHovered, this, &ExplanationPane::candidateHovered);
  connect(m_tokens, &TokenView::candidateClicked, this, &ExplanationPane::candidateClicked);
  connect(m_tokens, &TokenView::message, this, &ExplanationPane::message);
  connect(m_plot, &DeltaPlot::candidateHovered, this, &ExplanationPane::candidateHovered);
  connect(m_plot, &DeltaPlot::candidateClicked, this, &ExplanationPane::candidateClicked);
  connect(m_plot, &DeltaPlot::message, this, &ExplanationPane::message);
}

void ExplanationPane::setTitle(const QString& title) {
  m_title->setText(title);
}

void ExplanationPane::setImage(std::shared_ptr<const RgbImage> image) {
  m_heatmap->setImage(std::move(image));
}

void ExplanationPane::setExplanation(std::shared_ptr<const Explanation> explanation,
                                     const QString& tokenText, const QString& id) {
  m_explanation = std::move(explanation);
  m_tokenText = tokenText;
  m_id = m_explanation ? id : QString();
  const Explanation* e = this->explanation();
  m_heatmap->setExplanation(e);
  m_plot->setExplanation(e);
  const QVector<TokenSegment> segments = e ? tokenSegments(tokenText, *e) : QVector<TokenSegment>();
  const bool anyToken = std::any_of(segments.begin(), segments.end(),
                                    [](const TokenSegment& s) { return s.candidate >= 0; });
  m_tokens->setSegments(anyToken ? segments : QVector<TokenSegment>());
  m_tokenRow->setVisible(anyToken || !m_showsImage);
  setBusy(false);
  updateScales();
}

void ExplanationPane::setViewOptions(const ViewOptions& options) {
  m_options = options;
  updateScales();
}

void ExplanationPane::setScales(const Scales& scales) {
  m_scales = scales;
  updateScales();
}

void ExplanationPane::updateScales() {
  m_heatmap->setViewOptions(m_options, m_scales.patches);
  m_colourBar->setScale(m_options.colormap, m_scales.patches);
  m_colourBar->setVisible(m_heatmap->hasHeatmap());
  m_tokens->setColourScale(m_options.colormap, m_scales.tokens);
  m_tokenBar->setScale(m_options.colormap, m_scales.tokens);
  m_tokenBar->setVisible(!m_tokens->isEmpty());
}

void ExplanationPane::setHoveredCandidate(int candidate) {
  m_heatmap->setHoveredCandidate(candidate);
  m_tokens->setHoveredCandidate(candidate);
  m_plot->setHoveredCandidate(candidate);
}

void ExplanationPane::setNeighbourhood(const Neighbourhood& neighbourhood) {
  m_heatmap->setNeighbourhood(neighbourhood);
  m_tokens->setNeighbourhood(neighbourhood);
  m_plot->setNeighbourhood(neighbourhood);
}

void ExplanationPane::setShowsImage(bool shows) {
  m_showsImage = shows;
  m_imageRow->setVisible(shows);
  m_tokenRow->setVisible(!m_tokens->isEmpty() || !shows);
  // Text-only models: the prompt is the picture, so its tokens are drawn larger, and the bar chart
  // takes the room the image would have had.
  QFont tokenFont = font();
  if (!shows) tokenFont.setPointSizeF(tokenFont.pointSizeF() * 1.35);
  m_tokens->setFont(tokenFont);
  auto* layout = static_cast<QVBoxLayout*>(this->layout());
  layout->setStretchFactor(m_plot, shows ? 1 : 3);
}

void ExplanationPane::setBusy(bool busy) {
  if (busy) {
    m_summary->setText(tr("computing…"));
  } else if (const Explanation* e = explanation()) {
    m_summary->setText(tr("baseline loss %1 · %2 forwards · %3 s")
                           .arg(e->baseline_loss, 0, 'g', 4)
                           .arg(e->timings.forwards)
                           .arg(e->timings.total_seconds, 0, 'f', 2));
  } else {
    m_summary->clear();
  }
}

}  // namespace atman::ui
