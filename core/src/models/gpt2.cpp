// GPT-2 in one file. Parameter names are the Hugging Face ones ("h.0.attn.c_attn.weight"), with or
// without the "transformer." prefix of GPT2LMHeadModel checkpoints.
#include "models/gpt2.h"

#include <ATen/ATen.h>

#include "atman/error.h"

namespace atman {

Gpt2Model::Gpt2Model(const Gpt2Config& config, const Checkpoint& checkpoint, at::Device device)
    : config_(config) {
  if (!config.scale_attn_weights || config.scale_attn_by_inverse_layer_idx)
    throw ModelError(
        "GPT-2 config in " + checkpoint.dir().string() +
        " uses unscaled or layer-scaled attention, which AtMan Studio does not support");
  const std::string prefix = checkpoint.has("transformer.wte.weight") ? "transformer." : "";
  const WeightReader w(checkpoint, prefix, device);
  const int64_t C = config.n_embd, V = config.vocab_size, inner = config.n_inner;
  wte_ = w.get("wte.weight", {V, C});
  wpe_ = w.get("wpe.weight", {config.n_positions, C});
  for (int i = 0; i < config.n_layer; ++i) {
    const WeightReader b = w.sub("h." + std::to_string(i) + ".");
    h_.push_back(Block{
        LayerNorm::load(b, "ln_1", C, config.layer_norm_epsilon),
        LayerNorm::load(b, "ln_2", C, config.layer_norm_epsilon),
        Conv1D::load(b, "attn.c_attn", C, 3 * C),
        Conv1D::load(b, "attn.c_proj", C, C),
        Conv1D::load(b, "mlp.c_fc", C, inner),
        Conv1D::load(b, "mlp.c_proj", inner, C),
    });
  }
  ln_f_ = LayerNorm::load(w, "ln_f", C, config.layer_norm_epsilon);
  const WeightReader root(checkpoint, "", device);
  lm_head_ = root.has("lm_head.weight") ? root.get("lm_head.weight", {V, C}) : wte_;
}

at::Tensor Gpt2Model::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(wte_, ids);  // (B, T, C)
}

at::Tensor Gpt2Model::forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                                     KVCache* cache) const {
  const int64_t past = cache ? cache->length() : 0;
  const int64_t T = embeds.size(1);
  if (past + T > config_.n_positions)
    throw InputError("input of " + std::to_string(past + T) + " tokens is longer than the " +
                     std::to_string(config_.n_positions) + " positions this GPT-2 model supports");
  at::Tensor x = embeds + wpe_.slice(0, past, past + T);  // (B, T, C)
  const int64_t heads = config_.n_head;
  for (int l = 0; l < config_.n_layer; ++l) {
    const Block& b = h_[l];
    at::Tensor qkv = b.c_attn(b.ln_1(x));  // (B, T, 3C)
    auto parts = qkv.chunk(3, -1);
    at::Tensor q = split_heads(parts[0], heads);  // (B, H, T, D)
    at::Tensor k = split_heads(parts[1], heads);
    at::Tensor v = split_heads(parts[2], heads);
    if (cache) std::tie(k, v) = cache->append(l, k, v);  // (B, H, past + T, D)
    at::Tensor y = attention(q, k, v, /*causal=*/true, suppression, l);
    x = x + b.attn_c_proj(merge_heads(y));
    x = x + b.mlp_c_proj(activate(b.c_fc(b.ln_2(x)), config_.activation));
  }
  return ln_f_(x);
}

at::Tensor Gpt2Model::lm_logits(const at::Tensor& hidden) const {
  // Logits in float32 whatever the compute dtype, as transformers returns them.
  return at::matmul(hidden, lm_head_.t()).to(at::kFloat);  // (..., V)
}

}  // namespace atman
