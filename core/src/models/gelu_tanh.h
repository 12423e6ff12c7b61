// GPT-2's MLP activation (gelu_new, the tanh approximation of GELU) fused with the bias of the
// projection before it: one pass over the largest activation of the model instead of three (the
// bias copy of addmm, a new buffer, at::gelu's tanh, which is the slowest of ATen's float kernels).
#pragma once

#include <ATen/core/Tensor.h>

namespace atman {

// x <- gelu_tanh(x + bias) in place, for x (N, F) and bias (F). Contiguous float32 CPU tensors
// take the fused kernel; anything else ATen's ops (the same values up to float rounding). Not
// differentiable: callers use it only where no gradient flows.
void bias_gelu_tanh_(at::Tensor& x, const at::Tensor& bias);

}  // namespace atman
