// The RoPE decoder families in one file, each switch following the transformers modeling file of
// its family. Parameter names are the Hugging Face ones ("model.layers.0.self_attn.q_proj.weight");
// RoPE uses the rotate-half convention of HF (partial rotary: the first rotary_dim dims only).
#include "models/llama.h"

#include <ATen/ATen.h>

#include <cmath>

#include "atman/error.h"

namespace atman {
namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

// x (B, H, T, D); cos/sin (T, R) with R <= D: rotates the first R dims and passes the rest.
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t R = cos.size(-1);
  if (R == x.size(-1)) return x * cos + rotate_half(x) * sin;
  const at::Tensor rot = x.narrow(-1, 0, R);
  return at::cat({rot * cos + rotate_half(rot) * sin, x.narrow(-1, R, x.size(-1) - R)}, -1);
}

}  // namespace

RmsNorm LlamaModel::load_norm(const WeightReader& w, const std::string& name, int64_t dim) const {
  RmsNorm norm = RmsNorm::load(w, name, dim, config_.rms_norm_eps);
  // Gemma scales by (1 + w) in float32: the same product once 1 + w is formed at load.
  if (config_.gemma_norms) norm.weight = norm.weight.to(at::kFloat) + 1.0;
  return norm;
}

LlamaModel::LlamaModel(const LlamaConfig& config, const Checkpoint& checkpoint, at::Device device,
                       const std::string& decoder_prefix, const std::string& head_name)
    : config_(config), global_rope_(global_rope(config)), local_rope_(local_rope(config)) {
  const WeightReader w(checkpoint, decoder_prefix, device);
  const int64_t C = config.hidden_size, V = config.vocab_size, I = config.intermediate_size;
  const int64_t D = config.head_dim, H = config.num_attention_heads,
                Hkv = config.num_key_value_heads;
  if (H % Hkv != 0)
    throw ModelError("config in " + checkpoint.dir().string() + ": num_attention_heads (" +
                     std::to_string(H) + ") is not a multiple of num_key_value_heads (" +
                     std::to_string(Hkv) + ")");
  embed_tokens_ = w.get("embed_tokens.weight", {V, C});
  const bool bias = config.attention_bias, mlp_bias = config.mlp_bias;
  const BlockNorms norms = config.block_norms;
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const WeightReader l = w.sub("layers." + std::to_string(i) + ".");
    Layer layer;
    if (norms != BlockNorms::Post) layer.input_layernorm = load_norm(l, "input_layernorm", C);
    layer.post_attention_layernorm = load_norm(l, "post_attention_layernorm", C);
    if (norms == BlockNorms::Sandwich)
      layer.pre_feedforward_layernorm = load_norm(l, "pre_feedforward_layernorm", C);
    if (norms != BlockNorms::Pre)
      layer.post_feedforward_layernorm = load_norm(l, "post_feedforward_layernorm", C);
    if (config.qk_norm == QkNorm::PerHead) {
      layer.q_norm = load_norm(l, "self_attn.q_norm", D);
      layer.k_norm = load_norm(l, "self_attn.k_norm", D);
    } else if (config.qk_norm == QkNorm::FullWidth) {
      layer.q_norm = load_norm(l, "self_attn.q_norm", H * D);
      layer.k_norm = load_norm(l, "self_attn.k_norm", Hkv * D);
    }
    if (config.fused_projections) {
      layer.qkv_proj = Linear::load(l, "self_attn.qkv_proj", C, (H + 2 * Hkv) * D, bias);
      layer.gate_up_proj = Linear::load(l, "mlp.gate_up_proj", C, 2 * I, mlp_bias);
    } else {
      layer.q_proj = Linear::load(l, "self_attn.q_proj", C, H * D, bias);
      layer.k_proj = Linear::load(l, "self_attn.k_proj", C, Hkv * D, bias);
      layer.v_proj = Linear::load(l, "self_attn.v_proj", C, Hkv * D, bias);
      layer.gate_proj = Linear::load(l, "mlp.gate_proj", C, I, mlp_bias);
      layer.up_proj = Linear::load(l, "mlp.up_proj", C, I, mlp_bias);
    }
    layer.o_proj = Linear::load(l, "self_attn.o_proj", H * D, C, config.o_proj_bias);
    layer.down_proj = Linear::load(l, "mlp.down_proj", I, C, mlp_bias);
    layers_.push_back(std::move(layer));
  }
  norm_ = load_norm(w, "norm", C);
  const WeightReader root(checkpoint, "", device);
  if (config.tie_word_embeddings)
    lm_head_ = embed_tokens_;
  else if (root.has(head_name))
    lm_head_ = root.get(head_name, {V, C});
  else
    throw ModelError("checkpoint in " + checkpoint.dir().string() + " has no '" + head_name +
                     "' and the config does not tie word embeddings (tie_word_embeddings: false)");
}

