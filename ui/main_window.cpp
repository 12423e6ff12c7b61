#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScrollArea>
#include <QSlider>
#include <QSplitter>
#include <QStatusBar>
#include <QToolBar>

#include <algorithm>
#include <cmath>

#include "atman/conventions.h"
#include "atman/error.h"
#include "atman/names.h"
#include "atman/runtime.h"
#include "colormaps.h"
#include "conversions.h"
#include "explanation_pane.h"
#include "export.h"
#include "export_dialog.h"
#include "heatmap_view.h"
#include "input_panel.h"
#include "job_runner.h"
#include "model_picker.h"
#include "steering_panel.h"
#include "token_layout.h"

// Resources live in the static atman_ui library; their initialiser must be referenced explicitly
// and from the global namespace.
static void initStudioResources() {
  Q_INIT_RESOURCE(app);
}

namespace atman::ui {
namespace {

const QColor kSingleAccent(214, 96, 77);
const QColor kCorrelatedAccent(72, 120, 200);

QString kappaText(double kappa) {
  return QString::number(kappa, 'f', 2);
}

// The desktop theme's icon where there is one, else the bundled one (resources/icons).
QIcon studioIcon(const char* themeName, const char* bundled) {
  return QIcon::fromTheme(QLatin1String(themeName),
                          QIcon(QStringLiteral(":/icons/%1.svg").arg(QLatin1String(bundled))));
}

bool isImageFile(const QString& path) {
  static const QStringList suffixes = {"png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"};
  return suffixes.contains(QFileInfo(path).suffix().toLower());
}

}  // namespace

MainWindow::MainWindow(const StudioOptions& options, QWidget* parent)
    : QMainWindow(parent),
      m_options(options),
      m_settings(options.settingsFile),
      m_runner(new JobRunner(this)),
      m_prefetchEnabled(options.prefetch && !options.screenshot) {
  initStudioResources();
  setWindowTitle(tr("AtMan Studio"));
  setWindowIcon(QIcon(QStringLiteral(":/icons/atman-studio.svg")));
  setAcceptDrops(true);
  m_kappaTimer.setSingleShot(true);
  m_kappaTimer.setInterval(150);
  m_predictionTimer.setSingleShot(true);
  m_predictionTimer.setInterval(400);

  createActions();
  createMenus();
  createToolBars();
  createInputDock();
  createSteeringDock();
  createPanes();
  createStatusBar();
  connectJobs();
  readSettings();
  updateActions();
  startFromOptions();
}

MainWindow::~MainWindow() {
  // Stop the worker before the widgets its results would go to disappear.
  m_runner->shutdown();
}

// ---------------------------------------------------------------------------------------------
// Construction

void MainWindow::createActions() {
  m_openImageAction =
      new QAction(studioIcon("document-open", "open-image"), tr("&Open Image…"), this);
  m_openImageAction->setShortcut(QKeySequence::Open);
  m_openImageAction->setStatusTip(tr("Open the image to explain"));
  connect(m_openImageAction, &QAction::triggered, this, &MainWindow::openImageDialog);

  m_openModelAction = new QAction(tr("Open &Model Folder…"), this);
  m_openModelAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  m_openModelAction->setStatusTip(
      tr("Open a Hugging Face model folder (CLIP, GPT-2, Llama-style, LLaVA)"));
  connect(m_openModelAction, &QAction::triggered, this, &MainWindow::openModelDialog);

  m_exportFigureAction =
      new QAction(studioIcon("document-save", "export"), tr("&Export Figure…"), this);
  m_exportFigureAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  m_exportFigureAction->setStatusTip(tr("Save the explanation as a PNG, SVG or PDF figure"));
  connect(m_exportFigureAction, &QAction::triggered, this, &MainWindow::exportFigureDialog);

  m_exportDataAction = new QAction(tr("Export &Data…"), this);
  m_exportDataAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
  m_exportDataAction->setStatusTip(tr("Save the explanation's values as CSV or JSON"));
  connect(m_exportDataAction, &QAction::triggered, this, &MainWindow::exportDataDialog);

  m_copyFigureAction = new QAction(tr("&Copy Figure"), this);
  m_copyFigureAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
  connect(m_copyFigureAction, &QAction::triggered, this, &MainWindow::copyFigure);

  m_pasteAction = new QAction(tr("&Paste Image"), this);
  m_pasteAction->setShortcut(QKeySequence::Paste);
  m_pasteAction->setStatusTip(tr("Explain the image on the clipboard"));
  connect(m_pasteAction, &QAction::triggered, this, &MainWindow::pasteImage);

  m_quitAction = new QAction(tr("&Quit"), this);
  m_quitAction->setShortcut(QKeySequence::Quit);
  m_quitAction->setMenuRole(QAction::QuitRole);
  connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

  m_explainAction =
      new QAction(studioIcon("media-playback-start", "explain"), tr("E&xplain"), this);
  m_explainAction->setShortcuts(
      {QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
  m_explainAction->setStatusTip(tr("Explain the target with AtMan (Ctrl+Enter)"));
  connect(m_explainAction, &QAction::triggered, this, &MainWindow::explain);

  m_cancelAction = new QAction(studioIcon("process-stop", "cancel"), tr("&Cancel"), this);
  m_cancelAction->setShortcut(QKeySequence(Qt::Key_Escape));
  m_cancelAction->setStatusTip(
      tr("Stop the running explanation, or clear the neighbourhood shown"));
  connect(m_cancelAction, &QAction::triggered, this, &MainWindow::cancel);

  m_generateAction = new QAction(tr("&Generate Continuation"), this);
  m_generateAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_G));
  connect(m_generateAction, &QAction::triggered, this, &MainWindow::generate);

  m_generateSteeredAction = new QAction(tr("Generate &Steered"), this);
  m_generateSteeredAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_G));
  m_generateSteeredAction->setStatusTip(
      tr("Generate with the steering panel's factors and compare the answers"));
  connect(m_generateSteeredAction, &QAction::triggered, this, &MainWindow::generateSteered);

  m_kappaUpAction = new QAction(tr("κ &Up"), this);
  m_kappaUpAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Up));
  connect(m_kappaUpAction, &QAction::triggered, this, [this] { setKappa(kappa() + 0.05); });
  m_kappaDownAction = new QAction(tr("κ &Down"), this);
  m_kappaDownAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Down));
  connect(m_kappaDownAction, &QAction::triggered, this, [this] { setKappa(kappa() - 0.05); });

  m_modeGroup = new QActionGroup(this);
  const QString modeNames[3] = {tr("&Single-Token Suppression"), tr("C&orrelated Suppression"),
                                tr("Side &by Side")};
  for (int i = 0; i < 3; ++i) {
    m_modeActions[i] = new QAction(modeNames[i], m_modeGroup);
    m_modeActions[i]->setCheckable(true);
    m_modeActions[i]->setShortcut(QKeySequence(Qt::CTRL | (Qt::Key_1 + i)));
    connect(m_modeActions[i], &QAction::triggered, this,
            [this, i] { setViewMode(static_cast<ViewMode>(i)); });
  }

  m_aboutAction = new QAction(tr("&About AtMan Studio"), this);
  m_aboutAction->setMenuRole(QAction::AboutRole);
  connect(m_aboutAction, &QAction::triggered, this, &MainWindow::about);
  m_aboutQtAction = new QAction(tr("About &Qt"), this);
  m_aboutQtAction->setMenuRole(QAction::AboutQtRole);
  connect(m_aboutQtAction, &QAction::triggered, qApp, &QApplication::aboutQt);
}

