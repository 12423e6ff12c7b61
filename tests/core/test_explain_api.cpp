// The explanation API's tables, without a model: the method registry, the enum names, the request
// fingerprint, the model capabilities, the CLIP label alias and the patch-region positions.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "atman/baselines.h"
#include "atman/conventions.h"
#include "atman/error.h"
#include "atman/names.h"
#include "atman/registry.h"

using namespace atman;

namespace {

// The message of the InputError `f` throws ("" when it throws none).
template <typename F>
std::string input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

template <typename Enum>
void check_round_trip(const std::vector<Enum>& values) {
  const std::vector<std::string> names = enum_names<Enum>();
  QCOMPARE(names.size(), values.size());
  std::set<std::string> distinct;
  for (size_t i = 0; i < values.size(); ++i) {
    QCOMPARE(std::string(to_string(values[i])), names[i]);
    QVERIFY(from_string<Enum>(names[i]) == values[i]);
    distinct.insert(names[i]);
  }
  QCOMPARE(distinct.size(), values.size());
  const std::string message = input_error([] { from_string<Enum>("no-such-name"); });
  QVERIFY2(message.find("'no-such-name'") != std::string::npos, message.c_str());
  for (const auto& n : names) QVERIFY2(message.find(n) != std::string::npos, message.c_str());
}

InputPosition text_position(int64_t begin) {
  InputPosition p;
  p.span = {begin, begin + 1};
  return p;
}

InputPosition image_position(int row, int col) {
  InputPosition p;
  p.is_image = true;
  p.row = row;
  p.col = col;
  return p;
}

}  // namespace

class TestExplainApi : public QObject {
  Q_OBJECT

 private slots:
  void registry_creates_every_method() {
    const auto& methods = explanation_methods();
    QVERIFY(!methods.empty());
    QVERIFY(methods.front().method == ExplainMethod::Atman);
    std::vector<std::string> names;
    for (const auto& m : methods) {
      QCOMPARE(std::string(m.name), std::string(to_string(m.method)));
      auto by_name = create_explainer(m.name);
      QVERIFY(by_name);
      QCOMPARE(by_name->name(), std::string(m.name));
      QCOMPARE(create_explainer(m.method)->name(), std::string(m.name));
      QCOMPARE(m.kappa_sweep, m.method == ExplainMethod::Atman);
      names.emplace_back(m.name);
    }
    QCOMPARE(explainer_names(), names);
    names.erase(names.begin());  // the baselines: every method but AtMan
    QCOMPARE(baseline_names(), names);
    for (ExplainMethod m : {ExplainMethod::Atman, ExplainMethod::Attention, ExplainMethod::Rollout,
                            ExplainMethod::InputXGradient, ExplainMethod::IntegratedGradients,
                            ExplainMethod::GradCam, ExplainMethod::Chefer})
      QVERIFY(std::count(names.begin(), names.end(), to_string(m)) +
                  (m == ExplainMethod::Atman ? 1 : 0) ==
              1);
  }

  void registry_errors_list_the_names() {
    const std::string message = input_error([] { create_explainer("lime"); });
    QVERIFY2(message.find("unknown explanation method 'lime'") != std::string::npos,
             message.c_str());
    for (const auto& m : explanation_methods())
      QVERIFY2(message.find(std::string(m.name)) != std::string::npos, message.c_str());
    QVERIFY(!input_error([] { create_explainer(ExplainMethod::Random); }).empty());
    QVERIFY(!input_error([] { make_baseline("atman"); }).empty());
    QVERIFY(!input_error([] { create_explainer("ig", {.ig_steps = 0}); }).empty());
    QVERIFY(create_explainer("ig", {.ig_steps = 4096}));
  }

  void baselines_have_no_kappa_sweep() {
    auto rollout = create_explainer("rollout");
    const std::string message = input_error([&] {
      rollout->kappa_sweep(ExplainRequest{}, {0.5, 0.7});
    });
    QVERIFY2(message.find("rollout") != std::string::npos, message.c_str());
  }

