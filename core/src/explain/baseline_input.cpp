// Preparing a request for the baseline explainers: AtMan's task factories give the candidates and
// the skeleton; this file rebuilds the differentiable path from input embeddings to the target
// log-probabilities with the same loss AtMan uses (spec §4).
#include <ATen/ATen.h>

#include <algorithm>
#include <memory>

#include "atman/error.h"
#include "explain/baseline_input.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::detail {
namespace {

// CLIP zero-shot, spec §4: L = -log softmax(exp(s) · cos(image, text_k))[target].
BaselineInput prepare_clip(const ExplainRequest& r, BaselineInput in) {
  const Model& model = *r.model;
  const ClipModel& clip = *model.impl().clip;
  const at::Device device = model.impl().device;
  const int64_t target = std::find(r.labels.begin(), r.labels.end(), r.target) -
                         r.labels.begin();  // checked by the task
  at::Tensor patches = clip.vision().patch_embeddings(
      pixels_to_tensor(preprocess_clip(*r.image, model.preprocess_config()), device));  // (1, P, C)
  std::vector<std::vector<int64_t>> label_ids;
  for (const auto& label : r.labels) label_ids.push_back(model.tokenizer().encode(label).ids);
  const std::vector<int64_t> target_ids = label_ids[target];
  const at::Tensor text_embeds = clip.text_embeds(label_ids, device);  // (K, Pd), fixed

  if (r.explain == ExplainWhat::ImagePatches) {
    const ClipModel* m = &clip;
    in.embeds = patches;
    in.embed_offset = 1;
    in.positions = patches.size(1) + 1;
    in.rows = {0};  // the class token
    in.layers = clip.config().vision.num_hidden_layers;
    in.hidden = [m](const at::Tensor& x, const Suppression* s) { return m->vision().encode(x, s); };
    in.log_probs = [m, text_embeds, target](const at::Tensor& h, const Suppression*) {
      at::Tensor logits = m->logits(m->image_embeds_from_hidden(h), text_embeds);  // (B, K)
      return at::log_softmax(logits, -1).narrow(1, target, 1);                     // (B, 1)
    };
    return in;
  }

  // Label tokens: the target label's text tower is explained, the image embedding stays fixed.
  const at::Tensor image = clip.image_embeds_from_patches(patches);  // (1, Pd)
  const at::Tensor ids = ids_to_tensor(target_ids, device);          // (1, T)
  const at::Tensor fixed = clip.logits(image, text_embeds);          // (1, K)
  const at::Tensor is_target =
      (at::arange(fixed.size(1), at::kLong) == target).view({1, -1}).to(device);
  const ClipModel* m = &clip;
  in.embeds = clip.token_embeddings(ids);  // (1, T, C)
  in.embed_offset = 0;
  in.positions = ids.size(1);
  in.rows = {clip.text_end_positions(ids)[0].item<int64_t>()};  // the end token it pools at
  in.layers = clip.config().text.num_hidden_layers;
  in.hidden = [m](const at::Tensor& x, const Suppression* s) { return m->text_hidden(x, s); };
  in.log_probs = [m, ids, image, fixed, is_target, target](const at::Tensor& h,
                                                           const Suppression*) {
    const int64_t B = h.size(0);
    at::Tensor text = m->text_embeds_from_hidden(h, ids.expand({B, -1}));  // (B, Pd)
    at::Tensor own = m->logits(image, text).t();                           // (B, 1)
    at::Tensor logits = at::where(is_target, own, fixed);                  // (B, K)
    return at::log_softmax(logits, -1).narrow(1, target, 1);
  };
  return in;
}

// SigLIP and SigLIP 2 zero-shot (siglip_task.cpp, siglip2_task.cpp): the image patches are
// explained with AtMan's loss (siglip_target_loss: -log σ(logit of the target), or the softmax
// over the labels with --siglip-loss softmax); the label embeddings stay fixed. `hidden` is the
// vision encoder (no class token: position i is patch i), `log_probs` post_layernorm, the
// attention-pooling head and the loss. The pooling head is where the image is read out, so the
// attention methods start from its probe's attention row (pooling_head; baseline_methods.cpp).
BaselineInput prepare_siglip(const ExplainRequest& r, BaselineInput in) {
  const Model& model = *r.model;
  const SiglipModel* m = model.impl().siglip.get();
  const at::Device device = model.impl().device;
  const int64_t target = target_label_index(r, "SigLIP");
  const at::Tensor text_embeds =
      siglip_label_embeds(*m, model.tokenizer(), r.labels, device);  // (K, C), fixed
  in.embeds = m->patch_embeddings(
      pixels_to_tensor(preprocess_clip(*r.image, model.preprocess_config()), device));  // (1, P, C)
  in.embed_offset = 0;
  in.positions = in.embeds.size(1);
  in.rows = {0};
  in.layers = m->config().vision.num_hidden_layers;
  in.pooling_head = true;
  in.hidden = [m](const at::Tensor& x, const Suppression* s) { return m->encode(x, s); };
  const SiglipLoss loss = r.siglip_loss;
  in.log_probs = [m, text_embeds, target, loss](const at::Tensor& h, const Suppression* s) {
    const at::Tensor logits = m->logits(m->image_embeds_from_hidden(h, s), text_embeds);  // (B, K)
    return -siglip_target_loss(logits, target, loss).unsqueeze(1);                        // (B, 1)
  };
  return in;
}

// SigLIP 2 NaFlex: as SigLIP, with the processor's patch rows (max_num_patches, padding masked in
// the encoder and the head). The attributed embeddings are the Linear patch embeddings before the
// resized positions (as CLIP's and SigLIP's are the conv outputs); the padding rows are part of
// the input but never candidates, and get no gradient and no attention through the mask.
BaselineInput prepare_siglip2(const ExplainRequest& r, BaselineInput in) {
  const Model& model = *r.model;
  const Siglip2Model* m = model.impl().siglip2.get();
  const at::Device device = model.impl().device;
  const int64_t target = target_label_index(r, "SigLIP 2");
  const at::Tensor text_embeds =
      siglip2_label_embeds(*m, model.tokenizer(), r.labels, device);  // (K, C), fixed
  const Siglip2Pixels pixels = m->preprocess(*r.image);
  const at::Tensor mask = m->patch_mask(pixels);  // (1, N) bool
  const at::Tensor positions = m->position_embeddings(pixels.rows, pixels.cols, pixels.max_patches);
  in.embeds = m->patch_embeddings(m->patches_tensor(pixels));  // (1, N, C)
  in.embed_offset = 0;
  in.positions = in.embeds.size(1);
  in.rows = {0};
  in.layers = m->config().vision.num_hidden_layers;
  in.pooling_head = true;
  in.present = mask[0].to(at::kCPU);
  in.hidden = [m, positions, mask](const at::Tensor& x, const Suppression* s) {
    return m->encode(x + positions, mask, s);
  };
  const SiglipLoss loss = r.siglip_loss;
  in.log_probs = [m, text_embeds, mask, target, loss](const at::Tensor& h, const Suppression* s) {
    const at::Tensor logits = m->logits(m->image_embeds_from_hidden(h, mask, s), text_embeds);
    return -siglip_target_loss(logits, target, loss).unsqueeze(1);  // (B, 1)
  };
  return in;
}

// Causal LM / LLaVA / Idefics3 / Qwen2.5-VL, spec §4: input = prompt + target[:-1]; F_t = log
// p(target t) at position n_prompt - 1 + t.
BaselineInput prepare_lm(const ExplainRequest& r, BaselineInput in) {
  const Model& model = *r.model;
  const auto& impl = model.impl();
  const CausalLM* lm = &impl.language_model();
  const Tokenizer& tok = model.tokenizer();
  // LLaVA-style models encode as their processors do (PaliGemma adds image, <bos> and "\n").
  std::vector<int64_t> ids =
      impl.llava ? impl.llava->encode_prompt(tok, r.prompt).ids : tok.encode(r.prompt).ids;
  const std::vector<int64_t> target = impl.llava ? impl.llava->encode_answer(tok, r.target).ids
                                                 : tok.encode(r.target).ids;  // task checked
  // Qwen2.5-VL: the decoder at this input's M-RoPE positions; PaliGemma: the decoder with the
  // prompt as a bidirectional prefix.
  std::shared_ptr<const CausalLM> own;
  if (impl.qwen_vl) {
    // As the AtMan task builds it (lm_task.cpp): the processor's own resize, one image.
    const Qwen2_5_VLModel& qwen = *impl.qwen_vl;
    const Qwen2VLPixels pixels = qwen.preprocess(*r.image);
    const at::Tensor features = qwen.image_features(pixels);  // (N, C)
    ids = qwen.expand_image_tokens(qwen.encode_prompt(tok, r.prompt).ids, features.size(0));
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), target.begin(), target.end() - 1);
    in.embeds = qwen.input_embeds(ids, features);
    for (size_t t = 0; t < target.size(); ++t) in.rows.push_back(n_prompt - 1 + t);
    own = std::make_shared<MropeSequence>(
        qwen.language_model(), qwen.rope_index(ids, pixels.merged_rows(), pixels.merged_cols()));
    lm = own.get();
  } else if (impl.idefics3) {
    // As lm_task.cpp builds it: the prompt's one <image> becomes the processor's image text
    // (markers, row/column tokens, each view's <image> run), whose <image> rows are the
    // connector's features; the decoder is a plain causal Llama.
    const Idefics3Model& idefics3 = *impl.idefics3;
    const PixelTensor pixels = model.preprocess(*r.image);
    const at::Tensor features = idefics3.image_features(pixels_to_tensor(pixels, impl.device));
    ids = idefics3.expand_image_tokens(ids, tok, pixels.geometry);
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), target.begin(), target.end() - 1);
    in.embeds = idefics3.input_embeds(ids, features);
    for (size_t t = 0; t < target.size(); ++t) in.rows.push_back(n_prompt - 1 + t);
  } else if (impl.llava) {
    const PixelTensor pixels = model.preprocess(*r.image);
    at::Tensor features =
        impl.llava->image_features(pixels_to_tensor(pixels, impl.device), pixels.geometry);
    ids = impl.llava->expand_image_tokens(ids, features.size(1));
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    if (impl.llava->config().paligemma()) {
      own = std::make_shared<PrefixLM>(impl.llava->language_model(), n_prompt);
      lm = own.get();
    }
    ids.insert(ids.end(), target.begin(), target.end() - 1);
    in.embeds = impl.llava->input_embeds(ids, features);
    for (size_t t = 0; t < target.size(); ++t) in.rows.push_back(n_prompt - 1 + t);
  } else {
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), target.begin(), target.end() - 1);
    in.embeds = lm->embed_tokens(ids_to_tensor(ids, impl.device));
    for (size_t t = 0; t < target.size(); ++t) in.rows.push_back(n_prompt - 1 + t);
  }
  in.embed_offset = 0;
  in.positions = static_cast<int64_t>(ids.size());
  in.layers = lm->num_layers();
  const at::Tensor rows = at::tensor(in.rows, at::kLong).to(impl.device);
  const at::Tensor target_index = at::tensor(target, at::kLong).to(impl.device);
  in.hidden = [lm, own](const at::Tensor& x, const Suppression* s) {
    return lm->forward_embeds(x, s, nullptr);
  };
  in.log_probs = [lm, own, rows, target_index](const at::Tensor& h, const Suppression*) {
    at::Tensor logp = at::log_softmax(lm->lm_logits(h.index_select(1, rows)), -1);  // (B, nt, V)
    return logp.gather(2, target_index.view({1, -1, 1}).expand({h.size(0), -1, 1})).squeeze(2);
  };
  return in;
}

}  // namespace

