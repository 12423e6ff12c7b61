// AtMan Studio's main window: pick a model and an image, say what to explain, and see the
// single-token and correlated explanations side by side. The constructor reads as the table of
// contents. The window is the view: what is loaded, computed and cached is its ExplainSession's,
// and what to open at start is app/gui/startup.h's.
//
// Tests reach the window through the operations behind its menus (below), session(), the panes
// and panels, and findChild() by object name (the κ slider is "kappaSlider", the docks
// "inputDock" and "steeringDock").
#pragma once

#include <QMainWindow>
#include <QTimer>

#include <memory>
#include <optional>

#include "atman/explainer.h"
#include "atman/image.h"
#include "atman/model.h"
#include "explanation_cache.h"
#include "figure.h"
#include "jobs.h"
#include "settings.h"
#include "view_mode.h"
#include "view_options.h"

class QAction;
class QActionGroup;
class QCheckBox;
class QDockWidget;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QSlider;

namespace atman::ui {

class ExplainSession;
class ExplanationPane;
class InputPanel;
class SteeringPanel;

// How the window behaves; what it opens at start is app/gui/startup.h's business.
struct StudioOptions {
  QString settingsFile;      // empty: the user's settings
  bool screenshot = false;   // no dialogs, no prefetch, settings left as they are
  bool confirmClose = true;  // ask before discarding an unexported result
  bool prefetch = true;      // sweep every κ in the background after a correlated run
};

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(const StudioOptions& options = {}, QWidget* parent = nullptr);
  ~MainWindow() override;

  // The operations behind the menus, also used by the start-up sequence and the tests.
  void openModel(const QString& dirOrName);
  bool openImage(const QString& path);
  bool setImageBytes(const std::vector<uint8_t>& encoded, const QString& origin);
  void setViewMode(ViewMode mode);
  void setKappa(double kappa);  // snaps to the slider's 0.05 steps
  void setViewOptions(const ViewOptions& options);
  ViewOptions viewOptions() const { return m_viewOptions; }
  void setConfirmClose(bool confirm) { m_options.confirmClose = confirm; }

  // Export (main_window_export.cpp): the figure of the panes in `layout`, the data of a pane.
  Figure figure(ViewMode layout, const QString& caption = {}) const;
  bool exportFigureTo(const QString& path, ViewMode layout, int dpi, QString* error = nullptr);
  bool exportDataTo(const QString& path, Pane pane, QString* error = nullptr);
  bool exportSteeringTo(const QString& path, QString* error = nullptr);
  bool hasUnexportedResult() const { return m_unexported; }

  // The parts: what is loaded and computed, and the widgets that show it.
  ExplainSession* session() const { return m_session.get(); }
  ExplanationPane* pane(Pane pane) const;
  InputPanel* inputPanel() const { return m_input; }
  SteeringPanel* steeringPanel() const { return m_steering; }

 public slots:
  void explain();
  void cancel();
  void generate();
  void generateSteered();  // the steering panel's choices: original and steered answer
  void exportSteeringDialog();
  void openImageDialog();
  void openModelDialog();
  void pasteImage();
  void exportFigureDialog();
  void exportDataDialog();
  void copyFigure();
  void about();

 signals:
  void modelLoaded(const QString& name);
  void predictionReady();
  void steeringReady();     // the steering panel shows a new original/steered pair
  void explanationShown();  // a pane shows a new explanation (from a job or the cache)
  void jobStarted(atman::ui::JobId job);   // an explain job was posted (prefetches not counted)
  void jobFinished(atman::ui::JobId job);  // an explain job's result is shown
  void jobCancelled(atman::ui::JobId job);
  void errorShown(const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  // Construction (main_window_bars.cpp: actions, menus, tool bars, status bar).
  void createActions();
  void createMenus();
  void createToolBars();
  void createInputDock();
  void createSteeringDock();
  void createPanes();
  void createStatusBar();
  void connectSession();
  void readSettings();
  void writeSettings();

  // What the session reports.
  void onModelLoaded(const LoadedModel& loaded);
  void onPredicted(const Prediction& prediction);
  void onSteered(const Prediction& prediction);
  void onExplainStarted(JobId job, bool single, bool correlated);
  void onExplained(JobId job, const ExplainResult& result);
  // A job ended without a result: cancelled (`failure` null) or failed.
  void onJobEnded(JobKind kind, JobId job, const QString& failure);

  ExplainRequest currentRequest() const;  // from the input panel
  void requestPrediction();
  void setImage(RgbImage image, const QString& origin);
  void showResults();
  void applyNeighbourhood(const Neighbourhood& neighbourhood);
  void updatePaneVisibility();
  void updateScales();
  void updateKappaLabel();
  void updateRuntimeLabel();
  void updateActions();
  void setBusy(bool busy, const QString& what = {});
  void showError(const QString& title, const QString& message);
  QString defaultCaption(ViewMode layout) const;
  double kappa() const;

  StudioOptions m_options;
  Settings m_settings;
  std::unique_ptr<ExplainSession> m_session;

  ViewMode m_mode = ViewMode::SideBySide;
  ViewOptions m_viewOptions;
  bool m_sharedScale = false;  // the panes' ranges differ a lot: each its own scale by default
  double m_factor = 0.9;
  bool m_unexported = false;
  QTimer m_predictionTimer;  // debounces zero-shot runs while labels are typed

  // Widgets (owned by their Qt parents).
  InputPanel* m_input = nullptr;
  ExplanationPane* m_singlePane = nullptr;
  ExplanationPane* m_correlatedPane = nullptr;
  QComboBox* m_modeCombo = nullptr;
  QSlider* m_kappaSlider = nullptr;
  QLabel* m_kappaLabel = nullptr;
  QDoubleSpinBox* m_factorSpin = nullptr;
  QComboBox* m_colormapCombo = nullptr;
  QSlider* m_opacitySlider = nullptr;
  QCheckBox* m_smoothCheck = nullptr;
  QCheckBox* m_gridCheck = nullptr;
  QCheckBox* m_sharedCheck = nullptr;
  QProgressBar* m_progress = nullptr;
  QLabel* m_prefetchLabel = nullptr;
  QLabel* m_runtimeLabel = nullptr;

  QAction* m_openImageAction = nullptr;
  QAction* m_openModelAction = nullptr;
  QAction* m_exportFigureAction = nullptr;
  QAction* m_exportDataAction = nullptr;
  QAction* m_copyFigureAction = nullptr;
  QAction* m_pasteAction = nullptr;
  QAction* m_quitAction = nullptr;
  QAction* m_explainAction = nullptr;
  QAction* m_cancelAction = nullptr;
  QAction* m_generateAction = nullptr;
  QAction* m_kappaUpAction = nullptr;
  QAction* m_kappaDownAction = nullptr;
  QActionGroup* m_modeGroup = nullptr;
  QAction* m_modeActions[3] = {};
  QAction* m_aboutAction = nullptr;
  QAction* m_aboutQtAction = nullptr;
  QDockWidget* m_inputDock = nullptr;
  SteeringPanel* m_steering = nullptr;
  QDockWidget* m_steeringDock = nullptr;
  QAction* m_generateSteeredAction = nullptr;
};

}  // namespace atman::ui
