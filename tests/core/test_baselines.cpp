// The baseline explainers (atman/baselines.h) against direct computations written here: the
// recorded attention against weights recomputed from the checkpoint, raw attention and rollout
// against explicit matrix products, Input×Gradient and GradCAM against plain autograd, Integrated
// Gradients against an unbatched Riemann sum (and completeness), Chefer against the full relevance
// matrix recursion. Tiny random GPT-2 / GQA Llama / CLIP (patches and label tokens), then the
// registry, grouping, and every method on the bundled shapes-clip, facts-gpt2 and shapes-llava.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QTemporaryDir>

#include <functional>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/names.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "io/safetensors.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;
using at::Tensor;

namespace {

// The explained function written with the models' public pieces: input embeddings x (B, E, C) ->
// last block output (B, S, C) -> target log-probabilities F (B, nt).
struct Reference {
  Tensor embeds;  // (1, E, C)
  int64_t offset = 0, positions = 0;
  std::vector<int64_t> rows;  // prediction position per target token
  std::function<Tensor(const Tensor&, const Suppression*)> hidden;
  std::function<Tensor(const Tensor&)> log_probs;

  Tensor F(const Tensor& x, const Suppression* s = nullptr) const {
    return log_probs(hidden(x, s));
  }
  int64_t targets() const { return static_cast<int64_t>(rows.size()); }
  // (E) scores of embedding rows -> (S) scores of positions.
  Tensor place(const Tensor& row_scores) const {
    Tensor out = at::zeros({positions}, at::kDouble);
    out.narrow(0, offset, row_scores.size(0)).copy_(row_scores.detach().to(at::kDouble));
    return out;
  }
};

Reference lm_reference(const Model& m, const std::string& prompt, const std::string& target) {
  at::NoGradGuard no_grad;
  const CausalLM* lm = &m.impl().language_model();
  auto ids = m.tokenizer().encode(prompt).ids;
  const auto tgt = m.tokenizer().encode(target).ids;
  const int64_t n = static_cast<int64_t>(ids.size());
  ids.insert(ids.end(), tgt.begin(), tgt.end() - 1);
  Reference r;
  r.embeds = lm->embed_tokens(ids_to_tensor(ids, at::kCPU));
  r.positions = static_cast<int64_t>(ids.size());
  for (size_t t = 0; t < tgt.size(); ++t) r.rows.push_back(n - 1 + static_cast<int64_t>(t));
  r.hidden = [lm](const Tensor& x, const Suppression* s) {
    return lm->forward_embeds(x, s, nullptr);
  };
  const auto rows = r.rows;
  r.log_probs = [lm, rows, tgt](const Tensor& h) {
    Tensor logp = at::log_softmax(lm->lm_logits(h), -1);  // the full head, unlike the explainer
    std::vector<Tensor> cols;
    for (size_t t = 0; t < rows.size(); ++t)
      cols.push_back(logp.select(1, rows[t]).select(1, tgt[t]));
    return at::stack(cols, 1);
  };
  return r;
}

Tensor label_embeds(const Model& m, const std::vector<std::string>& labels) {
  std::vector<Tensor> texts;
  for (const auto& l : labels)
    texts.push_back(
        m.impl().clip->text_embeds(ids_to_tensor(m.tokenizer().encode(l).ids, at::kCPU)));
  return at::cat(texts, 0);
}

Reference clip_patch_reference(const Model& m, const RgbImage& image,
                               const std::vector<std::string>& labels, int64_t target) {
  at::NoGradGuard no_grad;
  const ClipModel* clip = m.impl().clip.get();
  Reference r;
  r.embeds = clip->vision().patch_embeddings(
      pixels_to_tensor(preprocess_clip(image, m.preprocess_config()), at::kCPU));
  r.offset = 1;
  r.positions = r.embeds.size(1) + 1;
  r.rows = {0};
  const Tensor text = label_embeds(m, labels);
  r.hidden = [clip](const Tensor& x, const Suppression* s) { return clip->vision().encode(x, s); };
  r.log_probs = [clip, text, target](const Tensor& h) {
    return at::log_softmax(clip->logits(clip->image_embeds_from_hidden(h), text), -1)
        .select(1, target)
        .unsqueeze(1);
  };
  return r;
}

Reference clip_text_reference(const Model& m, const RgbImage& image,
                              const std::vector<std::string>& labels, int64_t target) {
  at::NoGradGuard no_grad;
  const ClipModel* clip = m.impl().clip.get();
  const auto ids = m.tokenizer().encode(labels[target]).ids;
  const Tensor id_tensor = ids_to_tensor(ids, at::kCPU);
  const Tensor img =
      clip->image_embeds(pixels_to_tensor(preprocess_clip(image, m.preprocess_config()), at::kCPU));
  const Tensor fixed = clip->logits(img, label_embeds(m, labels));  // (1, K)
  Reference r;
  r.embeds = clip->token_embeddings(id_tensor);
  r.positions = static_cast<int64_t>(ids.size());
  r.rows = {r.positions - 1};  // CLIP's end token closes the label
  r.hidden = [clip](const Tensor& x, const Suppression* s) { return clip->text_hidden(x, s); };
  r.log_probs = [clip, id_tensor, img, fixed, target](const Tensor& h) {
    const int64_t B = h.size(0), K = fixed.size(1);
    Tensor own = clip->logits(img, clip->text_embeds_from_hidden(h, id_tensor.expand({B, -1}))).t();
    std::vector<Tensor> cols;
    for (int64_t k = 0; k < K; ++k)
      cols.push_back(k == target ? own : fixed.narrow(1, k, 1).expand({B, 1}));
    return at::log_softmax(at::cat(cols, 1), -1).narrow(1, target, 1);
  };
  return r;
}

std::vector<Tensor> recorded_weights(const Reference& r) {
  at::NoGradGuard no_grad;
  std::vector<Tensor> weights;
  Suppression s;
  s.record_weights = &weights;
  r.F(r.embeds, &s);
  return weights;
}

// ---- the methods, written out directly: each returns (nt, S) float64 ----

Tensor ref_attention(const Reference& r) {
  Tensor a = recorded_weights(r).back()[0].mean(0).to(at::kDouble);
  return a.index_select(0, at::tensor(r.rows, at::kLong));
}

Tensor ref_rollout(const Reference& r) {
  const Tensor eye = at::eye(r.positions, at::kDouble);
  Tensor R = eye;
  for (const Tensor& w : recorded_weights(r))
    R = (0.5 * w[0].mean(0).to(at::kDouble) + 0.5 * eye).matmul(R);
  return R.index_select(0, at::tensor(r.rows, at::kLong));
}

Tensor ref_ixg(const Reference& r) {
  std::vector<Tensor> out;
  for (int64_t t = 0; t < r.targets(); ++t) {
    Tensor x = r.embeds.clone().requires_grad_(true);
    r.F(x)[0][t].backward();
    out.push_back(r.place((x.detach() * x.grad()).sum(-1)[0]));
  }
  return at::stack(out);
}

Tensor ref_ig(const Reference& r, int steps) {
  std::vector<Tensor> out;
  for (int64_t t = 0; t < r.targets(); ++t) {
    Tensor total = at::zeros_like(r.embeds, at::kDouble);
    for (int k = 0; k < steps; ++k) {  // one unbatched forward and backward per step
      Tensor x = ((k + 0.5) / steps * r.embeds).detach().requires_grad_(true);
      r.F(x)[0][t].backward();
      total += x.grad().to(at::kDouble);
    }
    out.push_back(r.place((r.embeds.to(at::kDouble) * total / steps).sum(-1)[0]));
  }
  return at::stack(out);
}

Tensor ref_gradcam(const Reference& r) {
  std::vector<Tensor> out;
  for (int64_t t = 0; t < r.targets(); ++t) {
    Tensor h = r.hidden(r.embeds, nullptr).detach().requires_grad_(true);
    r.log_probs(h)[0][t].backward();
    Tensor w = h.grad()[0].mean(0);
    out.push_back(at::relu(h.detach()[0].matmul(w)).to(at::kDouble));
  }
  return at::stack(out);
}

Tensor ref_chefer(const Reference& r) {
  std::vector<Tensor> out;
  for (int64_t t = 0; t < r.targets(); ++t) {
    Tensor x = r.embeds.clone().requires_grad_(true);
    std::vector<Tensor> weights;
    Suppression s;
    s.record_weights = &weights;
    Tensor F = r.F(x, &s);
    for (Tensor& w : weights) w.retain_grad();
    F[0][t].backward();
    Tensor R = at::eye(r.positions, at::kDouble);  // the full S x S recursion
    for (const Tensor& w : weights) {
      Tensor bar = (w.grad() * w.detach())[0].clamp_min(0).mean(0).to(at::kDouble);
      R = R + bar.matmul(R);
    }
    out.push_back(R[r.rows[t]]);
  }
  return at::stack(out);
}

// Expected per-candidate per_target values from per-position scores (nt, S).
std::vector<double> expected(const Explanation& e, const Tensor& scores) {
  std::vector<double> v;
  for (const auto& c : e.candidates)
    for (int64_t t = 0; t < scores.size(0); ++t) {
      double sum = 0;
      for (int p : c.positions) sum += scores[t][p].item<double>();
      v.push_back(sum);
    }
  return v;
}

std::vector<double> got(const Explanation& e) {
  std::vector<double> v;
  for (const auto& c : e.candidates) v.insert(v.end(), c.per_target.begin(), c.per_target.end());
  return v;
}

std::vector<double> doubles_of(const Tensor& t) {
  Tensor c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

bool finite(const Explanation& e) {
  for (const auto& c : e.candidates) {
    if (!std::isfinite(c.value)) return false;
    for (double v : c.per_target)
      if (!std::isfinite(v)) return false;
  }
  return std::isfinite(e.baseline_loss);
}

RgbImage random_image(int width, int height, int seed) {
  RgbImage image{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
  uint32_t state = 2463534242u + seed;
  for (auto& p : image.pixels) {
    state ^= state << 13, state ^= state >> 17, state ^= state << 5;
    p = static_cast<uint8_t>(state);
  }
  return image;
}

// Every method against its reference for one request; IG with `ig_steps`.
void check_all(const ExplainRequest& request, const Reference& ref, const std::string& what,
               const std::vector<std::string>& methods, int ig_steps, double abs_tol) {
  for (const auto& name : methods) {
    Explanation e = make_baseline(name, {ig_steps})->attribute(request);
    Tensor scores = name == "attention" ? ref_attention(ref)
                    : name == "rollout" ? ref_rollout(ref)
                    : name == "ixg"     ? ref_ixg(ref)
                    : name == "ig"      ? ref_ig(ref, ig_steps)
                    : name == "gradcam" ? ref_gradcam(ref)
                                        : ref_chefer(ref);
    QCOMPARE(std::string(to_string(e.method)), name);
    QCOMPARE(e.baseline_per_target.size(), size_t(ref.targets()));
    // The reference's own F at the input: L_t = -F_t.
    Tensor F;
    {
      at::NoGradGuard no_grad;
      F = ref.F(ref.embeds);
    }
    for (int64_t t = 0; t < ref.targets(); ++t)
      QVERIFY(std::abs(e.baseline_per_target[t] + F[0][t].item<double>()) < 1e-5);
    QVERIFY2(all_close(got(e), expected(e, scores), abs_tol, 1e-4, what + " " + name),
             (what + " " + name).c_str());
  }
}

const std::vector<std::string> kAll = {"attention", "rollout", "ixg", "ig", "gradcam", "chefer"};

}  // namespace

class TestBaselines : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;
  TinyGpt2 gpt2_spec_;
  std::shared_ptr<const Model> gpt2_, llama_, clip_;
  RgbImage image_ = random_image(48, 40, 7);
  std::vector<std::string> labels_ = {"a red circle", "a blue square", "a green star"};

  ExplainRequest tiny_lm_request(const std::shared_ptr<const Model>& m, const std::string& target) {
    ExplainRequest r;
    r.model = m;
    r.prompt = "The cat is red. The dog";
    r.target = target;
    r.explain = ExplainWhat::PromptTokens;
    return r;
  }

  ExplainRequest tiny_clip_request(ExplainWhat what) {
    ExplainRequest r;
    r.model = clip_;
    r.image = std::make_shared<const RgbImage>(image_);
    r.labels = labels_;
    r.target = labels_[1];
    r.explain = what;
    return r;
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    const fs::path dir(tmp_.path().toStdString());
    gpt2_ = Model::load(write_tiny_gpt2(dir / "gpt2", gpt2_spec_));
    TinyLlama llama;  // GQA: 4 query heads, 2 KV heads
    llama_ = Model::load(write_tiny_llama(dir / "llama", llama));
    TinyClip clip;
    clip_ = Model::load(write_tiny_clip(dir / "clip", clip));
  }

  // The recorder holds softmax(q kᵀ/√d + causal mask) exactly: layer 0 recomputed from the
  // checkpoint tensors in float64.
  void recorderHoldsLayerZeroAttention() {
    auto tensors = tiny_gpt2_tensors(gpt2_spec_);
    auto w = [&](const std::string& n) { return tensors.at("transformer." + n).to(at::kDouble); };
    Reference ref = lm_reference(*gpt2_, "The cat is red. The dog", " lives in");
    Tensor rec = recorded_weights(ref).front()[0].to(at::kDouble);  // (H, T, T)
    const int64_t T = ref.positions, C = gpt2_spec_.hidden, H = gpt2_spec_.heads, D = C / H;
    Tensor x = ref.embeds[0].to(at::kDouble) + w("wpe.weight").slice(0, 0, T);
    Tensor h = at::layer_norm(x, {C}, w("h.0.ln_1.weight"), w("h.0.ln_1.bias"), 1e-5);
    Tensor qkv = h.matmul(w("h.0.attn.c_attn.weight")) + w("h.0.attn.c_attn.bias");
    Tensor q = qkv.slice(1, 0, C).reshape({T, H, D}).transpose(0, 1);
    Tensor k = qkv.slice(1, C, 2 * C).reshape({T, H, D}).transpose(0, 1);
    Tensor scores = q.matmul(k.transpose(1, 2)) / std::sqrt(double(D));
    scores.masked_fill_(at::ones({T, T}, at::kBool).triu(1),
                        -std::numeric_limits<double>::infinity());
    Tensor want = at::softmax(scores, -1);
    QCOMPARE(recorded_weights(ref).size(), size_t(gpt2_spec_.layers));
    QVERIFY(all_close(doubles_of(rec), doubles_of(want), 1e-5, 0, "recorded layer-0 attention"));
  }

  void gpt2MatchesReference() {
    // Two target tokens: per_target[t] explains token t.
    ExplainRequest r = tiny_lm_request(gpt2_, " lives in");
    r.batch_size = 2;  // IG: 5 steps in chunks of 2, 2, 1
    Reference ref = lm_reference(*gpt2_, r.prompt, r.target);
    QCOMPARE(ref.targets(), int64_t(2));
    check_all(r, ref, "tiny gpt2", kAll, 5, 1e-5);
  }

  void gqaLlamaMatchesReference() {
    ExplainRequest r = tiny_lm_request(llama_, " lives");
    Reference ref = lm_reference(*llama_, r.prompt, r.target);
    check_all(r, ref, "tiny llama (GQA)", kAll, 4, 1e-5);
  }

  void clipPatchesMatchReference() {
    ExplainRequest r = tiny_clip_request(ExplainWhat::ImagePatches);
    Reference ref = clip_patch_reference(*clip_, image_, labels_, 1);
    check_all(r, ref, "tiny clip patches", kAll, 6, 1e-5);
  }

  void clipTextMatchesReference() {
    ExplainRequest r = tiny_clip_request(ExplainWhat::PromptTokens);
    Reference ref = clip_text_reference(*clip_, image_, labels_, 1);
    check_all(r, ref, "tiny clip label tokens", kAll, 6, 1e-5);
  }

  // Input×Gradient is the derivative of F along scaling a candidate's embedding rows (Euler):
  // d/dλ F(x with rows of i scaled by 1 + λ) at 0 — checked by central differences, which also
  // checks the sign convention (positive = raising that input raises p(target)).
  void inputXGradientIsDirectionalDerivative() {
    ExplainRequest lm = tiny_lm_request(gpt2_, " lives");
    ExplainRequest patches = tiny_clip_request(ExplainWhat::ImagePatches);
    const std::vector<std::pair<ExplainRequest, Reference>> cases = {
        {lm, lm_reference(*gpt2_, lm.prompt, lm.target)},
        {patches, clip_patch_reference(*clip_, image_, labels_, 1)}};
    for (const auto& [request, ref] : cases) {
      Explanation e = make_baseline("ixg")->attribute(request);
      at::NoGradGuard no_grad;
      const double h = 1e-2;
      std::vector<double> fd;
      for (const auto& c : e.candidates) {
        Tensor up = ref.embeds.clone(), down = ref.embeds.clone();
        for (int p : c.positions) {
          up[0][p - ref.offset].mul_(1 + h);
          down[0][p - ref.offset].mul_(1 - h);
        }
        fd.push_back((ref.F(up).sum().item<double>() - ref.F(down).sum().item<double>()) / (2 * h));
      }
      std::vector<double> values;
      for (const auto& c : e.candidates) values.push_back(c.value);
      double largest = 0;
      for (double v : fd) largest = std::max(largest, std::abs(v));
      qInfo("largest |dF/dλ| %.3g", largest);
      QVERIFY(largest > 0.05);  // the tolerance below is small against it
      QVERIFY(all_close(values, fd, 2e-3, 2e-2, "ixg vs central differences"));
    }
  }

  // Σ IG = F(x) − F(0) = L(zero embeddings) − L(input) for enough steps (every attributed
  // embedding is a candidate here: one target token, all patches).
  void integratedGradientsCompleteness() {
    struct Case {
      ExplainRequest request;
      Reference ref;
      std::string what;
    };
    std::vector<Case> cases;
    ExplainRequest lm = tiny_lm_request(gpt2_, " lives");
    cases.push_back({lm, lm_reference(*gpt2_, lm.prompt, lm.target), "gpt2"});
    ExplainRequest patches = tiny_clip_request(ExplainWhat::ImagePatches);
    cases.push_back({patches, clip_patch_reference(*clip_, image_, labels_, 1), "clip patches"});
    for (const auto& c : cases) {
      Explanation e = make_baseline("ig", {128})->attribute(c.request);
      double sum = 0;
      for (const auto& cand : e.candidates) sum += cand.value;
      at::NoGradGuard no_grad;
      const double delta = c.ref.F(c.ref.embeds).sum().item<double>() -
                           c.ref.F(at::zeros_like(c.ref.embeds)).sum().item<double>();
      qInfo("IG completeness %s: sum %.6f vs L(0) - L(x) = %.6f (|diff| %.2g)", c.what.c_str(), sum,
            delta, std::abs(sum - delta));
      QVERIFY(std::abs(delta) > 1e-4);  // not trivially zero
      QVERIFY(std::abs(sum - delta) < 2e-3 * std::max(1.0, std::abs(delta)));
    }
  }

  void registryListsEveryMethod() {
    const auto names = explainer_names();
    QCOMPARE(names.front(), std::string("atman"));
    for (const auto& n : kAll) {
      QVERIFY(std::find(names.begin(), names.end(), n) != names.end());
      QCOMPARE(make_explainer(n)->name(), n);
    }
    QCOMPARE(make_explainer("atman")->name(), std::string("atman"));
    try {
      make_explainer("lime");
      QFAIL("unknown method accepted");
    } catch (const InputError& e) {
      const std::string message = e.what();
      QVERIFY(message.find("lime") != std::string::npos);
      for (const auto& n : names) QVERIFY2(message.find(n) != std::string::npos, n.c_str());
    }
    QVERIFY_THROWS_EXCEPTION(InputError, make_baseline("ig", {0}));
    QVERIFY_THROWS_EXCEPTION(InputError, make_baseline("atman"));
    // Request errors are the task's: a CLIP request without labels.
    ExplainRequest bad = tiny_clip_request(ExplainWhat::ImagePatches);
    bad.labels.clear();
    QVERIFY_THROWS_EXCEPTION(InputError, make_explainer("ixg")->attribute(bad));
  }

  // Word and tile candidates sum their members' scores.
  void groupsSumTheirMembers() {
    ExplainRequest tokens = tiny_lm_request(gpt2_, " lives");
    ExplainRequest words = tokens;
    words.prompt = "The catapult is reddish. The dog";  // multi-token words
    tokens.prompt = words.prompt;
    words.granularity = Granularity::Word;
    ExplainRequest patches = tiny_clip_request(ExplainWhat::ImagePatches);
    ExplainRequest tiles = patches;
    tiles.tile = 3;  // 4x4 grid: tiles of 3x3, 3x1, 1x3, 1x1
    for (const auto& name : {"ixg", "chefer"}) {
      for (auto [fine, coarse] : {std::pair{tokens, words}, std::pair{patches, tiles}}) {
        Explanation a = make_baseline(name)->attribute(fine);
        Explanation b = make_baseline(name)->attribute(coarse);
        QVERIFY(b.candidates.size() < a.candidates.size());
        std::map<int, double> by_position;
        for (const auto& c : a.candidates) by_position[c.positions.front()] = c.value;
        double worst = 0;
        for (const auto& c : b.candidates) {
          double sum = 0;
          for (int p : c.positions) sum += by_position.at(p);
          worst = std::max(worst, std::abs(sum - c.value));
        }
        qInfo("%s groups: max |group - sum of members| = %.2g", name, worst);
        QVERIFY(worst < 1e-6);
      }
    }
  }

  void postProcessingAndCallerInferenceMode() {
    ExplainRequest r = tiny_lm_request(gpt2_, " lives in");
    Explanation plain = make_baseline("ixg")->attribute(r);
    r.post = PostProcess::Absolute;
    Explanation inside;
    {
      c10::InferenceMode caller;  // the explainer must leave it to build a graph
      inside = make_baseline("ixg")->attribute(r);
    }
    QVERIFY(inside.post == PostProcess::Absolute);
    for (size_t i = 0; i < plain.candidates.size(); ++i) {
      QCOMPARE(inside.candidates[i].value, std::abs(plain.candidates[i].value));
      QVERIFY(inside.candidates[i].per_target == plain.candidates[i].per_target);
    }
  }

  // Every method on the bundled models: finite values, AtMan's candidates exactly.
  void realModelsEveryMethod() {
    std::vector<std::pair<std::string, ExplainRequest>> requests;
    {
      ExplainRequest r;
      r.model = shared_model("shapes-clip");
      auto item = read_json(shared_dir() / "data/shapes-eval/000.json");
      r.image =
          std::make_shared<const RgbImage>(load_image(shared_dir() / "data/shapes-eval/000.png"));
      r.labels = read_json(shared_dir() / "data/shapes-eval/index.json")["labels"]
                     .get<std::vector<std::string>>();
      r.target = item["target"].get<std::string>();
      r.explain = ExplainWhat::ImagePatches;
      requests.push_back({"shapes-clip patches", r});
    }
    {
      ExplainRequest r;
      r.model = shared_model("facts-gpt2");
      r.prompt =
          "The cat is red. The dog lives in Paris. Question: Where does the dog live? Answer:";
      r.target = " Paris";
      r.explain = ExplainWhat::PromptTokens;
      requests.push_back({"facts-gpt2 tokens", r});
    }
    {
      ExplainRequest r;
      r.model = shared_model("shapes-llava");
      r.image =
          std::make_shared<const RgbImage>(load_image(golden_dir() / "images/shapes_003.png"));
      r.prompt =
          read_json(models_dir() / "shapes-llava/prompt_format.json")["prompt"].get<std::string>();
      r.target = " a red star";
      r.explain = ExplainWhat::All;
      requests.push_back({"shapes-llava all", r});
    }
    for (const auto& [what, r] : requests) {
      ExplainRequest fast = r;
      fast.batch_size = 64;
      Explanation atman = AtmanExplainer().attribute(fast);
      for (const auto& name : kAll) {
        Explanation e = make_explainer(name)->attribute(r);
        QVERIFY2(finite(e), (what + " " + name).c_str());
        QCOMPARE(e.candidates.size(), atman.candidates.size());
        QCOMPARE(e.target_tokens, atman.target_tokens);
        QCOMPARE(e.grid_rows, atman.grid_rows);
        for (size_t i = 0; i < e.candidates.size(); ++i) {
          const auto &a = e.candidates[i], &b = atman.candidates[i];
          QVERIFY(a.positions == b.positions && a.kind == b.kind && a.span == b.span &&
                  a.text == b.text && a.row == b.row && a.col == b.col);
          QCOMPARE(a.rect.x, b.rect.x);
          QCOMPARE(a.rect.width, b.rect.width);
          QCOMPARE(a.per_target.size(), atman.target_tokens.size());
        }
        // Same target loss as AtMan.
        QVERIFY(all_close(e.baseline_per_target, atman.baseline_per_target, 1e-4, 1e-4,
                          what + " " + name + " L0"));
        double lo = 1e300, hi = -1e300;
        for (const auto& c : e.candidates) lo = std::min(lo, c.value), hi = std::max(hi, c.value);
        qInfo("%s %-9s %zu candidates, values in [%.3g, %.3g], %.3f s", what.c_str(), name.c_str(),
              e.candidates.size(), lo, hi, e.timings.total_seconds);
        QVERIFY(hi > lo);  // not constant
      }
    }
  }
};

QTEST_APPLESS_MAIN(TestBaselines)
#include "test_baselines.moc"