void MainWindow::createMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(m_openImageAction);
  file->addAction(m_openModelAction);
  file->addSeparator();
  file->addAction(m_exportFigureAction);
  file->addAction(m_exportDataAction);
  file->addSeparator();
  file->addAction(m_quitAction);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  edit->addAction(m_pasteAction);
  edit->addAction(m_copyFigureAction);

  QMenu* explainMenu = menuBar()->addMenu(tr("E&xplain"));
  explainMenu->addAction(m_explainAction);
  explainMenu->addAction(m_cancelAction);
  explainMenu->addAction(m_generateAction);
  explainMenu->addAction(m_generateSteeredAction);
  explainMenu->addSeparator();
  for (QAction* a : m_modeActions) explainMenu->addAction(a);
  explainMenu->addSeparator();
  explainMenu->addAction(m_kappaUpAction);
  explainMenu->addAction(m_kappaDownAction);

  menuBar()->addMenu(tr("&View"));  // filled in createInputDock() with the dock's toggle

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(m_aboutAction);
  help->addAction(m_aboutQtAction);
}

void MainWindow::createToolBars() {
  QToolBar* explainBar = addToolBar(tr("Explain"));
  explainBar->setObjectName(QStringLiteral("explainToolBar"));
  explainBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  explainBar->addAction(m_openImageAction);
  explainBar->addAction(m_explainAction);
  explainBar->addAction(m_cancelAction);
  explainBar->addSeparator();

  m_modeCombo = new QComboBox(explainBar);
  m_modeCombo->addItem(tr("Single-token"), int(ViewMode::Single));
  m_modeCombo->addItem(tr("Correlated"), int(ViewMode::Correlated));
  m_modeCombo->addItem(tr("Side by side"), int(ViewMode::SideBySide));
  m_modeCombo->setToolTip(
      tr("Suppress each token alone, together with its correlated neighbours, or show both"));
  connect(m_modeCombo, &QComboBox::activated, this,
          [this] { setViewMode(static_cast<ViewMode>(m_modeCombo->currentData().toInt())); });
  explainBar->addWidget(new QLabel(tr(" Mode: "), explainBar));
  explainBar->addWidget(m_modeCombo);
  explainBar->addSeparator();

  m_kappaSlider = new QSlider(Qt::Horizontal, explainBar);
  m_kappaSlider->setRange(0, kKappaSteps);
  m_kappaSlider->setPageStep(2);
  m_kappaSlider->setTickPosition(QSlider::TicksBelow);
  m_kappaSlider->setTickInterval(2);
  m_kappaSlider->setFixedWidth(170);
  m_kappaSlider->setToolTip(
      tr("κ: neighbours with cosine similarity ≥ κ are suppressed together "
         "(values already computed show at once)"));
  m_kappaLabel = new QLabel(explainBar);
  m_kappaLabel->setMinimumWidth(
      m_kappaLabel->fontMetrics().horizontalAdvance(QStringLiteral("κ = 0.00 ")));
  connect(m_kappaSlider, &QSlider::valueChanged, this, [this] {
    updateKappaLabel();
    if (!m_options.screenshot) m_settings.setKappa(kappa());
    // The neighbourhood shown belongs to the old κ: recompute it at the new one.
    if (m_neighbourhood.centre >= 0) setNeighbourhoodCentre(m_neighbourhood.centre);
    if (m_cache.input().isEmpty() || !showsPane(m_mode, Pane::Correlated)) return;
    if (m_cache.correlated(m_kappaSlider->value())) {
      m_kappaTimer.stop();
      showResults();
      emit explanationShown();
    } else {
      m_correlatedPane->setBusy(true);
      m_kappaTimer.start();
    }
  });
  connect(&m_kappaTimer, &QTimer::timeout, this, &MainWindow::showOrCompute);
  explainBar->addWidget(new QLabel(tr(" κ "), explainBar));
  explainBar->addWidget(m_kappaSlider);
  explainBar->addWidget(m_kappaLabel);

  m_factorSpin = new QDoubleSpinBox(explainBar);
  m_factorSpin->setRange(0.0, 1.0);
  m_factorSpin->setSingleStep(0.05);
  m_factorSpin->setDecimals(2);
  m_factorSpin->setToolTip(
      tr("f: a suppressed token keeps 1 − f of its attention (applies to the next Explain)"));
  connect(m_factorSpin, &QDoubleSpinBox::valueChanged, this, [this](double f) {
    m_factor = f;
    if (!m_options.screenshot) m_settings.setFactor(f);
  });
  explainBar->addWidget(new QLabel(tr("  f "), explainBar));
  explainBar->addWidget(m_factorSpin);

  addToolBarBreak();
  QToolBar* viewBar = addToolBar(tr("View"));
  viewBar->setObjectName(QStringLiteral("viewToolBar"));
  m_colormapCombo = new QComboBox(viewBar);
  m_colormapCombo->addItems(colormapNames());
  m_opacitySlider = new QSlider(Qt::Horizontal, viewBar);
  m_opacitySlider->setRange(0, 100);
  m_opacitySlider->setFixedWidth(120);
  m_opacitySlider->setToolTip(tr("Heatmap opacity over the image"));
  m_smoothCheck = new QCheckBox(tr("Smooth"), viewBar);
  m_smoothCheck->setToolTip(tr("Bicubic heatmap; off: one flat colour per patch"));
  m_gridCheck = new QCheckBox(tr("Patch grid"), viewBar);
  m_sharedCheck = new QCheckBox(tr("Shared colour scale"), viewBar);
  m_sharedCheck->setToolTip(
      tr("One colour scale for both panes, so their colours compare directly"));
  viewBar->addWidget(new QLabel(tr("Colormap: "), viewBar));
  viewBar->addWidget(m_colormapCombo);
  viewBar->addWidget(new QLabel(tr("  Opacity: "), viewBar));
  viewBar->addWidget(m_opacitySlider);
  viewBar->addWidget(m_smoothCheck);
  viewBar->addWidget(m_gridCheck);
  viewBar->addWidget(m_sharedCheck);
  viewBar->addSeparator();
  viewBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  viewBar->addAction(m_exportFigureAction);
  viewBar->addAction(m_exportDataAction);

  auto viewChanged = [this] {
    ViewOptions options;
    options.colormap = colormapFromName(m_colormapCombo->currentText());
    options.opacity = m_opacitySlider->value() / 100.0;
    options.smooth = m_smoothCheck->isChecked();
    options.showGrid = m_gridCheck->isChecked();
    m_sharedScale = m_sharedCheck->isChecked();
    setViewOptions(options);
  };
  connect(m_colormapCombo, &QComboBox::currentTextChanged, this, viewChanged);
  connect(m_opacitySlider, &QSlider::valueChanged, this, viewChanged);
  connect(m_smoothCheck, &QCheckBox::toggled, this, viewChanged);
  connect(m_gridCheck, &QCheckBox::toggled, this, viewChanged);
  connect(m_sharedCheck, &QCheckBox::toggled, this, viewChanged);
}

