// The single-token and the correlated explanation side by side: two ExplanationPanes that move
// together (hover, neighbourhood, colour scale) and show what the view mode asks for.
#pragma once

#include <QSplitter>

#include <memory>

#include "atman/explanation.h"
#include "view_mode.h"
#include "view_options.h"

namespace atman::ui {

class ExplainSession;
class ExplanationPane;

class ExplanationPanes : public QSplitter {
  Q_OBJECT

 public:
  explicit ExplanationPanes(QWidget* parent = nullptr);

  ExplanationPane* pane(Pane pane) const;
  const Explanation* explanation(Pane pane) const;
  bool hasResult() const { return explanation(Pane::Single) || explanation(Pane::Correlated); }

  // Which panes are visible. The scales follow with the next results shown.
  void setViewMode(ViewMode mode);
  ViewMode viewMode() const { return m_mode; }
  // `sharedScale`: one colour scale across the visible panes, so equal colours mean equal ΔL.
  void setViewOptions(const ViewOptions& options, bool sharedScale);
  const ViewOptions& viewOptions() const { return m_view; }
  bool sharedScale() const { return m_sharedScale; }

  // The session's results for its shown input (nothing redrawn for a result already shown).
  void showResults(const ExplainSession& session);
  // A new input: the panes whose result is about other tokens are emptied.
  void clearStale(const QString& tokenText);
  void clear();
  void setImage(std::shared_ptr<const RgbImage> image);  // and empties both
  void setShowsImage(bool shows);
  void setBusy(bool busy);
  void setNeighbourhood(const Neighbourhood& neighbourhood);

 signals:
  void candidateClicked(int candidate);
  void message(const QString& text);

 private:
  void updateScales();

  ExplanationPane* m_single = nullptr;
  ExplanationPane* m_correlated = nullptr;
  ViewMode m_mode = ViewMode::SideBySide;
  ViewOptions m_view;
  bool m_sharedScale = false;  // the panes' ranges differ a lot: each its own scale by default
};

}  // namespace atman::ui
