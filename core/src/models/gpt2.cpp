// GPT-2 in one file. Parameter names are the Hugging Face ones ("h.0.attn.c_attn.weight"), with or
// without the "transformer." prefix of GPT2LMHeadModel checkpoints.
#include "models/gpt2.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "atman/error.h"
#include "models/suffix_batch.h"

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

at::Tensor Gpt2Model::forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                                       const Suppression& suppression, const KVCache& base,
                                       int64_t outputs) const {
  const int64_t T = embeds.size(1), C = config_.n_embd, heads = config_.n_head;
  if (T > config_.n_positions)
    throw InputError("input of " + std::to_string(T) + " tokens is longer than the " +
                     std::to_string(config_.n_positions) + " positions this GPT-2 model supports");
  const SuffixBatch batch(starts, T, outputs, embeds.device());
  const int64_t B = batch.batch(), P = batch.padded(), first = batch.first();
  const bool needs_base = *std::max_element(starts.begin(), starts.end()) > 0;
  if (needs_base && (static_cast<int>(base.keys.size()) != config_.n_layer || base.length() != T))
    throw Error("GPT-2 perturbations after position 0 need the unperturbed pass's keys");
  // The unperturbed pass's keys or values of layer l as rows (T, C); without them (every start
  // 0) no row of them is read.
  auto base_rows = [&](const std::vector<at::Tensor>& kv, int l) {
    return needs_base ? merge_heads(kv[l]).view({T, C}) : at::zeros({T, C}, embeds.options());
  };
  // Positions [first, T) are the same for every perturbation until layer 0's attention: its
  // norm and Q/K/V run once, batch 1, and broadcast against the B factor rows.
  const at::Tensor shared = (embeds.slice(1, first) + wpe_.slice(0, first, T)).view({P, C});
  at::Tensor x = batch.spread(shared);  // packed (rows, C)
  for (int l = 0; l < config_.n_layer; ++l) {
    const Block& b = h_[l];
    // The last layer computes queries, and everything after attention, at the outputs only.
    const bool last = l == config_.n_layer - 1;
    at::Tensor q, k, v;  // (B or 1, queries, C), (B or 1, T, C)
    if (l == 0) {
      auto parts = b.c_attn(b.ln_1(shared)).chunk(3, -1);  // (P, C) each
      auto with_prefix = [&](const at::Tensor& rows, const std::vector<at::Tensor>& kv) {
        return first > 0 ? at::cat({base_rows(kv, 0).slice(0, 0, first), rows}, 0) : rows;
      };
      q = (last ? parts[0].slice(0, P - outputs) : parts[0]).unsqueeze(0);
      k = with_prefix(parts[1], base.keys).unsqueeze(0);
      v = with_prefix(parts[2], base.values).unsqueeze(0);
    } else {
      const at::Tensor h = b.ln_1(x);
      if (last) {
        q = b.c_attn.columns(0, C)(batch.last(h)).view({B, outputs, C});
        auto kv = b.c_attn.columns(C, 3 * C)(h).chunk(2, -1);
        k = batch.full(kv[0], base_rows(base.keys, l));
        v = batch.full(kv[1], base_rows(base.values, l));
      } else {
        auto parts = b.c_attn(h).chunk(3, -1);
        q = batch.to_padded(parts[0]);
        k = batch.full(parts[1], base_rows(base.keys, l));
        v = batch.full(parts[2], base_rows(base.values, l));
      }
    }
    at::Tensor y = attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads),
                             /*causal=*/true, &suppression, l);
    y = merge_heads(y).expand({B, -1, -1});  // batch 1 when layer 0 is not suppressed
    if (last) {
      x = batch.last(x) + b.attn_c_proj(y.reshape({B * outputs, C}));
    } else {
      x = x + b.attn_c_proj(batch.from_padded(y));
    }
    x = x + b.mlp_c_proj(activate(b.c_fc(b.ln_2(x)), config_.activation));
  }
  return ln_f_(x).view({B, outputs, C});
}

}  // namespace atman
