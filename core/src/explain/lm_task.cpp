// Perturbation task of causal LMs (GPT-2, Llama-style) and image-prefix LMs (LLaVA, Idefics3,
// Qwen2.5-VL), spec §4: input = prompt + target[:-1]; L_t = cross-entropy of target token t at
// position n_prompt - 1 + t. Keys/values of the positions before a mask's first suppressed
// position are reused from the unperturbed pass (spec §5), and the LM head runs only at the target
// positions. PaliGemma's prompt is a bidirectional prefix: every prompt position sees the
// suppressed ones, so nothing is reused there.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>

#include "atman/error.h"
#include "explain/task.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

namespace atman::detail {
namespace {

class LmTask final : public PerturbationTask {
 public:
  LmTask(const ExplainRequest& request) : request_(request), model_(*request.model) {
    const auto& impl = model_.impl();
    lm_ = &impl.language_model();
    if (request.prompt.empty()) throw InputError("the prompt is empty: nothing to explain");
    if (request.target.empty()) throw InputError("the target is empty: give the text to explain");
    const Tokenizer& tok = model_.tokenizer();
    paligemma_ = impl.llava && impl.llava->config().paligemma();
    Encoding prompt = impl.qwen_vl ? impl.qwen_vl->encode_prompt(tok, request.prompt)
                      : impl.llava ? impl.llava->encode_prompt(tok, request.prompt)
                                   : tok.encode(request.prompt);
    Encoding target =
        impl.llava ? impl.llava->encode_answer(tok, request.target) : tok.encode(request.target);
    if (target.ids.empty()) throw InputError("the target '" + request.target + "' has no tokens");
    target_ids_ = target.ids;
    for (int64_t id : target_ids_) skeleton.target_tokens.push_back(tok.decode({id}));

    // Model positions of each prompt token (LLaVA's one <image> token becomes N image positions).
    std::vector<int64_t> input_ids;
    std::vector<int64_t> token_position(prompt.ids.size());
    std::vector<int64_t> image_positions;
    at::Tensor image_features;
    if (impl.llava) {
      if (!request.image)
        throw InputError(model_.architecture() + " models need an image to explain");
      PixelTensor pixels = model_.preprocess(*request.image);
      geometry_ = pixels.geometry;
      image_features =
          impl.llava->image_features(pixels_to_tensor(pixels, impl.device), pixels.geometry);
      layout_ = impl.llava->image_layout(pixels.geometry);
      const int64_t image_id = impl.llava->config().image_token_index;
      for (size_t i = 0; i < prompt.ids.size(); ++i) {
        token_position[i] = static_cast<int64_t>(input_ids.size());
        if (prompt.ids[i] == image_id) {
          if (!image_positions.empty())
            throw InputError("the prompt has more than one <image> token; give one image");
          for (size_t k = 0; k < layout_.size(); ++k) {
            image_positions.push_back(static_cast<int64_t>(input_ids.size()));
            input_ids.push_back(image_id);
          }
        } else {
          input_ids.push_back(prompt.ids[i]);
        }
      }
      if (image_positions.empty())
        throw InputError("the prompt has no <image> token; LLaVA prompts look like '" +
                         std::string("<image>\\nQuestion: ... Answer:'"));
    } else if (impl.idefics3) {
      if (!request.image) throw InputError("Idefics3 models need an image to explain");
      PixelTensor pixels = model_.preprocess(*request.image);
      geometry_ = pixels.geometry;
      image_features = impl.idefics3->image_features(pixels_to_tensor(pixels, impl.device));
      layout_ = impl.idefics3->image_layout(pixels.geometry);
      const int64_t image_id = impl.idefics3->config().image_token_id;
      // The processor's text for the image: delimiters, row/column markers and the <image> runs
      // of each view; the <image> positions are the layout's, in order.
      const Idefics3Layout image_layout =
          impl.idefics3->layout(geometry_.original_width, geometry_.original_height);
      const std::vector<int64_t> expansion = impl.idefics3->image_prompt_ids(tok, image_layout);
      for (size_t i = 0; i < prompt.ids.size(); ++i) {
        token_position[i] = static_cast<int64_t>(input_ids.size());
        if (prompt.ids[i] == image_id) {
          if (!image_positions.empty())
            throw InputError("the prompt has more than one <image> token; give one image");
          for (int64_t id : expansion) {
            if (id == image_id) image_positions.push_back(static_cast<int64_t>(input_ids.size()));
            input_ids.push_back(id);
          }
        } else {
          input_ids.push_back(prompt.ids[i]);
        }
      }
      if (image_positions.empty())
        throw InputError("the prompt has no <image> token; SmolVLM prompts look like '" +
                         std::string("<|im_start|>User:<image>Question<end_of_utterance>\\n") +
                         "Assistant:'");
      if (image_positions.size() != layout_.size())
        throw Error("Idefics3: " + std::to_string(image_positions.size()) +
                    " <image> positions for " + std::to_string(layout_.size()) + " image tokens");
    } else if (impl.qwen_vl) {
      if (!request.image) throw InputError("Qwen2.5-VL models need an image to explain");
      qwen_pixels_ = impl.qwen_vl->preprocess(*request.image);  // the processor's own resize
      image_features = impl.qwen_vl->image_features(qwen_pixels_);
      const int64_t image_id = impl.qwen_vl->config().image_token_id;
      impl.qwen_vl->expand_image_tokens(prompt.ids, 1);  // exactly one image, after vision_start
      for (size_t i = 0; i < prompt.ids.size(); ++i) {
        token_position[i] = static_cast<int64_t>(input_ids.size());
        if (prompt.ids[i] == image_id) {
          for (int64_t k = 0; k < image_features.size(0); ++k) {
            image_positions.push_back(static_cast<int64_t>(input_ids.size()));
            input_ids.push_back(image_id);
          }
        } else {
          input_ids.push_back(prompt.ids[i]);
        }
      }
    } else {
      if (request.explain == ExplainWhat::ImagePatches)
        throw InputError(model_.architecture() + " model '" + model_.name() +
                         "' reads no image: explain prompt tokens instead");
      input_ids = prompt.ids;
      for (size_t i = 0; i < prompt.ids.size(); ++i) token_position[i] = static_cast<int64_t>(i);
    }
    if (input_ids.empty()) throw InputError("the prompt has no tokens");
    n_prompt_ = static_cast<int64_t>(input_ids.size());
    input_ids.insert(input_ids.end(), target_ids_.begin(), target_ids_.end() - 1);
    if (static_cast<int64_t>(input_ids.size()) > lm_->max_positions())
      throw InputError("prompt and target are " + std::to_string(input_ids.size()) +
                       " tokens; model '" + model_.name() + "' reads at most " +
                       std::to_string(lm_->max_positions()) + ". Shorten the prompt.");
    total_ = static_cast<int64_t>(input_ids.size());

    if (impl.qwen_vl) {
      // M-RoPE: the decoder runs at this sequence's (t, h, w) positions.
      sequence_ = std::make_unique<MropeSequence>(
          impl.qwen_vl->language_model(),
          impl.qwen_vl->rope_index(input_ids, qwen_pixels_.merged_rows(),
                                   qwen_pixels_.merged_cols()));
      lm_ = sequence_.get();
      embeds_ = impl.qwen_vl->input_embeds(input_ids, image_features);
    } else {
      embeds_ = impl.llava ? impl.llava->input_embeds(input_ids, image_features)
                : impl.idefics3
                    ? impl.idefics3->input_embeds(input_ids, image_features)
                    : lm_->embed_tokens(ids_to_tensor(input_ids, impl.device));  // (1, T, C)
    }
    if (paligemma_) {
      // The prompt (image, <bos>, text, "\n") is the prefix; the target continues it causally.
      prefix_lm_ = std::make_unique<PrefixLM>(impl.llava->language_model(), n_prompt_);
      lm_ = prefix_lm_.get();
    }
    at::Tensor rows = embeds_.squeeze(0);  // (T, C)

    std::vector<std::vector<int64_t>> groups;
    const bool want_image = request.explain != ExplainWhat::PromptTokens;
    const bool want_text = request.explain != ExplainWhat::ImagePatches;
    if (want_image && (impl.llava || impl.idefics3)) add_image_candidates(image_positions, groups);
    if (want_image && impl.qwen_vl) add_merged_token_candidates(image_positions, groups);
    std::vector<int64_t> structural;  // image tokens and their delimiters are no text candidates
    if (impl.llava) structural.push_back(impl.llava->config().image_token_index);
    if (paligemma_) structural.push_back(impl.llava->config().text.bos_token_id);
    if (impl.idefics3) structural.push_back(impl.idefics3->config().image_token_id);
    if (impl.qwen_vl) {
      const auto& c = impl.qwen_vl->config();
      structural = {c.image_token_id, c.vision_start_token_id, c.vision_end_token_id};
    }
    if (want_text) add_token_candidates(prompt, token_position, structural, groups);
    if (candidates.empty())
      throw InputError("nothing to explain: the prompt has no candidate tokens");
    candidate_embeddings = group_embeddings(rows, groups);

    target_index_ = at::tensor(target_ids_, at::kLong).to(impl.device);
    skeleton.model = model_.name();
    skeleton.architecture = model_.architecture();
    skeleton.prompt = request.prompt;
    skeleton.target = request.target;
    if (request.image) {
      skeleton.image_width = request.image->width;
      skeleton.image_height = request.image->height;
      if (impl.llava) skeleton.grid_rows = skeleton.grid_cols = impl.llava->grid_size();
      if (impl.idefics3) skeleton.grid_rows = skeleton.grid_cols = impl.idefics3->token_grid();
      if (impl.qwen_vl) {
        skeleton.grid_rows = qwen_pixels_.merged_rows();
        skeleton.grid_cols = qwen_pixels_.merged_cols();
      }
    }
  }

