// Qwen2.5-VL in one file, following transformers' modeling_qwen2_5_vl.py: the vision tower
// (patch embedding, 2-D rotary positions, window reordering, blocks, merger, order restored),
// the prompt's image tokens, get_rope_index and the multimodal positions of the decoder.
// Both key layouts load: "visual.*" + "model.*" (checkpoints as published) and "model.visual.*" +
// "model.language_model.*" (written by transformers >= 4.52); the head is "lm_head.weight" or tied.
#include "models/qwen2_5_vl.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "atman/error.h"
#include "models/inputs.h"

namespace atman {
namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  auto halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

bool new_layout(const Checkpoint& checkpoint) {
  return checkpoint.has("model.language_model.embed_tokens.weight");
}

int64_t code_points(const std::string& utf8) {
  int64_t n = 0;
  for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

// --- Vision tower ------------------------------------------------------------------------------

Qwen2_5_VisionTower::Qwen2_5_VisionTower(const Qwen2_5_VLVisionConfig& config,
                                         const WeightReader& w)
    : config_(config) {
  const int64_t C = config.hidden_size, I = config.intermediate_size;
  const int64_t p = config.patch_size, tp = config.temporal_patch_size;
  patch_weight_ =
      w.get("patch_embed.proj.weight", {C, config.in_channels, tp, p, p}).reshape({C, -1});
  for (int i = 0; i < config.depth; ++i) {
    const WeightReader b = w.sub("blocks." + std::to_string(i) + ".");
    Block block;
    block.norm1 = RmsNorm::load(b, "norm1", C, 1e-6);
    block.norm2 = RmsNorm::load(b, "norm2", C, 1e-6);
    block.qkv = Linear::load(b, "attn.qkv", C, 3 * C, true);
    block.proj = Linear::load(b, "attn.proj", C, C, true);
    block.gate_proj = Linear::load(b, "mlp.gate_proj", C, I, true);
    block.up_proj = Linear::load(b, "mlp.up_proj", C, I, true);
    block.down_proj = Linear::load(b, "mlp.down_proj", I, C, true);
    blocks_.push_back(std::move(block));
  }
  const int64_t merged = C * config.spatial_merge_size * config.spatial_merge_size;
  ln_q_ = RmsNorm::load(w, "merger.ln_q", C, 1e-6);
  mlp0_ = Linear::load(w, "merger.mlp.0", merged, merged, true);
  mlp2_ = Linear::load(w, "merger.mlp.2", merged, config.out_hidden_size, true);
}

at::Tensor Qwen2_5_VisionTower::rotary(int grid_t, int grid_h, int grid_w) const {
  // Qwen2_5_VisionRotaryEmbedding(head_dim / 2): angles of row and column, each over a quarter
  // of the head, in float32.
  const int64_t dim = config_.hidden_size / config_.num_heads / 2;
  const at::Tensor inv_freq = at::reciprocal(
      at::pow(10000.0, at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim)));
  const int64_t max_grid = std::max(grid_h, grid_w);
  const at::Tensor table = at::outer(at::arange(max_grid, at::kLong).to(at::kFloat), inv_freq);
  // Patch (row, col) in the processor's order: blocks of merge x merge patches, row-major.
  const int m = config_.spatial_merge_size;
  std::vector<int64_t> rows, cols;
  for (int t = 0; t < grid_t; ++t)
    for (int bh = 0; bh < grid_h / m; ++bh)
      for (int bw = 0; bw < grid_w / m; ++bw)
        for (int mh = 0; mh < m; ++mh)
          for (int mw = 0; mw < m; ++mw) {
            rows.push_back(bh * m + mh);
            cols.push_back(bw * m + mw);
          }
  return at::cat({table.index_select(0, at::tensor(rows, at::kLong)),
                  table.index_select(0, at::tensor(cols, at::kLong))},
                 -1);  // (N, head_dim / 2)
}

Qwen2_5_VisionTower::Windows Qwen2_5_VisionTower::window_index(int grid_t, int grid_h,
                                                               int grid_w) const {
  const int m = config_.spatial_merge_size;
  const int ws = config_.window_size / m / config_.patch_size;  // merged tokens per window side
  const int h = grid_h / m, w = grid_w / m;
  // As there: the grid padded by a whole window even when it divides evenly (an empty window).
  const int pad_h = ws - h % ws, pad_w = ws - w % ws;
  const int windows_h = (h + pad_h) / ws, windows_w = (w + pad_w) / ws;
  Windows out;
  out.cu_seqlens.push_back(0);
  for (int t = 0; t < grid_t; ++t)
    for (int wh = 0; wh < windows_h; ++wh)
      for (int ww = 0; ww < windows_w; ++ww) {
        int64_t count = 0;
        for (int r = wh * ws; r < (wh + 1) * ws; ++r)
          for (int c = ww * ws; c < (ww + 1) * ws; ++c)
            if (r < h && c < w) {
              out.index.push_back((int64_t(t) * h + r) * w + c);
              ++count;
            }
        const int64_t end = out.cu_seqlens.back() + count * m * m;
        if (end != out.cu_seqlens.back()) out.cu_seqlens.push_back(end);
      }
  return out;
}

at::Tensor Qwen2_5_VisionTower::attention(const Block& block, const at::Tensor& x,
                                          const at::Tensor& cos, const at::Tensor& sin,
                                          const std::vector<int64_t>& cu_seqlens) const {
  const int64_t N = x.size(0), H = config_.num_heads, C = config_.hidden_size, D = C / H;
  const auto qkv = block.qkv(x).reshape({N, 3, H, D}).permute({1, 0, 2, 3});  // (3, N, H, D)
  // apply_rotary_pos_emb_vision: in float32, cos/sin (N, 1, D).
  auto rotate = [&](const at::Tensor& t) {
    const at::Tensor f = t.to(at::kFloat);
    return (f * cos + rotate_half(f) * sin).to(x.scalar_type()).transpose(0, 1);  // (H, N, D)
  };
  const at::Tensor q = rotate(qkv[0]), k = rotate(qkv[1]), v = qkv[2].transpose(0, 1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  // The eager path of transformers: each window (or the whole image) attends within itself.
  std::vector<at::Tensor> outs;
  for (size_t i = 0; i + 1 < cu_seqlens.size(); ++i) {
    const int64_t b = cu_seqlens[i], n = cu_seqlens[i + 1] - b;
    const at::Tensor qi = q.narrow(1, b, n), ki = k.narrow(1, b, n), vi = v.narrow(1, b, n);
    at::Tensor weights = at::softmax(at::matmul(qi, ki.transpose(-2, -1)) * scale, -1, at::kFloat)
                             .to(x.scalar_type());
    outs.push_back(at::matmul(weights, vi));  // (H, n, D)
  }
  const at::Tensor y = at::cat(outs, 1).transpose(0, 1).reshape({N, C});
  return block.proj(y);
}

at::Tensor Qwen2_5_VisionTower::operator()(const at::Tensor& patches, int grid_t, int grid_h,
                                           int grid_w) const {
  const int m = config_.spatial_merge_size, unit = m * m;
  const int64_t N = int64_t{grid_t} * grid_h * grid_w;
  if (grid_h % m != 0 || grid_w % m != 0 || patches.dim() != 2 || patches.size(0) != N ||
      patches.size(1) != patch_weight_.size(1))
    throw InputError("Qwen2.5-VL vision input of shape " + std::to_string(patches.size(0)) + "x" +
                     std::to_string(patches.size(1)) + " does not match a " +
                     std::to_string(grid_h) + "x" + std::to_string(grid_w) + " patch grid");
  at::Tensor x = at::matmul(patches.to(patch_weight_.scalar_type()), patch_weight_.t());  // (N, C)
  const Windows windows = window_index(grid_t, grid_h, grid_w);
  const at::Tensor order = at::tensor(windows.index, at::kLong).to(x.device());
  // Into window order, in groups of merge² patches (one merged token each).
  x = x.reshape({N / unit, unit, -1}).index_select(0, order).reshape({N, -1});
  at::Tensor rot = rotary(grid_t, grid_h, grid_w).to(x.device());
  rot = rot.reshape({N / unit, unit, -1}).index_select(0, order).reshape({N, -1});
  const at::Tensor emb = at::cat({rot, rot}, -1);  // (N, head_dim)
  const at::Tensor cos = emb.cos().unsqueeze(1), sin = emb.sin().unsqueeze(1);
  std::vector<int64_t> full;
  for (int t = 0; t <= grid_t; ++t) full.push_back(int64_t{t} * grid_h * grid_w);
  const auto& fullatt = config_.fullatt_block_indexes;
  for (int l = 0; l < config_.depth; ++l) {
    const Block& block = blocks_[l];
    const bool is_full = std::find(fullatt.begin(), fullatt.end(), l) != fullatt.end();
    x = x + attention(block, block.norm1(x), cos, sin, is_full ? full : windows.cu_seqlens);
    const at::Tensor h = block.norm2(x);
    x = x + block.down_proj(activate(block.gate_proj(h), config_.hidden_act) * block.up_proj(h));
  }
  // Qwen2_5_VLPatchMerger: RMSNorm, merge² neighbours side by side, Linear-GELU-Linear.
  at::Tensor merged = mlp2_(at::gelu(mlp0_(ln_q_(x).reshape({N / unit, -1}))));
  // Back from window order: row i of `merged` is merged token order[i].
  return at::empty_like(merged).index_copy_(0, order, merged);
}

// --- The whole model ---------------------------------------------------------------------------

Qwen2_5_VLModel::Qwen2_5_VLModel(const Qwen2_5_VLConfig& config, const Checkpoint& checkpoint,
                                 at::Device device, const Qwen2VLImageConfig& image_config)
    : config_(config), image_config_(image_config), device_(device) {
  const bool modern = new_layout(checkpoint);
  const auto& v = config.vision;
  if (image_config.patch_size != v.patch_size || image_config.merge_size != v.spatial_merge_size ||
      image_config.temporal_patch_size != v.temporal_patch_size)
    throw ModelError("preprocessor_config.json in " + checkpoint.dir().string() + " (patch_size " +
                     std::to_string(image_config.patch_size) + ", merge_size " +
                     std::to_string(image_config.merge_size) + ", temporal_patch_size " +
                     std::to_string(image_config.temporal_patch_size) +
                     ") does not match the vision tower in config.json");
  vision_ = std::make_unique<Qwen2_5_VisionTower>(
      v, WeightReader(checkpoint, modern ? "model.visual." : "visual.", device));
  language_model_ =
      std::make_unique<LlamaModel>(config.text, checkpoint, device,
                                   modern ? "model.language_model." : "model.", "lm_head.weight");
}

Qwen2VLPixels Qwen2_5_VLModel::preprocess(const RgbImage& image) const {
  return preprocess_qwen2_vl(image, image_config_);
}

at::Tensor Qwen2_5_VLModel::image_features(const Qwen2VLPixels& pixels) const {
  const at::Tensor patches = at::from_blob(const_cast<float*>(pixels.patches.data()),
                                           {pixels.rows(), pixels.patch_values}, at::kFloat)
                                 .to(device_);
  return (*vision_)(patches.clone(), pixels.grid_t, pixels.grid_h, pixels.grid_w);
}

Encoding Qwen2_5_VLModel::encode_prompt(const Tokenizer& tokenizer,
                                        const std::string& prompt) const {
  static const std::string kMarker = "<image>";
  const size_t at = prompt.find(kMarker);
  if (at == std::string::npos) return tokenizer.encode(prompt);
  if (prompt.find(kMarker, at + 1) != std::string::npos)
    throw InputError("the prompt holds more than one <image>; Qwen2.5-VL explanations take one");
  const std::string before = prompt.substr(0, at), after = prompt.substr(at + kMarker.size());
  Encoding out = before.empty() ? Encoding{} : tokenizer.encode(before);
  const int64_t begin = code_points(before), end = begin + code_points(kMarker);
  const char* names[] = {"<|vision_start|>", "<|image_pad|>", "<|vision_end|>"};
  const int64_t ids[] = {config_.vision_start_token_id, config_.image_token_id,
                         config_.vision_end_token_id};
  for (int i = 0; i < 3; ++i) {
    out.ids.push_back(ids[i]);
    out.tokens.push_back(names[i]);
    out.spans.push_back({begin, end});
  }
  if (!after.empty()) {
    const Encoding rest = tokenizer.encode(after);
    out.ids.insert(out.ids.end(), rest.ids.begin(), rest.ids.end());
    out.tokens.insert(out.tokens.end(), rest.tokens.begin(), rest.tokens.end());
    for (const auto& [b, e] : rest.spans) out.spans.push_back({b + end, e + end});
  }
  return out;
}

std::vector<int64_t> Qwen2_5_VLModel::expand_image_tokens(const std::vector<int64_t>& ids,
                                                          int64_t image_tokens) const {
  std::vector<int64_t> out;
  int images = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == config_.image_token_id) {
      ++images;
      if (i == 0 || ids[i - 1] != config_.vision_start_token_id)
        throw InputError("<|image_pad|> must follow <|vision_start|> in a Qwen2.5-VL prompt");
      out.insert(out.end(), image_tokens, ids[i]);
    } else {
      out.push_back(ids[i]);
    }
  }
  if (images != 1)
    throw InputError(
        "the prompt must contain exactly one image (<image> or "
        "<|vision_start|><|image_pad|><|vision_end|>), found " +
        std::to_string(images));
  return out;
}

