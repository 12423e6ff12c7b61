#include "bench_support.h"

#include <ATen/ATen.h>
#include <malloc.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>

#include "atman/error.h"
#include "io/safetensors.h"

namespace atman::cli {
namespace {

int64_t status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return 0;
}

void copy_tokenizer_files(const std::filesystem::path& from, const std::filesystem::path& to) {
  for (auto file : {"vocab.json", "merges.txt"}) {
    std::error_code ec;
    std::filesystem::copy_file(from / file, to / file,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
      throw InputError("the random benchmark model needs tokenizer files: cannot copy " +
                       (from / file).string() + ": " + ec.message());
  }
}

// Seeded random weights: layers scaled by 1/sqrt(fan_in) so activations stay O(1) through the
// depth (attention neither uniform nor one-hot), norms at identity, small embeddings.
class RandomWeights {
 public:
  explicit RandomWeights(uint64_t seed, at::ScalarType stored) : stored_(stored) {
    at::manual_seed(seed);
  }
  void normal(const std::string& name, std::vector<int64_t> shape, double std) {
    tensors[name] = (at::randn(shape) * std).to(stored_);
  }
  void linear(const std::string& name, int64_t in, int64_t out, bool bias) {
    normal(name + ".weight", {out, in}, 1.0 / std::sqrt(double(in)));
    if (bias) tensors[name + ".bias"] = at::zeros({out}).to(stored_);
  }
  void layer_norm(const std::string& name, int64_t n, bool bias = true) {
    tensors[name + ".weight"] = at::ones({n}).to(stored_);
    if (bias) tensors[name + ".bias"] = at::zeros({n}).to(stored_);
  }
  std::map<std::string, at::Tensor> tensors;

 private:
  at::ScalarType stored_;
};

struct ClipTowerShape {
  int64_t hidden, intermediate, layers, heads;
};

}  // namespace

int64_t current_rss_bytes() {
  return status_kb("VmRSS") * 1024;
}
int64_t peak_rss_bytes() {
  return status_kb("VmHWM") * 1024;
}

void reset_peak_rss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

std::filesystem::path write_random_lm(const std::filesystem::path& dir, const std::string& arch,
                                      int positions, int width, int layers,
                                      const std::filesystem::path& tokenizer_dir) {
  std::filesystem::create_directories(dir);
  const int64_t V = 50257, C = width, I = 4 * width, heads = std::max(1, width / 64);
  std::map<std::string, at::Tensor> w;
  auto randn = [](std::vector<int64_t> shape) { return at::randn(shape) * 0.02; };
  nlohmann::json config;
  if (arch == "gpt2") {
    config = {{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", "gpt2"},
              {"vocab_size", V},
              {"n_positions", positions},
              {"n_embd", C},
              {"n_layer", layers},
              {"n_head", heads},
              {"activation_function", "gelu_new"},
              {"layer_norm_epsilon", 1e-5}};
    w["wte.weight"] = randn({V, C});
    w["wpe.weight"] = randn({positions, C});
    for (int l = 0; l < layers; ++l) {
      std::string p = "h." + std::to_string(l) + ".";
      for (auto ln : {"ln_1", "ln_2"}) {
        w[p + ln + ".weight"] = at::ones({C});
        w[p + ln + ".bias"] = at::zeros({C});
      }
      w[p + "attn.c_attn.weight"] = randn({C, 3 * C});
      w[p + "attn.c_attn.bias"] = at::zeros({3 * C});
      w[p + "attn.c_proj.weight"] = randn({C, C});
      w[p + "attn.c_proj.bias"] = at::zeros({C});
      w[p + "mlp.c_fc.weight"] = randn({C, I});
      w[p + "mlp.c_fc.bias"] = at::zeros({I});
      w[p + "mlp.c_proj.weight"] = randn({I, C});
      w[p + "mlp.c_proj.bias"] = at::zeros({C});
    }
    w["ln_f.weight"] = at::ones({C});
    w["ln_f.bias"] = at::zeros({C});
  } else if (arch == "llama") {
    const int64_t kv = std::max<int64_t>(1, heads / 2), D = C / heads;
    config = {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"vocab_size", V},
              {"hidden_size", C},
              {"intermediate_size", I},
              {"num_hidden_layers", layers},
              {"num_attention_heads", heads},
              {"num_key_value_heads", kv},
              {"max_position_embeddings", positions},
              {"rms_norm_eps", 1e-6},
              {"rope_theta", 10000.0},
              {"tie_word_embeddings", true},
              {"hidden_act", "silu"}};
    w["model.embed_tokens.weight"] = randn({V, C});
    for (int l = 0; l < layers; ++l) {
      std::string p = "model.layers." + std::to_string(l) + ".";
      w[p + "input_layernorm.weight"] = at::ones({C});
      w[p + "post_attention_layernorm.weight"] = at::ones({C});
      w[p + "self_attn.q_proj.weight"] = randn({heads * D, C});
      w[p + "self_attn.k_proj.weight"] = randn({kv * D, C});
      w[p + "self_attn.v_proj.weight"] = randn({kv * D, C});
      w[p + "self_attn.o_proj.weight"] = randn({C, heads * D});
      w[p + "mlp.gate_proj.weight"] = randn({I, C});
      w[p + "mlp.up_proj.weight"] = randn({I, C});
      w[p + "mlp.down_proj.weight"] = randn({C, I});
    }
    w["model.norm.weight"] = at::ones({C});
  } else {
    throw InputError("--random-lm must be gpt2 or llama");
  }
  std::ofstream(dir / "config.json") << config.dump(2);
  write_safetensors(dir / "model.safetensors", w);
  for (auto file : {"vocab.json", "merges.txt"}) {
    std::error_code ec;
    std::filesystem::copy_file(tokenizer_dir / file, dir / file,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
      throw InputError("the random benchmark model needs GPT-2 tokenizer files: cannot copy " +
                       (tokenizer_dir / file).string() + ": " + ec.message());
  }
  return dir;
}

std::filesystem::path write_random_clip(const std::filesystem::path& dir, const std::string& name,
                                        const std::filesystem::path& tokenizer_dir) {
  // openai/clip-vit-{base-patch32, base-patch16, large-patch14} config.json values.
  int64_t patch = 0, projection = 512;
  ClipTowerShape vision{768, 3072, 12, 12}, text{512, 2048, 12, 8};
  if (name == "b32") {
    patch = 32;
  } else if (name == "b16") {
    patch = 16;
  } else if (name == "l14") {
    patch = 14;
    projection = 768;
    vision = {1024, 4096, 24, 16};
    text = {768, 3072, 12, 12};
  } else {
    throw InputError("--random-clip must be b32, b16 or l14, got '" + name + "'");
  }
  const int64_t image = 224, grid = image / patch, vocab = 49408, text_positions = 77;
  std::filesystem::create_directories(dir);
  RandomWeights w(20231, at::kFloat);
  auto encoder = [&](const std::string& prefix, const ClipTowerShape& s) {
    for (int64_t l = 0; l < s.layers; ++l) {
      const std::string p = prefix + "encoder.layers." + std::to_string(l) + ".";
      w.layer_norm(p + "layer_norm1", s.hidden);
      w.layer_norm(p + "layer_norm2", s.hidden);
      for (auto proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
        w.linear(p + "self_attn." + proj, s.hidden, s.hidden, true);
      w.linear(p + "mlp.fc1", s.hidden, s.intermediate, true);
      w.linear(p + "mlp.fc2", s.intermediate, s.hidden, true);
    }
  };
  const int64_t C = vision.hidden;
  w.normal("vision_model.embeddings.class_embedding", {C}, 0.02);
  w.normal("vision_model.embeddings.patch_embedding.weight", {C, 3, patch, patch},
           1.0 / std::sqrt(3.0 * patch * patch));
  w.normal("vision_model.embeddings.position_embedding.weight", {grid * grid + 1, C}, 0.02);
  w.layer_norm("vision_model.pre_layrnorm", C);
  encoder("vision_model.", vision);
  w.layer_norm("vision_model.post_layernorm", C);
  w.linear("visual_projection", C, projection, false);
  w.normal("text_model.embeddings.token_embedding.weight", {vocab, text.hidden}, 0.02);
  w.normal("text_model.embeddings.position_embedding.weight", {text_positions, text.hidden}, 0.01);
  encoder("text_model.", text);
  w.layer_norm("text_model.final_layer_norm", text.hidden);
  w.linear("text_projection", text.hidden, projection, false);
  w.tensors["logit_scale"] = at::full({}, std::log(100.0), at::kFloat);

  auto tower = [](const ClipTowerShape& s) {
    return nlohmann::json{{"hidden_size", s.hidden},       {"intermediate_size", s.intermediate},
                          {"num_hidden_layers", s.layers}, {"num_attention_heads", s.heads},
                          {"hidden_act", "quick_gelu"},    {"layer_norm_eps", 1e-5}};
  };
  nlohmann::json t = tower(text), v = tower(vision);
  t.update({{"model_type", "clip_text_model"},
            {"vocab_size", vocab},
            {"max_position_embeddings", text_positions},
            {"bos_token_id", 49406},
            {"eos_token_id", 49407},
            {"pad_token_id", 1},
            {"projection_dim", projection}});
  v.update({{"model_type", "clip_vision_model"},
            {"image_size", image},
            {"patch_size", patch},
            {"num_channels", 3},
            {"projection_dim", projection}});
  nlohmann::json config = {{"architectures", {"CLIPModel"}},
                           {"model_type", "clip"},
                           {"projection_dim", projection},
                           {"logit_scale_init_value", 2.6592},
                           {"torch_dtype", "float32"},
                           {"text_config", t},
                           {"vision_config", v}};
  std::ofstream(dir / "config.json") << config.dump(2);
  nlohmann::json pre = {{"crop_size", {{"height", image}, {"width", image}}},
                        {"do_center_crop", true},
                        {"do_normalize", true},
                        {"do_rescale", true},
                        {"do_resize", true},
                        {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
                        {"image_std", {0.26862954, 0.26130258, 0.27577711}},
                        {"resample", 3},
                        {"rescale_factor", 1.0 / 255.0},
                        {"size", {{"shortest_edge", image}}},
                        {"image_processor_type", "CLIPImageProcessor"}};
  std::ofstream(dir / "preprocessor_config.json") << pre.dump(2);
  write_safetensors(dir / "model.safetensors", w.tensors, {{"format", "pt"}});
  copy_tokenizer_files(tokenizer_dir, dir);
  return dir;
}

std::filesystem::path write_real_size_lm(const std::filesystem::path& dir, const std::string& name,
                                         const std::filesystem::path& tokenizer_dir) {
  std::filesystem::create_directories(dir);
  nlohmann::json config;
  std::map<std::string, at::Tensor> tensors;
  if (name == "gpt2") {
    // HF gpt2: GPT2LMHeadModel stored without the "transformer." prefix, Conv1D (in, out) weights.
    const int64_t V = 50257, C = 768, L = 12, P = 1024;
    RandomWeights w(124, at::kFloat);
    w.normal("wte.weight", {V, C}, 0.02);
    w.normal("wpe.weight", {P, C}, 0.01);
    for (int64_t l = 0; l < L; ++l) {
      const std::string p = "h." + std::to_string(l) + ".";
      w.layer_norm(p + "ln_1", C);
      w.layer_norm(p + "ln_2", C);
      auto conv1d = [&](const std::string& n, int64_t in, int64_t out) {
        w.normal(n + ".weight", {in, out}, 1.0 / std::sqrt(double(in)));
        w.tensors[n + ".bias"] = at::zeros({out});
      };
      conv1d(p + "attn.c_attn", C, 3 * C);
      conv1d(p + "attn.c_proj", C, C);
      conv1d(p + "mlp.c_fc", C, 4 * C);
      conv1d(p + "mlp.c_proj", 4 * C, C);
    }
    w.layer_norm("ln_f", C);
    config = {{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", "gpt2"},
              {"vocab_size", V},
              {"n_positions", P},
              {"n_ctx", P},
              {"n_embd", C},
              {"n_layer", L},
              {"n_head", 12},
              {"activation_function", "gelu_new"},
              {"layer_norm_epsilon", 1e-5},
              {"bos_token_id", 50256},
              {"eos_token_id", 50256}};
    tensors = std::move(w.tensors);
  } else if (name == "llama-1b") {
    // meta-llama/Llama-3.2-1B's shape (bf16, tied head, GQA 32/8); plain RoPE (no llama3
    // rope_scaling: the bench's prompts are far below its 8k original context).
    const int64_t V = 128256, C = 2048, I = 8192, L = 16, H = 32, Hkv = 8, D = 64;
    RandomWeights w(1, at::kBFloat16);
    w.normal("model.embed_tokens.weight", {V, C}, 0.02);
    for (int64_t l = 0; l < L; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      w.layer_norm(p + "input_layernorm", C, false);
      w.layer_norm(p + "post_attention_layernorm", C, false);
      w.linear(p + "self_attn.q_proj", C, H * D, false);
      w.linear(p + "self_attn.k_proj", C, Hkv * D, false);
      w.linear(p + "self_attn.v_proj", C, Hkv * D, false);
      w.linear(p + "self_attn.o_proj", H * D, C, false);
      w.linear(p + "mlp.gate_proj", C, I, false);
      w.linear(p + "mlp.up_proj", C, I, false);
      w.linear(p + "mlp.down_proj", I, C, false);
    }
    w.layer_norm("model.norm", C, false);
    config = {{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"vocab_size", V},
              {"hidden_size", C},
              {"intermediate_size", I},
              {"num_hidden_layers", L},
              {"num_attention_heads", H},
              {"num_key_value_heads", Hkv},
              {"head_dim", D},
              {"max_position_embeddings", 131072},
              {"rms_norm_eps", 1e-5},
              {"rope_theta", 500000.0},
              {"tie_word_embeddings", true},
              {"hidden_act", "silu"},
              {"attention_bias", false},
              {"torch_dtype", "bfloat16"},
              {"bos_token_id", 50256},
              {"eos_token_id", 50256}};
    tensors = std::move(w.tensors);
  } else {
    throw InputError(
        "--random-lm must be gpt2 or llama-1b (or llama for the small scaling model), got '" +
        name + "'");
  }
  std::ofstream(dir / "config.json") << config.dump(2);
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  copy_tokenizer_files(tokenizer_dir, dir);
  return dir;
}

double measure_sgemm_gflops() {
  const int64_t n = 1024;
  at::Tensor a = at::randn({n, n}), b = at::randn({n, n}), c = at::empty({n, n});
  at::mm_out(c, a, b);  // warm: thread pool, BLAS buffers
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    auto start = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

}  // namespace atman::cli
