// CLIP in one file. Parameter names are the Hugging Face CLIPModel ones
// ("vision_model.encoder.layers.0.self_attn.q_proj.weight", "text_projection.weight", ...).
#include "models/clip.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "atman/error.h"

namespace atman {

ClipEncoder::ClipEncoder(const ClipTowerConfig& config, const WeightReader& w) : config_(config) {
  const int64_t C = config.hidden_size, I = config.intermediate_size;
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const WeightReader l = w.sub("layers." + std::to_string(i) + ".");
    layers_.push_back(Layer{
        LayerNorm::load(l, "layer_norm1", C, config.layer_norm_eps),
        LayerNorm::load(l, "layer_norm2", C, config.layer_norm_eps),
        Linear::load(l, "self_attn.q_proj", C, C, true),
        Linear::load(l, "self_attn.k_proj", C, C, true),
        Linear::load(l, "self_attn.v_proj", C, C, true),
        Linear::load(l, "self_attn.out_proj", C, C, true),
        Linear::load(l, "mlp.fc1", C, I, true),
        Linear::load(l, "mlp.fc2", I, C, true),
    });
  }
}

at::Tensor ClipEncoder::forward(const at::Tensor& input, bool causal,
                                const Suppression* suppression, int stop_after_layers,
                                int64_t first_queries, std::vector<at::Tensor>* states,
                                const at::Tensor& key_mask) const {
  const int64_t heads = config_.num_attention_heads;
  AttentionOptions options;
  options.key_mask = key_mask;
  const int n = stop_after_layers < 0 ? num_layers() : std::min(stop_after_layers, num_layers());
  at::Tensor x = input;  // (B, T, C)
  if (states) states->push_back(x);
  for (int l = 0; l < n; ++l) {
    const Layer& layer = layers_[l];
    at::Tensor h = layer.layer_norm1(x);
    // Only the returned positions' queries are needed in the last layer; the rest of it
    // (output projection, MLP) then runs on those positions alone.
    const bool narrow = !causal && first_queries > 0 && l == n - 1 && first_queries < x.size(1);
    if (narrow) x = x.slice(1, 0, first_queries);
    at::Tensor q = split_heads(layer.q_proj(narrow ? h.slice(1, 0, first_queries) : h), heads);
    at::Tensor k = split_heads(layer.k_proj(h), heads);  // (B, H, T, D)
    at::Tensor v = split_heads(layer.v_proj(h), heads);
    x = x + layer.out_proj(merge_heads(attention(q, k, v, causal, suppression, l, options)));
    x = x + layer.fc2(activate(layer.fc1(layer.layer_norm2(x)), config_.hidden_act));
    if (states) states->push_back(x);
  }
  return x;
}

at::Tensor ClipEncoder::forward_after_prefix(const at::Tensor& prefix,
                                             const at::Tensor& input) const {
  const int64_t heads = config_.num_attention_heads, C = input.size(2);
  const int64_t P = prefix.size(1), B = input.size(0), T = input.size(1);
  // The prefix's rows and the batch's go through every matrix product together, (P + B·T, C):
  // at these sizes a product costs mostly the reading of its weights, so once, not twice.
  at::Tensor rows = at::cat({prefix.reshape({P, C}), input.reshape({B * T, C})}, 0);
  auto prefix_part = [&](const at::Tensor& r) { return r.slice(0, 0, P).view({1, P, C}); };
  auto batch_part = [&](const at::Tensor& r) { return r.slice(0, P).view({B, T, C}); };
  for (int l = 0; l < num_layers(); ++l) {
    const Layer& layer = layers_[l];
    const at::Tensor h = layer.layer_norm1(rows);
    const at::Tensor q = layer.q_proj(h), k = layer.k_proj(h), v = layer.v_proj(h);
    const at::Tensor kp = split_heads(prefix_part(k), heads),
                     vp = split_heads(prefix_part(v), heads);
    // The batch's keys: the prefix's, then the item's own; causal attention puts query t at key
    // P + t.
    const at::Tensor kb =
        at::cat({kp.expand({B, -1, -1, -1}), split_heads(batch_part(k), heads)}, 2);
    const at::Tensor vb =
        at::cat({vp.expand({B, -1, -1, -1}), split_heads(batch_part(v), heads)}, 2);
    const at::Tensor ap = merge_heads(
        attention(split_heads(prefix_part(q), heads), kp, vp, /*causal=*/true, nullptr, l));
    const at::Tensor ab = merge_heads(
        attention(split_heads(batch_part(q), heads), kb, vb, /*causal=*/true, nullptr, l));
    rows = rows + layer.out_proj(at::cat({ap.reshape({P, C}), ab.reshape({B * T, C})}, 0));
    rows = rows + layer.fc2(activate(layer.fc1(layer.layer_norm2(rows)), config_.hidden_act));
  }
  return batch_part(rows);
}

