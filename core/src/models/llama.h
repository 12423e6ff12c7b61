// The RoPE decoder families in one builder, switched by LlamaConfig as transformers builds them:
// Llama 2/3 (SmolLM2, TinyLlama), Qwen2/2.5, Qwen3 (per-head q/k norms), Mistral / Nemo,
// Gemma 2 / 3 (sandwich norms, (1 + w) RMSNorm, scaled embeddings, soft-capping, local/global
// layers), Phi-3 (fused projections, longrope) and OLMo 2 (post norms, full-width q/k norms).
// RMSNorm, rotary positions of every RoPE type, gated MLP, grouped-query and sliding-window
// attention, tied or untied LM head.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "atman/hf_config.h"
#include "models/causal_lm.h"
#include "models/layers.h"
#include "models/rope.h"

namespace atman {

class LlamaModel final : public CausalLM {
 public:
  // Where the decoder and head live in the checkpoint: "model." and "lm_head.weight" for
  // *ForCausalLM checkpoints; "language_model.model." and "language_model.lm_head.weight" inside
  // classic LLaVA checkpoints.
  LlamaModel(const LlamaConfig& config, const Checkpoint& checkpoint, at::Device device,
             const std::string& decoder_prefix = "model.",
             const std::string& head_name = "lm_head.weight");

  at::Tensor embed_tokens(const at::Tensor& ids) const override;
  at::Tensor forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                            KVCache* cache) const override;
  // forward_embeds with multimodal rotary positions (Qwen2.5-VL's M-RoPE, config.mrope_section):
  // `positions` (3, T) long gives each new position's temporal, height and width index. The
  // positions are shared by every batch item.
  at::Tensor forward_embeds_at(const at::Tensor& embeds, const at::Tensor& positions,
                               const Suppression* suppression, KVCache* cache) const;
  // forward_embeds with a prefix-LM mask: the sequence's first `prefix` positions (counted from
  // the cache's start) attend to each other in both directions, later ones causally.
  at::Tensor forward_embeds_prefix(const at::Tensor& embeds, int64_t prefix,
                                   const Suppression* suppression, KVCache* cache) const;
  // Each perturbation from its own start, the last layer at the output positions only
  // (models/suffix_batch.h).
  at::Tensor forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                              const Suppression& suppression, const KVCache& base,
                              int64_t outputs) const override;
  bool packs_suffixes() const override { return true; }
  // forward_suffixes at multimodal rotary positions (3, T) (forward_embeds_at).
  at::Tensor forward_suffixes_at(const at::Tensor& embeds, const at::Tensor& positions,
                                 const std::vector<int64_t>& starts, const Suppression& suppression,
                                 const KVCache& base, int64_t outputs) const;
  // forward_suffixes under a prefix-LM mask (forward_embeds_prefix). A start inside the prefix
  // must be 0: every prefix position sees the suppressed keys there, so none of it is reusable.
  at::Tensor forward_suffixes_prefix(const at::Tensor& embeds, int64_t prefix,
                                     const std::vector<int64_t>& starts,
                                     const Suppression& suppression, const KVCache& base,
                                     int64_t outputs) const;
  at::Tensor lm_logits(const at::Tensor& hidden) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_positions() const override;
  int num_layers() const override { return config_.num_hidden_layers; }
  int64_t hidden_size() const override { return config_.hidden_size; }
  const LlamaConfig& config() const { return config_; }

 private:
  struct Layer {
    // Which norms exist depends on config.block_norms (see BlockNorms).
    RmsNorm input_layernorm, post_attention_layernorm;
    RmsNorm pre_feedforward_layernorm, post_feedforward_layernorm;
    RmsNorm q_norm, k_norm;                           // config.qk_norm
    Linear q_proj, k_proj, v_proj, qkv_proj, o_proj;  // qkv_proj: fused (Phi-3)
    Linear gate_proj, up_proj, gate_up_proj, down_proj;
  };
  using Rotary = std::pair<at::Tensor, at::Tensor>;  // cos, sin: (T, rotary_dim)
  // Queries, keys and values of rows `h` (..., N, C) at rotary positions (N, rotary_dim): the
  // projections, q/k norms and rotation, as rows (..., N, heads * D). Only the parts asked for.
  struct Projected {
    at::Tensor q, k, v;
  };
  Projected project(const Layer& layer, const at::Tensor& h, const Rotary& rotary, bool queries,
                    bool keys_values) const;
  RmsNorm load_norm(const WeightReader& w, const std::string& name, int64_t dim) const;
  AttentionOptions attention_options(int l, int64_t prefix) const;
  at::Tensor attention_block(const Layer& layer, int l, const at::Tensor& h, const Rotary& rotary,
                             int64_t prefix, const Suppression* suppression, KVCache* cache) const;
  at::Tensor mlp(const Layer& layer, const at::Tensor& h) const;
  // A block's input to attention, and the block's output from its input x and attention output.
  at::Tensor input_norm(const Layer& layer, const at::Tensor& x) const;
  at::Tensor after_attention(const Layer& layer, const at::Tensor& x, at::Tensor attended) const;
  at::Tensor scaled_embeddings(const at::Tensor& embeds) const;  // Gemma's sqrt(hidden)
  // The global and sliding-layer rotary tables of positions [past, past + T) (checked against
  // max_positions), and of multimodal positions (3, T).
  std::pair<Rotary, Rotary> rotary_at(int64_t past, const at::Tensor& embeds) const;
  Rotary mrope_at(const at::Tensor& positions, const at::Tensor& embeds) const;
  // The decoder layers and final norm over input embeddings with their rotary cos/sin.
  at::Tensor run_layers(const at::Tensor& embeds, const Rotary& global, const Rotary& local,
                        int64_t prefix, const Suppression* suppression, KVCache* cache) const;
  // forward_suffixes over all T positions' rotary tables.
  at::Tensor run_suffixes(const at::Tensor& embeds, const Rotary& global, const Rotary& local,
                          int64_t prefix, const std::vector<int64_t>& starts,
                          const Suppression& suppression, const KVCache& base,
                          int64_t outputs) const;

  LlamaConfig config_;
  RopeSpec global_rope_, local_rope_;
  at::Tensor embed_tokens_;  // (V, C)
  std::vector<Layer> layers_;
  RmsNorm norm_;
  at::Tensor lm_head_;  // (V, C)
};

