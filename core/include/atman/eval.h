// Evaluating explanations against ground truth: the per-item metrics of the AtMan paper's
// localisation experiments (precision, recall, pointing game), faithfulness curves (deletion and
// insertion), loaders for the project's evaluation sets (shapes-eval, facts-eval, COCO128, SQuAD
// v1.1) and a runner that explains every item with several methods.
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
// Faithfulness (one item; candidates ranked by the raw explanation, largest first, ties by index;
// N candidates, S = min(N, steps) curve steps, k_s = round(s·N/S) for s = 0..S):
//   deletion(s)  = p(target) with the top-k_s candidates removed
//   insertion(s) = p(target) with every candidate removed except the top k_s
//   AUC          = trapezoidal area under the curve over x_s = k_s / N in [0, 1]
// "Removed" = attention to the candidate's positions scaled by 0 in every layer (factor 0 through
// the AtMan suppression, target_probabilities() in atman/explainer.h), the same for patches and
// tokens; modality-free, and no pixel or token is replaced by a baseline value. Under the default
// multiplicative suppression a removed key's score becomes its row's minimum (AtMan's f = 1), so it
// keeps the attention of the least-attended key rather than none. p(target): CLIP = the softmax
// probability of the target label among the labels; LMs = the teacher-forced joint probability of
// all target tokens. Lower deletion AUC and higher insertion AUC = more faithful. Dataset scores:
// the mean and the interquartile mean (mean of the values lying between the 25th and the 75th
// percentile, both included; percentiles interpolated linearly as numpy does).
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
#include "atman/image.h"
#include "atman/model.h"

namespace atman::eval {

// ---- localisation metrics (throw InputError when the sizes differ or y is empty) ----
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
  double deletion_auc = 0, insertion_auc = 0;  // 0 when faithfulness was not measured
};
ItemScore score(const std::vector<double>& explanation, const std::vector<double>& truth);

// ---- faithfulness curves ----

// Candidate indices ordered by the explanation, largest value first; ties keep index order.
std::vector<int> ranking(const std::vector<double>& explanation);
// The candidate counts k_s = round(s·n / S) for s = 0..S, S = min(n, max_steps) (strictly
// increasing, 0 first, n last). InputError when n < 1 or max_steps < 1.
std::vector<int> curve_steps(int n, int max_steps);
// Trapezoidal area under y over x (x ascending, same sizes, at least 2 points).
double curve_auc(const std::vector<double>& x, const std::vector<double>& y);

// Candidate suppressions of the deletion (top-k removed) and insertion (all but the top k removed)
// curves at the given counts, as target_probabilities() takes them: (candidate, factor 0).
using CandidateMask = std::vector<std::pair<int, float>>;
std::vector<CandidateMask> deletion_masks(const std::vector<int>& order,
                                          const std::vector<int>& ks);
std::vector<CandidateMask> insertion_masks(const std::vector<int>& order,
                                           const std::vector<int>& ks);

struct Curves {
  std::vector<double> x;                    // k_s / N
  std::vector<double> deletion, insertion;  // p(target) at each step
  double deletion_auc = 0, insertion_auc = 0;
};
// Deletion and insertion curves of `explanation` (one value per candidate of `request`), measured
// with target_probabilities() in one batched call (masks shared by both curves run once).
Curves faithfulness(const ExplainRequest& request, const std::vector<double>& explanation,
                    int max_steps = 20);

// ---- datasets ----

// One shapes-eval scene (NNN.json): the image, the 25 labels, the target label, the target shape's
// colour and shape words and its patch coverage (grid x grid, row-major).
struct ShapesItem {
  std::string id;
  std::filesystem::path image;
  std::vector<std::string> labels;
  std::string target;
  std::string color, shape;  // of the target shape, e.g. "blue", "square"
  int grid = 0;
  std::vector<double> coverage;
};
// Reads <dir>/index.json and the items it lists (the first `limit`; 0 = all). InputError naming
// the file on anything missing or malformed.
std::vector<ShapesItem> load_shapes_eval(const std::filesystem::path& dir, int limit = 0);
// The LLaVA target phrase of an item's target shape: " a {color} {shape}".
std::string llava_target(const ShapesItem& item);
// The LLaVA prompt for shapes-eval (atman/prompt.h): the "prompt" of <model dir>/prompt_format.json
// as it is, else the folder's chat template around "What is in the picture?" with the image;
// InputError when the folder has neither.
std::string llava_prompt(const Model& model);

