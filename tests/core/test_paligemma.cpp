// PaliGemma (google/paligemma-3b-pt-224: SigLIP tower, Gemma 1) and PaliGemma 2
// (google/paligemma2-3b-pt-224: Gemma 2) against float64 computations written here from the
// transformers sources (processing_paligemma.py, modeling_paligemma.py, modeling_siglip.py,
// modeling_gemma.py, modeling_gemma2.py), never calling the model code: tiny random checkpoints
// with the real config fields and key layouts, shrunk in size. Checked: the processor's token
// sequence, the prefix-LM mask, the projector and feature scale, the logits (1-based positions),
// the explainer's packed batches, AtMan's values, and the overlay of a left-half-solid image.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/heatmap.h"
#include "atman/hf_config.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "io/safetensors.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Vision tower: 32 px images, 8 px patches (4 x 4 = 16 image tokens), width 32.
constexpr int kVC = 32, kVHeads = 4, kVInter = 64, kVLayers = 2;
constexpr int kImage = 32, kPatch = 8, kGrid = kImage / kPatch, kTokens = kGrid * kGrid;
// Language model: width 48 (= projection_dim), head_dim 16. The vocabulary is shapes-llava's GPT-2
// BPE with <image> = 50257 and a <bos> added at 50258 (the real ones: 257152 and 2).
constexpr int kC = 48, kHeads = 4, kHeadDim = 16, kInter = 96, kLayers = 2;
constexpr int kVocab = 50259, kImageId = 50257, kBos = 50258, kEos = 50256;

using Weights = std::map<std::string, at::Tensor>;

// PaliGemma 2 or 1, and which key layout (classic "language_model.model.*" or the newer
// "model.language_model.*").
struct Spec {
  bool v2 = false;
  bool modern = false;
};

// config.json of google/paligemma-3b-pt-224 / google/paligemma2-3b-pt-224, shrunk. The top-level
// hidden_size keeps its real value 2048 (a leftover transformers does not read for the scale).
json text_config(const Spec& s) {
  json t = {{"hidden_size", kC},
            {"intermediate_size", kInter},
            {"num_attention_heads", kHeads},
            {"num_hidden_layers", kLayers},
            {"num_image_tokens", kTokens},
            {"head_dim", kHeadDim},
            {"vocab_size", kVocab}};
  if (s.v2) {
    t["model_type"] = "gemma2";
    t["final_logit_softcapping"] = 30.0;
    t["hidden_activation"] = "gelu_pytorch_tanh";
    t["num_key_value_heads"] = 2;
    t["query_pre_attn_scalar"] = 256;
    t["sliding_window"] = 4096;
    t["torch_dtype"] = "bfloat16";
  } else {
    t["model_type"] = "gemma";
    t["num_key_value_heads"] = 1;
    t["torch_dtype"] = "float32";
  }
  return t;
}

json config_of(const Spec& s) {
  json vision = {{"hidden_size", kVC},
                 {"intermediate_size", kVInter},
                 {"model_type", "siglip_vision_model"},
                 {"num_attention_heads", kVHeads},
                 {"num_hidden_layers", kVLayers},
                 {"num_image_tokens", kTokens},
                 {"patch_size", kPatch},
                 {"image_size", kImage},
                 {"projection_dim", kC},
                 {"projector_hidden_act", "gelu_fast"},
                 {"vision_use_head", false}};
  json c = {{"architectures", {"PaliGemmaForConditionalGeneration"}},
            {"bos_token_id", kBos},
            {"eos_token_id", kEos},
            {"hidden_size", 2048},
            {"ignore_index", -100},
            {"image_token_index", kImageId},
            {"model_type", "paligemma"},
            {"pad_token_id", 0},
            {"projection_dim", kC},
            {"text_config", text_config(s)},
            {"torch_dtype", s.v2 ? "bfloat16" : "float32"},
            {"transformers_version", s.v2 ? "4.47.0.dev0" : "4.41.0.dev0"},
            {"vision_config", vision},
            {"vocab_size", kVocab}};
  if (s.v2) c["num_hidden_layers"] = 26;  // another leftover of the real config
  return c;
}

// SiglipImageProcessor as PaliGemma ships it: resize to the square, rescale, normalise to [-1, 1].
json preprocessor() {
  return {{"image_processor_type", "SiglipImageProcessor"},
          {"processor_class", "PaliGemmaProcessor"},
          {"do_normalize", true},
          {"do_resize", true},
          {"do_rescale", true},
          {"do_convert_rgb", nullptr},
          {"image_seq_length", kTokens},
          {"size", {{"height", kImage}, {"width", kImage}}},
          {"image_mean", {0.5, 0.5, 0.5}},
          {"image_std", {0.5, 0.5, 0.5}},
          {"resample", 3},
          {"rescale_factor", 1.0 / 255}};
}

std::string vision_prefix(const Spec& s) {
  return s.modern ? "model.vision_tower.vision_model." : "vision_tower.vision_model.";
}
std::string projector_prefix(const Spec& s) {
  return s.modern ? "model.multi_modal_projector." : "multi_modal_projector.";
}
std::string decoder_prefix(const Spec& s) {
  return s.modern ? "model.language_model." : "language_model.model.";
}

