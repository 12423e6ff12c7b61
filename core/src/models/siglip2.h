// SigLIP 2 NaFlex (HF Siglip2Model): SigLIP with a Linear patch embedding of patches taken at the
// image's own aspect ratio, its learned square position-embedding grid resized (bilinear,
// antialiased) to each image's patch grid, and the padding up to max_num_patches masked in the
// encoder and the pooling head. The text tower is SigLIP's, with the tokenizer's attention mask.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "atman/hf_config.h"
#include "image/siglip2_image.h"
#include "models/attention.h"
#include "models/clip.h"
#include "models/layers.h"
#include "models/siglip.h"

namespace atman {

class Tokenizer;

// What the folder's tokenizer files say about a label's padding (siglip2_text_options).
struct Siglip2TextOptions {
  int64_t pad_id = 0;
  // Whether the tokenizer returns an attention_mask, which Siglip2Model then passes to the text
  // tower (padding keys hidden). The published checkpoints' tokenizer_config.json lists only
  // input_ids in model_input_names (the conversion script says the original needs no mask), so
  // their padding is attended, as in training; GemmaTokenizer's default would return a mask.
  bool attention_mask = false;
};

class Siglip2Model {
 public:
  // `text`: how Siglip2Processor's tokenizer pads labels; `image`: its image processor
  // (ModelError when its patch size is not the model's).
  Siglip2Model(const SiglipConfig& config, const Checkpoint& checkpoint, at::Device device,
               const Siglip2TextOptions& text, const Siglip2ImageConfig& image);

  // The image processor on an image of the user's.
  Siglip2Pixels preprocess(const RgbImage& image) const {
    return preprocess_siglip2(image, image_config_);
  }
  const Siglip2ImageConfig& image_config() const { return image_config_; }

  // The processor's patch rows (1, N, 3 p²) as a tensor on the model's device, and its
  // pixel_attention_mask (1, N) bool.
  at::Tensor patches_tensor(const Siglip2Pixels& pixels) const;
  at::Tensor patch_mask(const Siglip2Pixels& pixels) const;
  // Linear patch embedding: (B, N, 3 p²) -> (B, N, C), before positions.
  at::Tensor patch_embeddings(const at::Tensor& patches) const;
  // resize_positional_embeddings: the grid resized to rows x cols (F.interpolate bilinear,
  // antialias, align_corners False, in float32), row-major, then its first row repeated up to
  // `length`: (length, C).
  at::Tensor position_embeddings(int rows, int cols, int64_t length) const;
  // pooler_output for embeddings x = patches + positions (B, N, C) and the patch mask (1, N);
  // suppression spans the N positions (patch i is position i, padding after the real patches).
  at::Tensor image_embeds_from_embeddings(const at::Tensor& x, const at::Tensor& mask,
                                          const Suppression* suppression = nullptr) const;
  at::Tensor image_embeds(const Siglip2Pixels& pixels) const;
  // The two halves of image_embeds_from_embeddings, for the gradient baselines: the encoder's last
  // block output (B, N, C), before post_layernorm; then post_layernorm and the pooling head.
  at::Tensor encode(const at::Tensor& x, const at::Tensor& mask,
                    const Suppression* suppression = nullptr) const;
  at::Tensor image_embeds_from_hidden(const at::Tensor& hidden, const at::Tensor& mask,
                                      const Suppression* suppression = nullptr) const;

  // pooler_output of ids (B, T) and the attention mask (B, T) (0 = a padding key no query sees);
  // the last position is the one pooled, padding or not.
  at::Tensor text_embeds(const at::Tensor& ids, const at::Tensor& attention_mask) const;
  // exp(logit_scale) * cos(image_i, text_k) + logit_bias: (Bi, C), (Bt, C) -> (Bi, Bt).
  at::Tensor logits(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const;

  const SiglipConfig& config() const { return config_; }
  int64_t max_text_length() const { return config_.text.max_position_embeddings; }
  const Siglip2TextOptions& text_options() const { return text_options_; }
  int position_grid() const { return grid_; }

 private:
  SiglipConfig config_;
  Siglip2ImageConfig image_config_;
  Siglip2TextOptions text_options_;
  int grid_ = 0;  // the position embeddings' side
  at::Device device_ = at::kCPU;
  Linear patch_embedding_;         // (C, 3 p²): rows flattened as (y, x, channel)
  at::Tensor position_embedding_;  // (grid², C)
  ClipEncoder vision_encoder_;
  LayerNorm post_layernorm_;
  SiglipPoolingHead head_;
  SiglipTextTower text_;  // text_model.*, logit_scale, logit_bias: SigLIP's
};

// A label as Siglip2Processor gives it: ids padded to max_length (64) with the pad token, and the
// attention mask the text tower gets (1 for the label's tokens, 0 for padding; all 1 when the
// tokenizer returns no mask). InputError for a label longer than max_length.
struct Siglip2Text {
  std::vector<int64_t> ids, mask;
};
Siglip2Text siglip2_text(const Siglip2Model& model, const Tokenizer& tokenizer,
                         const std::string& text);
// The labels' text embeddings (K, C) in one forward: padded to max_length, they batch as they are
// (each with its own attention mask). What every label set is embedded with (explanations,
// zero-shot), so that they agree bit for bit.
at::Tensor siglip2_label_embeds(const Siglip2Model& model, const Tokenizer& tokenizer,
                                const std::vector<std::string>& labels, at::Device device);

// From the folder's tokenizer_config.json (and special_tokens_map.json): the pad token (else
// Gemma's "<pad>") looked up in `tokenizer`, `fallback_pad` when it has none; whether
// model_input_names (default GemmaTokenizer's: input_ids, attention_mask) has attention_mask.
Siglip2TextOptions siglip2_text_options(const std::filesystem::path& model_dir,
                                        const Tokenizer& tokenizer, int64_t fallback_pad);

}  // namespace atman
