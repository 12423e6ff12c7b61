#include "atman/inference.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "atman/error.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman {
namespace {

const ClipModel& require_clip(const Model& model) {
  require_weights(model);
  if (!model.impl().clip)
    throw InputError("model '" + model.name() + "' is a " + model.architecture() +
                     " model, not CLIP");
  return *model.impl().clip;
}

const CausalLM& require_lm(const Model& model) {
  require_weights(model);
  if (model.kind() == ModelKind::Clip || model.kind() == ModelKind::Siglip)
    throw InputError("model '" + model.name() + "' is " + model.architecture() +
                     ", not a language model");
  return model.impl().language_model();
}

// The RGB image a PixelTensor of Qwen2.5-VL carries: its preprocess_config() is the identity
// (no resize, crop, rescale or normalisation), since its processor resizes by its own rule.
RgbImage original_image(const PixelTensor& pixels) {
  RgbImage image;
  image.width = pixels.width;
  image.height = pixels.height;
  image.pixels.resize(static_cast<size_t>(pixels.width) * pixels.height * 3);
  const size_t plane = static_cast<size_t>(pixels.width) * pixels.height;
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c)
      image.pixels[i * 3 + c] =
          static_cast<uint8_t>(std::clamp(std::lround(pixels.values[c * plane + i]), 0L, 255L));
  return image;
}

// The decoder to run a prompt through: the model's, or for Qwen2.5-VL one at the prompt's
// multimodal positions, for PaliGemma one with the prompt as its bidirectional prefix (owned by
// `sequence`).
struct PromptInput {
  at::Tensor embeds;
  std::unique_ptr<CausalLM> sequence;
  const CausalLM* lm = nullptr;
};

PromptInput qwen_prompt(const Model& model, const std::vector<int64_t>& ids,
                        const PixelTensor* pixels, std::vector<int64_t>* model_ids) {
  const Qwen2_5_VLModel& qwen = *model.impl().qwen_vl;
  PromptInput in;
  int rows = 0, cols = 0;
  at::Tensor features;
  if (std::find(ids.begin(), ids.end(), qwen.config().image_token_id) != ids.end()) {
    if (!pixels) throw InputError("Qwen2.5-VL model '" + model.name() + "' needs an image");
    const Qwen2VLPixels processed = qwen.preprocess(original_image(*pixels));
    features = qwen.image_features(processed);
    rows = processed.merged_rows();
    cols = processed.merged_cols();
    *model_ids = qwen.expand_image_tokens(ids, features.size(0));
    in.embeds = qwen.input_embeds(*model_ids, features);
  } else {
    *model_ids = ids;
    in.embeds = qwen.language_model().embed_tokens(ids_to_tensor(ids, model.impl().device));
  }
  in.sequence = std::make_unique<MropeSequence>(qwen.language_model(),
                                                qwen.rope_index(*model_ids, rows, cols));
  in.lm = in.sequence.get();
  return in;
}

// Input embeddings of a prompt (token embeddings, or for LLaVA the prompt with its image) and the
// decoder to run them through.
PromptInput prompt_input(const Model& model, const std::vector<int64_t>& ids,
                         const PixelTensor* pixels, std::vector<int64_t>* model_ids) {
  const auto& impl = model.impl();
  PromptInput in;
  in.lm = &impl.language_model();
  if (impl.llava) {
    if (!pixels)
      throw InputError(model.architecture() + " model '" + model.name() + "' needs an image");
    at::Tensor features =
        impl.llava->image_features(pixels_to_tensor(*pixels, impl.device), pixels->geometry);
    *model_ids = impl.llava->expand_image_tokens(ids, features.size(1));
    in.embeds = impl.llava->input_embeds(*model_ids, features);
    if (impl.llava->config().paligemma()) {
      // PaliGemma's prompt (image, <bos>, text, "\n") is one bidirectional prefix.
      in.sequence = std::make_unique<PrefixLM>(impl.llava->language_model(),
                                               static_cast<int64_t>(model_ids->size()));
      in.lm = in.sequence.get();
    }
    return in;
  }
  if (impl.idefics3) {
    const int64_t image_id = impl.idefics3->config().image_token_id;
    if (std::find(ids.begin(), ids.end(), image_id) != ids.end()) {
      if (!pixels) throw InputError("Idefics3 model '" + model.name() + "' needs an image");
      at::Tensor features = impl.idefics3->image_features(pixels_to_tensor(*pixels, impl.device));
      *model_ids = impl.idefics3->expand_image_tokens(ids, model.tokenizer(), pixels->geometry);
      in.embeds = impl.idefics3->input_embeds(*model_ids, features);
      return in;
    }
  }
  *model_ids = ids;
  in.embeds = impl.lm->embed_tokens(ids_to_tensor(ids, impl.device));
  return in;
}