Weights tensors_of(const Spec& s, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  Weights t;
  const std::string v = vision_prefix(s);
  t[v + "embeddings.patch_embedding.weight"] = 0.1 * at::randn({kVC, 3, kPatch, kPatch});
  t[v + "embeddings.patch_embedding.bias"] = 0.1 * at::randn({kVC});
  t[v + "embeddings.position_embedding.weight"] = 0.5 * at::randn({kTokens, kVC});
  for (int l = 0; l < kVLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    for (const char* n : {"layer_norm1", "layer_norm2"}) {
      t[p + n + ".weight"] = 1 + 0.1 * at::randn({kVC});
      t[p + n + ".bias"] = 0.1 * at::randn({kVC});
    }
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t[p + "self_attn." + n + ".weight"] = 0.2 * at::randn({kVC, kVC});
      t[p + "self_attn." + n + ".bias"] = 0.1 * at::randn({kVC});
    }
    t[p + "mlp.fc1.weight"] = 0.2 * at::randn({kVInter, kVC});
    t[p + "mlp.fc1.bias"] = 0.1 * at::randn({kVInter});
    t[p + "mlp.fc2.weight"] = 0.2 * at::randn({kVC, kVInter});
    t[p + "mlp.fc2.bias"] = 0.1 * at::randn({kVC});
  }
  // Not the identity: PaliGemma reads last_hidden_state, which is after it.
  t[v + "post_layernorm.weight"] = 1 + 0.2 * at::randn({kVC});
  t[v + "post_layernorm.bias"] = 0.2 * at::randn({kVC});
  t[projector_prefix(s) + "linear.weight"] = 0.3 * at::randn({kC, kVC});
  t[projector_prefix(s) + "linear.bias"] = 0.1 * at::randn({kC});
  test::TinyDecoder lm;
  lm.config = text_config(s);
  lm.seed = seed + 1;
  for (auto& [name, tensor] : test::tiny_decoder_tensors(lm)) {
    if (name == "lm_head.weight") qFatal("PaliGemma ties its head: no lm_head expected");
    t[decoder_prefix(s) + name.substr(6)] = tensor;  // "model." -> the language model's prefix
  }
  return t;
}

// shapes-llava's tokenizer files with "<bos>" added as a special token (Gemma's id 2 here 50258).
void write_tokenizer(const fs::path& dir) {
  const fs::path source = test::models_dir() / "shapes-llava";
  json tok = test::read_json(source / "tokenizer.json");
  tok["added_tokens"].push_back({{"id", kBos},
                                 {"content", "<bos>"},
                                 {"single_word", false},
                                 {"lstrip", false},
                                 {"rstrip", false},
                                 {"normalized", false},
                                 {"special", true}});
  std::ofstream(dir / "tokenizer.json") << tok.dump();
  for (const char* f :
       {"tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"})
    fs::copy_file(source / f, dir / f);
}

fs::path write_model(const fs::path& dir, const Spec& s, const Weights& w) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << config_of(s).dump(2);
  std::ofstream(dir / "preprocessor_config.json") << preprocessor().dump(2);
  write_tokenizer(dir);
  test::write_weights(dir, w, test::TinyDType::F32, false);
  return dir;
}

// ---- float64 reference ------------------------------------------------------------------------

at::Tensor d(const Weights& w, const std::string& name) {
  return w.at(name).to(at::kDouble);
}

at::Tensor layer_norm(const at::Tensor& x, const Weights& w, const std::string& p) {
  at::Tensor mean = x.mean(-1, true);
  at::Tensor var = (x - mean).pow(2).mean(-1, true);
  return (x - mean) / at::sqrt(var + 1e-6) * d(w, p + ".weight") + d(w, p + ".bias");
}

at::Tensor linear(const at::Tensor& x, const Weights& w, const std::string& p, bool bias = true) {
  at::Tensor y = at::matmul(x, d(w, p + ".weight").t());
  return bias ? y + d(w, p + ".bias") : y;
}

at::Tensor gelu_tanh(const at::Tensor& x) {
  return 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}