void MainWindow::createInputDock() {
  m_input = new InputPanel(this);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(m_input);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  m_inputDock = new QDockWidget(tr("Input"), this);
  m_inputDock->setObjectName(QStringLiteral("inputDock"));
  m_inputDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                           QDockWidget::DockWidgetClosable);
  m_inputDock->setWidget(scroll);
  m_inputDock->setMinimumWidth(300);
  addDockWidget(Qt::LeftDockWidgetArea, m_inputDock);
  for (QMenu* menu : menuBar()->findChildren<QMenu*>())
    if (menu->title() == tr("&View")) menu->addAction(m_inputDock->toggleViewAction());

  connect(m_input->modelPicker(), &ModelPicker::modelChosen, this, &MainWindow::openModel);
  connect(m_input->deviceCombo(), &QComboBox::activated, this, [this] {
    if (!m_options.screenshot) m_settings.setDevice(m_input->device());
    if (!m_modelDir.isEmpty()) openModel(m_modelDir);  // the model moves by loading it again
  });
  connect(m_input->dtypeCombo(), &QComboBox::activated, this, [this] {
    if (!m_options.screenshot) m_settings.setDtype(m_input->dtype());
    if (!m_modelDir.isEmpty()) openModel(m_modelDir);  // converted by loading it again
  });
  connect(m_input, &InputPanel::openImageRequested, this, &MainWindow::openImageDialog);
  connect(m_input, &InputPanel::labelsEdited, this, [this] { m_predictionTimer.start(); });
  connect(&m_predictionTimer, &QTimer::timeout, this, &MainWindow::requestPrediction);
  connect(m_input, &InputPanel::generateRequested, this, &MainWindow::generate);
  connect(m_input, &InputPanel::explainRequested, this, &MainWindow::explain);
}

void MainWindow::createSteeringDock() {
  m_steering = new SteeringPanel(this);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(m_steering);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  m_steeringDock = new QDockWidget(tr("Steering"), this);
  m_steeringDock->setObjectName(QStringLiteral("steeringDock"));
  m_steeringDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                              QDockWidget::DockWidgetClosable);
  m_steeringDock->setWidget(scroll);
  m_steeringDock->setMinimumWidth(340);
  addDockWidget(Qt::RightDockWidgetArea, m_steeringDock);
  m_steeringDock->hide();  // shown when a language model loads: CLIP has nothing to steer
  for (QMenu* menu : menuBar()->findChildren<QMenu*>())
    if (menu->title() == tr("&View")) menu->addAction(m_steeringDock->toggleViewAction());

  connect(m_input, &InputPanel::promptEdited, this, [this] {
    // A steered answer in flight is about the old prompt (and its positions).
    if (m_steerJob) {
      m_runner->cancel(JobKind::Steer);
      m_steerJob = 0;
      m_steering->setBusy(false);
    }
    m_steering->setPrompt(m_input->prompt());
  });
  connect(m_steering, &SteeringPanel::generateRequested, this, &MainWindow::generateSteered);
  connect(m_steering, &SteeringPanel::exportRequested, this, &MainWindow::exportSteeringDialog);
  connect(m_steering, &SteeringPanel::message, this, [this](const QString& text) {
    if (text.isEmpty())
      statusBar()->clearMessage();
    else
      statusBar()->showMessage(text, 6000);
  });
}

void MainWindow::createPanes() {
  m_singlePane = new ExplanationPane(tr("Single-token suppression"), kSingleAccent, this);
  m_correlatedPane = new ExplanationPane(tr("Correlated suppression"), kCorrelatedAccent, this);
  auto* splitter = new QSplitter(Qt::Horizontal, this);
  splitter->addWidget(m_singlePane);
  splitter->addWidget(m_correlatedPane);
  splitter->setChildrenCollapsible(false);
  setCentralWidget(splitter);

  // The panes move together: what is hovered or selected in one is shown in both.
  for (ExplanationPane* source : {m_singlePane, m_correlatedPane}) {
    connect(source, &ExplanationPane::candidateHovered, this, [this](int candidate) {
      m_singlePane->setHoveredCandidate(candidate);
      m_correlatedPane->setHoveredCandidate(candidate);
    });
    connect(source, &ExplanationPane::candidateClicked, this, [this](int candidate) {
      setNeighbourhoodCentre(candidate == m_neighbourhood.centre ? -1 : candidate);
    });
    connect(source, &ExplanationPane::message, this, [this](const QString& text) {
      if (text.isEmpty())
        statusBar()->clearMessage();
      else
        statusBar()->showMessage(QString(text).replace(QLatin1Char('\n'), QStringLiteral(" · ")));
    });
  }
}

void MainWindow::createStatusBar() {
  m_progress = new QProgressBar(this);
  m_progress->setMaximumWidth(200);
  m_progress->setRange(0, 1000);
  m_progress->setTextVisible(false);
  m_progress->hide();
  m_prefetchLabel = new QLabel(this);
  m_prefetchLabel->hide();
  m_runtimeLabel = new QLabel(this);
  statusBar()->addPermanentWidget(m_prefetchLabel);
  statusBar()->addPermanentWidget(m_progress);
  statusBar()->addPermanentWidget(m_runtimeLabel);
  updateRuntimeLabel();
  statusBar()->showMessage(tr("Choose a model and an image, then press Explain (Ctrl+Enter)."));
}

void MainWindow::connectJobs() {
  connect(m_runner, &JobRunner::modelLoaded, this, &MainWindow::onModelLoaded);
  connect(m_runner, &JobRunner::predicted, this, &MainWindow::onPredicted);
  connect(m_runner, &JobRunner::explained, this, &MainWindow::onExplained);
  connect(m_runner, &JobRunner::prefetched, this, &MainWindow::onPrefetched);
  connect(m_runner, &JobRunner::neighboursFound, this, &MainWindow::onNeighbours);
  connect(m_runner, &JobRunner::failed, this, &MainWindow::onFailed);
  connect(m_runner, &JobRunner::cancelled, this, &MainWindow::onCancelled);
  connect(m_runner, &JobRunner::progress, this, &MainWindow::onProgress);
}

void MainWindow::readSettings() {
  // Screenshots use the defaults, so the picture does not depend on whoever ran it last.
  const bool useStored = !m_options.screenshot;
  if (!useStored || !restoreGeometry(m_settings.windowGeometry())) resize(1400, 900);
  if (useStored) restoreState(m_settings.windowState());
  m_input->modelPicker()->setRecent(useStored ? m_settings.recentModels() : QStringList());
  m_input->setDevice(useStored ? m_settings.device() : QStringLiteral("cpu"));
  m_input->setDtype(useStored ? m_settings.dtype() : QStringLiteral("auto"));

  ViewOptions view;
  if (useStored) {
    view.colormap = colormapFromName(m_settings.colormap());
    view.opacity = m_settings.opacity();
    view.smooth = m_settings.smooth();
    view.showGrid = m_settings.showGrid();
    m_sharedScale = m_settings.sharedScale();
  }
  {
    const QSignalBlocker blocker(m_sharedCheck);
    m_sharedCheck->setChecked(m_sharedScale);
  }
  setViewOptions(view);
  m_factorSpin->setValue(useStored ? m_settings.factor() : 0.9);
  m_kappaSlider->setValue(kappaStep(useStored ? m_settings.kappa() : 0.7));
  setViewMode(
      parseViewMode(useStored ? m_settings.viewMode() : QString()).value_or(ViewMode::SideBySide));
  updateKappaLabel();
}

void MainWindow::writeSettings() {
  if (m_options.screenshot) return;
  m_settings.setWindowGeometry(saveGeometry());
  m_settings.setWindowState(saveState());
  m_settings.setColormap(m_colormapCombo->currentText());
  m_settings.setOpacity(m_viewOptions.opacity);
  m_settings.setSmooth(m_viewOptions.smooth);
  m_settings.setShowGrid(m_viewOptions.showGrid);
  m_settings.setSharedScale(m_sharedScale);
  m_settings.setKappa(kappa());
  m_settings.setFactor(m_factor);
  m_settings.setViewMode(viewModeName(m_mode));
  m_settings.sync();
}

