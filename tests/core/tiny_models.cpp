#include "core/tiny_models.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <stdexcept>

#include "io/safetensors.h"

namespace atman::test {
namespace {

namespace fs = std::filesystem;
using Tensors = std::map<std::string, at::Tensor>;

// Token embeddings and LM heads: logits of a few units, like a trained model's, so that fp32
// rounding stays well below the tests' absolute tolerances.
constexpr double kEmbedStd = 0.25;

fs::path shared_models() {
  return fs::path(ATMAN_SHARED_DIR) / "models";
}

// Random tensors from one seeded generator, scaled so that a tiny random transformer has peaked
// (not uniform) attention and non-trivial outputs.
class Init {
 public:
  explicit Init(uint64_t seed) : gen_(at::detail::createCPUGenerator(seed)) {}
  at::Tensor normal(const std::vector<int64_t>& shape, double std) {
    return at::normal(0.0, std, shape, gen_, at::TensorOptions().dtype(at::kFloat));
  }
  // Weights of a layer with `fan_in` inputs: unit-variance outputs for unit inputs, times `gain`.
  at::Tensor weight(const std::vector<int64_t>& shape, int64_t fan_in, double gain = 1.0) {
    return normal(shape, gain / std::sqrt(static_cast<double>(fan_in)));
  }
  at::Tensor bias(int64_t n) { return normal({n}, 0.1); }
  at::Tensor norm_weight(int64_t n) { return 1.0 + normal({n}, 0.1); }

