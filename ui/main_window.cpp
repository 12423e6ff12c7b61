#include "main_window.h"

#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QSlider>

#include <algorithm>
#include <utility>

#include "about_dialog.h"
#include "atman/error.h"
#include "connect_dialog.h"
#include "conversions.h"
#include "explain_session.h"
#include "explanation_pane.h"
#include "explanation_panes.h"
#include "exporter.h"
#include "image_mime.h"
#include "input_controller.h"
#include "input_panel.h"
#include "input_requests.h"
#include "model_picker.h"
#include "panel_dock.h"
#include "remote_backend.h"
#include "steering_controller.h"
#include "steering_panel.h"
#include "studio_status_bar.h"
#include "token_store.h"
#include "view_tool_bar.h"

// Resources live in the static atman_ui library; their initialiser must be referenced explicitly
// and from the global namespace.
static void initStudioResources() {
  Q_INIT_RESOURCE(app);
}

namespace atman::ui {

MainWindow::MainWindow(const StudioOptions& options, QWidget* parent)
    : QMainWindow(parent),
      m_options(options),
      m_settings(options.settingsFile, /*frozen=*/options.screenshot),
      m_tokens(std::make_unique<TokenStore>(options.keychainService)),
      m_session(std::make_unique<ExplainSession>()) {
  initStudioResources();
  setWindowTitle(tr("AtMan Studio"));
  setWindowIcon(QIcon(QStringLiteral(":/icons/atman-studio.svg")));
  setAcceptDrops(true);

  createActions();
  createMenus();
  createToolBars();
  createDocks();
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

void MainWindow::createDocks() {
  m_input = new InputPanel(this);
  m_inputDock =
      new PanelDock(tr("Input"), QStringLiteral("inputDock"), m_input, 300, m_viewMenu, this);
  addDockWidget(Qt::LeftDockWidgetArea, m_inputDock);
  m_steering = new SteeringPanel(this);
  m_steeringDock = new PanelDock(tr("Steering"), QStringLiteral("steeringDock"), m_steering, 340,
                                 m_viewMenu, this);
  addDockWidget(Qt::RightDockWidgetArea, m_steeringDock);
  m_steeringDock->hide();  // shown when a language model loads: CLIP has nothing to steer

  connect(m_input->modelPicker(), &ModelPicker::modelChosen, this, &MainWindow::openModel);
  connect(m_input, &InputPanel::openImageRequested, this, &MainWindow::openImageDialog);
  connect(m_input, &InputPanel::generateRequested, this, &MainWindow::generate);
  connect(m_input, &InputPanel::explainRequested, this, &MainWindow::explain);
  m_inputController = new InputController(*m_session, *m_input, m_settings, this);
  connect(m_inputController, &InputController::reloadRequested, this, &MainWindow::openModel);
  connect(m_steering, &SteeringPanel::message, this,
          [this](const QString& text) { m_status->post(text, 6000); });
  m_steeringController = new SteeringController(*m_session, *m_input, *m_steering, this);
  connect(m_steeringController, &SteeringController::message, this,
          [this](const QString& text, int timeoutMs) { m_status->post(text, timeoutMs); });
  connect(m_steeringController, &SteeringController::failed, this, &MainWindow::showError);
}

void MainWindow::createPanes() {
  m_panes = new ExplanationPanes(this);
  setCentralWidget(m_panes);
  connect(m_panes, &ExplanationPanes::candidateClicked, this, [this](int candidate) {
    const bool same = candidate == m_session->neighbourhood().centre;
    m_session->setNeighbourhoodCentre(same ? -1 : candidate);
  });
  connect(m_panes, &ExplanationPanes::message, this, [this](const QString& text) {
    m_status->post(QString(text).replace(QLatin1Char('\n'), QStringLiteral(" · ")));
  });

  m_exporter = new Exporter(*m_panes, *m_steering, m_settings, this);
  connect(m_steering, &SteeringPanel::exportRequested, m_exporter, &Exporter::exportSteeringDialog);
  connect(m_exporter, &Exporter::message, this,
          [this](const QString& text, int timeoutMs) { m_status->post(text, timeoutMs); });
  connect(m_exporter, &Exporter::failed, this, &MainWindow::showError);
}

void MainWindow::readSettings() {
  if (const QByteArray geometry = m_settings.geometry();
      geometry.isEmpty() || !restoreGeometry(geometry))
    resize(1400, 900);
  restoreState(m_settings.state());  // none when frozen
  m_input->modelPicker()->setRecent(m_settings.recentModels());
  m_input->setDevice(m_settings.device());
  m_input->setDtype(m_settings.dtype());
  m_viewBar->setSharedScale(m_settings.sharedScale());
  setViewOptions(m_settings.viewOptions());
  m_factorSpin->setValue(m_settings.factor());
  m_kappaSlider->setValue(kappaStep(m_settings.kappa()));
  setViewMode(m_settings.viewMode());
  updateKappaLabel();
}

void MainWindow::connectSession() {
  ExplainSession* s = m_session.get();
  connect(s, &ExplainSession::modelLoaded, this, &MainWindow::onModelLoaded);
  connect(s, &ExplainSession::backendChanged, this, &MainWindow::onBackendChanged);
  connect(s, &ExplainSession::connectionLost, this, [this] { updateActions(); });
  connect(s, &ExplainSession::connectionRestored, this, [this] { updateActions(); });
  connect(s, &ExplainSession::explainStarted, this, &MainWindow::onExplainStarted);
  connect(s, &ExplainSession::explained, this, &MainWindow::onExplained);
  connect(s, &ExplainSession::resultsChanged, this, &MainWindow::showResults);
  connect(s, &ExplainSession::resultPending, this, [this](Pane p) { pane(p)->setBusy(true); });
  connect(s, &ExplainSession::neighbourhoodChanged, this, &MainWindow::applyNeighbourhood);
  connect(s, &ExplainSession::jobCancelled, this,
          [this](JobKind kind, JobId job) { onJobEnded(kind, job, QString()); });
  connect(s, &ExplainSession::jobFailed, this, &MainWindow::onJobEnded);
}

// ---------------------------------------------------------------------------------------------
// Loading

void MainWindow::openModel(const QString& dirOrName) {
  if (dirOrName.trimmed().isEmpty()) return;
  m_steeringController->modelLoading();
  // Resolving the name and loading run on the worker; errors come back as jobFailed().
  m_session->loadModel(dirOrName, m_input->device(), m_input->dtype());
  const QFileInfo info(dirOrName);
  m_status->setBusy(true,
                    tr("Loading %1…").arg(info.fileName().isEmpty() ? dirOrName : info.fileName()));
  updateActions();
}

void MainWindow::onModelLoaded(const LoadedModel& loaded) {
  m_status->setBusy(false);
  const std::shared_ptr<const Model>& model = loaded.model;
  m_modelName = toQString(model->name());
  if (!m_session->backend().remote) {  // a server's model is a name there, not a folder here
    m_settings.addModel(loaded.dir);
    m_input->modelPicker()->setRecent(m_settings.recentModels());
  }
  m_input->modelPicker()->setCurrentModel(loaded.dir);
  m_input->setModel(model, loaded.defaultPrompt);
  m_steeringController->setModel(model, loaded.inputLayout);
  // Steering is for models that generate; the person may still close the dock.
  m_steeringDock->setVisible(model->generates());
  m_panes->clear();
  m_panes->setShowsImage(model->reads_images());
  setWindowTitle(tr("AtMan Studio — %1").arg(toQString(model->name())));
  m_status->setRuntime(m_session->model().get(), m_input->device());
  updateActions();
  m_status->post(tr("Loaded %1").arg(toQString(model->description())), 6000);
  m_inputController->requestPrediction();
}

// ---------------------------------------------------------------------------------------------
// Where the jobs run

ConnectDialog* MainWindow::openConnectDialog() {
  if (!m_connectDialog) {
    m_connectDialog = new ConnectDialog(*m_tokens, this);
    connect(m_connectDialog, &ConnectDialog::connectRequested, this, &MainWindow::connectServer);
    connect(m_connectDialog, &ConnectDialog::disconnectRequested, this, &MainWindow::runHere);
  }
  const ServerChoice last = m_server.address.isEmpty() ? m_settings.server() : m_server;
  m_connectDialog->setChoice(last, m_settings.rememberServerToken());
  m_connectDialog->setConnected(m_session->backend());
  if (m_session->serverUnreachable())
    m_connectDialog->showError(
        tr("The server at %1 does not answer.").arg(m_session->backend().where));
  m_connectDialog->open();
  return m_connectDialog;
}

void MainWindow::connectServer(const ServerChoice& server, bool rememberToken) {
  m_server = server;
  m_settings.setServer(server, rememberToken);  // address and CA only: TokenStore has the token
  m_session->connectServer(server);
  m_status->setBusy(true, tr("Connecting to %1…").arg(server.address));
  updateActions();
}

void MainWindow::reconnect() {
  ServerChoice server = m_server.address.isEmpty() ? m_settings.server() : m_server;
  if (server.address.isEmpty()) {
    openConnectDialog();
    return;
  }
  if (server.token.isEmpty()) server.token = m_tokens->token(server.address);
  connectServer(server, m_settings.rememberServerToken());
}

void MainWindow::runHere() {
  m_session->connectServer(std::nullopt);
  updateActions();
}

void MainWindow::onBackendChanged(const BackendInfo& info) {
  m_status->setBusy(false);
  if (m_connectDialog) {
    m_connectDialog->setConnected(info);
    if (info.remote) m_connectDialog->accept();
  }
  m_input->setDevices(info.devices);
  m_input->modelPicker()->setServerModels(info.models, info.remote ? info.where : QString());
  if (!info.remote) m_input->modelPicker()->setRecent(m_settings.recentModels());
  // The model lived at the old place; the results on screen stay until the next explanation.
  m_input->setModel(nullptr, {});
  m_steeringController->setModel(nullptr);
  m_status->setRuntime(nullptr, m_input->device());
  setWindowTitle(tr("AtMan Studio"));
  updateActions();
  // Load the same model at the new place when it has one of that name.
  const QString name = std::exchange(m_modelName, QString());
  if (name.isEmpty() || m_session->isRunning(JobKind::LoadModel)) return;  // one was chosen since
  if (info.remote) {
    if (info.models.contains(name)) openModel(name);
    return;
  }
  QStringList candidates = m_settings.recentModels();
  candidates << ModelPicker::bundledModels();
  for (const QString& dir : candidates)
    if (QFileInfo(dir).fileName() == name) {
      openModel(dir);
      return;
    }
}

bool MainWindow::openImage(const QString& path) {
  try {
    setImage(load_image(toStd(path)), QFileInfo(path).absoluteFilePath());
  } catch (const Error& e) {
    showError(tr("Cannot open the image"), toQString(e.what()));
    return false;
  }
  m_settings.setImageFolder(QFileInfo(path).absolutePath());
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
  auto image = std::make_shared<const RgbImage>(std::move(decoded));
  m_steeringController->setImage(image, origin);
  m_session->setImage(image, origin);
  m_status->setBusy(false);
  m_panes->setImage(image);
  m_input->setImage(toQImage(*image), origin);
  m_status->post(tr("Image %1 (%2 × %3)")
                     .arg(QFileInfo(origin).fileName())
                     .arg(image->width)
                     .arg(image->height),
                 5000);
  updateActions();
  const auto& model = m_session->model();
  if (model && model->reads_images()) m_inputController->requestPrediction();
}

void MainWindow::openImageDialog() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open Image"), m_settings.imageFolder(),
      tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff);;All files (*)"));
  if (!path.isEmpty()) openImage(path);
}