at::Tensor Qwen2_5_VLModel::rope_index(const std::vector<int64_t>& ids, int merged_rows,
                                       int merged_cols) const {
  // get_rope_index for images: text positions count up in all three components; an image's
  // tokens sit at (s, s + row, s + col) with s the next text position (an image's temporal
  // index is 0: second_per_grid_t is 0 for images), and text after it continues from the
  // largest position + 1.
  const int64_t T = static_cast<int64_t>(ids.size());
  at::Tensor positions = at::empty({3, T}, at::kLong);
  auto p = positions.accessor<int64_t, 2>();
  int64_t next = 0;
  for (int64_t i = 0; i < T;) {
    const bool image =
        ids[i] == config_.image_token_id && i > 0 && ids[i - 1] == config_.vision_start_token_id;
    if (!image) {
      p[0][i] = p[1][i] = p[2][i] = next++;
      ++i;
      continue;
    }
    const int64_t n = int64_t{merged_rows} * merged_cols;
    if (i + n > T) throw Error("image tokens run past the end of the input");
    for (int64_t k = 0; k < n; ++k) {
      p[0][i + k] = next;
      p[1][i + k] = next + k / merged_cols;
      p[2][i + k] = next + k % merged_cols;
    }
    next += std::max<int64_t>(merged_rows, merged_cols);  // max of (0, rows - 1, cols - 1) + 1
    i += n;
  }
  return positions;
}

