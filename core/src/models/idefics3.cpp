// Idefics3 in one file, following transformers' modeling_idefics3.py (Idefics3VisionEmbeddings,
// Idefics3VisionTransformer, Idefics3Connector, Idefics3Model.inputs_merger) and
// processing_idefics3.py (the image prompt string). Keys: "model.vision_model.*",
// "model.connector.modality_projection.proj.weight", "model.text_model.*", "lm_head.weight".
//
// One image never pads: every view is max_image_size square, so the pixel attention mask is all
// ones, the patch attention mask full and the encoder unmasked, as HF runs it for one image.
#include "models/idefics3.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "models/inputs.h"

namespace atman {

at::Tensor idefics3_position_ids(int rows, int cols, int side) {
  // boundaries = torch.arange(1 / side, 1.0, 1 / side): Python floats, float32 tensor.
  const at::Tensor boundaries = at::arange(1.0 / side, 1.0, 1.0 / side, at::kFloat);
  auto buckets = [&](int patches) {
    // 1 / nb_patches divides a 0-dim integer tensor: its reciprocal, in float32.
    const double step = at::reciprocal(at::scalar_tensor(patches, at::kLong)).item<double>();
    const at::Tensor coords = at::arange(0.0, 1.0 - 1e-6, step, at::kFloat);
    return at::bucketize(coords, boundaries, /*out_int32=*/false, /*right=*/true);
  };
  const at::Tensor h = buckets(rows), w = buckets(cols);
  if (h.numel() != rows || w.numel() != cols)
    throw Error("Idefics3 position ids: " + std::to_string(h.numel()) + "x" +
                std::to_string(w.numel()) + " coordinates for " + std::to_string(rows) + "x" +
                std::to_string(cols) + " patches");
  return (h.unsqueeze(1) * side + w.unsqueeze(0)).flatten();
}

at::Tensor idefics3_pixel_shuffle(const at::Tensor& x, int s) {
  const int64_t V = x.size(0), seq = x.size(1), C = x.size(2);
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(double(seq))));
  if (g * g != seq || g % s != 0)
    throw Error("pixel shuffle of " + std::to_string(seq) + " patches by " + std::to_string(s));
  // HF's reshape sequence: columns merged in groups of s, then rows.
  return x.reshape({V, g, g / s, C * s})
      .permute({0, 2, 1, 3})
      .reshape({V, g / s, g / s, C * s * s})
      .permute({0, 2, 1, 3})
      .reshape({V, seq / (s * s), C * s * s});
}

Idefics3Model::Idefics3Model(const Idefics3Config& config, const Checkpoint& checkpoint,
                             at::Device device, const Idefics3ImageConfig& image_config)
    : config_(config), image_config_(image_config), device_(device) {
  const ClipTowerConfig& v = config.vision;
  const std::string where = checkpoint.dir().string();
  if (image_config.tile != v.image_size)
    throw ModelError("the image processor of " + where + " cuts " +
                     std::to_string(image_config.tile) + "-pixel tiles (max_image_size), but its " +
                     "vision tower reads " + std::to_string(v.image_size) +
                     "-pixel images; preprocessor_config.json does not match config.json");
  const WeightReader tower(checkpoint, "model.vision_model.", device);
  const int64_t C = v.hidden_size, p = v.patch_size, g = patch_grid();
  patch_embedding_ = tower.get("embeddings.patch_embedding.weight", {C, v.num_channels, p, p});
  patch_bias_ = tower.get("embeddings.patch_embedding.bias", {C});
  position_embedding_ = tower.get("embeddings.position_embedding.weight", {g * g, C});
  encoder_ = ClipEncoder(v, tower.sub("encoder."));
  post_layernorm_ = LayerNorm::load(tower, "post_layernorm", C, v.layer_norm_eps);
  const int64_t s = config.scale_factor;
  projection_ = Linear::load(WeightReader(checkpoint, "model.connector.", device),
                             "modality_projection.proj", C * s * s, config.text.hidden_size,
                             /*bias=*/false);
  language_model_ = std::make_unique<LlamaModel>(config.text, checkpoint, device,
                                                 "model.text_model.", "lm_head.weight");
  // The processor's image_seq_len must be the number of tokens a view gives.
  const auto processor = checkpoint.dir() / "processor_config.json";
  std::error_code ec;
  if (std::filesystem::exists(processor, ec)) {
    std::ifstream in(processor);
    const auto root = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (root.is_object() && root.contains("image_seq_len") &&
        root["image_seq_len"] != config.image_seq_len())
      throw ModelError(processor.string() + " writes " + root["image_seq_len"].dump() +
                       " <image> tokens per view, but the vision tower and scale_factor give " +
                       std::to_string(config.image_seq_len()));
  }
}

PixelTensor Idefics3Model::preprocess(const RgbImage& image) const {
  return preprocess_idefics3(image, image_config_);
}

Idefics3Layout Idefics3Model::layout(int width, int height) const {
  return idefics3_layout(width, height, image_config_);
}

