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

  // Last block output (B, S, C) for input embeddings (B, E, C). `suppression` may carry only a
  // weights recorder (no factors). Differentiable.
  std::function<at::Tensor(const at::Tensor& embeds, const Suppression* suppression)> hidden;
  // Target log-probabilities F_t = -L_t (B, nt) from the last block output (B, S, C).
  std::function<at::Tensor(const at::Tensor& hidden)> log_probs;
  // Rough bytes one batch item keeps alive for a backward pass (all layers' activations).
  int64_t grad_bytes_per_item = 0;
};

// Validates the request and prepares its input (runs under no-grad; the vision tower of LLaVA and
// the fixed tower of CLIP are evaluated here once).
BaselineInput prepare_baseline_input(const ExplainRequest& request);

}  // namespace atman::detail
