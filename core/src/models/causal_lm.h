// What the explainer needs from a decoder-only language model (GPT-2, Llama-style, the language
// model inside LLaVA): embeddings, a forward over input embeddings with suppression and a KV cache,
// and the LM head applied only where it is needed.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "models/attention.h"

namespace atman {

// Keys and values of every layer for the positions seen so far: (B, Hkv, S, D) each.
struct KVCache {
  std::vector<at::Tensor> keys, values;
  // false: append() returns past + new keys/values but does not keep them, so a forward that only
  // reads a shared prefix (the explainer's perturbations) holds one layer's keys at a time.
  bool retain = true;
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
  int64_t batch() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(0); }
  // A cache of batch 1 repeated to `batch` items (for many perturbations sharing one prefix).
  KVCache expanded(int64_t batch) const;
  // Appends new keys/values of `layer` and returns the full ones.
  std::pair<at::Tensor, at::Tensor> append(int layer, const at::Tensor& k, const at::Tensor& v);
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  // Token-embedding rows only (no positions): (B, T) ids -> (B, T, C). Also the similarity space
  // of correlated suppression (spec §3).
  virtual at::Tensor embed_tokens(const at::Tensor& ids) const = 0;

  // Final hidden states (after the last norm) for input embeddings (B, T, C) that follow the
  // `cache->length()` positions already in `cache` (or start at 0 when cache is null). Appends the
  // new keys/values to the cache when given. Suppression factors span all keys: (B, past + T).
  virtual at::Tensor forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                                    KVCache* cache) const = 0;

  // The explainer's perturbed forward (spec §5): B perturbations of one input `embeds` (1, T, C)
  // under `suppression` (factors (B, T)), perturbation b differing from the unperturbed pass only
  // from position starts[b] on (its first suppressed key; starts[b] <= T - outputs). `base` holds
  // the unperturbed pass's keys and values (batch 1, T positions; may be empty when every start is
  // 0). Returns the final hidden states of the last `outputs` positions: (B, outputs, C). This
  // default recomputes every perturbation from the smallest start on; GPT-2 and the RoPE
  // decoders (LlamaModel, also inside the image-prefix LMs) recompute each from its own start
  // (models/suffix_batch.h).
  virtual at::Tensor forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                                      const Suppression& suppression, const KVCache& base,
                                      int64_t outputs) const;
  // Whether forward_suffixes recomputes each perturbation from its own start (not the smallest).
  virtual bool packs_suffixes() const { return false; }

  // LM head: (..., C) -> (..., vocab).
  virtual at::Tensor lm_logits(const at::Tensor& hidden) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_positions() const = 0;
  virtual int num_layers() const = 0;
  virtual int64_t hidden_size() const = 0;

  // Convenience: logits for ids (B, T) -> (B, T, vocab).
  at::Tensor forward_logits(const at::Tensor& ids, const Suppression* suppression = nullptr) const;
};

}  // namespace atman