  void enum_names_round_trip() {
    check_round_trip<ExplainWhat>(
        {ExplainWhat::ImagePatches, ExplainWhat::PromptTokens, ExplainWhat::All});
    check_round_trip<SuppressionMode>({SuppressionMode::Single, SuppressionMode::Correlated});
    check_round_trip<SuppressionVariant>(
        {SuppressionVariant::Multiplicative, SuppressionVariant::LogAdditive});
    check_round_trip<PostProcess>({PostProcess::None, PostProcess::Absolute, PostProcess::Square});
    check_round_trip<Granularity>(
        {Granularity::Token, Granularity::Word, Granularity::Sentence, Granularity::Delimiter});
    check_round_trip<CandidateKind>({CandidateKind::Patch, CandidateKind::Token});
    check_round_trip<ModelKind>(
        {ModelKind::Clip, ModelKind::CausalLM, ModelKind::Llava, ModelKind::Siglip});
    check_round_trip<ExplainMethod>({ExplainMethod::Atman, ExplainMethod::Attention,
                                     ExplainMethod::Rollout, ExplainMethod::InputXGradient,
                                     ExplainMethod::IntegratedGradients, ExplainMethod::GradCam,
                                     ExplainMethod::Chefer, ExplainMethod::Random});
    QCOMPARE(to_string(std::optional<SuppressionMode>{}), std::string());
    QCOMPARE(to_string(std::optional<SuppressionMode>{SuppressionMode::Correlated}),
             std::string("correlated"));
  }

  // The JSON spells enums as before the enums replaced strings; "" stays "" (baselines).
  void explanation_json_keeps_its_names() {
    Explanation e;
    e.method = ExplainMethod::IntegratedGradients;
    e.explained = ExplainWhat::PromptTokens;
    e.post = PostProcess::Square;
    Candidate c;
    c.kind = CandidateKind::Patch;
    e.candidates.push_back(c);
    const std::string json = to_json(e, -1);
    QVERIFY(json.find(R"("method":"ig")") != std::string::npos);
    QVERIFY(json.find(R"("explained":"tokens")") != std::string::npos);
    QVERIFY(json.find(R"("mode":"")") != std::string::npos);
    QVERIFY(json.find(R"("variant":"")") != std::string::npos);
    QVERIFY(json.find(R"("post":"square")") != std::string::npos);
    QVERIFY(json.find(R"("kind":"patch")") != std::string::npos);
    const Explanation back = explanation_from_json(json);
    QVERIFY(back.method == e.method && back.explained == e.explained && !back.mode &&
            !back.variant && back.post == e.post);
    QCOMPARE(to_json(back, -1), json);

    e.method = ExplainMethod::Atman;
    e.mode = SuppressionMode::Correlated;
    e.variant = SuppressionVariant::LogAdditive;
    const std::string atman = to_json(e);
    QCOMPARE(to_json(explanation_from_json(atman)), atman);

    // "post": "" is what a hand-made Explanation wrote before `post` became an enum: it loads.
    QVERIFY(explanation_from_json(R"({"post": "", "baseline_loss": 0, "candidates": []})").post ==
            PostProcess::None);
    const std::string message = input_error(
        [] { explanation_from_json(R"({"mode": "corr", "baseline_loss": 0, "candidates": []})"); });
    QVERIFY2(message.find("single, correlated") != std::string::npos, message.c_str());
  }

  void fingerprint_covers_each_field() {
    ExplainRequest base;
    base.prompt = "The dog lives in Paris.";
    base.target = " Paris";
    base.labels = {"a photo of a cat", "a photo of a dog"};
    base.delimiter.push_back(',');  // (not = ",": a GCC 12 -Wrestrict false positive)
    base.layers = {1, 2};
    for (auto scope : {FingerprintScope::Input, FingerprintScope::Result})
      QCOMPARE(request_fingerprint(base, scope), request_fingerprint(ExplainRequest(base), scope));

    using Change = std::function<void(ExplainRequest&)>;
    const std::vector<std::pair<const char*, Change>> input_fields = {
        {"prompt", [](ExplainRequest& r) { r.prompt += "!"; }},
        {"target", [](ExplainRequest& r) { r.target = " London"; }},
        {"labels", [](ExplainRequest& r) { r.labels.pop_back(); }},
        {"label text", [](ExplainRequest& r) { r.labels[1] = "a photo of a dot"; }},
        {"text moved between fields",
         [](ExplainRequest& r) {
           r.prompt += r.target;
           r.target.clear();
         }},
        {"explain", [](ExplainRequest& r) { r.explain = ExplainWhat::PromptTokens; }},
        {"factor", [](ExplainRequest& r) { r.factor = std::nextafter(r.factor, 1.0); }},
        {"variant", [](ExplainRequest& r) { r.variant = SuppressionVariant::LogAdditive; }},
        {"granularity", [](ExplainRequest& r) { r.granularity = Granularity::Word; }},
        {"delimiter", [](ExplainRequest& r) { r.delimiter.push_back(';'); }},
        {"tile", [](ExplainRequest& r) { r.tile = 2; }},
        {"layers", [](ExplainRequest& r) { r.layers.push_back(3); }},
    };
    const std::vector<std::pair<const char*, Change>> result_fields = {
        {"post", [](ExplainRequest& r) { r.post = PostProcess::Absolute; }},
        {"max_neighbours", [](ExplainRequest& r) { r.max_neighbours = 3; }},
        {"adaptive", [](ExplainRequest& r) { r.adaptive = true; }},
    };
    const std::vector<std::pair<const char*, Change>> ignored = {
        {"mode", [](ExplainRequest& r) { r.mode = SuppressionMode::Correlated; }},
        {"kappa", [](ExplainRequest& r) { r.kappa = 0.2; }},
        {"batch_size", [](ExplainRequest& r) { r.batch_size = 7; }},
        {"reuse_kv_cache", [](ExplainRequest& r) { r.reuse_kv_cache = false; }},
    };
    auto differs = [&](const Change& change, FingerprintScope scope) {
      ExplainRequest r = base;
      change(r);
      return request_fingerprint(r, scope) != request_fingerprint(base, scope);
    };
    for (const auto& [name, change] : input_fields) {
      QVERIFY2(differs(change, FingerprintScope::Input), name);
      QVERIFY2(differs(change, FingerprintScope::Result), name);
    }
    for (const auto& [name, change] : result_fields) {
      QVERIFY2(!differs(change, FingerprintScope::Input), name);
      QVERIFY2(differs(change, FingerprintScope::Result), name);
    }
    for (const auto& [name, change] : ignored) {
      QVERIFY2(!differs(change, FingerprintScope::Input), name);
      QVERIFY2(!differs(change, FingerprintScope::Result), name);
    }
  }