// One facts-eval line: prompt, target and the answer sentence's [begin, end) in code points.
struct FactsItem {
  int id = 0;
  std::string prompt, target;
  std::pair<int64_t, int64_t> answer_span{0, 0};
  std::string answer_sentence;
};
// Reads a facts-eval .jsonl file (the first `limit` lines; 0 = all).
std::vector<FactsItem> load_facts_eval(const std::filesystem::path& jsonl, int limit = 0);

// Token ground truth: 1 for each candidate token whose span overlaps `span` (code points of the
// prompt), else 0 (one value per candidate of `e`).
std::vector<double> token_truth(const Explanation& e, std::pair<int64_t, int64_t> span);

// One COCO128 item: an image and one class present in it (every class of every image is an item,
// images in file-name order, classes by COCO category id). Boxes are all of that class's
// annotations (crowd boxes included) as [x, y, w, h] in original pixels.
struct CocoItem {
  std::string id;  // "<image stem>:<class>", e.g. "000000000009:bowl"
  std::filesystem::path image;
  int width = 0, height = 0;
  std::string category;
  std::vector<RectF> boxes;
};
struct CocoSet {
  std::vector<std::string> classes;  // the 80 class names by category id
  std::vector<CocoItem> items;
};
// Reads <dir>/instances_coco128.json (or the COCO-format JSON given) with images in <dir>/images;
// the first `limit` items (0 = all).
CocoSet load_coco(const std::filesystem::path& dir_or_json, int limit = 0);
// The CLIP prompt of a class: "a photo of a {class}".
std::string coco_prompt(const std::string& category);
// Fraction of each patch of the model input (grid x grid, row-major) covered by the union of
// `boxes` (original pixels), mapped into model-input pixels through the preprocessing's crop;
// box parts outside the crop are dropped.
std::vector<double> box_coverage(const std::vector<RectF>& boxes, const CropGeometry& geometry,
                                 int grid);

// One SQuAD v1.1 question with its context, in the causal-LM format
//   prompt = context + "\nQuestion: " + question + "\nAnswer:",  target = " " + first answer
// Ground truth: the sentence(s) of the context holding the first answer's span (sentences end at
// . ! ? followed by whitespace or the end of the context; leading whitespace is not part of a
// sentence; an answer crossing a sentence end takes both sentences).
struct SquadItem {
  std::string id, title, question, answer;
  std::string prompt, target;
  std::pair<int64_t, int64_t> answer_span{0, 0};    // code points of the prompt
  std::pair<int64_t, int64_t> sentence_span{0, 0};  // code points of the prompt
  std::string sentence;
};
// Reads a SQuAD v1.1 JSON file (the first `limit` questions; 0 = all).
std::vector<SquadItem> load_squad(const std::filesystem::path& json, int limit = 0);
std::string squad_prompt(const std::string& context, const std::string& question);
// [begin, end) code points of the sentence(s) of `text` covering code points [begin, end).
std::pair<int64_t, int64_t> sentence_span(const std::string& text, int64_t begin, int64_t end);

// Items whose language-model input (prompt tokens + target tokens - 1) fits in the model's
// context and in `max_tokens` (0 = no extra limit); stops after `limit` fitting items (0 = all).
struct SquadSelection {
  std::vector<SquadItem> items;
  int skipped = 0;  // items read but too long
};
SquadSelection select_fitting(const Model& model, const std::vector<SquadItem>& items,
                              int max_tokens = 0, int limit = 0);

// ---- methods and the runner ----

// "atman_single" / "atman_correlated" = AtMan in single / correlated mode; "random" = the
// reference: independent uniform random values per candidate (a fixed seed per item index, so runs
// repeat); any other name is looked up in make_explainer() (explainer_names()) when the run starts.
struct Method {
  std::string name;
  std::string explainer = "atman";
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
  double deletion_auc = 0, insertion_auc = 0;  // means; 0 without faithfulness
  double seconds = 0;    // wall-clock seconds of all explanations of this method
  int64_t forwards = 0;  // forward passes run (perturbations + one unperturbed per item)
  std::vector<double> precision, recall, deletion, insertion;
  std::vector<int> hits;
};

// What one method scored on one item: the unit that sharded and resumed runs are assembled from.
struct ItemResult {
  int item = 0;          // index in the evaluation set as loaded (also the random reference's seed)
  std::string key;       // the item's id in the data set: a resumed run checks it still matches
  std::string method;    // Method::name
  ItemScore score;       // with the faithfulness AUCs when measured
  double seconds = 0;    // wall-clock seconds of the explanation
  int64_t forwards = 0;  // forward passes it ran (perturbations + the unperturbed one)
};

