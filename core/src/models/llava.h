// LLaVA (HF LlavaForConditionalGeneration): a CLIP vision tower whose features, passed through an
// MLP projector, replace the `<image>` tokens of a Llama-style language model's input.
#pragma once

#include <memory>
#include <vector>

#include "atman/hf_config.h"
#include "models/clip.h"
#include "models/llama.h"

namespace atman {

class LlavaModel {
 public:
  LlavaModel(const LlavaConfig& config, const Checkpoint& checkpoint, at::Device device);

  // Projector outputs for images (B, 3, H, W): (B, N, C_lm), N = image tokens per image.
  at::Tensor image_features(const at::Tensor& pixels) const;
  // The prompt ids with the single `<image>` id repeated N times (as HF's LlavaProcessor does).
  std::vector<int64_t> expand_image_tokens(const std::vector<int64_t>& ids) const;
  // LM input embeddings (1, T, C) for expanded ids, image-token rows replaced by `features` (1, N,
  // C).
  at::Tensor input_embeds(const std::vector<int64_t>& expanded_ids,
                          const at::Tensor& features) const;

  const LlamaModel& language_model() const { return *language_model_; }
  const ClipVisionTower& vision_tower() const { return vision_tower_; }
  const LlavaConfig& config() const { return config_; }
  int image_tokens() const;

 private:
  LlavaConfig config_;
  ClipVisionTower vision_tower_;
  Linear linear_1_, linear_2_;
  std::unique_ptr<LlamaModel> language_model_;
  at::Device device_;
};

}  // namespace atman
