// The value types that travel between the GUI thread and the core worker: requests in, results
// out. Everything here is copyable and owns its data (no QPixmap, no pointers into widgets), so a
// queued signal can carry it across threads.
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "atman/explainer.h"
#include "atman/explanation.h"
#include "atman/inference.h"
#include "atman/model.h"

namespace atman::ui {

// Every job gets a fresh id from JobRunner; results carry it back so the GUI can drop the results
// of jobs it no longer waits for (superseded, cancelled, or for an input since replaced).
using JobId = quint64;

// Steer is a Predict with steering factors: its own kind, so a plain Generate (or a new image's
// prediction) and a steered run do not supersede each other. Connect changes where the jobs run
// (this process or an `atman serve` server).
enum class JobKind { LoadModel, Predict, Explain, Prefetch, Neighbours, Steer, Connect };
inline constexpr int kJobKindCount = 7;

// An `atman serve` server to run the jobs on (File → Connect to Server…, docs/remote.md).
struct ServerChoice {
  QString address;  // host:port
  QString token;    // the bearer token; kept in memory or the keychain, never in settings
  QString caFile;   // PEM file of the CA that signed the server's certificate; empty: no TLS
};

// Where the jobs run now, as the worker reports it after a Connect job.
struct BackendInfo {
  bool remote = false;
  QString where;        // "this computer", or the server's address
  QString version;      // the server's version (remote only)
  QStringList devices;  // the server's devices; empty: this computer's
  QStringList models;   // the model names the server offers (remote only)
};

// The model input positions of a prompt (input_layout() of atman/inference.h), for the steering
// panel, on the GUI thread; `image` (may be null) sizes anyres LLaVA's and Qwen2.5-VL's image
// tokens. Null: input_layout() here. A server's LLaVA sets it (its image tokens come from the
// vision tower, whose weights are there): a short call to the server.
using InputLayoutFn =
    std::function<std::vector<InputPosition>(const std::string& prompt, const RgbImage* image)>;

struct LoadedModel {
  std::shared_ptr<const Model> model;
  QString dir;
  QString defaultPrompt;  // prompt_format.json or the chat template (atman/prompt.h); may be empty
  InputLayoutFn inputLayout;
};

// "What does the model say?": ranked labels for CLIP, a greedy continuation for LMs. With
// steering (LMs only), the worker generates twice, plain and steered, so both answers come from
// the same input and can be compared.
struct PredictRequest {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const RgbImage> image;  // CLIP and LLaVA
  std::vector<std::string> labels;        // CLIP
  std::string prompt;                     // LM / LLaVA
  int maxNewTokens = 16;
  std::vector<SteeringFactor> steering;  // model input positions; empty: a plain prediction
};

struct Prediction {
  std::vector<LabelScore> labels;
  Generation generation;
  // Steered requests only: the steered continuation, the factors it ran with, and how long each
  // generation took (seconds, wall clock on the worker).
  std::optional<Generation> steered;
  std::vector<SteeringFactor> steering;
  double plainSeconds = 0;
  double steeredSeconds = 0;
};

// The requests the GUI keeps carry no image: the session's image travels beside them (its serial,
// not its pixels, is what the GUI's caches key on) and the worker shares it into the request of the
// job that runs. Nothing copies the pixels.
ExplainRequest withImage(ExplainRequest request, const std::shared_ptr<const RgbImage>& image);

// One press of Explain: the single-token run, the correlated run, or both (side by side).
struct ExplainJob {
  std::optional<ExplainRequest> single;
  std::optional<ExplainRequest> correlated;
  std::shared_ptr<const RgbImage> image;  // null: the model reads no image
};

// Results are made once on the worker and then shared by the cache and the panes, never copied.
using SharedExplanation = std::shared_ptr<const Explanation>;
using ExplanationList = std::vector<SharedExplanation>;

struct ExplainResult {
  SharedExplanation single;
  SharedExplanation correlated;
};

struct NeighbourResult {
  int candidate = -1;
  double kappa = 0;
  std::vector<NeighbourFactor> factors;
};

}  // namespace atman::ui

Q_DECLARE_METATYPE(atman::ui::LoadedModel)
Q_DECLARE_METATYPE(atman::ui::ServerChoice)
Q_DECLARE_METATYPE(atman::ui::BackendInfo)
Q_DECLARE_METATYPE(atman::ui::PredictRequest)
Q_DECLARE_METATYPE(atman::ui::Prediction)
Q_DECLARE_METATYPE(atman::ui::ExplainJob)
Q_DECLARE_METATYPE(atman::ui::ExplainResult)
Q_DECLARE_METATYPE(atman::ui::NeighbourResult)
Q_DECLARE_METATYPE(atman::ExplainRequest)
Q_DECLARE_METATYPE(atman::ui::SharedExplanation)
Q_DECLARE_METATYPE(atman::ui::ExplanationList)
Q_DECLARE_METATYPE(std::vector<double>)

namespace atman::ui {
// Registers the types above for queued connections; idempotent.
void registerJobTypes();
}  // namespace atman::ui
