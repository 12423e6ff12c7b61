// The result of an explanation: a plain value type with JSON save/load, written by the CLI, read
// by the GUI, compared by tests. The JSON layout is documented in docs/explanation-json.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "atman/image.h"
#include "atman/suppression.h"

namespace atman {

// The request's options an Explanation records (see ExplainRequest in atman/explainer.h).
enum class ExplainWhat {
  ImagePatches,  // CLIP / LLaVA: the patches (image tokens) of the image
  PromptTokens,  // CLIP: the target label's tokens; LM/LLaVA: the prompt's text tokens
  All,           // LLaVA: image tokens and prompt tokens together
};
enum class SuppressionMode { Single, Correlated };
enum class PostProcess { None, Absolute, Square };

// The method that made an explanation: AtMan, a baseline (atman/registry.h makes them by name), or
// the evaluation's chance reference (Random, atman/eval.h), which no explainer makes.
enum class ExplainMethod {
  Atman,
  Attention,
  Rollout,
  InputXGradient,
  IntegratedGradients,
  GradCam,
  Chefer,
  Random,
};

enum class CandidateKind { Patch, Token };

struct NeighbourFactor {
  int candidate = 0;      // index into Explanation::candidates
  double similarity = 1;  // cosine similarity to the explained candidate (1 for itself)
  double factor = 1;      // attention multiplier used (1 - f * similarity; 1 - f for itself)
};

struct Candidate {
  int index = 0;
  CandidateKind kind = CandidateKind::Token;
  std::string text;                          // tokens: the text the candidate covers
  std::pair<int64_t, int64_t> span{-1, -1};  // tokens: [begin, end) code points of the prompt/label
  int row = -1, col = -1;  // patches: position on the patch grid (top-left of a tile)
  int rows = 1, cols = 1;  // patches: tile size in patches
  RectF rect;              // patches: pixels of the original image
  // patches: the image view the candidate's tokens belong to. 0: the (base) view, the only one of
  // CLIP, SigLIP and LLaVA-1.5; 1: LLaVA-NeXT / OneVision tiles, whose row/col are on the unpadded
  // tile grid, not the grid_rows x grid_cols base grid. See docs/explanation-json.md.
  int view = 0;
  std::vector<int> positions;               // model sequence positions suppressed together
  double value = 0;                         // E after post-processing, summed over target tokens
  std::vector<double> per_target;           // E[i, t] for each target token t (raw)
  std::vector<NeighbourFactor> suppressed;  // what this candidate's perturbation suppressed
  // Adaptive AtMan: false when the value was inherited from the candidate's group (the group's
  // loss change shared equally) instead of computed for the candidate itself.
  bool exact = true;
  int group = -1;  // adaptive AtMan: index of the candidate's group (-1 without adaptive)
};

// Adaptive (coarse-to-fine) AtMan's record: which groups were refined.
struct AdaptiveInfo {
  bool enabled = false;
  double threshold = 0;  // groups with |Σ_t ΔL_t| >= threshold were refined
  int group_size = 0;    // k: k x k patch tiles or k consecutive tokens
  int groups = 0, refined_groups = 0, exact_candidates = 0;
  std::vector<double> group_values;  // Σ_t ΔL_t of each group's suppression (single mode)
};

struct Timings {
  double prepare_seconds = 0;       // tokenise, preprocess, similarity, vision tower
  double baseline_seconds = 0;      // the unperturbed forward
  double perturbation_seconds = 0;  // all perturbed forwards
  double total_seconds = 0;
  int forwards = 0;    // perturbed sequences actually run (cache hits excluded)
  int cache_hits = 0;  // perturbations answered from the cache
  int batches = 0;
};

// SigLIP's target loss (spec §4 for CLIP, with SigLIP's sigmoid scores): -log σ(logit of the
// target label), the model's own reading of its logits and the default, or -log softmax over the
// labels, CLIP's zero-shot loss.
enum class SiglipLoss { Sigmoid, Softmax };

// Enum fields are written to JSON by their names in atman/names.h; an empty optional is written as
// "" (baselines have no suppression mode or variant).
struct Explanation {
  ExplainMethod method = ExplainMethod::Atman;
  std::string model;         // model folder name
  std::string architecture;  // "CLIP", "GPT-2", ...
  std::optional<ExplainWhat> explained;
  std::optional<SuppressionMode> mode;  // empty for the baselines
  double kappa = 0;
  double factor = 0.9;
  std::optional<SuppressionVariant> variant;  // empty for the baselines
  std::optional<SiglipLoss> loss;             // SigLIP only; written to JSON only when set
  PostProcess post = PostProcess::None;
  std::string prompt, target;
  std::vector<std::string> labels;
  std::vector<std::string> target_tokens;
  double baseline_loss = 0;                 // summed over target tokens
  std::vector<double> baseline_per_target;  // L_t of the unperturbed input
  int grid_rows = 0, grid_cols = 0;         // patch grid (0 without an image)
  int image_width = 0, image_height = 0;    // original image size
  std::vector<Candidate> candidates;
  Timings timings;
  AdaptiveInfo adaptive;

  // Patch values as a grid_rows x grid_cols row-major heatmap (tiles fill all their patches).
  std::vector<double> patch_heatmap() const;
};

std::string to_json(const Explanation& e, int indent = 2);
// InputError on bad JSON, and on an unknown name in an enum field (the message lists the valid
// ones).
Explanation explanation_from_json(const std::string& json_text);
void save_json(const Explanation& e, const std::filesystem::path& path);
Explanation load_explanation(const std::filesystem::path& path);
// One row per candidate: index,kind,text,begin,end,row,col,x,y,w,h,value,per_target...
std::string to_csv(const Explanation& e);

}  // namespace atman
