// LLaVA in one file: vision tower -> hidden_states[vision_feature_layer] -> projector -> LM input.
// Both the classic key layout ("language_model.model.*", "vision_tower.*") and the newer one
// ("model.language_model.*", "model.vision_tower.*", "lm_head.weight") load.
#include "models/llava.h"

#include <ATen/ATen.h>

#include "atman/error.h"

namespace atman {
namespace {

bool new_layout(const Checkpoint& checkpoint) {
  return checkpoint.has("model.language_model.embed_tokens.weight");
}

}  // namespace

LlavaModel::LlavaModel(const LlavaConfig& config, const Checkpoint& checkpoint, at::Device device)
    : config_(config),
      vision_tower_(config.vision,
                    WeightReader(checkpoint,
                                 new_layout(checkpoint) ? "model.vision_tower.vision_model."
                                                        : "vision_tower.vision_model.",
                                 device),
                    /*load_post_layernorm=*/false),
      device_(device) {
  const bool modern = new_layout(checkpoint);
  const WeightReader projector(
      checkpoint, modern ? "model.multi_modal_projector." : "multi_modal_projector.", device);
  const int64_t Cv = config.vision.hidden_size, C = config.text.hidden_size;
  linear_1_ = Linear::load(projector, "linear_1", Cv, C, config.projector_bias);
  linear_2_ = Linear::load(projector, "linear_2", C, C, config.projector_bias);
  language_model_ = modern ? std::make_unique<LlamaModel>(config.text, checkpoint, device,
                                                          "model.language_model.", "lm_head.weight")
                           : std::make_unique<LlamaModel>(config.text, checkpoint, device,
                                                          "language_model.model.",
                                                          "language_model.lm_head.weight");
  const int layers = config.vision.num_hidden_layers;
  const int feature_layer = config.vision_feature_layer;
  if (feature_layer < -(layers + 1) || feature_layer > layers)
    throw ModelError("vision_feature_layer " + std::to_string(feature_layer) + " in " +
                     checkpoint.dir().string() + " is outside the vision tower's " +
                     std::to_string(layers) + " layers");
}

int LlavaModel::image_tokens() const {
  const int grid = vision_tower_.grid_size();
  return grid * grid + (config_.vision_feature_select_strategy == "full" ? 1 : 0);
}

at::Tensor LlavaModel::image_features(const at::Tensor& pixels) const {
  const int layers = config_.vision.num_hidden_layers;
  // HF hidden_states[k] is the state after k layers; negative k counts from the end (L + 1 states).
  const int k = config_.vision_feature_layer < 0 ? layers + 1 + config_.vision_feature_layer
                                                 : config_.vision_feature_layer;
  at::Tensor hidden = vision_tower_.encode(vision_tower_.patch_embeddings(pixels), nullptr, k);
  if (config_.vision_feature_select_strategy != "full") hidden = hidden.slice(1, 1);  // drop CLS
  return linear_2_(activate(linear_1_(hidden), config_.projector_hidden_act));        // (B, N, C)
}

std::vector<int64_t> LlavaModel::expand_image_tokens(const std::vector<int64_t>& ids) const {
  std::vector<int64_t> out;
  int images = 0;
  for (int64_t id : ids) {
    if (id == config_.image_token_index) {
      ++images;
      out.insert(out.end(), image_tokens(), id);
    } else {
      out.push_back(id);
    }
  }
  if (images != 1)
    throw InputError("the prompt must contain exactly one <image> token, found " +
                     std::to_string(images));
  return out;
}

at::Tensor LlavaModel::input_embeds(const std::vector<int64_t>& expanded_ids,
                                    const at::Tensor& features) const {
  at::Tensor ids = at::tensor(expanded_ids, at::kLong).to(device_).unsqueeze(0);  // (1, T)
  at::Tensor is_image = ids == config_.image_token_index;
  // The image id may lie outside a vocabulary that never embeds it: embed a safe id there.
  at::Tensor embeds = language_model_->embed_tokens(ids.masked_fill(is_image, 0));  // (1, T, C)
  const int64_t count = is_image.sum().item<int64_t>();
  if (count != features.size(1))
    throw InputError("prompt has " + std::to_string(count) +
                     " image positions but the image gives " + std::to_string(features.size(1)) +
                     " features");
  at::Tensor positions = is_image.squeeze(0).nonzero().squeeze(1);
  embeds.index_copy_(1, positions, features.to(embeds.scalar_type()));
  return embeds;
}

}  // namespace atman
