#include "core/tiny_llava.h"

#include <ATen/ATen.h>

#include <fstream>

#include "core/test_support.h"
#include "core/tiny_models.h"

namespace atman::test::llava {

using nlohmann::json;
namespace fs = std::filesystem;

int feature_layer_count(const Spec& s) {
  return s.feature_layer.is_array() ? static_cast<int>(s.feature_layer.size()) : 1;
}

namespace {

json text_config(const Spec& s) {
  json t = {{"model_type", s.text_type}, {"vocab_size", kVocab},
            {"hidden_size", kC},         {"intermediate_size", kInter},
            {"num_hidden_layers", 2},    {"num_attention_heads", kHeads},
            {"num_key_value_heads", 2},  {"max_position_embeddings", 1024},
            {"rms_norm_eps", 1e-6},      {"tie_word_embeddings", false}};
  if (s.text_type == "qwen2") {
    t["rope_theta"] = 1000000.0;
    t["use_sliding_window"] = false;
  } else {  // mistral, as llava-v1.6-mistral-7b-hf
    t["rope_theta"] = 1000000.0;
    t["sliding_window"] = nullptr;
  }
  return t;
}

}  // namespace

json config_of(const Spec& s) {
  json vision = {{"hidden_size", kC},
                 {"intermediate_size", kInter},
                 {"num_hidden_layers", kVLayers},
                 {"num_attention_heads", kHeads},
                 {"image_size", s.image_size},
                 {"patch_size", kPatch}};
  if (s.tower == Tower::Siglip) {
    vision["model_type"] = "siglip_vision_model";
    vision["vision_use_head"] = false;
  } else {
    vision["model_type"] = "clip_vision_model";
    vision["hidden_act"] = "quick_gelu";
    vision["projection_dim"] = 16;
  }
  const std::map<std::string, std::string> archs = {
      {"llava", "LlavaForConditionalGeneration"},
      {"llava_next", "LlavaNextForConditionalGeneration"},
      {"llava_onevision", "LlavaOnevisionForConditionalGeneration"}};
  json c = {{"architectures", {archs.at(s.model_type)}},
            {"model_type", s.model_type},
            {"image_token_index", kImageId},
            {"projector_hidden_act", "gelu"},
            {"vision_feature_layer", s.feature_layer},
            {"vision_feature_select_strategy", s.strategy},
            {"tie_word_embeddings", false},
            {"torch_dtype", "float32"},
            {"transformers_version", "4.45.0"},
            {"text_config", text_config(s)},
            {"vision_config", vision}};
  if (s.model_type != "llava") {
    json points = json::array();
    for (auto [h, w] : s.pinpoints) points.push_back({h, w});
    c["image_grid_pinpoints"] = points;
    c["use_image_newline_parameter"] = true;
  }
  if (s.model_type == "llava_onevision")
    c["vision_aspect_ratio"] = "anyres_max_" + std::to_string(s.max_tiles);
  return c;
}

json preprocessor_of(const Spec& s) {
  if (s.model_type == "llava_next")  // LlavaNextImageProcessor, CLIP normalisation
    return {{"image_processor_type", "LlavaNextImageProcessor"},
            {"do_center_crop", true},
            {"do_normalize", true},
            {"do_pad", true},
            {"do_resize", true},
            {"do_rescale", true},
            {"crop_size", {{"height", s.image_size}, {"width", s.image_size}}},
            {"size", {{"shortest_edge", s.image_size}}},
            {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
            {"image_std", {0.26862954, 0.26130258, 0.27577711}},
            {"resample", 3},
            {"rescale_factor", 1.0 / 255}};
  json p = {
      {"image_processor_type",
       s.model_type == "llava_onevision" ? "LlavaOnevisionImageProcessor" : "SiglipImageProcessor"},
      {"do_normalize", true},
      {"do_resize", true},
      {"do_rescale", true},
      {"size", {{"height", s.image_size}, {"width", s.image_size}}},
      {"image_mean", {0.5, 0.5, 0.5}},
      {"image_std", {0.5, 0.5, 0.5}},
      {"resample", 3},
      {"rescale_factor", 1.0 / 255}};
  if (s.model_type == "llava_onevision") p["do_pad"] = true;
  return p;
}

Weights tensors_of(const Spec& s, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  Weights t;
  const bool m = s.modern_keys;
  const std::string v = m ? "model.vision_tower.vision_model." : "vision_tower.vision_model.";
  const int P = kGrid * kGrid;
  if (s.tower == Tower::Siglip) {
    t[v + "embeddings.patch_embedding.weight"] = 0.1 * at::randn({kC, 3, kPatch, kPatch});
    t[v + "embeddings.patch_embedding.bias"] = 0.1 * at::randn({kC});
    t[v + "embeddings.position_embedding.weight"] = 0.5 * at::randn({P, kC});
  } else {
    t[v + "embeddings.class_embedding"] = 0.5 * at::randn({kC});
    t[v + "embeddings.patch_embedding.weight"] = 0.1 * at::randn({kC, 3, kPatch, kPatch});
    t[v + "embeddings.position_embedding.weight"] = 0.5 * at::randn({P + 1, kC});
    t[v + "pre_layrnorm.weight"] = 1 + 0.1 * at::randn({kC});
    t[v + "pre_layrnorm.bias"] = 0.1 * at::randn({kC});
  }
  for (int l = 0; l < kVLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    for (const char* n : {"layer_norm1", "layer_norm2"}) {
      t[p + n + ".weight"] = 1 + 0.1 * at::randn({kC});
      t[p + n + ".bias"] = 0.1 * at::randn({kC});
    }
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t[p + "self_attn." + n + ".weight"] = 0.2 * at::randn({kC, kC});
      t[p + "self_attn." + n + ".bias"] = 0.1 * at::randn({kC});
    }
    t[p + "mlp.fc1.weight"] = 0.2 * at::randn({kInter, kC});
    t[p + "mlp.fc1.bias"] = 0.1 * at::randn({kInter});
    t[p + "mlp.fc2.weight"] = 0.2 * at::randn({kC, kInter});
    t[p + "mlp.fc2.bias"] = 0.1 * at::randn({kC});
  }
  // In the checkpoints though LLaVA never reads it.
  t[v + "post_layernorm.weight"] = at::ones({kC});
  t[v + "post_layernorm.bias"] = at::zeros({kC});
  const std::string mp = m ? "model.multi_modal_projector." : "multi_modal_projector.";
  const int Cin = kC * feature_layer_count(s);
  t[mp + "linear_1.weight"] = 0.3 * at::randn({kC, Cin});
  t[mp + "linear_1.bias"] = 0.1 * at::randn({kC});
  t[mp + "linear_2.weight"] = 0.3 * at::randn({kC, kC});
  t[mp + "linear_2.bias"] = 0.1 * at::randn({kC});
  if (s.model_type != "llava") t[m ? "model.image_newline" : "image_newline"] = at::randn({kC});
  // The language model, renamed into LLaVA's layout.
  test::TinyDecoder lm;
  lm.config = text_config(s);
  lm.seed = seed + 1;
  for (auto& [name, tensor] : test::tiny_decoder_tensors(lm)) {
    std::string key = name;
    if (key == "lm_head.weight")
      key = m ? "lm_head.weight" : "language_model.lm_head.weight";
    else
      key = (m ? "model.language_model." : "language_model.model.") + key.substr(6);  // "model."
    t[key] = tensor;
  }
  return t;
}

namespace {

void write_json(const fs::path& path, const json& value) {
  std::ofstream(path) << value.dump(2);
}

}  // namespace

fs::path write_model(const fs::path& dir, const Spec& s, const Weights& w) {
  fs::create_directories(dir);
  write_json(dir / "config.json", config_of(s));
  write_json(dir / "preprocessor_config.json", preprocessor_of(s));
  const fs::path source = test::models_dir() / "shapes-llava";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "added_tokens.json", "vocab.json", "merges.txt", "prompt_format.json"})
    if (fs::exists(source / f)) fs::copy_file(source / f, dir / f);
  test::write_weights(dir, w, test::TinyDType::F32, false);
  return dir;
}

