// Every supported RoPE decoder family against a direct float64 computation written here from the
// transformers sources (modeling_rope_utils.py and models/<family>/modeling_*.py), never calling
// the model code: a tiny random checkpoint per family, written in that family's key layout with the
// config fields and values of a named public checkpoint, shrunk in size only. Also: v4 and v5
// config formats load bit-identical models, sliding windows (with and without the KV cache), the
// llama3 / yarn inverse-frequency tables, the explainer's packed perturbation batches against
// full forwards, AtMan end to end on each family, and the CLI.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QProcess>
#include <QTemporaryDir>

#include <cmath>
#include <limits>
#include <map>

#include "atman/error.h"
#include "atman/explainer.h"
#include "core/family_configs.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "io/safetensors.h"
#include "models/loaded_model.h"
#include "models/rope.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// 20 GPT-2 token ids (the tiny checkpoints use the GPT-2 tokenizer and vocabulary).
const std::vector<int64_t> kPrompt = {464, 3797,  318, 2266, 13,  383, 3290, 3160, 287, 6342,
                                      13,  18233, 25,  6350, 857, 262, 3290, 2107, 30,  23998};

// ---------------------------------------------------------------------------------------------
// The direct computation, float64, from the transformers sources.
namespace ref {

using at::Tensor;

Tensor rms_norm(const Tensor& x, const Tensor& w, double eps, bool gemma) {
  Tensor normed = x / (x.pow(2).mean(-1, true) + eps).sqrt();
  return normed * (gemma ? 1 + w : w);  // Gemma: (1 + w)
}

Tensor gelu_tanh(const Tensor& x) {
  return 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}

// The RoPE parameters object of a config (v4 rope_scaling or v5 rope_parameters), with the keys
// of modeling_rope_utils; `local` picks Gemma 3's sliding-layer one.
json rope_params(const json& cfg, bool local) {
  json p;
  if (cfg.contains("rope_parameters")) {
    p = cfg["rope_parameters"];
    if (p.contains("full_attention")) p = p[local ? "sliding_attention" : "full_attention"];
  } else {
    if (cfg.contains("rope_scaling") && cfg["rope_scaling"].is_object()) p = cfg["rope_scaling"];
    p["rope_theta"] = cfg.value("rope_theta", 10000.0);
    if (local)
      p = {{"rope_type", "default"}, {"rope_theta", cfg.value("rope_local_base_freq", 10000.0)}};
  }
  if (!p.contains("rope_type")) p["rope_type"] = p.value("type", std::string("default"));
  if (p["rope_type"] == "su") p["rope_type"] = "longrope";  // Phi3Config's rename
  return p;
}

struct Rope {
  std::vector<double> inv_freq;
  double attention_factor = 1.0;
};

// modeling_rope_utils' _compute_*_parameters, in double.
Rope rope(const json& cfg, const json& p, int64_t dim, int64_t seq_len) {
  const std::string type = p["rope_type"];
  double base = p["rope_theta"].get<double>();
  const double max_pos = cfg["max_position_embeddings"].get<double>();
  Rope r;
  auto plain = [&](double b) {
    std::vector<double> f;
    for (int64_t i = 0; i < dim; i += 2) f.push_back(1.0 / std::pow(b, double(i) / dim));
    return f;
  };
  if (type == "default") {
    r.inv_freq = plain(base);
  } else if (type == "linear") {
    r.inv_freq = plain(base);
    for (double& f : r.inv_freq) f /= p["factor"].get<double>();
  } else if (type == "dynamic") {
    const double factor = p["factor"], len = std::max(double(seq_len), max_pos);
    base *= std::pow(factor * len / max_pos - (factor - 1), double(dim) / (dim - 2));
    r.inv_freq = plain(base);
  } else if (type == "llama3") {
    const double factor = p["factor"], lo = p["low_freq_factor"], hi = p["high_freq_factor"];
    const double old = p["original_max_position_embeddings"];
    for (double f : plain(base)) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen < old / hi) {
        r.inv_freq.push_back(f);
      } else if (wavelen > old / lo) {
        r.inv_freq.push_back(f / factor);
      } else {
        const double smooth = (old / wavelen - lo) / (hi - lo);
        r.inv_freq.push_back((1 - smooth) * f / factor + smooth * f);
      }
    }
  } else if (type == "yarn") {
    const double factor = p["factor"];
    const double original = p.value("original_max_position_embeddings", max_pos);
    r.attention_factor = p.contains("attention_factor") ? p["attention_factor"].get<double>()
                                                        : 0.1 * std::log(factor) + 1.0;
    const double fast = p.value("beta_fast", 32.0), slow = p.value("beta_slow", 1.0);
    auto corr = [&](double rot) {
      return dim * std::log(original / (rot * 2 * M_PI)) / (2 * std::log(base));
    };
    const double low = std::max(std::floor(corr(fast)), 0.0);
    double high = std::min(std::ceil(corr(slow)), double(dim - 1));
    if (low == high) high += 0.001;
    for (int64_t i = 0; i < dim / 2; ++i) {
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double extrap_weight = 1 - ramp;
      const double pos = std::pow(base, 2.0 * i / dim);
      r.inv_freq.push_back(1 / (factor * pos) * (1 - extrap_weight) + 1 / pos * extrap_weight);
    }
  } else if (type == "longrope") {
    const double original = cfg["original_max_position_embeddings"];
    const double factor = max_pos / original;
    r.attention_factor = factor <= 1 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(original));
    const auto ext =
        p[seq_len > original ? "long_factor" : "short_factor"].get<std::vector<double>>();
    for (int64_t i = 0; i < dim / 2; ++i)
      r.inv_freq.push_back(1 / (ext[i] * std::pow(base, 2.0 * i / dim)));
  } else {
    qFatal("no reference for rope type %s", type.c_str());
  }
  return r;
}

