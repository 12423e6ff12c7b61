// Test support: tiny random LLaVA checkpoints with the real config fields and key layouts of
// llava-hf/llava-interleave-qwen-0.5b-hf (LLaVA, SigLIP tower, Qwen2),
// llava-hf/llava-v1.6-mistral-7b-hf (LLaVA-NeXT, CLIP tower, Mistral) and
// llava-hf/llava-onevision-qwen2-0.5b-ov-hf (LLaVA-OneVision, SigLIP tower, Qwen2), shrunk: towers
// of 32 px with 8 px patches (a 4 x 4 grid), width 32, pinpoints scaled to the 32 px tile, and the
// ids of shapes-llava's tokenizer (<image> = 50257), which is copied in. What they are based on (no
// Hub access): the transformers configuration classes' defaults and the checkpoints' published
// config.json (interleave: siglip_vision_model tower, strategy "full", layer -1; NeXT-Mistral:
// CLIP-L/14-336, layer -2, "default", pinpoints
// [[336,672],[672,336],[672,672],[1008,336],[336,1008]]; OneVision: SigLIP, layer -1, "full",
// anyres_max_9, pinpoints 384..2304 in steps of 384).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace atman::test::llava {

constexpr int kC = 32, kHeads = 4, kInter = 64, kVLayers = 3;
constexpr int kImage = 32, kPatch = 8, kGrid = kImage / kPatch;
constexpr int kVocab = 50258, kImageId = 50257;

using Weights = std::map<std::string, at::Tensor>;

enum class Tower { Clip, Siglip };

// What one tiny checkpoint is.
struct Spec {
  std::string model_type;  // llava, llava_next, llava_onevision
  Tower tower = Tower::Clip;
  std::string text_type = "qwen2";
  nlohmann::json feature_layer = -2;
  std::string strategy = "default";
  bool modern_keys = false;  // model.language_model.* / model.vision_tower.* / lm_head.weight
  std::vector<std::pair<int, int>> pinpoints;
  int max_tiles = 0;  // OneVision: anyres_max_N
  // The tower's image_size; 36 with patch 8 leaves 4 pixels no patch reads, as 384 / 14 does.
  int image_size = kImage;
};

int feature_layer_count(const Spec& s);
nlohmann::json config_of(const Spec& s);
nlohmann::json preprocessor_of(const Spec& s);
// The fp32 tensors of a spec, by checkpoint name; the same seed gives the same values whatever
// the key layout.
Weights tensors_of(const Spec& s, uint64_t seed);
// Writes config.json, preprocessor_config.json, the tokenizer files and the weights; returns dir.
std::filesystem::path write_model(const std::filesystem::path& dir, const Spec& s,
                                  const Weights& w);

std::vector<std::pair<int, int>> scaled_points(const std::vector<std::pair<int, int>>& real,
                                               int real_tile);
Spec next_spec(bool modern);                  // LLaVA-NeXT (Mistral text, CLIP tower)
Spec onevision_spec();                        // LLaVA-OneVision (anyres_max_9)
Spec interleave_spec(nlohmann::json layers);  // LLaVA with a SigLIP tower

}  // namespace atman::test::llava
