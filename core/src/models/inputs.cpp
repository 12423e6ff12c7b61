#include "models/inputs.h"

#include <ATen/ATen.h>

namespace atman {

at::Tensor pixels_to_tensor(const PixelTensor& pixels, at::Device device) {
  at::Tensor t = at::tensor(pixels.values, at::kFloat)
                     .view({pixels.views, pixels.channels, pixels.height, pixels.width});
  // Page-locked host memory lets the copy to a GPU run asynchronously (and at full bus speed).
  if (device.is_cuda()) return t.pin_memory().to(device, /*non_blocking=*/true);
  return t;
}

at::Tensor ids_to_tensor(const std::vector<int64_t>& ids, at::Device device) {
  return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())}).to(device);
}

std::vector<float> to_vector(const at::Tensor& t) {
  at::Tensor flat = t.detach().to(at::kCPU, at::kFloat).contiguous().view({-1});
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

}  // namespace atman
