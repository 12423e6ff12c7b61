// Test support: a tiny random Qwen2.5-VL checkpoint (HF Qwen2_5_VLForConditionalGeneration) with
// the config fields, key layout, preprocessor config, tokenizer structure and chat template of
// Qwen/Qwen2.5-VL-3B-Instruct, shrunk in size, in the published (flat) and the transformers >= 4.52
// (nested) form; and a 300 x 180 test picture.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "atman/image.h"

namespace atman::test::qwen_vl {

// Sizes: the vision tower of Qwen2.5-VL-3B (depth 32, hidden 1280, 16 heads, full attention in
// blocks 7, 15, 23, 31) and its decoder (hidden 2048, 16 heads, 2 KV heads, mrope_section
// [16, 24, 24] of head_dim 128) shrunk; patch, merge, window and temporal sizes are the real ones.
inline constexpr int kVisionHidden = 32, kVisionHeads = 2, kVisionInter = 48, kDepth = 4;
inline constexpr int kHidden = 64, kHeads = 4, kKvHeads = 2, kInter = 96, kLayers = 2, kVocab = 300;
inline constexpr int kHeadDim = kHidden / kHeads;
inline constexpr int kPatch = 14, kMerge = 2, kTemporal = 2;
inline constexpr int kImStart = 256, kImEnd = 257, kEndOfText = 258, kVisionToken = 259;
inline constexpr int kVisionStart = 260, kVisionEnd = 261, kImagePad = 262, kVideoPad = 263;
inline constexpr int64_t kMinPixels = 3136, kMaxPixels = 36000;
inline constexpr float kMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr float kStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

using Tensors = std::map<std::string, at::Tensor>;

// Qwen/Qwen2.5-VL-3B-Instruct's config.json (as published: text fields at the top level), shrunk.
nlohmann::json tiny_config();
// The same model as transformers >= 4.52 saves it: text fields in text_config, an untied head.
nlohmann::json tiny_config_nested();
nlohmann::json preprocessor_config();
// Qwen2's byte-level BPE shape (ByteLevel pre-tokenizer and decoder, ChatML and vision added
// tokens) over the 256 bytes alone.
nlohmann::json tiny_tokenizer();
// Published key layout: "visual.*", "model.*"; the head tied to the embeddings. Seeded: the same
// tensors on every call.
Tensors tiny_tensors();
// The key layout of transformers >= 4.52: "model.visual.*", "model.language_model.*", lm_head.
Tensors nested_tensors(const Tensors& flat);
// Qwen2.5-VL-3B-Instruct's chat template (tokenizer_config.json), verbatim.
extern const char* const kChatTemplate;
// Writes config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json (the chat
// template) and the weights; returns dir.
std::filesystem::path write_model(const std::filesystem::path& dir, const nlohmann::json& config,
                                  const Tensors& tensors);
// 300 x 180, not square: the left half a solid colour, the right half a pattern.
RgbImage test_image();

}  // namespace atman::test::qwen_vl
