// Export: the figure of the panes (PNG, SVG, PDF, clipboard), the data behind a pane (JSON, CSV)
// and the steering comparison, through the menus' dialogs or directly (exportFigureTo() and
// friends, used by the tests). It remembers whether the latest explanation has been saved, which
// is what the window asks before closing.
#pragma once

#include <QObject>
#include <QString>

#include "figure.h"
#include "view_mode.h"

class QWidget;

namespace atman::ui {

class ExplanationPanes;
class SteeringPanel;
class WindowSettings;

class Exporter : public QObject {
  Q_OBJECT

 public:
  // The dialogs open over `dialogParent`, which also owns the exporter.
  Exporter(const ExplanationPanes& panes, const SteeringPanel& steering, WindowSettings& settings,
           QWidget* dialogParent);

  // The figure of the panes `layout` shows; a null caption: one that says what was explained.
  Figure figure(ViewMode layout, const QString& caption = {}) const;
  bool exportFigureTo(const QString& path, ViewMode layout, int dpi, QString* error = nullptr);
  bool exportDataTo(const QString& path, Pane pane, QString* error = nullptr);
  bool exportSteeringTo(const QString& path, QString* error = nullptr) const;

  // A new explanation is shown: it is unsaved until one of the exports above succeeds.
  void setUnexported() { m_unexported = true; }
  bool hasUnexportedResult() const { return m_unexported; }
  // Before closing: asks whether to save an unexported result. False: stay open (Cancel, or a
  // Save whose export was cancelled or failed).
  bool confirmDiscard();

 public slots:
  void exportFigureDialog();
  void exportDataDialog();
  void exportSteeringDialog();
  void copyFigure();

 signals:
  void message(const QString& text, int timeoutMs);  // for the status bar
  void failed(const QString& title, const QString& message);

 private:
  QString defaultCaption(ViewMode layout) const;

  const ExplanationPanes& m_panes;
  const SteeringPanel& m_steering;
  WindowSettings& m_settings;
  QWidget* m_dialogParent;
  bool m_unexported = false;
};

}  // namespace atman::ui
