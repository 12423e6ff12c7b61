// Test support: the config.json of named public RoPE decoder checkpoints (Llama 3, Qwen2.5, Qwen3,
// Mistral, Gemma 2/3, Phi-3/4, SmolLM2, OLMo 2 and variants), shrunk in size (hidden, heads,
// layers, vocab, windows, lengths) for write_tiny_decoder; field names and every other value are
// the originals. Shared by test_families (parity against the transformers sources) and the GUI
// tests.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace atman::test {

nlohmann::json llama32();        // meta-llama/Llama-3.2-1B
nlohmann::json qwen25();         // Qwen/Qwen2.5-0.5B
nlohmann::json qwen3();          // Qwen/Qwen3-0.6B
nlohmann::json mistral_nemo();   // mistralai/Mistral-Nemo-Base-2407
nlohmann::json mistral7b();      // mistralai/Mistral-7B-v0.1 (sliding window 8)
nlohmann::json gemma1();         // google/gemma-2b (Gemma 1)
nlohmann::json gemma2();         // google/gemma-2-2b
nlohmann::json gemma3();         // google/gemma-3-1b-pt
nlohmann::json phi3();           // microsoft/Phi-3-mini-4k-instruct
nlohmann::json phi3_128k();      // microsoft/Phi-3-mini-128k-instruct (longrope)
nlohmann::json phi4_mini();      // microsoft/Phi-4-mini-instruct (partial rotary 0.75)
nlohmann::json gemma3_linear();  // gemma-3-4b-pt text_config RoPE (linear 8, global layers)
nlohmann::json smollm2();        // HuggingFaceTB/SmolLM2-135M
nlohmann::json olmo2();          // allenai/OLMo-2-0425-1B
nlohmann::json qwen3_yarn();     // Qwen3 + yarn
nlohmann::json llama_scaled(const std::string& type, int max_positions);  // old {"type": ...}
nlohmann::json llama_biases();       // SmolLM2 + attention_bias, mlp_bias
nlohmann::json gemma2_tight_caps();  // Gemma 2 with caps that bite on random weights
nlohmann::json qwen25_sliding();     // Qwen2.5 with use_sliding_window
// The same config in the transformers v5 layout (RoPE in rope_parameters).
nlohmann::json to_v5(nlohmann::json c);

struct Family {
  std::string name, repo, architecture;  // architecture: what Model::architecture() reports
  nlohmann::json config;
};

// Every family and variant above, by name.
const std::vector<Family>& families();

}  // namespace atman::test
