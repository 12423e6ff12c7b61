// Turning plain inputs (pixels, ids) into tensors on a model's device. Core-internal.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <vector>

#include "atman/image.h"

namespace atman {

// (V, C, H, W) float tensor of preprocessed pixels (V = pixels.views, 1 but for anyres LLaVA).
at::Tensor pixels_to_tensor(const PixelTensor& pixels, at::Device device);
// (1, T) long tensor.
at::Tensor ids_to_tensor(const std::vector<int64_t>& ids, at::Device device);
// Flattened copy of a float tensor, for JSON and tests.
std::vector<float> to_vector(const at::Tensor& t);

}  // namespace atman
