#include "job_runner.h"

namespace atman::ui {

JobRunner::JobRunner(QObject* parent) : QObject(parent), m_control(std::make_shared<JobControl>()) {
  registerJobTypes();
  m_thread.setObjectName(QStringLiteral("atman-explain"));
  m_worker = std::make_unique<CoreWorker>(m_control);
  m_worker->moveToThread(&m_thread);
  m_thread.start();
}

JobRunner::~JobRunner() {
  shutdown();
}

void JobRunner::shutdown() {
  if (!m_worker) return;
  cancelAll();
  m_thread.quit();
  // A forward pass in flight finishes its batch (cancel is checked between batches); model loading
  // and generation are not cancellable but take seconds at most.
  m_thread.wait();
  m_worker.reset();  // the thread has stopped: deleting from here is safe
}

template <typename Call>
JobId JobRunner::post(JobKind kind, Call&& call) {
  const JobId id = m_nextId++;
  if (!m_worker) return id;
  const bool user = kind != JobKind::Prefetch;
  if (user) m_control->userJobQueued();
  QMetaObject::invokeMethod(
      m_worker.get(),
      [worker = m_worker.get(), control = m_control, user, id, call = std::forward<Call>(call)]() {
        if (user) control->userJobDone();
        call(worker, id);
      },
      Qt::QueuedConnection);
  return id;
}

JobId JobRunner::loadModel(const QString& dir, const QString& device, const QString& dtype) {
  // The new model makes every queued or running job of the old one pointless.
  m_control->cancelAllBelow(m_nextId);
  return post(JobKind::LoadModel, [dir, device, dtype](CoreWorker* w, JobId id) {
    w->loadModel(id, dir, device, dtype);
  });
}

JobId JobRunner::predict(const PredictRequest& request) {
  const JobKind kind = request.steering.empty() ? JobKind::Predict : JobKind::Steer;
  m_control->supersede(kind, m_nextId);
  return post(kind, [request](CoreWorker* w, JobId id) { w->predict(id, request); });
}

JobId JobRunner::explain(const ExplainJob& job) {
  m_control->supersede(JobKind::Explain, m_nextId);
  return post(JobKind::Explain, [job](CoreWorker* w, JobId id) { w->explain(id, job); });
}

JobId JobRunner::prefetch(const ExplainRequest& request, std::shared_ptr<const RgbImage> image,
                          const std::vector<double>& kappas) {
  m_control->supersede(JobKind::Prefetch, m_nextId);
  return post(JobKind::Prefetch,
              [request, image = std::move(image), kappas](CoreWorker* w, JobId id) {
                w->prefetch(id, request, image, kappas);
              });
}

JobId JobRunner::neighbours(const ExplainRequest& request, std::shared_ptr<const RgbImage> image,
                            int candidate, double kappa) {
  m_control->supersede(JobKind::Neighbours, m_nextId);
  return post(JobKind::Neighbours,
              [request, image = std::move(image), candidate, kappa](CoreWorker* w, JobId id) {
                w->neighbours(id, request, image, candidate, kappa);
              });
}

JobId JobRunner::connectServer(const std::optional<ServerChoice>& server) {
  // The models and caches of the old place are no use at the new one.
  m_control->cancelAllBelow(m_nextId);
  return post(JobKind::Connect,
              [server](CoreWorker* w, JobId id) { w->connectServer(id, server); });
}

void JobRunner::cancel(JobKind kind) {
  m_control->supersede(kind, m_nextId);
}

void JobRunner::cancelAll() {
  m_control->cancelAllBelow(m_nextId);
}

}  // namespace atman::ui
