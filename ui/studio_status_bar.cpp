#include "studio_status_bar.h"

#include <QLabel>
#include <QProgressBar>

#include <cmath>

#include "atman/model.h"
#include "atman/runtime.h"
#include "conversions.h"
#include "explain_session.h"
#include "explanation_cache.h"

namespace atman::ui {

StudioStatusBar::StudioStatusBar(const ExplainSession& session, QWidget* parent)
    : QStatusBar(parent), m_session(session) {
  m_progress = new QProgressBar(this);
  m_progress->setMaximumWidth(200);
  m_progress->setRange(0, 1000);
  m_progress->setTextVisible(false);
  m_progress->hide();
  m_prefetchLabel = new QLabel(this);
  m_prefetchLabel->hide();
  m_runtimeLabel = new QLabel(this);
  addPermanentWidget(m_prefetchLabel);
  addPermanentWidget(m_progress);
  addPermanentWidget(m_runtimeLabel);

  connect(&session, &ExplainSession::explainProgress, this, [this](double fraction) {
    m_progress->setRange(0, 1000);
    m_progress->setValue(static_cast<int>(std::lround(1000 * fraction)));
  });
  connect(&session, &ExplainSession::prefetchStarted, this,
          [this] { m_prefetchLabel->setText(tr("Computing every κ…")); });
  connect(&session, &ExplainSession::prefetchProgress, this, [this](double fraction) {
    m_prefetchLabel->setText(tr("Computing every κ… %1 %").arg(static_cast<int>(100 * fraction)));
  });
  connect(&session, &ExplainSession::prefetchFinished, this,
          [this] { showMessage(tr("Every κ is ready: the slider redraws instantly."), 4000); });
  connect(&session, &ExplainSession::jobsChanged, this,
          [this] { m_prefetchLabel->setVisible(m_session.isRunning(JobKind::Prefetch)); });
  connect(&session, &ExplainSession::backendChanged, this, [this](const BackendInfo& info) {
    m_modelName.clear();
    updateRuntime();
    post(info.remote ? tr("Connected to %1: the jobs run there.").arg(info.where)
                     : tr("The jobs run on this computer."),
         6000);
  });
  connect(&session, &ExplainSession::connectionLost, this, [this](const QString& message) {
    updateRuntime();
    post(tr("Lost the server: %1")
             .arg(QString(message).replace(QLatin1Char('\n'), QLatin1Char(' '))));
  });
  connect(&session, &ExplainSession::connectionRestored, this, &StudioStatusBar::updateRuntime);
  connect(&session, &ExplainSession::jobCancelled, this,
          [this](JobKind kind) { jobEnded(kind, QString()); });
  connect(&session, &ExplainSession::jobFailed, this,
          [this](JobKind kind, JobId, const QString& failure) { jobEnded(kind, failure); });
}

void StudioStatusBar::postExplained(const Explanation& e) {
  post(tr("Explained “%1”: %2 candidates, %3 forwards in %4 s")
           .arg(toQString(e.target))
           .arg(e.candidates.size())
           .arg(e.timings.forwards)
           .arg(e.timings.total_seconds, 0, 'f', 2),
       8000);
}

void StudioStatusBar::postNeighbourhood(const Neighbourhood& neighbourhood) {
  if (neighbourhood.centre >= 0 && !neighbourhood.members.empty())
    post(tr("Correlated neighbourhood at κ = %1: %2 candidates suppressed together "
            "(factors shown; Esc clears)")
             .arg(kappaText(neighbourhood.kappa))
             .arg(neighbourhood.members.size()));
}

void StudioStatusBar::jobEnded(JobKind kind, const QString& failure) {
  const bool cancelled = failure.isNull();
  // What each kind of job had put on the line while it ran, and why it ended. A failure that
  // needs a dialog is the window's; the input and steering panels say their own.
  switch (kind) {
    case JobKind::LoadModel:
    case JobKind::Connect:  // the window (or the Connect dialog) says why
      setBusy(false);
      break;
    case JobKind::Explain:
      setBusy(false);
      if (cancelled) post(tr("Cancelled."), 4000);
      break;
    case JobKind::Predict:  // the input panel shows why too (InputController)
    case JobKind::Neighbours:
      if (!cancelled) post(failure, 8000);
      break;
    case JobKind::Steer:  // SteeringController's
      break;
    case JobKind::Prefetch:
      if (!cancelled) post(tr("Background κ sweep failed: %1").arg(failure), 8000);
      break;
  }
}

void StudioStatusBar::post(const QString& text, int timeoutMs) {
  if (text.isEmpty())
    clearMessage();
  else
    showMessage(text, timeoutMs);
}

void StudioStatusBar::setBusy(bool busy, const QString& what) {
  m_progress->setVisible(busy);
  if (busy) {
    m_progress->setValue(0);
    if (m_session.isRunning(JobKind::LoadModel) && !m_session.isRunning(JobKind::Explain))
      m_progress->setRange(0, 0);
    showMessage(what);
  } else {
    m_progress->setRange(0, 1000);
  }
}

void StudioStatusBar::setRuntime(const Model* model, const QString& chosenDevice) {
  m_device = model ? toQString(model->device()) : chosenDevice;
  if (model && model->dtype() != "float32")
    m_device += QLatin1Char(' ') + toQString(model->dtype());
  m_modelName = model ? toQString(model->name()) : QString();
  updateRuntime();
}

QString StudioStatusBar::runtimeText() const {
  return m_runtimeLabel->text();
}

void StudioStatusBar::updateRuntime() {
  const BackendInfo& backend = m_session.backend();
  const QString model = m_modelName.isEmpty() ? tr("no model") : m_modelName;
  if (!backend.remote) {
    m_runtimeLabel->setText(
        tr("%1 · %2 threads · %3").arg(m_device).arg(compute_threads()).arg(model));
    m_runtimeLabel->setToolTip(toQString(runtime_report()));
    m_runtimeLabel->setStyleSheet(QString());
  } else if (m_session.serverUnreachable()) {
    m_runtimeLabel->setText(tr("%1 unreachable · %2").arg(backend.where, model));
    m_runtimeLabel->setToolTip(
        tr("The server at %1 does not answer; the results shown stay. File → Reconnect tries "
           "again.")
            .arg(backend.where));
    m_runtimeLabel->setStyleSheet(QStringLiteral("color: #b2182b;"));
  } else {
    m_runtimeLabel->setText(tr("%1 on %2 · %3").arg(m_device, backend.where, model));
    m_runtimeLabel->setToolTip(
        tr("The jobs run on the server at %1 (AtMan %2).").arg(backend.where, backend.version));
    m_runtimeLabel->setStyleSheet(QString());
  }
}

}  // namespace atman::ui
