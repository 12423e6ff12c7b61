// Turning plain inputs (pixels, ids) into tensors on a model's device. Core-internal.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <vector>

#include "atman/image.h"

namespace atman {

class CausalLM;

// (V, C, H, W) float tensor of preprocessed pixels (V = pixels.views, 1 but for anyres LLaVA).
at::Tensor pixels_to_tensor(const PixelTensor& pixels, at::Device device);
// (1, T) long tensor.
at::Tensor ids_to_tensor(const std::vector<int64_t>& ids, at::Device device);
// The prompt `ids` with its one `image_token` replaced by `image` (what the image becomes in the
// language model's input: the placeholder repeated per feature, or a processor's image text).
// Throws InputError unless the prompt holds exactly one `image_token`.
std::vector<int64_t> expand_image_token(const std::vector<int64_t>& ids, int64_t image_token,
                                        const std::vector<int64_t>& image);
// Input embeddings (1, T, C) of an expanded prompt: `lm`'s token embeddings, and at the positions
// holding `image_token` the rows of `features` (1, N, C) in order. Throws InputError, calling the
// rows `what` ("features", "merged tokens"), unless the prompt has N such positions.
at::Tensor embeds_with_image(const CausalLM& lm, const std::vector<int64_t>& ids,
                             int64_t image_token, const at::Tensor& features, at::Device device,
                             const char* what = "features");
// Flattened copy of a float tensor, for JSON and tests.
std::vector<float> to_vector(const at::Tensor& t);

}  // namespace atman
