// Typed views of a Hugging Face `config.json`. Parsing validates every field the architectures
// use; a missing or ill-typed field is a ModelError naming the file and the key.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace atman {

enum class Activation { QuickGelu, Gelu, GeluTanh, Silu, Relu };

// Parses HF activation names: "quick_gelu", "gelu", "gelu_new"/"gelu_pytorch_tanh", "silu", "relu".
Activation parse_activation(const std::string& name);

struct ClipTowerConfig {
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  Activation hidden_act = Activation::QuickGelu;
  double layer_norm_eps = 1e-5;
  // Text tower only.
  int vocab_size = 0;
  int max_position_embeddings = 0;
  int eos_token_id = 2;  // 2 = legacy configs: pool at argmax(id), as HF does
  // Vision tower only.
  int image_size = 0;
  int patch_size = 0;
  int num_channels = 3;
};

struct ClipConfig {
  ClipTowerConfig text;
  ClipTowerConfig vision;
  int projection_dim = 0;
};

struct Gpt2Config {
  int vocab_size = 0;
  int n_positions = 0;
  int n_embd = 0;
  int n_layer = 0;
  int n_head = 0;
  int n_inner = 0;  // 0 in config (null) means 4 * n_embd; resolved at parse time
  Activation activation = Activation::GeluTanh;
  double layer_norm_epsilon = 1e-5;
  bool scale_attn_weights = true;
  bool scale_attn_by_inverse_layer_idx = false;
  int eos_token_id = 50256;
};

// A RoPE variant of transformers' modeling_rope_utils, from `rope_scaling` (v4 configs, where the
// type may be under "type") or `rope_parameters` (v5 configs). Unused fields keep their defaults.
struct RopeScaling {
  std::string type = "default";  // default, linear, dynamic, yarn, longrope, llama3
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int original_max_position_embeddings = 0;              // llama3, yarn; 0 = not given
  double attention_factor = 0.0;                         // yarn, longrope; 0 = the paper's default
  double beta_fast = 32.0, beta_slow = 1.0;              // yarn
  double mscale = 0.0, mscale_all_dim = 0.0;             // yarn; 0 = not given
  bool truncate = true;                                  // yarn
  std::vector<double> short_factor, long_factor;         // longrope: head_dim / 2 values each
};

// How a decoder block arranges its norms.
enum class BlockNorms {
  Pre,       // x += attn(norm(x)); x += mlp(norm(x))                          (Llama, Qwen, Phi-3)
  Sandwich,  // x += post(attn(pre(x))); x += post_ff(mlp(pre_ff(x)))           (Gemma 2 / 3)
  Post,      // x += post(attn(x)); x += post_ff(mlp(x))                        (OLMo 2)
};

// q/k normalisation before RoPE.
enum class QkNorm {
  None,
  PerHead,    // RMSNorm over head_dim, per head (Qwen3, Gemma 3)
  FullWidth,  // RMSNorm over all heads' q (H*D) and k (Hkv*D) (OLMo 2)
};

// Every RoPE decoder family (Llama 3, Qwen2/2.5/3, Mistral, Gemma 1/2/3, Phi-3, SmolLM2, OLMo 2):
// one decoder with switches, all set from config.json as transformers sets them.
struct LlamaConfig {
  std::string model_type;    // "llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", ...
  std::string architecture;  // display name: "Llama", "Qwen2", "Gemma 2", ...
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int head_dim = 0;  // defaults to hidden_size / num_attention_heads
  Activation hidden_act = Activation::Silu;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double partial_rotary_factor = 1.0;  // RoPE on the first head_dim * factor dims only
  // Phi-3: the pretraining length, next to a longer max_position_embeddings (longrope).
  int original_max_position_embeddings = 0;
  double rope_local_theta = 0.0;  // Gemma 3: plain RoPE base of sliding layers; 0 = as global
  int max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;     // q/k/v biases (true for qwen2)
  bool o_proj_bias = false;        // o_proj bias (Llama, Qwen3, Gemma, OLMo 2: = attention_bias)
  bool mlp_bias = false;           // gate/up/down biases (Llama's mlp_bias)
  bool fused_projections = false;  // Phi-3: qkv_proj and gate_up_proj
  QkNorm qk_norm = QkNorm::None;
  BlockNorms block_norms = BlockNorms::Pre;
  bool gemma_norms = false;             // RMSNorm scales by (1 + w), in float32
  bool scale_embeddings = false;        // Gemma: embeddings times sqrt(hidden_size)
  double query_pre_attn_scalar = 0.0;   // Gemma: scores scaled by its -1/2 power; 0 = head_dim
  double attn_logit_softcapping = 0.0;  // Gemma 2: cap * tanh(scores / cap); 0 = off
  double final_logit_softcapping = 0.0;
  int sliding_window = 0;            // keys within this many positions; 0 = none
  std::vector<bool> sliding_layers;  // per layer: true = sliding-window attention
  // Qwen2-VL / Qwen2.5-VL multimodal RoPE: how many of the rotary frequency pairs follow the
  // temporal, height and width position (sums to rotary_dim / 2); empty = 1-D RoPE.
  std::vector<int> mrope_section;
  // PaliGemma: rotary position of input position 0 (its position_ids are cache_position + 1).
  int position_offset = 0;
  int eos_token_id = -1;           // the first of eos_token_ids; -1 when the config has none
  std::vector<int> eos_token_ids;  // all end tokens (Llama 3 lists several)
  int bos_token_id = -1;

  bool is_sliding(int layer) const {
    return sliding_window > 0 && layer < static_cast<int>(sliding_layers.size()) &&
           sliding_layers[layer];
  }
};

