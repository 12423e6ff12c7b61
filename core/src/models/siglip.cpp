// SigLIP in one file. Parameter names are the Hugging Face SiglipModel ones
// ("vision_model.head.attention.in_proj_weight", "text_model.head.weight", "logit_bias", ...);
// the computation follows transformers' modeling_siglip.py.
#include "models/siglip.h"

#include <ATen/ATen.h>

#include <cmath>

#include "atman/error.h"
#include "atman/tokenizer.h"

namespace atman {

SiglipPoolingHead::SiglipPoolingHead(const ClipTowerConfig& config, const WeightReader& w)
    : config_(config) {
  const int64_t C = config.hidden_size;
  probe_ = w.get("probe", {1, 1, C});
  // nn.MultiheadAttention packs q, k, v as rows [0, C), [C, 2C), [2C, 3C) of in_proj_weight.
  const at::Tensor in_w = w.get("attention.in_proj_weight", {3 * C, C});
  const at::Tensor in_b = w.get("attention.in_proj_bias", {3 * C});
  q_proj_ = {in_w.slice(0, 0, C), in_b.slice(0, 0, C)};
  k_proj_ = {in_w.slice(0, C, 2 * C), in_b.slice(0, C, 2 * C)};
  v_proj_ = {in_w.slice(0, 2 * C, 3 * C), in_b.slice(0, 2 * C, 3 * C)};
  out_proj_ = Linear::load(w, "attention.out_proj", C, C, true);
  layernorm_ = LayerNorm::load(w, "layernorm", C, config.layer_norm_eps);
  fc1_ = Linear::load(w, "mlp.fc1", C, config.intermediate_size, true);
  fc2_ = Linear::load(w, "mlp.fc2", config.intermediate_size, C, true);
}

at::Tensor SiglipPoolingHead::operator()(const at::Tensor& hidden, const Suppression* suppression,
                                         const at::Tensor& key_mask) const {
  const int64_t heads = config_.num_attention_heads;
  const at::Tensor probe = probe_.expand({hidden.size(0), 1, -1});
  at::Tensor q = split_heads(q_proj_(probe), heads);  // (B, H, 1, D)
  at::Tensor k = split_heads(k_proj_(hidden), heads);
  at::Tensor v = split_heads(v_proj_(hidden), heads);
  AttentionOptions options;
  options.key_mask = key_mask;
  at::Tensor x = out_proj_(merge_heads(attention(
      q, k, v, /*causal=*/false, suppression, config_.num_hidden_layers, options)));  // (B, 1, C)
  x = x + fc2_(activate(fc1_(layernorm_(x)), config_.hidden_act));
  return x.select(1, 0);
}

SiglipVisionTower::SiglipVisionTower(const ClipTowerConfig& config, const WeightReader& w)
    : config_(config) {
  const int64_t C = config.hidden_size, p = config.patch_size;
  const int64_t patches = static_cast<int64_t>(grid_size()) * grid_size();
  patch_embedding_ = w.get("embeddings.patch_embedding.weight", {C, config.num_channels, p, p});
  patch_bias_ = w.get("embeddings.patch_embedding.bias", {C});
  position_embedding_ = w.get("embeddings.position_embedding.weight", {patches, C});
  encoder_ = ClipEncoder(config, w.sub("encoder."));
}

std::vector<at::Tensor> SiglipVisionTower::hidden_states(const at::Tensor& pixels,
                                                         int up_to) const {
  const int size = config_.image_size;
  if (pixels.dim() != 4 || pixels.size(2) != size || pixels.size(3) != size)
    throw InputError("the SigLIP vision tower expects images of " + std::to_string(size) + "x" +
                     std::to_string(size) + " pixels");
  at::Tensor grid = at::conv2d(pixels.to(patch_embedding_.scalar_type()), patch_embedding_,
                               patch_bias_, config_.patch_size);
  at::Tensor x = grid.flatten(2).transpose(1, 2) + position_embedding_;  // (B, P, C)
  std::vector<at::Tensor> states;
  encoder_.forward(x, /*causal=*/false, nullptr, up_to, 0, &states);
  return states;
}

SiglipModel::SiglipModel(const SiglipConfig& config, const Checkpoint& checkpoint,
                         at::Device device)
    : config_(config) {
  const ClipTowerConfig& vision = config.vision;
  const WeightReader v(checkpoint, "vision_model.", device);
  const int64_t Cv = vision.hidden_size, p = vision.patch_size;
  const int64_t patches = static_cast<int64_t>(grid_size()) * grid_size();
  patch_embedding_ = v.get("embeddings.patch_embedding.weight", {Cv, vision.num_channels, p, p});
  patch_bias_ = v.get("embeddings.patch_embedding.bias", {Cv});
  position_embedding_ = v.get("embeddings.position_embedding.weight", {patches, Cv});
  vision_encoder_ = ClipEncoder(vision, v.sub("encoder."));
  post_layernorm_ = LayerNorm::load(v, "post_layernorm", Cv, vision.layer_norm_eps);
  head_ = SiglipPoolingHead(vision, v.sub("head."));
  text_ = SiglipTextTower(config, checkpoint, device, "SigLIP");
}

at::Tensor SiglipModel::patch_embeddings(const at::Tensor& pixels) const {
  const int size = config_.vision.image_size;
  if (pixels.dim() != 4 || pixels.size(2) != size || pixels.size(3) != size)
    throw InputError("the SigLIP vision tower expects images of " + std::to_string(size) + "x" +
                     std::to_string(size) + " pixels");
  const at::Tensor input = pixels.to(patch_embedding_.scalar_type());
  at::Tensor grid = at::conv2d(input, patch_embedding_, patch_bias_, config_.vision.patch_size);
  return grid.flatten(2).transpose(1, 2);  // (B, P, C)
}

at::Tensor SiglipModel::image_embeds_from_patches(const at::Tensor& patch_embeds,
                                                  const Suppression* suppression) const {
  return image_embeds_from_hidden(encode(patch_embeds, suppression), suppression);
}

at::Tensor SiglipModel::encode(const at::Tensor& patch_embeds,
                               const Suppression* suppression) const {
  const at::Tensor x = patch_embeds + position_embedding_;  // no class token, no pre-layernorm
  return vision_encoder_.forward(x, /*causal=*/false, suppression);
}

at::Tensor SiglipModel::image_embeds_from_hidden(const at::Tensor& hidden,
                                                 const Suppression* suppression) const {
  return head_(post_layernorm_(hidden), suppression);
}

at::Tensor SiglipModel::image_embeds(const at::Tensor& pixels,
                                     const Suppression* suppression) const {
  return image_embeds_from_patches(patch_embeddings(pixels), suppression);
}

SiglipTextTower::SiglipTextTower(const SiglipConfig& config, const Checkpoint& checkpoint,
                                 at::Device device, const std::string& family)
    : config_(config.text), family_(family) {
  const ClipTowerConfig& text = config.text;
  const WeightReader t(checkpoint, "text_model.", device);
  const int64_t Ct = text.hidden_size, Cv = config.vision.hidden_size;
  token_embedding_ = t.get("embeddings.token_embedding.weight", {text.vocab_size, Ct});
  position_embedding_ =
      t.get("embeddings.position_embedding.weight", {text.max_position_embeddings, Ct});
  encoder_ = ClipEncoder(text, t.sub("encoder."));
  final_layer_norm_ = LayerNorm::load(t, "final_layer_norm", Ct, text.layer_norm_eps);
  head_ = Linear::load(t, "head", Ct, config.projection_size, true);
  if (config.projection_size != Cv)
    throw ModelError(family + " text_config.projection_size " +
                     std::to_string(config.projection_size) +
                     " differs from the vision hidden size " + std::to_string(Cv) +
                     ", so image and text embeddings cannot be compared");
  logit_scale_exp_ = std::exp(checkpoint.get("logit_scale").item<double>());
  logit_bias_ = checkpoint.get("logit_bias").item<double>();
}

at::Tensor SiglipTextTower::token_embeddings(const at::Tensor& ids) const {
  return at::embedding(token_embedding_, ids);
}

at::Tensor SiglipTextTower::text_embeds(const at::Tensor& ids, const Suppression* suppression,
                                        const at::Tensor& key_mask) const {
  const int64_t T = ids.size(1);
  if (T > config_.max_position_embeddings)
    throw InputError("text of " + std::to_string(T) + " tokens is longer than " + family_ + "'s " +
                     std::to_string(config_.max_position_embeddings) + "-token context");
  at::Tensor x = token_embeddings(ids) + position_embedding_.slice(0, 0, T);
  // Bidirectional: SiglipTextTransformer passes no causal mask.
  x = final_layer_norm_(
      encoder_.forward(x, /*causal=*/false, suppression, -1, 0, nullptr, key_mask));
  return head_(x.select(1, T - 1));  // pooled_output = last_hidden_state[:, -1, :]
}

at::Tensor SiglipTextTower::logits(const at::Tensor& image_embeds,
                                   const at::Tensor& text_embeds) const {
  at::Tensor img = image_embeds / image_embeds.norm(2, -1, true);
  at::Tensor txt = text_embeds / text_embeds.norm(2, -1, true);
  return at::matmul(img, txt.t()) * logit_scale_exp_ + logit_bias_;
}

at::Tensor SiglipModel::token_embeddings(const at::Tensor& ids) const {
  return text_.token_embeddings(ids);
}

at::Tensor SiglipModel::text_embeds(const at::Tensor& ids, const Suppression* suppression) const {
  return text_.text_embeds(ids, suppression);
}

at::Tensor SiglipModel::logits(const at::Tensor& image_embeds,
                               const at::Tensor& text_embeds) const {
  return text_.logits(image_embeds, text_embeds);
}

std::vector<int64_t> siglip_text_ids(const SiglipModel& model, const Tokenizer& tokenizer,
                                     const std::string& text) {
  const int64_t length = model.max_text_length();
  std::vector<int64_t> ids = tokenizer.encode(text).ids;
  if (static_cast<int64_t>(ids.size()) > length)
    throw InputError("label '" + text + "' has " + std::to_string(ids.size()) +
                     " tokens; SigLIP reads at most " + std::to_string(length));
  ids.resize(length, model.config().pad_token_id);
  return ids;
}

at::Tensor siglip_label_embeds(const SiglipModel& model, const Tokenizer& tokenizer,
                               const std::vector<std::string>& labels, at::Device device) {
  std::vector<int64_t> flat;
  for (const auto& label : labels) {
    const std::vector<int64_t> ids = siglip_text_ids(model, tokenizer, label);
    flat.insert(flat.end(), ids.begin(), ids.end());
  }
  const auto K = static_cast<int64_t>(labels.size());
  return model.text_embeds(at::tensor(flat, at::kLong).view({K, -1}).to(device));
}

}  // namespace atman