// Tokens that end a generation: the config's eos ids, else the tokenizer's <|endoftext|>.
std::vector<int64_t> end_tokens(const Model& model) {
  std::vector<int64_t> ids;
  const auto& config = model.impl().config;
  if (const auto* gpt2 = std::get_if<Gpt2Config>(&config)) ids.push_back(gpt2->eos_token_id);
  const LlamaConfig* llama = std::get_if<LlamaConfig>(&config);
  if (const auto* llava = std::get_if<LlavaConfig>(&config)) llama = &llava->text;
  if (const auto* qwen = std::get_if<Qwen2_5_VLConfig>(&config)) llama = &qwen->text;
  if (const auto* idefics3 = std::get_if<Idefics3Config>(&config)) llama = &idefics3->text;
  if (llama) {
    ids.insert(ids.end(), llama->eos_token_ids.begin(), llama->eos_token_ids.end());
    if (llama->eos_token_id >= 0) ids.push_back(llama->eos_token_id);
  }
  const int64_t text_end = model.tokenizer().special_token_id("<|endoftext|>");
  if (ids.empty() && text_end >= 0) ids.push_back(text_end);
  return ids;
}

// The prompt's tokens: Qwen2.5-VL turns our <image> marker into its vision tokens, PaliGemma's
// processor adds its image, <bos> and closing newline.
Encoding encode_prompt(const Model& model, const std::string& prompt) {
  const auto& impl = model.impl();
  if (impl.qwen_vl) return impl.qwen_vl->encode_prompt(model.tokenizer(), prompt);
  if (impl.llava) return impl.llava->encode_prompt(model.tokenizer(), prompt);
  return model.tokenizer().encode(prompt);
}

// Qwen2.5-VL's input positions: the image's merged tokens row by row. Their number depends on the
// image's size, so a prompt with an image needs it: positions guessed without it would put every
// token after the image at the wrong place.
std::vector<InputPosition> qwen_layout(const Model& model, const std::string& prompt,
                                       const PixelTensor* pixels) {
  const Qwen2_5_VLModel& qwen = *model.impl().qwen_vl;
  const Encoding enc = qwen.encode_prompt(model.tokenizer(), prompt);
  const auto& ids = enc.ids;
  if (!pixels && std::find(ids.begin(), ids.end(), qwen.config().image_token_id) != ids.end())
    throw InputError(
        "Qwen2.5-VL's number of image tokens depends on the image's size: give the "
        "image to lay out this prompt");
  // The model's CLIP-style preprocessing is the identity here: `pixels` has the original size.
  Qwen2VLPixels grid;
  if (pixels) grid = qwen2_vl_grid(pixels->width, pixels->height, qwen.image_config());
  const int rows = pixels ? grid.merged_rows() : 1, cols = pixels ? grid.merged_cols() : 1;
  std::vector<InputPosition> out;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (enc.ids[i] == qwen.config().image_token_id) {
      for (int k = 0; k < rows * cols; ++k) {
        InputPosition p;
        p.is_image = true;
        p.row = k / cols, p.col = k % cols;
        p.rect = grid.merged_rect(p.row, p.col);  // as the explanation's candidates have it
        out.push_back(p);
      }
      continue;
    }
    InputPosition p;
    p.text = enc.tokens[i];
    if (enc.ids[i] != qwen.config().vision_start_token_id &&
        enc.ids[i] != qwen.config().vision_end_token_id)
      p.text = model.tokenizer().decode({enc.ids[i]});
    p.span = enc.spans[i];
    out.push_back(p);
  }
  return out;
}

// Idefics3's input positions for its one <image>: the processor's delimiters and row/column
// markers as text, each view's image tokens with their rectangles.
void idefics3_image_positions(const Model& model, const PixelTensor* pixels,
                              std::vector<InputPosition>& out) {
  const Idefics3Model& m = *model.impl().idefics3;
  if (!pixels || pixels->geometry.original_width <= 0 || pixels->geometry.original_height <= 0)
    throw InputError(model.architecture() +
                     " has as many image tokens as the image's size gives: open the image first");
  const CropGeometry& geometry = pixels->geometry;
  const std::vector<ImageToken> tokens = m.image_layout(geometry);
  const std::vector<int64_t> ids = m.image_prompt_ids(
      model.tokenizer(), m.layout(geometry.original_width, geometry.original_height));
  size_t k = 0;
  for (int64_t id : ids) {
    InputPosition p;
    if (id == m.config().image_token_id && k < tokens.size()) {
      const ImageToken& token = tokens[k++];
      p.is_image = true;
      p.view = token.view;
      p.row = token.row;
      p.col = token.col;
      p.rect = token.rect;
    } else {
      p.text = model.tokenizer().decode({id});
    }
    out.push_back(p);
  }
}

}  // namespace