struct Report {
  std::string dataset;  // "shapes-eval" | "facts-eval" | "coco128" | "squad"
  std::string model;
  int n = 0;
  int skipped = 0;             // items left out (SQuAD: too long for the model)
  double chance = 0;           // mean fraction of candidates inside the ground truth
  int faithfulness_steps = 0;  // 0 = deletion / insertion not measured
  std::vector<MethodReport> methods;
  // The per-item results the summaries were made from, by item index, then in method order.
  std::vector<ItemResult> items;
};

struct RunOptions {
  int batch_size = 0;  // ExplainRequest::batch_size
  // AtMan methods: ExplainRequest::adaptive, adaptive_threshold, adaptive_group.
  bool adaptive = false;
  double adaptive_threshold = 0.01;
  int adaptive_group = 4;
  // Deletion / insertion curves with at most this many steps per item; 0 = not measured.
  int faithfulness_steps = 20;
  // LLaVA prompt for shapes-eval; empty = the model folder's prompt_format.json.
  std::string llava_prompt;
  // Called after each item with (items done, items total, method name); return false to cancel.
  std::function<bool(int, int, const std::string&)> progress;

  // A subset of the items (sharded and resumed runs). The run covers the items with index
  // i % shards == shard (round-robin, so that long and short items spread over the shards), and of
  // those only the ones listed in `items` when it is not empty. The report then summarizes that
  // subset; assemble_report() joins the per-item results of several such runs.
  int shard = 0, shards = 1;
  std::vector<int> items;
  // Results finished earlier (a resumed run, atman/eval_results.h): an (item, method) found here is
  // not run again but its result is taken. InputError when its key differs from the item's id (the
  // data changed under the results).
  std::vector<ItemResult> finished;
  // Called with each newly computed result as soon as it is scored (to append it to a file).
  std::function<void(const ItemResult&)> on_result;
};

// Explains every item with each method and scores it against the ground truth.
// shapes: CLIP = the image patches for the target label among the 25 labels; LLaVA = the image
//   tokens for the target shape's phrase llava_target() after llava_prompt().
// facts, squad: a causal LM's prompt tokens for the target.
// coco: a CLIP model's image patches for "a photo of a {class}" among the 80 class prompts.
Report evaluate_shapes(const std::shared_ptr<const Model>& model,
                       const std::vector<ShapesItem>& items, const std::vector<Method>& methods,
                       const RunOptions& options = {});
Report evaluate_facts(const std::shared_ptr<const Model>& model,
                      const std::vector<FactsItem>& items, const std::vector<Method>& methods,
                      const RunOptions& options = {});
Report evaluate_coco(const std::shared_ptr<const Model>& model, const CocoSet& set,
                     const std::vector<Method>& methods, const RunOptions& options = {});
Report evaluate_squad(const std::shared_ptr<const Model>& model,
                      const std::vector<SquadItem>& items, const std::vector<Method>& methods,
                      const RunOptions& options = {});

// Summaries from per-item scores (what the runners use).
MethodReport summarize(const std::string& name, const std::vector<ItemScore>& scores,
                       double seconds);

// The report of per-item results exactly as one process that ran them all would have written it:
// the summaries come from the results in item order whatever order they are given in (duplicates of
// an (item, method) count once). `header` gives the dataset, model, skipped, faithfulness steps and
// the methods (names and κ, in order); n is the number of distinct items. InputError when a result
// names a method the header lacks, or a method lacks an item that another method has.
Report assemble_report(const Report& header, std::vector<ItemResult> results);

// One result as a single-line JSON object (no newline), every double exactly as computed (the
// shortest text that reads back to the same value), and back; InputError on a malformed line.
std::string to_json_line(const ItemResult& result);
ItemResult item_result_from_json(const std::string& line);

// {"dataset", "model", "n", "skipped", "chance", "faithfulness_steps", "methods": {name: {"mAP",
// "mAR", "mAP_iq", "mAR_iq", "pointing", "deletion_auc", "insertion_auc", "seconds", "forwards",
// "n", "kappa" (correlated only)}}}
std::string to_json(const Report& report, int indent = 2);
// method x metric table (mAP, mAR, mAP_iq, mAR_iq, pointing, deletion AUC, insertion AUC, seconds).
std::string to_markdown(const Report& report);
// The same table as CSV: method,kappa,n,mAP,mAR,mAP_iq,mAR_iq,pointing,deletion_auc,
// insertion_auc,seconds,forwards.
std::string to_csv(const Report& report);

}  // namespace atman::eval
