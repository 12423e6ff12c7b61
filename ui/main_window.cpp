#include "main_window.h"

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
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScrollArea>
#include <QSlider>
#include <QSplitter>
#include <QStatusBar>

#include <algorithm>
#include <cmath>

#include "atman/error.h"
#include "atman/runtime.h"
#include "colormaps.h"
#include "conversions.h"
#include "explain_session.h"
#include "explanation_pane.h"
#include "input_panel.h"
#include "model_picker.h"
#include "steering_panel.h"

// Resources live in the static atman_ui library; their initialiser must be referenced explicitly
// and from the global namespace.
static void initStudioResources() {
  Q_INIT_RESOURCE(app);
}

namespace atman::ui {
namespace {

const QColor kSingleAccent(214, 96, 77);
const QColor kCorrelatedAccent(72, 120, 200);

bool isImageFile(const QString& path) {
  static const QStringList suffixes = {"png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"};
  return suffixes.contains(QFileInfo(path).suffix().toLower());
}

}  // namespace

MainWindow::MainWindow(const StudioOptions& options, QWidget* parent)
    : QMainWindow(parent),
      m_options(options),
      m_settings(options.settingsFile),
      m_session(std::make_unique<ExplainSession>()) {
  initStudioResources();
  setWindowTitle(tr("AtMan Studio"));
  setWindowIcon(QIcon(QStringLiteral(":/icons/atman-studio.svg")));
  setAcceptDrops(true);
  m_predictionTimer.setSingleShot(true);
  m_predictionTimer.setInterval(400);

  createActions();
  createMenus();
  createToolBars();
  createInputDock();
  createSteeringDock();
  createPanes();
  createStatusBar();
  connectSession();
  m_session->setPrefetchEnabled(options.prefetch && !options.screenshot);
  readSettings();
  updateActions();
}

// The session (a member, so it goes before the widgets) stops the worker first.
MainWindow::~MainWindow() = default;

// ---------------------------------------------------------------------------------------------
// Construction

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
    if (!m_session->modelDir().isEmpty())
      openModel(m_session->modelDir());  // the model moves by loading it again
  });
  connect(m_input->dtypeCombo(), &QComboBox::activated, this, [this] {
    if (!m_options.screenshot) m_settings.setDtype(m_input->dtype());
    if (!m_session->modelDir().isEmpty())
      openModel(m_session->modelDir());  // converted by loading it again
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
    if (m_session->isRunning(JobKind::Steer)) {
      m_session->drop(JobKind::Steer);
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
      const bool same = candidate == m_session->neighbourhood().centre;
      m_session->setNeighbourhoodCentre(same ? -1 : candidate);
    });
    connect(source, &ExplanationPane::message, this, [this](const QString& text) {
      if (text.isEmpty())
        statusBar()->clearMessage();
      else
        statusBar()->showMessage(QString(text).replace(QLatin1Char('\n'), QStringLiteral(" · ")));
    });
  }
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

void MainWindow::connectSession() {
  ExplainSession* s = m_session.get();
  connect(s, &ExplainSession::modelLoaded, this, &MainWindow::onModelLoaded);
  connect(s, &ExplainSession::predicted, this, &MainWindow::onPredicted);
  connect(s, &ExplainSession::steered, this, &MainWindow::onSteered);
  connect(s, &ExplainSession::explainStarted, this, &MainWindow::onExplainStarted);
  connect(s, &ExplainSession::explained, this, &MainWindow::onExplained);
  connect(s, &ExplainSession::resultsChanged, this, [this](bool fresh) {
    showResults();
    if (fresh) emit explanationShown();
  });
  connect(s, &ExplainSession::resultPending, this, [this](Pane p) { pane(p)->setBusy(true); });
  connect(s, &ExplainSession::neighbourhoodChanged, this, &MainWindow::applyNeighbourhood);
  connect(s, &ExplainSession::explainProgress, this, [this](double fraction) {
    m_progress->setRange(0, 1000);
    m_progress->setValue(static_cast<int>(std::lround(1000 * fraction)));
  });
  connect(s, &ExplainSession::prefetchStarted, this,
          [this] { m_prefetchLabel->setText(tr("Computing every κ…")); });
  connect(s, &ExplainSession::prefetchProgress, this, [this](double fraction) {
    m_prefetchLabel->setText(tr("Computing every κ… %1 %").arg(static_cast<int>(100 * fraction)));
  });
  connect(s, &ExplainSession::prefetchFinished, this, [this] {
    statusBar()->showMessage(tr("Every κ is ready: the slider redraws instantly."), 4000);
  });
  connect(s, &ExplainSession::jobsChanged, this,
          [this] { m_prefetchLabel->setVisible(m_session->isRunning(JobKind::Prefetch)); });
  connect(s, &ExplainSession::jobCancelled, this,
          [this](JobKind kind, JobId job) { onJobEnded(kind, job, QString()); });
  connect(s, &ExplainSession::jobFailed, this, &MainWindow::onJobEnded);
}

