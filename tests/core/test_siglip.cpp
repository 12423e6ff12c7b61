// SigLIP (HF SiglipModel) against a float64 computation written here from transformers'
// modeling_siglip.py (not calling our model code): a tiny random checkpoint with the config field
// names and key layout of google/siglip-base-patch16-224, shrunk in size, compared plain and under
// AtMan suppression (spec §1) of image patches and text tokens.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QProcess>
#include <QRegularExpression>
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
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "atman/names.h"
#include "core/spiece_writer.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "models/loaded_model.h"

using namespace atman;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kHidden = 32, kHeads = 4, kInter = 64, kLayers = 2, kVocab = 300, kPositions = 16;
constexpr int kImage = 32, kPatch = 8, kPatches = (kImage / kPatch) * (kImage / kPatch);
constexpr double kEps = 1e-6;

// google/siglip-base-patch16-224's config.json, with the sizes shrunk (the real one leaves every
// other field at the SiglipTextConfig / SiglipVisionConfig defaults, as here).
json tiny_config() {
  return {{"architectures", {"SiglipModel"}},
          {"initializer_factor", 1.0},
          {"model_type", "siglip"},
          {"text_config",
           {{"hidden_size", kHidden},
            {"intermediate_size", kInter},
            {"model_type", "siglip_text_model"},
            {"num_attention_heads", kHeads},
            {"num_hidden_layers", kLayers},
            {"max_position_embeddings", kPositions},
            {"vocab_size", kVocab}}},
          {"torch_dtype", "float32"},
          {"transformers_version", "4.37.0.dev0"},
          {"vision_config",
           {{"model_type", "siglip_vision_model"},
            {"patch_size", kPatch},
            {"image_size", kImage},
            {"hidden_size", kHidden},
            {"intermediate_size", kInter},
            {"num_attention_heads", kHeads},
            {"num_hidden_layers", kLayers}}}};
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
  at::manual_seed(7);
  std::map<std::string, at::Tensor> t;
  const std::string v = "vision_model.";
  t[v + "embeddings.patch_embedding.weight"] = 0.1 * at::randn({kHidden, 3, kPatch, kPatch});
  t[v + "embeddings.patch_embedding.bias"] = 0.1 * at::randn({kHidden});
  t[v + "embeddings.position_embedding.weight"] = 0.5 * at::randn({kPatches, kHidden});
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
  t["logit_scale"] = at::full({1}, std::log(10.0));  // SigLIP's init: log 10, bias -10
  t["logit_bias"] = at::full({1}, -2.5);
  return t;
}