// get_image_features for pixels (3, S, S): SigLIP's embeddings (patch conv written as a loop over
// patches, no class token), encoder, post_layernorm = last_hidden_state; then the projector and
// the division by sqrt(text_config.hidden_size). (16, C).
at::Tensor ref_features(const at::Tensor& pixels, const Weights& w, const Spec& s) {
  const std::string v = vision_prefix(s);
  at::Tensor kernel = d(w, v + "embeddings.patch_embedding.weight").reshape({kVC, -1});
  std::vector<at::Tensor> rows;
  for (int py = 0; py < kGrid; ++py)
    for (int px = 0; px < kGrid; ++px) {
      at::Tensor patch = pixels.slice(1, py * kPatch, (py + 1) * kPatch)
                             .slice(2, px * kPatch, (px + 1) * kPatch)
                             .reshape({-1});
      rows.push_back(at::matmul(kernel, patch) + d(w, v + "embeddings.patch_embedding.bias"));
    }
  at::Tensor x = at::stack(rows) + d(w, v + "embeddings.position_embedding.weight");
  const int64_t D = kVC / kVHeads;
  for (int l = 0; l < kVLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    at::Tensor h = layer_norm(x, w, p + "layer_norm1");
    at::Tensor q = linear(h, w, p + "self_attn.q_proj"), k = linear(h, w, p + "self_attn.k_proj"),
               vv = linear(h, w, p + "self_attn.v_proj");
    std::vector<at::Tensor> heads;
    for (int hd = 0; hd < kVHeads; ++hd) {
      at::Tensor s_ =
          at::matmul(q.slice(-1, hd * D, (hd + 1) * D), k.slice(-1, hd * D, (hd + 1) * D).t()) /
          std::sqrt(double(D));
      heads.push_back(at::matmul(at::softmax(s_, -1), vv.slice(-1, hd * D, (hd + 1) * D)));
    }
    x = x + linear(at::cat(heads, -1), w, p + "self_attn.out_proj");
    h = linear(layer_norm(x, w, p + "layer_norm2"), w, p + "mlp.fc1");
    x = x + linear(gelu_tanh(h), w, p + "mlp.fc2");
  }
  x = layer_norm(x, w, v + "post_layernorm");
  return linear(x, w, projector_prefix(s) + "linear") / std::sqrt(double(kC));
}

// The attention mask of a PaliGemma input whose first `prefix` positions are image + prompt
// (token_type_ids 0) and the rest the answer (1): causal, or-ed with prefix <-> prefix.
bool visible(int64_t i, int64_t j, int64_t prefix) {
  return j <= i || (i < prefix && j < prefix);
}

// GemmaForCausalLM / Gemma2ForCausalLM over input embeddings (T, C) at position_ids 1..T, with the
// prefix-LM mask and optional AtMan factors over the keys (spec §1: on the scaled (and, for
// Gemma 2, soft-capped) scores, shifted by their row minimum). Logits (T, V).
at::Tensor ref_decoder(const at::Tensor& embeds, const Weights& w, const Spec& s, int64_t prefix,
                       const std::vector<double>& factors = {}) {
  const std::string m = decoder_prefix(s);
  const int64_t T = embeds.size(0), Hkv = s.v2 ? 2 : 1, D = kHeadDim;
  auto norm = [&](const at::Tensor& x, const std::string& name) {
    return x / (x.pow(2).mean(-1, true) + 1e-6).sqrt() * (1 + d(w, m + name + ".weight"));
  };
  auto rope = [&](const at::Tensor& x) {  // (T, H, D), rotate-half, positions from 1
    at::Tensor out = x.clone();
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < D / 2; ++i) {
        const double f = 1.0 / std::pow(10000.0, 2.0 * i / D), pos = double(t + 1);
        const double c = std::cos(pos * f), sn = std::sin(pos * f);
        at::Tensor a = x.select(0, t).select(-1, i), b = x.select(0, t).select(-1, i + D / 2);
        out.select(0, t).select(-1, i).copy_(a * c - b * sn);
        out.select(0, t).select(-1, i + D / 2).copy_(b * c + a * sn);
      }
    return out;
  };
  const double scale = 1 / std::sqrt(s.v2 ? 256.0 : double(D));
  // The normalizer is a tensor in the activations' dtype: sqrt(C) rounded to float32.
  at::Tensor x = embeds * static_cast<double>(static_cast<float>(std::sqrt(double(kC))));
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    at::Tensor h = norm(x, p + "input_layernorm");
    at::Tensor q = rope(linear(h, w, m + p + "self_attn.q_proj", false).reshape({T, kHeads, D}));
    at::Tensor k = rope(linear(h, w, m + p + "self_attn.k_proj", false).reshape({T, Hkv, D}));
    at::Tensor v = linear(h, w, m + p + "self_attn.v_proj", false).reshape({T, Hkv, D});
    at::Tensor out = at::zeros({T, kHeads, D}, at::kDouble);
    for (int64_t hd = 0; hd < kHeads; ++hd) {
      const int64_t kh = hd / (kHeads / Hkv);
      at::Tensor sc = at::matmul(q.select(1, hd), k.select(1, kh).t()) * scale;  // (T, T)
      if (s.v2) sc = 50.0 * at::tanh(sc / 50.0);  // attn_logit_softcapping's default
      if (!factors.empty()) {
        at::Tensor f = at::tensor(factors, at::kDouble).unsqueeze(0);
        sc = (sc - std::get<0>(sc.min(-1, true))) * f;
      }
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          if (!visible(i, j, prefix)) sc[i][j] = -std::numeric_limits<double>::infinity();
      out.select(1, hd).copy_(at::matmul(at::softmax(sc, -1), v.select(1, kh)));
    }
    at::Tensor a = linear(out.reshape({T, kHeads * D}), w, m + p + "self_attn.o_proj", false);
    if (s.v2) a = norm(a, p + "post_attention_layernorm");
    x = x + a;
    h = s.v2 ? norm(x, p + "pre_feedforward_layernorm") : norm(x, p + "post_attention_layernorm");
    at::Tensor mlp = linear(gelu_tanh(linear(h, w, m + p + "mlp.gate_proj", false)) *
                                linear(h, w, m + p + "mlp.up_proj", false),
                            w, m + p + "mlp.down_proj", false);
    if (s.v2) mlp = norm(mlp, p + "post_feedforward_layernorm");
    x = x + mlp;
  }
  at::Tensor logits = at::matmul(norm(x, "norm"), d(w, m + "embed_tokens.weight").t());
  if (s.v2) logits = 30.0 * at::tanh(logits / 30.0);
  return logits;
}

