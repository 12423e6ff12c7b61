// Idefics3 / SmolVLM (HF Idefics3ForConditionalGeneration): the image's tiles and its global view
// each pass a SigLIP-like vision tower (Idefics3VisionTransformer, with post_layernorm), the
// connector's pixel shuffle merges scale_factor x scale_factor patches into one token and a Linear
// without bias projects it; the processor writes each view's tokens into the prompt between
// <fake_token_around_image> and a <row_r_col_c> or <global-img> marker, and the Llama decoder reads
// the projected features at the <image> positions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "atman/hf_config.h"
#include "atman/image.h"
#include "image/idefics3_image.h"
#include "models/clip.h"
#include "models/llama.h"
#include "models/llava.h"

namespace atman {

class Tokenizer;

// Idefics3VisionEmbeddings' position ids of a view of rows x cols patches on a tower trained with
// side x side positions: each patch's fractional coordinate bucketed into the side x side grid,
// with torch's float32 arange and bucketize (so equal to HF's bit for bit): (rows * cols) long.
at::Tensor idefics3_position_ids(int rows, int cols, int side);

// Idefics3Connector.pixel_shuffle: (V, g * g, C) -> (V, g * g / s², C * s²); token (R, C') of the
// (g / s) x (g / s) result holds patches (R s + i, C' s + j) in the order i, j, channel.
at::Tensor idefics3_pixel_shuffle(const at::Tensor& x, int scale_factor);

class Idefics3Model {
 public:
  Idefics3Model(const Idefics3Config& config, const Checkpoint& checkpoint, at::Device device,
                const Idefics3ImageConfig& image_config);

  PixelTensor preprocess(const RgbImage& image) const;
  Idefics3Layout layout(int width, int height) const;
  // The vision tower's last_hidden_state (after post_layernorm) for views (V, 3, S, S): (V, P, Cv).
  at::Tensor vision_hidden(const at::Tensor& pixels) const;
  // The connector's output for every view in prompt order (tiles row-major, then the global
  // view): (1, V * image_seq_len, C_lm).
  at::Tensor image_features(const at::Tensor& pixels) const;
  // What each of those positions is: view 0 the global view, view 1 the tiles as one grid over
  // the tiled image; each token's rectangle is the union of its scale_factor² patches.
  std::vector<ImageToken> image_layout(const CropGeometry& geometry) const;

  // The processor's text for one image (Idefics3Processor's get_image_prompt_string).
  std::string image_prompt(const Idefics3Layout& layout) const;
  // Its ids: the special tokens by id, the newlines between rows as the tokenizer splits them.
  std::vector<int64_t> image_prompt_ids(const Tokenizer& tokenizer,
                                        const Idefics3Layout& layout) const;
  // The prompt ids with their one <image> id replaced by image_prompt_ids.
  std::vector<int64_t> expand_image_tokens(const std::vector<int64_t>& ids,
                                           const Tokenizer& tokenizer,
                                           const CropGeometry& geometry) const;
  // LM input embeddings (1, T, C) for expanded ids, <image> rows replaced by `features` (1, N, C).
  at::Tensor input_embeds(const std::vector<int64_t>& expanded_ids,
                          const at::Tensor& features) const;

  const LlamaModel& language_model() const { return *language_model_; }
  const Idefics3Config& config() const { return config_; }
  const Idefics3ImageConfig& image_config() const { return image_config_; }
  int patch_grid() const { return config_.vision.image_size / config_.vision.patch_size; }
  // The token grid of one view: patch_grid() / scale_factor a side.
  int token_grid() const { return patch_grid() / config_.scale_factor; }

 private:
  Idefics3Config config_;
  Idefics3ImageConfig image_config_;
  at::Tensor patch_embedding_, patch_bias_, position_embedding_;
  ClipEncoder encoder_;
  LayerNorm post_layernorm_;
  Linear projection_;  // connector.modality_projection.proj, no bias
  std::unique_ptr<LlamaModel> language_model_;
  at::Device device_;
};

}  // namespace atman
