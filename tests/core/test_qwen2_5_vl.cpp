// Qwen2.5-VL (HF Qwen2_5_VLForConditionalGeneration) against float64 computations written here from
// transformers' image_processing_qwen2_vl.py and modeling_qwen2_5_vl.py (not calling our model
// code): a tiny random checkpoint with the config fields and key layout of
// Qwen/Qwen2.5-VL-3B-Instruct, shrunk in size. Checks the processor (smart_resize, pixel values,
// patch order, grid), the vision tower with window attention and the merger, get_rope_index, the
// language model's logits under M-RoPE (also the explainer's packed batches), the merged token ->
// image rectangle map, the overlay of a left-half image, and an AtMan explanation end to end.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/heatmap.h"
#include "atman/hf_config.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "atman/prompt.h"
#include "core/tiny_models.h"
#include "core/tiny_qwen_vl.h"
#include "image/qwen2_vl_image.h"
#include "models/loaded_model.h"

using namespace atman;
using nlohmann::json;
namespace fs = std::filesystem;
using at::indexing::Slice;

using namespace atman::test::qwen_vl;

namespace {

// --- float64 references, from the transformers source ------------------------------------------

at::Tensor D(const at::Tensor& t) {
  return t.to(at::kDouble);
}

struct Weights {
  std::map<std::string, at::Tensor> t;
  at::Tensor operator[](const std::string& name) const { return D(t.at(name)); }
};

at::Tensor rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

at::Tensor linear(const Weights& w, const std::string& name, const at::Tensor& x, bool bias) {
  at::Tensor y = at::matmul(x, w[name + ".weight"].t());
  return bias ? y + w[name + ".bias"] : y;
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// Qwen2VLImageProcessor._preprocess after the resize (the resize is PIL's bicubic, which
// resize_image reproduces and test_image checks): rescale, normalise, repeat to
// temporal_patch_size frames, reshape + permute(0, 3, 6, 4, 7, 2, 1, 5, 8) + reshape.
at::Tensor ref_patches(const RgbImage& resized) {
  at::Tensor img = at::empty({resized.height, resized.width, 3}, at::kDouble);
  for (size_t i = 0; i < resized.pixels.size(); ++i)
    img.data_ptr<double>()[i] = resized.pixels[i] / 255.0;
  for (int c = 0; c < 3; ++c) img.select(2, c).sub_(double(kMean[c])).div_(double(kStd[c]));
  at::Tensor patches = img.permute({2, 0, 1}).unsqueeze(0).expand({kTemporal, -1, -1, -1});
  const int64_t gh = resized.height / kPatch, gw = resized.width / kPatch;
  return patches
      .reshape({1, kTemporal, 3, gh / kMerge, kMerge, kPatch, gw / kMerge, kMerge, kPatch})
      .permute({0, 3, 6, 4, 7, 2, 1, 5, 8})
      .reshape({gh * gw, 3 * kTemporal * kPatch * kPatch});
}

// get_window_index, tensor for tensor (grid_t = 1).
std::pair<at::Tensor, std::vector<int64_t>> ref_window_index(int64_t gh, int64_t gw) {
  const int64_t ws = 112 / kMerge / kPatch, h = gh / kMerge, w = gw / kMerge;
  at::Tensor index = at::arange(h * w, at::kLong).reshape({1, h, w});
  const int64_t pad_h = ws - h % ws, pad_w = ws - w % ws;
  const int64_t nh = (h + pad_h) / ws, nw = (w + pad_w) / ws;
  at::Tensor padded = at::constant_pad_nd(index, {0, pad_w, 0, pad_h}, -100);
  padded =
      padded.reshape({1, nh, ws, nw, ws}).permute({0, 1, 3, 2, 4}).reshape({1, nh * nw, ws, ws});
  at::Tensor seqlens = (padded != -100).sum({2, 3}).reshape(-1);
  padded = padded.reshape(-1);
  at::Tensor window_index = padded.masked_select(padded != -100);
  std::vector<int64_t> cu = {0};
  at::Tensor cum = seqlens.cumsum(0) * (kMerge * kMerge);
  for (int64_t i = 0; i < cum.size(0); ++i) cu.push_back(cum[i].item<int64_t>());
  cu.erase(std::unique(cu.begin(), cu.end()), cu.end());  // torch.unique_consecutive
  return {window_index, cu};
}

// Qwen2_5_VisionTransformerPretrainedModel.forward with eager attention, in float64.
at::Tensor ref_vision(const Weights& w, const at::Tensor& patches, int64_t gh, int64_t gw) {
  const int64_t N = gh * gw, unit = kMerge * kMerge, C = kVisionHidden, H = kVisionHeads;
  const int64_t hd = C / H;
  at::Tensor x = at::matmul(patches, w["visual.patch_embed.proj.weight"].reshape({C, -1}).t());
  // rot_pos_emb
  at::Tensor hpos = at::arange(gh, at::kLong).unsqueeze(1).expand({gh, gw});
  hpos = hpos.reshape({gh / kMerge, kMerge, gw / kMerge, kMerge}).permute({0, 2, 1, 3}).flatten();
  at::Tensor wpos = at::arange(gw, at::kLong).unsqueeze(0).expand({gh, gw});
  wpos = wpos.reshape({gh / kMerge, kMerge, gw / kMerge, kMerge}).permute({0, 2, 1, 3}).flatten();
  const int64_t dim = hd / 2;
  at::Tensor inv_freq = 1.0 / at::pow(10000.0, at::arange(0, dim, 2, at::kDouble) / double(dim));
  at::Tensor table = at::outer(at::arange(std::max(gh, gw), at::kDouble), inv_freq);
  at::Tensor rot = at::cat({table.index_select(0, hpos), table.index_select(0, wpos)}, 1);
  auto [window_index, cu_window] = ref_window_index(gh, gw);
  x = x.reshape({N / unit, unit, -1}).index({window_index}).reshape({N, -1});
  rot = rot.reshape({N / unit, unit, -1}).index({window_index}).reshape({N, -1});
  at::Tensor emb = at::cat({rot, rot}, -1);
  at::Tensor cos = emb.cos().unsqueeze(1), sin = emb.sin().unsqueeze(1);  // (N, 1, hd)
  auto mask_of = [&](const std::vector<int64_t>& cu) {
    std::vector<int64_t> segment(N);
    for (size_t s = 0; s + 1 < cu.size(); ++s)
      for (int64_t i = cu[s]; i < cu[s + 1]; ++i) segment[i] = int64_t(s);
    at::Tensor seg = at::tensor(segment, at::kLong);
    return at::zeros({N, N}, at::kDouble)
        .masked_fill(seg.unsqueeze(0) != seg.unsqueeze(1),
                     -std::numeric_limits<double>::infinity());
  };
  const at::Tensor window_mask = mask_of(cu_window), full_mask = mask_of({0, N});
  for (int l = 0; l < kDepth; ++l) {
    const std::string b = "visual.blocks." + std::to_string(l) + ".";
    const bool full = l == 1 || l == 3;
    at::Tensor h = rms(x, w[b + "norm1.weight"], 1e-6);
    at::Tensor qkv =
        linear(w, b + "attn.qkv", h, true).reshape({N, 3, H, hd}).permute({1, 0, 2, 3});
    at::Tensor q = qkv[0] * cos + rotate_half(qkv[0]) * sin;
    at::Tensor k = qkv[1] * cos + rotate_half(qkv[1]) * sin;
    at::Tensor v = qkv[2];
    at::Tensor scores =
        at::matmul(q.permute({1, 0, 2}), k.permute({1, 2, 0})) / std::sqrt(double(hd));
    scores = scores + (full ? full_mask : window_mask);
    at::Tensor y = at::matmul(at::softmax(scores, -1), v.permute({1, 0, 2}));  // (H, N, hd)
    x = x + linear(w, b + "attn.proj", y.permute({1, 0, 2}).reshape({N, C}), true);
    h = rms(x, w[b + "norm2.weight"], 1e-6);
    x = x + linear(w, b + "mlp.down_proj",
                   at::silu(linear(w, b + "mlp.gate_proj", h, true)) *
                       linear(w, b + "mlp.up_proj", h, true),
                   true);
  }
  at::Tensor merged = rms(x, w["visual.merger.ln_q.weight"], 1e-6).reshape({N / unit, -1});
  merged = linear(w, "visual.merger.mlp.2",
                  at::gelu(linear(w, "visual.merger.mlp.0", merged, true)), true);
  return merged.index({at::argsort(window_index)});
}

// get_rope_index for one image (second_per_grid_t = 0), loop for loop.
at::Tensor ref_rope_index(const std::vector<int64_t>& ids, int64_t llm_h, int64_t llm_w) {
  std::vector<std::array<int64_t, 3>> pos;
  int64_t st = 0, image_nums = 0;
  for (size_t i = 0; i + 1 < ids.size(); ++i)
    if (ids[i] == kVisionStart && ids[i + 1] == kImagePad) ++image_nums;
  auto next_start = [&]() -> int64_t {
    int64_t m = -1;
    for (const auto& p : pos) m = std::max({m, p[0], p[1], p[2]});
    return m + 1;
  };
  for (int64_t n = 0; n < image_nums; ++n) {
    const int64_t ed = std::find(ids.begin() + st, ids.end(), kImagePad) - ids.begin();
    const int64_t text_len = ed - st, st_idx = next_start();
    for (int64_t i = 0; i < text_len; ++i) pos.push_back({st_idx + i, st_idx + i, st_idx + i});
    for (int64_t hh = 0; hh < llm_h; ++hh)
      for (int64_t ww = 0; ww < llm_w; ++ww)
        pos.push_back({0 + text_len + st_idx, hh + text_len + st_idx, ww + text_len + st_idx});
    st = ed + llm_h * llm_w;
  }
  if (st < int64_t(ids.size())) {
    const int64_t st_idx = next_start();
    for (int64_t i = 0; i < int64_t(ids.size()) - st; ++i)
      pos.push_back({st_idx + i, st_idx + i, st_idx + i});
  }
  at::Tensor out = at::empty({3, int64_t(pos.size())}, at::kLong);
  for (size_t i = 0; i < pos.size(); ++i)
    for (int c = 0; c < 3; ++c) out[c][i] = pos[i][c];
  return out;
}

// Qwen2_5_VLTextModel + tied head in float64 (eager attention, causal mask, M-RoPE as
// apply_multimodal_rotary_pos_emb: sections [t, h, w] * 2 of cat(freqs, freqs), chunk i from
// component i % 3).
at::Tensor ref_logits(const Weights& w, const at::Tensor& embeds, const at::Tensor& positions) {
  const int64_t T = embeds.size(0), hd = kHeadDim;
  at::Tensor inv_freq = 1.0 / at::pow(1e6, at::arange(0, hd, 2, at::kDouble) / double(hd));
  std::vector<at::Tensor> cos_c, sin_c;
  for (int c = 0; c < 3; ++c) {
    at::Tensor freqs = positions[c].to(at::kDouble).unsqueeze(1) * inv_freq.unsqueeze(0);
    at::Tensor emb = at::cat({freqs, freqs}, -1);
    cos_c.push_back(emb.cos());
    sin_c.push_back(emb.sin());
  }
  const std::vector<int64_t> sections = {2, 3, 3, 2, 3, 3};
  auto pick = [&](const std::vector<at::Tensor>& parts) {
    std::vector<at::Tensor> chunks;
    for (size_t i = 0; i < sections.size(); ++i)
      chunks.push_back(parts[i % 3].split_with_sizes(sections, -1)[i]);
    return at::cat(chunks, -1);  // (T, hd)
  };
  const at::Tensor cos = pick(cos_c), sin = pick(sin_c);
  const at::Tensor causal = at::ones({T, T}, at::kBool).triu(1);
  at::Tensor x = embeds;
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    at::Tensor h = rms(x, w[p + "input_layernorm.weight"], 1e-6);
    at::Tensor q =
        linear(w, p + "self_attn.q_proj", h, true).reshape({T, kHeads, hd}).transpose(0, 1);
    at::Tensor k =
        linear(w, p + "self_attn.k_proj", h, true).reshape({T, kKvHeads, hd}).transpose(0, 1);
    at::Tensor v =
        linear(w, p + "self_attn.v_proj", h, true).reshape({T, kKvHeads, hd}).transpose(0, 1);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    k = k.repeat_interleave(kHeads / kKvHeads, 0);
    v = v.repeat_interleave(kHeads / kKvHeads, 0);
    at::Tensor scores = at::matmul(q, k.transpose(1, 2)) / std::sqrt(double(hd));
    scores = scores.masked_fill(causal, -std::numeric_limits<double>::infinity());
    at::Tensor y = at::matmul(at::softmax(scores, -1), v).transpose(0, 1).reshape({T, kHidden});
    x = x + linear(w, p + "self_attn.o_proj", y, false);
    h = rms(x, w[p + "post_attention_layernorm.weight"], 1e-6);
    x = x + linear(w, p + "mlp.down_proj",
                   at::silu(linear(w, p + "mlp.gate_proj", h, false)) *
                       linear(w, p + "mlp.up_proj", h, false),
                   false);
  }
  x = rms(x, w["model.norm.weight"], 1e-6);
  return at::matmul(x, w["model.embed_tokens.weight"].t());
}

double max_abs(const at::Tensor& a, const at::Tensor& b) {
  return (D(a) - D(b)).abs().max().item<double>();
}

const char* kPrompt = "<|im_start|>user\n<image>What is it?<|im_end|>\n<|im_start|>assistant\n";

}  // namespace

