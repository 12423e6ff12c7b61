#include "explanation_panes.h"

#include "explain_session.h"
#include "explanation_pane.h"

namespace atman::ui {
namespace {

const QColor kSingleAccent(214, 96, 77);
const QColor kCorrelatedAccent(72, 120, 200);

}  // namespace

ExplanationPanes::ExplanationPanes(QWidget* parent) : QSplitter(Qt::Horizontal, parent) {
  m_single = new ExplanationPane(tr("Single-token suppression"), kSingleAccent, this);
  m_correlated = new ExplanationPane(tr("Correlated suppression"), kCorrelatedAccent, this);
  addWidget(m_single);
  addWidget(m_correlated);
  setChildrenCollapsible(false);

  // What is hovered in one pane is shown in both.
  for (ExplanationPane* source : {m_single, m_correlated}) {
    connect(source, &ExplanationPane::candidateHovered, this, [this](int candidate) {
      m_single->setHoveredCandidate(candidate);
      m_correlated->setHoveredCandidate(candidate);
    });
    connect(source, &ExplanationPane::candidateClicked, this, &ExplanationPanes::candidateClicked);
    connect(source, &ExplanationPane::message, this, &ExplanationPanes::message);
  }
}

ExplanationPane* ExplanationPanes::pane(Pane p) const {
  return p == Pane::Single ? m_single : m_correlated;
}

const Explanation* ExplanationPanes::explanation(Pane p) const {
  return pane(p)->explanation();
}

void ExplanationPanes::setViewMode(ViewMode mode) {
  m_mode = mode;
  m_single->setVisible(showsPane(mode, Pane::Single));
  m_correlated->setVisible(showsPane(mode, Pane::Correlated));
}

void ExplanationPanes::setViewOptions(const ViewOptions& options, bool sharedScale) {
  m_view = options;
  m_sharedScale = sharedScale;
  for (ExplanationPane* p : {m_single, m_correlated}) p->setViewOptions(options);
  updateScales();
}

void ExplanationPanes::showResults(const ExplainSession& session) {
  const QString tokenText = session.tokenText();
  for (Pane p : {Pane::Single, Pane::Correlated}) {
    const QString id = session.resultId(p);
    if (SharedExplanation e = session.result(p); e && pane(p)->explanationId() != id)
      pane(p)->setExplanation(std::move(e), tokenText, id);
  }
  if (const Explanation* shown = m_correlated->explanation();
      shown && shown->mode == SuppressionMode::Correlated)
    m_correlated->setTitle(tr("Correlated suppression, κ = %1").arg(kappaText(shown->kappa)));
  else
    m_correlated->setTitle(tr("Correlated suppression"));
  updateScales();
  setNeighbourhood(session.neighbourhood());
}

void ExplanationPanes::clearStale(const QString& tokenText) {
  for (ExplanationPane* p : {m_single, m_correlated})
    if (!p->explanation() || p->tokenText() != tokenText) p->setExplanation(nullptr, tokenText);
}

void ExplanationPanes::clear() {
  for (ExplanationPane* p : {m_single, m_correlated}) p->setExplanation(nullptr, {});
}

void ExplanationPanes::setImage(std::shared_ptr<const RgbImage> image) {
  for (ExplanationPane* p : {m_single, m_correlated}) {
    p->setImage(image);
    p->setExplanation(nullptr, {});
  }
}

void ExplanationPanes::setShowsImage(bool shows) {
  for (ExplanationPane* p : {m_single, m_correlated}) p->setShowsImage(shows);
}

void ExplanationPanes::setBusy(bool busy) {
  for (ExplanationPane* p : {m_single, m_correlated}) p->setBusy(busy);
}

void ExplanationPanes::setNeighbourhood(const Neighbourhood& neighbourhood) {
  for (ExplanationPane* p : {m_single, m_correlated}) p->setNeighbourhood(neighbourhood);
}

void ExplanationPanes::updateScales() {
  const Explanation* single = m_single->explanation();
  const Explanation* correlated = m_correlated->explanation();
  const Scales s = single ? scalesOf(*single) : Scales{};
  const Scales c = correlated ? scalesOf(*correlated) : Scales{};
  const bool both = showsPane(m_mode, Pane::Single) && showsPane(m_mode, Pane::Correlated);
  const Scales shared = sharedScales(s, c);
  m_single->setScales(m_sharedScale && both ? shared : s);
  m_correlated->setScales(m_sharedScale && both ? shared : c);
}

}  // namespace atman::ui
