// From AtMan's masks to the Suppression the models take (spec §1), shared by every perturbation
// task.
#include <ATen/ATen.h>

#include "atman/error.h"
#include "explain/task.h"
#include "models/attention.h"

namespace atman::detail {
namespace {

std::vector<bool> layer_mask(const std::vector<int>& layers, int count, const char* owner) {
  if (layers.empty()) return {};
  std::vector<bool> mask(count, false);
  for (int l : layers) {
    if (l < 0 || l >= count)
      throw InputError("layer " + std::to_string(l) + " does not exist; the " + owner + " has " +
                       std::to_string(count) + " layers (0.." + std::to_string(count - 1) + ")");
    mask[l] = true;
  }
  return mask;
}

}  // namespace

Suppression make_suppression(const std::vector<const Mask*>& masks, int64_t positions,
                             const ExplainRequest& request, int layers, const char* owner,
                             at::Device device) {
  const int64_t B = static_cast<int64_t>(masks.size());
  std::vector<float> factors(B * positions, 1.0f);
  for (int64_t b = 0; b < B; ++b)
    for (auto [pos, f] : masks[b]->entries) factors[b * positions + pos] = f;
  Suppression s;
  s.factors = at::tensor(factors, at::kFloat).view({B, positions}).to(device);
  s.variant = request.variant;
  s.layers = layer_mask(request.layers, layers, owner);
  return s;
}

}  // namespace atman::detail