class TestQwen25VL : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path dir_, nested_dir_;
  Weights w_;
  std::shared_ptr<const Model> model_;
  RgbImage image_ = test_image();

  const Qwen2_5_VLModel& qwen() const { return *model_->impl().qwen_vl; }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    w_.t = tiny_tensors();
    const fs::path root = tmp_.path().toStdString();
    dir_ = write_model(root / "qwen", tiny_config(), w_.t);
    nested_dir_ = write_model(root / "qwen-nested", tiny_config_nested(), nested_tensors(w_.t));
    model_ = Model::load(dir_);
    QCOMPARE(model_->kind(), ModelKind::Llava);
    QCOMPARE(model_->architecture(), std::string("Qwen2.5-VL"));
    QVERIFY(model_->capabilities().reads_images && model_->capabilities().generates);
  }

  // The published 3B config.json parses to its real sizes; the nested (newer) form to the same.
  void config_fields() {
    json real = tiny_config();
    real["hidden_size"] = 2048;
    real["intermediate_size"] = 11008;
    real["num_hidden_layers"] = 36;
    real["num_attention_heads"] = 16;
    real["vocab_size"] = 151936;
    real["vision_config"] = {{"depth", 32},
                             {"hidden_act", "silu"},
                             {"hidden_size", 1280},
                             {"intermediate_size", 3420},
                             {"num_heads", 16},
                             {"in_chans", 3},
                             {"out_hidden_size", 2048},
                             {"patch_size", 14},
                             {"spatial_merge_size", 2},
                             {"spatial_patch_size", 14},
                             {"window_size", 112},
                             {"fullatt_block_indexes", {7, 15, 23, 31}},
                             {"tokens_per_second", 2},
                             {"temporal_patch_size", 2}};
    real["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", {16, 24, 24}}};
    const auto config = std::get<Qwen2_5_VLConfig>(parse_model_config(real.dump(), "3B"));
    QCOMPARE(config.vision.depth, 32);
    QCOMPARE(config.vision.hidden_size, 1280);
    QCOMPARE(config.vision.fullatt_block_indexes, (std::vector<int>{7, 15, 23, 31}));
    QCOMPARE(config.vision.tokens_per_second, 2);
    QCOMPARE(config.text.hidden_size, 2048);
    QCOMPARE(config.text.head_dim, 128);
    QCOMPARE(config.text.num_key_value_heads, kKvHeads);
    QCOMPARE(config.text.mrope_section, (std::vector<int>{16, 24, 24}));
    QCOMPARE(config.text.rope_scaling.type, std::string("default"));
    QCOMPARE(config.text.rope_theta, 1e6);
    QVERIFY(config.text.attention_bias && !config.text.o_proj_bias);
    QVERIFY(config.text.tie_word_embeddings);
    QCOMPARE(config.image_token_id, kImagePad);

    const auto nested =
        std::get<Qwen2_5_VLConfig>(parse_model_config(tiny_config_nested().dump(), "nested"));
    QCOMPARE(nested.text.hidden_size, kHidden);
    QCOMPARE(nested.text.mrope_section, (std::vector<int>{2, 3, 3}));
    QVERIFY(!nested.text.tie_word_embeddings);

    json bad = tiny_config();
    bad["rope_scaling"]["mrope_section"] = {2, 3, 4};
    QVERIFY_THROWS_EXCEPTION(ModelError, parse_model_config(bad.dump(), "bad"));
  }

  // smart_resize against values computed with Python from the transformers function (round()
  // halves to even: 70 -> 56, 98 -> 112).
  void smart_resize_values() {
    using P = std::pair<int, int>;
    QCOMPARE(smart_resize(180, 300, 28, kMinPixels, kMaxPixels), P(140, 224));
    QCOMPARE(smart_resize(480, 640, 28, 3136, 12845056), P(476, 644));
    QCOMPARE(smart_resize(42, 70, 28, kMinPixels, kMaxPixels), P(56, 56));
    QCOMPARE(smart_resize(12, 50, 28, kMinPixels, kMaxPixels), P(28, 140));
    QCOMPARE(smart_resize(1000, 3000, 28, kMinPixels, kMaxPixels), P(84, 308));
    QCOMPARE(smart_resize(70, 98, 28, kMinPixels, kMaxPixels), P(56, 112));
    QVERIFY_THROWS_EXCEPTION(InputError, smart_resize(9, 50, 28, kMinPixels, kMaxPixels));
  }

  // Pixel values and their order, and the grid, for a 300 x 180 image.
  void processor() {
    const Qwen2VLPixels px = qwen().preprocess(image_);
    QCOMPARE(px.resized_width, 224);
    QCOMPARE(px.resized_height, 140);
    QCOMPARE(px.grid_t, 1);
    QCOMPARE(px.grid_h, 10);
    QCOMPARE(px.grid_w, 16);
    QCOMPARE(px.merged_rows(), 5);
    QCOMPARE(px.merged_cols(), 8);
    QCOMPARE(px.patch_values, int64_t{3 * kTemporal * kPatch * kPatch});
    const at::Tensor ref = ref_patches(resize_image(image_, 224, 140, ResampleFilter::bicubic));
    const at::Tensor ours = at::from_blob(const_cast<float*>(px.patches.data()),
                                          {px.rows(), px.patch_values}, at::kFloat);
    const double err = max_abs(ours, ref);
    qInfo("processor: max |pixel value difference| %.3g", err);
    QVERIFY(err < 1e-5);
  }

  void window_index() {
    const auto ours = qwen().vision_tower().window_index(1, 10, 16);
    const auto [index, cu] = ref_window_index(10, 16);
    QCOMPARE(ours.index, std::vector<int64_t>(index.data_ptr<int64_t>(),
                                              index.data_ptr<int64_t>() + index.numel()));
    QCOMPARE(ours.cu_seqlens, cu);
    // 5 x 8 merged tokens in 4 x 4 windows: 16, 16, 4, 4 tokens (the empty padding windows gone).
    QCOMPARE(ours.cu_seqlens, (std::vector<int64_t>{0, 64, 128, 144, 160}));
  }

  void vision_tower() {
    c10::InferenceMode guard;
    const Qwen2VLPixels px = qwen().preprocess(image_);
    const at::Tensor ours = qwen().image_features(px);
    const at::Tensor ref = ref_vision(w_, ref_patches(resize_image(image_, 224, 140)), 10, 16);
    QCOMPARE(ours.size(0), int64_t{40});
    QCOMPARE(ours.size(1), int64_t{kHidden});
    const double err = max_abs(ours, ref), scale = ref.abs().max().item<double>();
    qInfo("vision tower + merger: max |diff| %.3g (max |value| %.3g)", err, scale);
    QVERIFY(err < 1e-4 * std::max(1.0, scale));
  }

  // The prompt: <image> becomes vision start, one pad per merged token, vision end; positions
  // as get_rope_index gives them.
  void prompt_and_rope_index() {
    const Tokenizer& tok = model_->tokenizer();
    const Encoding enc = qwen().encode_prompt(tok, kPrompt);
    std::vector<int64_t> expected = tok.encode("<|im_start|>user\n").ids;
    expected.push_back(kVisionStart);
    expected.insert(expected.end(), 40, kImagePad);
    expected.push_back(kVisionEnd);
    const auto rest = tok.encode("What is it?<|im_end|>\n<|im_start|>assistant\n").ids;
    expected.insert(expected.end(), rest.begin(), rest.end());
    const std::vector<int64_t> ids = qwen().expand_image_tokens(enc.ids, 40);
    QCOMPARE(ids, expected);
    // The same prompt written with the model's own tokens.
    const Encoding own = qwen().encode_prompt(
        tok,
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is it?<|im_end|>\n"
        "<|im_start|>assistant\n");
    QCOMPARE(own.ids, enc.ids);
    const at::Tensor ours = qwen().rope_index(ids, 5, 8), ref = ref_rope_index(ids, 5, 8);
    QVERIFY(at::equal(ours, ref));
    // Spot values: the image starts at the next text position s, spans rows and columns from s,
    // and the text after it continues from s + max(rows, cols).
    const int64_t s = tok.encode("<|im_start|>user\n").ids.size() + 1;
    const int64_t first = s, last = s + 39;
    QCOMPARE(ours[0][first].item<int64_t>(), s);
    QCOMPARE(ours[1][last].item<int64_t>(), s + 4);
    QCOMPARE(ours[2][last].item<int64_t>(), s + 7);
    QCOMPARE(ours[0][last + 1].item<int64_t>(), s + 8);  // <|vision_end|>
    QCOMPARE(ours[2][last + 1].item<int64_t>(), s + 8);

    // prompt_places_image (what the GUI asks before it keeps a prompt) agrees with the encoding:
    // a prompt it accepts expands to one image, one it refuses has none to expand.
    for (const std::string prompt :
         {std::string(kPrompt), std::string("<|vision_start|><|image_pad|><|vision_end|>Hi"),
          std::string("What is it?"), std::string("<|vision_start|><|vision_end|>What is it?")}) {
      bool expands = true;
      try {
        qwen().expand_image_tokens(qwen().encode_prompt(tok, prompt).ids, 40);
      } catch (const InputError&) {
        expands = false;
      }
      QCOMPARE(model_->prompt_places_image(prompt), expands);
    }
  }

  // The checkpoint's chat template puts the image as its vision tokens; that prompt is the same
  // input as our <image> marker.
  void chat_template_prompt() {
    const std::string prompt = default_prompt(dir_, "What is it?", /*with_image=*/true);
    QCOMPARE(prompt, std::string("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                                 "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
                                 "What is it?<|im_end|>\n<|im_start|>assistant\n"));
    const Tokenizer& tok = model_->tokenizer();
    const std::string with_marker =
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>"
        "What is it?<|im_end|>\n<|im_start|>assistant\n";
    QCOMPARE(qwen().encode_prompt(tok, prompt).ids, qwen().encode_prompt(tok, with_marker).ids);
  }

  // Logits of the whole model under M-RoPE against the float64 reference; both key layouts.
  void language_model_logits() {
    c10::InferenceMode guard;
    const Qwen2VLPixels px = qwen().preprocess(image_);
    const std::vector<int64_t> ids =
        qwen().expand_image_tokens(qwen().encode_prompt(model_->tokenizer(), kPrompt).ids, 40);
    const at::Tensor positions = qwen().rope_index(ids, 5, 8);
    const at::Tensor features = qwen().image_features(px);
    MropeSequence sequence(qwen().language_model(), positions);
    const at::Tensor ours = sequence.lm_logits(
        sequence.forward_embeds(qwen().input_embeds(ids, features), nullptr, nullptr))[0];

    const at::Tensor ref_features =
        ref_vision(w_, ref_patches(resize_image(image_, 224, 140)), 10, 16);
    at::Tensor embeds = w_["model.embed_tokens.weight"].index_select(
        0, at::tensor(ids, at::kLong).clamp_max(kVocab - 1));
    int64_t k = 0;
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == kImagePad) embeds[i] = ref_features[k++];
    const at::Tensor ref = ref_logits(w_, embeds, ref_rope_index(ids, 5, 8));
    const double err = max_abs(ours, ref), scale = ref.abs().max().item<double>();
    qInfo("LM logits with M-RoPE (%lld positions): max |diff| %.3g (max |logit| %.3g)",
          static_cast<long long>(ids.size()), err, scale);
    QVERIFY(err < 2e-4 * std::max(1.0, scale));

    // 1-D RoPE would give other logits: the positions matter.
    const at::Tensor plain =
        qwen().language_model().lm_logits(qwen().language_model().forward_embeds(
            qwen().input_embeds(ids, features), nullptr, nullptr))[0];
    QVERIFY(max_abs(plain, ref) > 1e-3);

    // The public forward (identity preprocessing carries the original pixels) gives the last row.
    const PixelTensor pixels = preprocess_clip(image_, model_->preprocess_config());
    const LmForward forward = lm_forward(*model_, kPrompt, &pixels);
    const at::Tensor last = at::tensor(forward.last_logits, at::kFloat);
    QVERIFY(max_abs(last, ref[ref.size(0) - 1]) < 2e-4 * std::max(1.0, scale));

    // The newer key layout (model.visual, model.language_model, lm_head) is the same model.
    const auto nested = Model::load(nested_dir_);
    const LmForward nested_forward = lm_forward(*nested, kPrompt, &pixels);
    QCOMPARE(nested_forward.last_logits, forward.last_logits);

    // In bfloat16 (the checkpoints' dtype) the same model, to bfloat16's precision.
    LoadOptions bf16;
    bf16.dtype = "bfloat16";
    const LmForward half = lm_forward(*Model::load(dir_, bf16), kPrompt, &pixels);
    const double half_err = max_abs(at::tensor(half.last_logits, at::kFloat), last);
    qInfo("bfloat16 last logits: max |diff| to float32 %.3g", half_err);
    QVERIFY(std::isfinite(half_err) && half_err < 0.05 * std::max(1.0, scale));

    // Generation continues the positions after the prompt as text (rope_deltas).
    const Generation g = generate(*model_, kPrompt, 3, &pixels);
    if (!g.ids.empty()) QCOMPARE(g.ids[0], ref[ref.size(0) - 1].argmax().item<int64_t>());
    // Without the image the number of image tokens is unknown: refused, not guessed.
    QVERIFY_THROWS_EXCEPTION(InputError, input_layout(*model_, kPrompt));
    const auto layout = input_layout(*model_, kPrompt, &pixels);
    QCOMPARE(static_cast<int64_t>(layout.size()), static_cast<int64_t>(ids.size()));
    int images = 0;
    for (const auto& p : layout) images += p.is_image;
    QCOMPARE(images, 40);
    // Model::preprocess keeps the original pixels for this model (its CLIP-style preprocessing is
    // the identity), and the size alone (input_shape) lays the prompt out the same.
    const PixelTensor via_model = model_->preprocess(image_);
    QCOMPARE(via_model.width, image_.width);
    QCOMPARE(via_model.height, image_.height);
    QVERIFY(via_model.values == pixels.values);
    const PixelTensor shape = model_->input_shape(image_.width, image_.height);
    QCOMPARE(input_layout(*model_, kPrompt, &via_model).size(), layout.size());
    QCOMPARE(input_layout(*model_, kPrompt, &shape).size(), layout.size());
  }

  // The explainer's packed batch at M-RoPE positions (each perturbation from its own start, the
  // last layer at the outputs only) equals one full forward per perturbation: starts in the text
  // before the image, on its first and a middle image token, after it, at 0 and at the last one.
  void packed_perturbations_at_mrope_positions() {
    c10::InferenceMode guard;
    const Qwen2VLPixels px = qwen().preprocess(image_);
    const std::vector<int64_t> ids =
        qwen().expand_image_tokens(qwen().encode_prompt(model_->tokenizer(), kPrompt).ids, 40);
    const int64_t T = static_cast<int64_t>(ids.size()), outputs = 2;
    const int64_t image = std::find(ids.begin(), ids.end(), kImagePad) - ids.begin();
    const at::Tensor embeds = qwen().input_embeds(ids, qwen().image_features(px));
    MropeSequence sequence(qwen().language_model(), qwen().rope_index(ids, 5, 8));
    QVERIFY(sequence.packs_suffixes());
    KVCache base;
    const at::Tensor unperturbed = sequence.forward_embeds(embeds, nullptr, &base);
    const std::vector<int64_t> starts = {image + 17, 2, image, 0, image + 41, T - outputs};
    std::vector<float> flat;
    double worst = 0, moved = 0;
    std::vector<at::Tensor> fulls;
    for (size_t b = 0; b < starts.size(); ++b) {
      std::vector<float> m(T, 1.0f);
      m[starts[b]] = 0.1f;
      m[std::min(T - 1, starts[b] + 3)] = 0.5f;  // and a later key
      flat.insert(flat.end(), m.begin(), m.end());
      Suppression one;
      one.factors = at::tensor(m, at::kFloat).unsqueeze(0);
      fulls.push_back(sequence.forward_embeds(embeds, &one, nullptr)[0].slice(0, T - outputs));
    }
    Suppression s;
    s.factors = at::tensor(flat, at::kFloat).view({int64_t(starts.size()), T});
    const at::Tensor packed = sequence.forward_suffixes(embeds, starts, s, base, outputs);
    for (size_t b = 0; b < starts.size(); ++b) {
      worst = std::max(worst, max_abs(packed[b], fulls[b]));
      moved = std::max(moved, max_abs(fulls[b], unperturbed[0].slice(0, T - outputs)));
    }
    qInfo("M-RoPE packed batch vs full forwards: max |diff| %.3g (suppression moves %.3g)", worst,
          moved);
    QVERIFY(moved > 1e-3);
    QVERIFY(worst < 1e-5);
  }

  // Each merged token is one patch candidate whose rectangle is its 28 x 28 square of the resized
  // image scaled back per axis (224 -> 300, 140 -> 180).
  void candidates_and_rectangles() {
    ExplainRequest r;
    r.model = model_;
    r.image = std::make_shared<const RgbImage>(image_);
    r.prompt = kPrompt;
    r.target = "A red";
    const Explanation e = AtmanExplainer().attribute(r);
    QCOMPARE(e.grid_rows, 5);
    QCOMPARE(e.grid_cols, 8);
    QCOMPARE(static_cast<int>(e.candidates.size()), 40);
    const double sx = 300.0 / 224, sy = 180.0 / 140;
    for (const auto& c : e.candidates) {
      QCOMPARE(c.kind, CandidateKind::Patch);
      QCOMPARE(c.positions.size(), size_t{1});
      QCOMPARE(c.rect.x, c.col * 28 * sx);
      QCOMPARE(c.rect.y, c.row * 28 * sy);
      QCOMPARE(c.rect.width, 28 * sx);
      QCOMPARE(c.rect.height, 28 * sy);
      QVERIFY(std::isfinite(c.value));
    }
    // Positions: the image tokens in row-major order right after <|vision_start|>.
    const int first = e.candidates[0].positions[0];
    for (int i = 0; i < 40; ++i) QCOMPARE(e.candidates[i].positions[0], first + i);
    // The input layout from the image's size alone gives each image token the same square.
    const PixelTensor shape = model_->input_shape(image_.width, image_.height);
    const auto layout = input_layout(*model_, kPrompt, &shape);
    int tokens = 0;
    for (size_t p = 0; p < layout.size(); ++p) {
      const InputPosition& x = layout[p];
      if (!x.is_image) continue;
      QCOMPARE(static_cast<int>(p), first + x.row * 8 + x.col);
      QCOMPARE(x.rect.x, x.col * 28 * sx);
      QCOMPARE(x.rect.y, x.row * 28 * sy);
      QCOMPARE(x.rect.width, 28 * sx);
      QCOMPARE(x.rect.height, 28 * sy);
      ++tokens;
    }
    QCOMPARE(tokens, 40);
    bool any = false;
    for (const auto& c : e.candidates) any = any || c.value != 0;
    QVERIFY(any);

    // f = 0 suppresses nothing: every value is exactly 0.
    r.factor = 0.0;
    const Explanation zero = AtmanExplainer().attribute(r);
    for (const auto& c : zero.candidates) QCOMPARE(c.value, 0.0);

    // Prompt tokens too (the vision tokens are no text candidates), and tiles of merged tokens.
    r.factor = 0.9;
    r.explain = ExplainWhat::PromptTokens;
    const Explanation text = AtmanExplainer().attribute(r);
    QVERIFY(!text.candidates.empty());
    for (const auto& c : text.candidates) {
      QCOMPARE(c.kind, CandidateKind::Token);
      QVERIFY(c.text.find("image") == std::string::npos);
      QVERIFY(std::isfinite(c.value));
    }
    r.explain = ExplainWhat::ImagePatches;
    r.tile = 3;
    const Explanation tiled = AtmanExplainer().attribute(r);
    QCOMPARE(static_cast<int>(tiled.candidates.size()), 2 * 3);
    QCOMPARE(tiled.candidates.back().rect.x + tiled.candidates.back().rect.width, 300.0);
  }

  // The gradient and attention baselines take Qwen2.5-VL: AtMan's candidates, AtMan's target
  // loss, finite and not constant values; Input×Gradient is the derivative of the float64
  // reference's log-probability along scaling each merged token's embedding (central differences
  // through ref_vision, ref_rope_index and ref_logits, none of our model code).
  void baselines() {
    ExplainRequest r;
    r.model = model_;
    r.image = std::make_shared<const RgbImage>(image_);
    r.prompt = kPrompt;
    r.target = "A r";
    const Explanation atman = AtmanExplainer().attribute(r);
    QCOMPARE(static_cast<int>(atman.candidates.size()), 40);
    for (const std::string& name : baseline_names()) {
      const Explanation e = make_baseline(name)->attribute(r);
      QCOMPARE(e.candidates.size(), atman.candidates.size());
      QCOMPARE(e.grid_rows, atman.grid_rows);
      QCOMPARE(e.grid_cols, atman.grid_cols);
      double lo = 1e300, hi = -1e300;
      for (size_t i = 0; i < e.candidates.size(); ++i) {
        const Candidate &a = e.candidates[i], &b = atman.candidates[i];
        QVERIFY(a.positions == b.positions && a.row == b.row && a.col == b.col);
        QCOMPARE(a.rect.x, b.rect.x);
        QVERIFY2(std::isfinite(a.value), name.c_str());
        lo = std::min(lo, a.value), hi = std::max(hi, a.value);
      }
      QVERIFY2(hi > lo, name.c_str());
      QCOMPARE(e.baseline_per_target.size(), atman.baseline_per_target.size());
      for (size_t t = 0; t < e.baseline_per_target.size(); ++t)
        QVERIFY2(std::abs(e.baseline_per_target[t] - atman.baseline_per_target[t]) < 1e-4,
                 name.c_str());
    }

    // F(x) = Σ_t log p(target t | prompt + target[:t]) of the float64 reference.
    const Explanation ixg = make_baseline("ixg")->attribute(r);
    const Tokenizer& tok = model_->tokenizer();
    std::vector<int64_t> ids =
        qwen().expand_image_tokens(qwen().encode_prompt(tok, kPrompt).ids, 40);
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    const std::vector<int64_t> target = tok.encode(r.target).ids;
    QVERIFY(target.size() >= 2);
    ids.insert(ids.end(), target.begin(), target.end() - 1);
    at::NoGradGuard no_grad;
    const at::Tensor features = ref_vision(w_, ref_patches(resize_image(image_, 224, 140)), 10, 16);
    at::Tensor embeds = w_["model.embed_tokens.weight"].index_select(
        0, at::tensor(ids, at::kLong).clamp_max(kVocab - 1));
    int64_t k = 0;
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == kImagePad) embeds[i] = features[k++];
    const at::Tensor positions = ref_rope_index(ids, 5, 8);
    auto F = [&](const at::Tensor& x) {
      const at::Tensor logp = at::log_softmax(ref_logits(w_, x, positions), -1);
      double sum = 0;
      for (size_t t = 0; t < target.size(); ++t)
        sum += logp[n_prompt - 1 + static_cast<int64_t>(t)][target[t]].item<double>();
      return sum;
    };
    const double h = 1e-2;
    double largest = 0, worst = 0;
    for (const Candidate& c : ixg.candidates) {
      at::Tensor up = embeds.clone(), down = embeds.clone();
      for (int p : c.positions) {
        up[p].mul_(1 + h);
        down[p].mul_(1 - h);
      }
      const double fd = (F(up) - F(down)) / (2 * h);
      largest = std::max(largest, std::abs(fd));
      worst = std::max(worst, std::abs(fd - c.value) / (2e-3 + 2e-2 * std::abs(fd)));
    }
    qInfo("ixg vs float64 central differences: largest |dF/dλ| %.3g, worst error / tolerance %.3g",
          largest, worst);
    QVERIFY(largest > 0.01);
    QVERIFY(worst <= 1.0);
  }

  // The command line explains and generates with the image (the preprocessing it runs is the
  // identity for this model; the processor does the rest).
  void command_line() {
    const QString image = tmp_.filePath("photo.png"), out = tmp_.filePath("qwen.json");
    save_png(image_, image.toStdString());
    QProcess cli;
    cli.start(ATMAN_CLI, {"explain", "--model", QString::fromStdString(dir_.string()), "--image",
                          image, "--prompt", kPrompt, "--target", "A red", "--json", out});
    QVERIFY(cli.waitForFinished(120000));
    const QString output = cli.readAllStandardOutput() + cli.readAllStandardError();
    QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(output));
    std::ifstream in(out.toStdString());
    const json e = json::parse(in);
    QVERIFY2(e.dump().find("Qwen2.5-VL") != std::string::npos, qPrintable(output));
    QCOMPARE(e["candidates"].size(), size_t{40});
    cli.start(ATMAN_CLI, {"generate", "--model", QString::fromStdString(dir_.string()), "--image",
                          image, "--prompt", kPrompt, "--max-new-tokens", "2"});
    QVERIFY(cli.waitForFinished(120000));
    QVERIFY2(cli.exitCode() == 0,
             qPrintable(cli.readAllStandardOutput() + cli.readAllStandardError()));
  }

  // The left half of the image is a solid colour: every merged token whose rectangle lies there,
  // given the value 1 (all others 0), colours exactly the left half of the overlay.
  void left_half_overlay() {
    ExplainRequest r;
    r.model = model_;
    r.image = std::make_shared<const RgbImage>(image_);
    r.prompt = kPrompt;
    r.target = "A";
    Explanation e = AtmanExplainer().attribute(r);
    int left = 0;
    for (auto& c : e.candidates) {
      const bool in_left = c.rect.x + c.rect.width <= 150.0 + 1e-9;
      c.value = in_left ? 1.0 : 0.0;
      left += in_left;
    }
    QCOMPARE(left, 5 * 4);  // columns 0..3 of 8 end at 4 * 37.5 = 150 pixels
    OverlayOptions options;
    options.opacity = 1.0;
    options.smooth = false;
    options.scale_max = 1.0;
    const RgbImage overlay = render_overlay(image_, e, options);
    uint8_t hot[3], cold[3];
    colormap_rgb(options.colormap, 1.0, hot);
    colormap_rgb(options.colormap, 0.0, cold);
    for (int y = 0; y < overlay.height; ++y)
      for (int x = 0; x < overlay.width; ++x) {
        const uint8_t* px = &overlay.pixels[(size_t(y) * overlay.width + x) * 3];
        const uint8_t* want = x < 150 ? hot : cold;
        if (px[0] != want[0] || px[1] != want[1] || px[2] != want[2])
          QFAIL(qPrintable(QString("overlay pixel (%1, %2) has the wrong colour").arg(x).arg(y)));
      }
  }
};

QTEST_GUILESS_MAIN(TestQwen25VL)
#include "test_qwen2_5_vl.moc"