// x (T, H, D): rotate-half RoPE on the first 2 * inv_freq.size() dims, positions 0..T-1.
Tensor apply_rope(const Tensor& x_in, const Rope& r) {
  Tensor x = x_in.contiguous(), out = x.clone();
  const int64_t T = x.size(0), H = x.size(1), half = static_cast<int64_t>(r.inv_freq.size());
  auto xa = x.accessor<double, 3>();
  auto oa = out.accessor<double, 3>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double c = std::cos(t * r.inv_freq[i]) * r.attention_factor;
        const double s = std::sin(t * r.inv_freq[i]) * r.attention_factor;
        const double a = xa[t][h][i], b = xa[t][h][i + half];
        oa[t][h][i] = a * c - b * s;
        oa[t][h][i + half] = b * c + a * s;
      }
  return out;
}

struct Supp {
  std::vector<double> m;  // factors over keys; empty = none
};

// q (T, H, D), k/v (T, Hkv, D). Scores q·k * scale, soft-capped, then suppressed (spec §1 on the
// logits softmax sees), causal and windowed (key j visible to query i iff i - window < j <= i).
Tensor attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, double scale,
                 double softcap, int64_t window, const Supp* s) {
  Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const int64_t T = q.size(0), H = q.size(1), D = q.size(2), Hkv = k.size(1);
  auto qa = q.accessor<double, 3>();
  auto ka = k.accessor<double, 3>();
  auto va = v.accessor<double, 3>();
  Tensor out = at::zeros({T, H, D}, at::kDouble);
  auto oa = out.accessor<double, 3>();
  std::vector<double> score(T), weight(T);
  for (int64_t h = 0; h < H; ++h) {
    const int64_t kh = h / (H / Hkv);
    for (int64_t i = 0; i < T; ++i) {
      for (int64_t j = 0; j < T; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d) dot += qa[i][h][d] * ka[j][kh][d];
        score[j] = dot * scale;
        if (softcap > 0) score[j] = softcap * std::tanh(score[j] / softcap);
      }
      if (s && !s->m.empty()) {
        const double row_min = *std::min_element(score.begin(), score.end());
        for (int64_t j = 0; j < T; ++j) score[j] = (score[j] - row_min) * s->m[j];
      }
      auto visible = [&](int64_t j) { return j <= i && (window <= 0 || i - j < window); };
      double mx = -std::numeric_limits<double>::infinity(), sum = 0;
      for (int64_t j = 0; j < T; ++j)
        if (visible(j)) mx = std::max(mx, score[j]);
      for (int64_t j = 0; j < T; ++j) weight[j] = visible(j) ? std::exp(score[j] - mx) : 0.0;
      for (int64_t j = 0; j < T; ++j) sum += weight[j];
      for (int64_t j = 0; j < T; ++j)
        for (int64_t d = 0; d < D; ++d) oa[i][h][d] += weight[j] / sum * va[j][kh][d];
    }
  }
  return out;
}

