// A Llama-style decoder in one file. Parameter names are the Hugging Face ones
// ("model.layers.0.self_attn.q_proj.weight"); RoPE uses the rotate-half convention of HF.
#include "atman/models/llama.h"

#include <ATen/ATen.h>

#include "atman/error.h"

namespace atman {
namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

}  // namespace

LlamaModel::LlamaModel(const LlamaConfig& config, const Checkpoint& checkpoint,
                       at::Device device, const std::string& decoder_prefix,
                       const std::string& head_name)
    : config_(config) {
  const WeightReader w(checkpoint, decoder_prefix, device);
  const int64_t C = config.hidden_size, V = config.vocab_size, I = config.intermediate_size;
  const int64_t D = config.head_dim, H = config.num_attention_heads,
                Hkv = config.num_key_value_heads;
  if (H % Hkv != 0)
    throw ModelError("config in " + checkpoint.dir().string() + ": num_attention_heads (" +
                     std::to_string(H) + ") is not a multiple of num_key_value_heads (" +
                     std::to_string(Hkv) + ")");
  embed_tokens_ = w.get("embed_tokens.weight", {V, C});
  const bool bias = config.attention_bias;
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const WeightReader l = w.sub("layers." + std::to_string(i) + ".");
    layers_.push_back(Layer{
        RmsNorm::load(l, "input_layernorm", C, config.rms_norm_eps),
        RmsNorm::load(l, "post_attention_layernorm", C, config.rms_norm_eps),
        Linear::load(l, "self_attn.q_proj", C, H * D, bias),
        Linear::load(l, "self_attn.k_proj", C, Hkv * D, bias),
        Linear::load(l, "self_attn.v_proj", C, Hkv * D, bias),
        Linear::load(l, "self_attn.o_proj", H * D, C, false),
        Linear::load(l, "mlp.gate_proj", C, I, false),
        Linear::load(l, "mlp.up_proj", C, I, false),
        Linear::load(l, "mlp.down_proj", I, C, false),
    });
  }
  norm_ = RmsNorm::load(w, "norm", C, config.rms_norm_eps);
  const WeightReader root(checkpoint, "", device);
  if (config.tie_word_embeddings)
    lm_head_ = embed_tokens_;
  else if (root.has(head_name))
    lm_head_ = root.get(head_name, {V, C});
  else
    throw ModelError("checkpoint in " + checkpoint.dir().string() + " has no '" + head_name +
                     "' and the config does not tie word embeddings (tie_word_embeddings: false)");
  inv_freq_ = 1.0 / at::pow(config.rope_theta, at::arange(0, D, 2, at::kDouble) / D);
}

std::pair<at::Tensor, at::Tensor> LlamaModel::rotary(int64_t start, int64_t T) const {
  at::Tensor positions = at::arange(start, start + T, at::kDouble);  // (T)
  at::Tensor freqs = at::outer(positions, inv_freq_);                // (T, D/2)
  at::Tensor angles = at::cat({freqs, freqs}, -1);                   // (T, D)
  return {angles.cos().to(at::kFloat), angles.sin().to(at::kFloat)};
}

at::Tensor LlamaModel::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(embed_tokens_, ids);  // (B, T, C)
}

at::Tensor LlamaModel::forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                                      KVCache* cache) const {
  const int64_t past = cache ? cache->length() : 0;
  const int64_t T = embeds.size(1);
  if (past + T > config_.max_position_embeddings)
    throw InputError("input of " + std::to_string(past + T) + " tokens is longer than the " +
                     std::to_string(config_.max_position_embeddings) +
                     " positions this model supports");
  auto [cos, sin] = rotary(past, T);  // (T, D)
  // Computed in float64, used in the model's dtype.
  cos = cos.to(embeds.device(), embeds.scalar_type());
  sin = sin.to(embeds.device(), embeds.scalar_type());
  const int64_t H = config_.num_attention_heads, Hkv = config_.num_key_value_heads;
  at::Tensor x = embeds;  // (B, T, C)
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    const Layer& layer = layers_[l];
    at::Tensor h = layer.input_layernorm(x);
    at::Tensor q = split_heads(layer.q_proj(h), H);    // (B, H, T, D)
    at::Tensor k = split_heads(layer.k_proj(h), Hkv);  // (B, Hkv, T, D)
    at::Tensor v = split_heads(layer.v_proj(h), Hkv);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    if (cache) std::tie(k, v) = cache->append(l, k, v);  // (B, Hkv, past + T, D)
    at::Tensor y = attention(q, k, v, /*causal=*/true, suppression, l);
    x = x + layer.o_proj(merge_heads(y));
    h = layer.post_attention_layernorm(x);
    x = x + layer.down_proj(activate(layer.gate_proj(h), config_.hidden_act) * layer.up_proj(h));
  }
  return norm_(x);
}

at::Tensor LlamaModel::lm_logits(const at::Tensor& hidden) const {
  // Logits in float32 whatever the compute dtype, as transformers returns them.
  return at::matmul(hidden, lm_head_.t()).to(at::kFloat);  // (..., V)
}

}  // namespace atman
