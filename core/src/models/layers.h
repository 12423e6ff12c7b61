// Small building blocks shared by the architecture files: weights are plain tensors named after
// the Hugging Face parameters, loaded key for key from a Checkpoint.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

#include "atman/hf_config.h"
#include "io/safetensors.h"

namespace atman {

// Reads tensors under a name prefix ("text_model.", "language_model.model.") with shape checks.
class WeightReader {
 public:
  WeightReader(const Checkpoint& checkpoint, std::string prefix, at::Device device)
      : checkpoint_(checkpoint), prefix_(std::move(prefix)), device_(device) {}
  // The tensor `prefix + name` on the model's device, checked against `shape`.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  bool has(const std::string& name) const { return checkpoint_.has(prefix_ + name); }
  WeightReader sub(const std::string& name) const {
    return WeightReader(checkpoint_, prefix_ + name, device_);
  }
  const Checkpoint& checkpoint() const { return checkpoint_; }
  at::Device device() const { return device_; }

 private:
  const Checkpoint& checkpoint_;
  std::string prefix_;
  at::Device device_;
};

struct Linear {
  at::Tensor weight;  // (out, in), as torch.nn.Linear
  at::Tensor bias;    // (out) or undefined
  static Linear load(const WeightReader& w, const std::string& name, int64_t in, int64_t out,
                     bool bias);
  at::Tensor operator()(const at::Tensor& x) const;
};

// GPT-2's Conv1D keeps the weight as (in, out): the one transposed layout among HF models.
struct Conv1D {
  at::Tensor weight;  // (in, out)
  at::Tensor bias;    // (out)
  static Conv1D load(const WeightReader& w, const std::string& name, int64_t in, int64_t out);
  at::Tensor operator()(const at::Tensor& x) const;
  // Output columns [begin, end) alone (views of the weights), e.g. K and V of a fused c_attn.
  Conv1D columns(int64_t begin, int64_t end) const;
};

struct LayerNorm {
  at::Tensor weight, bias;
  double eps = 1e-5;
  static LayerNorm load(const WeightReader& w, const std::string& name, int64_t dim, double eps);
  at::Tensor operator()(const at::Tensor& x) const;
};

struct RmsNorm {
  at::Tensor weight;
  double eps = 1e-6;
  static RmsNorm load(const WeightReader& w, const std::string& name, int64_t dim, double eps);
  at::Tensor operator()(const at::Tensor& x) const;
};

at::Tensor activate(const at::Tensor& x, Activation act);
// The same in place: no new buffer for a large MLP activation (x must not be needed afterwards,
// nor require gradients).
at::Tensor activate_(at::Tensor& x, Activation act);

// (B, T, H*D) -> (B, H, T, D)
at::Tensor split_heads(const at::Tensor& x, int64_t heads);
// (B, H, T, D) -> (B, T, H*D)
at::Tensor merge_heads(const at::Tensor& x);

}  // namespace atman
