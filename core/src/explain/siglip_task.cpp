// Perturbation task of SigLIP zero-shot classification (spec §4, CLIP's case with SigLIP's
// scores): logits_k = exp(logit_scale) * cos(image, text_k) + logit_bias, and
//   L = -log σ(logits_target)                (SiglipLoss::Sigmoid, the default: SigLIP is trained
//                                             and read out per label, with a sigmoid)
//   L = -log softmax(logits)[target]         (SiglipLoss::Softmax, CLIP's loss over the labels)
// Patches are the candidates (no class token: patch i is key position i); the vision tower and the
// pooling head are perturbed, the text embeddings fixed.
#include <ATen/ATen.h>

#include "atman/error.h"
#include "explain/task.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::detail {
namespace {

class SiglipTask final : public PerturbationTask {
 public:
  explicit SiglipTask(const ExplainRequest& request)
      : request_(request),
        model_(*request.model),
        siglip_(*model_.impl().siglip),
        device_(model_.impl().device) {
    target_ = target_label_index(request, "SigLIP");
    if (request.explain != ExplainWhat::ImagePatches)
      throw InputError("SigLIP explains image patches only (--explain patches)");

    PixelTensor pixels = preprocess_clip(*request.image, model_.preprocess_config());
    patch_embeds_ = siglip_.patch_embeddings(pixels_to_tensor(pixels, device_));  // (1, P, C)
    text_embeds_ = siglip_label_embeds(siglip_, model_.tokenizer(), request.labels, device_);
    image_embeds_ = siglip_.image_embeds_from_patches(patch_embeds_);  // (1, C)

    skeleton.model = model_.name();
    skeleton.architecture = model_.architecture();
    skeleton.target = request.target;
    skeleton.labels = request.labels;
    skeleton.target_tokens = {request.target};
    skeleton.image_width = request.image->width;
    skeleton.image_height = request.image->height;
    skeleton.loss = request.siglip_loss;
    const int grid = siglip_.grid_size();
    auto tiled = tile_patches(grid, request.tile, siglip_.config().vision.patch_size,
                              pixels.geometry, [](int64_t patch) { return patch; });
    for (auto& cand : tiled.candidates) {
      cand.index = static_cast<int>(candidates.size());
      candidates.push_back(std::move(cand));
    }
    candidate_embeddings = group_embeddings(patch_embeds_.squeeze(0), tiled.patches);
    skeleton.grid_rows = skeleton.grid_cols = grid;
  }

  std::vector<double> baseline() override {
    return {loss_of(siglip_.logits(image_embeds_, text_embeds_))[0].item<double>()};
  }

  std::vector<std::vector<double>> losses(const std::vector<const Mask*>& masks) override {
    const int64_t B = static_cast<int64_t>(masks.size());
    // The head's attention counts as the layer after the encoder's (SiglipPoolingHead).
    Suppression s =
        make_suppression(masks, patch_embeds_.size(1), request_,
                         siglip_.config().vision.num_hidden_layers + 1, "tower", device_);
    at::Tensor images = siglip_.image_embeds_from_patches(patch_embeds_, &s).expand({B, -1});
    return loss_rows(loss_of(siglip_.logits(images, text_embeds_)));
  }

  int64_t bytes_per_item() const override {
    return encoder_bytes_per_item(siglip_.config().vision, patch_embeds_.size(1));
  }

 private:
  at::Tensor loss_of(const at::Tensor& logits) const {  // (B, K) -> (B)
    return siglip_target_loss(logits, target_, request_.siglip_loss);
  }

  const ExplainRequest request_;  // a copy: the task outlives the caller's request in the cache
  const Model& model_;
  const SiglipModel& siglip_;
  at::Device device_;
  int64_t target_ = 0;
  at::Tensor patch_embeds_, text_embeds_, image_embeds_;
};

}  // namespace

std::unique_ptr<PerturbationTask> make_siglip_task(const ExplainRequest& request) {
  return std::make_unique<SiglipTask>(request);
}

}  // namespace atman::detail
