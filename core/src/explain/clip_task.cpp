// Perturbation tasks of CLIP zero-shot classification, spec §4:
// L = -log softmax(exp(logit_scale) * cos(image, text_k))[target].
// Patches: the vision tower is perturbed (the class token is never a candidate), text fixed.
// Tokens: the target label's text tower is perturbed (tokens between start and end), image fixed.
#include <ATen/ATen.h>

#include "atman/error.h"
#include "explain/task.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::detail {
namespace {

class ClipTask final : public PerturbationTask {
 public:
  explicit ClipTask(const ExplainRequest& request)
      : request_(request),
        model_(*request.model),
        clip_(*model_.impl().clip),
        device_(model_.impl().device) {
    target_ = target_label_index(request, "CLIP");
    if (request.explain == ExplainWhat::All)
      throw InputError("CLIP explains either image patches or label tokens, not both at once");

    PixelTensor pixels = preprocess_clip(*request.image, model_.preprocess_config());
    patch_embeds_ =
        clip_.vision().patch_embeddings(pixels_to_tensor(pixels, device_));  // (1, P, C)
    std::vector<std::vector<int64_t>> label_ids;
    for (const auto& label : request.labels) {
      Encoding enc = model_.tokenizer().encode(label);
      if (static_cast<int64_t>(enc.ids.size()) > clip_.max_text_length())
        throw InputError("label '" + label + "' has " + std::to_string(enc.ids.size()) +
                         " tokens; CLIP reads at most " + std::to_string(clip_.max_text_length()));
      if (&label == &request.labels[target_]) target_encoding_ = enc;
      label_ids.push_back(enc.ids);
    }
    // All labels in one batch: one forward per label costs several times its FLOPs.
    text_embeds_ = clip_.text_embeds(label_ids, device_);            // (K, Pd)
    image_embeds_ = clip_.image_embeds_from_patches(patch_embeds_);  // (1, Pd)

    skeleton.model = model_.name();
    skeleton.architecture = model_.architecture();
    skeleton.target = request.target;
    skeleton.labels = request.labels;
    skeleton.target_tokens = {request.target};
    skeleton.image_width = request.image->width;
    skeleton.image_height = request.image->height;
    if (request.explain == ExplainWhat::ImagePatches)
      add_patches(pixels.geometry);
    else
      add_label_tokens();
  }

  std::vector<double> baseline() override {
    return {loss_of(clip_.logits(image_embeds_, text_embeds_))[0].item<double>()};
  }

  std::vector<std::vector<double>> losses(const std::vector<const Mask*>& masks) override {
    const int64_t B = static_cast<int64_t>(masks.size());
    if (request_.explain == ExplainWhat::ImagePatches) {
      const int64_t positions = patch_embeds_.size(1) + 1;  // class token at 0
      Suppression s = make_suppression(masks, positions, request_,
                                       clip_.config().vision.num_hidden_layers, "tower", device_);
      // One input for all masks: the work before the first suppressed attention (embeddings,
      // pre-norm, layer 0's Q/K/V) is the same for every mask, so it runs once and broadcasts.
      at::Tensor images = clip_.image_embeds_from_patches(patch_embeds_, &s).expand({B, -1});
      return loss_rows(loss_of(clip_.logits(images, text_embeds_)));  // (B, K) -> (B)
    }
    const int64_t T = static_cast<int64_t>(target_encoding_.ids.size());
    Suppression s = make_suppression(masks, T, request_, clip_.config().text.num_hidden_layers,
                                     "tower", device_);
    at::Tensor ids = ids_to_tensor(target_encoding_.ids, device_);
    at::Tensor hidden = clip_.text_hidden(clip_.token_embeddings(ids), &s);  // broadcast as above
    at::Tensor perturbed =
        clip_.text_embeds_from_hidden(hidden.expand({B, -1, -1}), ids.expand({B, -1}));  // (B, Pd)
    at::Tensor logits =
        clip_.logits(image_embeds_, text_embeds_).expand({B, -1}).clone();  // (B, K)
    logits.select(1, target_).copy_(clip_.logits(image_embeds_, perturbed).squeeze(0));
    return loss_rows(loss_of(logits));
  }

  int64_t bytes_per_item() const override {
    if (request_.explain == ExplainWhat::ImagePatches)
      return encoder_bytes_per_item(clip_.config().vision, patch_embeds_.size(1) + 1);
    return encoder_bytes_per_item(clip_.config().text, (int64_t)target_encoding_.ids.size());
  }

 private:
  at::Tensor loss_of(const at::Tensor& logits) const {  // (B, K) -> (B)
    return -at::log_softmax(logits, -1).select(1, target_);
  }

  void add_patches(const CropGeometry& geometry) {
    const int grid = clip_.vision().grid_size();
    // +1: the class token comes first.
    auto tiled = tile_patches(grid, request_.tile, clip_.config().vision.patch_size, geometry,
                              [](int64_t patch) { return 1 + patch; });
    for (auto& cand : tiled.candidates) {
      cand.index = static_cast<int>(candidates.size());
      candidates.push_back(std::move(cand));
    }
    // Correlated similarity over the patch embeddings (P, C), indexed by patch.
    candidate_embeddings = group_embeddings(patch_embeds_.squeeze(0), tiled.patches);
    skeleton.grid_rows = skeleton.grid_cols = grid;
  }

  void add_label_tokens() {
    const auto& enc = target_encoding_;
    if (enc.ids.size() < 3) throw InputError("the target label has no tokens to explain");
    // Candidates: the tokens between the start and end markers.
    std::vector<std::pair<int64_t, int64_t>> spans(enc.spans.begin() + 1, enc.spans.end() - 1);
    const std::u32string text = to_u32(request_.target);
    at::Tensor rows = clip_.token_embeddings(ids_to_tensor(enc.ids, device_)).squeeze(0);  // (T, C)
    std::vector<std::vector<int64_t>> groups;
    for (auto& cand : token_candidates(spans, text, request_, [](int g) { return g + 1; })) {
      cand.index = static_cast<int>(candidates.size());
      groups.emplace_back(cand.positions.begin(), cand.positions.end());
      candidates.push_back(std::move(cand));
    }
    candidate_embeddings = group_embeddings(rows, groups);
  }

  const ExplainRequest request_;  // a copy: the task outlives the caller's request in the cache
  const Model& model_;
  const ClipModel& clip_;
  at::Device device_;
  int64_t target_ = 0;
  Encoding target_encoding_;
  at::Tensor patch_embeds_, text_embeds_, image_embeds_;
};

}  // namespace

std::unique_ptr<PerturbationTask> make_clip_task(const ExplainRequest& request) {
  return std::make_unique<ClipTask>(request);
}

}  // namespace atman::detail
