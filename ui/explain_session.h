// The explanation state behind the window, without a single widget: the loaded model and image,
// the input the panes show, the results computed for it (ExplanationCache, per κ step), the
// correlated neighbourhood and the background κ sweep. It owns the JobRunner and receives the
// worker's results directly. The jobs in flight live in one table, one slot per JobKind: a result
// whose id is not in its slot is stale (superseded, cancelled, about an older input) and dropped
// there, so the window only hears about the jobs that still matter.
//
// The window drives it (explain, κ, view mode, neighbourhood clicks) and draws what its signals
// report; tests drive it the same way without any window (tests/ui/test_explain_session.cpp).
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <array>
#include <memory>
#include <optional>

#include "atman/explainer.h"
#include "atman/model.h"
#include "explanation_cache.h"
#include "jobs.h"
#include "view_mode.h"
#include "view_options.h"

namespace atman::ui {

class JobRunner;

class ExplainSession : public QObject {
  Q_OBJECT

 public:
  explicit ExplainSession(QObject* parent = nullptr);
  ~ExplainSession() override;  // cancels every job and waits for the worker

  // Loading. A new model supersedes every job; modelLoaded() or jobFailed(LoadModel) follows.
  void loadModel(const QString& dirOrName, const QString& device,
                 const QString& dtype = QStringLiteral("auto"));
  const std::shared_ptr<const Model>& model() const { return m_model; }
  const QString& modelDir() const { return m_modelDir; }
  // Where the jobs run: an `atman serve` server, or this process (nullopt). Every job stops;
  // backendChanged() (the model is unloaded: it lives where it was loaded) or jobFailed(Connect)
  // (nothing changed) follows.
  void connectServer(const std::optional<ServerChoice>& server);
  const BackendInfo& backend() const { return m_backend; }
  // Set when a job failed because the server could not be reached; cleared by a connect.
  bool serverUnreachable() const { return m_connectionLost; }

  // A new image drops the results and jobs about the old one (explanations, sweep, neighbours,
  // a steered answer). The image is shared with the panes and the jobs, never copied here.
  void setImage(std::shared_ptr<const RgbImage> image, const QString& origin);
  const std::shared_ptr<const RgbImage>& image() const { return m_image; }
  const QString& imageOrigin() const { return m_imageOrigin; }  // a path, "clipboard", ...

  // "What does the model say?": plain (predicted()) or, with request.steering, steered
  // (steered()). The request's model is the session's.
  void predict(PredictRequest request);

  // Explaining. Which results are computed follows the view mode (the panes shown) and κ.
  void setViewMode(ViewMode mode);
  ViewMode viewMode() const { return m_mode; }
  void setKappaStep(int step);  // a step held in the cache shows at once, else a job follows
  int kappaStep() const { return m_kappaStep; }
  double kappa() const { return kappaOfStep(m_kappaStep); }
  // Makes `request` (mode and κ are the session's; the image is the session's and must not be in
  // it) the input shown: what the cache holds for it is shown, what is missing is computed.
  // Returns true while an explain job runs for it, false when the cache answered everything.
  bool explain(ExplainRequest request);
  const std::optional<ExplainRequest>& request() const { return m_request; }
  // The text the token spans of the shown results count in: the prompt, or CLIP's target label.
  QString tokenText() const;
  static QString tokenTextFor(const ExplainRequest& request);
  // The shown input's results: the single-token one and the correlated one at the current κ.
  SharedExplanation result(Pane pane) const;
  // Names the result (input, mode, κ), so that showing the same one again costs nothing.
  QString resultId(Pane pane) const;

  // The candidate whose correlated neighbours are shown (-1: none), at the current κ.
  void setNeighbourhoodCentre(int candidate);
  const Neighbourhood& neighbourhood() const { return m_neighbourhood; }

  void setPrefetchEnabled(bool enabled);
  // The Cancel button: stops every job and holds the κ sweep back until the next explain().
  // Returns false when nothing was running.
  bool cancel();
  // Drops the current job of `kind` without a word: its input changed (a steered answer about an
  // edited prompt).
  void drop(JobKind kind);
  bool isRunning(JobKind kind) const { return slot(kind).id != 0; }
  int explainJobsStarted() const { return m_explainJobsStarted; }