void MainWindow::openModelDialog() {
  m_input->modelPicker()->browse();
}

void MainWindow::pasteImage() {
  if (!openMimeImage(QApplication::clipboard()->mimeData(), MimePreference::Pixels,
                     tr("clipboard")))
    m_status->post(tr("The clipboard holds no image."), 5000);
}

bool MainWindow::openMimeImage(const QMimeData* mime, MimePreference prefer,
                               const QString& origin) {
  const MimeImage image = imageFromMime(mime, prefer);
  if (const QString* path = std::get_if<QString>(&image))
    openImage(*path);
  else if (const auto* png = std::get_if<std::vector<uint8_t>>(&image))
    setImageBytes(*png, origin);
  return !std::holds_alternative<std::monostate>(image);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (offersImage(event->mimeData())) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  if (openMimeImage(event->mimeData(), MimePreference::Files, tr("dropped image")))
    event->acceptProposedAction();
}

// ---------------------------------------------------------------------------------------------
// What the model says (the plain prediction is InputController's)

void MainWindow::generate() {
  m_inputController->requestPrediction();
}

void MainWindow::generateSteered() {
  m_steeringController->generate();
}

// ---------------------------------------------------------------------------------------------
// Explaining

void MainWindow::explain() {
  const auto& model = m_session->model();
  if (m_session->isRunning(JobKind::LoadModel)) {
    m_status->post(tr("The model is still loading; press Explain again when it is ready."), 5000);
    return;
  }
  if (m_session->isRunning(JobKind::Connect)) {
    m_status->post(tr("Still connecting; press Explain again when the model is loaded."), 5000);
    return;
  }
  if (!model) {
    showError(tr("Nothing to explain"), tr("Choose a model first."));
    return;
  }
  if (const QString missing = missingForExplain(*m_input, *model, m_session->image() != nullptr);
      !missing.isEmpty()) {
    showError(tr("Nothing to explain"), missing);
    return;
  }
  const ExplainRequest request = explainRequest(*m_input, model, m_factorSpin->value());
  m_panes->clearStale(ExplainSession::tokenTextFor(request));
  if (!m_session->explain(request))
    m_status->post(tr("Shown from the results already computed."), 4000);
}