void MainWindow::startFromOptions() {
  if (m_options.mode) setViewMode(*m_options.mode);
  if (m_options.kappa) setKappa(*m_options.kappa);
  if (!m_options.prompt.isEmpty()) m_input->setPrompt(m_options.prompt);
  if (!m_options.target.isEmpty()) m_input->setTarget(m_options.target);
  if (!m_options.model.isEmpty()) {
    // The image and the explanation follow once the model has loaded (onModelLoaded).
    m_startupPending = true;
    openModel(m_options.model);
    return;
  }
  if (m_options.screenshot) {
    m_startupPending = true;
    QTimer::singleShot(0, this, [this] { finishStartup(false, tr("--screenshot needs --model")); });
    return;
  }
  if (!m_options.image.isEmpty()) openImage(m_options.image);
  if (!m_options.openLastModel) return;
  // Without a model on the command line: the last one used, else the bundled shapes-clip.
  QString last = m_settings.lastModel();
  if (last.isEmpty() || !QFileInfo(last).isDir()) {
    for (const QString& dir : ModelPicker::bundledModels())
      if (QFileInfo(dir).fileName() == QLatin1String("shapes-clip")) last = dir;
  }
  if (!last.isEmpty() && QFileInfo(last).isDir()) openModel(last);
}

// ---------------------------------------------------------------------------------------------
// Loading

void MainWindow::openModel(const QString& dirOrName) {
  if (dirOrName.trimmed().isEmpty()) return;
  m_kappaTimer.stop();
  // Resolving the name and loading run on the worker; errors come back as failed().
  m_modelJob = m_runner->loadModel(dirOrName, m_input->device(), m_input->dtype());
  // Loading supersedes every other job; their ids are forgotten so late results are dropped.
  m_explainJob = m_prefetchJob = m_predictJob = m_neighbourJob = 0;
  if (m_steerJob) m_steering->showFailure(tr("Cancelled: another model is loading."));
  m_steerJob = 0;
  m_prefetchLabel->hide();
  const QFileInfo info(dirOrName);
  setBusy(true, tr("Loading %1…").arg(info.fileName().isEmpty() ? dirOrName : info.fileName()));
  updateActions();
}

void MainWindow::onModelLoaded(JobId job, const LoadedModel& loaded) {
  if (job != m_modelJob) return;
  m_modelJob = 0;
  setBusy(false);
  m_model = loaded.model;
  m_modelDir = loaded.dir;
  m_defaultPrompt = loaded.defaultPrompt;
  ++m_modelSerial;
  m_cache.clear();
  m_request.reset();
  m_neighbourhood = {};
  if (!m_options.screenshot) {
    m_settings.setLastModel(loaded.dir);
    m_settings.addRecentModel(loaded.dir);
    m_input->modelPicker()->setRecent(m_settings.recentModels());
  }
  m_input->modelPicker()->setCurrentModel(loaded.dir);
  m_input->setModel(m_model, loaded.defaultPrompt);
  m_steering->setModel(m_model);
  m_steering->setImage(m_image, m_imageOrigin);
  m_steering->setPrompt(m_input->prompt());
  // Steering is for models that generate; the person may still close the dock.
  m_steeringDock->setVisible(m_model->kind() != ModelKind::Clip);
  const bool readsImages = m_model->kind() != ModelKind::CausalLM;
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) {
    p->setExplanation(nullptr, {});
    p->setShowsImage(readsImages);
  }
  setWindowTitle(tr("AtMan Studio — %1").arg(toQString(m_model->name())));
  updateRuntimeLabel();
  updateActions();
  statusBar()->showMessage(tr("Loaded %1").arg(toQString(m_model->description())), 6000);
  emit modelLoaded(toQString(m_model->name()));

  if (m_startupPending) {
    if (!m_options.image.isEmpty() && !openImage(m_options.image)) return;  // finishStartup ran
    if (!m_options.prompt.isEmpty()) m_input->setPrompt(m_options.prompt);
    if (!m_options.target.isEmpty()) m_input->setTarget(m_options.target);
  }
  requestPrediction();
  if (m_startupPending) {
    if (!m_input->target().isEmpty())
      explain();
    else if (!m_predictJob)
      finishStartup(true);  // nothing to explain and nothing to wait for
    // else: onPredicted picks the model's answer as the target and explains it
  }
}

bool MainWindow::openImage(const QString& path) {
  try {
    setImage(load_image(toStd(path)), QFileInfo(path).absoluteFilePath());
  } catch (const Error& e) {
    showError(tr("Cannot open the image"), toQString(e.what()));
    if (m_startupPending) finishStartup(false, toQString(e.what()));
    return false;
  }
  if (!m_options.screenshot) m_settings.setImageFolder(QFileInfo(path).absolutePath());
  return true;
}

bool MainWindow::setImageBytes(const std::vector<uint8_t>& encoded, const QString& origin) {
  try {
    setImage(decode_image(encoded, toStd(origin)), origin);
  } catch (const Error& e) {
    showError(tr("Cannot use the image"), toQString(e.what()));
    return false;
  }
  return true;
}

void MainWindow::setImage(RgbImage image, const QString& origin) {
  m_image = std::make_shared<const RgbImage>(std::move(image));
  m_imageOrigin = origin;
  ++m_imageSerial;
  // Results for the old image are meaningless now: stop computing them and clear the panes.
  m_runner->cancel(JobKind::Explain);
  m_runner->cancel(JobKind::Prefetch);
  m_runner->cancel(JobKind::Neighbours);
  m_explainJob = m_prefetchJob = m_neighbourJob = 0;
  m_kappaTimer.stop();
  m_cache.clear();
  m_request.reset();
  m_neighbourhood = {};
  setBusy(false);
  m_prefetchLabel->hide();
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) {
    p->setImage(m_image);
    p->setExplanation(nullptr, {});
  }
  m_input->setImage(toQImage(*m_image), origin);
  // A steered answer in flight is about the old image.
  if (m_steerJob) {
    m_runner->cancel(JobKind::Steer);
    m_steerJob = 0;
    m_steering->setBusy(false);
  }
  m_steering->setImage(m_image, origin);
  statusBar()->showMessage(tr("Image %1 (%2 × %3)")
                               .arg(QFileInfo(origin).fileName())
                               .arg(m_image->width)
                               .arg(m_image->height),
                           5000);
  updateActions();
  if (m_model && m_model->kind() != ModelKind::CausalLM) requestPrediction();
}

void MainWindow::openImageDialog() {
  QString folder = m_settings.imageFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open Image"), folder,
      tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"));
  if (!path.isEmpty()) openImage(path);
}

void MainWindow::openModelDialog() {
  m_input->modelPicker()->browse();
}

void MainWindow::pasteImage() {
  const QMimeData* mime = QApplication::clipboard()->mimeData();
  if (mime && mime->hasImage()) {
    setImageBytes(encodePng(qvariant_cast<QImage>(mime->imageData())), tr("clipboard"));
    return;
  }
  if (mime && mime->hasUrls())
    for (const QUrl& url : mime->urls())
      if (url.isLocalFile()) {
        openImage(url.toLocalFile());
        return;
      }
  statusBar()->showMessage(tr("The clipboard holds no image."), 5000);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  const QMimeData* mime = event->mimeData();
  bool usable = mime->hasImage();
  for (const QUrl& url : mime->urls())
    usable |= url.isLocalFile() && isImageFile(url.toLocalFile());
  if (usable) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QMimeData* mime = event->mimeData();
  for (const QUrl& url : mime->urls())
    if (url.isLocalFile()) {
      openImage(url.toLocalFile());
      event->acceptProposedAction();
      return;
    }
  if (mime->hasImage()) {
    setImageBytes(encodePng(qvariant_cast<QImage>(mime->imageData())), tr("dropped image"));
    event->acceptProposedAction();
  }
}