// ---------------------------------------------------------------------------------------------
// Loading

void MainWindow::openModel(const QString& dirOrName) {
  if (dirOrName.trimmed().isEmpty()) return;
  if (m_session->isRunning(JobKind::Steer))
    m_steering->showFailure(tr("Cancelled: another model is loading."));
  // Resolving the name and loading run on the worker; errors come back as jobFailed().
  m_session->loadModel(dirOrName, m_input->device(), m_input->dtype());
  const QFileInfo info(dirOrName);
  setBusy(true, tr("Loading %1…").arg(info.fileName().isEmpty() ? dirOrName : info.fileName()));
  updateActions();
}

void MainWindow::onModelLoaded(const LoadedModel& loaded) {
  setBusy(false);
  const std::shared_ptr<const Model>& model = loaded.model;
  if (!m_options.screenshot) {
    m_settings.setLastModel(loaded.dir);
    m_settings.addRecentModel(loaded.dir);
    m_input->modelPicker()->setRecent(m_settings.recentModels());
  }
  m_input->modelPicker()->setCurrentModel(loaded.dir);
  m_input->setModel(model, loaded.defaultPrompt);
  m_steering->setModel(model);
  m_steering->setImage(m_session->image(), m_session->imageOrigin());
  m_steering->setPrompt(m_input->prompt());
  // Steering is for models that generate; the person may still close the dock.
  m_steeringDock->setVisible(model->kind() != ModelKind::Clip);
  const bool readsImages = model->kind() != ModelKind::CausalLM;
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) {
    p->setExplanation(nullptr, {});
    p->setShowsImage(readsImages);
  }
  setWindowTitle(tr("AtMan Studio — %1").arg(toQString(model->name())));
  updateRuntimeLabel();
  updateActions();
  statusBar()->showMessage(tr("Loaded %1").arg(toQString(model->description())), 6000);
  requestPrediction();
  emit modelLoaded(toQString(model->name()));
}

bool MainWindow::openImage(const QString& path) {
  try {
    setImage(load_image(toStd(path)), QFileInfo(path).absoluteFilePath());
  } catch (const Error& e) {
    showError(tr("Cannot open the image"), toQString(e.what()));
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

void MainWindow::setImage(RgbImage decoded, const QString& origin) {
  // A steered answer in flight is about the old image: the session drops it with the rest.
  if (m_session->isRunning(JobKind::Steer)) m_steering->setBusy(false);
  auto image = std::make_shared<const RgbImage>(std::move(decoded));
  m_session->setImage(image, origin);
  setBusy(false);
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane}) {
    p->setImage(image);
    p->setExplanation(nullptr, {});
  }
  m_input->setImage(toQImage(*image), origin);
  m_steering->setImage(image, origin);
  statusBar()->showMessage(tr("Image %1 (%2 × %3)")
                               .arg(QFileInfo(origin).fileName())
                               .arg(image->width)
                               .arg(image->height),
                           5000);
  updateActions();
  const auto& model = m_session->model();
  if (model && model->kind() != ModelKind::CausalLM) requestPrediction();
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
  const auto& model = m_session->model();
  const auto& image = m_session->image();
  if (!model) return;
  PredictRequest request;
  const ModelKind kind = model->kind();
  if (kind == ModelKind::Clip) {
    for (const QString& l : m_input->labels()) request.labels.push_back(toStd(l));
    if (!image || request.labels.empty()) {
      m_input->clearPrediction(!image ? tr("Open an image to see how the model ranks the labels.")
                                      : tr("Type some labels, one per line."));
      return;
    }
    request.image = image;
  } else {
    request.prompt = toStd(m_input->prompt());
    if (request.prompt.empty() || (kind == ModelKind::Llava && !image)) {
      m_input->clearPrediction(kind == ModelKind::Llava && !image
                                   ? tr("Open an image for the model to look at.")
                                   : tr("Type a prompt and press Generate."));
      return;
    }
    if (kind == ModelKind::Llava) request.image = image;
  }
  m_input->setPredictionBusy();
  m_session->predict(std::move(request));
}

void MainWindow::generate() {
  requestPrediction();
}

