// Owns the worker thread (the Qt mandelbrot-example pattern): posts jobs to the CoreWorker,
// hands out job ids, cancels, and on destruction cancels everything and waits for the thread.
// Lives on the GUI thread. Results are the worker's own signals: connect to worker() directly, and
// Qt delivers them queued on the receiver's thread.
#pragma once

#include <QObject>
#include <QThread>

#include <memory>
#include <optional>

#include "core_worker.h"
#include "job_control.h"
#include "jobs.h"

namespace atman::ui {

class JobRunner : public QObject {
  Q_OBJECT

 public:
  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  // Each returns the new job's id. A new job of one kind supersedes the older jobs of that kind;
  // loading a model supersedes everything. User jobs make a running prefetch step aside.
  JobId loadModel(const QString& dirOrName, const QString& device,
                  const QString& dtype = QStringLiteral("auto"));
  JobId predict(const PredictRequest& request);  // with steering: a Steer job
  JobId explain(const ExplainJob& job);
  // `image`: the pixels the request leaves out (null for text-only models); see withImage().
  JobId prefetch(const ExplainRequest& request, std::shared_ptr<const RgbImage> image,
                 const std::vector<double>& kappas);
  JobId neighbours(const ExplainRequest& request, std::shared_ptr<const RgbImage> image,
                   int candidate, double kappa);

  // Where the jobs after this one run: `server`, or this process (nullopt). Like loading a model,
  // it supersedes everything.
  JobId connectServer(const std::optional<ServerChoice>& server);

  void cancel(JobKind kind);  // running and queued jobs of this kind
  void cancelAll();
  // Cancels everything and waits for the worker thread to finish its current batch.
  void shutdown();

  // The sender of every result, progress, failure and cancellation; null after shutdown().
  const CoreWorker* worker() const { return m_worker.get(); }

 private:
  // Queues `call(worker)` on the worker thread; user jobs are counted so prefetches yield to them.
  template <typename Call>
  JobId post(JobKind kind, Call&& call);

  std::shared_ptr<JobControl> m_control;
  QThread m_thread;
  // Not a Qt child (it lives on the other thread): destroyed here once the thread has stopped.
  std::unique_ptr<CoreWorker> m_worker;
  JobId m_nextId = 1;
};

}  // namespace atman::ui