// ---------------------------------------------------------------------------------------------
// What the model says

void MainWindow::requestPrediction() {
  if (!m_model) return;
  PredictRequest request;
  request.model = m_model;
  const ModelKind kind = m_model->kind();
  if (kind == ModelKind::Clip) {
    request.labels.clear();
    for (const QString& l : m_input->labels()) request.labels.push_back(toStd(l));
    if (!m_image || request.labels.empty()) {
      m_input->clearPrediction(!m_image ? tr("Open an image to see how the model ranks the labels.")
                                        : tr("Type some labels, one per line."));
      return;
    }
    request.image = m_image;
  } else {
    request.prompt = toStd(m_input->prompt());
    if (request.prompt.empty() || (kind == ModelKind::Llava && !m_image)) {
      m_input->clearPrediction(kind == ModelKind::Llava && !m_image
                                   ? tr("Open an image for the model to look at.")
                                   : tr("Type a prompt and press Generate."));
      return;
    }
    if (kind == ModelKind::Llava) request.image = m_image;
  }
  m_input->setPredictionBusy();
  m_predictJob = m_runner->predict(request);
}

void MainWindow::generate() {
  requestPrediction();
}

void MainWindow::generateSteered() {
  QString missing;
  if (m_modelJob)
    missing = tr("The model is still loading; press Generate Steered again when it is ready.");
  else if (!m_model || m_model->kind() == ModelKind::Clip)
    missing = tr("Steering needs a language model or LLaVA: open one first.");
  else if (m_input->prompt().trimmed().isEmpty())
    missing = tr("Type a prompt first.");
  else if (m_model->kind() == ModelKind::Llava && !m_image)
    missing = tr("Open an image for the model to look at (File › Open, drag and drop, or paste).");
  else if (m_steering->steering().empty())
    missing =
        tr("Choose what to steer: click prompt tokens or drag over image patches in the Steering "
           "panel.");
  if (!missing.isEmpty()) {
    showError(tr("Nothing to steer"), missing);
    return;
  }
  PredictRequest request;
  request.model = m_model;
  request.prompt = toStd(m_input->prompt());
  if (m_model->kind() == ModelKind::Llava) request.image = m_image;
  request.steering = m_steering->steering();
  m_steerJob = m_runner->predict(request);  // supersedes a steered run still waiting or running
  m_steering->setBusy(true);
  statusBar()->showMessage(
      tr("Generating with %1 steered positions…").arg(request.steering.size()));
}

void MainWindow::onPredicted(JobId job, const Prediction& prediction) {
  if (job == m_steerJob) {
    m_steerJob = 0;
    m_steering->showResult(prediction);
    statusBar()->showMessage(
        tr("Steered answer ready (%1 s)").arg(prediction.steeredSeconds, 0, 'f', 2), 6000);
    emit steeringReady();
    return;
  }
  if (job != m_predictJob) return;
  m_predictJob = 0;
  m_input->setPrediction(prediction);
  // With no target yet, the model's own answer is the natural thing to explain.
  if (m_input->target().isEmpty()) {
    if (!prediction.labels.empty())
      m_input->setTarget(toQString(prediction.labels.front().label));
    else if (!prediction.generation.ids.empty() && m_model)
      m_input->setTarget(
          toQString(m_model->tokenizer().decode({prediction.generation.ids.front()})));
  }
  emit predictionReady();
  if (m_startupPending && !m_explainJob) {
    if (m_input->target().isEmpty())
      finishStartup(true);
    else
      explain();
    return;
  }
  maybePrefetch();
}

// ---------------------------------------------------------------------------------------------
// Explaining

ExplainRequest MainWindow::currentRequest() const {
  ExplainRequest r;
  r.model = m_model;
  if (!m_model) return r;
  const ModelKind kind = m_model->kind();
  if (m_image && m_model->reads_images()) r.image = *m_image;
  r.target = toStd(m_input->target());
  if (kind == ModelKind::Clip) {
    for (const QString& l : m_input->labels()) r.labels.push_back(toStd(l));
    // "blue square" is accepted for the label "a photo of a blue square", as on the command line.
    r.target = resolve_label_alias(r.target, r.labels);
  } else {
    r.prompt = toStd(m_input->prompt());
  }
  r.explain = m_input->explainWhat();
  r.factor = m_factor;
  r.kappa = kappa();
  return r;
}

ExplainRequest MainWindow::requestFor(SuppressionMode mode) const {
  ExplainRequest r = *m_request;
  r.mode = mode;
  r.kappa = kappa();
  return r;
}

QString MainWindow::tokenTextFor(const ExplainRequest& r) const {
  // CLIP token explanations index the target label; everything else indexes the prompt.
  const bool clip = r.model && r.model->kind() == ModelKind::Clip;
  return toQString(clip ? r.target : r.prompt);
}

void MainWindow::explain() {
  if (m_modelJob) {
    statusBar()->showMessage(
        tr("The model is still loading; press Explain again when it is ready."), 5000);
    return;
  }
  if (!m_model) {
    showError(tr("Nothing to explain"), tr("Choose a model first."));
    return;
  }
  QString missing;
  if (m_model->kind() != ModelKind::CausalLM && !m_image)
    missing = tr("Open an image first (File › Open, drag and drop, or paste).");
  else if (m_input->target().trimmed().isEmpty())
    missing = m_model->kind() == ModelKind::Clip
                  ? tr("Choose a target: click a label in the ranking or type one.")
                  : tr("Choose a target: click a token of the continuation or type one.");
  if (!missing.isEmpty()) {
    showError(tr("Nothing to explain"), missing);
    if (m_startupPending) finishStartup(false, missing);
    return;
  }
  const ExplainRequest request = currentRequest();
  if (m_cache.setInput(inputKey(request, m_modelSerial, m_imageSerial))) {
    // A new input: the old neighbourhood and any background sweep belong to the old one.
    m_neighbourhood = {};
    applyNeighbourhood(m_neighbourhood);
    if (m_prefetchJob) {
      m_runner->cancel(JobKind::Prefetch);
      m_prefetchJob = 0;
      m_prefetchLabel->hide();
    }
  }
  m_request = request;
  m_prefetchHeld = false;
  const QString tokenText = tokenTextFor(request);
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane})
    if (!p->explanation() || p->tokenText() != tokenText) p->setExplanation(nullptr, tokenText);
  showOrCompute();
  if (!m_explainJob) {
    statusBar()->showMessage(tr("Shown from the results already computed."), 4000);
    emit explanationShown();
    if (m_startupPending) finishStartup(true);
  }
}

void MainWindow::showOrCompute() {
  if (!m_request || m_cache.input().isEmpty()) return;
  showResults();
  ExplainJob job;
  const int step = m_kappaSlider->value();
  if (showsPane(m_mode, Pane::Single) && !m_cache.single())
    job.single = requestFor(SuppressionMode::Single);
  if (showsPane(m_mode, Pane::Correlated) && !m_cache.correlated(step))
    job.correlated = requestFor(SuppressionMode::Correlated);
  if (job.single || job.correlated) startExplainJob(job);
}

