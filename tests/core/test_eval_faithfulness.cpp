// Faithfulness (atman/eval.h, target_probabilities in atman/explainer.h): the curve helpers on
// hand-computed cases, the probe against AtMan's own perturbations (a candidate at factor 1 - f
// must give exactly the loss AtMan measured for it) on CLIP, GPT-2 and LLaVA, and the deletion /
// insertion curves' end points and their ordering against a reversed ranking.
#include <random>
#include <set>

#include "atman/error.h"
#include "atman/eval.h"
#include "core/test_support.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

bool near(double a, double b, double tol = 1e-12) {
  return std::abs(a - b) <= tol;
}

// Relative closeness of probabilities computed by differently batched forwards.
bool close_probability(double got, double want, const char* what) {
  const double rel = std::abs(got - want) / std::max(want, 1e-30);
  if (rel > 1e-4) qWarning("%s: %.9g vs %.9g (rel %.3g)", what, got, want, rel);
  return rel <= 1e-4;
}

ExplainRequest shapes_request(const std::string& model, int index) {
  auto item = eval::load_shapes_eval(shared_dir() / "data/shapes-eval", index + 1).back();
  ExplainRequest r;
  r.model = shared_model(model);
  r.image = std::make_shared<const RgbImage>(load_image(item.image));
  if (r.model->kind() == ModelKind::Llava) {
    r.prompt = eval::llava_prompt(*r.model);
    r.target = eval::llava_target(item);
  } else {
    r.labels = item.labels;
    r.target = item.target;
  }
  r.explain = ExplainWhat::ImagePatches;
  return r;
}

ExplainRequest facts_request(int index) {
  auto item =
      eval::load_facts_eval(shared_dir() / "data/facts-eval/facts-eval.jsonl", index + 1).back();
  ExplainRequest r;
  r.model = shared_model("facts-gpt2");
  r.prompt = item.prompt;
  r.target = item.target;
  r.explain = ExplainWhat::PromptTokens;
  return r;
}

// p(target) with candidate i at factor 1 - f is exp(-(L + E_i)) of AtMan's single-mode explanation;
// nothing suppressed (or factor 1) is exp(-L).
void check_probe_against_atman(const ExplainRequest& request, const char* what) {
  Explanation e = AtmanExplainer().attribute(request);
  const int n = static_cast<int>(e.candidates.size());
  std::vector<eval::CandidateMask> masks = {{}, {{0, 1.0f}, {n - 1, 1.0f}}};
  std::vector<int> probed;
  for (int i = 0; i < n; i += std::max(1, n / 7)) {
    probed.push_back(i);
    masks.push_back({{i, static_cast<float>(1.0 - request.factor)}});
  }
  const auto p = target_probabilities(request, masks);
  QCOMPARE(p.size(), masks.size());
  QVERIFY(close_probability(p[0], std::exp(-e.baseline_loss), what));
  QCOMPARE(p[1], p[0]);  // factor 1 is no suppression at all
  double max_rel = 0;
  for (size_t k = 0; k < probed.size(); ++k) {
    const double want = std::exp(-(e.baseline_loss + e.candidates[probed[k]].value));
    QVERIFY(close_probability(p[2 + k], want, what));
    max_rel = std::max(max_rel, std::abs(p[2 + k] - want) / want);
  }
  qInfo("%s: p(target) = %.6f; %zu perturbations match AtMan's losses to a relative %.2g", what,
        p[0], probed.size(), max_rel);
  // Batching does not change the numbers.
  ExplainRequest one_by_one = request;
  one_by_one.batch_size = 1;
  const auto q = target_probabilities(one_by_one, masks);
  for (size_t k = 0; k < p.size(); ++k) QVERIFY(close_probability(q[k], p[k], what));
}

}  // namespace

class TestEvalFaithfulness : public QObject {
  Q_OBJECT

