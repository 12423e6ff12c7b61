// GPT-2 in one file. Parameter names are the Hugging Face ones ("h.0.attn.c_attn.weight"), with or
// without the "transformer." prefix of GPT2LMHeadModel checkpoints.
#include "models/gpt2.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <utility>

#include "atman/error.h"
#include "models/gelu_tanh.h"
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
    x = x + mlp(b, b.ln_2(x));
  }
  return ln_f_(x);
}

namespace {

// A (rows, columns) matrix in `buffer`'s memory, which grows to the largest size asked for: the
// explainer's layers reuse one allocation instead of mapping (and page-faulting) a new one each.
at::Tensor rows_in(at::Tensor* buffer, int64_t rows, int64_t columns,
                   const at::TensorOptions& options) {
  if (buffer == nullptr) return at::empty({rows, columns}, options);
  if (!buffer->defined() || buffer->numel() < rows * columns)
    *buffer = at::empty({rows * columns}, options);
  return buffer->slice(0, 0, rows * columns).view({rows, columns});
}

}  // namespace

at::Tensor Gpt2Model::mlp(const Block& b, const at::Tensor& x, at::Tensor* buffer) const {
  if (x.requires_grad() && at::GradMode::is_enabled())  // the gradient baselines
    return b.mlp_c_proj(activate(b.c_fc(x), config_.activation));
  // Without gradients the activation runs in place; gelu_new (every GPT-2 checkpoint) adds c_fc's
  // bias in the same pass.
  const at::Tensor rows = x.flatten(0, -2);
  at::Tensor inner = rows_in(buffer, rows.size(0), b.c_fc.weight.size(1), rows.options());
  if (config_.activation == Activation::GeluTanh) {
    at::mm_out(inner, rows, b.c_fc.weight);
    bias_gelu_tanh_(inner, b.c_fc.bias);
  } else {
    at::addmm_out(inner, b.c_fc.bias, rows, b.c_fc.weight);
    activate_(inner, config_.activation);
  }
  return b.mlp_c_proj(inner).unflatten(0, x.sizes().slice(0, x.dim() - 1));
}

at::Tensor Gpt2Model::lm_logits(const at::Tensor& hidden) const {
  // Logits in float32 whatever the compute dtype, as transformers returns them.
  return at::matmul(hidden, lm_head_.t()).to(at::kFloat);  // (..., V)
}

