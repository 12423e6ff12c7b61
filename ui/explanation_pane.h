// One explanation on screen: title, heatmap over the image with its colour bar, the tokens, and the
// ΔL bar chart. The main window shows two of these side by side (single-token and correlated
// suppression) and keeps their hover, neighbourhood and colour scale in step.
#pragma once

#include <QLabel>
#include <QWidget>

#include <memory>
#include <optional>

#include "atman/explanation.h"
#include "view_options.h"

namespace atman::ui {

class ColourBar;
class DeltaPlot;
class HeatmapView;
class TokenView;

class ExplanationPane : public QWidget {
  Q_OBJECT

 public:
  explicit ExplanationPane(const QString& title, const QColor& accent, QWidget* parent = nullptr);

  void setTitle(const QString& title);
  QString title() const { return m_title->text(); }
  void setImage(std::shared_ptr<const RgbImage> image);
  // `tokenText` is the text the token spans count in: the prompt, or the CLIP target label.
  // `id` names the result (input, mode, κ) so that showing the same one again costs nothing.
  void setExplanation(std::shared_ptr<const Explanation> explanation, const QString& tokenText,
                      const QString& id = {});
  const QString& explanationId() const { return m_id; }
  const Explanation* explanation() const { return m_explanation.get(); }
  const QString& tokenText() const { return m_tokenText; }
  void setViewOptions(const ViewOptions& options);
  void setScales(const Scales& scales);
  const Scales& scales() const { return m_scales; }
  void setHoveredCandidate(int candidate);
  void setNeighbourhood(const Neighbourhood& neighbourhood);
  // Text-only models have no image: the heatmap row goes away and the tokens take its room.
  void setShowsImage(bool shows);
  // Busy: the summary says a result is being computed; not busy: it describes the one shown.
  void setBusy(bool busy);

  HeatmapView* heatmapView() const { return m_heatmap; }
  TokenView* tokenView() const { return m_tokens; }
  DeltaPlot* deltaPlot() const { return m_plot; }

 signals:
  void candidateHovered(int candidate);
  void candidateClicked(int candidate);
  void message(const QString& text);

 private:
  void updateScales();

  QLabel* m_title = nullptr;
  QLabel* m_summary = nullptr;
  QWidget* m_imageRow = nullptr;
  HeatmapView* m_heatmap = nullptr;
  ColourBar* m_colourBar = nullptr;
  TokenView* m_tokens = nullptr;
  ColourBar* m_tokenBar = nullptr;
  QWidget* m_tokenRow = nullptr;
  DeltaPlot* m_plot = nullptr;
  std::shared_ptr<const Explanation> m_explanation;  // shared with the session's cache
  QString m_tokenText;
  QString m_id;
  ViewOptions m_options;
  Scales m_scales;
  bool m_showsImage = true;
};

}  // namespace atman::ui
