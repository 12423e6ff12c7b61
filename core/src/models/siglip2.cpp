// SigLIP 2 NaFlex in one file. Parameter names are the Hugging Face Siglip2Model ones
// ("vision_model.embeddings.patch_embedding.weight" of a Linear, "vision_model.head.probe", ...);
// the computation follows transformers' modeling_siglip2.py.
#include "models/siglip2.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/tokenizer.h"

namespace atman {

Siglip2Model::Siglip2Model(const SiglipConfig& config, const Checkpoint& checkpoint,
                           at::Device device, const Siglip2TextOptions& text_options,
                           const Siglip2ImageConfig& image)
    : config_(config), image_config_(image), text_options_(text_options), device_(device) {
  if (image.patch_size != config.vision.patch_size)
    throw ModelError("SigLIP 2 preprocessor_config.json cuts patches of " +
                     std::to_string(image.patch_size) + " pixels but vision_config.patch_size is " +
                     std::to_string(config.vision.patch_size));
  const ClipTowerConfig& vision = config.vision;
  const WeightReader v(checkpoint, "vision_model.", device);
  const int64_t Cv = vision.hidden_size, p = vision.patch_size;
  grid_ = static_cast<int>(std::lround(std::sqrt(double(config.num_patches))));
  patch_embedding_ =
      Linear::load(v, "embeddings.patch_embedding", vision.num_channels * p * p, Cv, true);
  position_embedding_ = v.get("embeddings.position_embedding.weight", {config.num_patches, Cv});
  vision_encoder_ = ClipEncoder(vision, v.sub("encoder."));
  post_layernorm_ = LayerNorm::load(v, "post_layernorm", Cv, vision.layer_norm_eps);
  head_ = SiglipPoolingHead(vision, v.sub("head."));
  text_ = SiglipTextTower(config, checkpoint, device, "SigLIP 2");
}

at::Tensor Siglip2Model::patches_tensor(const Siglip2Pixels& pixels) const {
  const int64_t values =
      int64_t{config_.vision.num_channels} * config_.vision.patch_size * config_.vision.patch_size;
  if (pixels.patch_values != values)
    throw InputError("the image was cut into patches of " + std::to_string(pixels.patch_size) +
                     " pixels but the model's are " + std::to_string(config_.vision.patch_size));
  return at::tensor(pixels.patches, at::kFloat).view({1, pixels.max_patches, values}).to(device_);
}

at::Tensor Siglip2Model::patch_mask(const Siglip2Pixels& pixels) const {
  return (at::arange(pixels.max_patches, at::TensorOptions().dtype(at::kLong)) < pixels.valid())
      .unsqueeze(0)
      .to(device_);
}

at::Tensor Siglip2Model::patch_embeddings(const at::Tensor& patches) const {
  return patch_embedding_(patches.to(position_embedding_.scalar_type()));
}

at::Tensor Siglip2Model::position_embeddings(int rows, int cols, int64_t length) const {
  if (rows <= 0 || cols <= 0 || int64_t{rows} * cols > length)
    throw InputError("a " + std::to_string(rows) + "x" + std::to_string(cols) +
                     " patch grid does not fit " + std::to_string(length) + " positions");
  const int64_t C = position_embedding_.size(1);
  // (grid², C) -> (1, C, grid, grid); transformers interpolates in float32 on the CPU (antialias
  // has no half-precision kernel there) and casts back.
  const at::Tensor grid =
      position_embedding_.view({grid_, grid_, C}).permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
  const std::array<int64_t, 2> size{rows, cols};
  const at::Tensor resized =
      at::_upsample_bilinear2d_aa(grid, size, /*align_corners=*/false, c10::nullopt, c10::nullopt)
          .reshape({C, int64_t{rows} * cols})
          .t()
          .to(position_embedding_.scalar_type());  // (rows * cols, C)
  const int64_t pad = length - resized.size(0);
  if (pad == 0) return resized;
  return at::cat({resized, resized.slice(0, 0, 1).expand({pad, C})}, 0);
}

at::Tensor Siglip2Model::image_embeds_from_embeddings(const at::Tensor& x, const at::Tensor& mask,
                                                      const Suppression* suppression) const {
  return image_embeds_from_hidden(encode(x, mask, suppression), mask, suppression);
}

at::Tensor Siglip2Model::encode(const at::Tensor& x, const at::Tensor& mask,
                                const Suppression* suppression) const {
  return vision_encoder_.forward(x, /*causal=*/false, suppression, -1, 0, nullptr, mask);
}

at::Tensor Siglip2Model::image_embeds_from_hidden(const at::Tensor& hidden, const at::Tensor& mask,
                                                  const Suppression* suppression) const {
  return head_(post_layernorm_(hidden), suppression, mask);
}

at::Tensor Siglip2Model::image_embeds(const Siglip2Pixels& pixels) const {
  const at::Tensor x = patch_embeddings(patches_tensor(pixels)) +
                       position_embeddings(pixels.rows, pixels.cols, pixels.max_patches);
  return image_embeds_from_embeddings(x, patch_mask(pixels));
}

at::Tensor Siglip2Model::text_embeds(const at::Tensor& ids,
                                     const at::Tensor& attention_mask) const {
  return text_.text_embeds(ids, nullptr, attention_mask.to(at::kBool));
}

at::Tensor Siglip2Model::logits(const at::Tensor& image_embeds,
                                const at::Tensor& text_embeds) const {
  return text_.logits(image_embeds, text_embeds);
}

Siglip2Text siglip2_text(const Siglip2Model& model, const Tokenizer& tokenizer,
                         const std::string& text) {
  const int64_t length = model.max_text_length();
  Siglip2Text out;
  out.ids = tokenizer.encode(text).ids;
  if (static_cast<int64_t>(out.ids.size()) > length)
    throw InputError("label '" + text + "' has " + std::to_string(out.ids.size()) +
                     " tokens; SigLIP 2 reads at most " + std::to_string(length));
  out.mask.assign(out.ids.size(), 1);
  out.ids.resize(length, model.text_options().pad_id);
  out.mask.resize(length, model.text_options().attention_mask ? 0 : 1);
  return out;
}

at::Tensor siglip2_label_embeds(const Siglip2Model& model, const Tokenizer& tokenizer,
                                const std::vector<std::string>& labels, at::Device device) {
  std::vector<int64_t> ids, mask;
  for (const auto& label : labels) {
    const Siglip2Text text = siglip2_text(model, tokenizer, label);
    ids.insert(ids.end(), text.ids.begin(), text.ids.end());
    mask.insert(mask.end(), text.mask.begin(), text.mask.end());
  }
  const auto K = static_cast<int64_t>(labels.size());
  return model.text_embeds(at::tensor(ids, at::kLong).view({K, -1}).to(device),
                           at::tensor(mask, at::kLong).view({K, -1}).to(device));
}

Siglip2TextOptions siglip2_text_options(const std::filesystem::path& model_dir,
                                        const Tokenizer& tokenizer, int64_t fallback_pad) {
  std::string pad_name = "<pad>";  // GemmaTokenizer's and Siglip2Tokenizer's default
  bool attention_mask = true;      // GemmaTokenizer's model_input_names
  for (const char* file : {"special_tokens_map.json", "tokenizer_config.json"}) {
    std::ifstream in(model_dir / file);
    if (!in) continue;
    const auto root = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object()) continue;
    if (const auto pad = root.find("pad_token"); pad != root.end()) {
      if (pad->is_string()) pad_name = pad->get<std::string>();
      if (pad->is_object() && pad->contains("content") && (*pad)["content"].is_string())
        pad_name = (*pad)["content"].get<std::string>();
    }
    if (const auto names = root.find("model_input_names");
        names != root.end() && names->is_array()) {
      attention_mask = false;
      for (const auto& name : *names)
        attention_mask |= name.is_string() && name.get<std::string>() == "attention_mask";
    }
  }
  Siglip2TextOptions out;
  const int64_t id = tokenizer.special_token_id(pad_name);
  out.pad_id = id >= 0 ? id : fallback_pad;
  out.attention_mask = attention_mask;
  return out;
}

}  // namespace atman
