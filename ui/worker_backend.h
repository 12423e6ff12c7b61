// Where the core worker's jobs run: in this process (LocalBackend) or on an `atman serve` server
// (RemoteBackend, built with ATMAN_WITH_SERVER). CoreWorker keeps the job protocol (ids, progress,
// cancel, the exception policy) and asks its backend only for the work itself, so a job's signals
// are the same wherever it runs. Every method runs on the worker thread, one at a time, and throws
// the core's errors (atman/error.h) with messages a person can act on.
#pragma once

#include <QString>

#include <memory>
#include <string>
#include <vector>

#include "atman/explainer.h"
#include "atman/inference.h"
#include "jobs.h"

namespace atman::ui {

class WorkerBackend {
 public:
  virtual ~WorkerBackend() = default;

  // Where the jobs run, for people: "this computer", "127.0.0.1:50051".
  virtual QString where() const = 0;
  // dirOrName: a folder or a name (remote: a name the server offers); dtype: LoadOptions::dtype.
  virtual LoadedModel loadModel(const QString& dirOrName, const QString& device,
                                const QString& dtype) = 0;
  // CLIP / SigLIP: the labels ranked for the image.
  virtual std::vector<LabelScore> zeroShot(const Model& model, const RgbImage& image,
                                           const std::vector<std::string>& labels) = 0;
  // Greedy generation (image: LLaVA only, else null), optionally steered.
  virtual Generation generate(const Model& model, const std::string& prompt, int maxNewTokens,
                              const RgbImage* image,
                              const std::vector<SteeringFactor>& steering) = 0;
  // The request carries its image (withImage()).
  virtual Explanation explain(const ExplainRequest& request, const ProgressFn& progress) = 0;
  virtual std::vector<Explanation> kappaSweep(const ExplainRequest& request,
                                              const std::vector<double>& kappas,
                                              const ProgressFn& progress) = 0;
  virtual std::vector<NeighbourFactor> neighbours(const ExplainRequest& request, int candidate,
                                                  double kappa) = 0;
};

// The jobs run here, on the worker thread, with one AtmanExplainer whose caches make κ cheap.
class LocalBackend final : public WorkerBackend {
 public:
  LocalBackend();
  ~LocalBackend() override;
  QString where() const override;
  LoadedModel loadModel(const QString& dirOrName, const QString& device,
                        const QString& dtype) override;
  std::vector<LabelScore> zeroShot(const Model& model, const RgbImage& image,
                                   const std::vector<std::string>& labels) override;
  Generation generate(const Model& model, const std::string& prompt, int maxNewTokens,
                      const RgbImage* image, const std::vector<SteeringFactor>& steering) override;
  Explanation explain(const ExplainRequest& request, const ProgressFn& progress) override;
  std::vector<Explanation> kappaSweep(const ExplainRequest& request,
                                      const std::vector<double>& kappas,
                                      const ProgressFn& progress) override;
  std::vector<NeighbourFactor> neighbours(const ExplainRequest& request, int candidate,
                                          double kappa) override;

 private:
  std::unique_ptr<AtmanExplainer> m_explainer;
};

// The prompt the GUI pre-fills for a model read from `dir` (empty for CLIP or when the folder has
// neither prompt_format.json nor a chat template); shared by both backends.
QString defaultPromptFor(const Model& model, const QString& dir);

}  // namespace atman::ui