  std::vector<double> baseline() override {
    prefix_cache_ = KVCache{};
    at::Tensor hidden =
        lm_->forward_embeds(embeds_, nullptr, paligemma_ ? nullptr : &prefix_cache_);
    return target_losses(hidden.slice(1, n_prompt_ - 1))[0];
  }

  // Positions before a mask's first suppressed one see only unsuppressed keys: their keys and
  // values equal the unperturbed pass's, so they are reused (needs the baseline's cache). The
  // target positions are always recomputed.
  int64_t start_of(const Mask& mask) const {
    return request_.reuse_kv_cache && prefix_cache_.length() == total_
               ? std::clamp<int64_t>(mask.first_position(), 0, n_prompt_ - 1)
               : 0;
  }

  double work(const std::vector<const Mask*>& masks) const override {
    // Positions recomputed: from each mask's own start where the model packs the batch, else
    // from the batch's smallest start.
    double rows = 0;
    int64_t first = total_;
    for (const Mask* m : masks) {
      rows += static_cast<double>(total_ - start_of(*m));
      first = std::min(first, start_of(*m));
    }
    return lm_->packs_suffixes() ? rows : static_cast<double>(masks.size()) * (total_ - first);
  }

  std::vector<std::vector<double>> losses(const std::vector<const Mask*>& masks) override {
    Suppression suppression =
        make_suppression(masks, total_, request_, lm_->num_layers(), "model", embeds_.device());
    std::vector<int64_t> starts;
    for (const Mask* m : masks) starts.push_back(start_of(*m));
    const int64_t targets = static_cast<int64_t>(target_ids_.size());
    return target_losses(
        lm_->forward_suffixes(embeds_, starts, suppression, prefix_cache_, targets));
  }