// Logits (T, V) of a decoder family for `ids`, read from the config as transformers reads it.
Tensor forward(const Checkpoint& ck, const json& cfg, const std::vector<int64_t>& ids,
               const Supp* s = nullptr) {
  auto w = [&](const std::string& name) { return ck.get(name).to(at::kDouble); };
  const std::string type = cfg["model_type"];
  const bool gemma = type == "gemma2" || type == "gemma3_text";  // sandwich norms, own scale
  const bool gemma1 = type == "gemma";  // Gemma's norms, scale, GeGLU and tie; Llama's layout
  const int64_t C = cfg["hidden_size"], H = cfg["num_attention_heads"],
                Hkv = cfg["num_key_value_heads"], I = cfg["intermediate_size"];
  const int64_t D = cfg.contains("head_dim") ? cfg["head_dim"].get<int64_t>() : C / H;
  const int64_t T = static_cast<int64_t>(ids.size());
  const int L = cfg["num_hidden_layers"];
  const double eps = cfg["rms_norm_eps"];
  const bool attention_bias = cfg.value("attention_bias", false);
  // Which projections carry biases, per attention class.
  const bool qkv_bias = type == "qwen2" || (attention_bias && type != "mistral" && type != "phi3");
  const bool o_bias = attention_bias && type != "qwen2" && type != "mistral" && type != "phi3";
  const bool mlp_bias = type == "llama" && cfg.value("mlp_bias", false);
  auto linear = [&](const Tensor& x, const std::string& name, bool bias) {
    Tensor y = x.matmul(w(name + ".weight").t());
    return bias ? y + w(name + ".bias") : y;
  };
  auto norm = [&](const Tensor& x, const std::string& name) {
    return rms_norm(x, w(name + ".weight"), eps, gemma || gemma1);
  };
  auto null_or = [&](const char* key, double fallback) {
    if (!cfg.contains(key)) return fallback;
    return cfg[key].is_null() ? 0.0 : cfg[key].get<double>();
  };
  // Window per layer (0 = full attention), as each configuration class sets layer_types.
  const int64_t window = cfg.contains("sliding_window") && !cfg["sliding_window"].is_null()
                             ? cfg["sliding_window"].get<int64_t>()
                             : 0;
  auto layer_window = [&](int l) -> int64_t {
    if (type == "mistral" || type == "phi3") return window;
    if (type == "qwen2" || type == "qwen3")
      return cfg.value("use_sliding_window", false) && l >= cfg.value("max_window_layers", 28)
                 ? window
                 : 0;
    if (type == "gemma2") return (l + 1) % 2 ? window : 0;
    if (type == "gemma3_text") return (l + 1) % cfg.value("sliding_window_pattern", 6) ? window : 0;
    return 0;
  };
  const double partial =
      rope_params(cfg, false)
          .value("partial_rotary_factor", cfg.value("partial_rotary_factor", 1.0));
  const int64_t rot = static_cast<int64_t>(D * partial);
  const Rope global = rope(cfg, rope_params(cfg, false), rot, T);
  const Rope local = type == "gemma3_text" ? rope(cfg, rope_params(cfg, true), rot, T) : global;
  const double scale =
      gemma ? 1 / std::sqrt(cfg["query_pre_attn_scalar"].get<double>()) : 1 / std::sqrt(double(D));
  const double attn_cap = type == "gemma2" ? null_or("attn_logit_softcapping", 50.0)
                                           : null_or("attn_logit_softcapping", 0.0);
  const double final_cap = type == "gemma2" ? null_or("final_logit_softcapping", 30.0)
                                            : null_or("final_logit_softcapping", 0.0);
  auto rope_part = [&](const Tensor& x, const Rope& r) {  // partial rotary: first `rot` dims
    if (rot == D) return apply_rope(x, r);
    return at::cat({apply_rope(x.narrow(-1, 0, rot), r), x.narrow(-1, rot, D - rot)}, -1);
  };

  Tensor x = w("model.embed_tokens.weight").index_select(0, at::tensor(ids, at::kLong));
  if (gemma || gemma1) x = x * static_cast<double>(static_cast<float>(std::sqrt(double(C))));
  for (int l = 0; l < L; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Tensor h = type == "olmo2" ? x : norm(x, p + "input_layernorm");
    Tensor q, k, v;
    if (type == "phi3") {
      Tensor qkv = linear(h, p + "self_attn.qkv_proj", false);
      q = qkv.narrow(-1, 0, H * D);
      k = qkv.narrow(-1, H * D, Hkv * D);
      v = qkv.narrow(-1, (H + Hkv) * D, Hkv * D);
    } else {
      q = linear(h, p + "self_attn.q_proj", qkv_bias);
      k = linear(h, p + "self_attn.k_proj", qkv_bias);
      v = linear(h, p + "self_attn.v_proj", qkv_bias);
    }
    if (type == "olmo2") {  // q/k norms over the full projection width
      q = norm(q, p + "self_attn.q_norm");
      k = norm(k, p + "self_attn.k_norm");
    }
    q = q.reshape({T, H, D});
    k = k.reshape({T, Hkv, D});
    v = v.reshape({T, Hkv, D});
    if (type == "qwen3" || type == "gemma3_text") {  // per-head q/k norms
      q = norm(q, p + "self_attn.q_norm");
      k = norm(k, p + "self_attn.k_norm");
    }
    const int64_t win = layer_window(l);
    const Rope& r = win > 0 ? local : global;
    q = rope_part(q, r);
    k = rope_part(k, r);
    Tensor a = linear(attention(q, k, v, scale, attn_cap, win, s).reshape({T, H * D}),
                      p + "self_attn.o_proj", o_bias);
    if (gemma || type == "olmo2") a = norm(a, p + "post_attention_layernorm");
    x = x + a;
    if (gemma)
      h = norm(x, p + "pre_feedforward_layernorm");
    else if (type == "olmo2")
      h = x;
    else
      h = norm(x, p + "post_attention_layernorm");
    Tensor gate, up;
    if (type == "phi3") {
      Tensor gu = linear(h, p + "mlp.gate_up_proj", false);
      gate = gu.narrow(-1, 0, I);
      up = gu.narrow(-1, I, I);
    } else {
      gate = linear(h, p + "mlp.gate_proj", mlp_bias);
      up = linear(h, p + "mlp.up_proj", mlp_bias);
    }
    Tensor act = gemma || gemma1 ? gelu_tanh(gate) : gate / (1 + at::exp(-gate));
    Tensor m = linear(act * up, p + "mlp.down_proj", mlp_bias);
    if (gemma || type == "olmo2") m = norm(m, p + "post_feedforward_layernorm");
    x = x + m;
  }
  x = norm(x, "model.norm");
  const bool tied = cfg.value("tie_word_embeddings", gemma || gemma1);
  Tensor logits = x.matmul((tied ? w("model.embed_tokens.weight") : w("lm_head.weight")).t());
  if (final_cap > 0) logits = final_cap * at::tanh(logits / final_cap);
  return logits;
}

}  // namespace ref

