#include "models/causal_lm.h"

#include <ATen/ATen.h>

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

at::Tensor CausalLM::forward_logits(const at::Tensor& ids, const Suppression* suppression) const {
  return lm_logits(forward_embeds(embed_tokens(ids), suppression, nullptr));
}

}  // namespace atman