namespace {

// Attention of each perturbation on its own rows: one attention() call per perturbation b, with
// queries(b) (its query rows, (L, C)) and keys_values(b) (its T key and value rows), all views or
// small copies. Against one padded (B, T - first) layout this does no work for the rows before
// a perturbation's start, and needs no padded copies of Q, K, V and the output. Returns the
// outputs of every perturbation's rows, in order: (sum of L, C).
template <class Queries, class KeysValues>
at::Tensor attend_each(int64_t batch, int64_t rows, const Queries& queries,
                       const KeysValues& keys_values, int64_t heads, const Suppression& suppression,
                       int layer) {
  Suppression one = suppression;
  at::Tensor out;
  for (int64_t b = 0, row = 0; b < batch; ++b) {
    if (suppression.factors.defined() && suppression.factors.size(0) != 1)
      one.factors = suppression.factors.slice(0, b, b + 1);
    const at::Tensor q = queries(b);
    const auto [k, v] = keys_values(b);
    const int64_t L = q.size(0), C = q.size(1);
    const at::Tensor y =
        attention(split_heads(q.unsqueeze(0), heads), split_heads(k.unsqueeze(0), heads),
                  split_heads(v.unsqueeze(0), heads), /*causal=*/true, &one, layer);
    if (!out.defined()) out = at::empty({rows, C}, y.options());
    // (1, H, L, D) -> rows (L, C) of the output
    out.slice(0, row, row + L).view({L, heads, C / heads}).copy_(y[0].transpose(0, 1));
    row += L;
  }
  return out;
}

}  // namespace

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
    return needs_base ? merge_heads(kv[l]).view({T, C}) : at::Tensor();
  };
  // Perturbation b's T rows: the unperturbed pass's before its start, its packed rows after.
  auto own_rows = [&](const at::Tensor& base_rows, const at::Tensor& packed, int64_t b) {
    const int64_t start = batch.start(b), offset = batch.offset(b);
    const at::Tensor own = packed.slice(0, offset, offset + T - start);
    return start > 0 ? at::cat({base_rows.slice(0, 0, start), own}, 0) : own;
  };
  // Positions [first, T) are the same for every perturbation until layer 0's attention: its
  // norm and Q/K/V run once, batch 1, and only the suppressed attention per perturbation.
  const at::Tensor shared = (embeds.slice(1, first) + wpe_.slice(0, first, T)).view({P, C});
  at::Tensor x = batch.spread(shared);  // packed (rows, C)
  const int64_t out_rows = B * outputs;
  at::Tensor qkv_buffer, mlp_buffer;  // reused by every layer
  for (int l = 0; l < config_.n_layer; ++l) {
    const Block& b = h_[l];
    // The last layer computes queries, and everything after attention, at the outputs only.
    const bool last = l == config_.n_layer - 1;
    at::Tensor y;  // attention output: packed (rows, C), or (B * outputs, C) in the last layer
    if (l == 0) {
      auto parts = b.c_attn(b.ln_1(shared)).chunk(3, -1);  // (P, C) each
      auto with_prefix = [&](const at::Tensor& rows, const std::vector<at::Tensor>& kv) {
        return first > 0 ? at::cat({base_rows(kv, 0).slice(0, 0, first), rows}, 0) : rows;
      };
      const at::Tensor q = parts[0], k = with_prefix(parts[1], base.keys),
                       v = with_prefix(parts[2], base.values);  // (P, C), (T, C), (T, C)
      if (!suppression.active_in(0)) {
        // Not suppressed: the same for every perturbation, so once.
        const at::Tensor once =
            attention(split_heads(q.unsqueeze(0), heads), split_heads(k.unsqueeze(0), heads),
                      split_heads(v.unsqueeze(0), heads), true, &suppression, 0);
        y = batch.spread(merge_heads(once).view({P, C}));
        if (last) y = batch.last(y);
      } else {
        y = attend_each(
            B, last ? out_rows : batch.rows(),
            [&](int64_t i) { return q.slice(0, last ? P - outputs : batch.start(i) - first); },
            [&](int64_t) {
              return std::pair{k, v};
            },
            heads, suppression, 0);
      }
    } else {
      const at::Tensor h = b.ln_1(x);
      at::Tensor q, k, v;  // q: packed (rows, C) or (B * outputs, C); k, v: packed (rows, C)
      if (last) {
        q = b.c_attn.columns(0, C)(batch.last(h));
        auto kv = b.c_attn.columns(C, 3 * C)(h).chunk(2, -1);
        k = kv[0], v = kv[1];
      } else {
        at::Tensor qkv = rows_in(&qkv_buffer, h.size(0), 3 * C, h.options());
        auto parts = at::addmm_out(qkv, b.c_attn.bias, h, b.c_attn.weight).chunk(3, -1);
        q = parts[0], k = parts[1], v = parts[2];
      }
      const at::Tensor base_k = base_rows(base.keys, l), base_v = base_rows(base.values, l);
      y = attend_each(
          B, last ? out_rows : batch.rows(),
          [&](int64_t i) {
            return last ? q.slice(0, i * outputs, (i + 1) * outputs)
                        : q.slice(0, batch.offset(i), batch.offset(i) + T - batch.start(i));
          },
          [&](int64_t i) {
            return std::pair{own_rows(base_k, k, i), own_rows(base_v, v, i)};
          },
          heads, suppression, l);
    }
    if (last) x = batch.last(x);
    x.add_(b.attn_c_proj(y));
    x.add_(mlp(b, b.ln_2(x), &mlp_buffer));
  }
  return ln_f_(x).view({B, outputs, C});
}

}  // namespace atman
