// Llama-style decoder (Llama, Qwen2, Mistral, SmolLM, TinyLlama): RMSNorm, rotary positions,
// SwiGLU MLP, grouped-query attention, optional q/k/v biases, tied or untied LM head.
#pragma once

#include <string>

#include "atman/hf_config.h"
#include "atman/models/causal_lm.h"
#include "atman/models/layers.h"

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
  at::Tensor lm_logits(const at::Tensor& hidden) const override;
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_positions() const override { return config_.max_position_embeddings; }
  int num_layers() const override { return config_.num_hidden_layers; }
  int64_t hidden_size() const override { return config_.hidden_size; }
  const LlamaConfig& config() const { return config_; }

 private:
  struct Layer {
    RmsNorm input_layernorm, post_attention_layernorm;
    Linear q_proj, k_proj, v_proj, o_proj;
    Linear gate_proj, up_proj, down_proj;
  };
  // cos/sin of the rotary embedding for positions [start, start + T): (T, D) each.
  std::pair<at::Tensor, at::Tensor> rotary(int64_t start, int64_t T) const;

  LlamaConfig config_;
  at::Tensor embed_tokens_;  // (V, C)
  std::vector<Layer> layers_;
  RmsNorm norm_;
  at::Tensor lm_head_;  // (V, C)
  at::Tensor inv_freq_;  // (D/2)
};

}  // namespace atman
