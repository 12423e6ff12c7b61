// Qwen2.5-VL (HF Qwen2_5_VLForConditionalGeneration): a ViT over 14-pixel patches with 2-D RoPE,
// RMSNorm + SwiGLU blocks, window attention (full attention in `fullatt_block_indexes`) and a 2x2
// patch merger, whose merged tokens replace the `<|image_pad|>` tokens of a Qwen2 decoder that
// places them with multimodal RoPE (temporal, height, width positions).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "atman/hf_config.h"
#include "atman/tokenizer.h"
#include "image/qwen2_vl_image.h"
#include "models/causal_lm.h"
#include "models/layers.h"
#include "models/llama.h"

namespace atman {

// The vision tower and merger (Qwen2_5_VisionTransformerPretrainedModel).
class Qwen2_5_VisionTower {
 public:
  Qwen2_5_VisionTower(const Qwen2_5_VLVisionConfig& config, const WeightReader& w);
  // patches (grid_t * grid_h * grid_w, C * temporal * patch²) in the processor's order ->
  // merged tokens (N / merge², out_hidden_size) in row-major order of the merged grid.
  at::Tensor operator()(const at::Tensor& patches, int grid_t, int grid_h, int grid_w) const;

  // get_window_index: the merged-token order of the windows and the cumulative window lengths in
  // patches (consecutive duplicates removed, as torch.unique_consecutive does there).
  struct Windows {
    std::vector<int64_t> index;
    std::vector<int64_t> cu_seqlens;
  };
  Windows window_index(int grid_t, int grid_h, int grid_w) const;

 private:
  struct Block {
    RmsNorm norm1, norm2;
    Linear qkv, proj;
    Linear gate_proj, up_proj, down_proj;
  };
  at::Tensor attention(const Block& block, const at::Tensor& x, const at::Tensor& cos,
                       const at::Tensor& sin, const std::vector<int64_t>& cu_seqlens) const;
  at::Tensor rotary(int grid_t, int grid_h, int grid_w) const;  // (N, head_dim / 2)

  Qwen2_5_VLVisionConfig config_;
  at::Tensor patch_weight_;  // (C, in_channels * temporal * patch²): Conv3d with stride = kernel
  std::vector<Block> blocks_;
  RmsNorm ln_q_;
  Linear mlp0_, mlp2_;
};

class Qwen2_5_VLModel {
 public:
  Qwen2_5_VLModel(const Qwen2_5_VLConfig& config, const Checkpoint& checkpoint, at::Device device,
                  const Qwen2VLImageConfig& image_config);

  Qwen2VLPixels preprocess(const RgbImage& image) const;
  // Merged image tokens in the language model's space: (merged rows * cols, hidden).
  at::Tensor image_features(const Qwen2VLPixels& pixels) const;
  // The prompt's tokens with their spans in `prompt`. Our `<image>` marker becomes
  // <|vision_start|><|image_pad|><|vision_end|> (the three span the marker), tokenised around it
  // as Qwen2_5_VLProcessor's text is (added tokens split the text); a prompt may also hold those
  // tokens itself. At most one image.
  Encoding encode_prompt(const Tokenizer& tokenizer, const std::string& prompt) const;
  // The ids with the single <|image_pad|> repeated `image_tokens` times (Qwen2_5_VLProcessor).
  std::vector<int64_t> expand_image_tokens(const std::vector<int64_t>& ids,
                                           int64_t image_tokens) const;
  // get_rope_index for one image of the given merged grid: (3, T) long (t, h, w) positions.
  at::Tensor rope_index(const std::vector<int64_t>& expanded_ids, int merged_rows,
                        int merged_cols) const;
  // Token embeddings (1, T, C) with the image-pad rows replaced by `features` (N, C).
  at::Tensor input_embeds(const std::vector<int64_t>& expanded_ids,
                          const at::Tensor& features) const;

  const LlamaModel& language_model() const { return *language_model_; }
  const Qwen2_5_VisionTower& vision_tower() const { return *vision_; }
  const Qwen2_5_VLConfig& config() const { return config_; }
  const Qwen2VLImageConfig& image_config() const { return image_config_; }

 private:
  Qwen2_5_VLConfig config_;
  Qwen2VLImageConfig image_config_;
  std::unique_ptr<Qwen2_5_VisionTower> vision_;
  std::unique_ptr<LlamaModel> language_model_;
  at::Device device_;
};

// The decoder seen through one input sequence's multimodal positions: forward_embeds places new
// positions [past, past + T) at `positions` (3, n) of the sequence, and positions past its end
// as text continuing after its largest position (what transformers does with rope_deltas while
// generating). Borrows the decoder, which must outlive it.
class MropeSequence final : public CausalLM {
 public:
  MropeSequence(const LlamaModel& lm, at::Tensor positions);
  at::Tensor embed_tokens(const at::Tensor& ids) const override { return lm_.embed_tokens(ids); }
  at::Tensor forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                            KVCache* cache) const override;
  at::Tensor forward_suffixes(const at::Tensor& embeds, const std::vector<int64_t>& starts,
                              const Suppression& suppression, const KVCache& base,
                              int64_t outputs) const override;
  bool packs_suffixes() const override { return true; }
  at::Tensor lm_logits(const at::Tensor& hidden) const override { return lm_.lm_logits(hidden); }
  int64_t vocab_size() const override { return lm_.vocab_size(); }
  int64_t max_positions() const override { return lm_.max_positions(); }
  int num_layers() const override { return lm_.num_layers(); }
  int64_t hidden_size() const override { return lm_.hidden_size(); }
  // (3, T) positions of input positions [start, start + T).
  at::Tensor positions(int64_t start, int64_t T) const;

 private:
  const LlamaModel& lm_;
  at::Tensor positions_;  // (3, n) long, CPU
  int64_t next_ = 0;      // the text position after the sequence: max + 1
};

}  // namespace atman