  // What the person is told when a job of `kind` fails: a dialog with this title, or (empty) a
  // line in the status bar, for work in the background or for a side panel.
  static QString failureTitle(JobKind kind);

 signals:
  void modelLoaded(const atman::ui::LoadedModel& loaded);
  void backendChanged(const atman::ui::BackendInfo& info);
  // A job failed because the server could not be reached (after its jobFailed()); the results
  // shown stay.
  void connectionLost(const QString& message);
  // A job was answered again after connectionLost() (the server came back on its own).
  void connectionRestored();
  void predicted(const atman::ui::Prediction& prediction);
  void steered(const atman::ui::Prediction& prediction);
  void explainStarted(atman::ui::JobId job, bool single, bool correlated);
  void explainProgress(double fraction);  // of the running explain job, 0..1
  void explained(atman::ui::JobId job, const atman::ui::ExplainResult& result);
  // result(pane) may have changed: redraw. `fresh`: a result appeared that was missing (a κ
  // served from the cache or the sweep), not just the same ones again.
  void resultsChanged(bool fresh);
  void resultPending(atman::ui::Pane pane);  // κ moved to a step not held yet: a job follows
  void neighbourhoodChanged(const atman::ui::Neighbourhood& neighbourhood);
  void prefetchStarted();
  void prefetchProgress(double fraction);
  void prefetchFinished();  // the sweep delivered: every κ of the shown input is held
  void jobsChanged();       // a slot of the job table was filled or emptied
  // A job that still mattered ended without a result.
  void jobCancelled(atman::ui::JobKind kind, atman::ui::JobId job);
  void jobFailed(atman::ui::JobKind kind, atman::ui::JobId job, const QString& message);

 private:
  // One row of the job table: the id in flight (0: none) and what its end means to the session.
  struct JobSlot {
    JobId id = 0;
    bool retryWhenCancelled = false;  // the κ sweep steps aside for user jobs, then resumes
  };
  JobSlot& slot(JobKind kind) { return m_jobs[static_cast<size_t>(kind)]; }
  const JobSlot& slot(JobKind kind) const { return m_jobs[static_cast<size_t>(kind)]; }
  void start(JobKind kind, JobId id);
  // The kind whose current job `job` is, with its slot emptied; nothing for a stale job.
  std::optional<JobKind> finish(JobId job);

  // Every result: proof that the server answers again, if it had been lost.
  void noteAnswer();
  void onModelLoaded(JobId job, const LoadedModel& loaded);
  void onBackendChanged(JobId job, const BackendInfo& info);
  void onPredicted(JobId job, const Prediction& prediction);
  void onExplained(JobId job, const ExplainResult& result);
  void onPrefetched(JobId job, const ExplanationList& sweep);
  void onNeighbours(JobId job, const NeighbourResult& result);
  void onFailed(JobId job, const QString& message);
  void onCancelled(JobId job);
  void onProgress(JobId job, double fraction);

  // Shows what the cache holds for the shown input and starts a job for what the view mode
  // needs and the cache lacks.
  void showOrCompute();
  void maybePrefetch();
  ExplainRequest requestFor(SuppressionMode mode) const;  // the shown input, in that mode at κ
  std::shared_ptr<const RgbImage> jobImage() const;       // null for text-only models

  std::unique_ptr<JobRunner> m_runner;
  std::array<JobSlot, kJobKindCount> m_jobs{};

  BackendInfo m_backend;
  bool m_connectionLost = false;
  std::shared_ptr<const Model> m_model;
  QString m_modelDir;
  quint64 m_modelSerial = 0;
  std::shared_ptr<const RgbImage> m_image;
  QString m_imageOrigin;
  quint64 m_imageSerial = 0;

  // The request behind the panes (κ and neighbourhoods refer to it, not to whatever has been
  // typed since) and the explanations computed for it.
  std::optional<ExplainRequest> m_request;
  ExplanationCache m_cache;
  Neighbourhood m_neighbourhood;
  ViewMode m_mode = ViewMode::SideBySide;
  int m_kappaStep = ui::kappaStep(0.7);
  QTimer m_kappaTimer;  // debounces jobs for uncached κ while the slider moves

  QString m_prefetchInput;
  bool m_prefetchEnabled = true;
  bool m_prefetchHeld = false;  // after Cancel: no background work until the next explain()
  int m_explainJobsStarted = 0;
};

}  // namespace atman::ui
