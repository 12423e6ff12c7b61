// A perturbation task: what AtMan perturbs and how a loss is measured, for one modality. The
// algorithm in atman.cpp is modality-free: it builds suppression masks over a task's candidates and
// asks the task for the target losses under those masks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "atman/explainer.h"
#include "atman/hf_config.h"
#include "models/attention.h"

namespace atman::detail {

// Positions whose attention is scaled, with their factors (all others stay 1), sorted by position.
struct Mask {
  std::vector<std::pair<int64_t, float>> entries;
  int64_t first_position() const { return entries.empty() ? INT64_MAX : entries.front().first; }
  bool operator<(const Mask& other) const { return entries < other.entries; }
};

class PerturbationTask {
 public:
  virtual ~PerturbationTask() = default;
  // Target losses L_t of the unperturbed input.
  virtual std::vector<double> baseline() = 0;
  // Target losses under each mask (one forward batch; masks.size() is the batch size).
  virtual std::vector<std::vector<double>> losses(const std::vector<const Mask*>& masks) = 0;
  // Rough peak bytes one batch item adds, to size batches from the memory budget.
  virtual int64_t bytes_per_item() const = 0;
  // Work of one losses() call in units comparable across batches of this task (positions run),
  // so that measured batch sizes compare fairly when batches reuse different prefix lengths.
  virtual double work(const std::vector<const Mask*>& masks) const {
    return static_cast<double>(masks.size());
  }

  // Filled by the factory: the candidates (values empty), their embeddings for correlated mode
  // (N, C), and the explanation's descriptive fields.
  std::vector<Candidate> candidates;
  at::Tensor candidate_embeddings;
  Explanation skeleton;
};

// The suppression of a batch of masks over `positions` key positions (batch item b = masks[b]),
// with the request's variant and layer subset. `layers` is how many layers the perturbed tower has;
// `owner` names it ("model", "tower") when a requested layer does not exist.
Suppression make_suppression(const std::vector<const Mask*>& masks, int64_t positions,
                             const ExplainRequest& request, int layers, const char* owner,
                             at::Device device);

// The zero-shot label tasks (label_tasks.cpp). The index of the request's target among its labels,
// after checking that there are labels, that the target is one, and that there is an image;
// `family` ("CLIP", "SigLIP") names the model in the messages.
int64_t target_label_index(const ExplainRequest& request, const std::string& family);
// SigLIP's target loss from (B, K) label logits, in float32 (B): -log σ(logit of the target), or
// with SiglipLoss::Softmax CLIP's -log softmax over the labels.
at::Tensor siglip_target_loss(const at::Tensor& logits, int64_t target, SiglipLoss loss);
// One loss per mask: (B) -> B rows of one value.
std::vector<std::vector<double>> loss_rows(const at::Tensor& loss);
// The memory of one perturbed forward of an encoder tower over `tokens` positions: attention
// scores and weights, MLP and residual activations, in float32.
int64_t encoder_bytes_per_item(const ClipTowerConfig& tower, int64_t tokens);

std::unique_ptr<PerturbationTask> make_clip_task(const ExplainRequest& request);
std::unique_ptr<PerturbationTask> make_lm_task(const ExplainRequest& request);
std::unique_ptr<PerturbationTask> make_siglip_task(const ExplainRequest& request);
std::unique_ptr<PerturbationTask> make_siglip2_task(const ExplainRequest& request);  // NaFlex
// The task of the request's model kind: CLIP, SigLIP, or a (multimodal) language model.
std::unique_ptr<PerturbationTask> make_task(const ExplainRequest& request);

// Patch candidates of a grid x grid image in row-major order, each `tile` x `tile` patches (clipped
// at the border), with their rectangles in the original image. `position_of_patch` maps a
// row-major patch index to its model input position; `patches` lists each candidate's indices.
struct PatchCandidates {
  std::vector<Candidate> candidates;
  std::vector<std::vector<int64_t>> patches;
};
PatchCandidates tile_patches(int grid, int tile, int patch_pixels, const CropGeometry& geometry,
                             const std::function<int64_t(int64_t)>& position_of_patch);

// Token candidates grouped by the request's granularity: `spans` are the tokens' code-point spans
// in `text`, `position_of_token(i)` is token i's model input position. Indices are left to the
// caller.
std::vector<Candidate> token_candidates(const std::vector<std::pair<int64_t, int64_t>>& spans,
                                        const std::u32string& text, const ExplainRequest& request,
                                        const std::function<int64_t(int)>& position_of_token);

// Groups token candidates by word / sentence / delimiter using their spans in `text`.
std::vector<std::vector<int>> group_tokens(const std::vector<std::pair<int64_t, int64_t>>& spans,
                                           const std::u32string& text, Granularity granularity,
                                           const std::string& delimiter);

// Candidate embedding of a group: the mean of its members' rows of `embeddings` (T, C).
at::Tensor group_embeddings(const at::Tensor& embeddings,
                            const std::vector<std::vector<int64_t>>& groups);

std::u32string to_u32(const std::string& utf8);
std::string to_utf8(const std::u32string& text);

}  // namespace atman::detail
