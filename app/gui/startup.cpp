#include "startup.h"

#include <QFileInfo>
#include <QTimer>

#include "explain_session.h"
#include "input_panel.h"
#include "model_picker.h"
#include "settings.h"

namespace atman::ui {

Startup::Startup(MainWindow& window, StartupOptions options, QObject* parent)
    : QObject(parent), m_window(window), m_options(std::move(options)) {
  // Each step waits for the one before; any error on the way ends the start.
  const ExplainSession* session = window.session();
  // The window connected to the session first, so it has shown each result by now.
  connect(session, &ExplainSession::modelLoaded, this, [this] {
    if (m_pending) onModelLoaded();
  });
  connect(session, &ExplainSession::predicted, this, [this] {
    if (m_pending && !m_window.session()->isRunning(JobKind::Explain)) explainOrFinish();
  });
  connect(session, &ExplainSession::explained, this, [this] { finish(true); });
  connect(&window, &MainWindow::errorShown, this,
          [this](const QString& message) { finish(false, message); });
  connect(session, &ExplainSession::jobFailed, this,
          [this](JobKind kind, JobId, const QString& message) {
            if (kind == JobKind::LoadModel || kind == JobKind::Predict || kind == JobKind::Explain)
              finish(false, message);
          });
  connect(session, &ExplainSession::jobCancelled, this, [this](JobKind kind) {
    if (kind == JobKind::LoadModel || kind == JobKind::Explain) finish(false, tr("cancelled"));
  });
}

void Startup::run() {
  if (m_options.mode) m_window.setViewMode(*m_options.mode);
  if (m_options.kappa) m_window.setKappa(*m_options.kappa);
  InputPanel* input = m_window.inputPanel();
  if (!m_options.prompt.isEmpty()) input->setPrompt(m_options.prompt);
  if (!m_options.target.isEmpty()) input->setTarget(m_options.target);
  if (!m_options.model.isEmpty()) {
    // The image and the explanation follow once the model has loaded.
    m_pending = true;
    m_window.openModel(m_options.model);
    return;
  }
  if (m_options.screenshot) {
    m_pending = true;
    QTimer::singleShot(0, this, [this] { finish(false, tr("--screenshot needs --model")); });
    return;
  }
  if (!m_options.image.isEmpty()) m_window.openImage(m_options.image);
  if (!m_options.openLastModel) return;
  // Without a model on the command line: the last one used, else the bundled shapes-clip.
  QString last = Settings(m_options.settingsFile).lastModel();
  if (last.isEmpty() || !QFileInfo(last).isDir()) {
    for (const QString& dir : ModelPicker::bundledModels())
      if (QFileInfo(dir).fileName() == QLatin1String("shapes-clip")) last = dir;
  }
  if (!last.isEmpty() && QFileInfo(last).isDir()) m_window.openModel(last);
}

void Startup::onModelLoaded() {
  if (!m_options.image.isEmpty() && !m_window.openImage(m_options.image)) return;  // finished
  InputPanel* input = m_window.inputPanel();
  if (!m_options.prompt.isEmpty()) input->setPrompt(m_options.prompt);
  if (!m_options.target.isEmpty()) input->setTarget(m_options.target);
  m_window.generate();  // with the prompt and labels just set
  if (!input->target().isEmpty())
    explainOrFinish();
  else if (!m_window.session()->isRunning(JobKind::Predict))
    finish(true);  // nothing to explain and nothing to wait for
  // else: the model's answer becomes the target (ExplainSession::predicted) and is explained
}

void Startup::explainOrFinish() {
  if (m_window.inputPanel()->target().isEmpty()) {
    finish(true);
    return;
  }
  m_window.explain();
  // Answered from the cache: no job to wait for. (A missing input ended it through errorShown.)
  if (!m_window.session()->isRunning(JobKind::Explain)) finish(true);
}

void Startup::finish(bool ok, const QString& message) {
  if (!m_pending) return;
  m_pending = false;
  emit finished(ok, message);
}

}  // namespace atman::ui
