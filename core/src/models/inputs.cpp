#include "models/inputs.h"

#include <ATen/ATen.h>

#include <string>

#include "atman/error.h"
#include "models/causal_lm.h"

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

std::vector<int64_t> expand_image_token(const std::vector<int64_t>& ids, int64_t image_token,
                                        const std::vector<int64_t>& image) {
  std::vector<int64_t> out;
  int images = 0;
  for (int64_t id : ids) {
    if (id == image_token) {
      ++images;
      out.insert(out.end(), image.begin(), image.end());
    } else {
      out.push_back(id);
    }
  }
  if (images != 1)
    throw InputError("the prompt must contain exactly one <image> token, found " +
                     std::to_string(images));
  return out;
}

at::Tensor embeds_with_image(const CausalLM& lm, const std::vector<int64_t>& ids,
                             int64_t image_token, const at::Tensor& features, at::Device device,
                             const char* what) {
  at::Tensor id_tensor = at::tensor(ids, at::kLong).to(device).unsqueeze(0);  // (1, T)
  at::Tensor is_image = id_tensor == image_token;
  // The image id may lie outside a vocabulary that never embeds it: embed a safe id there.
  at::Tensor embeds = lm.embed_tokens(id_tensor.masked_fill(is_image, 0));  // (1, T, C)
  const int64_t count = is_image.sum().item<int64_t>();
  if (count != features.size(1))
    throw InputError("prompt has " + std::to_string(count) +
                     " image positions but the image gives " + std::to_string(features.size(1)) +
                     " " + what);
  embeds.index_copy_(1, is_image.squeeze(0).nonzero().squeeze(1),
                     features.to(embeds.scalar_type()));
  return embeds;
}

std::vector<float> to_vector(const at::Tensor& t) {
  at::Tensor flat = t.detach().to(at::kCPU, at::kFloat).contiguous().view({-1});
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

}  // namespace atman
