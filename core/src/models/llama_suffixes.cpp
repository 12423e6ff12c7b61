// The explainer's packed perturbation batches of the RoPE decoders (models/suffix_batch.h): each
// perturbation recomputed from its own start, the token-wise work (norms, projections, rotation,
// MLP) on the packed rows, attention on a padded layout whose earlier keys are the unperturbed
// pass's, and the last layer's queries, output projection and MLP at the output positions only.
#include <ATen/ATen.h>

#include <algorithm>

#include "atman/error.h"
#include "models/llama.h"
#include "models/suffix_batch.h"

namespace atman {

at::Tensor LlamaModel::forward_suffixes(const at::Tensor& embeds,
                                        const std::vector<int64_t>& starts,
                                        const Suppression& suppression, const KVCache& base,
                                        int64_t outputs) const {
  return forward_suffixes_prefix(embeds, 0, starts, suppression, base, outputs);
}

at::Tensor LlamaModel::forward_suffixes_prefix(const at::Tensor& embeds, int64_t prefix,
                                               const std::vector<int64_t>& starts,
                                               const Suppression& suppression, const KVCache& base,
                                               int64_t outputs) const {
  const auto [global, local] = rotary_at(0, embeds);
  return run_suffixes(embeds, global, local, prefix, starts, suppression, base, outputs);
}

at::Tensor LlamaModel::forward_suffixes_at(const at::Tensor& embeds, const at::Tensor& positions,
                                           const std::vector<int64_t>& starts,
                                           const Suppression& suppression, const KVCache& base,
                                           int64_t outputs) const {
  const Rotary rotary = mrope_at(positions, embeds);
  return run_suffixes(embeds, rotary, rotary, 0, starts, suppression, base, outputs);
}

at::Tensor LlamaModel::run_suffixes(const at::Tensor& embeds, const Rotary& global,
                                    const Rotary& local, int64_t prefix,
                                    const std::vector<int64_t>& starts,
                                    const Suppression& suppression, const KVCache& base,
                                    int64_t outputs) const {
  const int64_t T = embeds.size(1), C = config_.hidden_size;
  const int64_t H = config_.num_attention_heads, Hkv = config_.num_key_value_heads;
  const int64_t KV = Hkv * config_.head_dim;
  const int layers = config_.num_hidden_layers;
  const SuffixBatch batch(starts, T, outputs, embeds.device());
  const int64_t B = batch.batch(), P = batch.padded(), first = batch.first();
  for (int64_t start : starts)
    if (start > 0 && start < prefix)
      throw Error("a perturbation starting at position " + std::to_string(start) +
                  " lies inside the bidirectional prefix of " + std::to_string(prefix) +
                  " positions, which sees every later key of it; start it at 0");
  const bool needs_base = *std::max_element(starts.begin(), starts.end()) > 0;
  if (needs_base && (static_cast<int>(base.keys.size()) != layers || base.length() != T))
    throw Error(config_.architecture +
                " perturbations after position 0 need the unperturbed pass's keys");
  // The unperturbed pass's keys or values of layer l as rows (T, Hkv * D); without them (every
  // start 0) no row of them is read.
  auto base_rows = [&](const std::vector<at::Tensor>& kv, int l) {
    return needs_base ? merge_heads(kv[l]).view({T, KV}) : at::zeros({T, KV}, embeds.options());
  };
  // Each rotary table at the rows that use it: positions [first, T) (layer 0's shared rows), the
  // packed rows, and the output positions.
  struct Tables {
    Rotary shared, packed, outputs;
  };
  auto tables_of = [&](const Rotary& r) {
    const Rotary shared{r.first.slice(0, first), r.second.slice(0, first)};
    return Tables{shared,
                  {batch.spread(shared.first), batch.spread(shared.second)},
                  {r.first.slice(0, T - outputs), r.second.slice(0, T - outputs)}};
  };
  const Tables global_tables = tables_of(global);
  const bool local_differs = !local.first.is_same(global.first);
  const Tables local_tables = local_differs ? tables_of(local) : global_tables;

  // Positions [first, T) are the same for every perturbation until layer 0's attention: its
  // norm and Q/K/V run once, batch 1, and broadcast against the B factor rows.
  const at::Tensor shared = scaled_embeddings(embeds.slice(1, first)).view({P, C});
  at::Tensor x = batch.spread(shared);  // packed (rows, C)
  for (int l = 0; l < layers; ++l) {
    const Layer& layer = layers_[l];
    const Tables& tables = config_.is_sliding(l) ? local_tables : global_tables;
    // The last layer computes queries, and everything after attention, at the outputs only.
    const bool last = l == layers - 1;
    at::Tensor q, k, v;  // (B or 1, queries, H * D), (B or 1, T, Hkv * D)
    if (l == 0) {
      const Projected p = project(layer, input_norm(layer, shared), tables.shared, true, true);
      auto with_prefix = [&](const at::Tensor& rows, const std::vector<at::Tensor>& kv) {
        return first > 0 ? at::cat({base_rows(kv, 0).slice(0, 0, first), rows}, 0) : rows;
      };
      q = (last ? p.q.slice(0, P - outputs) : p.q).unsqueeze(0);
      k = with_prefix(p.k, base.keys).unsqueeze(0);
      v = with_prefix(p.v, base.values).unsqueeze(0);
    } else {
      const at::Tensor h = input_norm(layer, x);
      const Projected p = project(layer, h, tables.packed, !last, true);
      q = last ? project(layer, batch.last(h).view({B, outputs, C}), tables.outputs, true, false).q
               : batch.to_padded(p.q);
      k = batch.full(p.k, base_rows(base.keys, l));
      v = batch.full(p.v, base_rows(base.values, l));
    }
    at::Tensor y = attention(split_heads(q, H), split_heads(k, Hkv), split_heads(v, Hkv),
                             /*causal=*/true, &suppression, l, attention_options(l, prefix));
    y = merge_heads(y).expand({B, -1, -1});  // batch 1 when layer 0 is not suppressed
    if (last) {
      x = after_attention(layer, batch.last(x), layer.o_proj(y.reshape({B * outputs, -1})));
    } else {
      x = after_attention(layer, x, layer.o_proj(batch.from_padded(y)));
    }
  }
  return norm_(x).view({B, outputs, C});
}

}  // namespace atman
