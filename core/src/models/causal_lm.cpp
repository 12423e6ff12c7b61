#include "atman/models/causal_lm.h"

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
  if (!keys[layer].defined()) {
    keys[layer] = k;
    values[layer] = v;
  } else {
    keys[layer] = at::cat({keys[layer].expand({k.size(0), -1, -1, -1}), k}, 2);
    values[layer] = at::cat({values[layer].expand({v.size(0), -1, -1, -1}), v}, 2);
  }
  return {keys[layer], values[layer]};
}

at::Tensor CausalLM::forward_logits(const at::Tensor& ids, const Suppression* suppression) const {
  return lm_logits(forward_embeds(embed_tokens(ids), suppression, nullptr));
}

}  // namespace atman