int64_t LlamaModel::max_positions() const {
  // Dynamic NTK exists to run past the trained length; allow `factor` times that.
  if (config_.rope_scaling.type == "dynamic")
    return static_cast<int64_t>(config_.max_position_embeddings * config_.rope_scaling.factor);
  return config_.max_position_embeddings;
}

at::Tensor LlamaModel::embed_tokens(const at::Tensor& ids) const {
  return at::embedding(embed_tokens_, ids);  // (B, T, C)
}

LlamaModel::Projected LlamaModel::project(const Layer& layer, const at::Tensor& h,
                                          const Rotary& rotary, bool queries,
                                          bool keys_values) const {
  const int64_t H = config_.num_attention_heads, Hkv = config_.num_key_value_heads;
  const int64_t D = config_.head_dim;
  // The output rows [begin, begin + count) of a projection (Phi-3's fused [q | k | v]).
  auto part = [&](const Linear& proj, int64_t begin, int64_t count) {
    const at::Tensor bias = proj.bias.defined() ? proj.bias.narrow(0, begin, count) : at::Tensor();
    return at::linear(h, proj.weight.narrow(0, begin, count), bias);
  };
  // Norms and rotation per head: (..., N, heads * D) -> (..., N, heads, D) and back.
  const at::Tensor cos = rotary.first.unsqueeze(-2), sin = rotary.second.unsqueeze(-2);
  auto finish = [&](at::Tensor x, int64_t heads, const RmsNorm& norm) {
    if (config_.qk_norm == QkNorm::FullWidth) x = norm(x);
    x = x.unflatten(-1, {heads, D});
    if (config_.qk_norm == QkNorm::PerHead) x = norm(x);
    return apply_rotary(x, cos, sin).flatten(-2);
  };
  Projected out;
  if (config_.fused_projections) {
    if (queries && keys_values) {
      const at::Tensor qkv = layer.qkv_proj(h);
      out.q = qkv.narrow(-1, 0, H * D);
      out.k = qkv.narrow(-1, H * D, Hkv * D);
      out.v = qkv.narrow(-1, (H + Hkv) * D, Hkv * D);
    } else if (queries) {
      out.q = part(layer.qkv_proj, 0, H * D);
    } else if (keys_values) {
      const at::Tensor kv = part(layer.qkv_proj, H * D, 2 * Hkv * D);
      out.k = kv.narrow(-1, 0, Hkv * D);
      out.v = kv.narrow(-1, Hkv * D, Hkv * D);
    }
  } else {
    if (queries) out.q = layer.q_proj(h);
    if (keys_values) {
      out.k = layer.k_proj(h);
      out.v = layer.v_proj(h);
    }
  }
  if (queries) out.q = finish(out.q, H, layer.q_norm);
  if (keys_values) out.k = finish(out.k, Hkv, layer.k_norm);
  return out;
}

AttentionOptions LlamaModel::attention_options(int l, int64_t prefix) const {
  AttentionOptions options;
  if (config_.query_pre_attn_scalar > 0)
    options.scale = std::pow(config_.query_pre_attn_scalar, -0.5);
  options.softcap = config_.attn_logit_softcapping;
  if (config_.is_sliding(l)) options.window = config_.sliding_window;
  options.prefix = prefix;
  return options;
}

at::Tensor LlamaModel::attention_block(const Layer& layer, int l, const at::Tensor& h,
                                       const Rotary& rotary, int64_t prefix,
                                       const Suppression* suppression, KVCache* cache) const {
  const int64_t H = config_.num_attention_heads, Hkv = config_.num_key_value_heads;
  const Projected p = project(layer, h, rotary, true, true);
  at::Tensor q = split_heads(p.q, H);  // (B, H, T, D)
  at::Tensor k = split_heads(p.k, Hkv), v = split_heads(p.v, Hkv);
  if (cache) std::tie(k, v) = cache->append(l, k, v);  // (B, Hkv, past + T, D)
  at::Tensor y = attention(q, k, v, /*causal=*/true, suppression, l, attention_options(l, prefix));
  return layer.o_proj(merge_heads(y));
}

at::Tensor LlamaModel::mlp(const Layer& layer, const at::Tensor& h) const {
  if (config_.fused_projections) {  // Phi-3: gate_up_proj = [gate | up]
    const at::Tensor gate_up = layer.gate_up_proj(h);
    const int64_t I = config_.intermediate_size;
    return layer.down_proj(gate_up.narrow(-1, I, I) *
                           activate(gate_up.narrow(-1, 0, I), config_.hidden_act));
  }
  return layer.down_proj(activate(layer.gate_proj(h), config_.hidden_act) * layer.up_proj(h));
}