// The input embeddings of ids (T): token rows, the image rows replaced by the features in order.
at::Tensor ref_embeds(const std::vector<int64_t>& ids, const at::Tensor& features, const Weights& w,
                      const Spec& s) {
  at::Tensor table = d(w, decoder_prefix(s) + "embed_tokens.weight");
  std::vector<at::Tensor> rows;
  int64_t k = 0;
  for (int64_t id : ids) rows.push_back(id == kImageId ? features[k++] : table[id]);
  return at::stack(rows);
}

std::vector<double> to_doubles(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous().flatten();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// A W x H image: the left half one colour, the right half a pattern.
std::shared_ptr<RgbImage> half_solid(int W, int H) {
  auto image = std::make_shared<RgbImage>();
  image->width = W;
  image->height = H;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const bool left = x < W / 2;
      image->pixels.push_back(left ? 200 : static_cast<uint8_t>((x * 7 + y * 13) % 256));
      image->pixels.push_back(left ? 40 : static_cast<uint8_t>((x * 3 + y * 29) % 256));
      image->pixels.push_back(left ? 90 : static_cast<uint8_t>((x * 11 + y * 5) % 256));
    }
  return image;
}

const char* const kPrompt = "answer en What is in the picture?";
const char* const kAnswer = " a red square";

}  // namespace

