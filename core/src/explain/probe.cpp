// target_probabilities(): the model's target probability under arbitrary candidate suppressions,
// for evaluation (deletion / insertion curves, atman/eval.h). It reuses the perturbation tasks of
// clip_task.cpp / lm_task.cpp, so a "removed" candidate is removed exactly as AtMan suppresses it
// (factor 0 on its positions in the attention of every suppressed layer), for every modality.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "atman/error.h"
#include "atman/explainer.h"
#include "explain/task.h"

namespace atman {

std::vector<double> target_probabilities(
    const ExplainRequest& request, const std::vector<std::vector<std::pair<int, float>>>& masks,
    const ProgressFn& progress) {
  if (!request.model) throw InputError("no model loaded");
  if (request.batch_size < 0 || request.batch_size > 4096)
    throw InputError("batch size must be 0 (auto) .. 4096");
  c10::InferenceMode inference;
  auto task = detail::make_task(request);
  const int n = static_cast<int>(task->candidates.size());

  // Candidate factors -> position factors. Identical masks (deletion and insertion share their
  // end points) run once.
  std::map<detail::Mask, std::vector<size_t>> distinct;
  for (size_t m = 0; m < masks.size(); ++m) {
    std::map<int64_t, float> positions;
    for (auto [candidate, factor] : masks[m]) {
      if (candidate < 0 || candidate >= n)
        throw InputError("candidate " + std::to_string(candidate) +
                         " does not exist; the input has " + std::to_string(n) + " candidates");
      if (!(factor >= 0.0f && factor <= 1.0f))
        throw InputError("candidate factors must lie in [0, 1], got " + std::to_string(factor));
      for (int pos : task->candidates[candidate].positions) positions[pos] = factor;
    }
    detail::Mask mask;
    for (auto [pos, factor] : positions)
      if (factor != 1.0f) mask.entries.push_back({pos, factor});
    distinct[mask].push_back(m);
  }

  std::vector<const detail::Mask*> order;
  for (const auto& [mask, users] : distinct) order.push_back(&mask);
  int64_t batch = request.batch_size;
  if (batch <= 0) {
    const int64_t budget =
        request.memory_budget_bytes > 0 ? request.memory_budget_bytes : (1ll << 30);
    batch = std::clamp<int64_t>(budget / std::max<int64_t>(1, task->bytes_per_item()), 1, 64);
  }
  std::vector<double> out(masks.size(), 0.0);
  const int total = static_cast<int>(order.size());
  for (size_t begin = 0; begin < order.size(); begin += batch) {
    std::vector<const detail::Mask*> chunk(
        order.begin() + begin, order.begin() + std::min<size_t>(order.size(), begin + batch));
    auto losses = task->losses(chunk);
    for (size_t k = 0; k < chunk.size(); ++k) {
      double sum = 0;
      for (double l : losses[k]) sum += l;
      for (size_t m : distinct.at(*chunk[k])) out[m] = std::exp(-sum);
    }
    const int done = static_cast<int>(std::min<size_t>(order.size(), begin + batch));
    if (progress && !progress(done, total)) throw Cancelled();
  }
  return out;
}

}  // namespace atman