void MainWindow::startExplainJob(const ExplainJob& job) {
  m_explainJob = m_runner->explain(job);
  ++m_explainJobsStarted;
  if (job.single) m_singlePane->setBusy(true);
  if (job.correlated) m_correlatedPane->setBusy(true);
  setBusy(true, job.correlated && !job.single ? tr("Explaining at κ = %1…").arg(kappaText(kappa()))
                                              : tr("Explaining…"));
  updateActions();
  emit jobStarted(m_explainJob);
}

void MainWindow::onExplained(JobId job, const ExplainResult& result) {
  if (job != m_explainJob) return;  // superseded: a newer request owns the panes
  m_explainJob = 0;
  if (result.single) m_cache.store(*result.single);
  if (result.correlated) m_cache.store(*result.correlated);
  setBusy(false);
  showResults();
  m_unexported = true;
  const Explanation& e = result.correlated ? *result.correlated : *result.single;
  statusBar()->showMessage(tr("Explained “%1”: %2 candidates, %3 forwards in %4 s")
                               .arg(toQString(e.target))
                               .arg(e.candidates.size())
                               .arg(e.timings.forwards)
                               .arg(e.timings.total_seconds, 0, 'f', 2),
                           8000);
  updateActions();
  emit jobFinished(job);
  emit explanationShown();
  if (m_startupPending) finishStartup(true);
  // A κ the slider reached while this job ran may still be missing.
  if (m_request && showsPane(m_mode, Pane::Correlated) &&
      !m_cache.correlated(m_kappaSlider->value()))
    showOrCompute();
  else
    maybePrefetch();
}

void MainWindow::showResults() {
  const QString tokenText = m_request ? tokenTextFor(*m_request) : QString();
  const int step = m_kappaSlider->value();
  const QString singleId = m_cache.input() + QStringLiteral("/single");
  const QString correlatedId = m_cache.input() + QStringLiteral("/correlated/%1").arg(step);
  if (const Explanation* single = m_cache.single();
      single && m_singlePane->explanationId() != singleId)
    m_singlePane->setExplanation(single, tokenText, singleId);
  if (const Explanation* correlated = m_cache.correlated(step);
      correlated && m_correlatedPane->explanationId() != correlatedId)
    m_correlatedPane->setExplanation(correlated, tokenText, correlatedId);
  if (const Explanation* shown = m_correlatedPane->explanation();
      shown && shown->mode == SuppressionMode::Correlated)
    m_correlatedPane->setTitle(tr("Correlated suppression, κ = %1").arg(kappaText(shown->kappa)));
  else
    m_correlatedPane->setTitle(tr("Correlated suppression"));
  updateScales();
  applyNeighbourhood(m_neighbourhood);
}

void MainWindow::maybePrefetch() {
  // After the first correlated result for an input, compute every other κ in the background, so
  // the slider answers at once. It yields to user jobs and resumes from the core's cache.
  if (!m_prefetchEnabled || m_prefetchHeld || !m_request || m_prefetchJob || m_explainJob ||
      m_modelJob)
    return;
  if (m_cache.input().isEmpty() || m_cache.correlatedCount() == 0 || m_cache.hasAllKappas()) return;
  m_prefetchInput = m_cache.input();
  m_prefetchJob = m_runner->prefetch(requestFor(SuppressionMode::Correlated), allKappas());
  m_prefetchLabel->setText(tr("Computing every κ…"));
  m_prefetchLabel->show();
  emit prefetchStarted();
}

void MainWindow::onPrefetched(JobId job, const std::vector<Explanation>& sweep) {
  if (job != m_prefetchJob) return;
  m_prefetchJob = 0;
  m_prefetchLabel->hide();
  if (m_prefetchInput != m_cache.input()) return;
  const bool wasMissing = !m_cache.correlated(m_kappaSlider->value());
  for (const Explanation& e : sweep) m_cache.store(e);
  if (wasMissing && showsPane(m_mode, Pane::Correlated)) {
    m_kappaTimer.stop();
    showResults();
    emit explanationShown();
  }
  statusBar()->showMessage(tr("Every κ is ready: the slider redraws instantly."), 4000);
  emit prefetchFinished();
}

void MainWindow::cancel() {
  if (!m_explainJob && !m_prefetchJob && !m_modelJob && !m_predictJob && !m_steerJob) {
    setNeighbourhoodCentre(-1);  // Esc with nothing running: clear the neighbourhood
    return;
  }
  m_runner->cancelAll();
  m_prefetchHeld = true;
  m_kappaTimer.stop();
  statusBar()->showMessage(tr("Cancelling…"));
}

void MainWindow::onCancelled(JobId job) {
  if (job == m_prefetchJob) {
    // It stepped aside for a user job (which restarts it when done) or was cancelled.
    m_prefetchJob = 0;
    m_prefetchLabel->hide();
    if (!m_explainJob) maybePrefetch();
    return;
  }
  if (job == m_modelJob) {
    m_modelJob = 0;
    setBusy(false);
    if (m_startupPending) finishStartup(false, tr("cancelled"));
  } else if (job == m_explainJob) {
    m_explainJob = 0;
    setBusy(false);
    for (ExplanationPane* p : {m_singlePane, m_correlatedPane})
      p->setBusy(false);  // stop saying "computing…"
    statusBar()->showMessage(tr("Cancelled."), 4000);
    emit jobCancelled(job);
    if (m_startupPending) finishStartup(false, tr("cancelled"));
  } else if (job == m_predictJob) {
    m_predictJob = 0;
  } else if (job == m_steerJob) {
    m_steerJob = 0;
    m_steering->showFailure(tr("Cancelled."));
  } else if (job == m_neighbourJob) {
    m_neighbourJob = 0;
  }
  updateActions();
}

void MainWindow::onFailed(JobId job, const QString& message) {
  if (job == m_modelJob) {
    m_modelJob = 0;
    setBusy(false);
    updateActions();
    showError(tr("Cannot load the model"), message);
    if (m_startupPending) finishStartup(false, message);
  } else if (job == m_explainJob) {
    m_explainJob = 0;
    setBusy(false);
    for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) p->setBusy(false);
    updateActions();
    showError(tr("Cannot explain"), message);
    if (m_startupPending) finishStartup(false, message);
  } else if (job == m_predictJob) {
    m_predictJob = 0;
    m_input->clearPrediction(message);
    statusBar()->showMessage(message, 8000);
    if (m_startupPending) finishStartup(false, message);
  } else if (job == m_steerJob) {
    m_steerJob = 0;
    m_steering->showFailure(message);  // the choices stay: fix the input and press again
    showError(tr("Cannot generate the steered answer"), message);
  } else if (job == m_prefetchJob) {
    m_prefetchJob = 0;
    m_prefetchLabel->hide();
    statusBar()->showMessage(tr("Background κ sweep failed: %1").arg(message), 8000);
  } else if (job == m_neighbourJob) {
    m_neighbourJob = 0;
    statusBar()->showMessage(message, 8000);
  }
}

void MainWindow::onProgress(JobId job, double fraction) {
  if (job == m_explainJob) {
    m_progress->setRange(0, 1000);
    m_progress->setValue(static_cast<int>(std::lround(1000 * fraction)));
    emit explainProgress(fraction);
  } else if (job == m_prefetchJob) {
    m_prefetchLabel->setText(tr("Computing every κ… %1 %").arg(static_cast<int>(100 * fraction)));
  }
}

// ---------------------------------------------------------------------------------------------
// Neighbourhoods

