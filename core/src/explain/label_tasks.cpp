// What the zero-shot label tasks (CLIP, SigLIP) share: the target among the labels, one loss per
// mask, and the memory of one perturbed forward of an encoder tower.
#include <ATen/ATen.h>

#include <algorithm>

#include "atman/error.h"
#include "explain/task.h"

namespace atman::detail {

int64_t target_label_index(const ExplainRequest& request, const std::string& family) {
  if (request.labels.empty())
    throw InputError(family + " needs a label set: give the labels to choose among (--labels)");
  auto it = std::find(request.labels.begin(), request.labels.end(), request.target);
  if (it == request.labels.end())
    throw InputError("the target '" + request.target + "' is not one of the " +
                     std::to_string(request.labels.size()) + " labels");
  if (!request.image) throw InputError(family + " explanations need an image");
  return static_cast<int64_t>(it - request.labels.begin());
}

at::Tensor siglip_target_loss(const at::Tensor& logits, int64_t target, SiglipLoss loss) {
  if (loss == SiglipLoss::Softmax)
    return -at::log_softmax(logits.to(at::kFloat), -1).select(1, target);
  return -at::log_sigmoid(logits.to(at::kFloat).select(1, target));
}

std::vector<std::vector<double>> loss_rows(const at::Tensor& loss) {
  at::Tensor cpu = loss.to(at::kCPU, at::kDouble).contiguous();
  std::vector<std::vector<double>> out;
  for (int64_t b = 0; b < cpu.size(0); ++b) out.push_back({cpu[b].item<double>()});
  return out;
}

int64_t encoder_bytes_per_item(const ClipTowerConfig& tower, int64_t tokens) {
  const int64_t T = tokens;
  return 4 * (3 * tower.num_attention_heads * T * T + 4 * T * tower.intermediate_size +
              8 * T * tower.hidden_size);
}

}  // namespace atman::detail
