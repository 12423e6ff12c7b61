#include "explain_session.h"

#include <algorithm>
#include <cmath>

#include "conversions.h"
#include "job_runner.h"

namespace atman::ui {

ExplainSession::ExplainSession(QObject* parent)
    : QObject(parent), m_runner(std::make_unique<JobRunner>()) {
  // The κ sweep steps aside for user jobs (JobControl) and resumes from the core's cache after.
  slot(JobKind::Prefetch).retryWhenCancelled = true;
  m_backend.where = tr("this computer");
  m_kappaTimer.setSingleShot(true);
  m_kappaTimer.setInterval(150);
  connect(&m_kappaTimer, &QTimer::timeout, this, &ExplainSession::showOrCompute);

  const CoreWorker* worker = m_runner->worker();
  connect(worker, &CoreWorker::modelLoaded, this, &ExplainSession::onModelLoaded);
  connect(worker, &CoreWorker::backendChanged, this, &ExplainSession::onBackendChanged);
  connect(worker, &CoreWorker::connectionLost, this, [this](const QString& message) {
    m_connectionLost = true;
    emit connectionLost(message);
  });
  connect(worker, &CoreWorker::predicted, this, &ExplainSession::onPredicted);
  connect(worker, &CoreWorker::explained, this, &ExplainSession::onExplained);
  connect(worker, &CoreWorker::prefetched, this, &ExplainSession::onPrefetched);
  connect(worker, &CoreWorker::neighboursFound, this, &ExplainSession::onNeighbours);
  connect(worker, &CoreWorker::failed, this, &ExplainSession::onFailed);
  connect(worker, &CoreWorker::cancelled, this, &ExplainSession::onCancelled);
  connect(worker, &CoreWorker::progress, this, &ExplainSession::onProgress);
}

ExplainSession::~ExplainSession() {
  // Stop the worker before the receivers of its results disappear.
  m_runner->shutdown();
}

QString ExplainSession::failureTitle(JobKind kind) {
  switch (kind) {
    case JobKind::LoadModel:
      return tr("Cannot load the model");
    case JobKind::Explain:
      return tr("Cannot explain");
    case JobKind::Steer:
      return tr("Cannot generate the steered answer");
    case JobKind::Connect:
      return tr("Cannot connect to the server");
    case JobKind::Predict:     // the input panel says it where the answer would be
    case JobKind::Prefetch:    // background work
    case JobKind::Neighbours:  // a hover detail
      break;
  }
  return {};
}

void ExplainSession::start(JobKind kind, JobId id) {
  slot(kind).id = id;
  emit jobsChanged();
}

std::optional<JobKind> ExplainSession::finish(JobId job) {
  for (size_t i = 0; i < m_jobs.size(); ++i)
    if (job != 0 && m_jobs[i].id == job) {
      m_jobs[i].id = 0;
      emit jobsChanged();
      return static_cast<JobKind>(i);
    }
  return std::nullopt;
}

void ExplainSession::drop(JobKind kind) {
  if (!isRunning(kind)) return;
  m_runner->cancel(kind);
  slot(kind).id = 0;
  emit jobsChanged();
}

// ---------------------------------------------------------------------------------------------
// Model and image

void ExplainSession::loadModel(const QString& dirOrName, const QString& device,
                               const QString& dtype) {
  m_kappaTimer.stop();
  // Loading supersedes every other job (JobRunner cancels them); forgetting their ids here drops
  // whatever they still deliver.
  for (JobSlot& s : m_jobs) s.id = 0;
  start(JobKind::LoadModel, m_runner->loadModel(dirOrName, device, dtype));
}

void ExplainSession::onModelLoaded(JobId job, const LoadedModel& loaded) {
  noteAnswer();
  if (!finish(job)) return;
  m_model = loaded.model;
  m_modelDir = loaded.dir;
  ++m_modelSerial;
  m_cache.clear();
  m_request.reset();
  m_neighbourhood = {};
  emit modelLoaded(loaded);
}

void ExplainSession::noteAnswer() {
  if (!m_connectionLost) return;
  m_connectionLost = false;
  emit connectionRestored();
}

void ExplainSession::connectServer(const std::optional<ServerChoice>& server) {
  m_kappaTimer.stop();
  for (JobSlot& s : m_jobs) s.id = 0;  // superseded, as by loading a model
  start(JobKind::Connect, m_runner->connectServer(server));
}

void ExplainSession::onBackendChanged(JobId job, const BackendInfo& info) {
  // Even a connect superseded at its very end has moved the worker: follow it, so what the
  // window says is where the jobs run.
  finish(job);
  m_backend = info;
  m_connectionLost = false;
  // The model lived at the old place: the window loads one again where the jobs run now.
  m_model.reset();
  m_modelDir.clear();
  ++m_modelSerial;
  m_cache.clear();
  m_request.reset();
  m_neighbourhood = {};
  emit backendChanged(info);
}

void ExplainSession::setImage(std::shared_ptr<const RgbImage> image, const QString& origin) {
  m_image = std::move(image);
  m_imageOrigin = origin;
  ++m_imageSerial;
  // Results for the old image are meaningless now: stop computing them and forget them.
  for (JobKind kind : {JobKind::Explain, JobKind::Prefetch, JobKind::Neighbours, JobKind::Steer}) {
    m_runner->cancel(kind);
    slot(kind).id = 0;
  }
  m_kappaTimer.stop();
  m_cache.clear();
  m_request.reset();
  m_neighbourhood = {};
  emit jobsChanged();
}

std::shared_ptr<const RgbImage> ExplainSession::jobImage() const {
  return m_model && m_model->reads_images() ? m_image : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Predictions

void ExplainSession::predict(PredictRequest request) {
  request.model = m_model;
  const JobKind kind = request.steering.empty() ? JobKind::Predict : JobKind::Steer;
  start(kind, m_runner->predict(request));  // supersedes the older one of its kind
}

void ExplainSession::onPredicted(JobId job, const Prediction& prediction) {
  noteAnswer();
  const std::optional<JobKind> kind = finish(job);
  if (kind == JobKind::Steer) {
    emit steered(prediction);
  } else if (kind == JobKind::Predict) {
    emit predicted(prediction);
    maybePrefetch();
  }
}

// ---------------------------------------------------------------------------------------------
// Explaining

QString ExplainSession::tokenTextFor(const ExplainRequest& r) {
  // CLIP token explanations index the target label; everything else indexes the prompt.
  const bool clip = r.model && r.model->target_is_label();
  return toQString(clip ? r.target : r.prompt);
}

QString ExplainSession::tokenText() const {
  return m_request ? tokenTextFor(*m_request) : QString();
}

ExplainRequest ExplainSession::requestFor(SuppressionMode mode) const {
  ExplainRequest r = *m_request;
  r.mode = mode;
  r.kappa = kappa();
  return r;
}

SharedExplanation ExplainSession::result(Pane pane) const {
  return pane == Pane::Single ? m_cache.single() : m_cache.correlated(m_kappaStep);
}

QString ExplainSession::resultId(Pane pane) const {
  return pane == Pane::Single ? m_cache.input() + QStringLiteral("/single")
                              : m_cache.input() + QStringLiteral("/correlated/%1").arg(m_kappaStep);
}

void ExplainSession::setViewMode(ViewMode mode) {
  m_mode = mode;
  // A pane that becomes visible gets its explanation, from the cache or a job.
  if (!isRunning(JobKind::Explain)) showOrCompute();
}

void ExplainSession::setKappaStep(int step) {
  step = std::clamp(step, 0, kKappaSteps);
  if (step == m_kappaStep) return;
  m_kappaStep = step;
  // The neighbourhood shown belongs to the old κ: recompute it at the new one.
  if (m_neighbourhood.centre >= 0) setNeighbourhoodCentre(m_neighbourhood.centre);
  if (m_cache.input().isEmpty() || !showsPane(m_mode, Pane::Correlated)) return;
  if (m_cache.correlated(step)) {
    m_kappaTimer.stop();
    emit resultsChanged(true);
  } else {
    emit resultPending(Pane::Correlated);
    m_kappaTimer.start();
  }
}

bool ExplainSession::explain(ExplainRequest request) {
  request.model = m_model;
  request.image.reset();  // the pixels travel beside the request (withImage())
  const quint64 imageSerial = jobImage() ? m_imageSerial : 0;
  if (m_cache.setInput(inputKey(request, m_modelSerial, imageSerial))) {
    // A new input: the old neighbourhood and any background sweep belong to the old one.
    m_neighbourhood = {};
    emit neighbourhoodChanged(m_neighbourhood);
    drop(JobKind::Prefetch);
  }
  m_request = std::move(request);
  m_prefetchHeld = false;
  showOrCompute();
  return isRunning(JobKind::Explain);
}

void ExplainSession::showOrCompute() {
  if (!m_request || m_cache.input().isEmpty()) return;
  emit resultsChanged(false);
  ExplainJob job;
  if (showsPane(m_mode, Pane::Single) && !m_cache.single())
    job.single = requestFor(SuppressionMode::Single);
  if (showsPane(m_mode, Pane::Correlated) && !m_cache.correlated(m_kappaStep))
    job.correlated = requestFor(SuppressionMode::Correlated);
  if (!job.single && !job.correlated) return;
  job.image = jobImage();
  const JobId id = m_runner->explain(job);
  ++m_explainJobsStarted;
  start(JobKind::Explain, id);
  emit explainStarted(id, job.single.has_value(), job.correlated.has_value());
}

void ExplainSession::onExplained(JobId job, const ExplainResult& result) {
  noteAnswer();
  if (!finish(job)) return;  // superseded: a newer request owns the results
  m_cache.store(result.single);
  m_cache.store(result.correlated);
  emit explained(job, result);
  // A κ the slider reached while this job ran may still be missing.
  if (m_request && showsPane(m_mode, Pane::Correlated) && !m_cache.correlated(m_kappaStep))
    showOrCompute();
  else
    maybePrefetch();
}

void ExplainSession::onProgress(JobId job, double fraction) {
  if (job == 0) return;
  if (job == slot(JobKind::Explain).id)
    emit explainProgress(fraction);
  else if (job == slot(JobKind::Prefetch).id)
    emit prefetchProgress(fraction);
}

// ---------------------------------------------------------------------------------------------
// The κ sweep in the background

void ExplainSession::setPrefetchEnabled(bool enabled) {
  m_prefetchEnabled = enabled;
  if (!enabled) drop(JobKind::Prefetch);
}

void ExplainSession::maybePrefetch() {
  // After the first correlated result for an input, compute every other κ in the background, so
  // the slider answers at once. It yields to user jobs and resumes from the core's cache.
  if (!m_prefetchEnabled || m_prefetchHeld || !m_request || isRunning(JobKind::Prefetch) ||
      isRunning(JobKind::Explain) || isRunning(JobKind::LoadModel))
    return;
  if (m_cache.input().isEmpty() || m_cache.correlatedCount() == 0 || m_cache.hasAllKappas()) return;
  m_prefetchInput = m_cache.input();
  start(JobKind::Prefetch,
        m_runner->prefetch(requestFor(SuppressionMode::Correlated), jobImage(), allKappas()));
  emit prefetchStarted();
}

void ExplainSession::onPrefetched(JobId job, const ExplanationList& sweep) {
  noteAnswer();
  if (!finish(job)) return;
  if (m_prefetchInput != m_cache.input()) return;
  const bool wasMissing = !m_cache.correlated(m_kappaStep);
  for (const SharedExplanation& e : sweep) m_cache.store(e);
  if (wasMissing && showsPane(m_mode, Pane::Correlated)) {
    m_kappaTimer.stop();
    emit resultsChanged(true);
  }
  emit prefetchFinished();
}

// ---------------------------------------------------------------------------------------------
// Neighbourhoods

void ExplainSession::setNeighbourhoodCentre(int candidate) {
  if (candidate < 0 || !m_request) {
    m_neighbourhood = {};
    emit neighbourhoodChanged(m_neighbourhood);
    return;
  }
  const double k = kappa();
  // The correlated explanation at this κ already records what each candidate suppressed.
  if (const SharedExplanation e = m_cache.correlated(m_kappaStep);
      e && candidate < static_cast<int>(e->candidates.size())) {
    m_neighbourhood = {candidate, k, e->candidates[candidate].suppressed};
    emit neighbourhoodChanged(m_neighbourhood);
    return;
  }
  m_neighbourhood = {candidate, k, {}};
  emit neighbourhoodChanged(m_neighbourhood);
  start(JobKind::Neighbours,
        m_runner->neighbours(requestFor(SuppressionMode::Correlated), jobImage(), candidate, k));
}

void ExplainSession::onNeighbours(JobId job, const NeighbourResult& result) {
  noteAnswer();
  if (!finish(job)) return;
  if (result.candidate == m_neighbourhood.centre && std::abs(result.kappa - kappa()) < 1e-9) {
    m_neighbourhood.members = result.factors;
    emit neighbourhoodChanged(m_neighbourhood);
  }
  maybePrefetch();
}

// ---------------------------------------------------------------------------------------------
// Ends without a result

bool ExplainSession::cancel() {
  const bool running = std::any_of(m_jobs.begin(), m_jobs.end(), [this](const JobSlot& s) {
    return s.id != 0 && &s != &slot(JobKind::Neighbours);
  });
  if (!running) return false;
  m_runner->cancelAll();
  m_prefetchHeld = true;
  m_kappaTimer.stop();
  return true;
}

void ExplainSession::onCancelled(JobId job) {
  const std::optional<JobKind> kind = finish(job);
  if (!kind) return;
  emit jobCancelled(*kind, job);
  // It stepped aside for a user job (which restarts it when done) or was cancelled.
  if (slot(*kind).retryWhenCancelled && !isRunning(JobKind::Explain)) maybePrefetch();
}

void ExplainSession::onFailed(JobId job, const QString& message) {
  if (const std::optional<JobKind> kind = finish(job)) emit jobFailed(*kind, job, message);
}

}  // namespace atman::ui