void MainWindow::setNeighbourhoodCentre(int candidate) {
  if (candidate < 0 || !m_request) {
    m_neighbourhood = {};
    applyNeighbourhood(m_neighbourhood);
    return;
  }
  const double k = kappa();
  // The correlated explanation at this κ already records what each candidate suppressed.
  if (const Explanation* e = m_cache.correlated(m_kappaSlider->value());
      e && candidate < static_cast<int>(e->candidates.size())) {
    m_neighbourhood = {candidate, k, e->candidates[candidate].suppressed};
    applyNeighbourhood(m_neighbourhood);
    return;
  }
  m_neighbourhood = {candidate, k, {}};
  applyNeighbourhood(m_neighbourhood);
  m_neighbourJob = m_runner->neighbours(requestFor(SuppressionMode::Correlated), candidate, k);
}

void MainWindow::onNeighbours(JobId job, const NeighbourResult& result) {
  if (job != m_neighbourJob) return;
  m_neighbourJob = 0;
  if (result.candidate == m_neighbourhood.centre && std::abs(result.kappa - kappa()) < 1e-9) {
    m_neighbourhood.members = result.factors;
    applyNeighbourhood(m_neighbourhood);
  }
  maybePrefetch();
}

void MainWindow::applyNeighbourhood(const Neighbourhood& neighbourhood) {
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) p->setNeighbourhood(neighbourhood);
  if (neighbourhood.centre >= 0 && !neighbourhood.members.empty())
    statusBar()->showMessage(
        tr("Correlated neighbourhood at κ = %1: %2 candidates suppressed together "
           "(factors shown; Esc clears)")
            .arg(kappaText(neighbourhood.kappa))
            .arg(neighbourhood.members.size()));
}

// ---------------------------------------------------------------------------------------------
// View

void MainWindow::setViewMode(ViewMode mode) {
  m_mode = mode;
  const int index = m_modeCombo->findData(int(mode));
  if (index >= 0) m_modeCombo->setCurrentIndex(index);
  m_modeActions[int(mode)]->setChecked(true);
  if (!m_options.screenshot) m_settings.setViewMode(viewModeName(mode));
  updatePaneVisibility();
  // A pane that becomes visible gets its explanation, from the cache or a job.
  if (!m_explainJob) showOrCompute();
}

void MainWindow::updatePaneVisibility() {
  m_singlePane->setVisible(showsPane(m_mode, Pane::Single));
  m_correlatedPane->setVisible(showsPane(m_mode, Pane::Correlated));
  // The slider stays enabled in single mode too: κ also sets the neighbourhood a click shows.
}

void MainWindow::setKappa(double value) {
  m_kappaSlider->setValue(kappaStep(std::clamp(value, 0.0, 1.0)));
}

double MainWindow::kappa() const {
  return kappaOfStep(m_kappaSlider->value());
}

void MainWindow::updateKappaLabel() {
  m_kappaLabel->setText(tr("κ = %1").arg(kappaText(kappa())));
}

void MainWindow::setViewOptions(const ViewOptions& options) {
  m_viewOptions = options;
  {
    // Keep the controls in step when called from outside (tests, command line).
    const QSignalBlocker b1(m_colormapCombo), b2(m_opacitySlider), b3(m_smoothCheck),
        b4(m_gridCheck);
    const int index = m_colormapCombo->findText(colormapNames().value(int(options.colormap)));
    if (index >= 0) m_colormapCombo->setCurrentIndex(index);
    m_opacitySlider->setValue(static_cast<int>(std::lround(options.opacity * 100)));
    m_smoothCheck->setChecked(options.smooth);
    m_gridCheck->setChecked(options.showGrid);
  }
  if (!m_options.screenshot) {
    m_settings.setColormap(m_colormapCombo->currentText());
    m_settings.setOpacity(options.opacity);
    m_settings.setSmooth(options.smooth);
    m_settings.setShowGrid(options.showGrid);
    m_settings.setSharedScale(m_sharedScale);
  }
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) p->setViewOptions(options);
  updateScales();
}

void MainWindow::updateScales() {
  const Explanation* single = m_singlePane->explanation();
  const Explanation* correlated = m_correlatedPane->explanation();
  const Scales s = single ? scalesOf(*single) : Scales{};
  const Scales c = correlated ? scalesOf(*correlated) : Scales{};
  // Shared: one scale across the visible panes, so equal colours mean equal ΔL.
  const bool both = showsPane(m_mode, Pane::Single) && showsPane(m_mode, Pane::Correlated);
  const Scales shared = sharedScales(s, c);
  m_singlePane->setScales(m_sharedScale && both ? shared : s);
  m_correlatedPane->setScales(m_sharedScale && both ? shared : c);
}

void MainWindow::updateRuntimeLabel() {
  QString device = m_model ? toQString(m_model->device()) : m_input->device();
  if (m_model && m_model->dtype() != "float32")
    device += QLatin1Char(' ') + toQString(m_model->dtype());
  m_runtimeLabel->setText(tr("%1 · %2 threads · %3")
                              .arg(device)
                              .arg(compute_threads())
                              .arg(m_model ? toQString(m_model->name()) : tr("no model")));
  m_runtimeLabel->setToolTip(toQString(runtime_report()));
}

void MainWindow::updateActions() {
  const bool haveResult = m_singlePane->explanation() || m_correlatedPane->explanation();
  m_exportFigureAction->setEnabled(haveResult);
  m_exportDataAction->setEnabled(haveResult);
  m_copyFigureAction->setEnabled(haveResult);
  m_cancelAction->setEnabled(true);  // Esc also clears a neighbourhood
  m_explainAction->setEnabled(m_model != nullptr);
  m_generateAction->setEnabled(m_model && m_model->kind() != ModelKind::Clip);
  m_generateSteeredAction->setEnabled(m_model && m_model->kind() != ModelKind::Clip);
}

void MainWindow::setBusy(bool busy, const QString& what) {
  m_progress->setVisible(busy);
  if (busy) {
    m_progress->setValue(0);
    if (m_modelJob && !m_explainJob) m_progress->setRange(0, 0);  // loading: no progress to report
    statusBar()->showMessage(what);
  } else {
    m_progress->setRange(0, 1000);
  }
}

void MainWindow::setPrefetchEnabled(bool enabled) {
  m_prefetchEnabled = enabled;
  if (!enabled && m_prefetchJob) {
    m_runner->cancel(JobKind::Prefetch);
    m_prefetchJob = 0;
    m_prefetchLabel->hide();
  }
}

void MainWindow::setTarget(const QString& target) {
  m_input->setTarget(target);
}
void MainWindow::setPrompt(const QString& prompt) {
  m_input->setPrompt(prompt);
}
void MainWindow::setLabels(const QStringList& labels) {
  m_input->setLabels(labels);
  requestPrediction();
}

const Explanation* MainWindow::shownExplanation(Pane p) const {
  return pane(p)->explanation();
}

ExplanationPane* MainWindow::pane(Pane p) const {
  return p == Pane::Single ? m_singlePane : m_correlatedPane;
}

// ---------------------------------------------------------------------------------------------
// Export

QString MainWindow::defaultCaption(ViewMode layout) const {
  const Explanation* e =
      layout == ViewMode::Single ? m_singlePane->explanation() : m_correlatedPane->explanation();
  if (!e)
    e = m_singlePane->explanation() ? m_singlePane->explanation() : m_correlatedPane->explanation();
  if (!e) return {};
  QString caption =
      tr("AtMan explanation of “%1” by %2 (%3): ΔL (E) is the rise of the target's loss when "
         "attention to a %4 is suppressed with f = %5.")
          .arg(toQString(e->target), toQString(e->model), toQString(e->architecture),
               e->explained == ExplainWhat::ImagePatches ? tr("patch") : tr("token"))
          .arg(e->factor, 0, 'g', 3);
  if (layout != ViewMode::Single) {
    const Explanation* c = m_correlatedPane->explanation();
    if (c && c->mode == SuppressionMode::Correlated)
      caption += tr(" Correlated: neighbours with cosine similarity ≥ κ = %1 are suppressed too.")
                     .arg(kappaText(c->kappa));
  }
  return caption;
}

