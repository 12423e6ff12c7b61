#include "core/tiny_qwen_vl.h"

#include <ATen/ATen.h>

#include <fstream>

#include "core/test_support.h"
#include "core/tiny_models.h"
#include "tokenizers/bpe.h"

namespace atman::test::qwen_vl {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void write_json(const fs::path& path, const json& value) {
  std::ofstream(path) << value.dump(2);
}

}  // namespace

// Qwen/Qwen2.5-VL-3B-Instruct's config.json (as published: text fields at the top level), shrunk.
json tiny_config() {
  return {{"architectures", {"Qwen2_5_VLForConditionalGeneration"}},
          {"attention_dropout", 0.0},
          {"bos_token_id", kEndOfText},
          {"eos_token_id", kImEnd},
          {"vision_start_token_id", kVisionStart},
          {"vision_end_token_id", kVisionEnd},
          {"vision_token_id", kVisionToken},
          {"image_token_id", kImagePad},
          {"video_token_id", kVideoPad},
          {"hidden_act", "silu"},
          {"hidden_size", kHidden},
          {"initializer_range", 0.02},
          {"intermediate_size", kInter},
          {"max_position_embeddings", 128000},
          {"max_window_layers", 70},
          {"model_type", "qwen2_5_vl"},
          {"num_attention_heads", kHeads},
          {"num_hidden_layers", kLayers},
          {"num_key_value_heads", kKvHeads},
          {"rms_norm_eps", 1e-06},
          {"rope_theta", 1000000.0},
          {"sliding_window", 32768},
          {"tie_word_embeddings", true},
          {"torch_dtype", "float32"},
          {"transformers_version", "4.41.2"},
          {"use_cache", true},
          {"use_sliding_window", false},
          {"vision_config",
           {{"depth", kDepth},
            {"hidden_act", "silu"},
            {"hidden_size", kVisionHidden},
            {"intermediate_size", kVisionInter},
            {"num_heads", kVisionHeads},
            {"in_chans", 3},
            {"out_hidden_size", kHidden},
            {"patch_size", kPatch},
            {"spatial_merge_size", kMerge},
            {"spatial_patch_size", kPatch},
            {"window_size", 112},
            {"fullatt_block_indexes", {1, 3}},
            {"tokens_per_second", 2},
            {"temporal_patch_size", kTemporal}}},
          {"rope_scaling", {{"type", "mrope"}, {"mrope_section", {2, 3, 3}}}},
          {"vocab_size", kVocab}};
}

// The same model as transformers >= 4.52 saves it: text fields in text_config, an untied head.
json tiny_config_nested() {
  json top = tiny_config();
  json text = {{"model_type", "qwen2_5_vl_text"}};
  for (const char* key :
       {"hidden_act", "hidden_size", "intermediate_size", "max_position_embeddings",
        "max_window_layers", "num_attention_heads", "num_hidden_layers", "num_key_value_heads",
        "rms_norm_eps", "rope_theta", "sliding_window", "use_sliding_window", "vocab_size",
        "bos_token_id", "eos_token_id"}) {
    text[key] = top[key];
    top.erase(key);
  }
  text["rope_scaling"] = {
      {"mrope_section", {2, 3, 3}}, {"rope_type", "default"}, {"type", "default"}};
  top.erase("rope_scaling");
  top["text_config"] = text;
  top["tie_word_embeddings"] = false;
  return top;
}

json preprocessor_config() {
  return {{"min_pixels", kMinPixels},
          {"max_pixels", kMaxPixels},
          {"patch_size", kPatch},
          {"temporal_patch_size", kTemporal},
          {"merge_size", kMerge},
          {"image_mean", {kMean[0], kMean[1], kMean[2]}},
          {"image_std", {kStd[0], kStd[1], kStd[2]}},
          {"image_processor_type", "Qwen2VLImageProcessor"},
          {"processor_class", "Qwen2_5_VLProcessor"}};
}

// Qwen2's byte-level BPE shape (ByteLevel pre-tokenizer and decoder, ChatML and vision added
// tokens) over the 256 bytes alone.
json tiny_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[tokenizers::alphabet_string(std::string(1, char(b)))] = b;
  return byte_level_bpe_tokenizer(
      vocab,
      json::array(
          {added_token(kImStart, "<|im_start|>"), added_token(kImEnd, "<|im_end|>"),
           added_token(kEndOfText, "<|endoftext|>"), added_token(kVisionStart, "<|vision_start|>"),
           added_token(kVisionEnd, "<|vision_end|>"), added_token(kImagePad, "<|image_pad|>"),
           added_token(kVideoPad, "<|video_pad|>")}),
      json::array());
}

