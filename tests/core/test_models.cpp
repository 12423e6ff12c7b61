// The architectures on tiny random checkpoints (tests/core/tiny_models.h): every variant loaded
// with atman::Model::load is checked against a direct float64 computation written here from the raw
// tensors (read back with atman::Checkpoint) and the config.json, with explicit per-query attention
// loops, the spec's suppression formula, rotate-half RoPE and grouped-query head mapping. Then the
// properties the explainer relies on: a suppression vector of ones is the plain forward, batching
// and the KV cache change nothing, and storage variants (dtype, prefix, shards) load the same
// model. Malformed folders and inputs must throw a clear atman::Error, never crash.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <QTemporaryDir>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

#include "atman/error.h"
#include "atman/explainer.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "io/safetensors.h"
#include "models/gelu_tanh.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// The direct computation: float64, one sequence at a time.
namespace ref {

using at::Tensor;

struct Weights {
  const Checkpoint& ck;
  std::string prefix;
  Tensor operator()(const std::string& name) const { return ck.get(prefix + name).to(at::kDouble); }
  bool has(const std::string& name) const { return ck.has(prefix + name); }
};

// Suppression of one sequence: factors over the key positions (empty = none).
struct Supp {
  std::vector<double> m;
  bool log_additive = false;
};

Tensor layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  Tensor mu = x.mean(-1, true);
  Tensor var = (x - mu).pow(2).mean(-1, true);
  return (x - mu) / (var + eps).sqrt() * w + b;
}

Tensor rms_norm(const Tensor& x, const Tensor& w, double eps) {
  return x / (x.pow(2).mean(-1, true) + eps).sqrt() * w;
}

Tensor activation(const Tensor& x, const std::string& name) {
  if (name == "quick_gelu") return x / (1 + at::exp(-1.702 * x));
  if (name == "gelu") return 0.5 * x * (1 + at::erf(x / std::sqrt(2.0)));
  if (name == "gelu_new")
    return 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
  if (name == "silu") return x / (1 + at::exp(-x));
  qFatal("no reference for activation %s", name.c_str());
}

// q: (T, H, D); k, v: (S, Hkv, D). Query t sits at key position S - T + t. Spec §1: raw scores
// q·k, shifted by the minimum of the whole row (all S keys, future ones included), times m, then
// scaled; log-additive: scaled scores + log m. Softmax over the visible keys.
Tensor attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, bool causal,
                 const Supp* s) {
  Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const int64_t T = q.size(0), H = q.size(1), D = q.size(2), S = k.size(0), Hkv = k.size(1);
  const int64_t group = H / Hkv;
  auto qa = q.accessor<double, 3>();
  auto ka = k.accessor<double, 3>();
  auto va = v.accessor<double, 3>();
  Tensor out = at::zeros({T, H, D}, at::kDouble);
  auto oa = out.accessor<double, 3>();
  std::vector<double> score(S), weight(S);
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kh = h / group;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t j = 0; j < S; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += qa[t][h][d] * ka[j][kh][d];
        score[j] = dot;
      }
      const double row_min = *std::min_element(score.begin(), score.end());
      for (int64_t j = 0; j < S; ++j) {
        if (s && !s->m.empty()) {
          score[j] = s->log_additive ? score[j] / std::sqrt(double(D)) + std::log(s->m[j])
                                     : (score[j] - row_min) * s->m[j] / std::sqrt(double(D));
        } else {
          score[j] /= std::sqrt(double(D));
        }
      }
      const int64_t last = causal ? S - T + t : S - 1;
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t j = 0; j <= last; ++j) mx = std::max(mx, score[j]);
      for (int64_t j = 0; j <= last; ++j) sum += weight[j] = std::exp(score[j] - mx);
      for (int64_t j = 0; j <= last; ++j)
        for (int64_t d = 0; d < D; ++d) oa[t][h][d] += weight[j] / sum * va[j][kh][d];
    }
  }
  return out;
}

Tensor linear(const Tensor& x, const Weights& w, const std::string& name, bool bias) {
  Tensor y = x.matmul(w(name + ".weight").t());
  return bias ? y + w(name + ".bias") : y;
}

// --- CLIP ---

Tensor clip_encoder(Tensor x, const Weights& w, const nlohmann::json& cfg, bool causal,
                    const Supp* s) {
  const int64_t H = cfg["num_attention_heads"], C = cfg["hidden_size"], T = x.size(0);
  const std::string act = cfg["hidden_act"];
  for (int l = 0; l < cfg["num_hidden_layers"].get<int>(); ++l) {
    const std::string p = "encoder.layers." + std::to_string(l) + ".";
    Tensor h = layer_norm(x, w(p + "layer_norm1.weight"), w(p + "layer_norm1.bias"), 1e-5);
    Tensor q = linear(h, w, p + "self_attn.q_proj", true).view({T, H, C / H});
    Tensor k = linear(h, w, p + "self_attn.k_proj", true).view({T, H, C / H});
    Tensor v = linear(h, w, p + "self_attn.v_proj", true).view({T, H, C / H});
    x = x +
        linear(attention(q, k, v, causal, s).reshape({T, C}), w, p + "self_attn.out_proj", true);
    h = layer_norm(x, w(p + "layer_norm2.weight"), w(p + "layer_norm2.bias"), 1e-5);
    x = x + linear(activation(linear(h, w, p + "mlp.fc1", true), act), w, p + "mlp.fc2", true);
  }
  return x;
}

// pixels: (3, S, S) -> projected image embedding (Pd).
Tensor clip_image(const Checkpoint& ck, const nlohmann::json& config, const Tensor& pixels,
                  const Supp* s) {
  const auto& cfg = config["vision_config"];
  const Weights w{ck, "vision_model."};
  const int64_t p = cfg["patch_size"], grid = cfg["image_size"].get<int64_t>() / p;
  Tensor patch_w = w("embeddings.patch_embedding.weight");
  Tensor flat_w = patch_w.reshape({patch_w.size(0), -1});  // (C, 3 p p)
  std::vector<Tensor> rows = {w("embeddings.class_embedding")};
  for (int64_t r = 0; r < grid; ++r)
    for (int64_t c = 0; c < grid; ++c)
      rows.push_back(flat_w.matmul(
          pixels.slice(1, r * p, (r + 1) * p).slice(2, c * p, (c + 1) * p).reshape({-1})));
  Tensor x = at::stack(rows) + w("embeddings.position_embedding.weight");
  x = layer_norm(x, w("pre_layrnorm.weight"), w("pre_layrnorm.bias"), 1e-5);
  x = clip_encoder(x, w, cfg, /*causal=*/false, s);
  Tensor pooled = layer_norm(x[0], w("post_layernorm.weight"), w("post_layernorm.bias"), 1e-5);
  return ck.get("visual_projection.weight").to(at::kDouble).matmul(pooled);
}

