// Baseline explanation methods behind the same Explainer API as AtMan, for comparisons (the
// paper's Table 1 and Figure 8). Each returns an Explanation whose candidates (kind, positions,
// rects, spans, grouping) are exactly AtMan's for the same request; a group candidate (word,
// sentence, tile) gets the sum of its members' scores. Signs follow AtMan: positive = the
// candidate supports the target. With several target tokens, per_target[t] explains target t and
// value = post-processed sum over t, as for AtMan.
//
//   auto ig = atman::make_baseline("ig", {.ig_steps = 50});
//   atman::Explanation e = ig->attribute(request);
//
// Methods (F_t = log p(target t) = -L_t, the target loss AtMan uses, negated; x = the input
// embeddings AtMan's correlated mode compares: CLIP / SigLIP patch-embedding outputs, CLIP/LM token
// embeddings, LLaVA's, Idefics3's and Qwen2.5-VL's LM input embeddings):
//   attention  raw attention of the last layer, mean over heads, row of the prediction position
//              (CLIP vision: class token; CLIP text: end token; LM: the position predicting t;
//              SigLIP, no class token: the attention-pooling head's probe row, the last attention)
//   rollout    Abnar & Zuidema 2020: Π_l (0.5·A_l + 0.5·I) over layers (head mean), same row
//              (SigLIP: the probe row times the encoder's product; the head has no residual)
//   ixg        Input×Gradient: Σ_c x_c · ∂F_t/∂x_c per token
//   ig         Integrated Gradients, zero-embedding baseline, midpoint Riemann sum over n steps
//              (alphas (k + 0.5)/n), steps batched; Σ IG ≈ L(zero input) − L(input)
//   gradcam    GradCAM on the last block's output H (S, C): w_c = mean over tokens of ∂F_t/∂H_c,
//              relu(Σ_c w_c·H_c) per token (CLIP and SigLIP vision: encoder output before
//              post_layernorm, SigLIP 2's padding left out; CLIP text and LMs: the final hidden
//              states after the final norm)
//   chefer     Chefer et al. 2021 (generic attention-model explainability): R = I; per layer
//              Ā = E_h[(∇A ⊙ A)^+], R = R + Ā·R; the prediction position's row of R (SigLIP: the
//              pooling probe's relevance row Ā_head·R, their rule for a query outside the sequence)
// Gradient methods run with autograd on (never under InferenceMode) and keep activations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "atman/explainer.h"

namespace atman {

struct BaselineOptions {
  int ig_steps = 20;  // Integrated Gradients: Riemann steps (1..4096)
};

// "attention", "rollout", "ixg", "ig", "gradcam", "chefer".
std::vector<std::string> baseline_names();
// InputError listing the baseline names for an unknown one.
std::unique_ptr<Explainer> make_baseline(const std::string& method,
                                         const BaselineOptions& options = {});

}  // namespace atman