// Published key layout: "visual.*", "model.*"; the head tied to the embeddings.
Tensors tiny_tensors() {
  at::manual_seed(11);
  Tensors t;
  const int Cv = kVisionHidden, C = kHidden;
  t["visual.patch_embed.proj.weight"] = 0.03 * at::randn({Cv, 3, kTemporal, kPatch, kPatch});
  for (int i = 0; i < kDepth; ++i) {
    const std::string b = "visual.blocks." + std::to_string(i) + ".";
    t[b + "norm1.weight"] = 1 + 0.1 * at::randn({Cv});
    t[b + "norm2.weight"] = 1 + 0.1 * at::randn({Cv});
    t[b + "attn.qkv.weight"] = 0.2 * at::randn({3 * Cv, Cv});
    t[b + "attn.qkv.bias"] = 0.1 * at::randn({3 * Cv});
    t[b + "attn.proj.weight"] = 0.2 * at::randn({Cv, Cv});
    t[b + "attn.proj.bias"] = 0.1 * at::randn({Cv});
    t[b + "mlp.gate_proj.weight"] = 0.2 * at::randn({kVisionInter, Cv});
    t[b + "mlp.gate_proj.bias"] = 0.1 * at::randn({kVisionInter});
    t[b + "mlp.up_proj.weight"] = 0.2 * at::randn({kVisionInter, Cv});
    t[b + "mlp.up_proj.bias"] = 0.1 * at::randn({kVisionInter});
    t[b + "mlp.down_proj.weight"] = 0.2 * at::randn({Cv, kVisionInter});
    t[b + "mlp.down_proj.bias"] = 0.1 * at::randn({Cv});
  }
  t["visual.merger.ln_q.weight"] = 1 + 0.1 * at::randn({Cv});
  t["visual.merger.mlp.0.weight"] = 0.1 * at::randn({4 * Cv, 4 * Cv});
  t["visual.merger.mlp.0.bias"] = 0.1 * at::randn({4 * Cv});
  t["visual.merger.mlp.2.weight"] = 0.1 * at::randn({C, 4 * Cv});
  t["visual.merger.mlp.2.bias"] = 0.1 * at::randn({C});
  t["model.embed_tokens.weight"] = at::randn({kVocab, C});
  const int kv = kKvHeads * kHeadDim;
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = 1 + 0.1 * at::randn({C});
    t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * at::randn({C});
    t[p + "self_attn.q_proj.weight"] = 0.15 * at::randn({C, C});
    t[p + "self_attn.q_proj.bias"] = 0.1 * at::randn({C});
    t[p + "self_attn.k_proj.weight"] = 0.15 * at::randn({kv, C});
    t[p + "self_attn.k_proj.bias"] = 0.1 * at::randn({kv});
    t[p + "self_attn.v_proj.weight"] = 0.15 * at::randn({kv, C});
    t[p + "self_attn.v_proj.bias"] = 0.1 * at::randn({kv});
    t[p + "self_attn.o_proj.weight"] = 0.15 * at::randn({C, C});
    t[p + "mlp.gate_proj.weight"] = 0.15 * at::randn({kInter, C});
    t[p + "mlp.up_proj.weight"] = 0.15 * at::randn({kInter, C});
    t[p + "mlp.down_proj.weight"] = 0.15 * at::randn({C, kInter});
  }
  t["model.norm.weight"] = 1 + 0.1 * at::randn({C});
  return t;
}

// The key layout of transformers >= 4.52: "model.visual.*", "model.language_model.*", lm_head.
Tensors nested_tensors(const Tensors& flat) {
  Tensors out;
  for (const auto& [name, tensor] : flat) {
    if (name.rfind("visual.", 0) == 0)
      out["model." + name] = tensor;
    else
      out["model.language_model." + name.substr(6)] = tensor;
  }
  out["lm_head.weight"] = flat.at("model.embed_tokens.weight").clone();
  return out;
}

// Qwen2.5-VL-3B-Instruct's chat template (tokenizer_config.json), verbatim.
const char* const kChatTemplate =
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for "
    "message in messages %}{% if loop.first and message['role'] != 'system' "
    "%}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif "
    "%}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ "
    "message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if "
    "content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set "
    "image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ "
    "image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif "
    "content['type'] == 'video' or 'video' in content %}{% set video_count.value = "
    "video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif "
    "%}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] "
    "}}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt "
    "%}<|im_start|>assistant\n{% endif %}";

fs::path write_model(const fs::path& dir, const json& config, const Tensors& tensors) {
  fs::create_directories(dir);
  write_json(dir / "config.json", config);
  write_json(dir / "preprocessor_config.json", preprocessor_config());
  write_json(dir / "tokenizer.json", tiny_tokenizer());
  write_json(dir / "tokenizer_config.json",
             {{"chat_template", kChatTemplate}, {"eos_token", "<|im_end|>"}});
  test::write_weights(dir, tensors, test::TinyDType::F32, false);
  return dir;
}

// 300 x 180, not square: the left half a solid colour, the right half a pattern.
RgbImage test_image() {
  RgbImage image;
  image.width = 300;
  image.height = 180;
  image.pixels.resize(300 * 180 * 3);
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      uint8_t* px = &image.pixels[(size_t(y) * image.width + x) * 3];
      if (x < 150) {
        px[0] = 200, px[1] = 30, px[2] = 40;
      } else {
        px[0] = uint8_t((x * 7 + y * 13) % 256);
        px[1] = uint8_t((x * x + 3 * y) % 256);
        px[2] = uint8_t((x * y + 17) % 256);
      }
    }
  return image;
}

}  // namespace atman::test::qwen_vl
