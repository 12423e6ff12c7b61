// Owns the worker thread (the Qt mandelbrot-example pattern): posts jobs to the ExplainWorker,
// hands out job ids, cancels, and on destruction cancels everything and waits for the thread.
// Lives on the GUI thread; its signals are the worker's, delivered there.
#pragma once

#include <QObject>
#include <QThread>

#include <memory>

#include "explain_worker.h"
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
  JobId prefetch(const ExplainRequest& request, const std::vector<double>& kappas);
  JobId neighbours(const ExplainRequest& request, int candidate, double kappa);

  void cancel(JobKind kind);  // running and queued jobs of this kind
  void cancelAll();
  // Cancels everything and waits for the worker thread to finish its current batch.
  void shutdown();

 signals:
  void progress(atman::ui::JobId job, double fraction);
  void modelLoaded(atman::ui::JobId job, const atman::ui::LoadedModel& model);
  void predicted(atman::ui::JobId job, const atman::ui::Prediction& prediction);
  void explained(atman::ui::JobId job, const atman::ui::ExplainResult& result);
  void prefetched(atman::ui::JobId job, const std::vector<atman::Explanation>& sweep);
  void neighboursFound(atman::ui::JobId job, const atman::ui::NeighbourResult& result);
  void failed(atman::ui::JobId job, const QString& message);
  void cancelled(atman::ui::JobId job);

 private:
  // Queues `call(worker)` on the worker thread; user jobs are counted so prefetches yield to them.
  template <typename Call>
  JobId post(JobKind kind, Call&& call);

  std::shared_ptr<JobControl> m_control;
  QThread m_thread;
  // Not a Qt child (it lives on the other thread): destroyed here once the thread has stopped.
  std::unique_ptr<ExplainWorker> m_worker;
  JobId m_nextId = 1;
};

}  // namespace atman::ui