Tensor clip_text(const Checkpoint& ck, const nlohmann::json& config,
                 const std::vector<int64_t>& ids, const Supp* s) {
  const auto& cfg = config["text_config"];
  const Weights w{ck, "text_model."};
  const int64_t T = static_cast<int64_t>(ids.size());
  Tensor x = w("embeddings.token_embedding.weight").index_select(0, at::tensor(ids, at::kLong)) +
             w("embeddings.position_embedding.weight").slice(0, 0, T);
  x = clip_encoder(x, w, cfg, /*causal=*/true, s);
  x = layer_norm(x, w("final_layer_norm.weight"), w("final_layer_norm.bias"), 1e-5);
  const int64_t eos = cfg["eos_token_id"];
  const int64_t at_eos = std::find(ids.begin(), ids.end(), eos) - ids.begin();
  return ck.get("text_projection.weight").to(at::kDouble).matmul(x[at_eos]);
}

// --- GPT-2 --- (T, V) logits
Tensor gpt2(const Checkpoint& ck, const nlohmann::json& cfg, const std::vector<int64_t>& ids,
            const Supp* s) {
  const Weights w{ck, ck.has("transformer.wte.weight") ? "transformer." : ""};
  const int64_t C = cfg["n_embd"], H = cfg["n_head"], T = static_cast<int64_t>(ids.size());
  const std::string act = cfg["activation_function"];
  Tensor x =
      w("wte.weight").index_select(0, at::tensor(ids, at::kLong)) + w("wpe.weight").slice(0, 0, T);
  for (int l = 0; l < cfg["n_layer"].get<int>(); ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    Tensor h = layer_norm(x, w(p + "ln_1.weight"), w(p + "ln_1.bias"), 1e-5);
    Tensor qkv =
        h.matmul(w(p + "attn.c_attn.weight")) + w(p + "attn.c_attn.bias");  // Conv1D: (in, out)
    Tensor q = qkv.slice(1, 0, C).reshape({T, H, C / H});
    Tensor k = qkv.slice(1, C, 2 * C).reshape({T, H, C / H});
    Tensor v = qkv.slice(1, 2 * C, 3 * C).reshape({T, H, C / H});
    x = x + attention(q, k, v, true, s).reshape({T, C}).matmul(w(p + "attn.c_proj.weight")) +
        w(p + "attn.c_proj.bias");
    h = layer_norm(x, w(p + "ln_2.weight"), w(p + "ln_2.bias"), 1e-5);
    h = activation(h.matmul(w(p + "mlp.c_fc.weight")) + w(p + "mlp.c_fc.bias"), act);
    x = x + h.matmul(w(p + "mlp.c_proj.weight")) + w(p + "mlp.c_proj.bias");
  }
  x = layer_norm(x, w("ln_f.weight"), w("ln_f.bias"), 1e-5);
  Tensor head =
      ck.has("lm_head.weight") ? ck.get("lm_head.weight").to(at::kDouble) : w("wte.weight");
  return x.matmul(head.t());
}

// --- Llama / Qwen2 --- (T, V) logits
Tensor rope(const Tensor& x,
            double theta) {  // (T, H, D), positions 0..T-1, rotate-half pairs (i, i + D/2)
  Tensor out = x.clone();
  const int64_t T = x.size(0), H = x.size(1), D = x.size(2);
  auto xa = x.accessor<double, 3>();
  auto oa = out.accessor<double, 3>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < D / 2; ++i) {
        const double angle = t * std::pow(theta, -2.0 * i / D);
        const double a = xa[t][h][i], b = xa[t][h][i + D / 2];
        oa[t][h][i] = a * std::cos(angle) - b * std::sin(angle);
        oa[t][h][i + D / 2] = b * std::cos(angle) + a * std::sin(angle);
      }
  return out;
}

Tensor llama(const Checkpoint& ck, const nlohmann::json& cfg, const std::vector<int64_t>& ids,
             const Supp* s) {
  const Weights w{ck, "model."};
  const int64_t C = cfg["hidden_size"], H = cfg["num_attention_heads"],
                Hkv = cfg["num_key_value_heads"];
  const int64_t D = cfg.contains("head_dim") ? cfg["head_dim"].get<int64_t>() : C / H;
  const int64_t T = static_cast<int64_t>(ids.size());
  const bool bias = cfg["model_type"] == "qwen2" || cfg.value("attention_bias", false);
  const double eps = cfg["rms_norm_eps"], theta = cfg["rope_theta"];
  Tensor x = w("embed_tokens.weight").index_select(0, at::tensor(ids, at::kLong));
  for (int l = 0; l < cfg["num_hidden_layers"].get<int>(); ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    Tensor h = rms_norm(x, w(p + "input_layernorm.weight"), eps);
    Tensor q = rope(linear(h, w, p + "self_attn.q_proj", bias).view({T, H, D}), theta);
    Tensor k = rope(linear(h, w, p + "self_attn.k_proj", bias).view({T, Hkv, D}), theta);
    Tensor v = linear(h, w, p + "self_attn.v_proj", bias).view({T, Hkv, D});
    // LlamaAttention's o_proj carries attention_bias too; Qwen2's has none.
    const bool o_bias = bias && cfg["model_type"] != "qwen2";
    x = x +
        linear(attention(q, k, v, true, s).reshape({T, H * D}), w, p + "self_attn.o_proj", o_bias);
    h = rms_norm(x, w(p + "post_attention_layernorm.weight"), eps);
    Tensor gate = linear(h, w, p + "mlp.gate_proj", false);
    x = x + linear(activation(gate, "silu") * linear(h, w, p + "mlp.up_proj", false), w,
                   p + "mlp.down_proj", false);
  }
  x = rms_norm(x, w("norm.weight"), eps);
  Tensor head = cfg["tie_word_embeddings"].get<bool>() ? w("embed_tokens.weight")
                                                       : ck.get("lm_head.weight").to(at::kDouble);
  return x.matmul(head.t());
}

}  // namespace ref

// ---------------------------------------------------------------------------------------------
// Variants

enum class Arch { Clip, Gpt2, Llama };

struct Variant {
  Arch arch;
  std::function<fs::path(const fs::path&)> write;
};

