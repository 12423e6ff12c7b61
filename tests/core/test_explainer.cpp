// Invariants of the AtMan explainer through its public API (atman::AtmanExplainer, ExplainRequest)
// on the bundled facts-gpt2 and shapes-clip models and a tiny random GQA Llama: f = 0 is a no-op,
// κ >= 1 is single mode, batching / KV reuse / cancellation / κ sweeps do not change E, neighbour
// sets follow the similarity threshold, candidate grouping, tiles and rects, JSON/CSV round trips.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QTemporaryDir>

#include <algorithm>
#include <set>

#include "atman/error.h"
#include "atman/explainer.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> shapes_labels() {
  return read_json(shared_dir() / "data/shapes-eval/index.json")["labels"]
      .get<std::vector<std::string>>();
}

const char* kFactsPrompt =
    "The cat is red. The dog lives in Paris. Question: Where does the dog live? Answer:";

ExplainRequest facts_request() {
  ExplainRequest r;
  r.model = shared_model("facts-gpt2");
  r.prompt = kFactsPrompt;
  r.target = " Paris";
  r.explain = ExplainWhat::PromptTokens;
  return r;
}

ExplainRequest clip_request(const fs::path& image, const std::string& target) {
  ExplainRequest r;
  r.model = shared_model("shapes-clip");
  r.image = std::make_shared<const RgbImage>(load_image(image));
  r.labels = shapes_labels();
  r.target = target;
  r.explain = ExplainWhat::ImagePatches;
  return r;
}

ExplainRequest shapes_request(int item = 0) {
  auto index = read_json(shared_dir() / "data/shapes-eval/index.json");
  const auto& it = index["items"][item];
  return clip_request(shared_dir() / "data/shapes-eval" / it["image"].get<std::string>(),
                      it["target"].get<std::string>());
}

std::vector<double> values(const Explanation& e) {
  std::vector<double> v;
  for (const auto& c : e.candidates) v.push_back(c.value);
  return v;
}

std::vector<double> per_target(const Explanation& e) {
  std::vector<double> v;
  for (const auto& c : e.candidates) v.insert(v.end(), c.per_target.begin(), c.per_target.end());
  return v;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// Cosine similarities of the candidate embeddings, computed here from the model's tensors: text
// candidates use token-embedding rows, CLIP patches the patch-embedding (conv) outputs.
at::Tensor cosine(const at::Tensor& rows) {
  at::Tensor e = rows.to(at::kDouble);
  e = e / e.norm(2, -1, true);
  return e.matmul(e.t());
}

at::Tensor token_similarity(const Model& m, const std::string& prompt) {
  c10::InferenceMode guard;
  auto ids = m.tokenizer().encode(prompt).ids;
  return cosine(m.impl().lm->embed_tokens(ids_to_tensor(ids, at::kCPU)).squeeze(0));
}

at::Tensor patch_similarity(const Model& m, const RgbImage& image) {
  c10::InferenceMode guard;
  PixelTensor pixels = preprocess_clip(image, m.preprocess_config());
  return cosine(
      m.impl().clip->vision().patch_embeddings(pixels_to_tensor(pixels, at::kCPU)).squeeze(0));
}

}  // namespace