ClipVisionTower::ClipVisionTower(const ClipTowerConfig& config, const WeightReader& w,
                                 bool load_post_layernorm)
    : config_(config) {
  const int64_t C = config.hidden_size, p = config.patch_size;
  const int64_t patches = static_cast<int64_t>(grid_size()) * grid_size();
  class_embedding_ = w.get("embeddings.class_embedding", {C});
  patch_embedding_ = w.get("embeddings.patch_embedding.weight", {C, config.num_channels, p, p});
  position_embedding_ = w.get("embeddings.position_embedding.weight", {patches + 1, C});
  pre_layrnorm_ = LayerNorm::load(w, "pre_layrnorm", C, config.layer_norm_eps);
  if (load_post_layernorm)
    post_layernorm_ = LayerNorm::load(w, "post_layernorm", C, config.layer_norm_eps);
  encoder_ = ClipEncoder(config, w.sub("encoder."));
}

at::Tensor ClipVisionTower::patch_embeddings(const at::Tensor& pixels) const {
  if (pixels.dim() != 4 || pixels.size(2) != config_.image_size ||
      pixels.size(3) != config_.image_size)
    throw InputError("the vision tower expects images of " + std::to_string(config_.image_size) +
                     "x" + std::to_string(config_.image_size) + " pixels");
  // Pixels arrive as float32; the weights may be bfloat16 or float16 (LoadOptions::dtype).
  const at::Tensor input = pixels.to(patch_embedding_.scalar_type());
  at::Tensor grid = at::conv2d(input, patch_embedding_, {}, config_.patch_size);  // (B, C, g, g)
  return grid.flatten(2).transpose(1, 2);                                         // (B, P, C)
}

at::Tensor ClipVisionTower::encode(const at::Tensor& patch_embeds, const Suppression* suppression,
                                   int stop_after_layers) const {
  const int64_t B = patch_embeds.size(0);
  at::Tensor cls = class_embedding_.view({1, 1, -1}).expand({B, 1, -1});
  at::Tensor x = at::cat({cls, patch_embeds}, 1) + position_embedding_;  // (B, P + 1, C)
  return encoder_.forward(pre_layrnorm_(x), /*causal=*/false, suppression, stop_after_layers);
}

std::vector<at::Tensor> ClipVisionTower::hidden_states(const at::Tensor& patch_embeds,
                                                       int up_to) const {
  const int64_t B = patch_embeds.size(0);
  at::Tensor cls = class_embedding_.view({1, 1, -1}).expand({B, 1, -1});
  at::Tensor x = at::cat({cls, patch_embeds}, 1) + position_embedding_;
  std::vector<at::Tensor> states;
  encoder_.forward(pre_layrnorm_(x), /*causal=*/false, nullptr, up_to, 0, &states);
  return states;
}

at::Tensor ClipVisionTower::encode_class_token(const at::Tensor& patch_embeds,
                                               const Suppression* suppression) const {
  const int64_t B = patch_embeds.size(0);
  at::Tensor cls = class_embedding_.view({1, 1, -1}).expand({B, 1, -1});
  at::Tensor x = at::cat({cls, patch_embeds}, 1) + position_embedding_;  // (B, P + 1, C)
  return encoder_.forward(pre_layrnorm_(x), /*causal=*/false, suppression, -1, 1);
}

at::Tensor ClipVisionTower::pooled(const at::Tensor& hidden) const {
  return post_layernorm_(hidden.select(1, 0));  // (B, C)
}

ClipModel::ClipModel(const ClipConfig& config, const Checkpoint& checkpoint, at::Device device)
    : config_(config), vision_(config.vision, WeightReader(checkpoint, "vision_model.", device)) {
  const int64_t Pd = config.projection_dim;
  const ClipTowerConfig& text = config.text;
  const WeightReader w(checkpoint, "", device);
  visual_projection_ = w.get("visual_projection.weight", {Pd, config.vision.hidden_size});
  text_projection_ = w.get("text_projection.weight", {Pd, text.hidden_size});
  const WeightReader t(checkpoint, "text_model.", device);
  token_embedding_ =
      t.get("embeddings.token_embedding.weight", {text.vocab_size, text.hidden_size});
  text_position_embedding_ = t.get("embeddings.position_embedding.weight",
                                   {text.max_position_embeddings, text.hidden_size});
  text_encoder_ = ClipEncoder(text, t.sub("encoder."));
  final_layer_norm_ = LayerNorm::load(t, "final_layer_norm", text.hidden_size, text.layer_norm_eps);
  logit_scale_exp_ = std::exp(checkpoint.get("logit_scale").item<double>());
}

at::Tensor ClipModel::image_embeds_from_patches(const at::Tensor& patch_embeds,
                                                const Suppression* suppression) const {
  return image_embeds_from_hidden(vision_.encode_class_token(patch_embeds, suppression));
}

at::Tensor ClipModel::image_embeds_from_hidden(const at::Tensor& hidden) const {
  return at::matmul(vision_.pooled(hidden), visual_projection_.t());
}

