// The one attention function every architecture uses. It takes the AtMan suppression explicitly
// (spec §1), so no model is monkey-patched and no global state is involved.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "atman/suppression.h"

namespace atman {

// Per-batch-item suppression factors over key positions. factors[b, j] = 1 leaves key j of batch
// item b untouched; 0.1 is single-token suppression with f = 0.9.
struct Suppression {
  at::Tensor factors;  // [B, S] float on the model's device; undefined = no suppression
  SuppressionVariant variant = SuppressionVariant::Multiplicative;
  std::vector<bool>
      layers;  // empty = every layer; else layers[l] says whether layer l is suppressed
  // Optional recorder for attention-based explanations (raw attention, rollout, Chefer et al.):
  // each attention() call appends its softmax weights (B, H, T, S), so one forward appends one
  // entry per layer in layer order. The weights stay in the autograd graph when gradients are on.
  // Null (the default) costs nothing. Works without factors (then nothing is suppressed).
  std::vector<at::Tensor>* record_weights = nullptr;

  bool active_in(int layer) const {
    if (!factors.defined()) return false;
    if (layers.empty()) return true;
    return layer >= 0 && layer < static_cast<int>(layers.size()) && layers[layer];
  }
};

// Per-architecture settings of attention; the defaults are plain scaled dot-product attention.
struct AttentionOptions {
  double scale = 0.0;  // multiplies q·k; 0 = 1 / sqrt(head_dim) (Gemma: query_pre_attn_scalar^-1/2)
  double softcap = 0.0;  // Gemma 2: scores -> softcap * tanh(scores / softcap); 0 = off
  int64_t window = 0;    // sliding window: query i sees keys j with i - window < j <= i; 0 = off
  // Prefix-LM (PaliGemma): queries and keys both at absolute positions < prefix see each other
  // whatever causal and window say (transformers' or-mask over the prefix); 0 = off.
  int64_t prefix = 0;
  // Padding (HF attention_mask over keys): (1 or B, S) bool, false = a key no query sees. Applied
  // after the suppression, as spec §1's padding mask, so the row minimum still spans every key.
  // Undefined = every key is seen.
  at::Tensor key_mask;
};

// Scaled dot-product attention with AtMan suppression.
//   q: [B, H, T, D]; k, v: [B, Hkv, S, D] with H % Hkv == 0 (grouped-query attention) and S >= T.
//   causal: query t sits at key position S - T + t and sees keys <= that position (KV cache aware).
//   With a soft cap, suppression acts on the capped scores (the logits softmax sees), so that
//   m = 1 still leaves attention unchanged; without one this is exactly spec §1.
// Returns [B, H, T, D].
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                     const Suppression* suppression, int layer,
                     const AttentionOptions& options = {});

}  // namespace atman
