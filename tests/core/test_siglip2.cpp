// SigLIP 2 NaFlex (HF Siglip2Model, model_type "siglip2") against float64 computations written
// here from transformers' modeling_siglip2.py and image_processing_siglip2.py (not calling our
// model code): a tiny random checkpoint with the config fields and key layout of
// google/siglip2-base-patch16-naflex, shrunk in size (8 px patches, a 4 x 4 position grid, at most
// 20 patches per image), compared plain and under AtMan suppression (spec §1) of image patches.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

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
#include "atman/names.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "image/siglip2_image.h"
#include "models/loaded_model.h"

using namespace atman;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kHidden = 32, kHeads = 4, kInter = 64, kLayers = 2, kVocab = 300, kPositions = 16;
constexpr int kPatch = 8, kGrid = 4, kNumPatches = kGrid * kGrid, kMaxPatches = 20;
constexpr int kPatchValues = 3 * kPatch * kPatch;
constexpr double kEps = 1e-6;

// google/siglip2-base-patch16-naflex's config.json fields, with the sizes shrunk.
json tiny_config() {
  return {{"architectures", {"Siglip2Model"}},
          {"initializer_factor", 1.0},
          {"model_type", "siglip2"},
          {"text_config",
           {{"hidden_act", "gelu_pytorch_tanh"},
            {"hidden_size", kHidden},
            {"intermediate_size", kInter},
            {"layer_norm_eps", 1e-6},
            {"max_position_embeddings", kPositions},
            {"model_type", "siglip2_text_model"},
            {"num_attention_heads", kHeads},
            {"num_hidden_layers", kLayers},
            {"vocab_size", kVocab}}},
          {"torch_dtype", "float32"},
          {"transformers_version", "4.49.0.dev0"},
          {"vision_config",
           {{"hidden_act", "gelu_pytorch_tanh"},
            {"hidden_size", kHidden},
            {"intermediate_size", kInter},
            {"layer_norm_eps", 1e-6},
            {"model_type", "siglip2_vision_model"},
            {"num_attention_heads", kHeads},
            {"num_channels", 3},
            {"num_hidden_layers", kLayers},
            {"num_patches", kNumPatches},
            {"patch_size", kPatch}}}};
}

void add_layers(std::map<std::string, at::Tensor>& t, const std::string& prefix) {
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = prefix + "encoder.layers." + std::to_string(l) + ".";
    for (const char* n : {"layer_norm1", "layer_norm2"}) {
      t[p + n + ".weight"] = 1 + 0.1 * at::randn({kHidden});
      t[p + n + ".bias"] = 0.1 * at::randn({kHidden});
    }
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t[p + "self_attn." + n + ".weight"] = 0.2 * at::randn({kHidden, kHidden});
      t[p + "self_attn." + n + ".bias"] = 0.1 * at::randn({kHidden});
    }
    t[p + "mlp.fc1.weight"] = 0.2 * at::randn({kInter, kHidden});
    t[p + "mlp.fc1.bias"] = 0.1 * at::randn({kInter});
    t[p + "mlp.fc2.weight"] = 0.2 * at::randn({kHidden, kInter});
    t[p + "mlp.fc2.bias"] = 0.1 * at::randn({kHidden});
  }
}

std::map<std::string, at::Tensor> tiny_tensors() {
  at::manual_seed(11);
  std::map<std::string, at::Tensor> t;
  const std::string v = "vision_model.";
  t[v + "embeddings.patch_embedding.weight"] = 0.1 * at::randn({kHidden, kPatchValues});
  t[v + "embeddings.patch_embedding.bias"] = 0.1 * at::randn({kHidden});
  t[v + "embeddings.position_embedding.weight"] = 0.5 * at::randn({kNumPatches, kHidden});
  add_layers(t, v);
  t[v + "post_layernorm.weight"] = 1 + 0.1 * at::randn({kHidden});
  t[v + "post_layernorm.bias"] = 0.1 * at::randn({kHidden});
  t[v + "head.probe"] = at::randn({1, 1, kHidden});
  t[v + "head.attention.in_proj_weight"] = 0.2 * at::randn({3 * kHidden, kHidden});
  t[v + "head.attention.in_proj_bias"] = 0.1 * at::randn({3 * kHidden});
  t[v + "head.attention.out_proj.weight"] = 0.2 * at::randn({kHidden, kHidden});
  t[v + "head.attention.out_proj.bias"] = 0.1 * at::randn({kHidden});
  t[v + "head.layernorm.weight"] = 1 + 0.1 * at::randn({kHidden});
  t[v + "head.layernorm.bias"] = 0.1 * at::randn({kHidden});
  t[v + "head.mlp.fc1.weight"] = 0.2 * at::randn({kInter, kHidden});
  t[v + "head.mlp.fc1.bias"] = 0.1 * at::randn({kInter});
  t[v + "head.mlp.fc2.weight"] = 0.2 * at::randn({kHidden, kInter});
  t[v + "head.mlp.fc2.bias"] = 0.1 * at::randn({kHidden});
  const std::string x = "text_model.";
  t[x + "embeddings.token_embedding.weight"] = at::randn({kVocab, kHidden});
  t[x + "embeddings.position_embedding.weight"] = 0.5 * at::randn({kPositions, kHidden});
  add_layers(t, x);
  t[x + "final_layer_norm.weight"] = 1 + 0.1 * at::randn({kHidden});
  t[x + "final_layer_norm.bias"] = 0.1 * at::randn({kHidden});
  t[x + "head.weight"] = 0.2 * at::randn({kHidden, kHidden});
  t[x + "head.bias"] = 0.1 * at::randn({kHidden});
  t["logit_scale"] = at::full({1}, std::log(10.0));
  t["logit_bias"] = at::full({1}, -2.5);
  return t;
}

