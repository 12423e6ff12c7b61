// Perturbation task of SigLIP 2 NaFlex zero-shot classification: SigLIP's losses (siglip_task.cpp)
// over Siglip2Model. The image keeps its aspect ratio, so the patch grid is rows x cols of the
// resized image; the candidates are its real patches (position r * cols + c), each mapped back to
// its rectangle of the user's image. The padding up to max_num_patches is masked in every attention
// and is never a candidate (its factors stay 1; spec §1's row minimum still spans it, as the mask
// is applied after the suppression).
#include <ATen/ATen.h>

#include <algorithm>

#include "atman/error.h"
#include "explain/task.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::detail {
namespace {

class Siglip2Task final : public PerturbationTask {
 public:
  explicit Siglip2Task(const ExplainRequest& request)
      : request_(request),
        model_(*request.model),
        siglip_(*model_.impl().siglip2),
        device_(model_.impl().device) {
    target_ = target_label_index(request, "SigLIP 2");
    if (request.explain != ExplainWhat::ImagePatches)
      throw InputError("SigLIP 2 explains image patches only (--explain patches)");

    pixels_ = siglip_.preprocess(*request.image);
    mask_ = siglip_.patch_mask(pixels_);
    const at::Tensor patch_embeds = siglip_.patch_embeddings(siglip_.patches_tensor(pixels_));
    embeds_ =
        patch_embeds + siglip_.position_embeddings(pixels_.rows, pixels_.cols, pixels_.max_patches);
    text_embeds_ = siglip2_label_embeds(siglip_, model_.tokenizer(), request.labels, device_);
    image_embeds_ = siglip_.image_embeds_from_embeddings(embeds_, mask_);  // (1, C)

    skeleton.model = model_.name();
    skeleton.architecture = model_.architecture();
    skeleton.target = request.target;
    skeleton.labels = request.labels;
    skeleton.target_tokens = {request.target};
    skeleton.image_width = request.image->width;
    skeleton.image_height = request.image->height;
    skeleton.loss = request.siglip_loss;
    skeleton.grid_rows = pixels_.rows;
    skeleton.grid_cols = pixels_.cols;

    // tile x tile real patches per candidate, clipped at the grid's border, in row-major order.
    std::vector<std::vector<int64_t>> groups;
    const int k = std::max(1, request.tile);
    for (int r = 0; r < pixels_.rows; r += k)
      for (int c = 0; c < pixels_.cols; c += k) {
        Candidate cand;
        cand.kind = CandidateKind::Patch;
        cand.index = static_cast<int>(candidates.size());
        cand.row = r;
        cand.col = c;
        cand.rows = std::min(k, pixels_.rows - r);
        cand.cols = std::min(k, pixels_.cols - c);
        for (int rr = r; rr < r + cand.rows; ++rr)
          for (int cc = c; cc < c + cand.cols; ++cc)
            cand.positions.push_back(rr * pixels_.cols + cc);
        cand.rect = pixels_.rect(r, c, cand.rows, cand.cols);
        groups.emplace_back(cand.positions.begin(), cand.positions.end());
        candidates.push_back(std::move(cand));
      }
    candidate_embeddings = group_embeddings(patch_embeds.squeeze(0), groups);
  }

  std::vector<double> baseline() override {
    return {loss_of(siglip_.logits(image_embeds_, text_embeds_))[0].item<double>()};
  }

  std::vector<std::vector<double>> losses(const std::vector<const Mask*>& masks) override {
    const int64_t B = static_cast<int64_t>(masks.size());
    // The head's attention counts as the layer after the encoder's (SiglipPoolingHead).
    Suppression s =
        make_suppression(masks, embeds_.size(1), request_,
                         siglip_.config().vision.num_hidden_layers + 1, "tower", device_);
    at::Tensor images = siglip_.image_embeds_from_embeddings(embeds_, mask_, &s).expand({B, -1});
    return loss_rows(loss_of(siglip_.logits(images, text_embeds_)));
  }

  int64_t bytes_per_item() const override {
    return encoder_bytes_per_item(siglip_.config().vision, embeds_.size(1));
  }

 private:
  at::Tensor loss_of(const at::Tensor& logits) const {  // (B, K) -> (B)
    return siglip_target_loss(logits, target_, request_.siglip_loss);
  }

  const ExplainRequest request_;  // a copy: the task outlives the caller's request in the cache
  const Model& model_;
  const Siglip2Model& siglip_;
  at::Device device_;
  int64_t target_ = 0;
  Siglip2Pixels pixels_;
  at::Tensor mask_;    // (1, N) pixel_attention_mask
  at::Tensor embeds_;  // (1, N, C) patch + position embeddings
  at::Tensor text_embeds_, image_embeds_;
};

}  // namespace

std::unique_ptr<PerturbationTask> make_siglip2_task(const ExplainRequest& request) {
  return std::make_unique<Siglip2Task>(request);
}

}  // namespace atman::detail