ClipForward clip_forward(const Model& model, const PixelTensor* pixels,
                         const std::vector<std::string>& texts) {
  c10::InferenceMode inference;
  const ClipModel& clip = require_clip(model);
  const at::Device device = model.impl().device;
  ClipForward out;
  at::Tensor image;
  if (pixels) {
    image = clip.image_embeds(pixels_to_tensor(*pixels, device));
    out.image_embeds = to_vector(image);
  }
  if (texts.empty()) return out;
  std::vector<std::vector<int64_t>> ids;
  for (const auto& text : texts) ids.push_back(model.tokenizer().encode(text).ids);
  const at::Tensor embeds = clip.text_embeds(ids, device);  // (K, Pd)
  for (int64_t k = 0; k < embeds.size(0); ++k) out.text_embeds.push_back(to_vector(embeds[k]));
  if (pixels) out.logits_per_image = to_vector(clip.logits(image, embeds).squeeze(0));
  return out;
}

namespace {

// SigLIP is trained with a sigmoid per (image, text) pair: each label's probability is its own.
// SigLIP 2 NaFlex: the PixelTensor holds the original pixels (its preprocess_config() is the
// identity, as Qwen2.5-VL's), which its own processor resizes.
at::Tensor siglip2_logits(const Model& model, const PixelTensor& pixels,
                          const std::vector<std::string>& labels) {
  const Siglip2Model& siglip = *model.impl().siglip2;
  const at::Device device = model.impl().device;
  at::Tensor image = siglip.image_embeds(siglip.preprocess(original_image(pixels)));
  return siglip.logits(image, siglip2_label_embeds(siglip, model.tokenizer(), labels, device))
      .squeeze(0);  // (K)
}

std::vector<LabelScore> siglip_zero_shot(const Model& model, const PixelTensor& pixels,
                                         const std::vector<std::string>& labels) {
  c10::InferenceMode inference;
  at::Tensor logits;
  if (model.impl().siglip2) {
    logits = siglip2_logits(model, pixels, labels);
  } else {
    const SiglipModel& siglip = *model.impl().siglip;
    const at::Device device = model.impl().device;
    at::Tensor image = siglip.image_embeds(pixels_to_tensor(pixels, device));
    logits = siglip.logits(image, siglip_label_embeds(siglip, model.tokenizer(), labels, device))
                 .squeeze(0);  // (K)
  }
  std::vector<float> values = to_vector(logits), probs = to_vector(at::sigmoid(logits));
  std::vector<LabelScore> out;
  for (size_t i = 0; i < labels.size(); ++i) out.push_back({labels[i], values[i], probs[i]});
  return out;
}

}  // namespace

std::vector<LabelScore> zero_shot(const Model& model, const PixelTensor& pixels,
                                  const std::vector<std::string>& labels) {
  require_weights(model);
  if (labels.empty()) throw InputError("no labels given to rank");
  std::vector<LabelScore> out;
  if (model.kind() == ModelKind::Siglip) {
    out = siglip_zero_shot(model, pixels, labels);
  } else {
    ClipForward forward = clip_forward(model, &pixels, labels);
    at::Tensor logits = at::tensor(forward.logits_per_image, at::kFloat);
    std::vector<float> probs = to_vector(at::softmax(logits, 0));
    for (size_t i = 0; i < labels.size(); ++i)
      out.push_back({labels[i], forward.logits_per_image[i], probs[i]});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LabelScore& a, const LabelScore& b) { return a.logit > b.logit; });
  return out;
}

LmForward lm_forward(const Model& model, const std::string& text, const PixelTensor* pixels) {
  c10::InferenceMode inference;
  const CausalLM& lm = require_lm(model);
  Encoding enc = encode_prompt(model, text);
  if (enc.ids.empty()) throw InputError("the text is empty: nothing to run the model on");
  LmForward out;
  PromptInput in = model.impl().qwen_vl ? qwen_prompt(model, enc.ids, pixels, &out.ids)
                                        : prompt_input(model, enc.ids, pixels, &out.ids);
  at::Tensor hidden = in.lm->forward_embeds(in.embeds, nullptr, nullptr);
  out.last_logits = to_vector(lm.lm_logits(hidden.select(1, hidden.size(1) - 1)));
  return out;
}

