#include "atman/inference.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "atman/error.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman {
namespace {

const ClipModel& require_clip(const Model& model) {
  if (!model.impl().clip)
    throw InputError("model '" + model.name() + "' is a " + model.architecture() +
                     " model, not CLIP");
  return *model.impl().clip;
}

const CausalLM& require_lm(const Model& model) {
  if (model.kind() == ModelKind::Clip || model.kind() == ModelKind::Siglip)
    throw InputError("model '" + model.name() + "' is " + model.architecture() +
                     ", not a language model");
  return model.impl().language_model();
}

// Input embeddings of a prompt: token embeddings, or for LLaVA the prompt with its image.
at::Tensor prompt_embeds(const Model& model, const std::vector<int64_t>& ids,
                         const PixelTensor* pixels, std::vector<int64_t>* model_ids) {
  const auto& impl = model.impl();
  if (impl.llava) {
    if (!pixels) throw InputError("LLaVA model '" + model.name() + "' needs an image");
    at::Tensor features =
        impl.llava->image_features(pixels_to_tensor(*pixels, impl.device), pixels->geometry);
    *model_ids = impl.llava->expand_image_tokens(ids, features.size(1));
    return impl.llava->input_embeds(*model_ids, features);
  }
  *model_ids = ids;
  return impl.lm->embed_tokens(ids_to_tensor(ids, impl.device));
}

// Tokens that end a generation: the config's eos ids, else the tokenizer's <|endoftext|>.
std::vector<int64_t> end_tokens(const Model& model) {
  std::vector<int64_t> ids;
  const auto& config = model.impl().config;
  if (const auto* gpt2 = std::get_if<Gpt2Config>(&config)) ids.push_back(gpt2->eos_token_id);
  const LlamaConfig* llama = std::get_if<LlamaConfig>(&config);
  if (const auto* llava = std::get_if<LlavaConfig>(&config)) llama = &llava->text;
  if (llama) {
    ids.insert(ids.end(), llama->eos_token_ids.begin(), llama->eos_token_ids.end());
    if (llama->eos_token_id >= 0) ids.push_back(llama->eos_token_id);
  }
  const int64_t text_end = model.tokenizer().special_token_id("<|endoftext|>");
  if (ids.empty() && text_end >= 0) ids.push_back(text_end);
  return ids;
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
  for (const auto& text : texts) {
    Encoding enc = model.tokenizer().encode(text);
    at::Tensor embeds = clip.text_embeds(ids_to_tensor(enc.ids, device));
    out.text_embeds.push_back(to_vector(embeds));
    if (pixels) out.logits_per_image.push_back(clip.logits(image, embeds).item<float>());
  }
  return out;
}

namespace {

// SigLIP is trained with a sigmoid per (image, text) pair: each label's probability is its own.
std::vector<LabelScore> siglip_zero_shot(const Model& model, const PixelTensor& pixels,
                                         const std::vector<std::string>& labels) {
  c10::InferenceMode inference;
  const SiglipModel& siglip = *model.impl().siglip;
  const at::Device device = model.impl().device;
  at::Tensor image = siglip.image_embeds(pixels_to_tensor(pixels, device));
  std::vector<at::Tensor> texts;
  for (const auto& label : labels)
    texts.push_back(siglip.text_embeds(
        ids_to_tensor(siglip_text_ids(siglip, model.tokenizer(), label), device)));
  at::Tensor logits = siglip.logits(image, at::cat(texts, 0)).squeeze(0);  // (K)
  std::vector<float> values = to_vector(logits), probs = to_vector(at::sigmoid(logits));
  std::vector<LabelScore> out;
  for (size_t i = 0; i < labels.size(); ++i) out.push_back({labels[i], values[i], probs[i]});
  return out;
}

}  // namespace

std::vector<LabelScore> zero_shot(const Model& model, const PixelTensor& pixels,
                                  const std::vector<std::string>& labels) {
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
  Encoding enc = model.tokenizer().encode(text);
  if (enc.ids.empty()) throw InputError("the text is empty: nothing to run the model on");
  LmForward out;
  at::Tensor hidden =
      lm.forward_embeds(prompt_embeds(model, enc.ids, pixels, &out.ids), nullptr, nullptr);
  out.last_logits = to_vector(lm.lm_logits(hidden.select(1, hidden.size(1) - 1)));
  return out;
}

std::vector<InputPosition> input_layout(const Model& model, const std::string& prompt,
                                        int image_width, int image_height) {
  Encoding enc = model.tokenizer().encode(prompt);
  const auto& impl = model.impl();
  const int64_t image_id = impl.llava ? impl.llava->config().image_token_index : -1;
  std::vector<InputPosition> out;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    if (enc.ids[i] == image_id) {
      // Anyres models have as many image tokens as the image's size gives; plain LLaVA a fixed
      // number, whatever the size.
      const bool anyres = impl.llava->config().anyres();
      if (anyres && (image_width <= 0 || image_height <= 0))
        throw InputError(model.architecture() +
                         " has as many image tokens as the image's size gives: open the image "
                         "first");
      const CropGeometry geometry =
          anyres ? model.input_geometry(image_width, image_height).geometry : CropGeometry{};
      for (const ImageToken& token : impl.llava->image_layout(geometry)) {
        InputPosition p;
        p.is_image = true;
        p.view = token.view;
        p.row = token.newline ? -1 : token.row;
        p.col = token.col;
        if (anyres) p.rect = token.rect;
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
  Encoding enc = model.tokenizer().encode(prompt);
  if (enc.ids.empty()) throw InputError("the prompt is empty");
  std::vector<int64_t> model_ids;
  KVCache cache;
  at::Tensor embeds = prompt_embeds(model, enc.ids, pixels, &model_ids);
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
  at::Tensor hidden = lm.forward_embeds(embeds, steer(n), &cache);
  const std::vector<int64_t> eos = end_tokens(model);
  const int64_t budget = std::min<int64_t>(max_new_tokens, lm.max_positions() - cache.length());
  Generation out;
  for (int64_t step = 0; step < budget; ++step) {
    int64_t next = lm.lm_logits(hidden.select(1, hidden.size(1) - 1)).argmax(-1).item<int64_t>();
    if (std::find(eos.begin(), eos.end(), next) != eos.end()) break;
    out.ids.push_back(next);
    if (step + 1 == budget) break;
    hidden = lm.forward_embeds(lm.embed_tokens(ids_to_tensor({next}, model.impl().device)),
                               steer(cache.length() + 1), &cache);
  }
  for (int64_t id : out.ids) out.tokens.push_back(model.tokenizer().decode({id}));
  out.text = model.tokenizer().decode(out.ids);
  return out;
}

}  // namespace atman
