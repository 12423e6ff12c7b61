// Explaining a prediction: one request in, one Explanation out, for every method (AtMan and, later,
// the baselines) behind the same call, like Captum's attribute().
//
//   atman::ExplainRequest request;
//   request.model = atman::Model::load("../shared/models/shapes-clip");
//   request.image = std::make_shared<const atman::RgbImage>(atman::load_image("panda.jpg"));
//   request.labels = {"a photo of a panda", "a photo of a cat"};
//   request.target = "a photo of a panda";
//   request.mode = atman::SuppressionMode::Correlated;
//   auto explainer = atman::make_explainer("atman");
//   atman::Explanation e = explainer->attribute(request, [](int done, int total) { return true; });
//
// Thread-safety: an Explainer may be used from one worker thread while another thread reads its
// results; attribute() calls on one Explainer are serialised internally.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "atman/explanation.h"
#include "atman/image.h"
#include "atman/model.h"
#include "atman/suppression.h"

namespace atman {

// ExplainWhat, SuppressionMode and PostProcess are in atman/explanation.h (an Explanation records
// them); their names in atman/names.h.
enum class Granularity { Token, Word, Sentence, Delimiter };

// Called after every batch with (forwards done, forwards planned); return false to cancel, which
// makes attribute() throw atman::Cancelled within one batch.
using ProgressFn = std::function<bool(int done, int total)>;

struct ExplainRequest {
  std::shared_ptr<const Model> model;
  // CLIP and LLaVA; shared, never copied: requests are copied per mode, per job and by the tasks
  // that keep them, and the pixels may be megabytes.
  std::shared_ptr<const RgbImage> image;
  std::string prompt;               // LM / LLaVA input text ("<image>" marks the image)
  std::string target;               // LM: the continuation; CLIP: one of `labels`
  std::vector<std::string> labels;  // CLIP zero-shot label set
  ExplainWhat explain = ExplainWhat::ImagePatches;
  SiglipLoss siglip_loss = SiglipLoss::Sigmoid;  // SigLIP: the target loss (ignored otherwise)

  SuppressionMode mode = SuppressionMode::Single;
  double kappa = 0.7;   // correlated mode: neighbours need cosine similarity >= kappa
  double factor = 0.9;  // f: a suppressed token keeps 1 - f of its attention
  SuppressionVariant variant = SuppressionVariant::Multiplicative;
  std::vector<int> layers;  // layers to suppress in; empty = all
  int max_neighbours = 0;   // correlated mode: keep only the most similar k (0 = no cap)
  PostProcess post = PostProcess::None;

  Granularity granularity = Granularity::Token;  // text candidates
  std::string delimiter;                         // for Granularity::Delimiter
  int tile = 1;                                  // image candidates: k x k patches together

  // Adaptive (coarse-to-fine) AtMan for large candidate sets: candidates are first suppressed in
  // groups (patches: adaptive_group x adaptive_group tiles of candidates; tokens: runs of
  // adaptive_group consecutive candidates), always in single mode with factor 1 - f. Only the
  // members of groups whose summed loss change |Σ_t ΔL_t| is >= adaptive_threshold are explained
  // one by one (exactly as without adaptive, in the request's mode); the others inherit the
  // group's change shared equally and are marked inexact (Candidate::exact). Threshold 0 refines
  // every group: the result equals exact AtMan (bit for bit at the same batch size).
  bool adaptive = false;
  double adaptive_threshold = 0.0;
  int adaptive_group = 4;

  int batch_size = 0;               // perturbations per forward; 0 = measured (see atman.cpp)
  int64_t memory_budget_bytes = 0;  // 0 = 1 GiB
  bool reuse_kv_cache = true;  // causal LMs: reuse keys/values before the first suppressed position
};

// What a request fingerprint covers. Neither covers the model or the image, whose identity the
// caller knows best (AtMan's cache adds the model's address and a hash of the pixels, the GUI its
// serials), nor the mode and κ (callers keep explanations per mode and κ), nor batching.
enum class FingerprintScope {
  // The prepared input and the loss under every mask: prompt, target, labels, explained unit,
  // factor, variant, granularity, delimiter, tile, layers. What AtMan's mask cache is keyed by.
  Input,
  // Input, plus what changes an explanation's values for a given mode and κ: post-processing, the
  // neighbour cap and the adaptive settings. What a cache of finished explanations is keyed by.
  Result,
};

// A text equal for two requests exactly when they agree on every field of `scope` (numbers
// exactly, texts length-prefixed so that moving text between fields changes it).
std::string request_fingerprint(const ExplainRequest& request,
                                FingerprintScope scope = FingerprintScope::Result);

class Explainer {
 public:
  virtual ~Explainer() = default;
  virtual std::string name() const = 0;
  // Validates the request (InputError on bad input), then explains. Throws Cancelled when the
  // progress callback returned false.
  virtual Explanation attribute(const ExplainRequest& request, const ProgressFn& progress = {}) = 0;
  // Explanations for many κ values (correlated mode). Only AtMan has a κ: the others throw
  // InputError (MethodInfo::kappa_sweep in atman/registry.h says which do).
  virtual std::vector<Explanation> kappa_sweep(const ExplainRequest& request,
                                               const std::vector<double>& kappas,
                                               const ProgressFn& progress = {});
};

// The AtMan explainer with its caches: a κ sweep, or a κ slider, reuses the baseline, the
// similarity matrix and every perturbation already computed for the same input, target and options.
class AtmanExplainer final : public Explainer {
 public:
  AtmanExplainer();
  ~AtmanExplainer() override;
  std::string name() const override { return "atman"; }
  Explanation attribute(const ExplainRequest& request, const ProgressFn& progress = {}) override;

  // True when attribute(request) would need no forward pass (every mask is cached). Returns false
  // at once, without waiting, while another thread is running this explainer.
  bool is_cached(const ExplainRequest& request) const;
  // Explanations for many κ values; masks shared between κ values are computed once.
  std::vector<Explanation> kappa_sweep(const ExplainRequest& request,
                                       const std::vector<double>& kappas,
                                       const ProgressFn& progress = {}) override;
  // Correlated neighbourhood of candidate `index` at `kappa` (the paper's Figure 5): the
  // candidates suppressed together with it and their factors (the candidate itself first).
  std::vector<NeighbourFactor> neighbours(const ExplainRequest& request, int index, double kappa);
  void clear_cache();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The model's probability of `request.target` with the attention to some candidates scaled, for
// evaluation (deletion / insertion curves). Each mask lists (candidate index, factor) pairs over
// the candidates an explanation of the same request has (1 = untouched, 0 = fully suppressed as
// AtMan suppresses, in request.layers with request.variant); unlisted candidates stay untouched.
// Returns one probability per mask: CLIP = softmax over the labels at the target; LMs = the
// teacher-forced joint probability of all target tokens, exp(-Σ L_t). The masks run batched
// (request.batch_size / memory budget) through the same tasks as AtMan's perturbations; mode and κ
// are ignored. InputError for a candidate index out of range or a factor outside [0, 1].
std::vector<double> target_probabilities(
    const ExplainRequest& request, const std::vector<std::vector<std::pair<int, float>>>& masks,
    const ProgressFn& progress = {});

// create_explainer(method) of atman/registry.h with default options, and the registry's names:
// "atman" and the baselines ("attention", "rollout", "ixg", "ig", "gradcam", "chefer"), all
// returning the same Explanation. Unknown names list what is available.
std::unique_ptr<Explainer> make_explainer(const std::string& method);
std::vector<std::string> explainer_names();

}  // namespace atman
