#include "atman/inference.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "atman/error.h"
#include "atman/models/inputs.h"
#include "atman/models/loaded_model.h"

namespace atman {
namespace {

const ClipModel& require_clip(const Model& model) {
  if (!model.impl().clip)
    throw InputError("model '" + model.name() + "' is a " + model.architecture() +
                     " model, not CLIP");
  return *model.impl().clip;
}

const CausalLM& require_lm(const Model& model) {
  if (model.kind() == ModelKind::Clip)
    throw InputError("model '" + model.name() + "' is CLIP, not a language model");
  return model.impl().language_model();
}

// Input embeddings of a prompt: token embeddings, or for LLaVA the prompt with its image.
at::Tensor prompt_embeds(const Model& model, const std::vector<int64_t>& ids,
                         const PixelTensor* pixels, std::vector<int64_t>* model_ids) {
  const auto& impl = model.impl();
  if (impl.llava) {
    if (!pixels) throw InputError("LLaVA model '" + model.name() + "' needs an image");
    *model_ids = impl.llava->expand_image_tokens(ids);
    at::Tensor features = impl.llava->image_features(pixels_to_tensor(*pixels, impl.device));
    return impl.llava->input_embeds(*model_ids, features);
  }
  *model_ids = ids;
  return impl.lm->embed_tokens(ids_to_tensor(ids, impl.device));
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

std::vector<LabelScore> zero_shot(const Model& model, const PixelTensor& pixels,
                                  const std::vector<std::string>& labels) {
  if (labels.empty()) throw InputError("no labels given to rank");
  ClipForward forward = clip_forward(model, &pixels, labels);
  at::Tensor logits = at::tensor(forward.logits_per_image, at::kFloat);
  std::vector<float> probs = to_vector(at::softmax(logits, 0));
  std::vector<LabelScore> out;
  for (size_t i = 0; i < labels.size(); ++i)
    out.push_back({labels[i], forward.logits_per_image[i], probs[i]});
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
  at::Tensor hidden = lm.forward_embeds(prompt_embeds(model, enc.ids, pixels, &out.ids), nullptr, nullptr);
  out.last_logits = to_vector(lm.lm_logits(hidden.select(1, hidden.size(1) - 1)));
  return out;
}

Generation generate(const Model& model, const std::string& prompt, int max_new_tokens,
                    const PixelTensor* pixels) {
  c10::InferenceMode inference;
  const CausalLM& lm = require_lm(model);
  Encoding enc = model.tokenizer().encode(prompt);
  if (enc.ids.empty()) throw InputError("the prompt is empty");
  std::vector<int64_t> model_ids;
  KVCache cache;
  at::Tensor hidden = lm.forward_embeds(prompt_embeds(model, enc.ids, pixels, &model_ids), nullptr, &cache);
  const int64_t eos = model.tokenizer().special_token_id("<|endoftext|>");
  const int64_t budget = std::min<int64_t>(max_new_tokens, lm.max_positions() - cache.length());
  Generation out;
  for (int64_t step = 0; step < budget; ++step) {
    int64_t next = lm.lm_logits(hidden.select(1, hidden.size(1) - 1)).argmax(-1).item<int64_t>();
    if (next == eos) break;
    out.ids.push_back(next);
    if (step + 1 == budget) break;
    hidden = lm.forward_embeds(lm.embed_tokens(ids_to_tensor({next}, model.impl().device)), nullptr,
                               &cache);
  }
  for (int64_t id : out.ids) out.tokens.push_back(model.tokenizer().decode({id}));
  out.text = model.tokenizer().decode(out.ids);
  return out;
}

}  // namespace atman