void MainWindow::onExplainStarted(JobId, bool single, bool correlated) {
  if (single) pane(Pane::Single)->setBusy(true);
  if (correlated) pane(Pane::Correlated)->setBusy(true);
  m_status->setBusy(true, correlated && !single
                              ? tr("Explaining at κ = %1…").arg(kappaText(kappa()))
                              : tr("Explaining…"));
  updateActions();
}

void MainWindow::onExplained(JobId, const ExplainResult& result) {
  m_status->setBusy(false);
  showResults();
  m_exporter->setUnexported();
  m_status->postExplained(result.correlated ? *result.correlated : *result.single);
  updateActions();
}

void MainWindow::showResults() {
  m_panes->showResults(*m_session);
  applyNeighbourhood(m_session->neighbourhood());
}

void MainWindow::cancel() {
  if (!m_session->cancel()) {
    m_session->setNeighbourhoodCentre(-1);  // Esc with nothing running: clear the neighbourhood
    return;
  }
  m_status->post(tr("Cancelling…"));
}

void MainWindow::onJobEnded(JobKind kind, JobId, const QString& failure) {
  // The status bar says why on its own line (StudioStatusBar); the panes stop saying "computing…".
  if (kind == JobKind::Explain) m_panes->setBusy(false);
  updateActions();
  if (kind == JobKind::Connect && m_connectDialog && m_connectDialog->isVisible()) {
    // The dialog is still open: it says why there, beside the fields to correct.
    if (!failure.isNull()) {
      m_connectDialog->showError(failure);
      m_status->showMessage(QString(failure).replace(QLatin1Char('\n'), QLatin1Char(' ')), 10000);
    }
    return;
  }
  if (const QString title = ExplainSession::failureTitle(kind);
      !failure.isNull() && !title.isEmpty())
    showError(title, failure);
}