void MainWindow::generateSteered() {
  const auto& model = m_session->model();
  QString missing;
  if (m_session->isRunning(JobKind::LoadModel))
    missing = tr("The model is still loading; press Generate Steered again when it is ready.");
  else if (!model || model->kind() == ModelKind::Clip)
    missing = tr("Steering needs a language model or LLaVA: open one first.");
  else if (m_input->prompt().trimmed().isEmpty())
    missing = tr("Type a prompt first.");
  else if (model->kind() == ModelKind::Llava && !m_session->image())
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
  request.prompt = toStd(m_input->prompt());
  if (model->kind() == ModelKind::Llava) request.image = m_session->image();
  request.steering = m_steering->steering();
  const size_t positions = request.steering.size();
  m_session->predict(std::move(request));  // supersedes a steered run still waiting or running
  m_steering->setBusy(true);
  statusBar()->showMessage(tr("Generating with %1 steered positions…").arg(positions));
}

void MainWindow::onSteered(const Prediction& prediction) {
  m_steering->showResult(prediction);
  statusBar()->showMessage(
      tr("Steered answer ready (%1 s)").arg(prediction.steeredSeconds, 0, 'f', 2), 6000);
  emit steeringReady();
}

void MainWindow::onPredicted(const Prediction& prediction) {
  m_input->setPrediction(prediction);
  // With no target yet, the model's own answer is the natural thing to explain.
  if (m_input->target().isEmpty()) {
    if (!prediction.labels.empty())
      m_input->setTarget(toQString(prediction.labels.front().label));
    else if (!prediction.generation.ids.empty() && m_session->model())
      m_input->setTarget(
          toQString(m_session->model()->tokenizer().decode({prediction.generation.ids.front()})));
  }
  emit predictionReady();
}

// ---------------------------------------------------------------------------------------------
// Explaining

ExplainRequest MainWindow::currentRequest() const {
  ExplainRequest r;
  r.model = m_session->model();
  if (!r.model) return r;
  r.target = toStd(m_input->target());
  if (r.model->kind() == ModelKind::Clip) {
    for (const QString& l : m_input->labels()) r.labels.push_back(toStd(l));
    // "blue square" is accepted for the label "a photo of a blue square", as on the command line.
    if (std::find(r.labels.begin(), r.labels.end(), r.target) == r.labels.end())
      for (const auto& label : r.labels)
        if (label == "a photo of a " + r.target) r.target = label;
  } else {
    r.prompt = toStd(m_input->prompt());
  }
  r.explain = m_input->explainWhat();
  r.factor = m_factor;
  return r;  // the pixels are the session's, shared (withImage())
}

void MainWindow::explain() {
  const auto& model = m_session->model();
  if (m_session->isRunning(JobKind::LoadModel)) {
    statusBar()->showMessage(
        tr("The model is still loading; press Explain again when it is ready."), 5000);
    return;
  }
  if (!model) {
    showError(tr("Nothing to explain"), tr("Choose a model first."));
    return;
  }
  QString missing;
  if (model->kind() != ModelKind::CausalLM && !m_session->image())
    missing = tr("Open an image first (File › Open, drag and drop, or paste).");
  else if (m_input->target().trimmed().isEmpty())
    missing = model->kind() == ModelKind::Clip
                  ? tr("Choose a target: click a label in the ranking or type one.")
                  : tr("Choose a target: click a token of the continuation or type one.");
  if (!missing.isEmpty()) {
    showError(tr("Nothing to explain"), missing);
    return;
  }
  const ExplainRequest request = currentRequest();
  const QString tokenText = ExplainSession::tokenTextFor(request);
  for (ExplanationPane* p : {m_singlePane, m_correlatedPane})
    if (!p->explanation() || p->tokenText() != tokenText) p->setExplanation(nullptr, tokenText);
  if (!m_session->explain(request)) {
    statusBar()->showMessage(tr("Shown from the results already computed."), 4000);
    emit explanationShown();
  }
}

void MainWindow::onExplainStarted(JobId job, bool single, bool correlated) {
  if (single) m_singlePane->setBusy(true);
  if (correlated) m_correlatedPane->setBusy(true);
  setBusy(true, correlated && !single ? tr("Explaining at κ = %1…").arg(kappaText(kappa()))
                                      : tr("Explaining…"));
  updateActions();
  emit jobStarted(job);
}

void MainWindow::onExplained(JobId job, const ExplainResult& result) {
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
}