std::vector<double> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous().flatten();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

at::Tensor model_logits(const Model& model, const std::vector<int64_t>& ids) {
  c10::InferenceMode guard;
  return model.impl().language_model().forward_logits(at::tensor(ids, at::kLong).unsqueeze(0))[0];
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::map<std::string, double>& measured() {
  static std::map<std::string, double> m;
  return m;
}

}  // namespace

class TestFamilies : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  fs::path write(const std::string& name, const json& config, uint64_t seed = 1,
                 TinyDType dtype = TinyDType::F32) {
    TinyDecoder spec;
    spec.config = config;
    spec.seed = seed;
    spec.dtype = dtype;
    return write_tiny_decoder(fs::path(tmp_.path().toStdString()) / name, spec);
  }

 private slots:
  void parity_data() {
    QTest::addColumn<int>("index");
    for (size_t i = 0; i < families().size(); ++i)
      QTest::newRow(families()[i].name.c_str()) << static_cast<int>(i);
  }

  // Logits of the model equal the float64 computation from the transformers sources.
  void parity() {
    QFETCH(int, index);
    const Family& f = families()[index];
    const fs::path dir = write(f.name, f.config);
    auto model = Model::load(dir);
    QCOMPARE(QString::fromStdString(model->architecture()), QString::fromStdString(f.architecture));
    QCOMPARE(model->kind(), ModelKind::CausalLM);
    const Checkpoint ck(dir);
    const at::Tensor want = ref::forward(ck, f.config, kPrompt);
    const at::Tensor got = model_logits(*model, kPrompt);
    QVERIFY(all_close(to_vector(got), to_vector(want), 1e-4, 1e-4,
                      f.name + " (" + f.repo + ") logits"));
    measured()[f.name] = max_abs_diff(got, want);
    // The logits are not degenerate: the prompt's positions predict different distributions.
    QVERIFY(max_abs_diff(want[0], want[19]) > 1e-2);
  }

  // Suppression (spec §1) inside each family's attention equals the direct computation.
  void suppressed_parity_data() { parity_data(); }
  void suppressed_parity() {
    QFETCH(int, index);
    const Family& f = families()[index];
    const fs::path dir = write(f.name + "-supp", f.config);
    auto model = Model::load(dir);
    ref::Supp s;
    s.m.assign(kPrompt.size(), 1.0);
    s.m[3] = 0.1;
    s.m[9] = 0.0;
    Suppression supp;
    supp.factors = at::tensor(s.m, at::kDouble).to(at::kFloat).unsqueeze(0);
    at::Tensor got;
    {
      c10::InferenceMode guard;
      got = model->impl().language_model().forward_logits(
          at::tensor(kPrompt, at::kLong).unsqueeze(0), &supp)[0];
    }
    const at::Tensor want = ref::forward(Checkpoint(dir), f.config, kPrompt, &s);
    QVERIFY(all_close(to_vector(got), to_vector(want), 1e-4, 1e-4, f.name + " suppressed logits"));
    measured()[f.name + " (suppressed)"] = max_abs_diff(got, want);
  }

  // Each family computes in bfloat16 when asked: the activations stay bfloat16 through every
  // layer (Gemma's float32 (1 + w) norm weights and RoPE tables included), logits come back as
  // float32, close to the float32 computation with the same bf16-stored weights.
  void bfloat16_each_family_data() { parity_data(); }
  void bfloat16_each_family() {
    QFETCH(int, index);
    const Family& f = families()[index];
    const fs::path dir = write(f.name + "-bf16", f.config, 1, TinyDType::BF16);
    LoadOptions half_options, full_options;
    half_options.dtype = "bfloat16";
    full_options.dtype = "float32";
    auto half = Model::load(dir, half_options);
    auto full = Model::load(dir, full_options);
    {
      c10::InferenceMode guard;
      const CausalLM& lm = half->impl().language_model();
      const at::Tensor hidden = lm.forward_embeds(
          lm.embed_tokens(at::tensor(kPrompt, at::kLong).unsqueeze(0)), nullptr, nullptr);
      QCOMPARE(hidden.scalar_type(), at::kBFloat16);
      QCOMPARE(lm.lm_logits(hidden).scalar_type(), at::kFloat);
    }
    const at::Tensor got = model_logits(*half, kPrompt);
    const at::Tensor want = model_logits(*full, kPrompt);
    const double diff = max_abs_diff(got, want);
    const double relative_rms =
        ((got.to(at::kDouble) - want.to(at::kDouble)).norm() / want.to(at::kDouble).norm())
            .item<double>();
    qInfo("%s: bfloat16 vs float32 logits: max |delta| %.3g, relative RMS error %.3g",
          f.name.c_str(), diff, relative_rms);
    // bfloat16 keeps 8 significant bits (relative step 2^-8 = 0.4 %); the roundings of a few
    // layers leave the logits within a few percent in RMS, while a float32 path that is wrong under
    // bfloat16 (a norm multiplied after the cast, a table in the wrong dtype) is off by tens of
    // percent.
    QVERIFY2(relative_rms <= 0.05, (f.name + ": bfloat16 logits far from float32").c_str());
    measured()[f.name + " (bfloat16 vs float32, relative RMS)"] = relative_rms;
  }

  // The explainer's packed batch (forward_suffixes: each perturbation recomputed from its own
  // start, the last layer at the output positions only) equals one full forward per
  // perturbation in every family: GQA, sliding windows, soft caps, local RoPE, fused projections,
  // q/k norms, post and sandwich norms, scaled embeddings.
  void suffix_batch_each_family_data() { parity_data(); }
  void suffix_batch_each_family() {
    QFETCH(int, index);
    const Family& f = families()[index];
    auto model = Model::load(write(f.name + "-suffix", f.config));
    const CausalLM& lm = model->impl().language_model();
    QVERIFY(lm.packs_suffixes());
    c10::InferenceMode guard;
    const at::Tensor embeds = lm.embed_tokens(at::tensor(kPrompt, at::kLong).unsqueeze(0));
    const int64_t T = embeds.size(1), outputs = 3;
    KVCache base;
    const at::Tensor unperturbed = lm.forward_embeds(embeds, nullptr, &base);
    // Starts in any order and repeated, at 0, past a window of 8 and at the last allowed one.
    const std::vector<int64_t> starts = {6, 0, T - outputs, 11, 2, 6};
    double worst = 0, moved = 0, scale = 1;
    for (bool log_additive : {false, true}) {
      std::vector<double> flat;
      std::vector<at::Tensor> fulls;
      for (size_t b = 0; b < starts.size(); ++b) {
        std::vector<double> m(T, 1.0);
        m[starts[b]] = 0.1 + 0.1 * b;
        if (b == 0) m[T - 1] = 0.5;  // also a later key, seen by the last output only
        flat.insert(flat.end(), m.begin(), m.end());
        Suppression one;
        one.factors = at::tensor(m, at::kDouble).to(at::kFloat).unsqueeze(0);
        if (log_additive) one.variant = SuppressionVariant::LogAdditive;
        fulls.push_back(lm.forward_embeds(embeds, &one, nullptr)[0].slice(0, T - outputs));
      }
      Suppression s;
      s.factors = at::tensor(flat, at::kDouble).to(at::kFloat).view({int64_t(starts.size()), T});
      if (log_additive) s.variant = SuppressionVariant::LogAdditive;
      const at::Tensor packed = lm.forward_suffixes(embeds, starts, s, base, outputs);
      QCOMPARE(packed.sizes().vec(),
               (std::vector<int64_t>{int64_t(starts.size()), outputs, lm.hidden_size()}));
      for (size_t b = 0; b < starts.size(); ++b) {
        worst = std::max(worst, max_abs_diff(packed[b], fulls[b]));
        scale = std::max(scale, fulls[b].abs().max().item<double>());
        moved = std::max(moved, max_abs_diff(fulls[b], unperturbed[0].slice(0, T - outputs)));
      }
    }
    qInfo(
        "%s: packed suffix batch vs full forwards: max |diff| %.3g (max |hidden| %.3g; "
        "suppression moves %.3g)",
        f.name.c_str(), worst, scale, moved);
    QVERIFY(moved > 1e-3);  // the comparison is not between unperturbed passes
    // Float32 rounding of batched against single forwards: Gemma 2's caps make it 1.8e-5 here,
    // for the batch-wise default path (CausalLM::forward_suffixes) as for this one.
    QVERIFY(worst <= 1e-5 * scale);
  }

  // The same weights with a v4 config (rope_theta / rope_scaling) and a v5 one (rope_parameters)
  // give bit-identical logits, for plain, llama3, yarn, longrope and Gemma 3's per-layer-type RoPE.
  void v4_and_v5_configs_data() {
    QTest::addColumn<int>("index");
    for (const char* name : {"llama3.2", "qwen2.5", "gemma3", "gemma3-linear", "qwen3-yarn",
                             "llama-dynamic", "phi4-mini"})
      for (size_t i = 0; i < families().size(); ++i)
        if (families()[i].name == name) QTest::newRow(name) << static_cast<int>(i);
  }
  void v4_and_v5_configs() {
    QFETCH(int, index);
    const Family& f = families()[index];
    const json v5 = to_v5(f.config);
    QVERIFY(!v5.contains("rope_theta") && v5.contains("rope_parameters"));
    auto old_model = Model::load(write(f.name + "-v4", f.config, 7));
    auto new_model = Model::load(write(f.name + "-v5", v5, 7));
    const at::Tensor a = model_logits(*old_model, kPrompt), b = model_logits(*new_model, kPrompt);
    QVERIFY(at::equal(a, b));
    // And the v5 file is read as transformers reads it, not merely the same way as v4.
    const at::Tensor want = ref::forward(
        Checkpoint(fs::path(tmp_.path().toStdString()) / (f.name + "-v5")), v5, kPrompt);
    QVERIFY(all_close(to_vector(b), to_vector(want), 1e-4, 1e-4, f.name + " v5 config logits"));
  }

  // Old rope_scaling with "type", and LLaVA's text_config: both formats reach the language model.
  void rope_formats_in_llava_text_config() {
    for (bool v5 : {false, true}) {
      json text = v5 ? to_v5(llama32()) : llama32();
      json top = {{"model_type", "llava"},
                  {"text_config", text},
                  {"vision_config", {{"model_type", "clip_vision_model"}}}};
      const auto config = std::get<LlavaConfig>(parse_model_config(top.dump(), "test"));
      QCOMPARE(config.text.rope_scaling.type, std::string("llama3"));
      QCOMPARE(config.text.rope_theta, 500000.0);
      QCOMPARE(config.text.rope_scaling.factor, 32.0);
      QCOMPARE(config.text.rope_scaling.original_max_position_embeddings, 8192);
    }
  }

  // A window of 8 on the 20-token prompt changes the logits and equals the windowed computation;
  // the KV cache (prefix, then the rest) gives the same logits as one pass.
  void sliding_window() {
    json windowed = mistral7b(), full = mistral7b();
    full["sliding_window"] = nullptr;
    auto wm = Model::load(write("sw-8", windowed, 3));
    auto fm = Model::load(write("sw-none", full, 3));
    const at::Tensor w_logits = model_logits(*wm, kPrompt), f_logits = model_logits(*fm, kPrompt);
    // Positions < 8 see the same keys; later ones do not.
    QVERIFY(max_abs_diff(w_logits.narrow(0, 0, 8), f_logits.narrow(0, 0, 8)) < 1e-5);
    const double changed = max_abs_diff(w_logits.narrow(0, 8, 12), f_logits.narrow(0, 8, 12));
    qInfo("window 8 vs none: max |diff| of logits at positions >= 8 = %.3g", changed);
    QVERIFY(changed > 1e-2);
    const at::Tensor want =
        ref::forward(Checkpoint(fs::path(tmp_.path().toStdString()) / "sw-8"), windowed, kPrompt);
    QVERIFY(all_close(to_vector(w_logits), to_vector(want), 1e-4, 1e-4, "window 8 logits"));
    measured()["sliding window 8"] = max_abs_diff(w_logits, want);

    for (const char* name : {"mistral-7b", "gemma2", "gemma3", "qwen2.5-sliding", "phi3"}) {
      const auto it = std::find_if(families().begin(), families().end(),
                                   [&](const Family& f) { return f.name == name; });
      auto model = Model::load(write(std::string(name) + "-cache", it->config));
      const CausalLM& lm = model->impl().language_model();
      c10::InferenceMode guard;
      const at::Tensor ids = at::tensor(kPrompt, at::kLong).unsqueeze(0);
      const at::Tensor whole = lm.forward_logits(ids);
      KVCache cache;
      lm.forward_embeds(lm.embed_tokens(ids.narrow(1, 0, 11)), nullptr, &cache);
      const at::Tensor rest =
          lm.lm_logits(lm.forward_embeds(lm.embed_tokens(ids.narrow(1, 11, 9)), nullptr, &cache));
      const double d = max_abs_diff(rest, whole.narrow(1, 11, 9));
      qInfo("%s: KV cache vs one pass, max |diff| = %.3g", name, d);
      QVERIFY(d < 1e-4);
    }
  }

  // llama3 and yarn inverse frequencies match tables computed here from the formulas in double.
  void rope_tables() {
    struct Case {
      const char* what;
      json params;
      int64_t dim, max_positions;
    };
    const std::vector<Case> cases = {
        {"llama3 (Llama 3.2)",
         {{"rope_type", "llama3"},
          {"rope_theta", 500000.0},
          {"factor", 32.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 8192}},
         64,
         131072},
        {"llama3 (Llama 3.1)",
         {{"rope_type", "llama3"},
          {"rope_theta", 500000.0},
          {"factor", 8.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 8192}},
         128,
         131072},
        {"yarn (Qwen3)",
         {{"rope_type", "yarn"},
          {"rope_theta", 1000000.0},
          {"factor", 4.0},
          {"original_max_position_embeddings", 32768}},
         128,
         131072},
        {"yarn (defaults)",
         {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 8.0}},
         64,
         4096},
        {"yarn (beta 16/2, attention_factor)",
         {{"rope_type", "yarn"},
          {"rope_theta", 10000.0},
          {"factor", 16.0},
          {"beta_fast", 16.0},
          {"beta_slow", 2.0},
          {"attention_factor", 0.8}},
         96,
         2048},
    };
    for (const auto& c : cases) {
      json cfg = {{"model_type", "llama"},
                  {"vocab_size", 8},
                  {"hidden_size", c.dim},
                  {"intermediate_size", 8},
                  {"num_hidden_layers", 1},
                  {"num_attention_heads", 1},
                  {"max_position_embeddings", c.max_positions},
                  {"rope_parameters", c.params}};
      const auto config = std::get<LlamaConfig>(parse_model_config(cfg.dump(), "test"));
      const RopeFrequencies got = global_rope(config).frequencies(1);
      const ref::Rope want = ref::rope(cfg, ref::rope_params(cfg, false), c.dim, 1);
      QVERIFY(all_close(to_vector(got.inv_freq), want.inv_freq, 0, 1e-6,
                        std::string(c.what) + " inv_freq"));
      QVERIFY(std::abs(got.attention_factor - want.attention_factor) < 1e-12);
      // Scaling took effect: the lowest frequency moved away from plain RoPE's.
      const double plain =
          1 / std::pow(c.params["rope_theta"].get<double>(), (c.dim - 2.0) / c.dim);
      QVERIFY(want.inv_freq.back() < plain * 0.99);
    }
  }

  // AtMan explains every family end to end: finite relevance, and f = 0 (nothing suppressed)
  // gives exactly zero.
  void atman_explains_each_family_data() { parity_data(); }
  void atman_explains_each_family() {
    QFETCH(int, index);
    const Family& f = families()[index];
    ExplainRequest r;
    r.model = Model::load(write(f.name + "-atman", f.config));
    r.prompt = "The cat is red. The dog lives in Paris. Where does the dog live?";
    r.target = " Paris";
    r.explain = ExplainWhat::PromptTokens;
    AtmanExplainer explainer;
    const Explanation e = explainer.attribute(r);
    QVERIFY(e.candidates.size() > 5);
    double largest = 0;
    for (const auto& c : e.candidates) {
      QVERIFY(std::isfinite(c.value));
      largest = std::max(largest, std::abs(c.value));
    }
    QVERIFY(largest > 0);
    r.factor = 0.0;
    for (const auto& c : explainer.attribute(r).candidates) QCOMPARE(c.value, 0.0);
  }

  // The CLI explains a Gemma 2 and a Qwen3 folder.
  void cli_explain() {
    for (const char* name : {"gemma2", "qwen3"}) {
      const auto it = std::find_if(families().begin(), families().end(),
                                   [&](const Family& f) { return f.name == name; });
      const fs::path dir = write(std::string(name) + "-cli", it->config);
      const QString json_out = tmp_.filePath(QString(name) + ".json");
      QProcess cli;
      cli.start(ATMAN_CLI, {"explain", "--model", QString::fromStdString(dir.string()), "--prompt",
                            "The dog lives in Paris. Where does the dog live?", "--target",
                            " Paris", "--json", json_out});
      QVERIFY(cli.waitForFinished(120000));
      const QString output = cli.readAllStandardOutput() + cli.readAllStandardError();
      QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(output));
      const json e = read_json(json_out.toStdString());
      QVERIFY2(e.dump().find(it->architecture) != std::string::npos, qPrintable(output));
      QVERIFY(e.contains("candidates") && e["candidates"].size() > 5);
    }
  }

  // Configs the decoder cannot follow are refused with the field at fault.
  void config_errors_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QStringList>("expected");
    json c = phi3_128k();
    c["rope_scaling"]["long_factor"] = {1.0, 2.0};
    QTest::newRow("longrope factor count")
        << QString::fromStdString(c.dump()) << QStringList{"'rope_scaling'", "need 6 values"};
    c = phi4_mini();
    c["partial_rotary_factor"] = 0.7;  // 16 * 0.7 = 11 rotary dims
    QTest::newRow("odd rotary dims")
        << QString::fromStdString(c.dump()) << QStringList{"'partial_rotary_factor'", "11 rotary"};
    c = gemma2();
    c["layer_types"] = {"sliding_attention"};
    QTest::newRow("layer_types length") << QString::fromStdString(c.dump())
                                        << QStringList{"'layer_types'", "one type per layer (4)"};
    c = gemma2();
    c["layer_types"] = {"full_attention", "chunked_attention", "full_attention", "full_attention"};
    QTest::newRow("layer type") << QString::fromStdString(c.dump())
                                << QStringList{"'layer_types'", "chunked_attention"};
    c = to_v5(gemma3());
    c["rope_parameters"]["sliding_attention"]["rope_type"] = "linear";
    c["rope_parameters"]["sliding_attention"]["factor"] = 2.0;
    QTest::newRow("scaled local rope")
        << QString::fromStdString(c.dump())
        << QStringList{"'rope_parameters.sliding_attention.rope_type'", "plain RoPE only"};
    c = llama32();
    c["rope_scaling"].erase("original_max_position_embeddings");
    QTest::newRow("llama3 without original length")
        << QString::fromStdString(c.dump())
        << QStringList{"missing required field 'rope_scaling.original_max_position_embeddings'"};
  }
  void config_errors() {
    QFETCH(QString, text);
    QFETCH(QStringList, expected);
    const QString msg =
        error_of<ModelError>([&] { parse_model_config(text.toStdString(), "'config.json'"); });
    for (const auto& part : expected) QVERIFY2(msg.contains(part), qPrintable(msg));
  }

  void unsupported_family_lists_supported() {
    const QString msg = error_of<ModelError>([] {
      parse_model_config(
          R"({"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"]})",
          "test");
    });
    for (const char* s : {"unsupported architecture 'gemma3'", "gemma2", "gemma3_text", "qwen3",
                          "phi3", "olmo2", "Gemma3ForCausalLM"})
      QVERIFY2(msg.contains(s), qPrintable(msg));
  }

  void cleanupTestCase() {
    qInfo("max |logits - float64 reference| per family:");
    for (const auto& [name, d] : measured()) qInfo("  %-32s %.3g", name.c_str(), d);
  }
};

QTEST_GUILESS_MAIN(TestFamilies)
#include "test_families.moc"