at::Tensor Idefics3Model::vision_hidden(const at::Tensor& pixels) const {
  const int size = config_.vision.image_size, p = config_.vision.patch_size;
  if (pixels.dim() != 4 || pixels.size(2) != size || pixels.size(3) != size)
    throw InputError("the Idefics3 vision tower expects views of " + std::to_string(size) + "x" +
                     std::to_string(size) + " pixels");
  const int g = patch_grid();
  const at::Tensor positions =
      at::embedding(position_embedding_, idefics3_position_ids(g, g, g).to(device_));  // (P, C)
  // A few views at a time: attention over every view at once would hold V x heads x P² scores.
  std::vector<at::Tensor> out;
  constexpr int64_t kChunk = 4;
  for (int64_t v0 = 0; v0 < pixels.size(0); v0 += kChunk) {
    const at::Tensor chunk = pixels.slice(0, v0, std::min(pixels.size(0), v0 + kChunk));
    at::Tensor x =
        at::conv2d(chunk.to(patch_embedding_.scalar_type()), patch_embedding_, patch_bias_, p);
    x = x.flatten(2).transpose(1, 2) + positions;  // (v, P, C)
    out.push_back(post_layernorm_(encoder_.forward(x, /*causal=*/false, nullptr)));
  }
  return at::cat(out, 0);
}

at::Tensor Idefics3Model::image_features(const at::Tensor& pixels) const {
  const at::Tensor shuffled = idefics3_pixel_shuffle(vision_hidden(pixels), config_.scale_factor);
  return projection_(shuffled).reshape({1, -1, config_.text.hidden_size});
}

std::vector<ImageToken> Idefics3Model::image_layout(const CropGeometry& geometry) const {
  const Idefics3Layout l = layout(geometry.original_width, geometry.original_height);
  const int n = token_grid();
  const double side = double(config_.scale_factor) * config_.vision.patch_size;  // token, pixels
  std::vector<ImageToken> out;
  out.reserve(static_cast<size_t>(l.views()) * n * n);
  auto clip = [&](const RectF& r) {
    const double x0 = std::clamp(r.x, 0.0, double(l.image_width));
    const double y0 = std::clamp(r.y, 0.0, double(l.image_height));
    const double x1 = std::clamp(r.x + r.width, x0, double(l.image_width));
    const double y1 = std::clamp(r.y + r.height, y0, double(l.image_height));
    return RectF{x0, y0, x1 - x0, y1 - y0};
  };
  for (int tr = 0; tr < l.rows; ++tr)
    for (int tc = 0; tc < l.cols; ++tc)
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c) {
          ImageToken token;
          token.view = 1;
          token.row = tr * n + r;
          token.col = tc * n + c;
          token.rect = clip(l.tiled_to_original(
              RectF{tc * l.tile + c * side, tr * l.tile + r * side, side, side}));
          out.push_back(token);
        }
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) {
      ImageToken token;
      token.view = 0;
      token.row = r;
      token.col = c;
      token.rect = clip(l.global_to_original(RectF{c * side, r * side, side, side}));
      out.push_back(token);
    }
  return out;
}

std::string Idefics3Model::image_prompt(const Idefics3Layout& l) const {
  const std::string fake = "<fake_token_around_image>", global = "<global-img>";
  std::string image;
  for (int k = 0; k < config_.image_seq_len(); ++k) image += "<image>";
  if (l.rows == 0 && l.cols == 0) return fake + global + image + fake;
  std::string out;
  for (int r = 0; r < l.rows; ++r) {
    for (int c = 0; c < l.cols; ++c)
      out += fake + "<row_" + std::to_string(r + 1) + "_col_" + std::to_string(c + 1) + ">" + image;
    out += "\n";
  }
  return out + "\n" + fake + global + image + fake;
}

std::vector<int64_t> Idefics3Model::image_prompt_ids(const Tokenizer& tokenizer,
                                                     const Idefics3Layout& l) const {
  auto special = [&](const std::string& token) {
    const int64_t id = tokenizer.special_token_id(token);
    if (id < 0)
      throw ModelError("the tokenizer of this Idefics3 model has no " + token +
                       " token, which its processor writes around each view");
    return id;
  };
  // Text between special tokens is tokenized on its own: the newlines alone, without the
  // post-processor's BOS/EOS (empty spans).
  auto text = [&](const std::string& piece) {
    const Encoding e = tokenizer.encode(piece);
    std::vector<int64_t> ids;
    for (size_t i = 0; i < e.ids.size(); ++i)
      if (e.spans[i].first != e.spans[i].second) ids.push_back(e.ids[i]);
    return ids;
  };
  const int64_t fake = special("<fake_token_around_image>"), global = special("<global-img>");
  const std::vector<int64_t> image(config_.image_seq_len(), config_.image_token_id);
  std::vector<int64_t> out;
  auto append = [&](const std::vector<int64_t>& ids) {
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (l.rows > 0) {
    const std::vector<int64_t> newline = text("\n"), blank = text("\n\n");
    for (int r = 0; r < l.rows; ++r) {
      for (int c = 0; c < l.cols; ++c) {
        out.push_back(fake);
        out.push_back(
            special("<row_" + std::to_string(r + 1) + "_col_" + std::to_string(c + 1) + ">"));
        append(image);
      }
      // The last row's newline and the one before the global view are one piece of text.
      if (r + 1 < l.rows) append(newline);
    }
    append(blank);
  }
  out.push_back(fake);
  out.push_back(global);
  append(image);
  out.push_back(fake);
  return out;
}

std::vector<int64_t> Idefics3Model::expand_image_tokens(const std::vector<int64_t>& ids,
                                                        const Tokenizer& tokenizer,
                                                        const CropGeometry& geometry) const {
  const std::vector<int64_t> image =
      image_prompt_ids(tokenizer, layout(geometry.original_width, geometry.original_height));
  return expand_image_token(ids, config_.image_token_id, image);
}

at::Tensor Idefics3Model::input_embeds(const std::vector<int64_t>& expanded_ids,
                                       const at::Tensor& features) const {
  return embeds_with_image(*language_model_, expanded_ids, config_.image_token_id, features,
                           device_);
}

}  // namespace atman
