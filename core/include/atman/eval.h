// Evaluating explanations against ground truth: the per-item metrics of the AtMan paper's
// localisation experiments (precision, recall, pointing game), dataset loaders for the project's
// shapes-eval and facts-eval sets, and a runner that explains every item with several methods.
//
//   auto items = atman::eval::load_shapes_eval("../shared/data/shapes-eval", 40);
//   auto model = atman::Model::load("../shared/models/shapes-clip");
//   auto report = atman::eval::evaluate_shapes(model, items,
//   atman::eval::parse_methods("atman_single")); std::cout << atman::eval::to_markdown(report);
//
// Metric definitions (one item; x = the positive part of the explanation at patch or token
// resolution, y = the ground-truth coverage in [0, 1]):
//   precision = Σ x·y / Σ x                       (0 when Σ x = 0: no positive evidence)
//   recall    = Σ (x / max x)·y / Σ y             (0 when max x = 0)
//   pointing  = 1 when y > 0 at the argmax of the raw explanation (first on ties), else 0
// Dataset scores: the mean and the interquartile mean (mean of the values lying between the 25th
// and the 75th percentile, both included; percentiles interpolated linearly as numpy does).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "atman/explainer.h"
#include "atman/explanation.h"
#include "atman/model.h"

namespace atman::eval {

// ---- metrics (throw InputError when the sizes differ or y is empty) ----
double precision(const std::vector<double>& explanation, const std::vector<double>& truth);
double recall(const std::vector<double>& explanation, const std::vector<double>& truth);
bool pointing_hit(const std::vector<double>& explanation, const std::vector<double>& truth);
double mean(const std::vector<double>& values);                // 0 for no values
double percentile(std::vector<double> values, double q);       // q in [0, 100], linear
double interquartile_mean(const std::vector<double>& values);  // 0 for no values

struct ItemScore {
  double precision = 0, recall = 0;
  bool hit = false;
  double chance = 0;  // fraction of candidates with y > 0: a random pointer's hit rate
};
ItemScore score(const std::vector<double>& explanation, const std::vector<double>& truth);

// ---- datasets ----

// One shapes-eval scene (NNN.json): the image, the 25 labels, the target label and the target
// shape's patch coverage (grid x grid, row-major).
struct ShapesItem {
  std::string id;
  std::filesystem::path image;
  std::vector<std::string> labels;
  std::string target;
  int grid = 0;
  std::vector<double> coverage;
};
// Reads <dir>/index.json and the items it lists (the first `limit`; 0 = all). InputError naming
// the file on anything missing or malformed.
std::vector<ShapesItem> load_shapes_eval(const std::filesystem::path& dir, int limit = 0);

// One facts-eval line: prompt, target and the answer sentence's [begin, end) in code points.
struct FactsItem {
  int id = 0;
  std::string prompt, target;
  std::pair<int64_t, int64_t> answer_span{0, 0};
  std::string answer_sentence;
};
// Reads a facts-eval .jsonl file (the first `limit` lines; 0 = all).
std::vector<FactsItem> load_facts_eval(const std::filesystem::path& jsonl, int limit = 0);

// Token ground truth of a facts item: 1 for each candidate token whose span overlaps the answer
// sentence, else 0 (one value per candidate of `e`).
std::vector<double> token_truth(const Explanation& e, std::pair<int64_t, int64_t> answer_span);

// ---- methods and the runner ----

struct Method {
  std::string name;  // "atman_single", "atman_correlated"
  SuppressionMode mode = SuppressionMode::Single;
  double kappa = 0.7;
};
// Comma-separated method names; InputError listing the known ones.
std::vector<Method> parse_methods(const std::string& names, double kappa = 0.7);
std::vector<std::string> method_names();

struct MethodReport {
  std::string name;
  double kappa = 0;  // correlated methods
  int n = 0;
  double mAP = 0, mAR = 0, mAP_iq = 0, mAR_iq = 0, pointing = 0;
  double seconds = 0;    // wall-clock seconds of all explanations of this method
  int64_t forwards = 0;  // forward passes run (perturbations + one unperturbed per item)
  std::vector<double> precision, recall;
  std::vector<int> hits;
};

struct Report {
  std::string dataset;  // "shapes-eval" | "facts-eval"
  std::string model;
  int n = 0;
  double chance = 0;  // mean fraction of candidates inside the ground truth
  std::vector<MethodReport> methods;
};

struct RunOptions {
  int batch_size = 0;  // ExplainRequest::batch_size
  // Called after each item with (items done, items total, method name); return false to cancel.
  std::function<bool(int, int, const std::string&)> progress;
};

// Explains every item (CLIP: image patches for the target label; LM: prompt tokens for the
// target) with each method and scores it against the ground truth.
Report evaluate_shapes(const std::shared_ptr<const Model>& model,
                       const std::vector<ShapesItem>& items, const std::vector<Method>& methods,
                       const RunOptions& options = {});
Report evaluate_facts(const std::shared_ptr<const Model>& model,
                      const std::vector<FactsItem>& items, const std::vector<Method>& methods,
                      const RunOptions& options = {});

// Summaries from per-item scores (what the runners use).
MethodReport summarize(const std::string& name, const std::vector<ItemScore>& scores,
                       double seconds);

// {"dataset", "model", "n", "chance", "methods": {name: {"mAP", "mAR", "mAP_iq", "mAR_iq",
// "pointing", "seconds", "forwards", "n", "kappa" (correlated only)}}}
std::string to_json(const Report& report, int indent = 2);
// method x metric table (mAP, mAR, mAP_iq, mAR_iq, pointing, seconds).
std::string to_markdown(const Report& report);

}  // namespace atman::eval
