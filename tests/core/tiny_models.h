// Test support: tiny random Hugging Face model folders (config.json, safetensors weights, tokenizer
// files) written at test time into a temporary folder. The tokenizer files are copied from the
// bundled models in ../shared/models (GPT-2 BPE from facts-gpt2, CLIP BPE from shapes-clip), so the
// vocabulary is real and tokenization works; the repository holds no copies of them.
//
//   QTemporaryDir tmp;
//   TinyGpt2 spec;
//   spec.dtype = TinyDType::BF16;
//   auto dir = write_tiny_gpt2(std::filesystem::path(tmp.path().toStdString()) / "gpt2", spec);
//   auto model = atman::Model::load(dir);
//
// The same seed gives the same fp32 weights whatever the dtype, prefix or sharding, so variants
// of one spec are the same model stored differently.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace atman::test {

enum class TinyDType { F32, F16, BF16 };

// How the weights are stored, for every architecture.
struct TinyStorage {
  TinyDType dtype = TinyDType::F32;
  bool sharded = false;  // model.safetensors.index.json + 2 shards instead of model.safetensors
  uint64_t seed = 1;
  // Applied to the fp32 tensors before they are written (drop a tensor, reshape one, plant a NaN):
  // for malformed-checkpoint tests.
  std::function<void(std::map<std::string, at::Tensor>&)> edit;
};

struct TinyClip : TinyStorage {
  std::string hidden_act = "quick_gelu";  // both towers
  int hidden = 32, layers = 2, heads = 4, intermediate = 64, projection = 16;
  int image_size = 32, patch_size = 8;  // 4 x 4 patch grid
  int text_positions = 24;
};

struct TinyGpt2 : TinyStorage {
  bool transformer_prefix = true;  // "transformer.h.0..." (GPT2LMHeadModel) or "h.0..." (GPT2Model)
  bool lm_head = false;  // an own, untied lm_head.weight (config: tie_word_embeddings false)
  int hidden = 32, layers = 2, heads = 4;
  int positions = 32;
  std::string activation = "gelu_new";
};

struct TinyLlama : TinyStorage {
  std::string model_type = "llama";  // "llama" or "qwen2" (qwen2 always has q/k/v biases)
  bool attention_bias = false;       // llama only: q/k/v biases
  bool tied = false;                 // tie_word_embeddings (no lm_head.weight written)
  int hidden = 32, layers = 2, heads = 4, kv_heads = 2, intermediate = 64;
  int head_dim = 0;  // 0: not written in config.json (hidden / heads); else written explicitly
  int positions = 64;
  double rope_theta = 10000.0;
};

// A RoPE decoder of any supported family (llama, qwen2, qwen3, mistral, gemma, gemma2, gemma3_text,
// phi3, olmo2): `config` is written as config.json as given (tests use the real field names and
// values of a public checkpoint, shrunk), and the tensors follow that family's transformers key
// layout (fused Phi-3 projections, Gemma's four norms, q/k norms, biases, tied or untied head).
struct TinyDecoder : TinyStorage {
  nlohmann::json config;
};

// Each returns `dir` (created when missing) holding a loadable model folder.
std::filesystem::path write_tiny_clip(const std::filesystem::path& dir, const TinyClip& spec);
std::filesystem::path write_tiny_gpt2(const std::filesystem::path& dir, const TinyGpt2& spec);
std::filesystem::path write_tiny_llama(const std::filesystem::path& dir, const TinyLlama& spec);
std::filesystem::path write_tiny_decoder(const std::filesystem::path& dir, const TinyDecoder& spec);
// The default spec of each.
std::filesystem::path write_tiny_clip(const std::filesystem::path& dir);
std::filesystem::path write_tiny_gpt2(const std::filesystem::path& dir);
std::filesystem::path write_tiny_llama(const std::filesystem::path& dir);

// The fp32 tensors a spec stores (before dtype conversion), by checkpoint name.
std::map<std::string, at::Tensor> tiny_clip_tensors(const TinyClip& spec);
std::map<std::string, at::Tensor> tiny_gpt2_tensors(const TinyGpt2& spec);
std::map<std::string, at::Tensor> tiny_llama_tensors(const TinyLlama& spec);
std::map<std::string, at::Tensor> tiny_decoder_tensors(const TinyDecoder& spec);

// Writes `tensors` as `dir`/model.safetensors or as two shards with an index, in `dtype`.
void write_weights(const std::filesystem::path& dir,
                   const std::map<std::string, at::Tensor>& tensors, TinyDType dtype, bool sharded);

// Vocabulary sizes of the copied tokenizers.
inline constexpr int64_t kGpt2Vocab = 50257;
inline constexpr int64_t kClipVocab = 49408;

}  // namespace atman::test