// A LlamaModel whose input starts with a bidirectional prefix (PaliGemma: image and prompt), as a
// CausalLM for the explainer and generation: every forward runs forward_embeds_prefix.
class PrefixLM final : public CausalLM {
 public:
  PrefixLM(const LlamaModel& lm, int64_t prefix) : lm_(lm), prefix_(prefix) {}
  at::Tensor embed_tokens(const at::Tensor& ids) const override { return lm_.embed_tokens(ids); }
  at::Tensor forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                            KVCache* cache) const override {
    return lm_.forward_embeds_prefix(embeds, prefix_, suppression, cache);
  }
  at::Tensor forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                              const Suppression& suppression, const KVCache& base,
                              int64_t outputs) const override {
    return lm_.forward_suffixes_prefix(embeds, prefix_, starts, suppression, base, outputs);
  }
  bool packs_suffixes() const override { return true; }
  at::Tensor lm_logits(const at::Tensor& hidden) const override { return lm_.lm_logits(hidden); }
  int64_t vocab_size() const override { return lm_.vocab_size(); }
  int64_t max_positions() const override { return lm_.max_positions(); }
  int num_layers() const override { return lm_.num_layers(); }
  int64_t hidden_size() const override { return lm_.hidden_size(); }
  int64_t prefix() const { return prefix_; }

 private:
  const LlamaModel& lm_;
  int64_t prefix_;
};

}  // namespace atman
