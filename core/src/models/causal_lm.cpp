#include "models/causal_lm.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace atman {

KVCache KVCache::expanded(int64_t batch) const {
  KVCache out;
  for (size_t l = 0; l < keys.size(); ++l) {
    out.keys.push_back(keys[l].expand({batch, -1, -1, -1}));
    out.values.push_back(values[l].expand({batch, -1, -1, -1}));
  }
  return out;
}

std::pair<at::Tensor, at::Tensor> KVCache::append(int layer, const at::Tensor& k,
                                                  const at::Tensor& v) {
  if (static_cast<int>(keys.size()) <= layer) {
    keys.resize(layer + 1);
    values.resize(layer + 1);
  }
  at::Tensor all_keys = k, all_values = v;
  if (keys[layer].defined()) {
    all_keys = at::cat({keys[layer].expand({k.size(0), -1, -1, -1}), k}, 2);
    all_values = at::cat({values[layer].expand({v.size(0), -1, -1, -1}), v}, 2);
  }
  keys[layer] = retain ? all_keys : at::Tensor();
  values[layer] = retain ? all_values : at::Tensor();
  return {all_keys, all_values};
}

at::Tensor CausalLM::forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                                      const Suppression& suppression, const KVCache& base,
                                      int64_t outputs) const {
  const int64_t B = static_cast<int64_t>(starts.size()), T = embeds.size(1);
  const int64_t prefix = starts.empty() ? 0 : *std::min_element(starts.begin(), starts.end());
  // Batch 1 input for all perturbations: the first layer's work before its suppressed attention
  // is the same for every one, so it runs once and broadcasts against the B factor rows.
  const at::Tensor input = embeds.slice(1, prefix);
  at::Tensor hidden;
  if (prefix > 0) {
    KVCache cache;
    cache.retain = false;  // each layer's prefix + suffix keys are needed only inside that layer
    for (size_t l = 0; l < base.keys.size(); ++l) {
      cache.keys.push_back(base.keys[l].slice(2, 0, prefix));  // (1, Hkv, prefix, D)
      cache.values.push_back(base.values[l].slice(2, 0, prefix));
    }
    hidden = forward_embeds(input, &suppression, &cache);
  } else {
    hidden = forward_embeds(input, &suppression, nullptr);
  }
  return hidden.slice(1, T - prefix - outputs).expand({B, -1, -1});
}

at::Tensor CausalLM::forward_logits(const at::Tensor& ids, const Suppression* suppression) const {
  return lm_logits(forward_embeds(embed_tokens(ids), suppression, nullptr));
}

}  // namespace atman