std::vector<std::pair<int, int>> scaled_points(const std::vector<std::pair<int, int>>& real,
                                               int real_tile) {
  std::vector<std::pair<int, int>> out;
  for (auto [h, w] : real) out.emplace_back(h / real_tile * kImage, w / real_tile * kImage);
  return out;
}

Spec next_spec(bool modern) {
  Spec s;
  s.model_type = "llava_next";
  s.tower = Tower::Clip;
  s.text_type = "mistral";
  s.feature_layer = -2;
  s.strategy = "default";
  s.modern_keys = modern;
  s.pinpoints = scaled_points({{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}}, 336);
  return s;
}

Spec onevision_spec() {
  Spec s;
  s.model_type = "llava_onevision";
  s.tower = Tower::Siglip;
  s.text_type = "qwen2";
  s.feature_layer = -1;
  s.strategy = "full";
  s.modern_keys = true;
  for (int h = 1; h <= 6; ++h)
    for (int w = 1; w <= 6; ++w) s.pinpoints.emplace_back(h * s.image_size, w * s.image_size);
  s.max_tiles = 9;
  return s;
}

Spec interleave_spec(json layers) {
  Spec s;
  s.model_type = "llava";
  s.tower = Tower::Siglip;
  s.text_type = "qwen2";
  s.feature_layer = std::move(layers);
  s.strategy = "full";
  return s;
}

}  // namespace atman::test::llava