void MainWindow::applyNeighbourhood(const Neighbourhood& neighbourhood) {
  m_panes->setNeighbourhood(neighbourhood);
  m_status->postNeighbourhood(neighbourhood);
}

// ---------------------------------------------------------------------------------------------
// View

void MainWindow::setViewMode(ViewMode mode) {
  const int index = m_modeCombo->findData(int(mode));
  if (index >= 0) m_modeCombo->setCurrentIndex(index);
  m_modeActions[int(mode)]->setChecked(true);
  m_settings.setViewMode(mode);
  // The slider stays enabled in single mode too: κ also sets the neighbourhood a click shows.
  m_panes->setViewMode(mode);
  m_session->setViewMode(mode);  // a pane that becomes visible gets its explanation
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
  m_viewBar->setOptions(options);  // in step when called from outside (tests, command line)
  m_settings.setViewOptions(options, m_viewBar->sharedScale());
  m_panes->setViewOptions(options, m_viewBar->sharedScale());
}

ViewOptions MainWindow::viewOptions() const {
  return m_panes->viewOptions();
}

ExplanationPane* MainWindow::pane(Pane p) const {
  return m_panes->pane(p);
}

// ---------------------------------------------------------------------------------------------
// Dialogs and closing

void MainWindow::about() {
  showAboutDialog(this, m_session->model().get(), m_session->modelDir());
}

void MainWindow::showError(const QString& title, const QString& message) {
  emit errorShown(message);
  m_status->showMessage(QString(message).replace(QLatin1Char('\n'), QLatin1Char(' ')), 10000);
  if (m_options.screenshot) return;  // the command line reports it and exits
  // open(), not exec(): the event loop keeps running, jobs keep arriving, tests can close it.
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (m_options.confirmClose && !m_options.screenshot && !m_exporter->confirmDiscard()) {
    event->ignore();
    return;
  }
  m_settings.setViewOptions(m_panes->viewOptions(), m_panes->sharedScale());
  m_settings.setKappa(kappa());
  m_settings.setFactor(m_factorSpin->value());
  m_settings.setViewMode(m_panes->viewMode());
  m_settings.saveWindow(saveGeometry(), saveState());
  m_session->cancel();
  event->accept();
}

}  // namespace atman::ui