// A small SentencePiece-style BPE with byte fallback (what SigLIP 2 / Gemma repos ship), ids laid
// out as SigLIP's: <pad> 0, </s> 1 (eos and pad_token_id), <unk> 2; "</s>" is appended.
json tiny_tokenizer() {
  json vocab = {{"<pad>", 0}, {"</s>", 1}, {"<unk>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  const std::vector<std::string> pieces = {"\xE2\x96\x81",
                                           "a",
                                           "c",
                                           "t",
                                           "o",
                                           "g",
                                           "d",
                                           "\xE2\x96\x81"
                                           "c",
                                           "\xE2\x96\x81"
                                           "d",
                                           "at",
                                           "og",
                                           "\xE2\x96\x81"
                                           "cat",
                                           "\xE2\x96\x81"
                                           "dog"};
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 259 + static_cast<int>(i);
  const std::vector<std::string> merges = {"\xE2\x96\x81 c",
                                           "\xE2\x96\x81 d",
                                           "a t",
                                           "o g",
                                           "\xE2\x96\x81"
                                           "c at",
                                           "\xE2\x96\x81"
                                           "d og"};
  auto added = [](int id, const char* content) {
    return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return {
      {"version", "1.0"},
      {"added_tokens", {added(0, "<pad>"), added(1, "</s>"), added(2, "<unk>")}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", "\xE2\x96\x81"},
        {"prepend_scheme", "always"},
        {"split", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
          {{"SpecialToken", {{"id", "</s>"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"</s>", {{"id", "</s>"}, {"ids", {1}}, {"tokens", {"</s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "always"}},
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

fs::path write_tiny_siglip(const fs::path& dir) {
  fs::create_directories(dir);
  write_json(dir / "config.json", tiny_config());
  write_json(dir / "tokenizer.json", tiny_tokenizer());
  // google/siglip-base-patch16-224's preprocessor_config.json, with the size shrunk.
  write_json(dir / "preprocessor_config.json", {{"do_normalize", true},
                                                {"do_rescale", true},
                                                {"do_resize", true},
                                                {"image_mean", {0.5, 0.5, 0.5}},
                                                {"image_processor_type", "SiglipImageProcessor"},
                                                {"image_std", {0.5, 0.5, 0.5}},
                                                {"processor_class", "SiglipProcessor"},
                                                {"resample", 3},
                                                {"rescale_factor", 0.00392156862745098},
                                                {"size", {{"height", kImage}, {"width", kImage}}}});
  test::write_weights(dir, tiny_tensors(), test::TinyDType::F32, false);
  return dir;
}

// ---- float64 reference, from modeling_siglip.py -------------------------------------------

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

// One head at a time, softmax written out; `m` (S) are the AtMan factors (spec §1) or undefined.
// `record` receives the (H, T, S) weights the output is computed from (for the baselines).
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& m, std::vector<at::Tensor>* record = nullptr) {
  const int64_t D = kHidden / kHeads;
  std::vector<at::Tensor> weights;
  for (int h = 0; h < kHeads; ++h) {
    at::Tensor qh = q.slice(-1, h * D, (h + 1) * D), kh = k.slice(-1, h * D, (h + 1) * D);
    at::Tensor s = at::matmul(qh, kh.t());  // (T, S)
    if (m.defined()) s = (s - std::get<0>(s.min(-1, true))) * m;
    s = s / std::sqrt(double(D));
    at::Tensor e = at::exp(s - std::get<0>(s.max(-1, true)));
    weights.push_back(e / e.sum(-1, true));
  }
  const at::Tensor stacked = at::stack(weights);  // (H, T, S)
  if (record) record->push_back(stacked);
  std::vector<at::Tensor> outs;
  for (int h = 0; h < kHeads; ++h)
    outs.push_back(at::matmul(stacked[h], v.slice(-1, h * D, (h + 1) * D)));
  return at::cat(outs, -1);
}

at::Tensor encoder(at::Tensor x, const Weights& w, const std::string& prefix, const at::Tensor& m,
                   std::vector<at::Tensor>* record = nullptr) {
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = prefix + "encoder.layers." + std::to_string(l) + ".";
    at::Tensor h = layer_norm(x, w, p + "layer_norm1");
    at::Tensor a =
        attend(linear(h, w, p + "self_attn.q_proj"), linear(h, w, p + "self_attn.k_proj"),
               linear(h, w, p + "self_attn.v_proj"), m, record);
    x = x + linear(a, w, p + "self_attn.out_proj");
    h = gelu_tanh(linear(layer_norm(x, w, p + "layer_norm2"), w, p + "mlp.fc1"));
    x = x + linear(h, w, p + "mlp.fc2");
  }
  return x;
}

// The patch embedding (conv) of pixels (3, H, W) before positions: (P, C).
at::Tensor ref_patch_embeds(const at::Tensor& pixels, const Weights& w) {
  const std::string v = "vision_model.";
  // The conv as a loop over patches: each patch flattened (c, y, x) against the kernel.
  at::Tensor kernel = d(w, v + "embeddings.patch_embedding.weight").reshape({kHidden, -1});
  const int g = kImage / kPatch;
  std::vector<at::Tensor> rows;
  for (int py = 0; py < g; ++py)
    for (int px = 0; px < g; ++px) {
      at::Tensor patch = pixels.slice(1, py * kPatch, (py + 1) * kPatch)
                             .slice(2, px * kPatch, (px + 1) * kPatch)
                             .reshape({-1});
      rows.push_back(at::matmul(kernel, patch) + d(w, v + "embeddings.patch_embedding.bias"));
    }
  return at::stack(rows);
}

// The vision encoder's last_hidden_state before post_layernorm, for patch embeddings (P, C).
at::Tensor ref_tower(const at::Tensor& patch_embeds, const Weights& w, const at::Tensor& m,
                     std::vector<at::Tensor>* record = nullptr) {
  const std::string v = "vision_model.";
  const at::Tensor x = patch_embeds + d(w, v + "embeddings.position_embedding.weight");
  return encoder(x, w, v, m, record);
}

// pooler_output from that: post_layernorm, then the attention-pooling head.
at::Tensor ref_pool(const at::Tensor& hidden, const Weights& w, const at::Tensor& m,
                    std::vector<at::Tensor>* record = nullptr) {
  const std::string v = "vision_model.";
  const at::Tensor x = layer_norm(hidden, w, v + "post_layernorm");
  // SiglipMultiheadAttentionPoolingHead: nn.MultiheadAttention(probe, x, x), residual LN + MLP.
  const std::string hd = v + "head.";
  at::Tensor in_w = d(w, hd + "attention.in_proj_weight"),
             in_b = d(w, hd + "attention.in_proj_bias");
  auto proj = [&](const at::Tensor& t, int i) {
    return at::matmul(t, in_w.slice(0, i * kHidden, (i + 1) * kHidden).t()) +
           in_b.slice(0, i * kHidden, (i + 1) * kHidden);
  };
  at::Tensor probe = d(w, hd + "probe").reshape({1, kHidden});
  at::Tensor h = linear(attend(proj(probe, 0), proj(x, 1), proj(x, 2), m, record), w,
                        hd + "attention.out_proj");
  h = h + linear(gelu_tanh(linear(layer_norm(h, w, hd + "layernorm"), w, hd + "mlp.fc1")), w,
                 hd + "mlp.fc2");
  return h[0];
}

// SiglipVisionTransformer pooler_output for pixels (3, H, W); m over the patches.
at::Tensor ref_image(const at::Tensor& pixels, const Weights& w, const at::Tensor& m) {
  return ref_pool(ref_tower(ref_patch_embeds(pixels, w), w, m), w, m);
}

// SiglipTextTransformer pooler_output for ids (T): no causal mask, last position, head.
at::Tensor ref_text(const std::vector<int64_t>& ids, const Weights& w, const at::Tensor& m) {
  const std::string t = "text_model.";
  at::Tensor table = d(w, t + "embeddings.token_embedding.weight");
  at::Tensor pos = d(w, t + "embeddings.position_embedding.weight");
  std::vector<at::Tensor> rows;
  for (size_t i = 0; i < ids.size(); ++i) rows.push_back(table[ids[i]] + pos[i]);
  at::Tensor x = layer_norm(encoder(at::stack(rows), w, t, m), w, t + "final_layer_norm");
  return linear(x[static_cast<int64_t>(ids.size()) - 1], w, t + "head");
}

// logits_per_image: exp(logit_scale) * <img/|img|, txt/|txt|> + logit_bias.
double ref_logit(const at::Tensor& img, const at::Tensor& txt, const Weights& w) {
  return (std::exp(w.at("logit_scale").item<double>()) * (img / img.norm()).dot(txt / txt.norm()) +
          w.at("logit_bias").item<double>())
      .item<double>();
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

class TestSiglip : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  fs::path dir_;
  std::shared_ptr<const Model> model_;
  Weights weights_;
  at::Tensor pixels_;                        // (3, H, W) float32
  std::vector<std::vector<int64_t>> texts_;  // padded to kPositions

 private slots:
  void initTestCase() {
    dir_ = write_tiny_siglip(fs::path(tmp_.path().toStdString()) / "siglip");
    model_ = Model::load(dir_);
    weights_ = tiny_tensors();
    at::manual_seed(3);
    pixels_ = at::rand({3, kImage, kImage}) * 2 - 1;
    // "▁cat</s>" and "▁dog</s>" padded with <pad>... as SiglipProcessor's padding="max_length"
    // does (pad_token_id 1 = "</s>" in the real vocabulary), and one without padding.
    for (std::vector<int64_t> ids : {std::vector<int64_t>{270, 1}, std::vector<int64_t>{271, 1},
                                     std::vector<int64_t>{5, 100, 260, 1}}) {
      ids.resize(kPositions, 1);
      texts_.push_back(ids);
    }
    texts_.push_back({7, 8, 9, 1});
  }

  void loads() {
    QCOMPARE(model_->kind(), ModelKind::Siglip);
    QCOMPARE(model_->architecture(), std::string("SigLIP"));
    QVERIFY(model_->capabilities().reads_images);
    QVERIFY(model_->capabilities().target_is_label);
    QVERIFY(!model_->capabilities().generates);
    QCOMPARE(model_->patch_grid(), kImage / kPatch);
    QCOMPARE(model_->max_text_tokens(), int64_t(kPositions));
    const auto& config = std::get<SiglipConfig>(model_->impl().config);
    QCOMPARE(config.text.hidden_act, Activation::GeluTanh);  // the class default
    QCOMPARE(config.text.layer_norm_eps, 1e-6);
    QCOMPARE(config.pad_token_id, 1);
    QCOMPARE(config.projection_size, kHidden);
  }

  // Logits for every text, one image; `image_m` / `text_m` suppress (factors per position).
  void compare(const at::Tensor& image_m, const at::Tensor& text_m, double& worst) {
    c10::InferenceMode guard;
    const SiglipModel& siglip = *model_->impl().siglip;
    Suppression image_s, text_s;
    if (image_m.defined()) image_s.factors = image_m.to(at::kFloat).unsqueeze(0);
    if (text_m.defined()) text_s.factors = text_m.to(at::kFloat).unsqueeze(0);
    at::Tensor img = siglip.image_embeds(pixels_.unsqueeze(0), &image_s);
    at::Tensor want_img = ref_image(pixels_.to(at::kDouble), weights_, image_m);
    for (const auto& ids : texts_) {
      at::Tensor id_tensor = at::tensor(ids, at::kLong).unsqueeze(0);
      const at::Tensor m = text_m.defined() ? text_m.slice(0, 0, ids.size()) : at::Tensor();
      Suppression s;
      if (m.defined()) s.factors = m.to(at::kFloat).unsqueeze(0);
      at::Tensor got = siglip.logits(img, siglip.text_embeds(id_tensor, &s));
      const double want = ref_logit(want_img, ref_text(ids, weights_, m), weights_);
      worst = std::max(worst, std::abs(got.item<double>() - want));
      QVERIFY(std::isfinite(want));
    }
  }

  void parity() {
    double plain = 0, suppressed = 0;
    compare({}, {}, plain);
    // Factors 0.1 (f = 0.9) and 0 on two patches / two tokens, as test_families does.
    at::Tensor image_m = at::ones({kPatches}, at::kDouble),
               text_m = at::ones({kPositions}, at::kDouble);
    image_m[3] = 0.1;
    image_m[9] = 0.0;
    text_m[0] = 0.1;
    text_m[2] = 0.0;
    compare(image_m, text_m, suppressed);
    std::printf("SigLIP logits max |diff| vs float64: plain %.2e, suppressed %.2e\n", plain,
                suppressed);
    QVERIFY(plain < 1e-4);
    QVERIFY(suppressed < 1e-4);

    // The suppression is not a no-op: the reference moves by far more than the deviation.
    c10::InferenceMode guard;
    const double a = ref_logit(ref_image(pixels_.to(at::kDouble), weights_, {}),
                               ref_text(texts_[0], weights_, {}), weights_);
    const double b = ref_logit(ref_image(pixels_.to(at::kDouble), weights_, image_m),
                               ref_text(texts_[0], weights_, {}), weights_);
    QVERIFY(std::abs(a - b) > 1e-3);
  }

  void batch_matches_single() {
    c10::InferenceMode guard;
    const SiglipModel& siglip = *model_->impl().siglip;
    std::vector<int64_t> flat;
    for (int i = 0; i < 3; ++i) flat.insert(flat.end(), texts_[i].begin(), texts_[i].end());
    at::Tensor ids = at::tensor(flat, at::kLong).view({3, kPositions});
    at::Tensor batch =
        siglip.logits(siglip.image_embeds(pixels_.unsqueeze(0)), siglip.text_embeds(ids));
    QCOMPARE(batch.size(1), int64_t(3));
    for (int i = 0; i < 3; ++i) {
      at::Tensor one = siglip.text_embeds(ids.slice(0, i, i + 1));
      at::Tensor l = siglip.logits(siglip.image_embeds(pixels_.unsqueeze(0)), one);
      QVERIFY(max_abs_diff(l[0][0], batch[0][i]) < 1e-5);
    }
  }

  // SiglipImageProcessor: resize to size {height, width} with PIL bicubic (resample 3), no crop,
  // x / 255, then (x - 0.5) / 0.5. The resize is resize_image, which test_image checks against PIL
  // bit for bit; the rest is computed here in double.
  void preprocessing() {
    const ClipPreprocessConfig& config = model_->preprocess_config();
    QVERIFY(!config.do_center_crop);
    QCOMPARE(config.resize_height, kImage);
    QCOMPARE(config.resize_width, kImage);
    RgbImage image;  // 48 x 40: not square, so a crop or an aspect-keeping resize would show
    image.width = 48;
    image.height = 40;
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x)
        for (int c = 0; c < 3; ++c)
          image.pixels.push_back(static_cast<uint8_t>((x * 37 + y * 11 + c * 71 + x * y) % 256));
    const PixelTensor got = preprocess_clip(image, config);
    QCOMPARE(got.width, kImage);
    QCOMPARE(got.height, kImage);
    const RgbImage resized = resize_image(image, kImage, kImage, ResampleFilter::bicubic);
    double worst = 0;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kImage; ++y)
        for (int x = 0; x < kImage; ++x) {
          const double v = resized.pixels[(y * kImage + x) * 3 + c] * (1.0 / 255.0);
          const double want = (v - 0.5) / 0.5;
          worst = std::max(worst, std::abs(got.values[(c * kImage + y) * kImage + x] - want));
        }
    std::printf("SigLIP pixels max |diff| vs reference: %.2e\n", worst);
    QVERIFY(worst < 1e-6);

    // The class defaults when the file names only the processor (transformers fills them in).
    const fs::path file = fs::path(tmp_.path().toStdString()) / "siglip_defaults.json";
    write_json(file, {{"image_processor_type", "SiglipImageProcessor"}});
    const ClipPreprocessConfig defaults = load_preprocess_config(file);
    QVERIFY(!defaults.do_center_crop);
    QCOMPARE(defaults.resize_height, 224);
    QCOMPARE(defaults.resize_width, 224);
    QCOMPARE(defaults.mean[1], 0.5f);
    QCOMPARE(defaults.std[2], 0.5f);
    QCOMPARE(defaults.resample, ResampleFilter::bicubic);
  }

  // AtMan on SigLIP (spec §4 with SigLIP's scores): candidates are the patches (no class token),
  // the baseline loss is -log σ(target logit) by default or -log softmax over the labels, and a
  // candidate's value is the loss with its patch suppressed (factor 1 - f = 0.1 in every encoder
  // layer and the pooling head) minus the baseline, all from the float64 reference.
  void explains() {
    auto image = std::make_shared<RgbImage>();
    image->width = 40;
    image->height = 36;
    for (int i = 0; i < 40 * 36 * 3; ++i)
      image->pixels.push_back(static_cast<uint8_t>((i * 53 + (i / 120) * 29) % 256));
    ExplainRequest r;
    r.model = model_;
    r.image = image;
    r.labels = {"cat", "dog", "a cat"};
    r.target = "dog";
    r.batch_size = 4;

    // The reference's inputs: the processed pixels and SiglipProcessor's padded ids.
    const PixelTensor pixels = preprocess_clip(*image, model_->preprocess_config());
    const at::Tensor x =
        at::tensor(pixels.values, at::kFloat).view({3, kImage, kImage}).to(at::kDouble);
    std::vector<at::Tensor> texts;
    for (const auto& label : r.labels) {
      std::vector<int64_t> ids = model_->tokenizer().encode(label).ids;
      ids.resize(kPositions, 1);  // pad_token_id
      texts.push_back(ref_text(ids, weights_, {}));
    }
    auto ref_loss = [&](const at::Tensor& m, SiglipLoss loss) {
      const at::Tensor img = ref_image(x, weights_, m);
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
      QCOMPARE(e.architecture, std::string("SigLIP"));
      QCOMPARE(static_cast<int>(e.candidates.size()), kPatches);
      QCOMPARE(e.grid_rows, kImage / kPatch);
      QVERIFY(e.loss && *e.loss == loss);
      const double base = ref_loss({}, loss);
      double worst = std::abs(e.baseline_loss - base);
      for (int patch : {0, 5, kPatches - 1}) {
        QCOMPARE(e.candidates[patch].positions, std::vector<int>{patch});  // no class token
        at::Tensor m = at::ones({kPatches}, at::kDouble);
        m[patch] = 0.1;
        const double want = ref_loss(m, loss) - base;
        QVERIFY(std::abs(want) > 1e-6);  // suppressing a patch changes the loss
        worst = std::max(worst, std::abs(e.candidates[patch].value - want));
      }
      std::printf("SigLIP AtMan (%s loss) max |diff| vs float64: %.2e (baseline %.4f)\n",
                  std::string(to_string(loss)).c_str(), worst, base);
      QVERIFY(worst < 1e-4);
      const std::string json = to_json(e);
      QVERIFY(json.find(std::string("\"loss\": \"") + std::string(to_string(loss)) + "\"") !=
              std::string::npos);
      QCOMPARE(explanation_from_json(json).loss, e.loss);
    }
    r.explain = ExplainWhat::PromptTokens;
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
  }

  // The gradient and attention baselines on SigLIP, each against the same method written here in
  // float64 on the reference (autograd through ref_tower / ref_pool): AtMan's loss, the patch
  // embeddings (conv outputs) as the attributed input, and for the attention methods the pooling
  // head's probe row as the prediction row (attention: its head mean; rollout: that row times
  // Π(0.5·Ā_l + 0.5·I); Chefer: the head's Ā row times Π(I + Ā_l)); GradCAM on the encoder output
  // before post_layernorm. Input×Gradient is also checked against central differences.
  void baselines() {
    auto image = std::make_shared<RgbImage>();
    image->width = 40;
    image->height = 36;
    for (int i = 0; i < 40 * 36 * 3; ++i)
      image->pixels.push_back(static_cast<uint8_t>((i * 53 + (i / 120) * 29) % 256));
    ExplainRequest r;
    r.model = model_;
    r.image = image;
    r.labels = {"cat", "dog", "a cat"};
    r.target = "dog";
    const PixelTensor pixels = preprocess_clip(*image, model_->preprocess_config());
    const at::Tensor x0 = ref_patch_embeds(
        at::tensor(pixels.values, at::kFloat).view({3, kImage, kImage}).to(at::kDouble), weights_);
    std::vector<at::Tensor> texts;
    for (const auto& label : r.labels) {
      std::vector<int64_t> ids = model_->tokenizer().encode(label).ids;
      ids.resize(kPositions, 1);
      texts.push_back(ref_text(ids, weights_, {}));
    }
    const double scale = std::exp(weights_.at("logit_scale").item<double>()),
                 bias = weights_.at("logit_bias").item<double>();
    constexpr int kSteps = 8;
    for (SiglipLoss loss : {SiglipLoss::Sigmoid, SiglipLoss::Softmax}) {
      r.siglip_loss = loss;
      // F = -L from the pooled image embedding, differentiable.
      auto F_of_image = [&](const at::Tensor& img) {
        std::vector<at::Tensor> logits;
        for (const auto& t : texts)
          logits.push_back(scale * (img / img.norm()).dot(t / t.norm()) + bias);
        const at::Tensor z = at::stack(logits);
        return loss == SiglipLoss::Sigmoid ? at::log_sigmoid(z[1]) : at::log_softmax(z, 0)[1];
      };
      auto F = [&](const at::Tensor& patches, std::vector<at::Tensor>* record = nullptr) {
        return F_of_image(ref_pool(ref_tower(patches, weights_, {}, record), weights_, {}, record));
      };
      std::map<std::string, at::Tensor> want;  // (P) float64 per method
      {
        std::vector<at::Tensor> rec;
        at::NoGradGuard no_grad;
        F(x0, &rec);
        QCOMPARE(static_cast<int>(rec.size()), kLayers + 1);  // encoder layers, then the head
        at::Tensor v = rec.back().mean(0)[0];                 // the probe's row (P)
        want["attention"] = v;
        for (int l = kLayers - 1; l >= 0; --l) v = 0.5 * v.matmul(rec[l].mean(0)) + 0.5 * v;
        want["rollout"] = v;
      }
      {
        std::vector<at::Tensor> rec;
        const at::Tensor x = x0.clone().requires_grad_(true);
        const at::Tensor f = F(x, &rec);
        for (auto& a : rec) a.retain_grad();
        f.backward();
        auto bar = [&](int l) { return (rec[l].grad() * rec[l].detach()).clamp_min(0).mean(0); };
        at::Tensor v = bar(kLayers)[0];
        for (int l = kLayers - 1; l >= 0; --l) v = v + v.matmul(bar(l));
        want["chefer"] = v;
        want["ixg"] = (x.detach() * x.grad()).sum(-1);
      }
      {
        at::Tensor total = at::zeros_like(x0);
        for (int k = 0; k < kSteps; ++k) {
          const at::Tensor x = ((k + 0.5) / kSteps * x0).requires_grad_(true);
          F(x).backward();
          total += x.grad();
        }
        want["ig"] = (x0 * total / kSteps).sum(-1);
        const at::Tensor h = ref_tower(x0, weights_, {}).detach().requires_grad_(true);
        F_of_image(ref_pool(h, weights_, {})).backward();
        want["gradcam"] = at::relu(h.detach().matmul(h.grad().mean(0)));
      }
      double base;
      {
        at::NoGradGuard no_grad;
        base = -F(x0).item<double>();
      }
      for (const auto& name : baseline_names()) {
        const Explanation e = make_baseline(name, {kSteps})->attribute(r);
        QCOMPARE(static_cast<int>(e.candidates.size()), kPatches);
        QVERIFY(std::abs(e.baseline_loss - base) < 1e-5);
        const at::Tensor& expected = want.at(name);
        double worst = 0, largest = 0, sum = 0, lowest = 0;
        for (int p = 0; p < kPatches; ++p) {
          QCOMPARE(e.candidates[p].positions, std::vector<int>{p});
          const double got = e.candidates[p].per_target.at(0), w = expected[p].item<double>();
          worst = std::max(worst, std::abs(got - w));
          largest = std::max(largest, std::abs(w));
          sum += got;
          lowest = std::min(lowest, got);
        }
        std::printf("SigLIP %s (%s loss) max |diff| vs float64: %.2e (largest %.3g)\n",
                    name.c_str(), std::string(to_string(loss)).c_str(), worst, largest);
        QVERIFY2(largest > 1e-4, name.c_str());  // not trivially zero
        QVERIFY2(worst < 1e-5 + 1e-4 * largest, name.c_str());
        if (name == "attention" || name == "rollout")  // distributions over the patches
          QVERIFY2(std::abs(sum - 1) < 1e-5, name.c_str());
        if (name == "attention" || name == "rollout" || name == "chefer" || name == "gradcam")
          QVERIFY2(lowest >= 0, name.c_str());
        if (name != "ixg") continue;
        // Input×Gradient = d/dλ F(patch p's embedding scaled by 1 + λ) at 0, in float64.
        at::NoGradGuard no_grad;
        const double h = 1e-5;
        for (int p : {0, 6, kPatches - 1}) {
          at::Tensor up = x0.clone(), down = x0.clone();
          up[p].mul_(1 + h);
          down[p].mul_(1 - h);
          const double fd = (F(up).item<double>() - F(down).item<double>()) / (2 * h);
          QVERIFY(std::abs(e.candidates[p].value - fd) < 1e-5 + 1e-4 * largest);
        }
      }
    }
    r.explain = ExplainWhat::PromptTokens;  // SigLIP explains patches only, as AtMan does
    QVERIFY_THROWS_EXCEPTION(InputError, make_baseline("ixg")->attribute(r));
  }

  // Every baseline through the command line.
  void baselines_command() {
    RgbImage image;
    image.width = 40;
    image.height = 36;
    for (int i = 0; i < 40 * 36 * 3; ++i)
      image.pixels.push_back(static_cast<uint8_t>((i * 53 + (i / 120) * 29) % 256));
    const QString png =
        QString::fromStdString((fs::path(tmp_.path().toStdString()) / "baselines.png").string());
    save_png(image, png.toStdString());
    for (const auto& name : baseline_names()) {
      const QString out = tmp_.filePath(QString::fromStdString("siglip-" + name + ".json"));
      const test::CliRun run = test::run_cli(
          ATMAN_CLI, {"explain", "--model", QString::fromStdString(dir_.string()), "--image", png,
                      "--labels", "cat", "--labels", "dog", "--target", "dog", "--method",
                      QString::fromStdString(name), "--json", out});
      QVERIFY2(run.ok, qPrintable(run.output));
      const json e = test::read_json(out.toStdString());
      QCOMPARE(e["method"].get<std::string>(), name);
      QCOMPARE(e["candidates"].size(), size_t{kPatches});
    }
  }

  // What the GUI's "What the model says" shows: labels ranked by logit, each with its own sigmoid
  // (SigLIP is trained per pair; the probabilities need not sum to 1).
  // `atman bench explain` takes SigLIP: its naive loop (one unsuppressed and one suppressed tower
  // forward per patch, the sigmoid loss written in the bench) gives AtMan's values; `bench forward`
  // times the image tower.
  void bench_command() {
    RgbImage image;
    image.width = 40;
    image.height = 36;
    for (int i = 0; i < 40 * 36 * 3; ++i)
      image.pixels.push_back(static_cast<uint8_t>((i * 53 + (i / 120) * 29) % 256));
    const QString png =
        QString::fromStdString((fs::path(tmp_.path().toStdString()) / "bench.png").string());
    save_png(image, png.toStdString());
    const QString model = QString::fromStdString(dir_.string());
    QProcess cli;
    cli.start(ATMAN_CLI,
              {"bench", "explain", "--model", model, "--image", png, "--labels", "cat", "--labels",
               "dog", "--labels", "a cat", "--target", "dog", "--batch-size", "4"});
    QVERIFY(cli.waitForFinished(120000));
    const QString out = cli.readAllStandardOutput() + cli.readAllStandardError();
    QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(out));
    QVERIFY2(out.contains(QStringLiteral("%1 candidates").arg(kPatches)), qPrintable(out));
    const QRegularExpressionMatch diff =
        QRegularExpression(QStringLiteral("max \\|E diff\\| ([-+.e0-9]+)")).match(out);
    QVERIFY2(diff.hasMatch(), qPrintable(out));
    QVERIFY2(diff.captured(1).toDouble() < 1e-4, qPrintable(out));
    cli.start(ATMAN_CLI, {"bench", "forward", "--model", model});
    QVERIFY(cli.waitForFinished(120000));
    const QString forward = cli.readAllStandardOutput() + cli.readAllStandardError();
    QVERIFY2(cli.exitCode() == 0, qPrintable(forward));
    QVERIFY2(forward.contains(QStringLiteral("image tower %1px").arg(kImage)), qPrintable(forward));
  }

  void zero_shot_uses_sigmoids() {
    RgbImage image;
    image.width = 40;
    image.height = 36;
    for (int i = 0; i < 40 * 36 * 3; ++i)
      image.pixels.push_back(static_cast<uint8_t>((i * 31 + (i / 120) * 7) % 256));
    const std::vector<std::string> labels = {"cat", "dog", "a cat"};
    const PixelTensor pixels = preprocess_clip(image, model_->preprocess_config());
    const std::vector<LabelScore> ranked = zero_shot(*model_, pixels, labels);
    QCOMPARE(ranked.size(), labels.size());

    c10::InferenceMode guard;
    const at::Tensor x =
        at::tensor(pixels.values, at::kFloat).view({3, kImage, kImage}).to(at::kDouble);
    const at::Tensor img = ref_image(x, weights_, {});
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (i > 0) QVERIFY(ranked[i - 1].logit >= ranked[i].logit);
      std::vector<int64_t> ids = model_->tokenizer().encode(ranked[i].label).ids;
      ids.resize(kPositions, 1);  // pad_token_id
      const double want = ref_logit(img, ref_text(ids, weights_, {}), weights_);
      QVERIFY2(std::abs(ranked[i].logit - want) < 1e-4, ranked[i].label.c_str());
      QVERIFY(std::abs(ranked[i].probability - 1.0 / (1.0 + std::exp(-want))) < 1e-5);
    }
  }

  // google/siglip-base-patch16-224 ships only spiece.model (SiglipTokenizer): the folder loads,
  // labels are lower-cased, stripped of punctuation, tokenized by SentencePiece with eos, padded
  // with pad_token_id, and the explanation matches the float64 reference on those ids.
  void sentencepiece_only_explains() {
    const fs::path dir = fs::path(tmp_.path().toStdString()) / "siglip1";
    write_tiny_siglip(dir);
    fs::remove(dir / "tokenizer.json");
    const std::string u = "\xE2\x96\x81";
    test::SpModel sp;
    sp.pieces = {{"<pad>", 0, test::kControl},
                 {"</s>", 0, test::kControl},
                 {"<unk>", 0, test::kUnknown},
                 {u, -2.0f},
                 {u + "a", -1.5f},
                 {u + "cat", -2.0f},
                 {u + "dog", -2.0f},
                 {"<", -4.0f},
                 {"u", -4.0f},
                 {"n", -4.0f},
                 {"k", -4.0f},
                 {">", -4.0f}};
    sp.normalizer_name = "nmt_nfkc";
    sp.charsmap = test::write_charsmap({{u, " "}});
    std::ofstream(dir / "spiece.model", std::ios::binary) << test::write_model_proto(sp);
    write_json(dir / "tokenizer_config.json", {{"tokenizer_class", "SiglipTokenizer"},
                                               {"do_lower_case", true},
                                               {"model_max_length", kPositions}});
    write_json(dir / "special_tokens_map.json",
               {{"eos_token", "</s>"}, {"pad_token", "</s>"}, {"unk_token", "<unk>"}});
    const auto model = Model::load(dir);
    QCOMPARE(model->tokenizer().encode("A cat!").ids, (std::vector<int64_t>{4, 5, 1}));
    QCOMPARE(model->tokenizer().encode("a DOG.").ids, (std::vector<int64_t>{4, 6, 1}));

    auto image = std::make_shared<RgbImage>();
    image->width = image->height = 32;
    for (int i = 0; i < 32 * 32 * 3; ++i)
      image->pixels.push_back(static_cast<uint8_t>((i * 37 + (i / 96) * 11) % 256));
    ExplainRequest r;
    r.model = model;
    r.image = image;
    r.labels = {"A cat!", "a DOG."};
    r.target = "a DOG.";
    const Explanation e = AtmanExplainer().attribute(r);
    const PixelTensor pixels = preprocess_clip(*image, model->preprocess_config());
    const at::Tensor x =
        at::tensor(pixels.values, at::kFloat).view({3, kImage, kImage}).to(at::kDouble);
    std::vector<int64_t> dog = {4, 6, 1};
    dog.resize(kPositions, 1);              // pad_token_id
    auto loss = [&](const at::Tensor& m) {  // -log σ(logit of "a dog")
      return std::log1p(
          std::exp(-ref_logit(ref_image(x, weights_, m), ref_text(dog, weights_, {}), weights_)));
    };
    double worst = std::abs(e.baseline_loss - loss({}));
    at::Tensor m = at::ones({kPatches}, at::kDouble);
    m[3] = 0.1;
    worst = std::max(worst, std::abs(e.candidates[3].value - (loss(m) - loss({}))));
    std::printf("SigLIP with spiece.model: AtMan max |diff| vs float64: %.2e\n", worst);
    QVERIFY(worst < 1e-4);
  }

  void broken_spiece_is_refused() {
    const fs::path dir = fs::path(tmp_.path().toStdString()) / "siglip1-broken";
    write_tiny_siglip(dir);
    fs::remove(dir / "tokenizer.json");
    std::ofstream(dir / "spiece.model") << "not read";
    try {
      Model::load(dir);
      QFAIL("a SigLIP folder with a broken spiece.model loaded");
    } catch (const ModelError& e) {
      QVERIFY2(std::string(e.what()).find("spiece.model") != std::string::npos, e.what());
      QVERIFY2(std::string(e.what()).find("not a valid SentencePiece model") != std::string::npos,
               e.what());
    }
  }

  void tower_type_is_checked() {
    json config = tiny_config();
    config["vision_config"]["model_type"] = "clip_vision_model";
    QVERIFY_THROWS_EXCEPTION(ModelError, parse_model_config(config.dump(), "config.json"));
    config = tiny_config();
    QVERIFY(std::holds_alternative<SiglipConfig>(parse_model_config(config.dump(), "x")));
    config.erase("model_type");  // architectures names it
    QVERIFY(std::holds_alternative<SiglipConfig>(parse_model_config(config.dump(), "x")));
    // SigLIP 2 NaFlex (model_type "siglip2") wants siglip2 towers: test_siglip2 covers it.
    config["model_type"] = "siglip2";
    QVERIFY_THROWS_EXCEPTION(ModelError, parse_model_config(config.dump(), "x"));
  }
};

QTEST_GUILESS_MAIN(TestSiglip)
#include "test_siglip.moc"