BaselineInput prepare_baseline_input(const ExplainRequest& r) {
  if (!r.model) throw InputError("no model loaded");
  require_weights(*r.model);
  if (r.tile < 1 || r.tile > 64) throw InputError("the tile size must be 1..64 patches");
  if (r.batch_size < 0 || r.batch_size > 4096)
    throw InputError("batch size must be 0 (auto) .. 4096");
  at::NoGradGuard no_grad;
  BaselineInput in;
  in.task = make_task(r);  // validates; AtMan's candidates
  const ModelKind kind = r.model->kind();
  const bool labels = kind == ModelKind::Clip || kind == ModelKind::Siglip;
  if (kind == ModelKind::Clip)
    in = prepare_clip(r, std::move(in));
  else if (kind == ModelKind::Siglip)
    in = r.model->impl().siglip2 ? prepare_siglip2(r, std::move(in))
                                 : prepare_siglip(r, std::move(in));
  else
    in = prepare_lm(r, std::move(in));
  if (static_cast<int64_t>(in.rows.size()) !=
          static_cast<int64_t>(in.task->skeleton.target_tokens.size()) &&
      !labels)
    throw Error("baseline input: " + std::to_string(in.rows.size()) + " target rows for " +
                std::to_string(in.task->skeleton.target_tokens.size()) + " target tokens");
  for (const auto& c : in.task->candidates)
    for (int p : c.positions)
      if (p < in.embed_offset || p >= in.positions)
        throw Error("baseline input: candidate position " + std::to_string(p) +
                    " outside the attributed embeddings");
  // Kept per layer for backward: attention scores/weights and their gradients (a few H·S² floats)
  // and about a dozen (S, C)-sized activations; the task's estimate covers one layer of that.
  in.grad_bytes_per_item =
      std::max<int64_t>(1, in.layers) * std::max<int64_t>(1, in.task->bytes_per_item());
  return in;
}

}  // namespace atman::detail