at::Tensor Qwen2_5_VLModel::input_embeds(const std::vector<int64_t>& ids,
                                         const at::Tensor& features) const {
  return embeds_with_image(*language_model_, ids, config_.image_token_id, features.unsqueeze(0),
                           device_, "merged tokens");
}

// --- Positions of one sequence -----------------------------------------------------------------

MropeSequence::MropeSequence(const LlamaModel& lm, at::Tensor positions)
    : lm_(lm), positions_(positions.to(at::kCPU).to(at::kLong).contiguous()) {
  next_ = positions_.numel() ? positions_.max().item<int64_t>() + 1 : 0;
}

at::Tensor MropeSequence::positions(int64_t start, int64_t T) const {
  const int64_t n = positions_.size(1);
  std::vector<at::Tensor> parts;
  if (start < n) parts.push_back(positions_.narrow(1, start, std::min(T, n - start)));
  const int64_t from = std::max(start, n);
  if (start + T > from) {
    // Past the sequence: text positions, position i at i - n + next (rope_deltas).
    parts.push_back(at::arange(from - n + next_, start + T - n + next_, at::kLong)
                        .unsqueeze(0)
                        .expand({3, -1}));
  }
  return at::cat(parts, 1);
}

at::Tensor MropeSequence::forward_embeds(const at::Tensor& embeds, const Suppression* suppression,
                                         KVCache* cache) const {
  const int64_t past = cache ? cache->length() : 0;
  return lm_.forward_embeds_at(embeds, positions(past, embeds.size(1)), suppression, cache);
}

at::Tensor MropeSequence::forward_suffixes(const at::Tensor& embeds,
                                           const std::vector<int64_t>& starts,
                                           const Suppression& suppression, const KVCache& base,
                                           int64_t outputs) const {
  return lm_.forward_suffixes_at(embeds, positions(0, embeds.size(1)), starts, suppression, base,
                                 outputs);
}

}  // namespace atman