// A Gemma-style BPE with byte fallback and Gemma's special ids (<pad> 0, <eos> 1, <bos> 2,
// <unk> 3), as SigLIP 2 ships it; the post-processor comes from tokenizer_config.json's
// add_bos_token / add_eos_token (GemmaTokenizer).
json tiny_tokenizer() {
  json vocab = {{"<pad>", 0}, {"<eos>", 1}, {"<bos>", 2}, {"<unk>", 3}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 4 + b;
  }
  const std::string u = "\xE2\x96\x81";
  const std::vector<std::string> pieces = {
      u, "a", "c", "t", "o", "g", "d", u + "c", u + "d", "at", "og", u + "cat", u + "dog", u + "a"};
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 260 + static_cast<int>(i);
  const json merges = {u + " c", u + " d", "a t", "o g", u + "c at", u + "d og", u + " a"};
  auto added = [](int id, const char* content) {
    return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return {
      {"version", "1.0"},
      {"added_tokens",
       {added(0, "<pad>"), added(1, "<eos>"), added(2, "<bos>"), added(3, "<unk>")}},
      {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", u}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "<eos>"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
          {{"SpecialToken", {{"id", "<eos>"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"<eos>", {{"id", "<eos>"}, {"ids", {1}}, {"tokens", {"<eos>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", u}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}}};
}

void write_json(const fs::path& path, const json& value) {
  std::ofstream(path) << value.dump(2);
}

// `mask_text`: whether the tokenizer returns an attention_mask (GemmaTokenizer's default); the
// published checkpoints' tokenizer_config.json lists model_input_names ["input_ids"] only.
fs::path write_tiny_siglip2(const fs::path& dir, bool mask_text) {
  fs::create_directories(dir);
  write_json(dir / "config.json", tiny_config());
  write_json(dir / "tokenizer.json", tiny_tokenizer());
  json tok = {{"tokenizer_class", "GemmaTokenizer"},
              {"add_bos_token", false},
              {"add_eos_token", true},
              {"pad_token", "<pad>"},
              {"eos_token", "<eos>"},
              {"bos_token", "<bos>"},
              {"unk_token", "<unk>"},
              {"padding_side", "right"}};
  if (!mask_text) tok["model_input_names"] = {"input_ids"};
  write_json(dir / "tokenizer_config.json", tok);
  // google/siglip2-base-patch16-naflex's preprocessor_config.json, with the sizes shrunk.
  write_json(dir / "preprocessor_config.json", {{"do_convert_rgb", nullptr},
                                                {"do_normalize", true},
                                                {"do_rescale", true},
                                                {"do_resize", true},
                                                {"image_mean", {0.5, 0.5, 0.5}},
                                                {"image_processor_type", "Siglip2ImageProcessor"},
                                                {"image_std", {0.5, 0.5, 0.5}},
                                                {"max_num_patches", kMaxPatches},
                                                {"patch_size", kPatch},
                                                {"processor_class", "Siglip2Processor"},
                                                {"resample", 2},
                                                {"rescale_factor", 0.00392156862745098}});
  test::write_weights(dir, tiny_tensors(), test::TinyDType::F32, false);
  return dir;
}

// W x H: the left half (x < W / 2) one colour, the right half a pattern.
RgbImage half_solid_image(int width, int height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* px = &image.pixels[(size_t(y) * width + x) * 3];
      if (2 * x < width) {
        px[0] = 30, px[1] = 160, px[2] = 220;
      } else {
        px[0] = uint8_t((x * 7 + y * 13) % 256);
        px[1] = uint8_t((x * x + 3 * y) % 256);
        px[2] = uint8_t((x * y + 17) % 256);
      }
    }
  return image;
}

RgbImage pattern_image(int width, int height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  for (int i = 0; i < width * height * 3; ++i)
    image.pixels.push_back(static_cast<uint8_t>((i * 53 + (i / 120) * 29) % 256));
  return image;
}

// ---- float64 references, from the transformers source -----------------------------------------

using Weights = std::map<std::string, at::Tensor>;

at::Tensor d(const Weights& w, const std::string& name) {
  return w.at(name).to(at::kDouble);
}

at::Tensor layer_norm(const at::Tensor& x, const Weights& w, const std::string& p) {
  at::Tensor mean = x.mean(-1, true);
  at::Tensor var = (x - mean).pow(2).mean(-1, true);
  return (x - mean) / at::sqrt(var + kEps) * d(w, p + ".weight") + d(w, p + ".bias");
}

at::Tensor linear(const at::Tensor& x, const Weights& w, const std::string& p) {
  return at::matmul(x, d(w, p + ".weight").t()) + d(w, p + ".bias");
}

at::Tensor gelu_tanh(const at::Tensor& x) {  // gelu_pytorch_tanh
  return 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}

// torch's antialiased bilinear resampling weights along one axis (F.interpolate(mode="bilinear",
// antialias=True, align_corners=False), the PIL-style separable triangle filter of
// UpSampleKernel.cpp): output i is centred at scale * (i + 0.5) with scale = in / out; the
// triangle is stretched by the scale when shrinking (support = scale) and is plain bilinear when
// enlarging (support = 1); taps are [int(center - support + 0.5), int(center + support + 0.5))
// clipped to the input, normalised to sum 1. Returns (out, in).
at::Tensor aa_weights(int in, int out) {
  const double scale = double(in) / out;
  const double support = scale >= 1 ? scale : 1.0, inv = scale >= 1 ? 1.0 / scale : 1.0;
  at::Tensor w = at::zeros({out, in}, at::kDouble);
  for (int i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
    double total = 0;
    std::vector<double> taps;
    for (int64_t j = lo; j < hi; ++j) {
      const double t = std::abs((j - center + 0.5) * inv);
      taps.push_back(t < 1 ? 1 - t : 0);
      total += taps.back();
    }
    for (int64_t j = lo; j < hi; ++j) w[i][j] = taps[j - lo] / total;
  }
  return w;
}

// resize_positional_embeddings: the (grid, grid, C) table resized to rows x cols, flattened
// row-major, then padded to `length` with its first row: (length, C).
at::Tensor ref_positions(const Weights& w, int rows, int cols, int length) {
  const at::Tensor table = d(w, "vision_model.embeddings.position_embedding.weight");
  const at::Tensor wr = aa_weights(kGrid, rows), wc = aa_weights(kGrid, cols);
  std::vector<at::Tensor> out;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      at::Tensor sum = at::zeros({kHidden}, at::kDouble);
      for (int i = 0; i < kGrid; ++i)
        for (int j = 0; j < kGrid; ++j)
          sum = sum + wr[r][i].item<double>() * wc[c][j].item<double>() * table[i * kGrid + j];
      out.push_back(sum);
    }
  while (static_cast<int>(out.size()) < length) out.push_back(out[0]);
  return at::stack(out);
}

// One head at a time, softmax written out. `m` (S) are the AtMan factors (spec §1: rowmin over
// every key, padded ones included) or undefined; `valid` keys (the first `valid`) are seen, the
// rest get the padding mask (HF adds finfo.min: their weights are 0).
// `record` receives each call's (H, T, S) weights (for the baselines).
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& m, int64_t valid, std::vector<at::Tensor>* record = nullptr) {
  const int64_t D = kHidden / kHeads, S = k.size(0);
  std::vector<at::Tensor> outs, weights;
  for (int h = 0; h < kHeads; ++h) {
    at::Tensor qh = q.slice(-1, h * D, (h + 1) * D), kh = k.slice(-1, h * D, (h + 1) * D);
    at::Tensor s = at::matmul(qh, kh.t());  // (T, S)
    if (m.defined()) s = (s - std::get<0>(s.min(-1, true))) * m;
    s = s / std::sqrt(double(D));
    at::Tensor e = at::exp(s - std::get<0>(s.slice(1, 0, valid).max(-1, true)));
    if (valid < S) e.slice(1, valid, S).zero_();
    weights.push_back(e / e.sum(-1, true));
    outs.push_back(at::matmul(weights.back(), v.slice(-1, h * D, (h + 1) * D)));
  }
  if (record) record->push_back(at::stack(weights));
  return at::cat(outs, -1);
}

at::Tensor encoder(at::Tensor x, const Weights& w, const std::string& prefix, const at::Tensor& m,
                   int64_t valid, std::vector<at::Tensor>* record = nullptr) {
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = prefix + "encoder.layers." + std::to_string(l) + ".";
    at::Tensor h = layer_norm(x, w, p + "layer_norm1");
    at::Tensor a =
        attend(linear(h, w, p + "self_attn.q_proj"), linear(h, w, p + "self_attn.k_proj"),
               linear(h, w, p + "self_attn.v_proj"), m, valid, record);
    x = x + linear(a, w, p + "self_attn.out_proj");
    h = gelu_tanh(linear(layer_norm(x, w, p + "layer_norm2"), w, p + "mlp.fc1"));
    x = x + linear(h, w, p + "mlp.fc2");
  }
  return x;
}

// The processor's output for an image, written from image_processing_siglip2.py: the resized
// image (resize_image is PIL's resize, bit for bit, test_image) rescaled and normalised in double,
// patch (r, c) at row r * cols + c holding pixel (y, x) channel ch at (y * p + x) * 3 + ch, zero
// rows up to max_num_patches.
struct RefPixels {
  at::Tensor patches;  // (kMaxPatches, kPatchValues) double
  int rows = 0, cols = 0;
};

RefPixels ref_pixels(const RgbImage& image, int height, int width) {
  const RgbImage resized = resize_image(image, width, height, ResampleFilter::bilinear);
  RefPixels out;
  out.rows = height / kPatch;
  out.cols = width / kPatch;
  out.patches = at::zeros({kMaxPatches, kPatchValues}, at::kDouble);
  for (int r = 0; r < out.rows; ++r)
    for (int c = 0; c < out.cols; ++c)
      for (int y = 0; y < kPatch; ++y)
        for (int x = 0; x < kPatch; ++x)
          for (int ch = 0; ch < 3; ++ch) {
            const int py = r * kPatch + y, px = c * kPatch + x;
            const double v = resized.pixels[(size_t(py) * width + px) * 3 + ch] / 255.0;
            out.patches[r * out.cols + c][(y * kPatch + x) * 3 + ch] = (v - 0.5) / 0.5;
          }
  return out;
}

// Siglip2VisionTransformer pooler_output for the patch embeddings (kMaxPatches, C) of an image
// of rows x cols patches (before positions); m over the kMaxPatches positions; `record` gets the
// encoder's and then the head's attention weights.
at::Tensor ref_image_from_embeds(const at::Tensor& patch_embeds, int rows, int cols,
                                 const Weights& w, const at::Tensor& m,
                                 std::vector<at::Tensor>* record = nullptr) {
  const std::string v = "vision_model.";
  const int64_t valid = int64_t{rows} * cols;
  at::Tensor x = patch_embeds + ref_positions(w, rows, cols, kMaxPatches);
  x = layer_norm(encoder(x, w, v, m, valid, record), w, v + "post_layernorm");
  // Siglip2MultiheadAttentionPoolingHead: nn.MultiheadAttention(probe, x, x, attn_mask = padding).
  const std::string hd = v + "head.";
  at::Tensor in_w = d(w, hd + "attention.in_proj_weight"),
             in_b = d(w, hd + "attention.in_proj_bias");
  auto proj = [&](const at::Tensor& t, int i) {
    return at::matmul(t, in_w.slice(0, i * kHidden, (i + 1) * kHidden).t()) +
           in_b.slice(0, i * kHidden, (i + 1) * kHidden);
  };
  at::Tensor probe = d(w, hd + "probe").reshape({1, kHidden});
  at::Tensor h = linear(attend(proj(probe, 0), proj(x, 1), proj(x, 2), m, valid, record), w,
                        hd + "attention.out_proj");
  h = h + linear(gelu_tanh(linear(layer_norm(h, w, hd + "layernorm"), w, hd + "mlp.fc1")), w,
                 hd + "mlp.fc2");
  return h[0];
}

// Siglip2VisionTransformer pooler_output; m over the kMaxPatches positions.
at::Tensor ref_image(const RefPixels& px, const Weights& w, const at::Tensor& m) {
  return ref_image_from_embeds(linear(px.patches, w, "vision_model.embeddings.patch_embedding"),
                               px.rows, px.cols, w, m);
}

// Siglip2TextTransformer pooler_output for ids (T) of which the first `valid` are attended
// (attention_mask; T when the tokenizer returns none): no causal mask, last position, head.
at::Tensor ref_text(const std::vector<int64_t>& ids, int64_t valid, const Weights& w) {
  const std::string t = "text_model.";
  at::Tensor table = d(w, t + "embeddings.token_embedding.weight");
  at::Tensor pos = d(w, t + "embeddings.position_embedding.weight");
  std::vector<at::Tensor> rows;
  for (size_t i = 0; i < ids.size(); ++i) rows.push_back(table[ids[i]] + pos[i]);
  at::Tensor x = layer_norm(encoder(at::stack(rows), w, t, {}, valid), w, t + "final_layer_norm");
  return linear(x[static_cast<int64_t>(ids.size()) - 1], w, t + "head");
}

double ref_logit(const at::Tensor& img, const at::Tensor& txt, const Weights& w) {
  return (std::exp(w.at("logit_scale").item<double>()) * (img / img.norm()).dot(txt / txt.norm()) +
          w.at("logit_bias").item<double>())
      .item<double>();
}

// Siglip2Processor's ids for a label: the tokenizer's (no bos, eos appended), padded with <pad> (0)
// to max_length; `count` receives the number of real tokens.
std::vector<int64_t> padded(const Model& model, const std::string& label, int64_t* count) {
  std::vector<int64_t> ids = model.tokenizer().encode(label).ids;
  *count = static_cast<int64_t>(ids.size());
  ids.resize(kPositions, 0);
  return ids;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

class TestSiglip2 : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  fs::path dir_, masked_dir_;
  std::shared_ptr<const Model> model_, masked_;  // masked_: the tokenizer returns attention_mask
  Weights weights_;

  // Logits of `labels` for `image` (processed as `height` x `width`), our model vs the reference.
  double logits_deviation(const Model& model, bool mask_text, const RgbImage& image, int height,
                          int width, const at::Tensor& m, const std::vector<std::string>& labels) {
    c10::InferenceMode guard;
    const Siglip2Model& siglip = *model.impl().siglip2;
    const Siglip2Pixels pixels = siglip.preprocess(image);
    Suppression s;
    if (m.defined()) s.factors = m.to(at::kFloat).unsqueeze(0);
    const at::Tensor x = siglip.patch_embeddings(siglip.patches_tensor(pixels)) +
                         siglip.position_embeddings(pixels.rows, pixels.cols, pixels.max_patches);
    const at::Tensor img = siglip.image_embeds_from_embeddings(x, siglip.patch_mask(pixels), &s);
    const at::Tensor want_img = ref_image(ref_pixels(image, height, width), weights_, m);
    double worst = 0;
    for (const auto& label : labels) {
      const Siglip2Text text = siglip2_text(siglip, model.tokenizer(), label);
      const at::Tensor got =
          siglip.logits(img, siglip.text_embeds(at::tensor(text.ids, at::kLong).unsqueeze(0),
                                                at::tensor(text.mask, at::kLong).unsqueeze(0)));
      int64_t count = 0;
      const std::vector<int64_t> ids = padded(model, label, &count);
      const double want =
          ref_logit(want_img, ref_text(ids, mask_text ? count : kPositions, weights_), weights_);
      if (!std::isfinite(want)) return INFINITY;
      worst = std::max(worst, std::abs(got.item<double>() - want));
    }
    return worst;
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    dir_ = write_tiny_siglip2(fs::path(tmp_.path().toStdString()) / "siglip2", false);
    masked_dir_ = write_tiny_siglip2(fs::path(tmp_.path().toStdString()) / "siglip2-mask", true);
    model_ = Model::load(dir_);
    masked_ = Model::load(masked_dir_);
    weights_ = tiny_tensors();
  }

  void loads() {
    QCOMPARE(model_->kind(), ModelKind::Siglip);
    QCOMPARE(model_->architecture(), std::string("SigLIP 2 NaFlex"));
    QVERIFY(model_->capabilities().reads_images);
    QVERIFY(model_->capabilities().target_is_label);
    QCOMPARE(model_->patch_grid(), 0);  // the grid follows each image's aspect ratio
    QCOMPARE(model_->max_text_tokens(), int64_t(kPositions));
    const auto& config = std::get<SiglipConfig>(model_->impl().config);
    QVERIFY(config.naflex);
    QCOMPARE(config.num_patches, kNumPatches);
    QCOMPARE(config.vision.hidden_act, Activation::GeluTanh);
    const Siglip2Model& siglip = *model_->impl().siglip2;
    QCOMPARE(siglip.position_grid(), kGrid);
    QCOMPARE(siglip.text_options().pad_id, int64_t{0});  // Gemma's <pad>, not config pad_token_id
    QVERIFY(!siglip.text_options().attention_mask);      // model_input_names: input_ids only
    QVERIFY(masked_->impl().siglip2->text_options().attention_mask);
    QCOMPARE(siglip.image_config().max_num_patches, kMaxPatches);
    QCOMPARE(siglip.image_config().resample, ResampleFilter::bilinear);
    // No bos, eos (1) appended, as the checkpoints' add_bos_token false / add_eos_token true.
    QCOMPARE(model_->tokenizer().encode("a cat").ids, (std::vector<int64_t>{261, 271, 1}));
  }

  // get_image_size_for_max_num_patches: the values of transformers' function, run in Python
  // (image_processing_siglip2.py), for (height, width, patch, max_num_patches).
  void image_size() {
    struct Case {
      int h, w, p, max, want_h, want_w;
    };
    for (const Case& c :
         {Case{50, 90, 8, 20, 24, 48}, Case{28, 52, 8, 20, 24, 48}, Case{40, 48, 8, 20, 32, 40},
          Case{36, 40, 8, 20, 32, 40}, Case{200, 30, 8, 20, 80, 16}, Case{5, 300, 8, 20, 8, 160},
          Case{768, 1024, 16, 256, 224, 288}, Case{1080, 1920, 16, 256, 192, 336},
          Case{7, 7, 16, 256, 256, 256}, Case{224, 224, 16, 256, 256, 256},
          Case{33, 17, 4, 1000, 172, 92}}) {
      const auto [h, w] = siglip2_image_size(c.h, c.w, c.p, c.max);
      QCOMPARE(h, c.want_h);
      QCOMPARE(w, c.want_w);
      QVERIFY(int64_t{h / c.p} * (w / c.p) <= c.max);
    }
  }

  // Siglip2ImageProcessor on a 90 x 50 image: resized to 48 x 24 (a 3 x 6 grid, 18 patches), the
  // patches row-major, each (y, x, channel), two zero rows of padding, mask 18 ones.
  void processor() {
    const RgbImage image = half_solid_image(90, 50);
    const Siglip2Pixels got = model_->impl().siglip2->preprocess(image);
    QCOMPARE(got.rows, 3);
    QCOMPARE(got.cols, 6);
    QCOMPARE(got.resized_width, 48);
    QCOMPARE(got.resized_height, 24);
    QCOMPARE(got.valid(), int64_t{18});
    QCOMPARE(got.max_patches, int64_t{kMaxPatches});
    QCOMPARE(got.patch_values, int64_t{kPatchValues});
    const RefPixels want = ref_pixels(image, 24, 48);
    const at::Tensor got_t =
        at::tensor(got.patches, at::kFloat).view({kMaxPatches, kPatchValues}).to(at::kDouble);
    const double worst = max_abs_diff(got_t, want.patches);
    std::printf("SigLIP 2 patches max |diff| vs reference: %.2e\n", worst);
    QVERIFY(worst < 1e-6);
    QCOMPARE(got_t.slice(0, 18).abs().max().item<double>(), 0.0);  // the padding
    const at::Tensor mask = model_->impl().siglip2->patch_mask(got).squeeze(0).to(at::kLong);
    QCOMPARE(mask.slice(0, 0, 18).sum().item<int64_t>(), int64_t{18});
    QCOMPARE(mask.slice(0, 18).sum().item<int64_t>(), int64_t{0});
    // Patch (1, 2)'s rectangle of the original image: resized pixels [16, 24) x [8, 16) scaled
    // back by 90 / 48 and 50 / 24.
    const RectF r = got.rect(1, 2);
    QCOMPARE(r.x, 16 * 90.0 / 48);
    QCOMPARE(r.y, 8 * 50.0 / 24);
    QCOMPARE(r.width, 8 * 90.0 / 48);
    QCOMPARE(r.height, 8 * 50.0 / 24);

    // The class defaults when the file names only the processor.
    const fs::path defaults = fs::path(tmp_.path().toStdString()) / "defaults";
    fs::create_directories(defaults);
    write_json(defaults / "preprocessor_config.json",
               {{"image_processor_type", "Siglip2ImageProcessor"}});
    const Siglip2ImageConfig c = load_siglip2_image_config(defaults);
    QCOMPARE(c.patch_size, 16);
    QCOMPARE(c.max_num_patches, 256);
    QCOMPARE(c.mean[0], 0.5f);
    QCOMPARE(c.std[2], 0.5f);
    QCOMPARE(c.resample, ResampleFilter::bilinear);
  }

  // The position table resized to each grid: F.interpolate bilinear with antialias (shrinking
  // rows 4 -> 3 and widening columns 4 -> 6, and the reverse), against the reference weights; the
  // table itself for its own grid; padding repeats the first row.
  void position_embeddings() {
    c10::InferenceMode guard;
    const Siglip2Model& siglip = *model_->impl().siglip2;
    double worst = 0;
    for (auto [rows, cols] :
         {std::pair{3, 6}, std::pair{10, 2}, std::pair{4, 5}, std::pair{1, 1}, std::pair{2, 7}}) {
      const at::Tensor got = siglip.position_embeddings(rows, cols, kMaxPatches);
      QCOMPARE(got.size(0), int64_t{kMaxPatches});
      worst = std::max(worst, max_abs_diff(got, ref_positions(weights_, rows, cols, kMaxPatches)));
    }
    std::printf("SigLIP 2 resized positions max |diff| vs float64: %.2e\n", worst);
    QVERIFY(worst < 1e-5);
    const at::Tensor same = siglip.position_embeddings(kGrid, kGrid, kNumPatches);
    QVERIFY(max_abs_diff(same, weights_.at("vision_model.embeddings.position_embedding.weight")) <
            1e-6);
    // Antialiasing matters here: shrinking 4 -> 2 rows, output row 0 takes input rows 0..2 with a
    // stretched triangle; plain bilinear would average rows 0 and 1.
    const at::Tensor shrunk = siglip.position_embeddings(2, kGrid, 8);
    const at::Tensor table = weights_.at("vision_model.embeddings.position_embedding.weight");
    const at::Tensor plain = (table[0] + table[kGrid]) / 2;
    QVERIFY(max_abs_diff(shrunk[0], plain) > 1e-3);
    QVERIFY_THROWS_EXCEPTION(InputError, siglip.position_embeddings(5, 5, kMaxPatches));
  }

  // Logits for non-square images with and without padding, plain and with two patches suppressed
  // (factor 0.1 and 0), text with and without the attention mask.
  void parity() {
    const std::vector<std::string> labels = {"a cat", "dog", "a dog cat", "cat cat dog a"};
    const RgbImage wide = half_solid_image(90, 50), square = pattern_image(40, 36);
    at::Tensor m = at::ones({kMaxPatches}, at::kDouble);
    m[4] = 0.1;
    m[11] = 0.0;
    double plain = 0, suppressed = 0;
    for (const bool mask_text : {false, true}) {
      const Model& model = mask_text ? *masked_ : *model_;
      plain = std::max(plain, logits_deviation(model, mask_text, wide, 24, 48, {}, labels));
      plain = std::max(plain, logits_deviation(model, mask_text, square, 32, 40, {}, labels));
      suppressed =
          std::max(suppressed, logits_deviation(model, mask_text, wide, 24, 48, m, labels));
      suppressed =
          std::max(suppressed, logits_deviation(model, mask_text, square, 32, 40, m, labels));
    }
    std::printf("SigLIP 2 logits max |diff| vs float64: plain %.2e, suppressed %.2e\n", plain,
                suppressed);
    QVERIFY(plain < 1e-4);
    QVERIFY(suppressed < 1e-4);

    // Neither the suppression nor the text mask is a no-op in the reference.
    c10::InferenceMode guard;
    const RefPixels px = ref_pixels(wide, 24, 48);
    int64_t count = 0;
    const std::vector<int64_t> ids = padded(*model_, "a cat", &count);
    const at::Tensor txt = ref_text(ids, kPositions, weights_);
    QVERIFY(std::abs(ref_logit(ref_image(px, weights_, {}), txt, weights_) -
                     ref_logit(ref_image(px, weights_, m), txt, weights_)) > 1e-3);
    QVERIFY(max_abs_diff(txt, ref_text(ids, count, weights_)) > 1e-3);
  }

  // Padded patches are invisible to the real ones: changing their content leaves the image
  // embedding as it was (without suppression, which shifts by the whole row's minimum).
  void padding_is_masked() {
    c10::InferenceMode guard;
    const Siglip2Model& siglip = *model_->impl().siglip2;
    const Siglip2Pixels pixels = siglip.preprocess(half_solid_image(90, 50));
    const at::Tensor mask = siglip.patch_mask(pixels);
    at::Tensor x = siglip.patch_embeddings(siglip.patches_tensor(pixels)) +
                   siglip.position_embeddings(pixels.rows, pixels.cols, pixels.max_patches);
    const at::Tensor a = siglip.image_embeds_from_embeddings(x, mask);
    x = x.clone();
    x.slice(1, pixels.valid()).normal_();
    const at::Tensor b = siglip.image_embeds_from_embeddings(x, mask);
    QVERIFY(max_abs_diff(a, b) < 1e-6);
    // Without the mask the padding is read: the embedding moves.
    QVERIFY(max_abs_diff(a, siglip.image_embeds_from_embeddings(x, at::ones_like(mask))) > 1e-3);
  }

  // AtMan on SigLIP 2: the candidates are the 18 real patches of the 3 x 6 grid (never the two
  // padded positions), each at position r * 6 + c with its rectangle of the 90 x 50 image; a
  // candidate's value is the loss with its patch suppressed minus the baseline, from the float64
  // reference.
  void explains() {
    const auto image = std::make_shared<RgbImage>(half_solid_image(90, 50));
    ExplainRequest r;
    r.model = model_;
    r.image = image;
    r.labels = {"cat", "dog", "a cat"};
    r.target = "dog";
    r.batch_size = 4;
    const RefPixels px = ref_pixels(*image, 24, 48);
    std::vector<at::Tensor> texts;
    for (const auto& label : r.labels) {
      int64_t count = 0;
      texts.push_back(ref_text(padded(*model_, label, &count), kPositions, weights_));
    }
    auto ref_loss = [&](const at::Tensor& m, SiglipLoss loss) {
      const at::Tensor img = ref_image(px, weights_, m);
      std::vector<double> logits;
      for (const auto& t : texts) logits.push_back(ref_logit(img, t, weights_));
      if (loss == SiglipLoss::Sigmoid) return std::log1p(std::exp(-logits[1]));  // -log σ(z)
      double z = 0;
      for (double l : logits) z += std::exp(l);
      return std::log(z) - logits[1];
    };
    for (SiglipLoss loss : {SiglipLoss::Sigmoid, SiglipLoss::Softmax}) {
      r.siglip_loss = loss;
      const Explanation e = AtmanExplainer().attribute(r);
      QCOMPARE(e.architecture, std::string("SigLIP 2 NaFlex"));
      QCOMPARE(e.grid_rows, 3);
      QCOMPARE(e.grid_cols, 6);
      QCOMPARE(static_cast<int>(e.candidates.size()), 18);
      for (const auto& c : e.candidates) {
        QCOMPARE(c.positions, std::vector<int>{c.row * 6 + c.col});
        QVERIFY(c.positions[0] < 18);  // padding is never a candidate
        QCOMPARE(c.rect.x, c.col * 8 * 90.0 / 48);
        QCOMPARE(c.rect.y, c.row * 8 * 50.0 / 24);
      }
      const double base = ref_loss({}, loss);
      double worst = std::abs(e.baseline_loss - base);
      for (int patch : {0, 7, 17}) {
        at::Tensor m = at::ones({kMaxPatches}, at::kDouble);
        m[patch] = 0.1;
        const double want = ref_loss(m, loss) - base;
        QVERIFY(std::abs(want) > 1e-6);
        worst = std::max(worst, std::abs(e.candidates[patch].value - want));
      }
      std::printf("SigLIP 2 AtMan (%s loss) max |diff| vs float64: %.2e (baseline %.4f)\n",
                  loss == SiglipLoss::Sigmoid ? "sigmoid" : "softmax", worst, base);
      QVERIFY(worst < 1e-4);
    }
    // 2 x 2 tiles of the 3 x 6 grid: 2 x 3 candidates, the last row's tiles one patch high.
    r.tile = 2;
    const Explanation tiled = AtmanExplainer().attribute(r);
    QCOMPARE(static_cast<int>(tiled.candidates.size()), 6);
    QCOMPARE(tiled.candidates.back().positions, (std::vector<int>{16, 17}));
    QCOMPARE(tiled.candidates.back().rect.y + tiled.candidates.back().rect.height, 50.0);
    QCOMPARE(tiled.candidates.back().rect.x + tiled.candidates.back().rect.width, 90.0);
    r.tile = 1;
    r.explain = ExplainWhat::PromptTokens;
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
  }

  // The left half of the 90 x 50 image is a solid colour: every candidate whose rectangle lies
  // there, given the value 1 (all others 0), colours exactly the left half of the overlay.
  void left_half_overlay() {
    const RgbImage image = half_solid_image(90, 50);
    ExplainRequest r;
    r.model = model_;
    r.image = std::make_shared<const RgbImage>(image);
    r.labels = {"cat", "dog"};
    r.target = "cat";
    Explanation e = AtmanExplainer().attribute(r);
    int left = 0;
    for (auto& c : e.candidates) {
      const bool in_left = c.rect.x + c.rect.width <= 45.0 + 1e-9;
      c.value = in_left ? 1.0 : 0.0;
      left += in_left;
    }
    QCOMPARE(left, 3 * 3);  // columns 0..2 of 6 end at 3 * 8 * 90 / 48 = 45 pixels
    OverlayOptions options;
    options.opacity = 1.0;
    options.smooth = false;
    options.scale_max = 1.0;
    const RgbImage overlay = render_overlay(image, e, options);
    uint8_t hot[3], cold[3];
    colormap_rgb(options.colormap, 1.0, hot);
    colormap_rgb(options.colormap, 0.0, cold);
    for (int y = 0; y < overlay.height; ++y)
      for (int x = 0; x < overlay.width; ++x) {
        const uint8_t* px = &overlay.pixels[(size_t(y) * overlay.width + x) * 3];
        const uint8_t* want = x < 45 ? hot : cold;
        if (px[0] != want[0] || px[1] != want[1] || px[2] != want[2])
          QFAIL(qPrintable(QString("overlay pixel (%1, %2) has the wrong colour").arg(x).arg(y)));
      }
  }

  // What the GUI's "What the model says" runs: Model::preprocess (the identity here) then
  // zero_shot, which runs the NaFlex processor on the original pixels.
  void zero_shot_ranks() {
    const RgbImage image = pattern_image(40, 36);
    const std::vector<std::string> labels = {"cat", "dog", "a cat"};
    // The labels run as one batch: with the tokenizer's attention mask, each label keeps its own.
    for (const bool mask_text : {false, true}) {
      const Model& model = mask_text ? *masked_ : *model_;
      const std::vector<LabelScore> ranked = zero_shot(model, model.preprocess(image), labels);
      QCOMPARE(ranked.size(), labels.size());
      c10::InferenceMode guard;
      const at::Tensor img = ref_image(ref_pixels(image, 32, 40), weights_, {});
      for (size_t i = 0; i < ranked.size(); ++i) {
        if (i > 0) QVERIFY(ranked[i - 1].logit >= ranked[i].logit);
        int64_t count = 0;
        const std::vector<int64_t> ids = padded(model, ranked[i].label, &count);
        const double want =
            ref_logit(img, ref_text(ids, mask_text ? count : kPositions, weights_), weights_);
        QVERIFY2(std::abs(ranked[i].logit - want) < 1e-4, ranked[i].label.c_str());
        QVERIFY(std::abs(ranked[i].probability - 1.0 / (1.0 + std::exp(-want))) < 1e-5);
      }
    }
  }

  // The gradient and attention baselines on SigLIP 2: the candidates are AtMan's (real patches
  // only), the loss AtMan's. Against the float64 reference: raw attention is the pooling head's
  // probe row and rollout that row times Π(0.5·Ā_l + 0.5·I), both distributions over the real
  // patches (the padding gets nothing); Input×Gradient is the derivative along scaling a patch's
  // embedding (central differences); Integrated Gradients sums to F(x) − F(0); Chefer and GradCAM
  // are non-negative.
  void baselines() {
    const auto image = std::make_shared<RgbImage>(half_solid_image(90, 50));
    ExplainRequest r;
    r.model = model_;
    r.image = image;
    r.labels = {"cat", "dog", "a cat"};
    r.target = "dog";
    const RefPixels px = ref_pixels(*image, 24, 48);
    const at::Tensor x0 = linear(px.patches, weights_, "vision_model.embeddings.patch_embedding");
    std::vector<at::Tensor> texts;
    for (const auto& label : r.labels) {
      int64_t count = 0;
      texts.push_back(ref_text(padded(*model_, label, &count), kPositions, weights_));
    }
    constexpr int kReal = 18, kSteps = 64;
    at::NoGradGuard no_grad;
    for (SiglipLoss loss : {SiglipLoss::Sigmoid, SiglipLoss::Softmax}) {
      r.siglip_loss = loss;
      auto F = [&](const at::Tensor& embeds, std::vector<at::Tensor>* record = nullptr) {
        const at::Tensor img = ref_image_from_embeds(embeds, 3, 6, weights_, {}, record);
        std::vector<double> logits;
        for (const auto& t : texts) logits.push_back(ref_logit(img, t, weights_));
        if (loss == SiglipLoss::Sigmoid) return -std::log1p(std::exp(-logits[1]));
        double z = 0;
        for (double l : logits) z += std::exp(l);
        return logits[1] - std::log(z);
      };
      std::vector<at::Tensor> rec;
      const double f0 = F(x0, &rec);
      QCOMPARE(static_cast<int>(rec.size()), kLayers + 1);
      at::Tensor attention = rec.back().mean(0)[0], rollout = attention;  // (kMaxPatches)
      for (int l = kLayers - 1; l >= 0; --l)
        rollout = 0.5 * rollout.matmul(rec[l].mean(0)) + 0.5 * rollout;
      for (const auto& name : baseline_names()) {
        const Explanation e = make_baseline(name, {kSteps})->attribute(r);
        QCOMPARE(static_cast<int>(e.candidates.size()), kReal);
        QVERIFY(std::abs(e.baseline_loss + f0) < 1e-5);
        double sum = 0, lowest = 0, largest = 0;
        for (const auto& c : e.candidates) {
          QCOMPARE(c.positions, std::vector<int>{c.row * 6 + c.col});
          sum += c.value;
          lowest = std::min(lowest, c.value);
          largest = std::max(largest, std::abs(c.value));
        }
        std::printf("SigLIP 2 %s (%s loss): sum %.6f, min %.3g, largest |value| %.3g\n",
                    name.c_str(), std::string(to_string(loss)).c_str(), sum, lowest, largest);
        QVERIFY2(largest > 1e-5, name.c_str());
        if (name == "attention" || name == "rollout") {
          const at::Tensor& want = name == "attention" ? attention : rollout;
          QVERIFY(std::abs(sum - 1) < 1e-5);  // so the padding got nothing
          for (const auto& c : e.candidates)
            QVERIFY2(std::abs(c.value - want[c.positions[0]].item<double>()) < 1e-5, name.c_str());
        }
        if (name != "ixg" && name != "ig") QVERIFY2(lowest >= 0, name.c_str());
        if (name == "ig") {
          const double delta = f0 - F(at::zeros_like(x0));
          QVERIFY(std::abs(delta) > 1e-3);
          QVERIFY2(std::abs(sum - delta) < 2e-3 * std::max(1.0, std::abs(delta)),
                   qPrintable(QString("IG sum %1 vs F(x) - F(0) %2").arg(sum).arg(delta)));
        }
        if (name == "ixg") {
          const double h = 1e-5;
          for (int p : {0, 7, 17}) {
            at::Tensor up = x0.clone(), down = x0.clone();
            up[p].mul_(1 + h);
            down[p].mul_(1 - h);
            const double fd = (F(up) - F(down)) / (2 * h);
            QVERIFY2(std::abs(e.candidates[p].value - fd) < 1e-5 + 1e-4 * largest,
                     qPrintable(QString("ixg %1 vs %2").arg(e.candidates[p].value).arg(fd)));
          }
        }
      }
    }
  }

  // Every baseline through the command line.
  void baselines_command() {
    const QString image = QString::fromStdString(
        (fs::path(tmp_.path().toStdString()) / "wide-baselines.png").string());
    save_png(half_solid_image(90, 50), image.toStdString());
    for (const auto& name : baseline_names()) {
      const QString out = tmp_.filePath(QString::fromStdString("siglip2-" + name + ".json"));
      const test::CliRun run = test::run_cli(
          ATMAN_CLI, {"explain", "--model", QString::fromStdString(dir_.string()), "--image", image,
                      "--labels", "cat", "--labels", "dog", "--target", "dog", "--method",
                      QString::fromStdString(name), "--json", out});
      QVERIFY2(run.ok, qPrintable(run.output));
      const json e = test::read_json(out.toStdString());
      QCOMPARE(e["method"].get<std::string>(), name);
      QCOMPARE(e["candidates"].size(), size_t{18});
    }
  }

  // The command line explains a non-square image with the model (its own preprocessing is the
  // identity; the processor does the rest).
  void command_line() {
    const QString image = QString::fromStdString(
                      (fs::path(tmp_.path().toStdString()) / "wide.png").string()),
                  out = tmp_.filePath("siglip2.json");
    save_png(half_solid_image(90, 50), image.toStdString());
    QProcess cli;
    cli.start(ATMAN_CLI,
              {"explain", "--model", QString::fromStdString(dir_.string()), "--image", image,
               "--labels", "cat", "--labels", "dog", "--target", "dog", "--json", out});
    QVERIFY(cli.waitForFinished(120000));
    const QString output = cli.readAllStandardOutput() + cli.readAllStandardError();
    QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(output));
    std::ifstream in(out.toStdString());
    const json e = json::parse(in);
    QCOMPARE(e["architecture"].get<std::string>(), std::string("SigLIP 2 NaFlex"));
    QCOMPARE(e["candidates"].size(), size_t{18});
    QVERIFY(e["grid"] == json({3, 6}));  // rows, cols
  }

  void config_checks() {
    QVERIFY(std::get<SiglipConfig>(parse_model_config(tiny_config().dump(), "x")).naflex);
    json config = tiny_config();
    config.erase("model_type");  // architectures names it
    QVERIFY(std::get<SiglipConfig>(parse_model_config(config.dump(), "x")).naflex);
    config = tiny_config();
    config["vision_config"]["num_patches"] = 20;  // not a square grid
    try {
      parse_model_config(config.dump(), "x");
      QFAIL("a non-square num_patches was accepted");
    } catch (const ModelError& e) {
      QVERIFY2(std::string(e.what()).find("num_patches") != std::string::npos, e.what());
    }
    config = tiny_config();
    config["vision_config"]["model_type"] = "siglip_vision_model";
    QVERIFY_THROWS_EXCEPTION(ModelError, parse_model_config(config.dump(), "x"));
    // A processor that cuts other patches than the model's is refused at load.
    const fs::path bad = fs::path(tmp_.path().toStdString()) / "bad-patch";
    write_tiny_siglip2(bad, false);
    write_json(bad / "preprocessor_config.json", {{"patch_size", 16}});
    try {
      Model::load(bad);
      QFAIL("a processor with another patch size was accepted");
    } catch (const ModelError& e) {
      QVERIFY2(std::string(e.what()).find("patch") != std::string::npos, e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestSiglip2)
#include "test_siglip2.moc"