Figure MainWindow::figure(ViewMode layout, const QString& caption) const {
  Figure f;
  f.colormap = m_viewOptions.colormap;
  f.smooth = m_viewOptions.smooth;
  f.caption = caption.isNull() ? defaultCaption(layout) : caption;
  for (Pane p : {Pane::Single, Pane::Correlated}) {
    if (!showsPane(layout, p)) continue;
    const ExplanationPane* source = pane(p);
    const Explanation* e = source->explanation();
    if (!e) continue;
    FigurePanel panel;
    panel.title = source->title();
    if (source->heatmapView()->hasHeatmap()) panel.image = source->heatmapView()->shownImage();
    panel.tokens = tokenSegments(source->tokenText(), *e);
    if (std::none_of(panel.tokens.begin(), panel.tokens.end(),
                     [](const TokenSegment& s) { return s.candidate >= 0; }))
      panel.tokens.clear();
    panel.scales = source->scales();
    f.panels.push_back(panel);
  }
  return f;
}

bool MainWindow::exportFigureTo(const QString& path, ViewMode layout, int dpi, QString* error) {
  const Figure f = figure(layout);
  if (f.panels.isEmpty()) {
    if (error) *error = tr("There is no explanation to export yet.");
    return false;
  }
  if (!exportFigure(f, path, dpi, error)) return false;
  m_unexported = false;
  return true;
}

bool MainWindow::exportDataTo(const QString& path, Pane p, QString* error) {
  const Explanation* e = shownExplanation(p);
  if (!e) {
    if (error) *error = tr("There is no explanation to export yet.");
    return false;
  }
  if (!exportData(*e, path, error)) return false;
  m_unexported = false;
  return true;
}

void MainWindow::exportFigureDialog() {
  const Explanation* any = m_correlatedPane->explanation() ? m_correlatedPane->explanation()
                                                           : m_singlePane->explanation();
  if (!any) return;
  QString folder = m_settings.exportFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString name = QStringLiteral("%1-%2.png").arg(toQString(any->model), viewModeName(m_mode));
  ExportDialog dialog(m_mode, m_settings.exportDpi(), QDir(folder).filePath(name),
                      defaultCaption(m_mode), this);
  if (dialog.exec() != QDialog::Accepted) return;
  const Figure f = figure(dialog.layout(), dialog.caption());
  if (f.panels.isEmpty()) {
    showError(tr("Cannot export"), tr("The chosen panes have no explanation yet."));
    return;
  }
  QString error;
  if (!exportFigure(f, dialog.path(), dialog.dpi(), &error)) {
    showError(tr("Cannot export the figure"), error);
    return;
  }
  m_unexported = false;
  m_settings.setExportFolder(QFileInfo(dialog.path()).absolutePath());
  m_settings.setExportDpi(dialog.dpi());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(dialog.path())), 6000);
}

void MainWindow::exportDataDialog() {
  const Pane p = m_mode == ViewMode::Single || !m_correlatedPane->explanation() ? Pane::Single
                                                                                : Pane::Correlated;
  const Explanation* e = shownExplanation(p);
  if (!e) return;
  QString folder = m_settings.exportFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString name =
      QStringLiteral("%1-%2.json").arg(toQString(e->model), toQString(to_string(e->mode)));
  QString path = QFileDialog::getSaveFileName(this, tr("Export Data"), QDir(folder).filePath(name),
                                              tr("JSON (*.json);;CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportDataTo(path, p, &error)) {
    showError(tr("Cannot export the data"), error);
    return;
  }
  // Side by side: the other pane's data goes next to it, so both halves of the figure are saved.
  if (m_mode == ViewMode::SideBySide && p == Pane::Correlated && m_singlePane->explanation()) {
    const QFileInfo info(path);
    const QString other =
        info.dir().filePath(info.completeBaseName() + QStringLiteral("-single.") + info.suffix());
    if (!exportData(*m_singlePane->explanation(), other, &error))
      showError(tr("Cannot export the data"), error);
  }
  m_settings.setExportFolder(QFileInfo(path).absolutePath());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 6000);
}

bool MainWindow::exportSteeringTo(const QString& path, QString* error) {
  const auto& report = m_steering->report();
  if (!report) {
    if (error) *error = tr("There is no steered answer to export yet.");
    return false;
  }
  return exportSteering(*report, path, error);
}

void MainWindow::exportSteeringDialog() {
  if (!m_steering->report()) return;
  QString folder = m_settings.exportFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString name = QStringLiteral("%1-steering.json").arg(m_steering->report()->model);
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export Steering"), QDir(folder).filePath(name), tr("JSON (*.json);;CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportSteeringTo(path, &error)) {
    showError(tr("Cannot export the steering result"), error);
    return;
  }
  m_settings.setExportFolder(QFileInfo(path).absolutePath());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 6000);
}

void MainWindow::copyFigure() {
  const Figure f = figure(m_mode);
  if (f.panels.isEmpty()) return;
  QApplication::clipboard()->setImage(renderFigure(f, 192));
  statusBar()->showMessage(tr("Figure copied to the clipboard."), 4000);
}

// ---------------------------------------------------------------------------------------------
// Dialogs and closing

void MainWindow::showError(const QString& title, const QString& message) {
  emit errorShown(message);
  statusBar()->showMessage(QString(message).replace(QLatin1Char('\n'), QLatin1Char(' ')), 10000);
  if (m_options.screenshot) return;  // the command line reports it and exits
  // open(), not exec(): the event loop keeps running, jobs keep arriving, tests can close it.
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::finishStartup(bool ok, const QString& message) {
  if (!m_startupPending) return;
  m_startupPending = false;
  emit startupFinished(ok, message);
}

void MainWindow::about() {
  QString model = tr("No model loaded.");
  if (m_model)
    model = tr("<p><b>Model:</b> %1<br>%2<br><b>Folder:</b> %3</p>")
                .arg(toQString(m_model->name()).toHtmlEscaped(),
                     toQString(m_model->description()).toHtmlEscaped(),
                     QDir::toNativeSeparators(m_modelDir).toHtmlEscaped());
  QMessageBox::about(
      this, tr("About AtMan Studio"),
      tr("<h3>AtMan Studio %1</h3>"
         "<p>Explains transformer predictions with AtMan (Deiseroth et al., NeurIPS 2023): "
         "the relevance of a token or image patch is how much the target's loss rises when "
         "attention to it is suppressed.</p>%2<pre>%3</pre>")
          .arg(toQString(version()), model, toQString(runtime_report()).toHtmlEscaped()));
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (m_unexported && m_options.confirmClose && !m_options.screenshot) {
    const auto answer = QMessageBox::question(
        this, tr("Unsaved explanation"),
        tr("The explanation has not been exported. Save the figure before closing?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Cancel) {
      event->ignore();
      return;
    }
    if (answer == QMessageBox::Save) {
      exportFigureDialog();
      if (m_unexported) {  // the export was cancelled or failed: stay open
        event->ignore();
        return;
      }
    }
  }
  writeSettings();
  m_runner->cancelAll();
  event->accept();
}

}  // namespace atman::ui