class TestExplainer : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;
  std::shared_ptr<const Model> tiny_llama_;

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    TinyLlama spec;  // GQA 4 query heads / 2 KV heads, untied head
    spec.positions = 128;
    tiny_llama_ =
        Model::load(write_tiny_llama(fs::path(tmp_.path().toStdString()) / "llama", spec));
  }

  void factorZeroGivesExactlyZero() {
    for (int which = 0; which < 3; ++which) {
      ExplainRequest r = which == 0   ? facts_request()
                         : which == 1 ? shapes_request(1)
                                      : facts_request();
      if (which == 2) r.model = tiny_llama_;
      r.factor = 0.0;
      for (auto mode : {SuppressionMode::Single, SuppressionMode::Correlated}) {
        r.mode = mode;
        r.kappa = 0.3;
        Explanation e = AtmanExplainer().attribute(r);
        QVERIFY(!e.candidates.empty());
        for (const auto& c : e.candidates) {
          QCOMPARE(c.value, 0.0);
          for (double v : c.per_target) QCOMPARE(v, 0.0);
        }
        QCOMPARE(e.timings.forwards, 0);  // every mask is empty: nothing to run
      }
    }
  }

  void kappaOneEqualsSingleExactly() {
    // A prompt whose tokens are all different, and a photo without duplicate patches.
    ExplainRequest text = facts_request();
    text.prompt = "The fox eats cheese, so what does it like? Answer:";
    text.target = " cheese";
    auto ids = text.model->tokenizer().encode(text.prompt).ids;
    QCOMPARE(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size());
    ExplainRequest photo = clip_request(shared_dir() / "data/photos/panda.jpg", shapes_labels()[0]);
    for (ExplainRequest r : {text, photo}) {
      r.batch_size = 8;
      r.mode = SuppressionMode::Single;
      Explanation single = AtmanExplainer().attribute(r);
      for (double kappa : {1.0, 1.2}) {
        r.mode = SuppressionMode::Correlated;
        r.kappa = kappa;
        Explanation corr = AtmanExplainer().attribute(r);
        QCOMPARE(corr.candidates.size(), single.candidates.size());
        for (size_t i = 0; i < corr.candidates.size(); ++i) {
          QCOMPARE(corr.candidates[i].suppressed.size(), size_t(1));  // no neighbour at κ >= 1
          QVERIFY(corr.candidates[i].value == single.candidates[i].value);  // bit for bit
          QVERIFY(corr.candidates[i].per_target == single.candidates[i].per_target);
        }
      }
    }
  }

  void kappaOneKeepsExactDuplicates() {
    // Spec §3: at κ = 1 only s_ij = 1 duplicates remain: a repeated token (" dog" twice) or a
    // uniform background patch (identical pixels) is suppressed together with its copies.
    ExplainRequest r = facts_request();
    auto enc = r.model->tokenizer().encode(r.prompt);
    std::vector<int> dogs;
    for (size_t i = 0; i < enc.ids.size(); ++i)
      if (enc.tokens[i] == "Ġdog") dogs.push_back(static_cast<int>(i));
    QCOMPARE(dogs.size(), size_t(2));
    AtmanExplainer explainer;
    auto n = explainer.neighbours(r, dogs[0], 1.0);
    qInfo("neighbours of ' dog' at κ = 1: %zu", n.size());
    QCOMPARE(n.size(), size_t(2));
    QCOMPARE(n[1].candidate, dogs[1]);
    QCOMPARE(n[1].similarity, 1.0);

    // A grey image with one red 2x2-patch square: plain patches and red patches are exact copies.
    ExplainRequest c = shapes_request(0);
    RgbImage image{128, 128, std::vector<uint8_t>(128 * 128 * 3, 90)};
    for (int y = 32; y < 64; ++y)  // patches (2..3, 2..3)
      for (int x = 32; x < 64; ++x) image.pixels[(y * 128 + x) * 3] = 230;
    c.image = std::make_shared<const RgbImage>(image);
    auto background = explainer.neighbours(c, 0, 1.0);  // top-left patch: plain background
    qInfo("background patch 0 has %zu exact duplicates at κ = 1", background.size() - 1);
    QCOMPARE(background.size(), size_t(64 - 4));  // all but the 2x2 patches of the square
    for (const auto& n : background) QVERIFY(std::abs(n.factor - 0.1) < 1e-7);
    QCOMPARE(explainer.neighbours(c, 8 * 2 + 2, 1.0).size(), size_t(4));  // the square's 4 patches
  }

  void batchSizesAndKvCacheAgree() {
    struct Case {
      const char* name;
      ExplainRequest r;
    };
    ExplainRequest llama = facts_request();
    llama.model = tiny_llama_;
    std::vector<Case> cases = {{"facts-gpt2", facts_request()},
                               {"tiny llama (GQA)", llama},
                               {"shapes-clip", shapes_request(2)}};
    for (auto& [name, base] : cases) {
      for (auto mode : {SuppressionMode::Single, SuppressionMode::Correlated}) {
        base.mode = mode;
        base.kappa = 0.5;
        base.batch_size = 64;
        base.reuse_kv_cache = false;
        const Explanation reference = AtmanExplainer().attribute(base);
        double worst = 0;
        for (int batch : {1, 3, 64}) {
          for (bool kv : {true, false}) {
            ExplainRequest r = base;
            r.batch_size = batch;
            r.reuse_kv_cache = kv;
            Explanation e = AtmanExplainer().attribute(r);
            QCOMPARE(e.timings.batches, (e.timings.forwards + batch - 1) / batch);
            const double d = max_diff(per_target(e), per_target(reference));
            worst = std::max(worst, d);
            QVERIFY2(
                d <= 1e-5,
                qPrintable(QString("%1 batch %2 kv %3: %4").arg(name).arg(batch).arg(kv).arg(d)));
          }
        }
        qInfo("%s %s: batch sizes 1/3/64 x KV reuse on/off: max |ΔE| = %.3g", name,
              mode == SuppressionMode::Single ? "single" : "correlated κ=0.5", worst);
      }
    }
  }

  void cancelThenReuse() {
    for (ExplainRequest r : {shapes_request(3), facts_request()}) {
      r.batch_size = 4;
      r.mode = SuppressionMode::Correlated;
      AtmanExplainer explainer;
      int batches_seen = 0;
      bool sane = true;
      auto progress = [&](int done, int total) {
        if (done > 1) ++batches_seen;  // the first call reports the baseline
        sane &= done <= total;
        return batches_seen < 2;
      };
      QVERIFY_THROWS_EXCEPTION(Cancelled, explainer.attribute(r, progress));
      QCOMPARE(batches_seen, 2);
      QVERIFY(sane);
      QVERIFY(!explainer.is_cached(r));
      Explanation resumed = explainer.attribute(r);
      Explanation fresh = AtmanExplainer().attribute(r);
      QCOMPARE(resumed.timings.forwards + 8, fresh.timings.forwards);  // 2 batches of 4 were kept
      const double d = std::max(max_diff(per_target(resumed), per_target(fresh)),
                                std::abs(resumed.baseline_loss - fresh.baseline_loss));
      qInfo("%s: after cancel, max |E(resumed) - E(fresh)| = %.3g", r.model->name().c_str(), d);
      QVERIFY(d <= 1e-6);
      // The model is still usable for something else entirely.
      Explanation other =
          explainer.attribute(r.model->kind() == ModelKind::Clip ? shapes_request(4) : [] {
            ExplainRequest o = facts_request();
            o.target = " red";
            return o;
          }());
      QVERIFY(!other.candidates.empty());
    }
  }

  void kappaSweepMatchesSeparateCalls() {
    const std::vector<double> kappas = {0.3, 0.5, 0.7, 0.9};
    for (ExplainRequest r : {facts_request(), shapes_request(5)}) {
      r.mode = SuppressionMode::Correlated;
      AtmanExplainer explainer;
      auto sweep = explainer.kappa_sweep(r, kappas);
      QCOMPARE(sweep.size(), kappas.size());
      double worst = 0;
      for (size_t k = 0; k < kappas.size(); ++k) {
        ExplainRequest one = r;
        one.kappa = kappas[k];
        Explanation separate = AtmanExplainer().attribute(one);
        QCOMPARE(sweep[k].kappa, kappas[k]);
        worst = std::max(worst, max_diff(per_target(sweep[k]), per_target(separate)));
        for (size_t i = 0; i < separate.candidates.size(); ++i)
          QCOMPARE(sweep[k].candidates[i].suppressed.size(),
                   separate.candidates[i].suppressed.size());
      }
      qInfo(
          "%s: κ sweep vs separate attribute() calls: max |ΔE| = %.3g (%d forwards for %zu κ "
          "values)",
          r.model->name().c_str(), worst, sweep[0].timings.forwards, kappas.size());
      QVERIFY(worst <= 1e-5);
      auto again = explainer.kappa_sweep(r, kappas);
      QCOMPARE(again[0].timings.forwards, 0);
      for (size_t k = 0; k < kappas.size(); ++k) {
        QVERIFY(values(again[k]) == values(sweep[k]));
        ExplainRequest one = r;
        one.kappa = kappas[k];
        QVERIFY(explainer.is_cached(one));
      }
    }
  }

  void neighboursFollowSimilarity() {
    struct Case {
      ExplainRequest r;
      at::Tensor sim;
    };
    ExplainRequest text = facts_request();
    ExplainRequest image = shapes_request(6);
    std::vector<Case> cases = {{text, token_similarity(*text.model, text.prompt)},
                               {image, patch_similarity(*image.model, *image.image)}};
    AtmanExplainer explainer;
    for (auto& [r, sim] : cases) {
      const int n = static_cast<int>(sim.size(0));
      for (double f : {0.9, 0.5}) {
        r.factor = f;
        for (double kappa : {0.2, 0.5, 0.7, 0.9}) {
          for (int i = 0; i < n; i += 3) {
            auto got = explainer.neighbours(r, i, kappa);
            QVERIFY(!got.empty());
            QCOMPARE(got[0].candidate, i);
            QCOMPARE(got[0].similarity, 1.0);
            QVERIFY(std::abs(got[0].factor - (1 - f)) < 1e-7);  // stored as the float mask factor
            std::set<int> expected, found;
            for (int j = 0; j < n; ++j)
              if (j != i && std::min(1.0, sim[i][j].item<double>()) >= kappa) expected.insert(j);
            for (size_t k = 1; k < got.size(); ++k) {
              QVERIFY(got[k].similarity >= kappa);
              QVERIFY(std::abs(got[k].similarity - sim[i][got[k].candidate].item<double>()) < 1e-6);
              QVERIFY(std::abs(got[k].factor - (1 - f * got[k].similarity)) < 1e-12);
              found.insert(got[k].candidate);
            }
            // Similarities within rounding of κ may fall either way.
            std::set<int> diff;
            std::set_symmetric_difference(expected.begin(), expected.end(), found.begin(),
                                          found.end(), std::inserter(diff, diff.begin()));
            for (int j : diff) QVERIFY(std::abs(sim[i][j].item<double>() - kappa) < 1e-9);
          }
        }
      }
    }
    QVERIFY_THROWS_EXCEPTION(InputError, explainer.neighbours(text, 1000, 0.7));
  }

  void wordAndSentenceGranularity() {
    ExplainRequest r = facts_request();
    r.prompt = "The cat is red. The dog lives in Paris.";
    r.target = " yes";
    r.granularity = Granularity::Word;
    AtmanExplainer explainer;
    Explanation words = explainer.attribute(r);
    std::vector<std::string> texts;
    for (const auto& c : words.candidates) texts.push_back(c.text);
    const std::vector<std::string> want_words = {"The",  " cat",   " is", " red.",  " The",
                                                 " dog", " lives", " in", " Paris."};
    QCOMPARE(texts, want_words);
    QCOMPARE(words.candidates[3].positions, (std::vector<int>{3, 4}));
    r.granularity = Granularity::Sentence;
    Explanation sentences = explainer.attribute(r);
    QCOMPARE(sentences.candidates.size(), size_t(2));
    QCOMPARE(sentences.candidates[0].text, std::string("The cat is red."));
    QCOMPARE(sentences.candidates[1].text, std::string(" The dog lives in Paris."));
    QCOMPARE(sentences.candidates[0].positions, (std::vector<int>{0, 1, 2, 3, 4}));
    QCOMPARE(sentences.candidates[1].positions, (std::vector<int>{5, 6, 7, 8, 9, 10}));
    QCOMPARE(sentences.candidates[1].span, (std::pair<int64_t, int64_t>{15, 39}));
    QCOMPARE(sentences.timings.forwards, 2);
    // A whole facts prompt: 2 fact sentences, the question and "Answer:".
    r.prompt = kFactsPrompt;
    r.target = " Paris";
    QCOMPARE(explainer.attribute(r).candidates.size(), size_t(4));
  }

  void tilesCoverTheImage() {
    ExplainRequest r = shapes_request(7);
    r.tile = 2;
    Explanation e = AtmanExplainer().attribute(r);
    QCOMPARE(e.grid_rows, 8);
    QCOMPARE(e.candidates.size(), size_t(16));
    std::vector<int> covered(65, 0);
    double area = 0;
    for (const auto& c : e.candidates) {
      QCOMPARE(c.rows, 2);
      QCOMPARE(c.cols, 2);
      QCOMPARE(c.positions.size(), size_t(4));
      for (int p : c.positions) ++covered.at(p);
      QVERIFY(c.rect.x >= 0 && c.rect.y >= 0);
      QVERIFY(c.rect.x + c.rect.width <= 128 + 1e-9 && c.rect.y + c.rect.height <= 128 + 1e-9);
      QVERIFY(std::abs(c.rect.width - 32) < 1e-9 && std::abs(c.rect.height - 32) < 1e-9);
      QVERIFY(std::abs(c.rect.x - 16 * c.col) < 1e-9 && std::abs(c.rect.y - 16 * c.row) < 1e-9);
      area += c.rect.width * c.rect.height;
    }
    QCOMPARE(covered[0], 0);  // never the class token
    for (int p = 1; p <= 64; ++p) QCOMPARE(covered[p], 1);
    QVERIFY(std::abs(area - 128.0 * 128.0) < 1e-6);  // 16 disjoint 32x32 squares on a 4x4 lattice
    auto heat = e.patch_heatmap();
    for (const auto& c : e.candidates)
      for (int dr = 0; dr < 2; ++dr)
        for (int dc = 0; dc < 2; ++dc) QCOMPARE(heat[(c.row + dr) * 8 + c.col + dc], c.value);
  }

  void jsonRoundTripAndCsv() {
    ExplainRequest text = facts_request();
    text.target = " New York";  // two target tokens
    text.mode = SuppressionMode::Correlated;
    ExplainRequest image = shapes_request(8);
    image.post = PostProcess::Square;
    for (const ExplainRequest& r : {text, image}) {
      Explanation e = AtmanExplainer().attribute(r);
      Explanation back = explanation_from_json(to_json(e));
      QCOMPARE(back.method, e.method);
      QCOMPARE(back.model, e.model);
      QCOMPARE(back.architecture, e.architecture);
      QCOMPARE(back.explained, e.explained);
      QCOMPARE(back.mode, e.mode);
      QCOMPARE(back.kappa, e.kappa);
      QCOMPARE(back.factor, e.factor);
      QCOMPARE(back.variant, e.variant);
      QCOMPARE(back.post, e.post);
      QCOMPARE(back.prompt, e.prompt);
      QCOMPARE(back.target, e.target);
      QCOMPARE(back.labels, e.labels);
      QCOMPARE(back.target_tokens, e.target_tokens);
      QVERIFY(back.baseline_loss == e.baseline_loss);
      QVERIFY(back.baseline_per_target == e.baseline_per_target);
      QCOMPARE(back.grid_rows, e.grid_rows);
      QCOMPARE(back.grid_cols, e.grid_cols);
      QCOMPARE(back.image_width, e.image_width);
      QCOMPARE(back.image_height, e.image_height);
      QCOMPARE(back.timings.forwards, e.timings.forwards);
      QCOMPARE(back.timings.batches, e.timings.batches);
      QCOMPARE(back.candidates.size(), e.candidates.size());
      for (size_t i = 0; i < e.candidates.size(); ++i) {
        const Candidate &a = back.candidates[i], &b = e.candidates[i];
        QCOMPARE(a.index, b.index);
        QVERIFY(a.kind == b.kind);
        QCOMPARE(a.text, b.text);
        QCOMPARE(a.span, b.span);
        QCOMPARE(a.row, b.row);
        QCOMPARE(a.col, b.col);
        QCOMPARE(a.rows, b.rows);
        QCOMPARE(a.cols, b.cols);
        QVERIFY(a.rect.x == b.rect.x && a.rect.y == b.rect.y && a.rect.width == b.rect.width &&
                a.rect.height == b.rect.height);
        QCOMPARE(a.positions, b.positions);
        QVERIFY(a.value == b.value);
        QVERIFY(a.per_target == b.per_target);
        QCOMPARE(a.suppressed.size(), b.suppressed.size());
        for (size_t k = 0; k < a.suppressed.size(); ++k) {
          QCOMPARE(a.suppressed[k].candidate, b.suppressed[k].candidate);
          QVERIFY(a.suppressed[k].similarity == b.suppressed[k].similarity);
          QVERIFY(a.suppressed[k].factor == b.suppressed[k].factor);
        }
      }
      QCOMPARE(to_json(back), to_json(e));
      const std::string csv = to_csv(e);
      QCOMPARE(static_cast<size_t>(std::count(csv.begin(), csv.end(), '\n')),
               e.candidates.size() + 1);
      // save/load through a file
      const fs::path file = fs::path(tmp_.path().toStdString()) / "e.json";
      save_json(e, file);
      QCOMPARE(to_json(load_explanation(file)), to_json(e));
    }
    QVERIFY_THROWS_EXCEPTION(InputError, explanation_from_json("{\"candidates\": 3}"));
    QVERIFY_THROWS_EXCEPTION(InputError, explanation_from_json("not json"));
  }

  void clipRectsOnNonSquarePhoto() {
    ExplainRequest r = clip_request(shared_dir() / "data/photos/panda.jpg", shapes_labels()[3]);
    const int W = r.image->width, H = r.image->height;
    QVERIFY(W != H);
    Explanation e = AtmanExplainer().attribute(r);
    QCOMPARE(e.image_width, W);
    QCOMPARE(e.image_height, H);
    QCOMPARE(e.candidates.size(), size_t(64));
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9, area = 0;
    for (const auto& c : e.candidates) {
      const RectF& q = c.rect;
      QVERIFY(q.width > 0 && q.height > 0);
      QVERIFY(q.x >= -1e-6 && q.y >= -1e-6 && q.x + q.width <= W + 1e-6 &&
              q.y + q.height <= H + 1e-6);
      x0 = std::min(x0, q.x), y0 = std::min(y0, q.y);
      x1 = std::max(x1, q.x + q.width), y1 = std::max(y1, q.y + q.height);
      area += q.width * q.height;
    }
    // The centre crop: the short side whole, the long side cut evenly at both ends.
    const double side = std::min(W, H);
    qInfo("panda %dx%d: patches cover x [%.2f, %.2f], y [%.2f, %.2f]", W, H, x0, x1, y0, y1);
    QVERIFY(std::abs((x1 - x0) - side) < 0.01 * side);
    QVERIFY(std::abs((y1 - y0) - side) < 0.01 * side);
    QVERIFY(std::abs((x0 + x1) / 2 - W / 2.0) < 0.01 * side);
    QVERIFY(std::abs((y0 + y1) / 2 - H / 2.0) < 0.01 * side);
    QVERIFY(std::abs(area - (x1 - x0) * (y1 - y0)) < 1e-6 * area);  // no gaps, no overlaps
  }
  void adaptiveThresholdZeroIsExactAtman() {
    // Threshold 0 refines every group: every candidate is exact and equals exact AtMan bit for
    // bit (same batch size), in both modes, for patches (k x k tiles) and tokens (runs of k).
    ExplainRequest photo = clip_request(shared_dir() / "data/photos/panda.jpg", shapes_labels()[3]);
    for (ExplainRequest r : {facts_request(), photo}) {
      for (auto mode : {SuppressionMode::Single, SuppressionMode::Correlated}) {
        r.mode = mode;
        r.batch_size = 8;
        r.adaptive = false;
        Explanation exact = AtmanExplainer().attribute(r);
        for (int k : {2, 3}) {
          r.adaptive = true;
          r.adaptive_threshold = 0;
          r.adaptive_group = k;
          Explanation a = AtmanExplainer().attribute(r);
          QCOMPARE(a.candidates.size(), exact.candidates.size());
          QVERIFY(a.adaptive.enabled);
          QCOMPARE(a.adaptive.refined_groups, a.adaptive.groups);
          QCOMPARE(a.adaptive.exact_candidates, int(a.candidates.size()));
          for (size_t i = 0; i < a.candidates.size(); ++i) {
            QVERIFY(a.candidates[i].exact);
            QVERIFY(a.candidates[i].group >= 0 && a.candidates[i].group < a.adaptive.groups);
            QVERIFY(a.candidates[i].value == exact.candidates[i].value);  // bit for bit
            QVERIFY(a.candidates[i].per_target == exact.candidates[i].per_target);
          }
          // The group pass ran on top of the exact masks.
          QCOMPARE(a.timings.forwards, exact.timings.forwards + a.adaptive.groups);
        }
      }
    }
  }

  void adaptiveInheritsGroupValues() {
    // A threshold no group reaches: one forward per group, members share the group's change.
    ExplainRequest photo = clip_request(shared_dir() / "data/photos/panda.jpg", shapes_labels()[3]);
    photo.adaptive = true;
    photo.adaptive_group = 3;  // 8 x 8 patches -> 3 x 3 groups, the last row/column narrower
    photo.adaptive_threshold = 1e9;
    Explanation e = AtmanExplainer().attribute(photo);
    QCOMPARE(e.adaptive.groups, 9);
    QCOMPARE(e.adaptive.refined_groups, 0);
    QCOMPARE(e.timings.forwards, 9);
    std::vector<double> sums(9, 0.0);
    std::vector<int> sizes(9, 0);
    for (const auto& c : e.candidates) {
      QCOMPARE(c.group, (c.row / 3) * 3 + c.col / 3);
      QVERIFY(!c.exact);
      sums[c.group] += c.value;
      ++sizes[c.group];
    }
    QCOMPARE(sizes[0], 9);
    QCOMPARE(sizes[8], 4);
    for (int g = 0; g < 9; ++g)
      QVERIFY(std::abs(sums[g] - e.adaptive.group_values[g]) <=
              1e-12 * std::max(1.0, std::abs(sums[g])));

    // A middle threshold: refined groups' members match exact AtMan, the rest are inherited.
    ExplainRequest text = facts_request();
    text.batch_size = 4;
    Explanation exact = AtmanExplainer().attribute(text);
    text.adaptive = true;
    text.adaptive_group = 4;
    text.adaptive_threshold = 0;
    Explanation all = AtmanExplainer().attribute(text);
    std::vector<double> magnitudes = all.adaptive.group_values;
    for (double& m : magnitudes) m = std::abs(m);
    std::sort(magnitudes.begin(), magnitudes.end());
    text.adaptive_threshold = magnitudes[magnitudes.size() / 2];
    Explanation part = AtmanExplainer().attribute(text);
    QVERIFY(part.adaptive.refined_groups > 0 &&
            part.adaptive.refined_groups < part.adaptive.groups);
    std::vector<int> members(part.adaptive.groups, 0);
    for (const auto& c : part.candidates) ++members[c.group];
    int exact_count = 0;
    for (size_t i = 0; i < part.candidates.size(); ++i) {
      const Candidate& c = part.candidates[i];
      const bool refined = std::abs(part.adaptive.group_values[c.group]) >= text.adaptive_threshold;
      QCOMPARE(c.exact, refined || members[c.group] == 1);  // a lone token is its own group
      exact_count += c.exact;
      if (c.exact) QVERIFY(std::abs(c.value - exact.candidates[i].value) <= 1e-5);
    }
    QCOMPARE(part.adaptive.exact_candidates, exact_count);
    QVERIFY(part.timings.forwards < exact.timings.forwards + part.adaptive.groups);
  }

  void adaptiveJsonRoundTrip() {
    ExplainRequest r = facts_request();
    r.adaptive = true;
    r.adaptive_group = 4;
    r.adaptive_threshold = 1e9;  // every group inherited
    Explanation e = AtmanExplainer().attribute(r);
    r.adaptive_threshold = 0;  // every group refined, from the cache
    Explanation refined = AtmanExplainer().attribute(r);
    for (const Explanation& x : {e, refined}) {
      Explanation back = explanation_from_json(to_json(x));
      QVERIFY(back.adaptive.enabled);
      QCOMPARE(back.adaptive.threshold, x.adaptive.threshold);
      QCOMPARE(back.adaptive.group_size, 4);
      QCOMPARE(back.adaptive.groups, x.adaptive.groups);
      QCOMPARE(back.adaptive.refined_groups, x.adaptive.refined_groups);
      QCOMPARE(back.adaptive.exact_candidates, x.adaptive.exact_candidates);
      QVERIFY(back.adaptive.group_values == x.adaptive.group_values);
      for (size_t i = 0; i < x.candidates.size(); ++i) {
        QCOMPARE(back.candidates[i].exact, x.candidates[i].exact);
        QCOMPARE(back.candidates[i].group, x.candidates[i].group);
        QVERIFY(back.candidates[i].value == x.candidates[i].value);
      }
    }
    QVERIFY(!e.candidates[0].exact);
    QVERIFY(refined.candidates[0].exact);
    // Without adaptive nothing is written, and reading gives exact candidates without a group.
    Explanation plain = AtmanExplainer().attribute(facts_request());
    const std::string json = to_json(plain);
    QVERIFY(json.find("\"exact\"") == std::string::npos);
    QVERIFY(json.find("\"adaptive\"") == std::string::npos);
    Explanation back = explanation_from_json(json);
    QVERIFY(!back.adaptive.enabled);
    for (const auto& c : back.candidates) QVERIFY(c.exact && c.group == -1);
  }
};

QTEST_APPLESS_MAIN(TestExplainer)
#include "test_explainer.moc"
