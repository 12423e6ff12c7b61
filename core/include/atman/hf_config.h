// Typed views of a Hugging Face `config.json`. Parsing validates every field the architectures
// use; a missing or ill-typed field is a ModelError naming the file and the key.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
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

// Llama, Qwen2, Mistral, SmolLM, TinyLlama: the same decoder with small switches.
struct LlamaConfig {
  std::string model_type;  // "llama", "qwen2", "mistral"
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
  int max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (true for qwen2)
  int eos_token_id = -1;           // the first of eos_token_ids; -1 when the config has none
  std::vector<int> eos_token_ids;  // all end tokens (Llama 3 lists several)
  int bos_token_id = -1;
};

struct LlavaConfig {
  ClipTowerConfig vision;
  LlamaConfig text;
  int image_token_index = 0;
  int vision_feature_layer = -2;
  std::string vision_feature_select_strategy = "default";  // "default" drops CLS, "full" keeps it
  Activation projector_hidden_act = Activation::Gelu;
  bool projector_bias = true;
  int image_seq_length = 0;
};

using ModelConfig = std::variant<ClipConfig, Gpt2Config, LlamaConfig, LlavaConfig>;

// Reads <dir>/config.json. Throws ModelError for a missing/invalid file or an architecture that is
// not supported; the message lists the supported ones (supported_architectures()).
ModelConfig load_model_config(const std::filesystem::path& model_dir);
ModelConfig parse_model_config(const std::string& json_text, const std::string& origin);

std::string supported_architectures();

}  // namespace atman
