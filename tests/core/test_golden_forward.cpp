// Golden parity of the three bundled models' forwards against ../shared/golden (an independent
// float64 implementation): |diff| <= 1e-4 + 1e-4*|ref| in fp32.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "atman/inference.h"
#include "core/test_support.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using namespace atman::test;

namespace {

constexpr double kAbs = 1e-4, kRel = 1e-4;

PixelTensor golden_pixels(const nlohmann::json& image) {
  PixelTensor p;
  auto shape = image["pixel_values_shape"].get<std::vector<int>>();
  p.channels = shape[0];
  p.height = shape[1];
  p.width = shape[2];
  p.values = image["pixel_values"].get<std::vector<float>>();
  return p;
}

// The statistics the golden files keep of a full-vocabulary logit vector, in float64.
std::vector<double> logit_stats(const std::vector<float>& logits, const nlohmann::json& ref) {
  at::Tensor x = at::tensor(as_doubles(logits), at::kDouble);
  at::Tensor index = at::arange(x.size(0), at::kLong).remainder(97).to(at::kDouble);
  std::vector<double> got = {
      x.sum().item<double>(),          x.mean().item<double>(),
      x.std(false).item<double>(),     x.min().item<double>(),
      x.max().item<double>(),          at::logsumexp(x, 0).item<double>(),
      x.norm().item<double>(),         x.slice(0, 0, 1000).sum().item<double>(),
      (x * index).sum().item<double>()};
  (void)ref;
  return got;
}

std::vector<double> ref_stats(const nlohmann::json& s) {
  return {s["sum"],
          s["mean"],
          s["std"],
          s["min"],
          s["max"],
          s["logsumexp"],
          s["l2"],
          s["sum_first_1000"],
          s["sum_x_index_mod_97"]};
}

// Sums over 50k logits accumulate rounding: their tolerance scales with the sum of |x|.
bool stats_close(const std::vector<float>& logits, const nlohmann::json& ref,
                 const std::string& what) {
  auto got = logit_stats(logits, ref);
  auto want = ref_stats(ref);
  double abs_sum = 0, abs_sum_idx = 0, abs_first = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    abs_sum += std::abs(logits[i]);
    abs_sum_idx += std::abs(logits[i]) * (i % 97);
    if (i < 1000) abs_first += std::abs(logits[i]);
  }
  bool ok = true;
  const char* names[] = {"sum",
                         "mean",
                         "std",
                         "min",
                         "max",
                         "logsumexp",
                         "l2",
                         "sum_first_1000",
                         "sum_x_index_mod_97"};
  const double scale[] = {abs_sum, abs_sum / logits.size(), 1, 1, 1, 1, 1, abs_first, abs_sum_idx};
  for (size_t i = 0; i < got.size(); ++i) {
    double tol = kAbs * scale[i] + kRel * std::abs(want[i]);
    if (std::abs(got[i] - want[i]) > tol) {
      qWarning("%s: stat %s = %.9g, reference %.9g (tol %.3g)", what.c_str(), names[i], got[i],
               want[i], tol);
      ok = false;
    }
  }
  return ok;
}

}  // namespace

class TestGoldenForward : public QObject {
  Q_OBJECT

 private slots:
  void clipTextAndImageEmbeddings() {
    auto model = Model::load(models_dir() / "shapes-clip");
    auto golden = read_json(golden_dir() / "clip_forward.json");
    c10::InferenceMode guard;
    const ClipModel& clip = *model->impl().clip;
    QVERIFY(std::abs(clip.logit_scale_exp() - golden["logit_scale_exp"].get<double>()) < 1e-5);
    at::Tensor ids = at::tensor(golden["label_ids"].get<std::vector<std::vector<int64_t>>>()[0]);
    std::vector<std::vector<int64_t>> label_ids = golden["label_ids"];
    std::vector<double> got_text, want_text;
    std::vector<at::Tensor> text_rows;
    for (size_t k = 0; k < label_ids.size(); ++k) {
      at::Tensor t = clip.text_embeds(ids_to_tensor(label_ids[k], at::kCPU));
      text_rows.push_back(t);
      for (float v : to_vector(t)) got_text.push_back(v);
      for (double v : golden["text_embeds"][k].get<std::vector<double>>()) want_text.push_back(v);
    }
    QVERIFY(all_close(got_text, want_text, kAbs, kRel, "clip text_embeds"));
    at::Tensor text = at::cat(text_rows, 0);
    for (const auto& image : golden["images"]) {
      at::Tensor img = clip.image_embeds(pixels_to_tensor(golden_pixels(image), at::kCPU));
      QVERIFY(all_close(as_doubles(to_vector(img)), json_doubles(image["image_embeds"]), kAbs, kRel,
                        "clip image_embeds " + image["png"].get<std::string>()));
      QVERIFY(all_close(as_doubles(to_vector(clip.logits(img, text))),
                        json_doubles(image["logits_per_image"]), kAbs, kRel, "clip logits"));
    }
  }