std::vector<InputPosition> input_layout(const Model& model, const std::string& prompt,
                                        const PixelTensor* pixels) {
  // A text model's layout is its tokenizer's alone, so a remote view answers locally; LLaVA's
  // and Qwen2.5-VL's image tokens come from their vision towers.
  if (model.kind() == ModelKind::Llava) require_weights(model);
  const auto& impl = model.impl();
  if (impl.qwen_vl) return qwen_layout(model, prompt, pixels);
  Encoding enc = encode_prompt(model, prompt);
  const int64_t image_id = impl.llava      ? impl.llava->config().image_token_index
                           : impl.idefics3 ? impl.idefics3->config().image_token_id
                                           : -1;
  std::vector<InputPosition> out;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (enc.ids[i] == image_id && impl.idefics3) {
      idefics3_image_positions(model, pixels, out);
      continue;
    }
    if (enc.ids[i] == image_id) {
      // Anyres models have as many image tokens as the image's size gives; plain LLaVA a fixed
      // number, whatever the size.
      const bool anyres = impl.llava->config().anyres();
      if (anyres && (!pixels || pixels->geometry.original_width <= 0 ||
                     pixels->geometry.original_height <= 0))
        throw InputError(model.architecture() +
                         " has as many image tokens as the image's size gives: open the image "
                         "first");
      // The base view's geometry (Model::preprocess) holds the image's size and, for plain
      // LLaVA, its resize and crop: the rectangles need it, the number of tokens does not.
      const bool sized =
          pixels && pixels->geometry.original_width > 0 && pixels->geometry.original_height > 0;
      const CropGeometry geometry = sized ? pixels->geometry : CropGeometry{};
      for (const ImageToken& token : impl.llava->image_layout(geometry)) {
        InputPosition p;
        p.is_image = true;
        p.view = token.view;
        p.row = token.newline ? -1 : token.row;
        p.col = token.col;
        if (sized && !token.newline) p.rect = token.rect;
        out.push_back(p);
      }
      continue;
    }
    InputPosition p;
    p.text = model.tokenizer().decode({enc.ids[i]});
    p.span = enc.spans[i];
    out.push_back(p);
  }
  return out;
}

Generation generate(const Model& model, const std::string& prompt, int max_new_tokens,
                    const PixelTensor* pixels, const std::vector<SteeringFactor>& steering,
                    SuppressionVariant variant) {
  c10::InferenceMode inference;
  const CausalLM& lm = require_lm(model);
  if (max_new_tokens < 0 || max_new_tokens > 100000)
    throw InputError("max_new_tokens must be 0..100000");
  Encoding enc = encode_prompt(model, prompt);
  if (enc.ids.empty()) throw InputError("the prompt is empty");
  std::vector<int64_t> model_ids;
  KVCache cache;
  PromptInput in = model.impl().qwen_vl ? qwen_prompt(model, enc.ids, pixels, &model_ids)
                                        : prompt_input(model, enc.ids, pixels, &model_ids);
  const at::Tensor& embeds = in.embeds;
  const int64_t n = static_cast<int64_t>(model_ids.size());
  if (n > lm.max_positions())
    throw InputError("the prompt is " + std::to_string(n) + " tokens; the model reads at most " +
                     std::to_string(lm.max_positions()));
  // Steering factors over all key positions; generated positions stay at 1.
  std::vector<float> factors(lm.max_positions(), 1.0f);
  for (const auto& s : steering) {
    if (s.position < 0 || s.position >= n)
      throw InputError("steering position " + std::to_string(s.position) + " is outside the " +
                       std::to_string(n) + "-token prompt");
    if (!(s.factor >= 0.0f) || s.factor > 100.0f)
      throw InputError("steering factors must lie in [0, 100]");
    factors[s.position] = s.factor;
  }
  const at::Tensor all_factors =
      at::tensor(factors, at::kFloat).to(model.impl().device).unsqueeze(0);
  Suppression suppression;
  suppression.variant = variant;
  auto steer = [&](int64_t keys) -> const Suppression* {
    if (steering.empty()) return nullptr;
    suppression.factors = all_factors.slice(1, 0, keys);
    return &suppression;
  };
  at::Tensor hidden = in.lm->forward_embeds(embeds, steer(n), &cache);
  const std::vector<int64_t> eos = end_tokens(model);
  const int64_t budget = std::min<int64_t>(max_new_tokens, lm.max_positions() - cache.length());
  Generation out;
  for (int64_t step = 0; step < budget; ++step) {
    int64_t next = lm.lm_logits(hidden.select(1, hidden.size(1) - 1)).argmax(-1).item<int64_t>();
    if (std::find(eos.begin(), eos.end(), next) != eos.end()) break;
    out.ids.push_back(next);
    if (step + 1 == budget) break;
    hidden = in.lm->forward_embeds(lm.embed_tokens(ids_to_tensor({next}, model.impl().device)),
                                   steer(cache.length() + 1), &cache);
  }
  for (int64_t id : out.ids) out.tokens.push_back(model.tokenizer().decode({id}));
  out.text = model.tokenizer().decode(out.ids);
  return out;
}

}  // namespace atman