at::Tensor LlamaModel::input_norm(const Layer& layer, const at::Tensor& x) const {
  return config_.block_norms == BlockNorms::Post ? x : layer.input_layernorm(x);
}

at::Tensor LlamaModel::after_attention(const Layer& layer, const at::Tensor& x,
                                       at::Tensor attended) const {
  const BlockNorms norms = config_.block_norms;
  if (norms != BlockNorms::Pre) attended = layer.post_attention_layernorm(attended);
  const at::Tensor mid = x + attended;
  at::Tensor h = norms == BlockNorms::Pre        ? layer.post_attention_layernorm(mid)
                 : norms == BlockNorms::Sandwich ? layer.pre_feedforward_layernorm(mid)
                                                 : mid;
  h = mlp(layer, h);
  if (norms != BlockNorms::Pre) h = layer.post_feedforward_layernorm(h);
  return mid + h;
}

at::Tensor LlamaModel::scaled_embeddings(const at::Tensor& embeds) const {
  // Gemma: times sqrt(hidden) rounded to the activations' dtype, as its normalizer tensor is.
  if (!config_.scale_embeddings) return embeds;
  return embeds *
         at::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size)), embeds.options());
}

at::Tensor LlamaModel::forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                                      KVCache* cache) const {
  return forward_embeds_prefix(embeds, 0, suppression, cache);
}

std::pair<LlamaModel::Rotary, LlamaModel::Rotary> LlamaModel::rotary_at(
    int64_t past, const at::Tensor& embeds) const {
  const int64_t T = embeds.size(1);
  if (past + T > max_positions())
    throw InputError("input of " + std::to_string(past + T) + " tokens is longer than the " +
                     std::to_string(max_positions()) + " positions this model supports");
  // Computed in float32 as transformers does, used in the activations' dtype. PaliGemma's rotary
  // positions start at 1 (position_offset).
  const int64_t start = past + config_.position_offset;
  const Rotary global = global_rope_.cos_sin(start, T, embeds.device(), embeds.scalar_type());
  if (config_.rope_local_theta <= 0) return {global, global};
  return {global, local_rope_.cos_sin(start, T, embeds.device(), embeds.scalar_type())};
}

LlamaModel::Rotary LlamaModel::mrope_at(const at::Tensor& positions,
                                        const at::Tensor& embeds) const {
  const int64_t T = embeds.size(1);
  if (config_.mrope_section.empty())
    throw Error(config_.architecture + " has no multimodal RoPE (mrope_section)");
  if (positions.dim() != 2 || positions.size(0) != 3 || positions.size(1) != T)
    throw Error("multimodal positions must have shape (3, " + std::to_string(T) + ")");
  const int64_t last = positions.max().item<int64_t>();
  if (last >= max_positions())
    throw InputError("input reaches position " + std::to_string(last) + ", past the " +
                     std::to_string(max_positions()) + " positions this model supports");
  return global_rope_.mrope_cos_sin(positions, config_.mrope_section, embeds.device(),
                                    embeds.scalar_type());
}

at::Tensor LlamaModel::forward_embeds_prefix(const at::Tensor& embeds, int64_t prefix,
                                             const Suppression* suppression, KVCache* cache) const {
  const auto [global, local] = rotary_at(cache ? cache->length() : 0, embeds);
  return run_layers(embeds, global, local, prefix, suppression, cache);
}

at::Tensor LlamaModel::forward_embeds_at(const at::Tensor& embeds, const at::Tensor& positions,
                                         const Suppression* suppression, KVCache* cache) const {
  const Rotary rotary = mrope_at(positions, embeds);
  return run_layers(embeds, rotary, rotary, 0, suppression, cache);
}

at::Tensor LlamaModel::run_layers(const at::Tensor& embeds, const Rotary& global,
                                  const Rotary& local, int64_t prefix,
                                  const Suppression* suppression, KVCache* cache) const {
  at::Tensor x = scaled_embeddings(embeds);  // (B, T, C)
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    const Layer& layer = layers_[l];
    const auto& rotary = config_.is_sliding(l) ? local : global;
    const at::Tensor h =
        attention_block(layer, l, input_norm(layer, x), rotary, prefix, suppression, cache);
    x = after_attention(layer, x, h);
  }
  return norm_(x);
}

at::Tensor LlamaModel::lm_logits(const at::Tensor& hidden) const {
  at::Tensor logits = at::matmul(hidden, lm_head_.t());  // (..., V)
  if (config_.final_logit_softcapping > 0) {
    const double cap = config_.final_logit_softcapping;
    logits = at::tanh(logits / cap) * cap;
  }
  // Logits in float32 whatever the compute dtype, as transformers returns them.
  return logits.to(at::kFloat);
}

}  // namespace atman