  int64_t bytes_per_item() const override {
    const int64_t T = total_, C = lm_->hidden_size();
    // Attention scores and weights dominate: heads * T * T floats, a few alive at once; then
    // activations (T x 4C for the MLP) and logits at the target positions.
    const int64_t heads = std::max<int64_t>(1, C / 64);
    return 4 *
           (3 * heads * T * T + 12 * T * C + 2 * (int64_t)target_ids_.size() * lm_->vocab_size());
  }

 private:
  // Cross-entropy of each target token, from the hidden states at the target positions (B, nt, C).
  std::vector<std::vector<double>> target_losses(const at::Tensor& at_targets) {
    at::Tensor logp = at::log_softmax(lm_->lm_logits(at_targets), -1);  // (B, nt, V)
    at::Tensor picked =
        logp.gather(2, target_index_.view({1, -1, 1}).expand({at_targets.size(0), -1, 1}));
    at::Tensor loss = (-picked.squeeze(2)).to(at::kCPU, at::kDouble).contiguous();  // (B, nt)
    std::vector<std::vector<double>> out(loss.size(0));
    for (int64_t b = 0; b < loss.size(0); ++b)
      out[b].assign(loss[b].data_ptr<double>(), loss[b].data_ptr<double>() + loss.size(1));
    return out;
  }