at::Tensor ClipModel::image_embeds(const at::Tensor& pixels, const Suppression* suppression) const {
  return image_embeds_from_patches(vision_.patch_embeddings(pixels), suppression);
}

at::Tensor ClipModel::token_embeddings(const at::Tensor& ids) const {
  return at::embedding(token_embedding_, ids);
}

at::Tensor ClipModel::text_embeds(const at::Tensor& ids, const Suppression* suppression) const {
  return text_embeds_from_hidden(text_hidden(token_embeddings(ids), suppression), ids);
}

at::Tensor ClipModel::text_embeds(const std::vector<std::vector<int64_t>>& texts,
                                  at::Device device) const {
  if (texts.empty()) throw InputError("no texts to embed");
  size_t T = 0;
  for (const auto& t : texts) {
    if (t.empty()) throw InputError("a text to embed has no tokens");
    T = std::max(T, t.size());
  }
  if (static_cast<int64_t>(T) > config_.text.max_position_embeddings)
    throw InputError("text of " + std::to_string(T) + " tokens is longer than CLIP's " +
                     std::to_string(config_.text.max_position_embeddings) + "-token context");
  // The text tower is causal: a position never sees later ones. So the positions every text shares
  // from its start (a label template's "a photo of a") have the same states in every text and run
  // once, as long as each text's pooled position comes after them; and padding a text after its
  // end changes nothing up to its pooled position. The padding repeats the text's last token,
  // which leaves the pooled position (text_end_positions: the first end token, or the first
  // highest id) where it was.
  size_t P = 0;
  if (texts.size() > 1) {
    P = texts[0].size();
    for (const auto& t : texts) {
      size_t same = 0;
      while (same < std::min(P, t.size()) && t[same] == texts[0][same]) ++same;
      const bool legacy = config_.text.eos_token_id == 2;
      const auto end = legacy ? std::max_element(t.begin(), t.end())
                              : std::find(t.begin(), t.end(), config_.text.eos_token_id);
      const size_t pooled = end == t.end() ? 0 : static_cast<size_t>(end - t.begin());
      P = std::min({P, same, pooled});
    }
  }
  std::vector<int64_t> flat;
  for (const auto& t : texts) {
    flat.insert(flat.end(), t.begin() + static_cast<int64_t>(P), t.end());
    flat.insert(flat.end(), T - t.size(), t.back());
  }
  const auto K = static_cast<int64_t>(texts.size()), L = static_cast<int64_t>(T - P);
  const at::Tensor ids = at::tensor(flat, at::kLong).view({K, L}).to(device);  // after the prefix
  if (P == 0) return text_embeds(ids);
  const auto Pn = static_cast<int64_t>(P);
  const std::vector<int64_t> shared(texts[0].begin(), texts[0].begin() + Pn);
  const at::Tensor prefix =
      token_embeddings(at::tensor(shared, at::kLong).view({1, Pn}).to(device)) +
      text_position_embedding_.slice(0, 0, Pn);
  const at::Tensor x = token_embeddings(ids) + text_position_embedding_.slice(0, Pn, Pn + L);
  // Pooled in the continuation: its end positions are the texts' own minus P.
  return text_embeds_from_hidden(final_layer_norm_(text_encoder_.forward_after_prefix(prefix, x)),
                                 ids);
}

at::Tensor ClipModel::text_hidden(const at::Tensor& token_embeds,
                                  const Suppression* suppression) const {
  const int64_t T = token_embeds.size(1);
  if (T > config_.text.max_position_embeddings)
    throw InputError("text of " + std::to_string(T) + " tokens is longer than CLIP's " +
                     std::to_string(config_.text.max_position_embeddings) + "-token context");
  at::Tensor x = token_embeds + text_position_embedding_.slice(0, 0, T);  // (B, T, C)
  return final_layer_norm_(text_encoder_.forward(x, /*causal=*/true, suppression));
}

at::Tensor ClipModel::text_end_positions(const at::Tensor& ids) const {
  // Legacy configs (eos_token_id 2) pool at the highest id, as HF does.
  return config_.text.eos_token_id == 2
             ? ids.argmax(-1)
             : (ids == config_.text.eos_token_id).to(at::kInt).argmax(-1);
}

at::Tensor ClipModel::text_embeds_from_hidden(const at::Tensor& x, const at::Tensor& ids) const {
  // Pool at the end token.
  at::Tensor end_pos = text_end_positions(ids);
  at::Tensor pooled =
      x.gather(1, end_pos.view({-1, 1, 1}).expand({-1, 1, x.size(2)})).squeeze(1);  // (B, C)
  return at::matmul(pooled, text_projection_.t());
}

at::Tensor ClipModel::logits(const at::Tensor& image_embeds, const at::Tensor& text_embeds) const {
  at::Tensor img = image_embeds / image_embeds.norm(2, -1, true);
  at::Tensor txt = text_embeds / text_embeds.norm(2, -1, true);
  return logit_scale_exp_ * at::matmul(img, txt.t());
}

}  // namespace atman