  void clipForwardFromLabelsText() {
    // The same through the public API: labels tokenised by our CLIP tokenizer.
    auto model = Model::load(models_dir() / "shapes-clip");
    auto golden = read_json(golden_dir() / "clip_forward.json");
    const auto& image = golden["images"][0];
    PixelTensor pixels = golden_pixels(image);
    ClipForward r = clip_forward(*model, &pixels, golden["labels"].get<std::vector<std::string>>());
    QVERIFY(all_close(as_doubles(r.logits_per_image), json_doubles(image["logits_per_image"]), kAbs,
                      kRel, "clip_forward logits"));
    auto ranked = zero_shot(*model, pixels, golden["labels"].get<std::vector<std::string>>());
    auto ref = json_doubles(image["logits_per_image"]);
    auto best = std::max_element(ref.begin(), ref.end()) - ref.begin();
    QCOMPARE(ranked.front().label, golden["labels"][best].get<std::string>());
    double total = 0;
    for (const auto& s : ranked) total += s.probability;
    QVERIFY(std::abs(total - 1.0) < 1e-5);
  }

  void gpt2LastPositionLogits() {
    auto model = Model::load(models_dir() / "facts-gpt2");
    auto golden = read_json(golden_dir() / "gpt2_forward.json");
    for (const auto& prompt : golden["prompts"]) {
      LmForward r = lm_forward(*model, prompt["prompt"].get<std::string>());
      QCOMPARE(r.ids, prompt["ids"].get<std::vector<int64_t>>());
      std::vector<double> top;
      for (int id : prompt["top20_ids"].get<std::vector<int>>()) top.push_back(r.last_logits[id]);
      QVERIFY(
          all_close(top, json_doubles(prompt["top20_logits"]), kAbs, kRel, "gpt2 top20 logits"));
      QVERIFY(stats_close(r.last_logits, prompt["stats"], "gpt2 logit stats"));
      auto argmax =
          std::max_element(r.last_logits.begin(), r.last_logits.end()) - r.last_logits.begin();
      QCOMPARE(static_cast<int>(argmax), prompt["stats"]["argmax"].get<int>());
    }
  }

  void llavaLogitsAndGreedyCaption() {
    auto model = Model::load(models_dir() / "shapes-llava");
    auto golden = read_json(golden_dir() / "llava_forward.json");
    auto clip_golden = read_json(golden_dir() / "clip_forward.json");
    for (const auto& item : golden["images"]) {
      PixelTensor pixels =
          golden_pixels(clip_golden["images"][item["clip_forward_image"].get<int>()]);
      {
        c10::InferenceMode guard;
        at::Tensor features =
            model->impl().llava->image_features(pixels_to_tensor(pixels, at::kCPU)).squeeze(0);
        const auto& ref = item["projector_out"];
        QVERIFY(all_close({features.sum().item<double>(), features.norm().item<double>()},
                          {ref["sum"].get<double>(), ref["l2"].get<double>()}, 1e-3, kRel,
                          "llava projector sum/l2"));
        QVERIFY(all_close(as_doubles(to_vector(features[0].slice(0, 0, 8))),
                          json_doubles(ref["token0_first8"]), kAbs, kRel,
                          "llava projector token 0"));
        QVERIFY(all_close(as_doubles(to_vector(features.norm(2, -1))),
                          json_doubles(ref["per_token_l2"]), kAbs, kRel,
                          "llava projector per-token l2"));
      }
      LmForward r = lm_forward(*model, item["prompt"].get<std::string>(), &pixels);
      QCOMPARE(r.ids, item["expanded_input_ids"].get<std::vector<int64_t>>());
      std::vector<double> top;
      for (int id : item["top20_ids"].get<std::vector<int>>()) top.push_back(r.last_logits[id]);
      QVERIFY(all_close(top, json_doubles(item["top20_logits"]), kAbs, kRel, "llava top20 logits"));
      QVERIFY(stats_close(r.last_logits, item["stats"], "llava logit stats"));
      Generation g = generate(*model, item["prompt"].get<std::string>(), 32, &pixels);
      auto greedy = item["greedy_ids"].get<std::vector<int64_t>>();
      const int64_t eos = 50256;
      if (!greedy.empty() && greedy.back() == eos) greedy.pop_back();
      QCOMPARE(g.ids, greedy);
    }
  }
};

QTEST_APPLESS_MAIN(TestGoldenForward)
#include "test_golden_forward.moc"