void MainWindow::showResults() {
  const QString tokenText = m_session->tokenText();
  for (Pane p : {Pane::Single, Pane::Correlated}) {
    const QString id = m_session->resultId(p);
    if (SharedExplanation e = m_session->result(p); e && pane(p)->explanationId() != id)
      pane(p)->setExplanation(std::move(e), tokenText, id);
  }
  if (const Explanation* shown = m_correlatedPane->explanation();
      shown && shown->mode == "correlated")
    m_correlatedPane->setTitle(tr("Correlated suppression, κ = %1").arg(kappaText(shown->kappa)));
  else
    m_correlatedPane->setTitle(tr("Correlated suppression"));
  updateScales();
  applyNeighbourhood(m_session->neighbourhood());
}

void MainWindow::cancel() {
  if (!m_session->cancel()) {
    m_session->setNeighbourhoodCentre(-1);  // Esc with nothing running: clear the neighbourhood
    return;
  }
  statusBar()->showMessage(tr("Cancelling…"));
}

void MainWindow::onJobEnded(JobKind kind, JobId job, const QString& failure) {
  const bool cancelled = failure.isNull();
  // What each kind of job had put on screen while it ran.
  switch (kind) {
    case JobKind::LoadModel:
      setBusy(false);
      break;
    case JobKind::Explain:
      setBusy(false);
      for (ExplanationPane* p : {m_singlePane, m_correlatedPane})
        p->setBusy(false);  // stop saying "computing…"
      if (cancelled) {
        statusBar()->showMessage(tr("Cancelled."), 4000);
        emit jobCancelled(job);
      }
      break;
    case JobKind::Predict:
      if (!cancelled) {
        m_input->clearPrediction(failure);
        statusBar()->showMessage(failure, 8000);
      }
      break;
    case JobKind::Steer:  // the choices stay: fix the input and press again
      m_steering->showFailure(cancelled ? tr("Cancelled.") : failure);
      break;
    case JobKind::Prefetch:
      if (!cancelled)
        statusBar()->showMessage(tr("Background κ sweep failed: %1").arg(failure), 8000);
      break;
    case JobKind::Neighbours:
      if (!cancelled) statusBar()->showMessage(failure, 8000);
      break;
  }
  updateActions();
  if (const QString title = ExplainSession::failureTitle(kind); !cancelled && !title.isEmpty())
    showError(title, failure);
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
  m_session->setViewMode(mode);  // a pane that becomes visible gets its explanation
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
  const auto& model = m_session->model();
  QString device = model ? toQString(model->device()) : m_input->device();
  if (model && model->dtype() != "float32") device += QLatin1Char(' ') + toQString(model->dtype());
  m_runtimeLabel->setText(tr("%1 · %2 threads · %3")
                              .arg(device)
                              .arg(compute_threads())
                              .arg(model ? toQString(model->name()) : tr("no model")));
  m_runtimeLabel->setToolTip(toQString(runtime_report()));
}

void MainWindow::updateActions() {
  const bool haveResult = m_singlePane->explanation() || m_correlatedPane->explanation();
  m_exportFigureAction->setEnabled(haveResult);
  m_exportDataAction->setEnabled(haveResult);
  m_copyFigureAction->setEnabled(haveResult);
  m_cancelAction->setEnabled(true);  // Esc also clears a neighbourhood
  const auto& model = m_session->model();
  m_explainAction->setEnabled(model != nullptr);
  m_generateAction->setEnabled(model && model->kind() != ModelKind::Clip);
  m_generateSteeredAction->setEnabled(model && model->kind() != ModelKind::Clip);
}

void MainWindow::setBusy(bool busy, const QString& what) {
  m_progress->setVisible(busy);
  if (busy) {
    m_progress->setValue(0);
    // Loading reports no progress.
    if (m_session->isRunning(JobKind::LoadModel) && !m_session->isRunning(JobKind::Explain))
      m_progress->setRange(0, 0);
    statusBar()->showMessage(what);
  } else {
    m_progress->setRange(0, 1000);
  }
}

ExplanationPane* MainWindow::pane(Pane p) const {
  return p == Pane::Single ? m_singlePane : m_correlatedPane;
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

void MainWindow::about() {
  QString model = tr("No model loaded.");
  if (const auto& m = m_session->model())
    model =
        tr("<p><b>Model:</b> %1<br>%2<br><b>Folder:</b> %3</p>")
            .arg(toQString(m->name()).toHtmlEscaped(), toQString(m->description()).toHtmlEscaped(),
                 QDir::toNativeSeparators(m_session->modelDir()).toHtmlEscaped());
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
  m_session->cancel();
  event->accept();
}

}  // namespace atman::ui
