// CLIP (HF CLIPModel): a ViT vision tower and a causal text tower, each projected into a shared
// embedding space; zero-shot logits = exp(logit_scale) * cos(image, text).
#pragma once

#include <string>
#include <vector>

#include "atman/hf_config.h"
#include "models/attention.h"
#include "models/layers.h"

namespace atman {

// The transformer encoder both towers share (pre-norm blocks, quick_gelu or gelu MLP).
class ClipEncoder {
 public:
  ClipEncoder() = default;
  ClipEncoder(const ClipTowerConfig& config, const WeightReader& w);
  // x: (B, T, C). Runs the first `stop_after_layers` layers (-1: all) and returns (B, T, C).
  // `first_queries` > 0 (non-causal only): the last layer computes only the first that many
  // positions (keys and values still span all), and (B, first_queries, C) is returned.
  // `states`, when given, receives the input and the state after each layer run (HF
  // hidden_states[0..n]). `key_mask` (1 or B, T) bool hides the false positions' keys in every
  // layer (padding; AttentionOptions::key_mask).
  at::Tensor forward(const at::Tensor& x, bool causal, const Suppression* suppression,
                     int stop_after_layers = -1, int64_t first_queries = 0,
                     std::vector<at::Tensor>* states = nullptr,
                     const at::Tensor& key_mask = {}) const;
  // Causal, no suppression: a batch x (B, T, C) continuing one prefix (1, P, C) that every item
  // shares (the input states of positions 0..P-1). The prefix runs once and its keys and values
  // serve every item; returns forward() of each item's concatenation at positions P.. (B, T, C),
  // up to float rounding.
  at::Tensor forward_after_prefix(const at::Tensor& prefix, const at::Tensor& x) const;
  int num_layers() const { return static_cast<int>(layers_.size()); }

 private:
  struct Layer {
    LayerNorm layer_norm1, layer_norm2;
    Linear q_proj, k_proj, v_proj, out_proj, fc1, fc2;
  };
  ClipTowerConfig config_;
  std::vector<Layer> layers_;
};

// The vision tower alone: LLaVA uses it without the projection.
class ClipVisionTower {
 public:
  ClipVisionTower() = default;
  // `w` reads under "vision_model." in CLIPModel, "vision_tower.vision_model." in LLaVA.
  ClipVisionTower(const ClipTowerConfig& config, const WeightReader& w,
                  bool load_post_layernorm = true);

  // Patch-embedding (conv) outputs before class token and positions: (B, 3, H, W) -> (B, P, C).
  at::Tensor patch_embeddings(const at::Tensor& pixels) const;
  // Encoder output for patch embeddings (B, P, C); suppression spans the P + 1 positions
  // (class token first). stop_after_layers = k returns the hidden state after k layers (HF
  // hidden_states[k]); -1 runs all layers. Returns (B, P + 1, C), before post_layernorm.
  at::Tensor encode(const at::Tensor& patch_embeds, const Suppression* suppression,
                    int stop_after_layers = -1) const;
  // HF hidden_states[0..up_to] for patch embeddings (B, P, C), each (B, P + 1, C), in one pass.
  std::vector<at::Tensor> hidden_states(const at::Tensor& patch_embeds, int up_to) const;
  // The class token's encoder output alone, (B, 1, C): the last layer runs only its query.
  at::Tensor encode_class_token(const at::Tensor& patch_embeds,
                                const Suppression* suppression) const;
  // Pooled class token after post_layernorm: (B, C).
  at::Tensor pooled(const at::Tensor& hidden) const;
  int grid_size() const { return config_.image_size / config_.patch_size; }
  const ClipTowerConfig& config() const { return config_; }

 private:
  ClipTowerConfig config_;
  at::Tensor class_embedding_;               // (C)
  at::Tensor patch_embedding_;               // (C, 3, p, p), no bias
  at::Tensor position_embedding_;            // (P + 1, C)
  LayerNorm pre_layrnorm_, post_layernorm_;  // "pre_layrnorm" is HF's spelling
  ClipEncoder encoder_;
};

class ClipModel {
 public:
  ClipModel(const ClipConfig& config, const Checkpoint& checkpoint, at::Device device);

  const ClipVisionTower& vision() const { return vision_; }
  // Projected image embeddings (not normalised) for patch embeddings (B, P, C).
  at::Tensor image_embeds_from_patches(const at::Tensor& patch_embeds,
                                       const Suppression* suppression = nullptr) const;
  at::Tensor image_embeds(const at::Tensor& pixels, const Suppression* suppression = nullptr) const;
  // Projected image embeddings from the vision encoder's output (B, P + 1, C) (what
  // vision().encode returns): post_layernorm of the class token, then the projection.
  at::Tensor image_embeds_from_hidden(const at::Tensor& hidden) const;

  // Token-embedding rows (no positions): (B, T) -> (B, T, C).
  at::Tensor token_embeddings(const at::Tensor& ids) const;
  // Projected text embeddings (not normalised) for ids (B, T) of equal length; pooled at the end
  // token. Suppression spans the T positions.
  at::Tensor text_embeds(const at::Tensor& ids, const Suppression* suppression = nullptr) const;
  // Projected text embeddings of texts of any lengths (K token-id lists) in one batched forward,
  // the tokens all texts start with (a label template) run once: (K, Pd), text_embeds of each
  // alone up to float rounding (other matrix shapes). What every label set is embedded with
  // (explanations, baselines, zero-shot), so that they agree bit for bit.
  at::Tensor text_embeds(const std::vector<std::vector<int64_t>>& texts, at::Device device) const;
  // The two halves of text_embeds, for gradients w.r.t. token embeddings (the baselines):
  // final-layer-normed hidden states (B, T, C) for token-embedding rows (B, T, C) (positions are
  // added here), and the projected embedding pooled at the end token of `ids` (B, T).
  at::Tensor text_hidden(const at::Tensor& token_embeds,
                         const Suppression* suppression = nullptr) const;
  at::Tensor text_embeds_from_hidden(const at::Tensor& hidden, const at::Tensor& ids) const;
  // The end-token position text_embeds pools at, per row of ids (B, T): (B) long.
  at::Tensor text_end_positions(const at::Tensor& ids) const;

  // exp(logit_scale) * cos(image_i, text_k): (Bi, Pd), (Bt, Pd) -> (Bi, Bt).
  at::Tensor logits(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;
  double logit_scale_exp() const { return logit_scale_exp_; }
  const ClipConfig& config() const { return config_; }
  int64_t max_text_length() const { return config_.text.max_position_embeddings; }

 private:
  ClipConfig config_;
  ClipVisionTower vision_;
  at::Tensor visual_projection_;  // (Pd, Cv)
  at::Tensor token_embedding_, text_position_embedding_;
  ClipEncoder text_encoder_;
  LayerNorm final_layer_norm_;
  at::Tensor text_projection_;  // (Pd, Ct)
  double logit_scale_exp_ = 1.0;
};

}  // namespace atman
