// LLaVA in one file: vision tower -> hidden_states[vision_feature_layer(s)] -> projector -> LM
// input; for LLaVA-NeXT / OneVision the base view and tiles are packed as transformers'
// pack_image_features does (unpad_image, OneVision's bilinear downscaling, image_newline).
// Both the classic key layout ("language_model.model.*", "vision_tower.*", "image_newline") and the
// newer one ("model.language_model.*", "model.vision_tower.*", "model.image_newline",
// "lm_head.weight") load.
#include "models/llava.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "atman/error.h"
#include "image/anyres.h"
#include "models/inputs.h"

namespace atman {
namespace {

bool new_layout(const Checkpoint& checkpoint) {
  return checkpoint.has("model.language_model.embed_tokens.weight");
}

std::string tower_prefix(const Checkpoint& checkpoint) {
  return new_layout(checkpoint) ? "model.vision_tower.vision_model." : "vision_tower.vision_model.";
}

// The tile grid after pack_image_features: rows [row0, row1) and columns [col0, col1) of the
// (tile_rows * g) x (tile_cols * g) feature grid survive unpad_image; OneVision then resizes them
// to out_rows x out_cols when they hold more than anyres_max_tiles tiles' worth (by > 10 %).
struct TileGrid {
  int full_rows = 0, full_cols = 0;
  int row0 = 0, row1 = 0, col0 = 0, col1 = 0;
  int out_rows = 0, out_cols = 0;
  bool scaled = false;
};

TileGrid tile_grid(const AnyresLayout& l, int g, int max_tiles) {
  TileGrid t;
  t.full_rows = l.tile_rows * g;
  t.full_cols = l.tile_cols * g;
  t.row1 = t.full_rows;
  t.col1 = t.full_cols;
  // unpad_image(tensor, image_size): which side the padding is on follows the aspect ratios.
  const double original_aspect = double(l.image_width) / l.image_height;
  const double current_aspect = double(t.full_cols) / t.full_rows;
  // int(round(x, 7)): Python rounds to 7 decimals, then truncates.
  auto round7 = [](double x) { return static_cast<int>(std::nearbyint(x * 1e7) / 1e7); };
  if (original_aspect > current_aspect) {
    const double scale = double(t.full_cols) / l.image_width;
    const int new_height = round7(l.image_height * scale);
    const int padding = (t.full_rows - new_height) / 2;
    t.row0 = padding;
    t.row1 = t.full_rows - padding;
  } else {
    const double scale = double(t.full_rows) / l.image_height;
    const int new_width = round7(l.image_width * scale);
    const int padding = (t.full_cols - new_width) / 2;
    t.col0 = padding;
    t.col1 = t.full_cols - padding;
  }
  t.out_rows = t.row1 - t.row0;
  t.out_cols = t.col1 - t.col0;
  if (max_tiles > 0) {
    const double ratio = std::sqrt(double(t.out_rows) * t.out_cols / (double(max_tiles) * g * g));
    if (ratio > 1.1) {
      t.scaled = true;
      // int(curr // ratio): Python's float floor division.
      t.out_rows = static_cast<int>(std::floor(t.out_rows / ratio));
      t.out_cols = static_cast<int>(std::floor(t.out_cols / ratio));
    }
  }
  return t;
}

}  // namespace

LlavaModel::LlavaModel(const LlavaConfig& config, const Checkpoint& checkpoint, at::Device device)
    : config_(config), device_(device) {
  const bool modern = new_layout(checkpoint);
  const WeightReader tower(checkpoint, tower_prefix(checkpoint), device);
  if (config.vision_type == LlavaVision::Siglip)
    siglip_tower_ = SiglipVisionTower(config.vision, tower);
  else
    clip_tower_ = ClipVisionTower(config.vision, tower, /*load_post_layernorm=*/false);
  if (config.paligemma())
    post_layernorm_ = LayerNorm::load(tower, "post_layernorm", config.vision.hidden_size,
                                      config.vision.layer_norm_eps);
  const WeightReader projector(
      checkpoint, modern ? "model.multi_modal_projector." : "multi_modal_projector.", device);
  const int64_t layers_used = static_cast<int64_t>(config.vision_feature_layers.size());
  const int64_t Cv = config.vision.hidden_size * layers_used, C = config.text.hidden_size;
  if (config.paligemma()) {
    projector_ = Linear::load(projector, "linear", config.vision.hidden_size, C, /*bias=*/true);
  } else {
    linear_1_ = Linear::load(projector, "linear_1", Cv, C, config.projector_bias);
    linear_2_ = Linear::load(projector, "linear_2", C, C, config.projector_bias);
  }
  language_model_ = modern ? std::make_unique<LlamaModel>(config.text, checkpoint, device,
                                                          "model.language_model.", "lm_head.weight")
                           : std::make_unique<LlamaModel>(config.text, checkpoint, device,
                                                          "language_model.model.",
                                                          "language_model.lm_head.weight");
  const int layers = config.vision.num_hidden_layers;
  for (int feature_layer : config.vision_feature_layers)
    if (feature_layer < -(layers + 1) || feature_layer > layers)
      throw ModelError("vision_feature_layer " + std::to_string(feature_layer) + " in " +
                       checkpoint.dir().string() + " is outside the vision tower's " +
                       std::to_string(layers) + " layers");
  if (config.anyres()) {
    const WeightReader top(checkpoint, modern ? "model." : "", device);
    image_newline_ = top.get("image_newline", {C});
    const int g = grid_size();
    if (image_tokens() != g * g)
      throw ModelError(config.model_type + " model " + checkpoint.dir().string() + " gives " +
                       std::to_string(image_tokens()) +
                       " features per tile, but its tiles are packed as " + std::to_string(g) +
                       "x" + std::to_string(g) +
                       " grids (a SigLIP tower needs vision_feature_select_strategy \"full\")");
  }
}

int LlavaModel::patch_offset() const {
  return config_.vision_type == LlavaVision::Clip &&
                 config_.vision_feature_select_strategy == "full"
             ? 1
             : 0;
}

int LlavaModel::dropped_patches() const {
  // HF's "default" strategy slices [:, 1:]: the class token of CLIP, the first patch of SigLIP.
  return config_.vision_type == LlavaVision::Siglip &&
                 config_.vision_feature_select_strategy == "default"
             ? 1
             : 0;
}

int LlavaModel::image_tokens() const {
  const int grid = grid_size();
  return grid * grid + patch_offset() - dropped_patches();
}

at::Tensor LlavaModel::view_features(const at::Tensor& pixels) const {
  const int layers = config_.vision.num_hidden_layers;
  // HF hidden_states[k] is the state after k layers; negative k counts from the end (L + 1 states).
  std::vector<int> ks;
  for (int l : config_.vision_feature_layers) ks.push_back(l < 0 ? layers + 1 + l : l);
  const int up_to = *std::max_element(ks.begin(), ks.end());
  if (config_.paligemma()) {
    // get_image_features: projector(last_hidden_state) / sqrt(text_config.hidden_size).
    const at::Tensor last = post_layernorm_(siglip_tower_.hidden_states(pixels, layers).back());
    return projector_(last) / std::sqrt(static_cast<double>(config_.text.hidden_size));
  }
  const std::vector<at::Tensor> states =
      config_.vision_type == LlavaVision::Siglip
          ? siglip_tower_.hidden_states(pixels, up_to)
          : clip_tower_.hidden_states(clip_tower_.patch_embeddings(pixels), up_to);
  std::vector<at::Tensor> chosen;
  for (int k : ks) chosen.push_back(states[k]);
  at::Tensor hidden = chosen.size() == 1 ? chosen[0] : at::cat(chosen, -1);
  if (config_.vision_feature_select_strategy != "full") hidden = hidden.slice(1, 1);
  return linear_2_(activate(linear_1_(hidden), config_.projector_hidden_act));  // (V, P', C)
}

at::Tensor LlavaModel::image_features(const at::Tensor& pixels) const {
  if (config_.anyres())
    throw InputError(config_.model_type + " needs the image's size to pack its tiles");
  return view_features(pixels);
}

at::Tensor LlavaModel::image_features(const at::Tensor& pixels,
                                      const CropGeometry& geometry) const {
  if (!config_.anyres()) {
    if (pixels.size(0) != 1) throw InputError("LLaVA reads one view of one image");
    return view_features(pixels);
  }
  const int g = grid_size();
  const AnyresLayout l = anyres_layout(geometry.original_width, geometry.original_height,
                                       config_.image_grid_pinpoints, config_.vision.image_size);
  if (pixels.size(0) != 1 + int64_t{l.tile_rows} * l.tile_cols)
    throw InputError("the image gives " + std::to_string(pixels.size(0)) + " views; " +
                     config_.model_type + " expects the base view and " +
                     std::to_string(l.tile_rows * l.tile_cols) + " tiles");
  const at::Tensor features = view_features(pixels);  // (V, g * g, C)
  const int64_t C = features.size(2);
  const TileGrid t = tile_grid(l, g, config_.anyres_max_tiles);
  // (rows, cols, g, g, C) -> (rows, g, cols, g, C): HF's permute(4, 0, 2, 1, 3) without the
  // channel move.
  at::Tensor grid = features.slice(0, 1)
                        .reshape({l.tile_rows, l.tile_cols, g, g, C})
                        .permute({0, 2, 1, 3, 4})
                        .reshape({t.full_rows, t.full_cols, C})
                        .slice(0, t.row0, t.row1)
                        .slice(1, t.col0, t.col1);
  if (t.scaled) {
    at::Tensor chw = grid.permute({2, 0, 1}).unsqueeze(0);
    grid = at::upsample_bilinear2d(chw, {t.out_rows, t.out_cols}, /*align_corners=*/false,
                                   c10::nullopt, c10::nullopt)
               .squeeze(0)
               .permute({1, 2, 0});
  }
  at::Tensor newline =
      image_newline_.to(grid.scalar_type()).view({1, 1, C}).expand({t.out_rows, 1, C});
  at::Tensor rows = at::cat({grid, newline}, 1).reshape({-1, C});  // row by row, newline last
  return at::cat({features[0], rows}, 0).unsqueeze(0);
}

std::vector<ImageToken> LlavaModel::image_layout(const CropGeometry& geometry) const {
  std::vector<ImageToken> out;
  const int g = grid_size(), p = config_.vision.patch_size;
  const int n = image_tokens();
  for (int k = 0; k < n; ++k) {
    ImageToken token;
    if (k < patch_offset()) {
      token.cls = true;
      token.rect = geometry.to_original(RectF{0, 0, double(g * p), double(g * p)});
    } else {
      const int patch = k - patch_offset() + dropped_patches();
      token.row = patch / g;
      token.col = patch % g;
      token.rect = geometry.to_original(
          RectF{double(token.col * p), double(token.row * p), double(p), double(p)});
    }
    // Plain LLaVA keeps the rectangles its overlay always drew (the crop may leave the image
    // only when the image is smaller than the crop); anyres clips them to the image.
    if (config_.anyres())
      token.rect = clip_rect(token.rect, geometry.original_width, geometry.original_height);
    out.push_back(token);
  }
  if (!config_.anyres()) return out;
  const AnyresLayout l = anyres_layout(geometry.original_width, geometry.original_height,
                                       config_.image_grid_pinpoints, config_.vision.image_size);
  const TileGrid t = tile_grid(l, g, config_.anyres_max_tiles);
  // Each surviving (or downscaled) feature covers its share of the unpadded grid. Grid cell u is
  // patch u % g of tile u / g; a tile may be wider than its g patches (384 / 14: 6 pixels no patch
  // reads), so cells map to best-resolution pixels tile by tile.
  const double row_step = double(t.row1 - t.row0) / t.out_rows;
  const double col_step = double(t.col1 - t.col0) / t.out_cols;
  const int tile = config_.vision.image_size;
  // A range's start lies in the tile the cell begins (cell k·g: tile k); its end in the tile the
  // cell before it ends (cell k·g: tile k - 1, after its last patch).
  auto start_px = [&](double cell) {
    const double tile_index = std::floor(cell / g);
    return tile_index * tile + (cell - tile_index * g) * p;
  };
  auto end_px = [&](double cell) {
    const double tile_index = std::max(0.0, std::ceil(cell / g) - 1);
    return tile_index * tile + (cell - tile_index * g) * p;
  };
  for (int r = 0; r < t.out_rows; ++r) {
    for (int c = 0; c < t.out_cols; ++c) {
      ImageToken token;
      token.view = 1;
      token.row = r;
      token.col = c;
      const double y0 = start_px(t.row0 + r * row_step);
      const double y1 = end_px(t.row0 + (r + 1) * row_step);
      const double x0 = start_px(t.col0 + c * col_step);
      const double x1 = end_px(t.col0 + (c + 1) * col_step);
      token.rect = l.to_original(RectF{x0, y0, x1 - x0, y1 - y0});
      out.push_back(token);
    }
    ImageToken newline;
    newline.view = 1;
    newline.row = r;
    newline.newline = true;
    out.push_back(newline);
  }
  return out;
}

PixelTensor LlavaModel::preprocess(const RgbImage& image,
                                   const ClipPreprocessConfig& config) const {
  if (!config_.anyres()) return preprocess_clip(image, config);
  // Every view must reach the tower at its size with no further resize or crop (what the real
  // processor configs give: LLaVA-NeXT shortest_edge = crop_size = 336, OneVision 384 x 384).
  const int tile = config_.vision.image_size;
  const int side = config.resize_height > 0 ? std::min(config.resize_height, config.resize_width)
                                            : config.shortest_edge;
  if (side != tile || (config.do_center_crop && config.crop_size != tile))
    throw ModelError("the image processor of this " + config_.model_type +
                     " model resizes views to " + std::to_string(side) + " and crops to " +
                     std::to_string(config.do_center_crop ? config.crop_size : side) +
                     " pixels, but its vision tower reads " + std::to_string(tile) +
                     "; preprocessor_config.json does not match config.json");
  return preprocess_anyres(image, config, config_.image_grid_pinpoints, tile);
}

namespace {

int64_t code_points(const std::string& utf8) {
  return std::count_if(utf8.begin(), utf8.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Drops the <bos> a tokenizer's post-processor puts before the text (empty span at 0): PaliGemma's
// processor turns add_bos_token off and writes <bos> itself where it belongs.
void drop_added_bos(Encoding& e, int64_t bos) {
  if (e.ids.empty() || e.ids[0] != bos || e.spans[0].first != e.spans[0].second) return;
  e.ids.erase(e.ids.begin());
  e.tokens.erase(e.tokens.begin());
  e.spans.erase(e.spans.begin());
}

}  // namespace

Encoding LlavaModel::encode_prompt(const Tokenizer& tokenizer, const std::string& prompt) const {
  if (!config_.paligemma()) return tokenizer.encode(prompt);
  Encoding text = tokenizer.encode(prompt + "\n");
  drop_added_bos(text, config_.text.bos_token_id);
  // The closing "\n" is the processor's, not the prompt's: no span in the prompt.
  const int64_t n = code_points(prompt);
  for (auto& [begin, end] : text.spans) {
    if (begin >= n) begin = end = n;
    end = std::min(end, n);
  }
  if (prompt.find("<image>") != std::string::npos) return text;  // the processor's second form
  Encoding out;
  out.ids = {config_.image_token_index, config_.text.bos_token_id};
  out.tokens = {"<image>", "<bos>"};
  out.spans = {{0, 0}, {0, 0}};
  out.ids.insert(out.ids.end(), text.ids.begin(), text.ids.end());
  out.tokens.insert(out.tokens.end(), text.tokens.begin(), text.tokens.end());
  out.spans.insert(out.spans.end(), text.spans.begin(), text.spans.end());
  return out;
}

Encoding LlavaModel::encode_answer(const Tokenizer& tokenizer, const std::string& answer) const {
  Encoding e = tokenizer.encode(answer);
  if (config_.paligemma()) drop_added_bos(e, config_.text.bos_token_id);
  return e;
}

std::vector<int64_t> LlavaModel::expand_image_tokens(const std::vector<int64_t>& ids,
                                                     int64_t count) const {
  return expand_image_token(ids, config_.image_token_index,
                            std::vector<int64_t>(count, config_.image_token_index));
}

at::Tensor LlavaModel::input_embeds(const std::vector<int64_t>& expanded_ids,
                                    const at::Tensor& features) const {
  return embeds_with_image(*language_model_, expanded_ids, config_.image_token_index, features,
                           device_);
}

}  // namespace atman
