#include "bench_support.h"

#include <ATen/ATen.h>
#include <malloc.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "atman/error.h"
#include "atman/safetensors.h"

namespace atman::cli {
namespace {

int64_t status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return 0;
}

}  // namespace

int64_t current_rss_bytes() { return status_kb("VmRSS") * 1024; }
int64_t peak_rss_bytes() { return status_kb("VmHWM") * 1024; }

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
    config = {{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}, {"vocab_size", V},
              {"n_positions", positions}, {"n_embd", C}, {"n_layer", layers}, {"n_head", heads},
              {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}};
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
    config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", V},
              {"hidden_size", C}, {"intermediate_size", I}, {"num_hidden_layers", layers},
              {"num_attention_heads", heads}, {"num_key_value_heads", kv},
              {"max_position_embeddings", positions}, {"rms_norm_eps", 1e-6},
              {"rope_theta", 10000.0}, {"tie_word_embeddings", true}, {"hidden_act", "silu"}};
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

}  // namespace atman::cli
