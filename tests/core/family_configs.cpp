// The shrunk public configs of family_configs.h.
#include "core/family_configs.h"

#include "core/tiny_models.h"

namespace atman::test {

using nlohmann::json;

// Configs: the public checkpoints' config.json, shrunk in size (hidden, heads, layers, vocab,
// windows, lengths). Field names and every other value are the originals.

namespace {

json common_tiny(json c, int hidden, int heads, int kv_heads, int layers, int intermediate) {
  c["hidden_size"] = hidden;
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = kv_heads;
  c["num_hidden_layers"] = layers;
  c["intermediate_size"] = intermediate;
  c["vocab_size"] = kGpt2Vocab;
  c["torch_dtype"] = "float32";
  return c;
}

}  // namespace

// meta-llama/Llama-3.2-1B
json llama32() {
  json c = {{"architectures", {"LlamaForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"head_dim", 16},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 131072},
            {"mlp_bias", false},
            {"model_type", "llama"},
            {"pretraining_tp", 1},
            {"rms_norm_eps", 1e-05},
            {"rope_scaling",
             {{"factor", 32.0},
              {"high_freq_factor", 4.0},
              {"low_freq_factor", 1.0},
              {"original_max_position_embeddings", 8192},
              {"rope_type", "llama3"}}},
            {"rope_theta", 500000.0},
            {"tie_word_embeddings", true},
            {"use_cache", true}};
  return common_tiny(c, 64, 4, 2, 2, 128);
}

// Qwen/Qwen2.5-0.5B
json qwen25() {
  json c = {{"architectures", {"Qwen2ForCausalLM"}},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 32768},
            {"max_window_layers", 2},
            {"model_type", "qwen2"},
            {"rms_norm_eps", 1e-06},
            {"rope_theta", 1000000.0},
            {"sliding_window", 32768},
            {"tie_word_embeddings", true},
            {"use_cache", true},
            {"use_mrope", false},
            {"use_sliding_window", false}};
  return common_tiny(c, 112, 14, 2, 2, 96);
}

// Qwen/Qwen3-0.6B (head_dim * heads != hidden, as there)
json qwen3() {
  json c = {{"architectures", {"Qwen3ForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"head_dim", 16},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 40960},
            {"max_window_layers", 2},
            {"model_type", "qwen3"},
            {"rms_norm_eps", 1e-06},
            {"rope_scaling", nullptr},
            {"rope_theta", 1000000},
            {"sliding_window", nullptr},
            {"tie_word_embeddings", true},
            {"use_cache", true},
            {"use_sliding_window", false}};
  return common_tiny(c, 32, 4, 2, 2, 64);
}

// mistralai/Mistral-Nemo-Base-2407 (head_dim 16 != hidden / heads = 10)
json mistral_nemo() {
  json c = {{"architectures", {"MistralForCausalLM"}},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"head_dim", 16},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 1024000},
            {"model_type", "mistral"},
            {"rms_norm_eps", 1e-05},
            {"rope_theta", 1000000.0},
            {"sliding_window", nullptr},
            {"tie_word_embeddings", false},
            {"use_cache", true}};
  return common_tiny(c, 40, 4, 2, 2, 64);
}

// mistralai/Mistral-7B-v0.1: sliding_window 4096 on every layer, shrunk to 8.
json mistral7b() {
  json c = {{"architectures", {"MistralForCausalLM"}},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 32768},
            {"model_type", "mistral"},
            {"rms_norm_eps", 1e-05},
            {"rope_theta", 10000.0},
            {"sliding_window", 8},
            {"tie_word_embeddings", false},
            {"use_cache", true}};
  return common_tiny(c, 32, 4, 2, 2, 64);
}

// google/gemma-2b (Gemma 1). Its "hidden_act": "gelu" is ignored by GemmaMLP, which reads
// hidden_activation (absent: gelu_pytorch_tanh).
json gemma1() {
  json c = {{"architectures", {"GemmaForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"head_dim", 16},
            {"hidden_act", "gelu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 8192},
            {"model_type", "gemma"},
            {"pad_token_id", 0},
            {"rms_norm_eps", 1e-06},
            {"rope_scaling", nullptr},
            {"rope_theta", 10000.0},
            {"use_cache", true}};
  return common_tiny(c, 48, 4, 1, 2, 64);
}

// google/gemma-2-2b (window 4096 -> 8; query_pre_attn_scalar = hidden / heads as in gemma-2-27b,
// so that it differs from head_dim)
json gemma2() {
  json c = {{"architectures", {"Gemma2ForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"attn_logit_softcapping", 50.0},
            {"bos_token_id", 50256},
            {"cache_implementation", "hybrid"},
            {"eos_token_id", 50256},
            {"final_logit_softcapping", 30.0},
            {"head_dim", 16},
            {"hidden_act", "gelu_pytorch_tanh"},
            {"hidden_activation", "gelu_pytorch_tanh"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 8192},
            {"model_type", "gemma2"},
            {"pad_token_id", 0},
            {"query_pre_attn_scalar", 12},
            {"rms_norm_eps", 1e-06},
            {"rope_theta", 10000.0},
            {"sliding_window", 8}};
  return common_tiny(c, 48, 4, 2, 4, 64);
}

// google/gemma-3-1b-pt (window 512 -> 8; 6 layers: 5 local, 1 global)
json gemma3() {
  json c = {{"architectures", {"Gemma3ForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"attn_logit_softcapping", nullptr},
            {"bos_token_id", 50256},
            {"cache_implementation", "hybrid"},
            {"eos_token_id", 50256},
            {"final_logit_softcapping", nullptr},
            {"head_dim", 16},
            {"hidden_activation", "gelu_pytorch_tanh"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 32768},
            {"model_type", "gemma3_text"},
            {"pad_token_id", 0},
            {"query_pre_attn_scalar", 16},
            {"rms_norm_eps", 1e-06},
            {"rope_local_base_freq", 10000},
            {"rope_scaling", nullptr},
            {"rope_theta", 1000000},
            {"sliding_window", 8},
            {"sliding_window_pattern", 6},
            {"use_cache", true}};
  return common_tiny(c, 36, 4, 1, 6, 64);
}

// microsoft/Phi-3-mini-4k-instruct (window 2047 -> 7)
json phi3() {
  json c = {{"architectures", {"Phi3ForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"embd_pdrop", 0.0},
            {"eos_token_id", 50256},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 4096},
            {"model_type", "phi3"},
            {"original_max_position_embeddings", 4096},
            {"pad_token_id", 50256},
            {"resid_pdrop", 0.0},
            {"rms_norm_eps", 1e-05},
            {"rope_scaling", nullptr},
            {"rope_theta", 10000.0},
            {"sliding_window", 7},
            {"tie_word_embeddings", false},
            {"use_cache", true}};
  return common_tiny(c, 48, 4, 4, 2, 64);
}

// microsoft/Phi-3-mini-128k-instruct: longrope ("su" in its first configs), pretraining length
// 4096 -> 16 and 131072 -> 512, so that the 20-token prompt takes the long factors.
json phi3_128k() {
  json c = phi3();
  c["max_position_embeddings"] = 512;
  c["original_max_position_embeddings"] = 16;
  c["sliding_window"] = 262144;
  c["rope_scaling"] = {{"long_factor", {1.08, 1.11, 1.42, 2.5, 5.7, 9.8}},
                       {"short_factor", {1.05, 1.05, 1.09, 1.2, 1.4, 1.8}},
                       {"type", "su"}};
  return c;
}

// microsoft/Phi-4-mini-instruct (model_type phi3): partial_rotary_factor 0.75 with longrope, tied
// head; 4096 -> 16 and 131072 -> 512 as for Phi-3 128k.
json phi4_mini() {
  json c = phi3_128k();
  c["hidden_size"] = 64;
  c["num_attention_heads"] = 4;
  c["num_key_value_heads"] = 2;
  c["partial_rotary_factor"] = 0.75;
  c["tie_word_embeddings"] = true;
  c["rope_scaling"] = {{"long_factor", {1.0, 1.12, 1.5, 2.8, 6.1, 11.0}},
                       {"short_factor", {1.0, 1.0, 1.04, 1.1, 1.3, 1.6}},
                       {"type", "longrope"}};
  return c;
}

// The text_config RoPE of google/gemma-3-4b-pt: linear factor 8 on global layers only.
json gemma3_linear() {
  json c = gemma3();
  c["rope_scaling"] = {{"factor", 8.0}, {"rope_type", "linear"}};
  return c;
}

// HuggingFaceTB/SmolLM2-135M
json smollm2() {
  json c = {{"architectures", {"LlamaForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"bos_token_id", 50256},
            {"eos_token_id", 50256},
            {"head_dim", 8},
            {"hidden_act", "silu"},
            {"initializer_range", 0.041666666666666664},
            {"is_llama_config", true},
            {"max_position_embeddings", 8192},
            {"mlp_bias", false},
            {"model_type", "llama"},
            {"pretraining_tp", 1},
            {"rms_norm_eps", 1e-05},
            {"rope_interleaved", false},
            {"rope_scaling", nullptr},
            {"rope_theta", 100000},
            {"tie_word_embeddings", true},
            {"use_cache", true}};
  return common_tiny(c, 72, 9, 3, 2, 96);
}

// allenai/OLMo-2-0425-1B
json olmo2() {
  json c = {{"architectures", {"Olmo2ForCausalLM"}},
            {"attention_bias", false},
            {"attention_dropout", 0.0},
            {"eos_token_id", 50256},
            {"hidden_act", "silu"},
            {"initializer_range", 0.02},
            {"max_position_embeddings", 4096},
            {"model_type", "olmo2"},
            {"pad_token_id", 50256},
            {"rms_norm_eps", 1e-06},
            {"rope_scaling", nullptr},
            {"rope_theta", 500000},
            {"tie_word_embeddings", false},
            {"use_cache", true}};
  return common_tiny(c, 32, 4, 4, 2, 64);
}

// Qwen3 with the YaRN setting its model card gives ({"rope_type": "yarn", "factor": 4.0,
// "original_max_position_embeddings": 32768}), 32768 -> 16.
json qwen3_yarn() {
  json c = qwen3();
  c["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 16}};
  return c;
}

// Llama with an old-style {"type": "linear"} / {"type": "dynamic"}.
json llama_scaled(const std::string& type, int max_positions) {
  json c = smollm2();
  c["rope_scaling"] = {{"type", type}, {"factor", 2.0}};
  c["max_position_embeddings"] = max_positions;
  return c;
}

// Llama with attention_bias and mlp_bias (o_proj gets the attention bias too).
json llama_biases() {
  json c = smollm2();
  c["attention_bias"] = true;
  c["mlp_bias"] = true;
  return c;
}

// Gemma 2 whose caps bite on tiny random weights.
json gemma2_tight_caps() {
  json c = gemma2();
  c["attn_logit_softcapping"] = 1.0;
  c["final_logit_softcapping"] = 0.5;
  return c;
}

// Qwen2 with its sliding window switched on: layers >= max_window_layers slide.
json qwen25_sliding() {
  json c = qwen25();
  c["num_hidden_layers"] = 3;
  c["use_sliding_window"] = true;
  c["sliding_window"] = 8;
  c["max_window_layers"] = 1;
  return c;
}

// v5 configs keep RoPE in rope_parameters.
json to_v5(json c) {
  json params = c.contains("rope_scaling") && c["rope_scaling"].is_object() ? c["rope_scaling"]
                                                                            : json::object();
  if (params.contains("type")) {
    params["rope_type"] = params["type"];
    params.erase("type");
  }
  if (!params.contains("rope_type")) params["rope_type"] = "default";
  params["rope_theta"] = c["rope_theta"];
  if (c.contains("partial_rotary_factor")) {  // v5 keeps it with the other RoPE parameters
    params["partial_rotary_factor"] = c["partial_rotary_factor"];
    c.erase("partial_rotary_factor");
  }
  c.erase("rope_scaling");
  c.erase("rope_theta");
  if (c["model_type"] == "gemma3_text") {
    json local = {{"rope_type", "default"}, {"rope_theta", c["rope_local_base_freq"]}};
    c.erase("rope_local_base_freq");
    params = {{"full_attention", params}, {"sliding_attention", local}};
  }
  c["rope_parameters"] = params;
  return c;
}

const std::vector<Family>& families() {
  static const std::vector<Family> all = {
      {"llama3.2", "meta-llama/Llama-3.2-1B", "Llama", llama32()},
      {"qwen2.5", "Qwen/Qwen2.5-0.5B", "Qwen2", qwen25()},
      {"qwen3", "Qwen/Qwen3-0.6B", "Qwen3", qwen3()},
      {"mistral-nemo", "mistralai/Mistral-Nemo-Base-2407", "Mistral", mistral_nemo()},
      {"mistral-7b", "mistralai/Mistral-7B-v0.1", "Mistral", mistral7b()},
      {"gemma", "google/gemma-2b", "Gemma", gemma1()},
      {"gemma2", "google/gemma-2-2b", "Gemma 2", gemma2()},
      {"gemma3", "google/gemma-3-1b-pt", "Gemma 3", gemma3()},
      {"phi3", "microsoft/Phi-3-mini-4k-instruct", "Phi-3", phi3()},
      {"phi3-128k", "microsoft/Phi-3-mini-128k-instruct", "Phi-3", phi3_128k()},
      {"phi4-mini", "microsoft/Phi-4-mini-instruct (partial rotary 0.75)", "Phi-3", phi4_mini()},
      {"smollm2", "HuggingFaceTB/SmolLM2-135M", "Llama", smollm2()},
      {"gemma3-linear", "google/gemma-3-4b-pt text_config (linear 8, global layers)", "Gemma 3",
       gemma3_linear()},
      {"olmo2", "allenai/OLMo-2-0425-1B", "OLMo 2", olmo2()},
      {"qwen3-yarn", "Qwen/Qwen3-0.6B + yarn", "Qwen3", qwen3_yarn()},
      {"llama-linear", "SmolLM2 + linear", "Llama", llama_scaled("linear", 8192)},
      {"llama-dynamic", "SmolLM2 + dynamic, 20 > 16 positions", "Llama",
       llama_scaled("dynamic", 16)},
      {"llama-biases", "SmolLM2 + attention_bias, mlp_bias", "Llama", llama_biases()},
      {"gemma2-caps", "gemma-2-2b, caps 1 / 0.5", "Gemma 2", gemma2_tight_caps()},
      {"qwen2.5-sliding", "Qwen2.5 + use_sliding_window", "Qwen2", qwen25_sliding()},
  };
  return all;
}

}  // namespace atman::test
