// AtMan Studio's main window: pick a model and an image, say what to explain, and see the
// single-token and correlated explanations side by side. The constructor reads as the table of
// contents; the core runs on JobRunner's thread and every result comes back tagged with its job.
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

class ExplanationPane;
class InputPanel;
class JobRunner;
class SteeringPanel;

// What the command line (or a test) asks the window to do at start.
struct StudioOptions {
  QString model;  // folder, or a name under the model root
  QString image;
  QString prompt;
  QString target;
  std::optional<ViewMode> mode;
  std::optional<double> kappa;
  QString settingsFile;      // empty: the user's settings
  bool screenshot = false;   // no dialogs, no prefetch, settings left as they are
  bool confirmClose = true;  // ask before discarding an unexported result
  bool prefetch = true;      // sweep every κ in the background after a correlated run
  bool openLastModel =
      true;  // without --model: reopen the last model (else the bundled shapes-clip)
};

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(const StudioOptions& options = {}, QWidget* parent = nullptr);
  ~MainWindow() override;

  // The operations behind the menus, also used by the command line and the tests.
  void openModel(const QString& dirOrName);
  bool openImage(const QString& path);
  bool setImageBytes(const std::vector<uint8_t>& encoded, const QString& origin);
  void setTarget(const QString& target);
  void setPrompt(const QString& prompt);
  void setLabels(const QStringList& labels);
  void setViewMode(ViewMode mode);
  ViewMode viewMode() const { return m_mode; }
  void setKappa(double kappa);  // snaps to the slider's 0.05 steps
  double kappa() const;
  void setViewOptions(const ViewOptions& options);
  ViewOptions viewOptions() const { return m_viewOptions; }
  void setPrefetchEnabled(bool enabled);
  void setConfirmClose(bool confirm) { m_options.confirmClose = confirm; }

  Figure figure(ViewMode layout, const QString& caption = {}) const;
  QString defaultCaption(ViewMode layout) const;
  bool exportFigureTo(const QString& path, ViewMode layout, int dpi, QString* error = nullptr);
  bool exportDataTo(const QString& path, Pane pane, QString* error = nullptr);

  std::shared_ptr<const Model> model() const { return m_model; }
  const QString& imageOrigin() const { return m_imageOrigin; }  // a path, "clipboard", ...
  const Explanation* shownExplanation(Pane pane) const;
  ExplanationPane* pane(Pane pane) const;
  QSlider* kappaSlider() const { return m_kappaSlider; }
  InputPanel* inputPanel() const { return m_input; }
  SteeringPanel* steeringPanel() const { return m_steering; }
  QDockWidget* steeringDock() const { return m_steeringDock; }
  bool isSteering() const { return m_steerJob != 0; }
  bool exportSteeringTo(const QString& path, QString* error = nullptr);
  bool isExplaining() const { return m_explainJob != 0; }
  bool isPrefetching() const { return m_prefetchJob != 0; }
  bool hasUnexportedResult() const { return m_unexported; }
  int explainJobsStarted() const { return m_explainJobsStarted; }

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
  void jobStarted(atman::ui::JobId job);  // an explain job was posted (prefetches not counted)
  void jobFinished(atman::ui::JobId job);
  void jobCancelled(atman::ui::JobId job);
  void explainProgress(double fraction);  // of the running explain job, 0..1
  void prefetchStarted();
  void prefetchFinished();
  void errorShown(const QString& message);
  // The command-line start (model, image, explanation) is done, or failed with `message`.
  void startupFinished(bool ok, const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void createActions();
  void createMenus();
  void createToolBars();
  void createInputDock();
  void createSteeringDock();
  void createPanes();
  void createStatusBar();
  void connectJobs();
  void readSettings();
  void writeSettings();
  void startFromOptions();

  // Jobs and their results.
  void onModelLoaded(JobId job, const LoadedModel& loaded);
  void onPredicted(JobId job, const Prediction& prediction);
  void onExplained(JobId job, const ExplainResult& result);
  void onPrefetched(JobId job, const std::vector<Explanation>& sweep);
  void onNeighbours(JobId job, const NeighbourResult& result);
  void onFailed(JobId job, const QString& message);
  void onCancelled(JobId job);
  void onProgress(JobId job, double fraction);

  ExplainRequest currentRequest() const;                  // from the input panel
  ExplainRequest requestFor(SuppressionMode mode) const;  // the shown input, in that mode at κ
  // Shows what the cache holds for the shown input and starts a job for what the view mode
  // needs and the cache lacks.
  void showOrCompute();
  void showResults();
  void startExplainJob(const ExplainJob& job);
  void maybePrefetch();
  void requestPrediction();
  void setImage(RgbImage image, const QString& origin);
  void setNeighbourhoodCentre(int candidate);
  void applyNeighbourhood(const Neighbourhood& neighbourhood);
  void updatePaneVisibility();
  void updateScales();
  void updateKappaLabel();
  void updateRuntimeLabel();
  void updateActions();
  void setBusy(bool busy, const QString& what = {});
  void showError(const QString& title, const QString& message);
  void finishStartup(bool ok, const QString& message = {});
  QString tokenTextFor(const ExplainRequest& request) const;

  StudioOptions m_options;
  Settings m_settings;
  JobRunner* m_runner = nullptr;

  // What is loaded.
  std::shared_ptr<const Model> m_model;
  QString m_modelDir;
  QString m_defaultPrompt;
  quint64 m_modelSerial = 0;
  std::shared_ptr<const RgbImage> m_image;
  QString m_imageOrigin;
  quint64 m_imageSerial = 0;

  // What is shown: the request behind the panes (the κ slider and neighbourhoods refer to it,
  // not to whatever has been typed since) and the explanations computed for it.
  std::optional<ExplainRequest> m_request;
  ExplanationCache m_cache;
  Neighbourhood m_neighbourhood;
  ViewMode m_mode = ViewMode::SideBySide;
  ViewOptions m_viewOptions;
  bool m_sharedScale = false;  // the panes' ranges differ a lot: each its own scale by default
  double m_factor = 0.9;

  // Jobs in flight (0: none). Results of any other id are stale and dropped.
  JobId m_modelJob = 0, m_predictJob = 0, m_explainJob = 0, m_prefetchJob = 0, m_neighbourJob = 0;
  JobId m_steerJob = 0;
  QString m_prefetchInput;
  bool m_prefetchEnabled = true;
  bool m_prefetchHeld = false;  // after Cancel: no background work until the next Explain
  int m_explainJobsStarted = 0;
  bool m_unexported = false;
  bool m_startupPending = false;
  QTimer m_kappaTimer;       // debounces jobs for uncached κ while the slider moves
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
