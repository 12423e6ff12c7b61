// Every AtMan case of ../shared/golden reproduced through the public explainer API:
// |E - ref| <= 5 * fp32_max_abs_dev + 1e-4 + 1e-3 * |ref| (each case carries its fp32 deviation).
#include "atman/explainer.h"
#include "core/test_support.h"

using namespace atman;
using namespace atman::test;

namespace {

void set_mode(ExplainRequest& r, const nlohmann::json& c) {
  if (c["kappa"].is_null()) {
    r.mode = SuppressionMode::Single;
  } else {
    r.mode = SuppressionMode::Correlated;
    r.kappa = c["kappa"].get<double>();
  }
  r.factor = c["f"].get<double>();
  r.variant = c["variant"].get<std::string>() == "log_additive"
                  ? SuppressionVariant::LogAdditive
                  : SuppressionVariant::Multiplicative;
}

std::string describe(const nlohmann::json& c) {
  return (c["kappa"].is_null() ? std::string("single") : "kappa " + c["kappa"].dump()) + " " +
         c["variant"].get<std::string>();
}

// The reference's own fp32 run deviates from float64 by fp32_max_abs_dev; losses near 0 (a
// confident model) are as sensitive as E, so L0 gets the same tolerance.
double case_tolerance(const nlohmann::json& c) {
  return 5 * (c.contains("fp32_max_abs_dev") && c["fp32_max_abs_dev"].is_number()
                  ? c["fp32_max_abs_dev"].get<double>()
                  : 0.0) +
         1e-4;
}

bool check_values(const Explanation& e, const nlohmann::json& c, const std::vector<double>& want,
                  const std::string& what, bool per_target) {
  std::vector<double> got;
  for (const auto& cand : e.candidates) {
    if (per_target)
      got.insert(got.end(), cand.per_target.begin(), cand.per_target.end());
    else
      got.push_back(cand.value);
  }
  // atman_clip_text.json carries no fp32 deviation: its tolerance is the absolute/relative part.
  const double dev = c.contains("fp32_max_abs_dev") && c["fp32_max_abs_dev"].is_number()
                         ? c["fp32_max_abs_dev"].get<double>()
                         : 0.0;
  return all_close(got, want, 5 * dev + 1e-4, 1e-3, what + " (" + describe(c) + ")");
}

}  // namespace

class TestGoldenAtman : public QObject {
  Q_OBJECT

 private slots:
  void clipPatches() {
    auto golden = read_json(golden_dir() / "atman_clip_patches.json");
    AtmanExplainer explainer;
    for (const auto& c : golden["cases"]) {
      ExplainRequest r;
      r.model = shared_model("shapes-clip");
      r.image =
          std::make_shared<const RgbImage>(load_image(golden_dir() / c["png"].get<std::string>()));
      r.labels = golden["labels"].get<std::vector<std::string>>();
      r.target = r.labels.at(c["target_index"].get<int>());
      r.explain = ExplainWhat::ImagePatches;
      set_mode(r, c);
      Explanation e = explainer.attribute(r);
      QCOMPARE(e.candidates.size(), size_t(64));
      QVERIFY(std::abs(e.baseline_loss - c["L0"].get<double>()) < 1e-4);
      QVERIFY(check_values(e, c, json_doubles(c["E"]),
                           "clip patches " + c["png"].get<std::string>(), false));
    }
  }

  void clipText() {
    auto golden = read_json(golden_dir() / "atman_clip_text.json");
    auto forward = read_json(golden_dir() / "clip_forward.json");
    for (const auto& c : golden["cases"]) {
      ExplainRequest r;
      r.model = shared_model("shapes-clip");
      r.image = std::make_shared<const RgbImage>(load_image(
          golden_dir() / forward["images"][c["image"].get<int>()]["png"].get<std::string>()));
      r.labels = golden["labels"].get<std::vector<std::string>>();
      r.target = c["target"].get<std::string>();
      r.explain = ExplainWhat::PromptTokens;
      set_mode(r, c);
      Explanation e = AtmanExplainer().attribute(r);
      QCOMPARE(e.candidates.size(), c["candidate_ids"].size());
      QVERIFY(std::abs(e.baseline_loss - c["L0"].get<double>()) < 1e-4);
      QVERIFY(check_values(e, c, json_doubles(c["E"]), "clip text", false));
      QCOMPARE(QString::fromStdString(e.candidates[5].text), QString("star"));
    }
  }

  void gpt2Prompt() {
    auto golden = read_json(golden_dir() / "atman_gpt2.json");
    AtmanExplainer explainer;
    for (const auto& c : golden["cases"]) {
      ExplainRequest r;
      r.model = shared_model("facts-gpt2");
      r.prompt = c["prompt"].get<std::string>();
      r.target = c["target"].get<std::string>();
      r.explain = ExplainWhat::PromptTokens;
      set_mode(r, c);
      Explanation e = explainer.attribute(r);
      QCOMPARE(e.candidates.size(), c["prompt_ids"].size());
      QCOMPARE(e.target_tokens.size(), c["target_ids"].size());
      QVERIFY(all_close(e.baseline_per_target, json_doubles(c["L0"]), case_tolerance(c), 1e-3,
                        "gpt2 L0"));
      std::vector<double> flat;
      for (const auto& row : c["E"])
        for (double v : row) flat.push_back(v);
      QVERIFY(check_values(e, c, flat, "gpt2 E[i,t] item " + c["item"].dump(), true));
      QVERIFY(check_values(e, c, json_doubles(c["E_sum_over_t"]), "gpt2 sum_t E", false));
    }
  }

  void llava() {
    auto golden = read_json(golden_dir() / "atman_llava.json");
    auto forward = read_json(golden_dir() / "llava_forward.json");
    AtmanExplainer explainer;
    for (const auto& c : golden["cases"]) {
      ExplainRequest r;
      r.model = shared_model("shapes-llava");
      r.image =
          std::make_shared<const RgbImage>(load_image(golden_dir() / c["png"].get<std::string>()));
      r.prompt = forward["images"][0]["prompt"].get<std::string>();
      r.target = c["target"].get<std::string>();
      r.explain = c["candidates"].get<std::string>() == "image" ? ExplainWhat::ImagePatches
                                                                : ExplainWhat::All;
      set_mode(r, c);
      Explanation e = explainer.attribute(r);
      QCOMPARE(e.candidates.size(), c["candidate_positions"].size());
      for (size_t i = 0; i < e.candidates.size(); ++i)
        QCOMPARE(e.candidates[i].positions.front(), c["candidate_positions"][i].get<int>());
      QVERIFY(all_close(e.baseline_per_target, json_doubles(c["L0"]), case_tolerance(c), 1e-3,
                        "llava L0"));
      std::vector<double> flat;
      for (const auto& row : c["E"])
        for (double v : row) flat.push_back(v);
      QVERIFY(check_values(
          e, c, flat,
          "llava E[i,t] " + c["png"].get<std::string>() + " " + c["candidates"].get<std::string>(),
          true));
    }
  }
};

QTEST_APPLESS_MAIN(TestGoldenAtman)
#include "test_golden_atman.moc"
