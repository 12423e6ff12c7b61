// What the baseline explainers (baseline_methods.cpp) need from a request, per modality: AtMan's
// candidates (from the same task factories, so they match exactly), the input embeddings to
// attribute to, where they sit in the attended sequence, and the model split in two differentiable
// halves (input embeddings -> last block output -> target log-probabilities).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <vector>

#include "atman/explainer.h"
#include "explain/task.h"
#include "models/attention.h"

namespace atman::detail {

struct BaselineInput {
  std::unique_ptr<PerturbationTask> task;  // candidates and the explanation skeleton
  at::Tensor embeds;  // (1, E, C): the attributed input embeddings; a plain tensor, no grad
  int64_t embed_offset =
      0;  // sequence position of embeds row 0 (CLIP vision: 1, the class token is 0)
  int64_t positions = 0;      // S: the sequence length the attention sees
  std::vector<int64_t> rows;  // per target token: the query position that predicts it
  int layers = 0;             // attention layers of the explained tower / LM
  // SigLIP: no query position predicts the target; an attention-pooling head (one learned probe
  // query over the S positions, no residual around its attention) reads the last block output
  // inside log_probs, and its weights are recorded after the `layers` ones. The attention
  // methods start from the probe's row instead of a one-hot prediction row; `rows` is {0}.
  bool pooling_head = false;
  // (S) bool: the positions that exist (SigLIP 2: its real patches, not the masked padding);
  // undefined: all. GradCAM averages gradients over these only.
  at::Tensor present;

  // Last block output (B, S, C) for input embeddings (B, E, C). `suppression` may carry only a
  // weights recorder (no factors). Differentiable.
  std::function<at::Tensor(const at::Tensor& embeds, const Suppression* suppression)> hidden;
  // Target log-probabilities F_t = -L_t (B, nt) from the last block output (B, S, C).
  // `suppression` (a weights recorder or null) reaches the pooling head, if there is one.
  std::function<at::Tensor(const at::Tensor& hidden, const Suppression* suppression)> log_probs;
  // Rough bytes one batch item keeps alive for a backward pass (all layers' activations).
  int64_t grad_bytes_per_item = 0;
};

// Validates the request and prepares its input (runs under no-grad; the vision tower of LLaVA,
// Idefics3 and Qwen2.5-VL, the fixed tower of CLIP and SigLIP's label embeddings are evaluated
// here once).
BaselineInput prepare_baseline_input(const ExplainRequest& request);

}  // namespace atman::detail
