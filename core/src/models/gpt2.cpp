// GPT-2 in one file. Parameter names are the Hugging Face ones ("h.0.attn.c_attn.weight"), with or
// without the "transformer." prefix of GPT2LMHeadModel checkpoints.
#include "models/gpt2.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
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

// Attention runs on groups of up to kGroup perturbations with neighbouring starts, one
// attention() call per group on a layout padded only to the group's smallest start: little work
// on rows before a start (a padded (B, T - first) layout does a third more at 94 tokens), and
// few enough calls that the per-operation costs (thread wake-ups, dispatch) stay small.
constexpr int64_t kGroup = 16;

struct AttentionGroup {
  at::Tensor members;     // (G): the perturbations, for their suppression factors
  int64_t start = 0;      // the members' smallest start
  int64_t queries = 0;    // query rows per member: T - start, or the outputs in the last layer
  at::Tensor query_rows;  // (G * queries): per padded query, its row in the queries (padding: any)
  at::Tensor key_rows;    // (G * T): per key, its row in [unperturbed rows (T); packed rows]
  at::Tensor valid;       // the padded rows that are a member's own rows
  at::Tensor out_rows;    // and their rows in the output
};

// `outputs` > 0: the last layer's queries, `outputs` per perturbation ((B * outputs) rows);
// else every perturbation's packed rows. with_base: keys before a start are the unperturbed
// pass's (T rows in front of the packed ones).
std::vector<AttentionGroup> plan_groups(const SuffixBatch& batch, int64_t outputs, bool with_base,
                                        at::Device device) {
  const int64_t B = batch.batch(), T = batch.positions(), base_rows = with_base ? T : 0;
  std::vector<int64_t> order(B);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return batch.start(a) < batch.start(b); });
  auto to_tensor = [&](const std::vector<int64_t>& v) {
    return at::tensor(v, at::kLong).to(device);
  };
  std::vector<AttentionGroup> groups;
  for (int64_t begin = 0; begin < B; begin += kGroup) {
    const std::vector<int64_t> members(order.begin() + begin,
                                       order.begin() + std::min(B, begin + kGroup));
    AttentionGroup g;
    g.start = batch.start(members[0]);
    g.queries = outputs > 0 ? outputs : T - g.start;
    std::vector<int64_t> query_rows, key_rows, valid, out_rows;
    for (size_t i = 0; i < members.size(); ++i) {
      const int64_t b = members[i], start = batch.start(b), offset = batch.offset(b);
      const int64_t padded_row = static_cast<int64_t>(i) * g.queries;
      for (int64_t p = 0; p < g.queries; ++p) {
        // Row p: the output p of b, or position g.start + p (before b's start: padding).
        const int64_t row = outputs > 0 ? b * outputs + p : offset + g.start + p - start;
        const bool own = outputs > 0 || g.start + p >= start;
        query_rows.push_back(own ? row : offset);
        if (!own) continue;
        valid.push_back(padded_row + p);
        out_rows.push_back(row);
      }
      for (int64_t j = 0; j < T; ++j)
        key_rows.push_back(j < start ? j : base_rows + offset + j - start);
    }
    g.members = to_tensor(members);
    g.query_rows = to_tensor(query_rows);
    g.key_rows = to_tensor(key_rows);
    g.valid = to_tensor(valid);
    g.out_rows = to_tensor(out_rows);
    groups.push_back(std::move(g));
  }
  return groups;
}

// One group's attention: q (G or 1, queries, C), k and v (G or 1, T, C); writes the members' own
// rows of the result into `out`.
void attend_group(const AttentionGroup& g, const at::Tensor& q, const at::Tensor& k,
                  const at::Tensor& v, int64_t heads, const Suppression& suppression, int layer,
                  at::Tensor& out) {
  Suppression members = suppression;
  if (suppression.factors.defined() && suppression.factors.size(0) != 1)
    members.factors = suppression.factors.index_select(0, g.members);
  const at::Tensor y = attention(split_heads(q, heads), split_heads(k, heads),
                                 split_heads(v, heads), /*causal=*/true, &members, layer);
  const at::Tensor rows = merge_heads(y).reshape({-1, out.size(1)});  // (G * queries, C)
  out.index_copy_(0, g.out_rows, rows.index_select(0, g.valid));
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
  // Positions [first, T) are the same for every perturbation until layer 0's attention: its
  // norm and Q/K/V run once, batch 1, and only the suppressed attention per perturbation.
  const at::Tensor shared = (embeds.slice(1, first) + wpe_.slice(0, first, T)).view({P, C});
  at::Tensor x = batch.spread(shared);  // packed (rows, C)
  const int64_t out_rows = B * outputs;
  at::Tensor qkv_buffer, mlp_buffer;  // reused by every layer
  const auto groups = plan_groups(batch, 0, needs_base, embeds.device());
  const auto last_groups = plan_groups(batch, outputs, needs_base, embeds.device());
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
        // Queries and keys are the same for every member: batch 1 against the members' factors.
        y = at::empty({last ? out_rows : batch.rows(), C}, q.options());
        for (const AttentionGroup& g : last ? last_groups : groups) {
          const at::Tensor queries = q.slice(0, last ? P - outputs : g.start - first);
          attend_group(g, queries.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), heads, suppression,
                       0, y);
        }
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
      // Keys and values with the unperturbed pass's rows in front, for each group to pick from.
      const at::Tensor keys = needs_base ? at::cat({base_rows(base.keys, l), k}, 0) : k;
      const at::Tensor values = needs_base ? at::cat({base_rows(base.values, l), v}, 0) : v;
      y = at::empty({last ? out_rows : batch.rows(), C}, q.options());
      for (const AttentionGroup& g : last ? last_groups : groups) {
        const int64_t members = g.members.size(0);
        attend_group(g, q.index_select(0, g.query_rows).view({members, g.queries, C}),
                     keys.index_select(0, g.key_rows).view({members, T, C}),
                     values.index_select(0, g.key_rows).view({members, T, C}), heads, suppression,
                     l, y);
      }
    }
    if (last) x = batch.last(x);
    x.add_(b.attn_c_proj(y));
    x.add_(mlp(b, b.ln_2(x), &mlp_buffer));
  }
  return ln_f_(x).view({B, outputs, C});
}

}  // namespace atman