 private slots:
  void rankingAndSteps() {
    QCOMPARE(eval::ranking({0.1, 3, -1, 3}), (std::vector<int>{1, 3, 0, 2}));  // ties: index order
    QCOMPARE(eval::ranking({}), std::vector<int>{});
    QCOMPARE(eval::curve_steps(4, 20), (std::vector<int>{0, 1, 2, 3, 4}));
    // 10 candidates in 4 steps: k = round(2.5 s), halves away from zero.
    QCOMPARE(eval::curve_steps(10, 4), (std::vector<int>{0, 3, 5, 8, 10}));
    const auto ks = eval::curve_steps(64, 16);
    QCOMPARE(ks.size(), size_t(17));
    for (size_t s = 0; s < ks.size(); ++s) QCOMPARE(ks[s], int(4 * s));
    const auto odd = eval::curve_steps(37, 20);
    QCOMPARE(odd.size(), size_t(21));
    QCOMPARE(odd.front(), 0);
    QCOMPARE(odd.back(), 37);
    for (size_t s = 1; s < odd.size(); ++s) QVERIFY(odd[s] > odd[s - 1]);
    QVERIFY_THROWS_EXCEPTION(InputError, eval::curve_steps(0, 20));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::curve_steps(5, 0));
  }

  void aucByHand() {
    // A straight line from 1 to 0: half the unit square.
    QVERIFY(near(eval::curve_auc({0, 0.5, 1}, {1, 0.5, 0}), 0.5));
    // Uneven steps: 0.25·(1 + 1)/2 + 0.75·(1 + 0)/2.
    QVERIFY(near(eval::curve_auc({0, 0.25, 1}, {1, 1, 0}), 0.625));
    // A deletion curve: 0.25·((0.9+0.5) + (0.5+0.2) + (0.2+0.1) + (0.1+0))/2 = 0.3125.
    QVERIFY(near(eval::curve_auc({0, 0.25, 0.5, 0.75, 1}, {0.9, 0.5, 0.2, 0.1, 0.0}), 0.3125));
    // An insertion curve of the same probabilities reversed: 0.25·(0 + 0.1·2 + 0.2·2 + 0.5·2 +
    // 0.9)/2.
    QVERIFY(near(eval::curve_auc({0, 0.25, 0.5, 0.75, 1}, {0.0, 0.1, 0.2, 0.5, 0.9}), 0.3125));
    // A constant curve: its value.
    QVERIFY(near(eval::curve_auc({0, 1.0 / 3, 1}, {0.4, 0.4, 0.4}), 0.4));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::curve_auc({0}, {1}));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::curve_auc({0, 1}, {1}));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::curve_auc({1, 0}, {1, 1}));
  }

  void deletionAndInsertionMasks() {
    const std::vector<int> order = {2, 0, 1};
    const auto del = eval::deletion_masks(order, {0, 1, 3});
    QCOMPARE(del.size(), size_t(3));
    QVERIFY(del[0].empty());
    QCOMPARE(del[1], (eval::CandidateMask{{2, 0.0f}}));
    QCOMPARE(del[2], (eval::CandidateMask{{2, 0.0f}, {0, 0.0f}, {1, 0.0f}}));
    const auto ins = eval::insertion_masks(order, {0, 1, 3});
    QCOMPARE(ins[0], (eval::CandidateMask{{2, 0.0f}, {0, 0.0f}, {1, 0.0f}}));
    QCOMPARE(ins[1], (eval::CandidateMask{{0, 0.0f}, {1, 0.0f}}));
    QVERIFY(ins[2].empty());
    QVERIFY_THROWS_EXCEPTION(InputError, eval::deletion_masks(order, {4}));
  }

  void probeMatchesAtmanClip() {
    check_probe_against_atman(shapes_request("shapes-clip", 0), "shapes-clip");
  }
  void probeMatchesAtmanGpt2() { check_probe_against_atman(facts_request(0), "facts-gpt2"); }
  void probeMatchesAtmanLlava() {
    check_probe_against_atman(shapes_request("shapes-llava", 0), "shapes-llava");
  }

  void probeRejectsBadMasks() {
    const ExplainRequest r = shapes_request("shapes-clip", 0);
    QVERIFY_THROWS_EXCEPTION(InputError, target_probabilities(r, {{{64, 0.0f}}}));
    QVERIFY_THROWS_EXCEPTION(InputError, target_probabilities(r, {{{-1, 0.0f}}}));
    QVERIFY_THROWS_EXCEPTION(InputError, target_probabilities(r, {{{0, 1.5f}}}));
    QVERIFY(target_probabilities(r, {}).empty());
    // Cancelling stops it.
    QVERIFY_THROWS_EXCEPTION(Cancelled,
                             target_probabilities(r, {{}}, [](int, int) { return false; }));
  }

  // The curves start and end where they must, and ranking by AtMan beats a random ranking:
  // deleting AtMan's most important candidates first lowers the probability faster, inserting them
  // first raises it faster. (Reversing a ranking just swaps the two curves: deletion AUC(x) =
  // insertion AUC(-x), so a random order is the reference.)
  void curvesEndPointsAndOrdering() {
    struct Case {
      const char* what;
      std::vector<ExplainRequest> requests;
    };
    std::vector<Case> cases = {{"shapes-clip", {}}, {"facts-gpt2", {}}};
    for (int i = 0; i < 8; ++i) {
      cases[0].requests.push_back(shapes_request("shapes-clip", i));
      cases[1].requests.push_back(facts_request(i));
    }
    std::mt19937 rng(7);
    int symmetric_cases = 0;
    for (const auto& c : cases) {
      double del = 0, ins = 0, del_random = 0, ins_random = 0;
      for (const auto& r : c.requests) {
        Explanation e = AtmanExplainer().attribute(r);
        std::vector<double> x, reversed, random;
        for (const auto& cand : e.candidates) {
          x.push_back(cand.value);
          reversed.push_back(-cand.value);
          random.push_back(std::uniform_real_distribution<double>(0, 1)(rng));
        }
        const auto curves = eval::faithfulness(r, x, 10);
        const size_t steps = std::min<size_t>(10, x.size());
        QCOMPARE(curves.x.size(), steps + 1);
        QCOMPARE(curves.x.front(), 0.0);
        QCOMPARE(curves.x.back(), 1.0);
        QVERIFY(close_probability(curves.deletion.front(), std::exp(-e.baseline_loss), c.what));
        QCOMPARE(curves.deletion.front(), curves.insertion.back());
        QCOMPARE(curves.deletion.back(), curves.insertion.front());
        QVERIFY(near(curves.deletion_auc, eval::curve_auc(curves.x, curves.deletion)));
        const auto back = eval::faithfulness(r, reversed, 10);
        // With symmetric steps (k_s + k_{S-s} = N) and no ties the reversed ranking swaps the
        // curves.
        const auto ks = eval::curve_steps(static_cast<int>(x.size()), 10);
        bool symmetric = std::set<double>(x.begin(), x.end()).size() == x.size();
        for (size_t s = 0; s < ks.size(); ++s)
          symmetric &= ks[s] + ks[ks.size() - 1 - s] == static_cast<int>(x.size());
        if (symmetric) {
          ++symmetric_cases;
          QVERIFY(close_probability(back.insertion_auc, curves.deletion_auc, c.what));
          QVERIFY(close_probability(back.deletion_auc, curves.insertion_auc, c.what));
        }
        const auto chance = eval::faithfulness(r, random, 10);
        del += curves.deletion_auc, ins += curves.insertion_auc;
        del_random += chance.deletion_auc, ins_random += chance.insertion_auc;
      }
      const double n = static_cast<double>(c.requests.size());
      qInfo(
          "%s (first 8, 10 steps): deletion AUC %.4f (random ranking %.4f), insertion AUC %.4f "
          "(random %.4f)",
          c.what, del / n, del_random / n, ins / n, ins_random / n);
      QVERIFY(del < del_random);
      QVERIFY(ins > ins_random);
      QVERIFY(del < ins);
    }
    QVERIFY(symmetric_cases >= 8);  // at least the 64-patch images
  }
};

QTEST_APPLESS_MAIN(TestEvalFaithfulness)
#include "test_eval_faithfulness.moc"
