// SigLIP (HF SiglipModel): a ViT vision tower without class token, pooled by a multi-head attention
// head, and a bidirectional text tower pooled at its last position; zero-shot logits are
// exp(logit_scale) * cos(image, text) + logit_bias, read through a sigmoid (not a softmax).
#pragma once

#include <string>
#include <vector>

#include "atman/hf_config.h"
#include "models/attention.h"
#include "models/clip.h"
#include "models/layers.h"

namespace atman {

// SiglipMultiheadAttentionPoolingHead: a learned probe attends over the encoder output
// (torch.nn.MultiheadAttention), then a residual LayerNorm + MLP.
class SiglipPoolingHead {
 public:
  SiglipPoolingHead() = default;
  SiglipPoolingHead(const ClipTowerConfig& config, const WeightReader& w);
  // hidden: (B, P, C) after post_layernorm -> (B, C). The head's attention is attention() with
  // layer index num_hidden_layers, so AtMan suppresses the pooled patches here too (spec §1: every
  // attention over the input); in a per-layer selection (--layers) the head is that index.
  // `key_mask` (1 or B, P) bool: patches the probe does not see (SigLIP 2's padding).
  at::Tensor operator()(const at::Tensor& hidden, const Suppression* suppression,
                        const at::Tensor& key_mask = {}) const;

 private:
  ClipTowerConfig config_;
  at::Tensor probe_;                            // (1, 1, C)
  Linear q_proj_, k_proj_, v_proj_, out_proj_;  // split from in_proj_weight / in_proj_bias
  LayerNorm layernorm_;
  Linear fc1_, fc2_;
};

// SiglipVisionModel's embeddings and encoder as LLaVA uses them ("vision_tower.vision_model."):
// hidden states only, so neither post_layernorm nor the pooling head is read.
class SiglipVisionTower {
 public:
  SiglipVisionTower() = default;
  SiglipVisionTower(const ClipTowerConfig& config, const WeightReader& w);
  // HF hidden_states[0..up_to] for pixels (B, 3, H, W): (B, P, C) each (no class token; state 0 is
  // patch + position embeddings).
  std::vector<at::Tensor> hidden_states(const at::Tensor& pixels, int up_to) const;
  int grid_size() const { return config_.image_size / config_.patch_size; }
  const ClipTowerConfig& config() const { return config_; }

 private:
  ClipTowerConfig config_;
  at::Tensor patch_embedding_, patch_bias_, position_embedding_;
  ClipEncoder encoder_;
};

// SiglipTextTransformer ("text_model.*") and the zero-shot head (logit_scale, logit_bias), which
// SigLIP and SigLIP 2 share. `family` ("SigLIP", "SigLIP 2") names the model in messages.
class SiglipTextTower {
 public:
  SiglipTextTower() = default;
  SiglipTextTower(const SiglipConfig& config, const Checkpoint& checkpoint, at::Device device,
                  const std::string& family);
  // Token-embedding rows (no positions): (B, T) -> (B, T, C).
  at::Tensor token_embeddings(const at::Tensor& ids) const;
  // pooler_output (not normalised) for ids (B, T), T <= max_position_embeddings: the last
  // position, padding or not. Bidirectional (no causal mask); `key_mask` (1 or B, T) bool hides
  // padding keys (SigLIP 2 with an attention mask), undefined: every position is attended.
  at::Tensor text_embeds(const at::Tensor& ids, const Suppression* suppression,
                         const at::Tensor& key_mask = {}) const;
  // exp(logit_scale) * cos(image_i, text_k) + logit_bias: (Bi, C), (Bt, C) -> (Bi, Bt)
  // (HF logits_per_image).
  at::Tensor logits(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;
  double logit_scale_exp() const { return logit_scale_exp_; }
  double logit_bias() const { return logit_bias_; }

 private:
  ClipTowerConfig config_;
  std::string family_;
  at::Tensor token_embedding_, position_embedding_;
  ClipEncoder encoder_;
  LayerNorm final_layer_norm_;
  Linear head_;
  double logit_scale_exp_ = 1.0, logit_bias_ = 0.0;
};

class Tokenizer;

class SiglipModel {
 public:
  SiglipModel(const SiglipConfig& config, const Checkpoint& checkpoint, at::Device device);

  // Patch-embedding (conv, with bias) outputs before positions: (B, 3, H, W) -> (B, P, C).
  at::Tensor patch_embeddings(const at::Tensor& pixels) const;
  // Image embeddings (pooler_output, not normalised) for patch embeddings (B, P, C); suppression
  // spans the P patches (there is no class token).
  at::Tensor image_embeds_from_patches(const at::Tensor& patch_embeds,
                                       const Suppression* suppression = nullptr) const;
  at::Tensor image_embeds(const at::Tensor& pixels, const Suppression* suppression = nullptr) const;
  // The two halves of image_embeds_from_patches, for the gradient baselines: the encoder's last
  // block output (B, P, C), before post_layernorm; then post_layernorm and the pooling head.
  at::Tensor encode(const at::Tensor& patch_embeds, const Suppression* suppression = nullptr) const;
  at::Tensor image_embeds_from_hidden(const at::Tensor& hidden,
                                      const Suppression* suppression = nullptr) const;

  // Token-embedding rows (no positions): (B, T) -> (B, T, C).
  at::Tensor token_embeddings(const at::Tensor& ids) const;
  // Text embeddings (pooler_output, not normalised) for ids (B, T), T <= max_position_embeddings
  // (SiglipProcessor pads to 64 with the pad token; every position is attended, no mask).
  at::Tensor text_embeds(const at::Tensor& ids, const Suppression* suppression = nullptr) const;

  // exp(logit_scale) * cos(image_i, text_k) + logit_bias: (Bi, C), (Bt, C) -> (Bi, Bt)
  // (HF logits_per_image).
  at::Tensor logits(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;
  double logit_scale_exp() const { return text_.logit_scale_exp(); }
  double logit_bias() const { return text_.logit_bias(); }
  int grid_size() const { return config_.vision.image_size / config_.vision.patch_size; }
  const SiglipConfig& config() const { return config_; }
  int64_t max_text_length() const { return config_.text.max_position_embeddings; }

 private:
  SiglipConfig config_;
  // vision_model.*
  at::Tensor patch_embedding_, patch_bias_;  // (C, 3, p, p), (C)
  at::Tensor position_embedding_;            // (P, C)
  ClipEncoder vision_encoder_;               // SiglipEncoderLayer = CLIPEncoderLayer
  LayerNorm post_layernorm_;
  SiglipPoolingHead head_;
  SiglipTextTower text_;  // text_model.*, logit_scale, logit_bias
};

// A text's ids as SiglipProcessor gives them: padded to max_length with the pad token. The model
// pools the last position, so the padding is part of the input, not masked.
std::vector<int64_t> siglip_text_ids(const SiglipModel& model, const Tokenizer& tokenizer,
                                     const std::string& text);
// The labels' text embeddings (K, C) in one forward: padded to max_length, they batch as they are.
// What every label set is embedded with (explanations, zero-shot), so that they agree bit for bit.
at::Tensor siglip_label_embeds(const SiglipModel& model, const Tokenizer& tokenizer,
                               const std::vector<std::string>& labels, at::Device device);

}  // namespace atman