const std::map<std::string, Variant>& variants() {
  static const std::map<std::string, Variant> all = [] {
    std::map<std::string, Variant> v;
    auto clip = [&](const std::string& name, std::function<void(TinyClip&)> f) {
      v[name] = {Arch::Clip, [f](const fs::path& d) {
                   TinyClip s;
                   f(s);
                   return write_tiny_clip(d, s);
                 }};
    };
    auto gpt2 = [&](const std::string& name, std::function<void(TinyGpt2&)> f) {
      v[name] = {Arch::Gpt2, [f](const fs::path& d) {
                   TinyGpt2 s;
                   f(s);
                   return write_tiny_gpt2(d, s);
                 }};
    };
    auto llama = [&](const std::string& name, std::function<void(TinyLlama&)> f) {
      v[name] = {Arch::Llama, [f](const fs::path& d) {
                   TinyLlama s;
                   f(s);
                   return write_tiny_llama(d, s);
                 }};
    };
    clip("clip", [](TinyClip&) {});
    clip("clip-gelu", [](TinyClip& s) { s.hidden_act = "gelu"; });
    clip("clip-f16", [](TinyClip& s) { s.dtype = TinyDType::F16; });
    clip("clip-bf16", [](TinyClip& s) { s.dtype = TinyDType::BF16; });
    clip("clip-sharded", [](TinyClip& s) { s.sharded = true; });
    gpt2("gpt2", [](TinyGpt2&) {});
    gpt2("gpt2-noprefix", [](TinyGpt2& s) { s.transformer_prefix = false; });
    gpt2("gpt2-lm_head", [](TinyGpt2& s) { s.lm_head = true; });
    gpt2("gpt2-noprefix-lm_head", [](TinyGpt2& s) {
      s.transformer_prefix = false;
      s.lm_head = true;
    });
    gpt2("gpt2-f16", [](TinyGpt2& s) { s.dtype = TinyDType::F16; });
    gpt2("gpt2-bf16", [](TinyGpt2& s) { s.dtype = TinyDType::BF16; });
    gpt2("gpt2-sharded", [](TinyGpt2& s) { s.sharded = true; });
    llama("llama", [](TinyLlama&) {});  // GQA 4/2, untied, no bias, head_dim implicit
    llama("llama-tied", [](TinyLlama& s) { s.tied = true; });
    llama("llama-mha", [](TinyLlama& s) { s.kv_heads = 4; });
    llama("llama-bias", [](TinyLlama& s) { s.attention_bias = true; });
    llama("llama-head_dim16", [](TinyLlama& s) {
      s.head_dim = 16;
      s.kv_heads = 1;
    });
    llama("qwen2", [](TinyLlama& s) {
      s.model_type = "qwen2";
      s.tied = true;
      s.head_dim = 8;
    });
    llama("qwen2-untied", [](TinyLlama& s) {
      s.model_type = "qwen2";
      s.head_dim = 16;
    });
    llama("llama-f16", [](TinyLlama& s) { s.dtype = TinyDType::F16; });
    llama("llama-bf16", [](TinyLlama& s) { s.dtype = TinyDType::BF16; });
    llama("llama-sharded", [](TinyLlama& s) { s.sharded = true; });
    llama("qwen2-bf16-sharded", [](TinyLlama& s) {
      s.model_type = "qwen2";
      s.tied = true;
      s.head_dim = 8;
      s.dtype = TinyDType::BF16;
      s.sharded = true;
    });
    return v;
  }();
  return all;
}

nlohmann::json config_of(const fs::path& dir) {
  return read_json(dir / "config.json");
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

at::Tensor factors_tensor(const std::vector<std::vector<double>>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat, at::kFloat).view({static_cast<int64_t>(rows.size()), -1});
}

Suppression make_suppression(const std::vector<std::vector<double>>& rows, bool log_additive) {
  Suppression s;
  s.factors = factors_tensor(rows);
  s.variant = log_additive ? SuppressionVariant::LogAdditive : SuppressionVariant::Multiplicative;
  return s;
}

std::vector<double> ones_with(int64_t n, std::map<int64_t, double> set) {
  std::vector<double> m(n, 1.0);
  for (auto [i, f] : set) m[i] = f;
  return m;
}

at::Tensor random_pixels(int64_t batch, int64_t size, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::normal(0.0, 1.0, {batch, 3, size, size}, gen, at::TensorOptions().dtype(at::kFloat));
}

const char* kText = "The cat is red. The dog lives in Paris.";
const std::vector<std::string> kLabels = {"a photo of a red circle", "a photo of a blue star",
                                          "a photo of a green cross"};

}  // namespace