 private:
  at::Generator gen_;
};

void copy_into(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw std::runtime_error("cannot copy " + from.string() + " to " + to.string() + ": " +
                             ec.message());
}

void copy_tokenizer(const fs::path& source_model, const fs::path& dir) {
  copy_into(shared_models() / source_model / "vocab.json", dir / "vocab.json");
  copy_into(shared_models() / source_model / "merges.txt", dir / "merges.txt");
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

at::ScalarType scalar_type(TinyDType d) {
  switch (d) {
    case TinyDType::F16:
      return at::kHalf;
    case TinyDType::BF16:
      return at::kBFloat16;
    case TinyDType::F32:
      break;
  }
  return at::kFloat;
}

fs::path prepare(const fs::path& dir, const TinyStorage& spec, Tensors tensors) {
  fs::create_directories(dir);
  if (spec.edit) spec.edit(tensors);
  write_weights(dir, tensors, spec.dtype, spec.sharded);
  return dir;
}

void add_layer_norm(Tensors& t, Init& init, const std::string& name, int64_t n) {
  t[name + ".weight"] = init.norm_weight(n);
  t[name + ".bias"] = init.bias(n);
}

void add_linear(Tensors& t, Init& init, const std::string& name, int64_t in, int64_t out, bool bias,
                double gain = 1.0) {
  t[name + ".weight"] = init.weight({out, in}, in, gain);
  if (bias) t[name + ".bias"] = init.bias(out);
}

void add_clip_encoder(Tensors& t, Init& init, const std::string& prefix, const TinyClip& s) {
  const int64_t C = s.hidden, I = s.intermediate;
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = prefix + "encoder.layers." + std::to_string(l) + ".";
    add_layer_norm(t, init, p + "layer_norm1", C);
    add_layer_norm(t, init, p + "layer_norm2", C);
    add_linear(t, init, p + "self_attn.q_proj", C, C, true, 2.0);
    add_linear(t, init, p + "self_attn.k_proj", C, C, true, 2.0);
    add_linear(t, init, p + "self_attn.v_proj", C, C, true);
    add_linear(t, init, p + "self_attn.out_proj", C, C, true, 0.7);
    add_linear(t, init, p + "mlp.fc1", C, I, true);
    add_linear(t, init, p + "mlp.fc2", I, C, true, 0.7);
  }
}

}  // namespace

void write_weights(const fs::path& dir, const Tensors& tensors, TinyDType dtype, bool sharded) {
  Tensors stored;
  for (const auto& [name, t] : tensors)
    stored[name] = at::isFloatingType(t.scalar_type()) ? t.to(scalar_type(dtype)) : t;
  std::error_code ec;
  fs::remove(dir / "model.safetensors", ec);
  fs::remove(dir / "model.safetensors.index.json", ec);
  if (!sharded) {
    write_safetensors(dir / "model.safetensors", stored, {{"format", "pt"}});
    return;
  }
  const char* names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  Tensors shards[2];
  nlohmann::json weight_map = nlohmann::json::object();
  int64_t total = 0;
  size_t i = 0;
  for (const auto& [name, t] : stored) {
    const int shard = i++ < stored.size() / 2 ? 0 : 1;
    shards[shard][name] = t;
    weight_map[name] = names[shard];
    total += static_cast<int64_t>(t.nbytes());
  }
  for (int s = 0; s < 2; ++s) write_safetensors(dir / names[s], shards[s], {{"format", "pt"}});
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_text(dir / "model.safetensors.index.json", index.dump(2));
}

// ---------------------------------------------------------------------------------------------
// CLIP

Tensors tiny_clip_tensors(const TinyClip& s) {
  Init init(s.seed);
  Tensors t;
  const int64_t C = s.hidden, p = s.patch_size, grid = s.image_size / s.patch_size;
  const int64_t P = grid * grid;
  t["vision_model.embeddings.class_embedding"] = init.normal({C}, 1.0);
  t["vision_model.embeddings.patch_embedding.weight"] = init.weight({C, 3, p, p}, 3 * p * p, 1.5);
  t["vision_model.embeddings.position_embedding.weight"] = init.normal({P + 1, C}, 0.5);
  t["vision_model.embeddings.position_ids"] = at::arange(P + 1, at::kLong).unsqueeze(0);
  add_layer_norm(t, init, "vision_model.pre_layrnorm", C);
  add_clip_encoder(t, init, "vision_model.", s);
  add_layer_norm(t, init, "vision_model.post_layernorm", C);
  t["visual_projection.weight"] = init.weight({s.projection, C}, C);

  t["text_model.embeddings.token_embedding.weight"] = init.normal({kClipVocab, C}, 1.0);
  t["text_model.embeddings.position_embedding.weight"] = init.normal({s.text_positions, C}, 0.5);
  t["text_model.embeddings.position_ids"] = at::arange(s.text_positions, at::kLong).unsqueeze(0);
  add_clip_encoder(t, init, "text_model.", s);
  add_layer_norm(t, init, "text_model.final_layer_norm", C);
  t["text_projection.weight"] = init.weight({s.projection, C}, C);
  t["logit_scale"] = at::full({}, std::log(20.0), at::kFloat);
  return t;
}

fs::path write_tiny_clip(const fs::path& dir, const TinyClip& s) {
  fs::create_directories(dir);
  auto tower = [&](bool text) {
    nlohmann::json j = {{"hidden_size", s.hidden},       {"intermediate_size", s.intermediate},
                        {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
                        {"hidden_act", s.hidden_act},    {"layer_norm_eps", 1e-5},
                        {"projection_dim", s.projection}};
    if (text) {
      j["model_type"] = "clip_text_model";
      j["vocab_size"] = kClipVocab;
      j["max_position_embeddings"] = s.text_positions;
      j["bos_token_id"] = 49406;
      j["eos_token_id"] = 49407;
      j["pad_token_id"] = 1;
    } else {
      j["model_type"] = "clip_vision_model";
      j["image_size"] = s.image_size;
      j["patch_size"] = s.patch_size;
      j["num_channels"] = 3;
    }
    return j;
  };
  nlohmann::json config = {{"architectures", {"CLIPModel"}}, {"model_type", "clip"},
                           {"projection_dim", s.projection}, {"logit_scale_init_value", 2.6592},
                           {"torch_dtype", "float32"},       {"text_config", tower(true)},
                           {"vision_config", tower(false)}};
  write_text(dir / "config.json", config.dump(2));
  nlohmann::json pre = {{"crop_size", {{"height", s.image_size}, {"width", s.image_size}}},
                        {"do_center_crop", true},
                        {"do_normalize", true},
                        {"do_rescale", true},
                        {"do_resize", true},
                        {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
                        {"image_std", {0.26862954, 0.26130258, 0.27577711}},
                        {"resample", 3},
                        {"rescale_factor", 1.0 / 255.0},
                        {"size", {{"shortest_edge", s.image_size}}},
                        {"image_processor_type", "CLIPImageProcessor"}};
  write_text(dir / "preprocessor_config.json", pre.dump(2));
  copy_tokenizer("shapes-clip", dir);
  return prepare(dir, s, tiny_clip_tensors(s));
}

// ---------------------------------------------------------------------------------------------
// GPT-2

Tensors tiny_gpt2_tensors(const TinyGpt2& s) {
  Init init(s.seed);
  Tensors t;
  const std::string p = s.transformer_prefix ? "transformer." : "";
  const int64_t C = s.hidden;
  t[p + "wte.weight"] = init.normal({kGpt2Vocab, C}, kEmbedStd);
  t[p + "wpe.weight"] = init.normal({s.positions, C}, 0.5);
  for (int l = 0; l < s.layers; ++l) {
    const std::string b = p + "h." + std::to_string(l) + ".";
    add_layer_norm(t, init, b + "ln_1", C);
    add_layer_norm(t, init, b + "ln_2", C);
    // Conv1D: (in, out).
    t[b + "attn.c_attn.weight"] = init.weight({C, 3 * C}, C, 2.0);
    t[b + "attn.c_attn.bias"] = init.bias(3 * C);
    t[b + "attn.c_proj.weight"] = init.weight({C, C}, C, 0.7);
    t[b + "attn.c_proj.bias"] = init.bias(C);
    t[b + "mlp.c_fc.weight"] = init.weight({C, 4 * C}, C);
    t[b + "mlp.c_fc.bias"] = init.bias(4 * C);
    t[b + "mlp.c_proj.weight"] = init.weight({4 * C, C}, 4 * C, 0.7);
    t[b + "mlp.c_proj.bias"] = init.bias(C);
  }
  add_layer_norm(t, init, p + "ln_f", C);
  if (s.lm_head) t["lm_head.weight"] = init.normal({kGpt2Vocab, C}, kEmbedStd);
  return t;
}

fs::path write_tiny_gpt2(const fs::path& dir, const TinyGpt2& s) {
  fs::create_directories(dir);
  nlohmann::json config = {{"architectures", {"GPT2LMHeadModel"}},
                           {"model_type", "gpt2"},
                           {"vocab_size", kGpt2Vocab},
                           {"n_positions", s.positions},
                           {"n_ctx", s.positions},
                           {"n_embd", s.hidden},
                           {"n_layer", s.layers},
                           {"n_head", s.heads},
                           {"n_inner", nullptr},
                           {"activation_function", s.activation},
                           {"layer_norm_epsilon", 1e-5},
                           {"scale_attn_weights", true},
                           {"tie_word_embeddings", !s.lm_head},
                           {"bos_token_id", 50256},
                           {"eos_token_id", 50256}};
  write_text(dir / "config.json", config.dump(2));
  copy_tokenizer("facts-gpt2", dir);
  return prepare(dir, s, tiny_gpt2_tensors(s));
}

// ---------------------------------------------------------------------------------------------
// Llama / Qwen2

Tensors tiny_llama_tensors(const TinyLlama& s) {
  Init init(s.seed);
  Tensors t;
  const int64_t C = s.hidden, I = s.intermediate;
  const int64_t D = s.head_dim > 0 ? s.head_dim : s.hidden / s.heads;
  const int64_t H = s.heads, Hkv = s.kv_heads;
  const bool bias = s.model_type == "qwen2" || s.attention_bias;
  t["model.embed_tokens.weight"] = init.normal({kGpt2Vocab, C}, kEmbedStd);
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = init.norm_weight(C);
    t[p + "post_attention_layernorm.weight"] = init.norm_weight(C);
    add_linear(t, init, p + "self_attn.q_proj", C, H * D, bias, 2.0);
    add_linear(t, init, p + "self_attn.k_proj", C, Hkv * D, bias, 2.0);
    add_linear(t, init, p + "self_attn.v_proj", C, Hkv * D, bias);
    // LlamaAttention's o_proj has a bias when attention_bias is set; Qwen2's never.
    add_linear(t, init, p + "self_attn.o_proj", H * D, C, bias && s.model_type != "qwen2", 0.7);
    add_linear(t, init, p + "mlp.gate_proj", C, I, false);
    add_linear(t, init, p + "mlp.up_proj", C, I, false);
    add_linear(t, init, p + "mlp.down_proj", I, C, false, 0.7);
  }
  t["model.norm.weight"] = init.norm_weight(C);
  if (!s.tied) t["lm_head.weight"] = init.normal({kGpt2Vocab, C}, kEmbedStd);
  return t;
}

fs::path write_tiny_llama(const fs::path& dir, const TinyLlama& s) {
  fs::create_directories(dir);
  const bool qwen2 = s.model_type == "qwen2";
  nlohmann::json config = {{"architectures", {qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
                           {"model_type", s.model_type},
                           {"vocab_size", kGpt2Vocab},
                           {"hidden_size", s.hidden},
                           {"intermediate_size", s.intermediate},
                           {"num_hidden_layers", s.layers},
                           {"num_attention_heads", s.heads},
                           {"num_key_value_heads", s.kv_heads},
                           {"hidden_act", "silu"},
                           {"rms_norm_eps", 1e-6},
                           {"rope_theta", s.rope_theta},
                           {"rope_scaling", nullptr},
                           {"max_position_embeddings", s.positions},
                           {"tie_word_embeddings", s.tied},
                           {"bos_token_id", 50256},
                           {"eos_token_id", 50256},
                           {"torch_dtype", "float32"}};
  if (!qwen2) config["attention_bias"] = s.attention_bias;
  if (s.head_dim > 0) config["head_dim"] = s.head_dim;
  write_text(dir / "config.json", config.dump(2));
  copy_tokenizer("facts-gpt2", dir);
  return prepare(dir, s, tiny_llama_tensors(s));
}

// ---------------------------------------------------------------------------------------------
// Every RoPE decoder family, from its config.json

Tensors tiny_decoder_tensors(const TinyDecoder& s) {
  const nlohmann::json& c = s.config;
  const std::string type = c.at("model_type");
  Init init(s.seed);
  Tensors t;
  const int64_t C = c.at("hidden_size"), I = c.at("intermediate_size"), V = c.at("vocab_size");
  const int64_t H = c.at("num_attention_heads");
  const int64_t Hkv = c.value("num_key_value_heads", H);
  const int64_t D =
      c.contains("head_dim") && !c["head_dim"].is_null() ? c["head_dim"].get<int64_t>() : C / H;
  const bool gemma = type == "gemma2" || type == "gemma3_text";  // sandwich norms
  const bool gemma_norms = gemma || type == "gemma";             // (1 + w), tied by default
  const bool attention_bias = c.value("attention_bias", false);
  const bool qkv_bias = type == "qwen2" || (attention_bias && type != "mistral" && type != "phi3");
  const bool o_bias = attention_bias && type != "qwen2" && type != "mistral" && type != "phi3";
  const bool mlp_bias = type == "llama" && c.value("mlp_bias", false);
  // Gemma stores w of (1 + w): around 0, like trained Gemma norms.
  auto norm = [&](const std::string& name, int64_t n) {
    t[name + ".weight"] = gemma_norms ? init.normal({n}, 0.1) : init.norm_weight(n);
  };
  t["model.embed_tokens.weight"] =
      init.normal({V, C}, gemma_norms ? kEmbedStd / std::sqrt(double(C)) : kEmbedStd);
  for (int l = 0; l < c.at("num_hidden_layers").get<int>(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    if (type != "olmo2") norm(p + "input_layernorm", C);
    norm(p + "post_attention_layernorm", C);
    if (gemma) norm(p + "pre_feedforward_layernorm", C);
    if (gemma || type == "olmo2") norm(p + "post_feedforward_layernorm", C);
    if (type == "qwen3" || type == "gemma3_text") {
      norm(p + "self_attn.q_norm", D);
      norm(p + "self_attn.k_norm", D);
    } else if (type == "olmo2") {
      norm(p + "self_attn.q_norm", H * D);
      norm(p + "self_attn.k_norm", Hkv * D);
    }
    if (type == "phi3") {
      add_linear(t, init, p + "self_attn.qkv_proj", C, (H + 2 * Hkv) * D, false, 2.0);
      add_linear(t, init, p + "mlp.gate_up_proj", C, 2 * I, false);
    } else {
      add_linear(t, init, p + "self_attn.q_proj", C, H * D, qkv_bias, 2.0);
      add_linear(t, init, p + "self_attn.k_proj", C, Hkv * D, qkv_bias, 2.0);
      add_linear(t, init, p + "self_attn.v_proj", C, Hkv * D, qkv_bias);
      add_linear(t, init, p + "mlp.gate_proj", C, I, mlp_bias);
      add_linear(t, init, p + "mlp.up_proj", C, I, mlp_bias);
    }
    add_linear(t, init, p + "self_attn.o_proj", H * D, C, o_bias, 0.7);
    add_linear(t, init, p + "mlp.down_proj", I, C, mlp_bias, 0.7);
  }
  norm("model.norm", C);
  if (!c.value("tie_word_embeddings", gemma_norms))
    t["lm_head.weight"] = init.normal({V, C}, kEmbedStd);
  return t;
}

fs::path write_tiny_decoder(const fs::path& dir, const TinyDecoder& s) {
  fs::create_directories(dir);
  write_text(dir / "config.json", s.config.dump(2));
  copy_tokenizer("facts-gpt2", dir);
  return prepare(dir, s, tiny_decoder_tensors(s));
}

fs::path write_tiny_clip(const fs::path& dir) {
  return write_tiny_clip(dir, TinyClip());
}
fs::path write_tiny_gpt2(const fs::path& dir) {
  return write_tiny_gpt2(dir, TinyGpt2());
}
fs::path write_tiny_llama(const fs::path& dir) {
  return write_tiny_llama(dir, TinyLlama());
}

}  // namespace atman::test