class TestPaliGemma : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  struct Loaded {
    Spec spec;
    Weights weights;
    std::shared_ptr<const Model> model;
  };
  std::map<std::string, Loaded> loaded_;

  const Loaded& load(const std::string& name, const Spec& s, uint64_t seed) {
    auto it = loaded_.find(name);
    if (it != loaded_.end()) return it->second;
    Loaded l{s, tensors_of(s, seed), nullptr};
    l.model = Model::load(write_model(fs::path(tmp_.path().toStdString()) / name, s, l.weights));
    return loaded_.emplace(name, std::move(l)).first->second;
  }
  const Loaded& v1() { return load("paligemma", Spec{false, false}, 11); }
  const Loaded& v2() { return load("paligemma2", Spec{true, true}, 21); }

  // The ids PaliGemmaProcessor gives: the string it builds, tokenized whole (added tokens first).
  std::vector<int64_t> processor_ids(const Model& model, const std::string& prompt) {
    std::string text;
    if (prompt.find("<image>") == std::string::npos) {
      for (int i = 0; i < kTokens; ++i) text += "<image>";
      text += "<bos>" + prompt + "\n";
    } else {
      std::string expanded;
      for (int i = 0; i < kTokens; ++i) expanded += "<image>";
      text = prompt;
      text.replace(text.find("<image>"), 7, expanded);
      text += "\n";
    }
    return model.tokenizer().encode(text).ids;
  }

 private slots:
  // The real configs parse as transformers reads them: Gemma's defaults fill text_config
  // (head_dim 256, tied head), the top-level hidden_size is not the text width.
  void real_configs() {
    const json real1 = {{"architectures", {"PaliGemmaForConditionalGeneration"}},
                        {"bos_token_id", 2},
                        {"eos_token_id", 1},
                        {"hidden_size", 2048},
                        {"image_token_index", 257152},
                        {"model_type", "paligemma"},
                        {"pad_token_id", 0},
                        {"projection_dim", 2048},
                        {"text_config",
                         {{"hidden_size", 2048},
                          {"intermediate_size", 16384},
                          {"model_type", "gemma"},
                          {"num_attention_heads", 8},
                          {"num_hidden_layers", 18},
                          {"num_image_tokens", 256},
                          {"num_key_value_heads", 1},
                          {"torch_dtype", "float32"},
                          {"vocab_size", 257216}}},
                        {"vision_config",
                         {{"hidden_size", 1152},
                          {"intermediate_size", 4304},
                          {"model_type", "siglip_vision_model"},
                          {"num_attention_heads", 16},
                          {"num_hidden_layers", 27},
                          {"num_image_tokens", 256},
                          {"patch_size", 14},
                          {"projection_dim", 2048},
                          {"projector_hidden_act", "gelu_fast"},
                          {"vision_use_head", false}}},
                        {"vocab_size", 257216}};
    const auto c = std::get<LlavaConfig>(parse_model_config(real1.dump(), "paligemma-3b-pt-224"));
    QVERIFY(c.paligemma());
    QVERIFY(!c.anyres());
    QVERIFY(c.text.model_type == "gemma");
    QCOMPARE(c.text.head_dim, 256);
    QCOMPARE(c.text.hidden_size, 2048);
    QCOMPARE(c.text.num_key_value_heads, 1);
    QVERIFY(c.text.tie_word_embeddings);
    QVERIFY(c.text.gemma_norms && c.text.scale_embeddings);
    QVERIFY(c.text.block_norms == BlockNorms::Pre);
    QVERIFY(c.text.hidden_act == Activation::GeluTanh);
    QCOMPARE(c.text.query_pre_attn_scalar, 0.0);  // Gemma 1 scales by head_dim^-1/2
    QCOMPARE(c.text.attn_logit_softcapping, 0.0);
    QCOMPARE(c.text.sliding_window, 0);
    QCOMPARE(c.text.position_offset, 1);
    QCOMPARE(c.text.bos_token_id, 2);
    QCOMPARE(c.text.eos_token_id, 1);
    QCOMPARE(c.vision.image_size, 224);
    QCOMPARE(c.vision.layer_norm_eps, 1e-6);
    QCOMPARE(c.image_seq_length, 256);
    QCOMPARE(c.image_token_index, 257152);

    json real2 = real1;
    real2["projection_dim"] = 2304;
    real2["text_config"] = {{"final_logit_softcapping", 30.0},
                            {"hidden_activation", "gelu_pytorch_tanh"},
                            {"hidden_size", 2304},
                            {"intermediate_size", 9216},
                            {"model_type", "gemma2"},
                            {"num_attention_heads", 8},
                            {"num_hidden_layers", 26},
                            {"num_image_tokens", 256},
                            {"num_key_value_heads", 4},
                            {"query_pre_attn_scalar", 256},
                            {"sliding_window", 4096},
                            {"torch_dtype", "bfloat16"},
                            {"vocab_size", 257216}};
    const auto c2 = std::get<LlavaConfig>(parse_model_config(real2.dump(), "paligemma2-3b-pt-224"));
    QCOMPARE(c2.text.hidden_size, 2304);
    QVERIFY(c2.text.block_norms == BlockNorms::Sandwich);
    QCOMPARE(c2.text.attn_logit_softcapping, 50.0);
    QCOMPARE(c2.text.sliding_window, 4096);
    QCOMPARE(c2.text.position_offset, 1);
    // A projector that does not reach the text width cannot replace token embeddings.
    real2["projection_dim"] = 2048;
    QVERIFY(test::error_of<ModelError>([&] {
              parse_model_config(real2.dump(), "bad");
            }).contains("projection_dim"));
  }

  void loads_as_image_prefix_lm() {
    QVERIFY(v1().model->architecture() == "PaliGemma");
    QVERIFY(v2().model->architecture() == "PaliGemma 2");
    for (const Loaded* l : {&v1(), &v2()}) {
      QCOMPARE(l->model->kind(), ModelKind::Llava);
      QVERIFY(l->model->reads_images() && l->model->generates());
      QCOMPARE(l->model->patch_grid(), kGrid);
      // The processor puts the image first when the prompt has no <image>: any prompt fits.
      QVERIFY(l->model->prompt_places_image("caption en"));
      QVERIFY(l->model->prompt_places_image("<image>caption en"));
    }
  }

  // PaliGemmaProcessor: "<image>" * image_seq_length + "<bos>" + prompt + "\n"; with "<image>" in
  // the prompt, the prompt expanded + "\n" and no <bos>. The answer has no <bos>.
  void processor_tokens() {
    const Model& model = *v1().model;
    const LlavaModel& pg = *model.impl().llava;
    for (const char* text : {kPrompt, "caption en", "<image>answer en what?"}) {
      const std::string prompt = text;
      const Encoding enc = pg.encode_prompt(model.tokenizer(), prompt);
      const std::vector<int64_t> got = pg.expand_image_tokens(enc.ids, kTokens);
      const std::vector<int64_t> want = processor_ids(model, prompt);
      QVERIFY(got == want);
      // Spans: the prompt's tokens cover the prompt, the added ones cover nothing.
      const auto layout = input_layout(model, prompt, nullptr);
      QCOMPARE(layout.size(), want.size());
      int images = 0;
      std::string covered;
      for (const InputPosition& p : layout) {
        images += p.is_image;
        if (!p.is_image && p.span.second > p.span.first)
          covered += prompt.substr(p.span.first, p.span.second - p.span.first);
      }
      QCOMPARE(images, kTokens);
      const bool has_bos = prompt.find("<image>") == std::string::npos;
      QCOMPARE(want[kTokens] == kBos, has_bos);
      QVERIFY(layout.back().text == "\n");
      QCOMPARE(layout.back().span.first, layout.back().span.second);
      QVERIFY(covered == (has_bos ? prompt : prompt.substr(7)));
    }
    QVERIFY(pg.encode_answer(model.tokenizer(), kAnswer).ids ==
            model.tokenizer().encode(kAnswer).ids);
  }

  // attention() with a prefix: the mask of transformers' token_type_ids (or-mask over the prefix),
  // also for the last queries of a longer sequence (the KV cache case).
  void prefix_lm_mask() {
    at::manual_seed(3);
    const int64_t T = 7, P = 4, H = 2, D = 4;
    at::Tensor q = at::randn({1, H, T, D}), k = at::randn({1, H, T, D}),
               v = at::randn({1, H, T, D});
    AttentionOptions o;
    o.prefix = P;
    const at::Tensor got = attention(q, k, v, true, nullptr, 0, o);
    at::Tensor qd = q.to(at::kDouble), kd = k.to(at::kDouble), vd = v.to(at::kDouble);
    at::Tensor want = at::zeros({1, H, T, D}, at::kDouble);
    for (int64_t h = 0; h < H; ++h) {
      at::Tensor s = at::matmul(qd[0][h], kd[0][h].t()) / std::sqrt(double(D));
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j)
          if (!visible(i, j, P)) s[i][j] = -std::numeric_limits<double>::infinity();
      want[0][h] = at::matmul(at::softmax(s, -1), vd[0][h]);
    }
    QVERIFY(test::all_close(to_doubles(got), to_doubles(want), 1e-6, 1e-6, "prefix-LM attention"));
    // Position 0 sees the whole prefix (not only itself), position P the prefix and itself.
    QVERIFY((got[0][0][0] - v[0][0][0]).abs().max().item<double>() > 1e-3);
    const at::Tensor tail = attention(q.slice(2, 5), k, v, true, nullptr, 0, o);
    QVERIFY(test::all_close(to_doubles(tail), to_doubles(got.slice(2, 5)), 1e-6, 1e-6,
                            "prefix-LM attention, last queries"));
  }

  // get_image_features: last_hidden_state (after post_layernorm), one Linear, / sqrt(text width).
  void projector_and_scale() {
    for (const Loaded* l : {&v1(), &v2()}) {
      c10::InferenceMode guard;
      const PixelTensor pixels = l->model->preprocess(*half_solid(45, 30));
      const at::Tensor px = pixels_to_tensor(pixels, at::kCPU);
      const at::Tensor got = l->model->impl().llava->image_features(px, pixels.geometry)[0];
      const at::Tensor want = ref_features(px[0].to(at::kDouble), l->weights, l->spec);
      QCOMPARE(got.size(0), int64_t(kTokens));
      QVERIFY(test::all_close(to_doubles(got), to_doubles(want), 1e-5, 1e-5, "image features"));
    }
  }

  // Logits of image + <bos> + prompt + "\n" + answer against the float64 decoder at positions
  // 1..T with the prefix-LM mask; lm_forward's last logits (the prompt alone) likewise.
  void logits_parity() {
    for (const Loaded* l : {&v1(), &v2()}) {
      const Model& model = *l->model;
      const LlavaModel& pg = *model.impl().llava;
      const auto image = half_solid(45, 30);
      const PixelTensor pixels = model.preprocess(*image);
      std::vector<int64_t> ids = processor_ids(model, kPrompt);
      const int64_t n_prompt = static_cast<int64_t>(ids.size());
      for (int64_t id : model.tokenizer().encode(kAnswer).ids) ids.push_back(id);
      at::Tensor got;
      at::Tensor features_ref;
      {
        c10::InferenceMode guard;
        const at::Tensor px = pixels_to_tensor(pixels, at::kCPU);
        const at::Tensor features = pg.image_features(px, pixels.geometry);
        const PrefixLM lm(pg.language_model(), n_prompt);
        got = lm.lm_logits(lm.forward_embeds(pg.input_embeds(ids, features), nullptr, nullptr))[0];
        features_ref = ref_features(px[0].to(at::kDouble), l->weights, l->spec);
      }
      const at::Tensor want = ref_decoder(ref_embeds(ids, features_ref, l->weights, l->spec),
                                          l->weights, l->spec, n_prompt);
      QVERIFY(test::all_close(to_doubles(got), to_doubles(want), 1e-4, 1e-4,
                              model.architecture() + " logits"));
      // Not degenerate: positions predict different distributions.
      QVERIFY((want[0] - want[n_prompt]).abs().max().item<double>() > 1e-2);
      // The prompt alone through lm_forward: its whole input is the prefix.
      const LmForward f = lm_forward(model, kPrompt, &pixels);
      QCOMPARE(int64_t(f.ids.size()), n_prompt);
      const at::Tensor prompt_want =
          ref_decoder(ref_embeds(f.ids, features_ref, l->weights, l->spec), l->weights, l->spec,
                      n_prompt)[n_prompt - 1];
      QVERIFY(test::all_close(test::as_doubles(f.last_logits), to_doubles(prompt_want), 1e-4, 1e-4,
                              model.architecture() + " lm_forward last logits"));
    }
  }

  // The mask matters: a causal decoder gives other logits at the prompt's positions (so the parity
  // above pins it). The 1-based positions do not: RoPE scores depend on relative positions only.
  void mask_and_positions_matter() {
    const Loaded& l = v1();
    const Model& model = *l.model;
    const PixelTensor pixels = model.preprocess(*half_solid(45, 30));
    const std::vector<int64_t> ids = processor_ids(model, kPrompt);
    const int64_t n = static_cast<int64_t>(ids.size());
    const at::Tensor px = pixels_to_tensor(pixels, at::kCPU);
    const at::Tensor features = ref_features(px[0].to(at::kDouble), l.weights, l.spec);
    const at::Tensor embeds = ref_embeds(ids, features, l.weights, l.spec);
    const at::Tensor prefix = ref_decoder(embeds, l.weights, l.spec, n);
    const at::Tensor causal = ref_decoder(embeds, l.weights, l.spec, 0);
    QVERIFY((prefix[n - 1] - causal[n - 1]).abs().max().item<double>() > 1e-3);
    c10::InferenceMode guard;
    const LmForward f = lm_forward(model, kPrompt, &pixels);
    QVERIFY(test::all_close(test::as_doubles(f.last_logits), to_doubles(prefix[n - 1]), 1e-4, 1e-4,
                            "prefix, not causal"));
  }

  // The explainer's packed batch under the prefix-LM mask equals one full forward per
  // perturbation, for starts at 0 and in the causal part after the prefix; a start inside the
  // prefix (whose positions all see the suppressed keys there) is refused, not reused.
  void packed_perturbations_with_prefix() {
    for (const Loaded* l : {&v1(), &v2()}) {
      const Model& model = *l->model;
      const LlavaModel& pg = *model.impl().llava;
      const PixelTensor pixels = model.preprocess(*half_solid(45, 30));
      std::vector<int64_t> ids = processor_ids(model, kPrompt);
      const int64_t n_prompt = static_cast<int64_t>(ids.size());
      for (int64_t id : model.tokenizer().encode(kAnswer).ids) ids.push_back(id);
      const int64_t T = static_cast<int64_t>(ids.size()), outputs = 2;
      QVERIFY(T - outputs >= n_prompt);
      c10::InferenceMode guard;
      const at::Tensor features =
          pg.image_features(pixels_to_tensor(pixels, at::kCPU), pixels.geometry);
      const at::Tensor embeds = pg.input_embeds(ids, features);
      const PrefixLM lm(pg.language_model(), n_prompt);
      QVERIFY(lm.packs_suffixes());
      KVCache base;
      const at::Tensor unperturbed = lm.forward_embeds(embeds, nullptr, &base);
      // (start, suppressed position): an image token, a prompt token, the answer's first token.
      const std::vector<std::pair<int64_t, int64_t>> cases = {
          {0, 3}, {n_prompt, n_prompt}, {0, n_prompt - 2}, {T - outputs, T - outputs}};
      std::vector<int64_t> starts;
      std::vector<float> flat;
      std::vector<at::Tensor> fulls;
      for (const auto& [start, position] : cases) {
        starts.push_back(start);
        std::vector<float> m(T, 1.0f);
        m[position] = 0.1f;
        flat.insert(flat.end(), m.begin(), m.end());
        Suppression one;
        one.factors = at::tensor(m, at::kFloat).unsqueeze(0);
        fulls.push_back(lm.forward_embeds(embeds, &one, nullptr)[0].slice(0, T - outputs));
      }
      Suppression s;
      s.factors = at::tensor(flat, at::kFloat).view({int64_t(cases.size()), T});
      const at::Tensor packed = lm.forward_suffixes(embeds, starts, s, base, outputs);
      double worst = 0, moved = 0;
      for (size_t b = 0; b < cases.size(); ++b) {
        worst = std::max(worst, (packed[b] - fulls[b]).abs().max().item<double>());
        moved = std::max(
            moved, (fulls[b] - unperturbed[0].slice(0, T - outputs)).abs().max().item<double>());
      }
      qInfo("%s: packed batch vs full forwards: max |diff| %.3g (suppression moves %.3g)",
            model.architecture().c_str(), worst, moved);
      QVERIFY(moved > 1e-3);
      QVERIFY(worst < 1e-5);
      Suppression two;
      two.factors = s.factors.slice(0, 0, 2);
      const QString msg = test::error_of<Error>([&] {
        lm.forward_suffixes(embeds, {0, 1}, two, base, outputs);
      });
      QVERIFY2(msg.contains("inside the bidirectional prefix"), qPrintable(msg));
    }
  }

  // AtMan's values equal the float64 loss differences under suppression: an image token and a
  // prompt token, single-token mode, f = 0.9, every layer; nothing is reused from a cache (the
  // prefix is bidirectional), whatever reuse_kv_cache says.
  void atman_values() {
    for (const Loaded* l : {&v1(), &v2()}) {
      const Model& model = *l->model;
      const auto image = half_solid(45, 30);
      ExplainRequest r;
      r.model = l->model;
      r.image = image;
      r.prompt = kPrompt;
      r.target = kAnswer;
      r.explain = ExplainWhat::All;
      r.batch_size = 8;
      const Explanation e = AtmanExplainer().attribute(r);
      r.reuse_kv_cache = false;
      const Explanation e_no_reuse = AtmanExplainer().attribute(r);
      QCOMPARE(e.candidates.size(), e_no_reuse.candidates.size());
      for (size_t i = 0; i < e.candidates.size(); ++i)
        QCOMPARE(e.candidates[i].value, e_no_reuse.candidates[i].value);

      const PixelTensor pixels = model.preprocess(*image);
      std::vector<int64_t> ids = processor_ids(model, kPrompt);
      const int64_t n = static_cast<int64_t>(ids.size());
      const std::vector<int64_t> target = model.tokenizer().encode(kAnswer).ids;
      ids.insert(ids.end(), target.begin(), target.end() - 1);
      const at::Tensor features =
          ref_features(pixels_to_tensor(pixels, at::kCPU)[0].to(at::kDouble), l->weights, l->spec);
      const at::Tensor embeds = ref_embeds(ids, features, l->weights, l->spec);
      auto loss = [&](const std::vector<double>& factors) {
        const at::Tensor logp =
            at::log_softmax(ref_decoder(embeds, l->weights, l->spec, n, factors), -1);
        double sum = 0;
        for (size_t t = 0; t < target.size(); ++t)
          sum -= logp[n - 1 + int64_t(t)][target[t]].item<double>();
        return sum;
      };
      const double base = loss(std::vector<double>(ids.size(), 1.0));
      QVERIFY(std::abs(e.baseline_loss - base) < 1e-4 * std::max(1.0, std::abs(base)));
      std::vector<const Candidate*> patch_list, token_list;
      for (const Candidate& c : e.candidates)
        (c.kind == CandidateKind::Patch ? patch_list : token_list).push_back(&c);
      const int patches = int(patch_list.size()), tokens = int(token_list.size());
      QVERIFY(patches > 9 && tokens > 1);
      int checked = 0;
      // The first patch, one in the middle, and the first and last prompt token.
      for (const Candidate* cp : {patch_list[0], patch_list[9], token_list[0], token_list.back()}) {
        const Candidate& c = *cp;
        std::vector<double> f(ids.size(), 1.0);
        for (int p : c.positions) f[p] = 0.1;
        const double want = loss(f) - base;
        QVERIFY2(std::abs(c.value - want) < 1e-4,
                 qPrintable(QString("candidate %1: %2 vs %3").arg(c.index).arg(c.value).arg(want)));
        ++checked;
      }
      QCOMPARE(patches, kTokens);
      // Prompt tokens only: neither the added <bos> nor the closing "\n" is a candidate.
      QCOMPARE(tokens, int(model.tokenizer().encode(kPrompt).ids.size()));
      QCOMPARE(checked, 4);
      std::printf("%s: %d patch and %d token candidates, baseline loss %.4f\n",
                  model.architecture().c_str(), patches, tokens, e.baseline_loss);
    }
  }

  // Each image token maps to its patch rectangle of the user's image (SiglipImageProcessor resizes
  // without keeping the aspect ratio); on a left-half-solid image the overlay of values set on the
  // left-half tokens lights only the left half.
  void overlay_left_half() {
    const Loaded& l = v2();
    const int W = 60, H = 44;
    auto image = half_solid(W, H);
    ExplainRequest r;
    r.model = l.model;
    r.image = image;
    r.prompt = "caption en";
    r.target = kAnswer;
    r.batch_size = 16;
    Explanation e = AtmanExplainer().attribute(r);
    QCOMPARE(e.grid_rows, kGrid);
    int left = 0, patches = 0;
    for (Candidate& c : e.candidates) {
      QVERIFY(c.kind == CandidateKind::Patch);
      const int row = patches / kGrid, col = patches % kGrid;
      QVERIFY(std::abs(c.rect.x - col * double(W) / kGrid) < 1e-9);
      QVERIFY(std::abs(c.rect.y - row * double(H) / kGrid) < 1e-9);
      QVERIFY(std::abs(c.rect.width - double(W) / kGrid) < 1e-9);
      QVERIFY(std::abs(c.rect.height - double(H) / kGrid) < 1e-9);
      ++patches;
      const bool in_left = c.rect.x + c.rect.width <= W / 2.0;
      c.value = in_left ? 1.0 : 0.0;
      left += in_left;
    }
    QCOMPARE(patches, kTokens);
    QCOMPARE(left, kTokens / 2);
    OverlayOptions o;
    o.colormap = Colormap::Gray;
    o.opacity = 1.0;
    o.smooth = false;
    o.scale_max = 1.0;
    Explanation zero = e;
    for (Candidate& c : zero.candidates) c.value = 0;
    const RgbImage out = render_overlay(*image, e, o);
    const RgbImage ref = render_overlay(*image, zero, o);
    int lit_left = 0;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int k = 0; k < 3; ++k) {
          const size_t at = (size_t(y) * W + x) * 3 + k;
          if (x >= W / 2)
            QVERIFY2(out.pixels[at] == ref.pixels[at], "a left-half token lit the right half");
          else
            lit_left += out.pixels[at] != ref.pixels[at];
        }
    QVERIFY(lit_left > 0);
  }

  // Generation runs the prompt as the prefix, then each new token causally from the cache: the
  // first new token is the argmax of the prompt's last logits.
  void generate_first_token() {
    const Loaded& l = v1();
    const PixelTensor pixels = l.model->preprocess(*half_solid(45, 30));
    const LmForward f = lm_forward(*l.model, kPrompt, &pixels);
    const Generation g = generate(*l.model, kPrompt, 3, &pixels);
    const int64_t argmax =
        std::max_element(f.last_logits.begin(), f.last_logits.end()) - f.last_logits.begin();
    if (argmax != kEos) {
      QVERIFY(!g.ids.empty());
      QCOMPARE(g.ids[0], argmax);
    }
  }
};

QTEST_GUILESS_MAIN(TestPaliGemma)
#include "test_paligemma.moc"