class TestModels : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;
  std::map<std::string, fs::path> dirs_;
  std::map<std::string, std::shared_ptr<const Model>> models_;

  fs::path root() const { return fs::path(tmp_.path().toStdString()); }

  fs::path dir(const std::string& name) {
    auto& d = dirs_[name];
    if (d.empty()) d = variants().at(name).write(root() / name);
    return d;
  }
  std::shared_ptr<const Model> model(const std::string& name) {
    auto& m = models_[name];
    if (!m) m = Model::load(dir(name));
    return m;
  }

  std::vector<int64_t> lm_ids(const Model& m) { return m.tokenizer().encode(kText).ids; }

  // Outputs of a model for `ids` / `pixels` under optional suppressions. CLIP: [image_embeds,
  // text_embeds(label 0)]; LM: logits (T, V).
  at::Tensor model_output(const Model& m, const std::vector<int64_t>& ids, const at::Tensor& pixels,
                          const Suppression* s_main, const Suppression* s_text) {
    c10::InferenceMode guard;
    const auto& impl = m.impl();
    if (impl.clip) {
      at::Tensor img = impl.clip->image_embeds(pixels, s_main);
      at::Tensor txt = impl.clip->text_embeds(ids_to_tensor(ids, at::kCPU), s_text);
      return at::cat({img.flatten(), txt.flatten()}).clone();
    }
    return impl.lm->forward_logits(ids_to_tensor(ids, at::kCPU), s_main).squeeze(0).clone();
  }

 private slots:
  void initTestCase() { QVERIFY(tmp_.isValid()); }

  // ---- forward == direct computation ------------------------------------------------------
  void forwardMatchesDirect_data() {
    QTest::addColumn<QString>("variant");
    for (const auto& [name, v] : variants())
      QTest::newRow(name.c_str()) << QString::fromStdString(name);
  }
  void forwardMatchesDirect() {
    QFETCH(QString, variant);
    const std::string name = variant.toStdString();
    auto m = model(name);
    const Checkpoint ck(dir(name));
    const nlohmann::json cfg = config_of(dir(name));
    const Arch arch = variants().at(name).arch;
    double worst = 0;
    for (int mode = 0; mode < 3; ++mode) {  // none, multiplicative, log-additive
      const bool suppress = mode > 0, log_additive = mode == 2;
      at::Tensor got, want;
      if (arch == Arch::Clip) {
        const int64_t size = cfg["vision_config"]["image_size"];
        const int64_t grid = size / cfg["vision_config"]["patch_size"].get<int64_t>();
        at::Tensor pixels = random_pixels(1, size, 7);
        std::vector<int64_t> ids = m->tokenizer().encode(kLabels[0]).ids;
        ref::Supp si{ones_with(grid * grid + 1, {{3, 0.1}, {7, 0.5}, {0, 0.8}}), log_additive};
        ref::Supp st{ones_with(ids.size(), {{2, 0.1}, {4, 0.3}}), log_additive};
        Suppression msi = make_suppression({si.m}, log_additive),
                    mst = make_suppression({st.m}, log_additive);
        got = model_output(*m, ids, pixels, suppress ? &msi : nullptr, suppress ? &mst : nullptr);
        want =
            at::cat({ref::clip_image(ck, cfg, pixels[0].to(at::kDouble), suppress ? &si : nullptr),
                     ref::clip_text(ck, cfg, ids, suppress ? &st : nullptr)});
        // logits too: exp(logit_scale) * cos
        c10::InferenceMode guard;
        const double scale = std::exp(ck.get("logit_scale").item<double>());
        QVERIFY(std::abs(m->impl().clip->logit_scale_exp() - scale) < 1e-9 * scale);
      } else {
        std::vector<int64_t> ids = lm_ids(*m);
        ref::Supp s{ones_with(ids.size(), {{2, 0.1}, {5, 0.4}, {9, 0.0}}), log_additive};
        Suppression ms = make_suppression({s.m}, log_additive);
        got = model_output(*m, ids, {}, suppress ? &ms : nullptr, nullptr);
        want = arch == Arch::Gpt2 ? ref::gpt2(ck, cfg, ids, suppress ? &s : nullptr)
                                  : ref::llama(ck, cfg, ids, suppress ? &s : nullptr);
      }
      QCOMPARE(got.sizes().vec(), want.sizes().vec());
      const double diff = max_abs_diff(got, want);
      qInfo("%s %s: max |model - direct| = %.3g (max |value| %.3g)", name.c_str(),
            mode == 0   ? "plain"
            : mode == 1 ? "multiplicative"
                        : "log-additive",
            diff, want.abs().max().item<double>());
      worst = std::max(worst, diff);
      QVERIFY2(diff <= 1e-4, (name + ": forward differs from the direct computation").c_str());
    }
    qInfo("%s: worst max |model - direct| = %.3g", name.c_str(), worst);
  }

  // ---- a suppression of ones is the plain forward ------------------------------------------
  void onesSuppressionIsPlain_data() { forwardMatchesDirect_data(); }
  void onesSuppressionIsPlain() {
    QFETCH(QString, variant);
    const std::string name = variant.toStdString();
    auto m = model(name);
    const Arch arch = variants().at(name).arch;
    std::vector<int64_t> ids =
        arch == Arch::Clip ? m->tokenizer().encode(kLabels[0]).ids : lm_ids(*m);
    const int64_t size = arch == Arch::Clip ? m->preprocess_config().crop_size : 0;
    at::Tensor pixels = arch == Arch::Clip ? random_pixels(1, size, 3) : at::Tensor();
    const int64_t positions =
        arch == Arch::Clip ? m->patch_grid() * m->patch_grid() + 1 : ids.size();
    at::Tensor plain = model_output(*m, ids, pixels, nullptr, nullptr);
    for (bool log_additive : {false, true}) {
      Suppression s = make_suppression({std::vector<double>(positions, 1.0)}, log_additive);
      Suppression st = make_suppression({std::vector<double>(ids.size(), 1.0)}, log_additive);
      at::Tensor ones = model_output(*m, ids, pixels, &s, &st);
      const double diff = max_abs_diff(ones, plain);
      qInfo("%s: ones (%s) vs plain: max |diff| = %.3g", name.c_str(),
            log_additive ? "log-additive" : "multiplicative", diff);
      QVERIFY(diff <= 1e-5);
    }
  }

  // ---- a batch of 3 different inputs == 3 single forwards ----------------------------------
  void batchedEqualsSingle_data() { forwardMatchesDirect_data(); }
  void batchedEqualsSingle() {
    QFETCH(QString, variant);
    const std::string name = variant.toStdString();
    auto m = model(name);
    const auto& impl = m->impl();
    c10::InferenceMode guard;
    double worst = 0;
    double scale = 1;  // the largest |value| compared, at least 1
    if (impl.clip) {
      const int64_t size = m->preprocess_config().crop_size;
      const int64_t P = m->patch_grid() * m->patch_grid() + 1;
      at::Tensor pixels = random_pixels(3, size, 11);
      std::vector<std::vector<int64_t>> ids;
      for (const auto& l : kLabels) ids.push_back(m->tokenizer().encode(l).ids);
      for (const auto& i : ids) QCOMPARE(i.size(), ids[0].size());
      std::vector<std::vector<double>> mi = {ones_with(P, {{1, 0.1}}), ones_with(P, {}),
                                             ones_with(P, {{5, 0.3}, {6, 0.2}})};
      const int64_t T = ids[0].size();
      std::vector<std::vector<double>> mt = {ones_with(T, {{2, 0.1}}), ones_with(T, {{3, 0.5}}),
                                             ones_with(T, {})};
      Suppression si = make_suppression(mi, false), st = make_suppression(mt, false);
      std::vector<int64_t> flat;
      for (const auto& i : ids) flat.insert(flat.end(), i.begin(), i.end());
      at::Tensor batch_ids = at::tensor(flat, at::kLong).view({3, T});
      at::Tensor img = impl.clip->image_embeds(pixels, &si);
      at::Tensor txt = impl.clip->text_embeds(batch_ids, &st);
      for (int b = 0; b < 3; ++b) {
        Suppression si1 = make_suppression({mi[b]}, false), st1 = make_suppression({mt[b]}, false);
        worst = std::max(worst, max_abs_diff(img[b], impl.clip->image_embeds(
                                                         pixels.slice(0, b, b + 1), &si1)[0]));
        worst = std::max(worst, max_abs_diff(txt[b], impl.clip->text_embeds(
                                                         batch_ids.slice(0, b, b + 1), &st1)[0]));
      }
    } else {
      std::vector<int64_t> base = lm_ids(*m);
      const int64_t T = base.size();
      std::vector<std::vector<int64_t>> ids = {
          base, std::vector<int64_t>(base.rbegin(), base.rend()), base};
      std::rotate(ids[2].begin(), ids[2].begin() + 3, ids[2].end());
      std::vector<std::vector<double>> mt = {ones_with(T, {{2, 0.1}}), ones_with(T, {}),
                                             ones_with(T, {{4, 0.3}, {6, 0.2}})};
      Suppression s = make_suppression(mt, false);
      std::vector<int64_t> flat;
      for (const auto& i : ids) flat.insert(flat.end(), i.begin(), i.end());
      at::Tensor logits = impl.lm->forward_logits(at::tensor(flat, at::kLong).view({3, T}), &s);
      scale = std::max(scale, logits.abs().max().item<double>());
      for (int b = 0; b < 3; ++b) {
        Suppression s1 = make_suppression({mt[b]}, false);
        worst = std::max(
            worst, max_abs_diff(logits[b],
                                impl.lm->forward_logits(ids_to_tensor(ids[b], at::kCPU), &s1)[0]));
      }
    }
    qInfo("%s: batched vs single: max |diff| = %.3g (max |value| %.3g)", name.c_str(), worst,
          scale);
    // Batched and single-row GEMMs round differently; how much depends on the BLAS kernel the CPU
    // gets (AMD EPYC with OpenBLAS's Haswell kernel: 1.1e-5 on logits of magnitude 7), so the
    // bound grows with the values compared and is never tighter than 1e-5.
    QVERIFY(worst <= std::max(1e-5, 2e-6 * scale));
  }

  // ---- CLIP labels of different lengths in one padded batch == one forward each -------------
  void clipTextsBatched_data() {
    QTest::addColumn<QString>("variant");
    for (const auto& [name, v] : variants())
      if (v.arch == Arch::Clip && name.find("16") == std::string::npos)
        QTest::newRow(name.c_str()) << QString::fromStdString(name);
  }
  void clipTextsBatched() {
    QFETCH(QString, variant);
    auto m = model(variant.toStdString());
    const ClipModel& clip = *m->impl().clip;
    c10::InferenceMode guard;
    auto encode = [&](std::initializer_list<const char*> labels) {
      std::vector<std::vector<int64_t>> ids;
      for (const char* t : labels) ids.push_back(m->tokenizer().encode(t).ids);
      return ids;
    };
    // No shared start: different lengths, one without its end token (pooled at position 0, which
    // allows no shared prefix), one of a single token.
    auto texts = encode({"a photo of a small red circle in the corner", "square", "a blue cross"});
    texts.push_back(std::vector<int64_t>(texts[0].begin(), texts[0].end() - 3));
    texts.push_back({texts[1].back()});
    QVERIFY(texts[0].size() > texts[2].size() && texts[2].size() > texts[1].size());
    // A template's shared start, run once: one label is the template itself, so the shared part
    // stops at its end token; another has a longer tail.
    const auto templated = encode({"a photo of a red circle", "a photo of a blue square",
                                   "a photo of a yellow triangle on a table", "a photo of a"});
    QVERIFY(std::equal(templated[3].begin(), templated[3].end() - 1, templated[0].begin()));
    for (const auto& set : {texts, templated}) {
      const at::Tensor batched = clip.text_embeds(set, at::kCPU);
      QCOMPARE(batched.size(0), static_cast<int64_t>(set.size()));
      double worst = 0;
      for (size_t k = 0; k < set.size(); ++k)
        worst = std::max(
            worst, max_abs_diff(batched[k], clip.text_embeds(ids_to_tensor(set[k], at::kCPU))[0]));
      qInfo("%s: label batch vs one forward each: max |diff| = %.3g", variant.toStdString().c_str(),
            worst);
      QVERIFY(worst <= 1e-5);
    }
  }

  // ---- KV cache: prefix with a cache, then the rest == the full forward --------------------
  void kvCacheEqualsFull_data() {
    QTest::addColumn<QString>("variant");
    for (const auto& [name, v] : variants())
      if (v.arch != Arch::Clip) QTest::newRow(name.c_str()) << QString::fromStdString(name);
  }
  void kvCacheEqualsFull() {
    QFETCH(QString, variant);
    const std::string name = variant.toStdString();
    auto m = model(name);
    const CausalLM& lm = *m->impl().lm;
    c10::InferenceMode guard;
    std::vector<int64_t> ids = lm_ids(*m);
    const int64_t T = ids.size();
    at::Tensor embeds = lm.embed_tokens(ids_to_tensor(ids, at::kCPU));
    double worst = 0;
    for (int64_t prefix : {int64_t(1), int64_t(4), T - 1}) {
      // Suppression only after the prefix: the prefix's keys are those of the unperturbed pass.
      for (bool suppress : {false, true}) {
        std::vector<double> mv =
            suppress ? ones_with(T, {{prefix, 0.1}, {T - 1, 0.5}}) : ones_with(T, {});
        Suppression full_s = make_suppression({mv}, false);
        Suppression prefix_s =
            make_suppression({std::vector<double>(mv.begin(), mv.begin() + prefix)}, false);
        at::Tensor full = lm.forward_embeds(embeds, suppress ? &full_s : nullptr, nullptr);
        KVCache cache;
        at::Tensor a =
            lm.forward_embeds(embeds.slice(1, 0, prefix), suppress ? &prefix_s : nullptr, &cache);
        QCOMPARE(cache.length(), prefix);
        at::Tensor b =
            lm.forward_embeds(embeds.slice(1, prefix), suppress ? &full_s : nullptr, &cache);
        QCOMPARE(cache.length(), T);
        worst = std::max(worst, max_abs_diff(at::cat({a, b}, 1), full));
        // The explainer's path: a batch-1 prefix cache expanded to a batch of 2.
        KVCache shared;
        lm.forward_embeds(embeds.slice(1, 0, prefix), nullptr, &shared);
        KVCache expanded = shared.expanded(2);
        Suppression two = make_suppression({mv, mv}, false);
        at::Tensor rest = lm.forward_embeds(embeds.slice(1, prefix).expand({2, -1, -1}),
                                            suppress ? &two : nullptr, &expanded);
        worst = std::max(worst, max_abs_diff(rest[1], full[0].slice(0, prefix)));
      }
    }
    qInfo("%s: KV cache vs full forward: max |diff| = %.3g", name.c_str(), worst);
    QVERIFY(worst <= 1e-5);
  }

  // ---- The explainer's packed batch: each perturbation from its own start == full forwards ---
  void suffixBatchEqualsFull_data() {
    QTest::addColumn<QString>("variant");
    for (const auto& [name, v] : variants())
      if (v.arch != Arch::Clip && name.find("16") == std::string::npos)
        QTest::newRow(name.c_str()) << QString::fromStdString(name);
  }
  void suffixBatchEqualsFull() {
    QFETCH(QString, variant);
    const std::string name = variant.toStdString();
    auto m = model(name);
    const CausalLM& lm = *m->impl().lm;
    c10::InferenceMode guard;
    std::vector<int64_t> ids = lm_ids(*m);
    const int64_t T = ids.size();
    at::Tensor embeds = lm.embed_tokens(ids_to_tensor(ids, at::kCPU));
    KVCache base;
    lm.forward_embeds(embeds, nullptr, &base);
    double worst = 0;
    for (int64_t outputs : {int64_t(1), int64_t(3)}) {
      // Starts in any order, repeated, at 0 and at the last allowed position (T - outputs).
      const std::vector<int64_t> starts = {4, 0, T - outputs, 2, 4};
      for (bool log_additive : {false, true})
        for (std::vector<int> layers : {std::vector<int>{}, std::vector<int>{1}}) {
          std::vector<std::vector<double>> rows;
          for (size_t b = 0; b < starts.size(); ++b) {
            // Suppressed from the start on; the first repeat of start 4 also later on.
            std::map<int64_t, double> set = {{starts[b], 0.1 + 0.1 * b}};
            if (b == 0) set[T - 1] = 0.5;
            rows.push_back(ones_with(T, set));
          }
          Suppression s = make_suppression(rows, log_additive);
          for (int l : layers) {  // only the listed layers suppressed (layer 0 not)
            s.layers.assign(lm.num_layers(), false);
            s.layers[l] = true;
          }
          const at::Tensor packed = lm.forward_suffixes(embeds, starts, s, base, outputs);
          QCOMPARE(packed.size(0), static_cast<int64_t>(starts.size()));
          QCOMPARE(packed.size(1), outputs);
          for (size_t b = 0; b < starts.size(); ++b) {
            Suppression one = make_suppression({rows[b]}, log_additive);
            one.layers = s.layers;
            const at::Tensor full = lm.forward_embeds(embeds, &one, nullptr);
            worst = std::max(worst, max_abs_diff(packed[b], full[0].slice(0, T - outputs)));
          }
        }
    }
    // Without the unperturbed pass's cache (the faithfulness curves' forwards): every start 0.
    {
      std::vector<std::vector<double>> rows = {ones_with(T, {{2, 0.1}}), ones_with(T, {{0, 0.3}})};
      Suppression s = make_suppression(rows, false);
      const at::Tensor packed = lm.forward_suffixes(embeds, {0, 0}, s, KVCache{}, 2);
      for (size_t b = 0; b < rows.size(); ++b) {
        Suppression one = make_suppression({rows[b]}, false);
        const at::Tensor full = lm.forward_embeds(embeds, &one, nullptr);
        worst = std::max(worst, max_abs_diff(packed[b], full[0].slice(0, T - 2)));
      }
    }
    // More perturbations than one attention group of GPT-2's packed batch (16), starts shuffled.
    {
      std::vector<int64_t> starts;
      std::vector<std::vector<double>> rows;
      for (int64_t b = 0; b < 37; ++b) {
        starts.push_back((b * 5) % (T - 1));
        rows.push_back(ones_with(T, {{starts.back(), 0.1 + 0.02 * b}}));
      }
      Suppression s = make_suppression(rows, false);
      const at::Tensor packed = lm.forward_suffixes(embeds, starts, s, base, 1);
      for (size_t b = 0; b < rows.size(); ++b) {
        Suppression one = make_suppression({rows[b]}, false);
        const at::Tensor full = lm.forward_embeds(embeds, &one, nullptr);
        worst = std::max(worst, max_abs_diff(packed[b], full[0].slice(0, T - 1)));
      }
    }
    qInfo("%s: packed suffix batch vs full forwards: max |diff| = %.3g (packs: %d)", name.c_str(),
          worst, lm.packs_suffixes());
    QVERIFY(worst <= 1e-5);
  }

  // ---- fp16 / bf16 checkpoints agree with fp32 within dtype rounding -----------------------
  // ---- GPT-2's fused bias + gelu_new kernel against transformers' formula in float64 --------
  void biasGeluTanhMatchesFloat64() {
    c10::InferenceMode guard;
    at::manual_seed(7);
    // Widths with and without a tail after the 8-wide vectors; inputs up to |x| ~ 20.
    for (int64_t width : {int64_t(3072), int64_t(37), int64_t(5), int64_t(1)}) {
      const at::Tensor x = at::randn({64, width}) * 5, bias = at::randn({width});
      const at::Tensor ref = ref::activation((x + bias).to(at::kDouble), "gelu_new");
      at::Tensor fused = x.clone();
      bias_gelu_tanh_(fused, bias);
      // Relative to max(1, |value|): the float32 rounding of x + bias and of the result.
      const double worst =
          ((fused.to(at::kDouble) - ref).abs() / ref.abs().clamp_min(1)).max().item<double>();
      qInfo("width %ld: max error %.3g", static_cast<long>(width), worst);
      QVERIFY(worst < 1e-6);
      // A non-contiguous input takes ATen's path: the same values to float rounding.
      at::Tensor strided = x.t().contiguous().t();
      if (width > 1) QVERIFY(!strided.is_contiguous());
      bias_gelu_tanh_(strided, bias);
      QVERIFY(((strided - fused).abs() / fused.abs().clamp_min(1)).max().item<double>() < 1e-6);
    }
    // Saturation and special values: gelu(x) -> x for large x, -> 0 for very negative x.
    const float inf = std::numeric_limits<float>::infinity();
    at::Tensor special = at::tensor({0.0f, 30.0f, -30.0f, 1e4f, -1e4f, inf, NAN}).view({1, 7});
    bias_gelu_tanh_(special, at::zeros({7}));
    auto v = special.accessor<float, 2>();
    QCOMPARE(v[0][0], 0.0f);
    QCOMPARE(v[0][1], 30.0f);
    QVERIFY(std::abs(v[0][2]) < 1e-30f);
    QCOMPARE(v[0][3], 1e4f);
    QVERIFY(std::abs(v[0][4]) < 1e-30f);
    QCOMPARE(v[0][5], inf);
    QVERIFY(std::isnan(v[0][6]));
  }

  void lowPrecisionMatchesF32_data() {
    QTest::addColumn<QString>("variant");
    QTest::addColumn<QString>("reference");
    // Relative to the largest output value: 15-20 unit roundoffs of the dtype (fp16 2^-11, bf16
    // 2^-8), twice what two layers of rounded weights were measured to cost.
    QTest::addColumn<double>("tolerance");
    QTest::newRow("clip-f16") << QString("clip-f16") << QString("clip") << 1e-2;
    QTest::newRow("clip-bf16") << QString("clip-bf16") << QString("clip") << 6e-2;
    QTest::newRow("gpt2-f16") << QString("gpt2-f16") << QString("gpt2") << 1e-2;
    QTest::newRow("gpt2-bf16") << QString("gpt2-bf16") << QString("gpt2") << 6e-2;
    QTest::newRow("llama-f16") << QString("llama-f16") << QString("llama") << 1e-2;
    QTest::newRow("llama-bf16") << QString("llama-bf16") << QString("llama") << 6e-2;
    QTest::newRow("qwen2-bf16-sharded")
        << QString("qwen2-bf16-sharded") << QString("qwen2") << 6e-2;
  }
  void lowPrecisionMatchesF32() {
    QFETCH(QString, variant);
    QFETCH(QString, reference);
    QFETCH(double, tolerance);
    auto low = model(variant.toStdString());
    auto full = model(reference.toStdString());
    // The stored dtype is what the file says, and loading converts to fp32.
    const Checkpoint ck(dir(variant.toStdString()));
    const StDType want = variant.contains("bf16") ? StDType::BF16 : StDType::F16;
    for (const auto& name : ck.names())
      if (ck.info(name).dtype != StDType::I64) QVERIFY(ck.info(name).dtype == want);
    std::vector<int64_t> ids =
        low->kind() == ModelKind::Clip ? low->tokenizer().encode(kLabels[1]).ids : lm_ids(*low);
    at::Tensor pixels = low->kind() == ModelKind::Clip
                            ? random_pixels(1, low->preprocess_config().crop_size, 5)
                            : at::Tensor();
    at::Tensor a = model_output(*low, ids, pixels, nullptr, nullptr);
    at::Tensor b = model_output(*full, ids, pixels, nullptr, nullptr);
    const double diff = max_abs_diff(a, b), scale = b.abs().max().item<double>();
    qInfo("%s vs %s: max |diff| = %.3g, relative to max |value| %.3g: %.3g",
          variant.toUtf8().constData(), reference.toUtf8().constData(), diff, scale, diff / scale);
    QVERIFY(diff > 0);  // the weights really were rounded
    QVERIFY(diff <= tolerance * scale);
  }

  // ---- storage variants of the same weights give identical outputs -------------------------
  void storageVariantsIdentical_data() {
    QTest::addColumn<QString>("variant");
    QTest::addColumn<QString>("reference");
    QTest::newRow("gpt2 without transformer. prefix")
        << QString("gpt2-noprefix") << QString("gpt2");
    QTest::newRow("gpt2 sharded") << QString("gpt2-sharded") << QString("gpt2");
    QTest::newRow("gpt2 lm_head with/without prefix")
        << QString("gpt2-noprefix-lm_head") << QString("gpt2-lm_head");
    QTest::newRow("clip sharded") << QString("clip-sharded") << QString("clip");
    QTest::newRow("llama sharded") << QString("llama-sharded") << QString("llama");
  }
  void storageVariantsIdentical() {
    QFETCH(QString, variant);
    QFETCH(QString, reference);
    auto a_model = model(variant.toStdString());
    auto b_model = model(reference.toStdString());
    QCOMPARE(a_model->parameter_count(), b_model->parameter_count());
    std::vector<int64_t> ids = a_model->kind() == ModelKind::Clip
                                   ? a_model->tokenizer().encode(kLabels[2]).ids
                                   : lm_ids(*a_model);
    at::Tensor pixels = a_model->kind() == ModelKind::Clip
                            ? random_pixels(1, a_model->preprocess_config().crop_size, 9)
                            : at::Tensor();
    const double diff = max_abs_diff(model_output(*a_model, ids, pixels, nullptr, nullptr),
                                     model_output(*b_model, ids, pixels, nullptr, nullptr));
    qInfo("%s vs %s: max |diff| = %.3g", variant.toUtf8().constData(),
          reference.toUtf8().constData(), diff);
    QCOMPARE(diff, 0.0);
  }

  void gpt2UsesOwnLmHead() {
    // With lm_head.weight present (and untied in config) the head is that tensor, not wte.
    auto with_head = model("gpt2-lm_head");
    auto tied = model("gpt2");
    std::vector<int64_t> ids = lm_ids(*with_head);
    QVERIFY(max_abs_diff(model_output(*with_head, ids, {}, nullptr, nullptr),
                         model_output(*tied, ids, {}, nullptr, nullptr)) > 1e-2);
  }

  void architecturesAndKinds() {
    QCOMPARE(QString::fromStdString(model("clip")->architecture()), QString("CLIP"));
    QCOMPARE(QString::fromStdString(model("gpt2")->architecture()), QString("GPT-2"));
    QCOMPARE(QString::fromStdString(model("llama")->architecture()), QString("Llama"));
    QCOMPARE(QString::fromStdString(model("qwen2")->architecture()), QString("Qwen2"));
    QCOMPARE(model("clip")->patch_grid(), 4);
    QCOMPARE(model("gpt2")->max_text_tokens(), int64_t(32));
    QCOMPARE(model("llama")->max_text_tokens(), int64_t(64));
    QCOMPARE(model("llama")->tokenizer().vocab_size(), kGpt2Vocab);
    QCOMPARE(model("clip")->tokenizer().vocab_size(), kClipVocab);
  }

  // ---- malformed inputs: a clear exception, never a crash ----------------------------------
  void malformedConfigMissingField() {
    fs::path d = write_tiny_gpt2(root() / "bad-config");
    nlohmann::json cfg = config_of(d);
    cfg.erase("n_embd");
    std::ofstream(d / "config.json") << cfg.dump();
    try {
      Model::load(d);
      QFAIL("a config without n_embd loaded");
    } catch (const ModelError& e) {
      qInfo("missing field: %s", e.what());
      QVERIFY(QString(e.what()).contains("n_embd"));
      QVERIFY(QString(e.what()).contains("config.json"));
    }
  }

  void malformedMissingTensor() {
    TinyGpt2 spec;
    spec.edit = [](std::map<std::string, at::Tensor>& t) {
      t.erase("transformer.h.1.mlp.c_fc.bias");
    };
    fs::path d = write_tiny_gpt2(root() / "bad-missing", spec);
    try {
      Model::load(d);
      QFAIL("a checkpoint without h.1.mlp.c_fc.bias loaded");
    } catch (const ModelError& e) {
      qInfo("missing tensor: %s", e.what());
      QVERIFY(QString(e.what()).contains("transformer.h.1.mlp.c_fc.bias"));
    }
  }

  void malformedWrongShape() {
    TinyLlama spec;
    spec.edit = [](std::map<std::string, at::Tensor>& t) {
      t["model.layers.0.self_attn.k_proj.weight"] = at::zeros({32, 32});  // GQA wants (16, 32)
    };
    fs::path d = write_tiny_llama(root() / "bad-shape", spec);
    try {
      Model::load(d);
      QFAIL("a wrongly shaped k_proj loaded");
    } catch (const ModelError& e) {
      qInfo("wrong shape: %s", e.what());
      QVERIFY(QString(e.what()).contains("model.layers.0.self_attn.k_proj.weight"));
      QVERIFY(QString(e.what()).contains("[32, 32]"));
      QVERIFY(QString(e.what()).contains("[16, 32]"));
    }
  }

  void malformedNaNWeights() {
    TinyClip spec;
    spec.edit = [](std::map<std::string, at::Tensor>& t) {
      t["vision_model.encoder.layers.1.mlp.fc1.weight"][3][5] = std::nanf("");
    };
    fs::path d = write_tiny_clip(root() / "bad-nan", spec);
    try {
      Model::load(d);
      QFAIL("NaN weights loaded");
    } catch (const ModelError& e) {
      qInfo("NaN: %s", e.what());
      QVERIFY(QString(e.what()).contains("NaN"));
      QVERIFY(QString(e.what()).contains("vision_model.encoder.layers.1.mlp.fc1.weight"));
    }
  }

  void malformedTruncatedSafetensors() {
    fs::path d = write_tiny_gpt2(root() / "bad-truncated");
    const auto file = d / "model.safetensors";
    const auto size = fs::file_size(file);
    for (uintmax_t keep : {size - 1, size / 2, uintmax_t(100), uintmax_t(7), uintmax_t(0)}) {
      fs::resize_file(file, keep);
      try {
        Model::load(d);
        QFAIL("a truncated checkpoint loaded");
      } catch (const ModelError& e) {
        qInfo("truncated to %llu bytes: %s", static_cast<unsigned long long>(keep), e.what());
        QVERIFY(QString(e.what()).contains("model.safetensors"));
      }
    }
  }

  void malformedNonUtf8Prompt() {
    ExplainRequest r;
    r.model = model("gpt2");
    r.prompt = std::string("The cat \xff\xfe is red.");
    r.target = " red";
    r.explain = ExplainWhat::PromptTokens;
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
    r.prompt = "The cat is";
    r.target = std::string(" \xc3");  // truncated 2-byte sequence
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
  }

  void malformedUnreadableImage() {
    const fs::path bad = root() / "not-an-image.png";
    std::ofstream(bad) << "this is not a PNG";
    QVERIFY_THROWS_EXCEPTION(InputError, load_image(bad));
    QVERIFY_THROWS_EXCEPTION(InputError, load_image(root() / "missing.jpg"));
    // An explainer request for CLIP without an image is an InputError too.
    ExplainRequest r;
    r.model = model("clip");
    r.labels = kLabels;
    r.target = kLabels[0];
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
  }

  void malformedOverlongPrompt() {
    ExplainRequest r;
    r.model = model("gpt2");  // 32 positions
    for (int i = 0; i < 40; ++i) r.prompt += " word";
    r.target = " end";
    r.explain = ExplainWhat::PromptTokens;
    try {
      AtmanExplainer().attribute(r);
      QFAIL("an over-long prompt was explained");
    } catch (const InputError& e) {
      qInfo("over-long prompt: %s", e.what());
      QVERIFY(QString(e.what()).contains("32"));
    }
    // CLIP labels longer than the text context.
    ExplainRequest c;
    c.model = model("clip");  // 24 text positions
    c.image =
        std::make_shared<const RgbImage>(RgbImage{32, 32, std::vector<uint8_t>(32 * 32 * 3, 128)});
    std::string long_label = "a photo";
    for (int i = 0; i < 30; ++i) long_label += " of a";
    c.labels = {long_label, "a photo of a cat"};
    c.target = "a photo of a cat";
    try {
      AtmanExplainer().attribute(c);
      QFAIL("an over-long label was accepted");
    } catch (const InputError& e) {
      qInfo("over-long label: %s", e.what());
      QVERIFY(QString(e.what()).contains("24"));
    }
  }

  void malformedEmptyTarget() {
    ExplainRequest r;
    r.model = model("llama");
    r.prompt = "The cat is";
    r.target = "";
    r.explain = ExplainWhat::PromptTokens;
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
    r.target = " red";
    r.prompt = "";
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(r));
    ExplainRequest c;
    c.model = model("clip");
    c.image =
        std::make_shared<const RgbImage>(RgbImage{32, 32, std::vector<uint8_t>(32 * 32 * 3, 128)});
    c.labels = kLabels;
    c.target = "";
    QVERIFY_THROWS_EXCEPTION(InputError, AtmanExplainer().attribute(c));
  }

  void malformedKappaAndFactorOutOfRange() {
    ExplainRequest r;
    r.model = model("gpt2");
    r.prompt = "The cat is";
    r.target = " red";
    r.explain = ExplainWhat::PromptTokens;
    AtmanExplainer explainer;
    for (double f : {-0.1, 1.5, std::nan("")}) {
      r.factor = f;
      QVERIFY_THROWS_EXCEPTION(InputError, explainer.attribute(r));
    }
    r.factor = 0.9;
    r.mode = SuppressionMode::Correlated;
    for (double k : {-1.5, 2.5, std::nan("")}) {
      r.kappa = k;
      QVERIFY_THROWS_EXCEPTION(InputError, explainer.attribute(r));
      QVERIFY_THROWS_EXCEPTION(InputError, explainer.kappa_sweep(r, {0.5, k}));
    }
    r.kappa = 0.7;
    r.batch_size = -1;
    QVERIFY_THROWS_EXCEPTION(InputError, explainer.attribute(r));
    r.batch_size = 0;
    r.layers = {0, 5};  // the model has 2 layers
    QVERIFY_THROWS_EXCEPTION(InputError, explainer.attribute(r));
    r.layers = {};
    // After all that, a valid request still works.
    Explanation e = explainer.attribute(r);
    QCOMPARE(e.candidates.size(), size_t(3));
  }
};

QTEST_APPLESS_MAIN(TestModels)
#include "test_models.moc"