  void add_image_candidates(const std::vector<int64_t>& image_positions,
                            std::vector<std::vector<int64_t>>& groups) {
    const LlavaModel* llava = model_.impl().llava.get();
    if (llava && !llava->config().anyres() && llava->config().vision_type == LlavaVision::Clip) {
      const int grid = llava->grid_size();
      // LLaVA-1.5: the patches in row-major order (with "full", the first image token is CLS and
      // is not a candidate), tiled as CLIP's are.
      const int64_t offset = static_cast<int64_t>(image_positions.size()) - grid * grid;
      auto tiled =
          tile_patches(grid, request_.tile, model_.preprocess_config().crop_size / grid, geometry_,
                       [&](int64_t patch) { return image_positions[offset + patch]; });
      for (auto& cand : tiled.candidates) add_candidate(std::move(cand), groups);
      return;
    }
    // Every image token with pixels (base view and tiles; Idefics3's global view and tiles) is a
    // candidate, grouped request.tile x
    // request.tile on its view's grid; newlines and a class token cover no pixels of their own and
    // are not candidates.
    const int k = std::max(1, request_.tile);
    std::map<std::tuple<int, int, int>, Candidate> blocks;  // (view, row / k, col / k)
    for (size_t i = 0; i < layout_.size(); ++i) {
      const ImageToken& token = layout_[i];
      if (token.newline || token.cls) continue;
      Candidate& cand = blocks[{token.view, token.row / k, token.col / k}];
      if (cand.positions.empty()) {
        cand.kind = CandidateKind::Patch;
        cand.view = token.view;
        cand.row = token.row;
        cand.col = token.col;
        cand.rows = cand.cols = 0;
        cand.rect = token.rect;
      }
      cand.rows = std::max(cand.rows, token.row - cand.row + 1);
      cand.cols = std::max(cand.cols, token.col - cand.col + 1);
      // The block's rectangle: the bounding box of its tokens' (already clipped) rectangles.
      const double x0 = std::min(cand.rect.x, token.rect.x);
      const double y0 = std::min(cand.rect.y, token.rect.y);
      const double x1 = std::max(cand.rect.x + cand.rect.width, token.rect.x + token.rect.width);
      const double y1 = std::max(cand.rect.y + cand.rect.height, token.rect.y + token.rect.height);
      cand.rect = RectF{x0, y0, x1 - x0, y1 - y0};
      cand.positions.push_back(static_cast<int>(image_positions[i]));
    }
    for (auto& [key, cand] : blocks) add_candidate(std::move(cand), groups);
  }

  void add_candidate(Candidate cand, std::vector<std::vector<int64_t>>& groups) {
    cand.index = static_cast<int>(candidates.size());
    groups.emplace_back(cand.positions.begin(), cand.positions.end());
    candidates.push_back(std::move(cand));
  }

