#include "models/layers.h"

#include <ATen/ATen.h>

namespace atman {

at::Tensor WeightReader::get(const std::string& name, const std::vector<int64_t>& shape) const {
  // Floating weights in the model's compute dtype; on the CPU a tensor stored in that dtype is a
  // view of the file mapping (no copy). Integer buffers keep the float32 the models expect.
  const bool floating = is_floating(checkpoint_.info(prefix_ + name).dtype);
  const at::ScalarType dtype = floating ? checkpoint_.options().float_dtype : at::kFloat;
  return checkpoint_.get(prefix_ + name, shape, dtype).to(device_);
}

Linear Linear::load(const WeightReader& w, const std::string& name, int64_t in, int64_t out,
                    bool bias) {
  Linear l;
  l.weight = w.get(name + ".weight", {out, in});
  if (bias) l.bias = w.get(name + ".bias", {out});
  return l;
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  return at::linear(x, weight, bias);
}

Conv1D Conv1D::load(const WeightReader& w, const std::string& name, int64_t in, int64_t out) {
  return Conv1D{w.get(name + ".weight", {in, out}), w.get(name + ".bias", {out})};
}

at::Tensor Conv1D::operator()(const at::Tensor& x) const {
  return at::addmm(bias, x.flatten(0, -2), weight).unflatten(0, x.sizes().slice(0, x.dim() - 1));
}

Conv1D Conv1D::columns(int64_t begin, int64_t end) const {
  return Conv1D{weight.slice(1, begin, end), bias.slice(0, begin, end)};
}

LayerNorm LayerNorm::load(const WeightReader& w, const std::string& name, int64_t dim, double eps) {
  return LayerNorm{w.get(name + ".weight", {dim}), w.get(name + ".bias", {dim}), eps};
}

at::Tensor LayerNorm::operator()(const at::Tensor& x) const {
  return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
}

RmsNorm RmsNorm::load(const WeightReader& w, const std::string& name, int64_t dim, double eps) {
  return RmsNorm{w.get(name + ".weight", {dim}), eps};
}

at::Tensor RmsNorm::operator()(const at::Tensor& x) const {
  // In float32 whatever the compute dtype, as transformers' LlamaRMSNorm (no-ops for float32).
  const at::Tensor h = x.to(at::kFloat);
  at::Tensor variance = h.pow(2).mean(-1, true);
  const at::Tensor normed = h * at::rsqrt(variance + eps);
  // A float32 weight under a lower compute dtype is Gemma's (1 + w), which multiplies before the
  // cast back (GemmaRMSNorm); LlamaRMSNorm casts first and multiplies in the weights' dtype.
  if (weight.scalar_type() == at::kFloat) return (normed * weight).to(x.scalar_type());
  return weight * normed.to(x.scalar_type());
}

at::Tensor activate(const at::Tensor& x, Activation act) {
  switch (act) {
    case Activation::QuickGelu:
      if (x.requires_grad() && at::GradMode::is_enabled()) return x * at::sigmoid(1.702 * x);
      // One buffer instead of three: the same operations, so the same rounding.
      return at::mul(x, 1.702).sigmoid_().mul_(x);
    case Activation::Gelu:
      return at::gelu(x);
    case Activation::GeluTanh:
      return at::gelu(x, "tanh");
    case Activation::Silu:
      return at::silu(x);
    case Activation::Relu:
      return at::relu(x);
  }
  return x;
}

at::Tensor activate_(at::Tensor& x, Activation act) {
  switch (act) {
    case Activation::QuickGelu:
      return x.mul_(at::mul(x, 1.702).sigmoid_());
    case Activation::Gelu:
      return at::gelu_(x);
    case Activation::GeluTanh:
      return at::gelu_(x, "tanh");
    case Activation::Silu:
      return at::silu_(x);
    case Activation::Relu:
      return at::relu_(x);
  }
  return x;
}

at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  const int64_t batch = x.size(0), time = x.size(1);
  return x.view({batch, time, heads, x.size(2) / heads}).transpose(1, 2);
}

at::Tensor merge_heads(const at::Tensor& x) {
  const int64_t batch = x.size(0), heads = x.size(1), time = x.size(2), dim = x.size(3);
  return x.transpose(1, 2).reshape({batch, time, heads * dim});
}

}  // namespace atman
