// The worker that runs every core job off the GUI thread: model loading, predictions, explanations,
// the κ-sweep prefetch and neighbourhoods. It lives on JobRunner's QThread; its slots run one after
// another there, and every result goes back as a value type tagged with its job id. Receivers
// connect to its signals directly (JobRunner::worker()); Qt queues them to the receiver's thread.
// The work itself is its backend's (worker_backend.h): this process, or an `atman serve` server
// after a Connect job; the signals are the same either way.
#pragma once

#include <QObject>
#include <QString>

#include <memory>

#include "job_control.h"
#include "jobs.h"
#include "worker_backend.h"

namespace atman::ui {

class CoreWorker : public QObject {
  Q_OBJECT

 public:
  explicit CoreWorker(std::shared_ptr<const JobControl> control, QObject* parent = nullptr);
  ~CoreWorker() override;

  // Each of these runs on the worker thread (JobRunner invokes them queued) and ends with exactly
  // one of: its result signal, failed() or cancelled().
  // dirOrName: a folder or a name; dtype: LoadOptions::dtype.
  void loadModel(JobId job, const QString& dirOrName, const QString& device, const QString& dtype);
  void predict(JobId job, const PredictRequest& request);
  void explain(JobId job, const ExplainJob& request);
  // The image (null for text-only models) goes into the request here, on the worker.
  void prefetch(JobId job, const ExplainRequest& request,
                const std::shared_ptr<const RgbImage>& image, const std::vector<double>& kappas);
  void neighbours(JobId job, const ExplainRequest& request,
                  const std::shared_ptr<const RgbImage>& image, int candidate, double kappa);
  // Jobs after this one run on `server` (nullopt: in this process). On failure the backend stays
  // as it was.
  void connectServer(JobId job, const std::optional<ServerChoice>& server);

 signals:
  void progress(atman::ui::JobId job, double fraction);
  void modelLoaded(atman::ui::JobId job, const atman::ui::LoadedModel& model);
  void predicted(atman::ui::JobId job, const atman::ui::Prediction& prediction);
  void explained(atman::ui::JobId job, const atman::ui::ExplainResult& result);
  void prefetched(atman::ui::JobId job, const atman::ui::ExplanationList& sweep);
  void neighboursFound(atman::ui::JobId job, const atman::ui::NeighbourResult& result);
  void backendChanged(atman::ui::JobId job, const atman::ui::BackendInfo& info);
  void failed(atman::ui::JobId job, const QString& message);
  // A job failed because the server could not be reached (after its failed()): the results shown
  // stay, and jobs keep failing until the connection is made again.
  void connectionLost(const QString& message);
  void cancelled(atman::ui::JobId job);

 private:
  // Runs `body` with the exception policy of every job: Cancelled -> cancelled(), core errors ->
  // failed() with the core's message (written for people), anything else -> failed() too, never a
  // crash of the application.
  template <typename Body>
  void guarded(JobId job, JobKind kind, Body&& body);
  ProgressFn progressFor(JobId job, JobKind kind, int phase = 0, int phases = 1);

  std::shared_ptr<const JobControl> m_control;
  std::shared_ptr<WorkerBackend> m_backend;
};

}  // namespace atman::ui
