// AtMan Studio's main window: pick a model and an image, say what to explain, and see the
// single-token and correlated explanations side by side. The constructor reads as the table of
// contents. The window is the view and the place where its parts meet:
//   - ExplainSession (session()): what is loaded, computed and cached, and the jobs in flight;
//     tests observe jobs through its signals, the window reports only what is its own (errors);
//   - InputPanel and SteeringPanel, each in a PanelDock with its controller (InputController,
//     SteeringController);
//     ExplanationPanes, the central widget;
//   - Exporter (exporter()): figures and data, and whether the latest result has been saved;
//   - WindowSettings: the persisted choices (frozen in screenshot mode);
//   - main_window_bars.cpp: the actions, menus and the Explain tool bar; ViewToolBar and
//     StudioStatusBar are widgets of their own.
// What to open at start is app/gui/startup.h's.
//
// Tests reach the window through the operations behind its menus (below), its parts, and
// findChild() by object name (the κ slider is "kappaSlider", the docks "inputDock" and
// "steeringDock").
#pragma once

#include <QMainWindow>

#include <memory>

#include "atman/image.h"
#include "jobs.h"
#include "view_mode.h"
#include "view_options.h"
#include "window_settings.h"

class QAction;
class QActionGroup;
class QComboBox;
class QDockWidget;
class QDoubleSpinBox;
class QLabel;
class QMenu;
class QMimeData;
class QSlider;

namespace atman::ui {

class ConnectDialog;
class ExplainSession;
class ExplanationPane;
class ExplanationPanes;
class Exporter;
class InputController;
class InputPanel;
enum class MimePreference;
class SteeringController;
class SteeringPanel;
class StudioStatusBar;
class TokenStore;
class ViewToolBar;

// How the window behaves; what it opens at start is app/gui/startup.h's business.
struct StudioOptions {
  QString settingsFile;      // empty: the user's settings
  bool screenshot = false;   // no dialogs, no prefetch, settings left as they are
  bool confirmClose = true;  // ask before discarding an unexported result
  bool prefetch = true;      // sweep every κ in the background after a correlated run
  // The keychain entry server tokens are kept under (TokenStore); tests use their own.
  QString keychainService = QStringLiteral("AtMan Studio");
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
  ViewOptions viewOptions() const;
  void setConfirmClose(bool confirm) { m_options.confirmClose = confirm; }
  // Where the jobs run (docs/remote.md): File → Connect to Server… opens the dialog (returned, for
  // tests); connectServer() is what its Connect button asks for; reconnect() connects again to
  // the last server with the token kept; runHere() goes back to this computer. The model loaded
  // before is loaded again at the new place when it offers the same name.
  ConnectDialog* openConnectDialog();
  void connectServer(const ServerChoice& server, bool rememberToken);
  void reconnect();
  void runHere();

  // The parts: what is loaded and computed, the widgets that show it, and its export.
  ExplainSession* session() const { return m_session.get(); }
  ExplanationPane* pane(Pane pane) const;
  StudioStatusBar* studioStatusBar() const { return m_status; }
  InputPanel* inputPanel() const { return m_input; }
  SteeringPanel* steeringPanel() const { return m_steering; }
  Exporter* exporter() const { return m_exporter; }

 public slots:
  void explain();
  void cancel();  // the running jobs; with none, the neighbourhood shown
  void generate();
  void generateSteered();  // the steering panel's choices: original and steered answer
  void pasteImage();

 signals:
  // An error was reported: a dialog (none in screenshot mode) and the status bar.
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
  void createDocks();
  void createPanes();
  void createStatusBar();
  void connectSession();
  void readSettings();

  // Dialogs.
  void openImageDialog();
  void openModelDialog();
  void about();

  // What the session reports.
  void onModelLoaded(const LoadedModel& loaded);
  void onBackendChanged(const BackendInfo& info);
  void onExplainStarted(JobId job, bool single, bool correlated);
  void onExplained(JobId job, const ExplainResult& result);
  // A job ended without a result: cancelled (`failure` null) or failed.
  void onJobEnded(JobKind kind, JobId job, const QString& failure);

  // Opens what a drop or the clipboard offers; false when it offers no image.
  bool openMimeImage(const QMimeData* mime, MimePreference prefer, const QString& origin);
  void setImage(RgbImage image, const QString& origin);
  void showResults();
  void applyNeighbourhood(const Neighbourhood& neighbourhood);
  void updateKappaLabel();
  void updateActions();
  void showError(const QString& title, const QString& message);
  double kappa() const;

  StudioOptions m_options;
  WindowSettings m_settings;
  std::unique_ptr<TokenStore> m_tokens;
  std::unique_ptr<ExplainSession> m_session;
  ServerChoice m_server;  // the last server asked for (its token in memory only)
  QString m_modelName;    // of the model loaded, to load it again at a new place
  ConnectDialog* m_connectDialog = nullptr;

  // Parts and widgets (owned by their Qt parents).
  InputPanel* m_input = nullptr;
  SteeringPanel* m_steering = nullptr;
  ExplanationPanes* m_panes = nullptr;
  Exporter* m_exporter = nullptr;
  QDockWidget* m_inputDock = nullptr;
  QDockWidget* m_steeringDock = nullptr;
  QComboBox* m_modeCombo = nullptr;
  QSlider* m_kappaSlider = nullptr;
  QLabel* m_kappaLabel = nullptr;
  QDoubleSpinBox* m_factorSpin = nullptr;
  ViewToolBar* m_viewBar = nullptr;
  StudioStatusBar* m_status = nullptr;
  InputController* m_inputController = nullptr;
  SteeringController* m_steeringController = nullptr;
  QMenu* m_viewMenu = nullptr;

  QAction* m_openImageAction = nullptr;
  QAction* m_openModelAction = nullptr;
  QAction* m_connectAction = nullptr;
  QAction* m_reconnectAction = nullptr;
  QAction* m_runHereAction = nullptr;
  QAction* m_exportFigureAction = nullptr;
  QAction* m_exportDataAction = nullptr;
  QAction* m_copyFigureAction = nullptr;
  QAction* m_pasteAction = nullptr;
  QAction* m_quitAction = nullptr;
  QAction* m_explainAction = nullptr;
  QAction* m_cancelAction = nullptr;
  QAction* m_generateAction = nullptr;
  QAction* m_generateSteeredAction = nullptr;
  QAction* m_kappaUpAction = nullptr;
  QAction* m_kappaDownAction = nullptr;
  QActionGroup* m_modeGroup = nullptr;
  QAction* m_modeActions[3] = {};
  QAction* m_aboutAction = nullptr;
  QAction* m_aboutQtAction = nullptr;
};

}  // namespace atman::ui