  void capabilities_per_model_kind() {
    const ModelCapabilities clip = capabilities(ModelKind::Clip);
    QVERIFY(clip.reads_images && !clip.generates && clip.target_is_label);
    QVERIFY(clip.default_explained == ExplainWhat::ImagePatches);
    const ModelCapabilities lm = capabilities(ModelKind::CausalLM);
    QVERIFY(!lm.reads_images && lm.generates && !lm.target_is_label);
    QVERIFY(lm.default_explained == ExplainWhat::PromptTokens);
    const ModelCapabilities llava = capabilities(ModelKind::Llava);
    QVERIFY(llava.reads_images && llava.generates && !llava.target_is_label);
    QVERIFY(llava.default_explained == ExplainWhat::ImagePatches);
    const ModelCapabilities siglip = capabilities(ModelKind::Siglip);
    QVERIFY(siglip.reads_images && !siglip.generates && siglip.target_is_label);
    QVERIFY(siglip.default_explained == ExplainWhat::ImagePatches);
  }

  void label_alias() {
    const std::vector<std::string> labels = {"a photo of a panda", "cat", "a photo of a cat"};
    QCOMPARE(resolve_label_alias("panda", labels), std::string("a photo of a panda"));
    QCOMPARE(resolve_label_alias("a photo of a panda", labels), std::string("a photo of a panda"));
    QCOMPARE(resolve_label_alias("cat", labels), std::string("cat"));  // a label itself wins
    QCOMPARE(resolve_label_alias("dog", labels), std::string("dog"));  // left for validation
    QCOMPARE(resolve_label_alias("panda", {}), std::string("panda"));
  }

  void patch_region_positions_are_the_image_tokens_inside() {
    // A LLaVA-like layout: two text tokens, a 3 x 3 patch grid, one text token.
    std::vector<InputPosition> layout = {text_position(0), text_position(1)};
    for (int row = 0; row < 3; ++row)
      for (int col = 0; col < 3; ++col) layout.push_back(image_position(row, col));
    layout.push_back(text_position(2));
    QCOMPARE(patch_region_positions(layout, 0, 0, 0, 0), std::vector<int64_t>({2}));
    QCOMPARE(patch_region_positions(layout, 1, 2, 1, 2), std::vector<int64_t>({6, 7, 9, 10}));
    QCOMPARE(patch_region_positions(layout, 0, 2, 2, 2), std::vector<int64_t>({4, 7, 10}));
    QCOMPARE(patch_region_positions(layout, 0, 9, 0, 9).size(), size_t{9});
    QVERIFY(patch_region_positions(layout, 5, 6, 0, 2).empty());
    QVERIFY(patch_region_positions(layout, 2, 1, 0, 2).empty());  // an empty (reversed) range
  }
};

QTEST_APPLESS_MAIN(TestExplainApi)
#include "test_explain_api.moc"