// LLaVA and its tiling successors. model_type "llava" (LlavaForConditionalGeneration) encodes one
// square view; "llava_next" (LlavaNextForConditionalGeneration) and "llava_onevision" add "anyres":
// the base view plus tiles of the image resized and padded to the best of image_grid_pinpoints,
// unpadded and closed by an image_newline row separator (docs/models.md, LLaVA families).
// "paligemma" (PaliGemmaForConditionalGeneration, PaliGemma 1 and 2) is one SigLIP view too, with
// a one-Linear projector, features scaled by 1 / sqrt(text hidden_size), 1-based positions and a
// prefix-LM mask (image + prompt bidirectional, the answer causal).
enum class LlavaVision { Clip, Siglip };  // vision_config.model_type: clip/siglip_vision_model

struct LlavaConfig {
  std::string model_type = "llava";  // "llava", "llava_next", "llava_onevision", "paligemma"
  LlavaVision vision_type = LlavaVision::Clip;
  ClipTowerConfig vision;
  LlamaConfig text;
  int image_token_index = 0;
  // hidden_states indices (HF: negative counts from the end of the L + 1 states); one entry for an
  // int in config.json, several for a list, whose states are concatenated along features.
  std::vector<int> vision_feature_layers = {-2};
  std::string vision_feature_select_strategy = "default";  // "default" drops CLS, "full" keeps it
  Activation projector_hidden_act = Activation::Gelu;
  bool projector_bias = true;
  int projection_dim = 0;  // PaliGemma: the projector's output (= the text hidden_size)
  int image_seq_length = 0;
  // Anyres (llava_next, llava_onevision): candidate resolutions as (height, width) pixels.
  std::vector<std::pair<int, int>> image_grid_pinpoints;
  // llava_onevision's vision_aspect_ratio "anyres_max_N": N, the most tiles' worth of features
  // before bilinear downscaling; 0 = no limit (llava_next).
  int anyres_max_tiles = 0;

  bool anyres() const { return model_type == "llava_next" || model_type == "llava_onevision"; }
  bool paligemma() const { return model_type == "paligemma"; }
};

// SigLIP (HF SiglipModel): the towers reuse ClipTowerConfig's fields (the encoder layers are the
// same); what differs is here.
struct SiglipConfig {
  ClipTowerConfig text;  // eos_token_id unused: SigLIP pools the last position
  ClipTowerConfig vision;
  int projection_size = 0;  // text_config.projection_size (text head output); null = hidden_size
  int pad_token_id = 1;     // text_config.pad_token_id: what SiglipProcessor pads with
  // SigLIP 2 NaFlex (model_type "siglip2", HF Siglip2Model): a Linear patch embedding of patches
  // at the image's own aspect ratio, the num_patches position embeddings (a square grid) resized
  // to each image's patch grid, padded patches masked. vision.image_size is unused then.
  bool naflex = false;
  int num_patches = 0;  // vision_config.num_patches (NaFlex only)
};

// Qwen2.5-VL (HF Qwen2_5_VLForConditionalGeneration): a ViT with 2-D RoPE, window attention and a
// 2x2 patch merger in front of a Qwen2 decoder with multimodal RoPE (text.mrope_section).
struct Qwen2_5_VLVisionConfig {
  int depth = 32;
  int hidden_size = 3584;
  int intermediate_size = 3420;
  int num_heads = 16;
  int in_channels = 3;
  int patch_size = 14;
  int spatial_merge_size = 2;
  int temporal_patch_size = 2;
  int window_size = 112;  // pixels of the resized image per attention window side
  int out_hidden_size = 3584;
  int tokens_per_second = 4;
  std::vector<int> fullatt_block_indexes = {7, 15, 23, 31};  // blocks with full attention
  Activation hidden_act = Activation::Silu;
};

struct Qwen2_5_VLConfig {
  Qwen2_5_VLVisionConfig vision;
  LlamaConfig text;  // model_type "qwen2" semantics, with mrope_section
  int image_token_id = 151655;
  int video_token_id = 151656;
  int vision_start_token_id = 151652;
  int vision_end_token_id = 151653;
};

// Idefics3 / SmolVLM (HF Idefics3ForConditionalGeneration, model_type "idefics3") and SmolVLM2
// (SmolVLMForConditionalGeneration, "smolvlm": the same model, image processor and image prompt): a
// SigLIP-like tower reads the image's tiles and a global view; a pixel shuffle merges scale_factor
// x scale_factor patches into one token, projected by a Linear without bias into a Llama decoder.
struct Idefics3Config {
  std::string model_type = "idefics3";  // or "smolvlm"
  ClipTowerConfig vision;  // Idefics3VisionConfig: SigLIP's encoder, post_layernorm, no head
  LlamaConfig text;
  int image_token_id = 128257;
  int scale_factor = 2;
  // Language-model positions per view: (image_size / patch_size)^2 / scale_factor^2.
  int image_seq_len() const {
    const int grid = vision.image_size / vision.patch_size;
    return grid * grid / (scale_factor * scale_factor);
  }
};

using ModelConfig = std::variant<ClipConfig, Gpt2Config, LlamaConfig, LlavaConfig, SiglipConfig,
                                 Qwen2_5_VLConfig, Idefics3Config>;

// Reads <dir>/config.json. Throws ModelError for a missing/invalid file or an architecture that is
// not supported; the message lists the supported ones (supported_architectures()).
ModelConfig load_model_config(const std::filesystem::path& model_dir);
ModelConfig parse_model_config(const std::string& json_text, const std::string& origin);

std::string supported_architectures();

}  // namespace atman