  // Qwen2.5-VL: one candidate per merged token (28 x 28 pixels of the resized image), or per
  // tile x tile merged tokens, in row-major order of the merged grid.
  void add_merged_token_candidates(const std::vector<int64_t>& image_positions,
                                   std::vector<std::vector<int64_t>>& groups) {
    const int rows = qwen_pixels_.merged_rows(), cols = qwen_pixels_.merged_cols();
    const int k = std::max(1, request_.tile);
    for (int r = 0; r < rows; r += k)
      for (int c = 0; c < cols; c += k) {
        Candidate cand;
        cand.kind = CandidateKind::Patch;
        cand.row = r;
        cand.col = c;
        cand.rows = std::min(k, rows - r);
        cand.cols = std::min(k, cols - c);
        for (int rr = r; rr < r + cand.rows; ++rr)
          for (int cc = c; cc < c + cand.cols; ++cc)
            cand.positions.push_back(static_cast<int>(image_positions[int64_t(rr) * cols + cc]));
        const RectF first = qwen_pixels_.merged_rect(r, c);
        const RectF last = qwen_pixels_.merged_rect(r + cand.rows - 1, c + cand.cols - 1);
        cand.rect =
            RectF{first.x, first.y, last.x + last.width - first.x, last.y + last.height - first.y};
        cand.index = static_cast<int>(candidates.size());
        groups.emplace_back(cand.positions.begin(), cand.positions.end());
        candidates.push_back(std::move(cand));
      }
  }

  void add_token_candidates(const Encoding& prompt, const std::vector<int64_t>& token_position,
                            const std::vector<int64_t>& skipped,
                            std::vector<std::vector<int64_t>>& groups) {
    std::vector<int> text_tokens;
    std::vector<std::pair<int64_t, int64_t>> spans;
    for (size_t i = 0; i < prompt.ids.size(); ++i) {
      if (std::find(skipped.begin(), skipped.end(), prompt.ids[i]) != skipped.end()) continue;
      // PaliGemma's closing "\n" is the processor's: it covers no text of the prompt.
      if (paligemma_ && prompt.spans[i].first == prompt.spans[i].second) continue;
      text_tokens.push_back(static_cast<int>(i));
      spans.push_back(prompt.spans[i]);
    }
    const std::u32string text = to_u32(request_.prompt);
    auto position_of = [&](int g) { return token_position[text_tokens[g]]; };
    for (auto& cand : token_candidates(spans, text, request_, position_of)) {
      cand.index = static_cast<int>(candidates.size());
      groups.emplace_back(cand.positions.begin(), cand.positions.end());
      candidates.push_back(std::move(cand));
    }
  }

  const ExplainRequest request_;  // a copy: the task outlives the caller's request in the cache
  const Model& model_;
  const CausalLM* lm_ = nullptr;
  std::vector<int64_t> target_ids_;
  int64_t n_prompt_ = 0, total_ = 0;
  at::Tensor embeds_;  // (1, T, C) input embeddings (before positions)
  at::Tensor target_index_;
  KVCache prefix_cache_;
  CropGeometry geometry_;
  std::vector<ImageToken> layout_;           // LLaVA, Idefics3: what each image position is
  Qwen2VLPixels qwen_pixels_;                // Qwen2.5-VL: the processed image and its grid
  std::unique_ptr<MropeSequence> sequence_;  // Qwen2.5-VL: the decoder at this input's positions
  bool paligemma_ = false;
  std::unique_ptr<PrefixLM> prefix_lm_;  // PaliGemma: the decoder with the prompt as its prefix
};

}  // namespace

std::unique_ptr<PerturbationTask> make_lm_task(const ExplainRequest& request) {
  return std::make_unique<LmTask>(request);
}

std::unique_ptr<PerturbationTask> make_task(const ExplainRequest& request) {
  // A weight-less view of a server's model (Model::load_view) has nothing to run.
  require_weights(*request.model);
  switch (request.model->kind()) {
    case ModelKind::Clip:
      return make_clip_task(request);
    case ModelKind::Siglip:
      return request.model->impl().siglip2 ? make_siglip2_task(request) : make_siglip_task(request);
    case ModelKind::CausalLM:
    case ModelKind::Llava:
      break;
  }
  return make_lm_task(request);
}

}  // namespace atman::detail
