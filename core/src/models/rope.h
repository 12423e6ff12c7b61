// Rotary position embeddings as transformers computes them (modeling_rope_utils): the inverse
// frequencies of every RoPE type and the attention factor that scales cos and sin, in float32
// where transformers computes in float32, so that the angles match it bit for bit.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "atman/hf_config.h"

namespace atman {

struct RopeFrequencies {
  at::Tensor inv_freq;            // (rotary_dim / 2) float32, on the CPU
  double attention_factor = 1.0;  // multiplies cos and sin (yarn, longrope)
};

// The RoPE of one attention kind of a model. `seq_len` is the number of positions the forward
// covers (past + new); only dynamic NTK and longrope depend on it.
struct RopeSpec {
  RopeScaling scaling;
  double theta = 10000.0;
  int64_t rotary_dim = 0;  // int(head_dim * partial_rotary_factor)
  int64_t max_position_embeddings = 0;
  int64_t original_max_position_embeddings = 0;  // Phi-3's top-level field; 0 = not given

  RopeFrequencies frequencies(int64_t seq_len) const;
  bool depends_on_length() const;
  // cos and sin (T, rotary_dim) for positions [start, start + T) on `device`: computed in float32
  // as transformers does, then cast to `dtype` (the activations' dtype).
  std::pair<at::Tensor, at::Tensor> cos_sin(int64_t start, int64_t T, at::Device device,
                                            at::ScalarType dtype = at::kFloat) const;
  // Multimodal RoPE (Qwen2-VL's M-RoPE): `positions` (3, T) long holds each position's temporal,
  // height and width index; frequency pair j takes its angle from the component whose section of
  // `section` (counts of pairs, summing to rotary_dim / 2) holds j. (T, rotary_dim) as cos_sin.
  std::pair<at::Tensor, at::Tensor> mrope_cos_sin(const at::Tensor& positions,
                                                  const std::vector<int>& section,
                                                  at::Device device,
                                                  at::ScalarType dtype = at::kFloat) const;
};

// The global-layer RoPE of a decoder config, and the sliding-layer one (Gemma 3's
// rope_local_base_freq; otherwise equal to the global one).
RopeSpec global_rope(const LlamaConfig& config);
RopeSpec local_rope(const LlamaConfig& config);

}  // namespace atman
