// GPT-2 (HF GPT2LMHeadModel): learned positions, pre-norm blocks, Conv1D projections, tied head.
#pragma once

#include <filesystem>
#include <memory>

#include "atman/hf_config.h"
#include "models/causal_lm.h"
#include "models/layers.h"

namespace atman {

class Gpt2Model final : public CausalLM {
 public:
  Gpt2Model(const Gpt2Config& config, const Checkpoint& checkpoint, at::Device device);

  at::Tensor embed_tokens(const at::Tensor& ids) const override;
  at::Tensor forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                            KVCache* cache) const override;
  // Each perturbation from its own start, the last layer at the output positions only.
  at::Tensor forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                              const Suppression& suppression, const KVCache& base,
                              int64_t outputs) const override;
  bool packs_suffixes() const override { return true; }
  at::Tensor lm_logits(const at::Tensor& hidden) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_positions() const override { return config_.n_positions; }
  int num_layers() const override { return config_.n_layer; }
  int64_t hidden_size() const override { return config_.n_embd; }
  const Gpt2Config& config() const { return config_; }

 private:
  struct Block {
    LayerNorm ln_1, ln_2;
    Conv1D c_attn, attn_c_proj, c_fc, mlp_c_proj;
  };
  // c_fc, activation, c_proj: (..., C) -> (..., C); `buffer` (optional) holds the activation's
  // memory from one call to the next.
  at::Tensor mlp(const Block& b, const at::Tensor& x, at::Tensor* buffer = nullptr) const;

  Gpt2Config config_;
  at::Tensor wte_, wpe_;  // (V, C), (P, C)
  std::vector<Block> h_;
  LayerNorm ln_f_;
  at::Tensor lm_head_;  // (V, C): wte unless the checkpoint has its own lm_head.weight
};

}  // namespace atman
