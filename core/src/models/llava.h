// LLaVA (HF LlavaForConditionalGeneration) and its anyres successors LLaVA-NeXT
// (LlavaNextForConditionalGeneration) and LLaVA-OneVision (LlavaOnevisionForConditionalGeneration):
// a CLIP or SigLIP vision tower whose hidden states, passed through an MLP projector, replace the
// `<image>` tokens of a Llama-style language model's input. PaliGemma
// (PaliGemmaForConditionalGeneration, PaliGemma 1 and 2) is the same shape with its own projector,
// feature scale, processor (encode_prompt) and a prefix-LM decoder (PrefixLM in llama.h).
#pragma once

#include <memory>
#include <vector>

#include "atman/hf_config.h"
#include "atman/image.h"
#include "atman/tokenizer.h"
#include "models/clip.h"
#include "models/llama.h"
#include "models/siglip.h"

namespace atman {

// One image position of the language model's input, and where it came from.
struct ImageToken {
  // 0: the base view (the only view of plain LLaVA); 1: the anyres tiles, as one grid over the
  // padded best-resolution image (after unpadding and, for OneVision, downscaling).
  int view = 0;
  int row = -1, col = -1;  // on the view's grid (-1 for the class token and newlines)
  bool newline = false;    // image_newline: ends a row of the tile grid, covers no pixels
  bool cls = false;        // the CLIP class token ("full" strategy): covers the whole view
  RectF rect;              // original-image pixels, clipped to the image
};

class LlavaModel {
 public:
  LlavaModel(const LlavaConfig& config, const Checkpoint& checkpoint, at::Device device);

  // The pixel values of an image, as the checkpoint's image processor gives them (one view, or
  // the anyres base view and tiles).
  PixelTensor preprocess(const RgbImage& image, const ClipPreprocessConfig& config) const;
  // Image features in language-model order for preprocessed views (V, 3, S, S) of an image whose
  // original size the geometry holds (anyres needs it to unpad): (1, N, C_lm).
  at::Tensor image_features(const at::Tensor& pixels, const CropGeometry& geometry) const;
  // Plain LLaVA only (one view): projector outputs for images (B, 3, S, S) -> (B, N, C_lm).
  at::Tensor image_features(const at::Tensor& pixels) const;
  // What each of the N image positions is, for an image with this (base-view) geometry.
  std::vector<ImageToken> image_layout(const CropGeometry& geometry) const;

  // A prompt's tokens as the model's processor writes them, with one `<image>` id that the callers
  // expand: LLaVA's tokenizer as is; PaliGemmaProcessor's "<image><bos>" + prompt + "\n" (or, when
  // the prompt holds "<image>" itself, prompt + "\n" and no <bos>). Tokens that stand for no text
  // of the prompt (the <image> and <bos> it adds, the closing "\n") have empty spans.
  Encoding encode_prompt(const Tokenizer& tokenizer, const std::string& prompt) const;
  // The tokens of an answer that follows the prompt: PaliGemma's suffix is tokenized without the
  // <bos> the tokenizer adds by itself.
  Encoding encode_answer(const Tokenizer& tokenizer, const std::string& answer) const;
  // The prompt ids with the single `<image>` id repeated `count` times (as HF's processors do).
  std::vector<int64_t> expand_image_tokens(const std::vector<int64_t>& ids, int64_t count) const;
  // LM input embeddings (1, T, C) for expanded ids, image-token rows replaced by `features` (1, N,
  // C).
  at::Tensor input_embeds(const std::vector<int64_t>& expanded_ids,
                          const at::Tensor& features) const;

  const LlamaModel& language_model() const { return *language_model_; }
  const LlavaConfig& config() const { return config_; }
  int grid_size() const { return config_.vision.image_size / config_.vision.patch_size; }
  // Image positions per image for plain LLaVA (anyres: of the base view alone).
  int image_tokens() const;

 private:
  // Projected features of each view: (V, P', C_lm), P' = the tower's tokens after the strategy.
  at::Tensor view_features(const at::Tensor& pixels) const;
  // Index of the first patch among a view's P' tokens (1 when a class token leads), and whether
  // the strategy dropped patch 0 (SigLIP has no class token to drop, HF drops a patch).
  int patch_offset() const;
  int dropped_patches() const;

  LlavaConfig config_;
  ClipVisionTower clip_tower_;      // vision_type Clip
  SiglipVisionTower siglip_tower_;  // vision_type Siglip
  Linear linear_1_, linear_2_;
  at::Tensor image_newline_;  // (C_lm), anyres only
  Linear projector_;          // PaliGemma: multi_modal_projector.linear
  LayerNorm post_layernorm_;  // PaliGemma: the tower's last_hidden_state is after it
  std::unique_ptr<LlamaModel> language_model_;
  at::Device device_;
};

}  // namespace atman
