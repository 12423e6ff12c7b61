// Explains every item of an evaluation set with each method and scores it (see atman/eval.h).
// Methods are resolved through make_explainer() when a run starts, so every registered explainer
// (AtMan and the gradient baselines) is evaluated by the same code.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "atman/error.h"
#include "atman/eval.h"

namespace atman::eval {
namespace {

using Clock = std::chrono::steady_clock;

struct AtmanMode {
  const char* name;
  SuppressionMode mode;
};
constexpr AtmanMode kAtmanModes[] = {{"atman_single", SuppressionMode::Single},
                                     {"atman_correlated", SuppressionMode::Correlated}};
// The reference: uniform random values per candidate (seeded by the item's index).
constexpr const char* kRandom = "random";

double timed_seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One item as the runner sees it: what to explain and where the ground truth lies.
struct Job {
  std::string key;              // the item's id (ItemResult::key)
  std::filesystem::path image;  // empty: no image
  std::string prompt, target;
  const std::vector<std::string>* labels = nullptr;  // CLIP: owned by the caller
  ExplainWhat explain = ExplainWhat::ImagePatches;
  std::vector<double> patch_truth;           // patches: one value per patch, row-major
  std::pair<int64_t, int64_t> token_span{};  // tokens: the ground-truth span of the prompt
};

// The last image loaded: consecutive jobs often share one (COCO: one job per class present).
class ImageCache {
 public:
  std::shared_ptr<const RgbImage> get(const std::filesystem::path& path) {
    if (!image_ || path != path_) {
      image_ = std::make_shared<const RgbImage>(load_image(path));
      path_ = path;
    }
    return image_;
  }

 private:
  std::filesystem::path path_;
  std::shared_ptr<const RgbImage> image_;
};

std::vector<double> candidate_values(const Explanation& e) {
  std::vector<double> x;
  x.reserve(e.candidates.size());
  for (const auto& c : e.candidates) x.push_back(c.value);
  return x;
}

// The indices of the items a run covers (RunOptions::shard, shards, items), ascending.
std::vector<int> selected_items(int n, const RunOptions& options) {
  if (options.shards < 1 || options.shard < 0 || options.shard >= options.shards)
    throw InputError("shard " + std::to_string(options.shard) + " of " +
                     std::to_string(options.shards) + " does not exist: give 0 <= i < n");
  std::vector<int> listed = options.items;
  std::sort(listed.begin(), listed.end());
  std::vector<int> selected;
  for (int i = options.shard; i < n; i += options.shards)
    if (listed.empty() || std::binary_search(listed.begin(), listed.end(), i))
      selected.push_back(i);
  return selected;
}

Report run(const std::string& dataset, const std::shared_ptr<const Model>& model,
           const std::vector<Job>& jobs, const std::vector<Method>& methods,
           const RunOptions& options) {
  if (methods.empty()) throw InputError("no evaluation methods given");
  if (options.faithfulness_steps < 0) throw InputError("faithfulness steps must be >= 0 (0 = off)");
  const int n = static_cast<int>(jobs.size());
  const std::vector<int> selected = selected_items(n, options);
  Report header;
  header.dataset = dataset;
  header.model = model->name();
  header.faithfulness_steps = options.faithfulness_steps;
  // Results finished earlier, by (item, method).
  std::map<std::pair<int, std::string>, const ItemResult*> finished;
  for (const auto& f : options.finished) finished.emplace(std::pair(f.item, f.method), &f);
  std::vector<ItemResult> results;
  ImageCache images;
  for (const Method& method : methods) {
    MethodReport named;
    named.name = method.name;
    named.kappa = method.explainer == "atman" && method.mode == SuppressionMode::Correlated
                      ? method.kappa
                      : 0.0;
    header.methods.push_back(named);
    // A fresh explainer (and cache) per method: its timing owes nothing to another's.
    const bool random = method.explainer == kRandom;
    std::unique_ptr<Explainer> explainer =
        random ? std::make_unique<AtmanExplainer>() : make_explainer(method.explainer);
    auto* atman = dynamic_cast<AtmanExplainer*>(explainer.get());
    int done = 0;
    for (const int i : selected) {
      const Job& job = jobs[i];
      if (auto f = finished.find({i, method.name}); f != finished.end()) {
        if (f->second->key != job.key)
          throw InputError("the results to resume say item " + std::to_string(i) + " is '" +
                           f->second->key + "' but the data has '" + job.key +
                           "' there: the data changed; start with another results file");
        results.push_back(*f->second);
        if (options.progress && !options.progress(++done, int(selected.size()), method.name))
          throw Cancelled();
        continue;
      }
      ExplainRequest r;
      r.model = model;
      r.mode = method.mode;
      r.kappa = method.kappa;
      r.batch_size = options.batch_size;
      r.adaptive = options.adaptive && !random;
      r.adaptive_threshold = options.adaptive_threshold;
      r.adaptive_group = options.adaptive_group;
      if (!job.image.empty()) r.image = images.get(job.image);
      r.prompt = job.prompt;
      r.target = job.target;
      if (job.labels) r.labels = *job.labels;
      r.explain = job.explain;
      // AtMan with f = 0 suppresses nothing, so it runs only the unperturbed pass: the candidates
      // without values, for the random reference to fill.
      if (random) r.factor = 0;

      const auto start = Clock::now();
      Explanation e = explainer->attribute(r);
      if (random) {
        // Seeded by the item's index in the whole set, so that a shard repeats a full run.
        std::mt19937_64 rng(0x5eed + static_cast<uint64_t>(i));
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        for (auto& c : e.candidates) c.value = uniform(rng);
        e.method = ExplainMethod::Random;
      }
      ItemResult result;
      result.item = i;
      result.key = job.key;
      result.method = method.name;
      result.seconds = timed_seconds(start);
      result.forwards = e.timings.forwards + 1;  // + the unperturbed forward
      if (atman) atman->clear_cache();

      const std::vector<double> values = candidate_values(e);
      ItemScore& s = result.score;
      if (job.explain == ExplainWhat::ImagePatches) {
        if (values.size() != job.patch_truth.size())
          throw InputError("method " + method.name + " explained " + std::to_string(values.size()) +
                           " candidates but the ground truth has " +
                           std::to_string(job.patch_truth.size()) + " patches");
        s = score(e.patch_heatmap(), job.patch_truth);
      } else {
        s = score(values, token_truth(e, job.token_span));
      }
      if (options.faithfulness_steps > 0) {
        const Curves c = faithfulness(r, values, options.faithfulness_steps);
        s.deletion_auc = c.deletion_auc;
        s.insertion_auc = c.insertion_auc;
      }
      if (options.on_result) options.on_result(result);
      results.push_back(std::move(result));
      if (options.progress && !options.progress(++done, int(selected.size()), method.name))
        throw Cancelled();
    }
  }
  return assemble_report(header, std::move(results));
}

std::string fixed(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

void check_grid(const Model& model, const std::string& id, int grid) {
  if (grid != model.patch_grid())
    throw InputError("item " + id + " has a " + std::to_string(grid) + "x" + std::to_string(grid) +
                     " patch grid but model '" + model.name() + "' has " +
                     std::to_string(model.patch_grid()) + "x" + std::to_string(model.patch_grid()));
}

}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : kAtmanModes) names.push_back(m.name);
  for (const auto& e : explainer_names())
    if (e != "atman") names.push_back(e);
  names.push_back(kRandom);
  return names;
}

std::vector<Method> parse_methods(const std::string& names, double kappa) {
  std::vector<Method> out;
  const std::vector<std::string> registered = explainer_names();
  std::stringstream in(names);
  for (std::string name; std::getline(in, name, ',');) {
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty()) continue;
    bool found = false;
    for (const auto& m : kAtmanModes)
      if (name == m.name) {
        out.push_back({m.name, "atman", m.mode, kappa});
        found = true;
      }
    if (!found && name == kRandom) {
      out.push_back({name, kRandom, SuppressionMode::Single, kappa});
      found = true;
    }
    if (!found && name != "atman" &&
        std::find(registered.begin(), registered.end(), name) != registered.end()) {
      out.push_back({name, name, SuppressionMode::Single, kappa});
      found = true;
    }
    if (!found) {
      std::string known;
      for (const auto& n : method_names()) known += (known.empty() ? "" : ", ") + n;
      throw InputError("unknown evaluation method '" + name + "'; available: " + known);
    }
  }
  if (out.empty()) throw InputError("no evaluation methods given");
  return out;
}

Report evaluate_shapes(const std::shared_ptr<const Model>& model,
                       const std::vector<ShapesItem>& items, const std::vector<Method>& methods,
                       const RunOptions& options) {
  if (!model || (model->kind() != ModelKind::Clip && model->kind() != ModelKind::Llava))
    throw InputError(
        "shapes-eval explains image patches of a CLIP or LLaVA model; give one (e.g. shapes-clip, "
        "shapes-llava)");
  const bool llava = model->kind() == ModelKind::Llava;
  const std::string prompt =
      llava ? (options.llava_prompt.empty() ? llava_prompt(*model) : options.llava_prompt) : "";
  std::vector<Job> jobs;
  for (const auto& item : items) {
    check_grid(*model, item.id, item.grid);
    Job job;
    job.key = item.id;
    job.image = item.image;
    job.explain = ExplainWhat::ImagePatches;
    job.patch_truth = item.coverage;
    if (llava) {
      job.prompt = prompt;
      job.target = llava_target(item);
    } else {
      job.target = item.target;
      job.labels = &item.labels;
    }
    jobs.push_back(std::move(job));
  }
  return run("shapes-eval", model, jobs, methods, options);
}

Report evaluate_facts(const std::shared_ptr<const Model>& model,
                      const std::vector<FactsItem>& items, const std::vector<Method>& methods,
                      const RunOptions& options) {
  if (!model || model->kind() != ModelKind::CausalLM)
    throw InputError(
        "facts-eval explains a language model's prompt tokens; give a causal LM (e.g. facts-gpt2)");
  std::vector<Job> jobs;
  for (const auto& item : items) {
    Job job;
    job.key = std::to_string(item.id);
    job.prompt = item.prompt;
    job.target = item.target;
    job.explain = ExplainWhat::PromptTokens;
    job.token_span = item.answer_span;
    jobs.push_back(std::move(job));
  }
  return run("facts-eval", model, jobs, methods, options);
}

Report evaluate_coco(const std::shared_ptr<const Model>& model, const CocoSet& set,
                     const std::vector<Method>& methods, const RunOptions& options) {
  if (!model || model->kind() != ModelKind::Clip)
    throw InputError("coco explains a CLIP model's image patches; give a CLIP model");
  std::vector<std::string> labels;
  for (const auto& c : set.classes) labels.push_back(coco_prompt(c));
  std::vector<Job> jobs;
  ImageCache images;
  for (const auto& item : set.items) {
    Job job;
    job.key = item.id;
    job.image = item.image;
    job.target = coco_prompt(item.category);
    job.labels = &labels;
    job.explain = ExplainWhat::ImagePatches;
    // The crop geometry of this image under the model's preprocessing maps the boxes to patches.
    const PixelTensor pixels = preprocess_clip(*images.get(item.image), model->preprocess_config());
    job.patch_truth = box_coverage(item.boxes, pixels.geometry, model->patch_grid());
    jobs.push_back(std::move(job));
  }
  return run("coco128", model, jobs, methods, options);
}

Report evaluate_squad(const std::shared_ptr<const Model>& model,
                      const std::vector<SquadItem>& items, const std::vector<Method>& methods,
                      const RunOptions& options) {
  if (!model || model->kind() != ModelKind::CausalLM)
    throw InputError("squad explains a language model's prompt tokens; give a causal LM");
  std::vector<Job> jobs;
  for (const auto& item : items) {
    Job job;
    job.key = item.id;
    job.prompt = item.prompt;
    job.target = item.target;
    job.explain = ExplainWhat::PromptTokens;
    job.token_span = item.sentence_span;
    jobs.push_back(std::move(job));
  }
  return run("squad", model, jobs, methods, options);
}

std::string to_json(const Report& report, int indent) {
  nlohmann::json methods = nlohmann::json::object();
  for (const auto& m : report.methods) {
    nlohmann::json j = {{"mAP", m.mAP},       {"mAR", m.mAR},           {"mAP_iq", m.mAP_iq},
                        {"mAR_iq", m.mAR_iq}, {"pointing", m.pointing}, {"seconds", m.seconds},
                        {"n", m.n},           {"forwards", m.forwards}};
    if (report.faithfulness_steps > 0) {
      j["deletion_auc"] = m.deletion_auc;
      j["insertion_auc"] = m.insertion_auc;
    } else {  // not measured
      j["deletion_auc"] = nullptr;
      j["insertion_auc"] = nullptr;
    }
    if (m.kappa != 0) j["kappa"] = m.kappa;
    methods[m.name] = j;
  }
  nlohmann::json j = {{"dataset", report.dataset},
                      {"model", report.model},
                      {"n", report.n},
                      {"skipped", report.skipped},
                      {"chance", report.chance},
                      {"faithfulness_steps", report.faithfulness_steps},
                      {"methods", methods}};
  return j.dump(indent);
}

namespace {
std::string display_name(const MethodReport& m) {
  return m.kappa != 0 ? m.name + " (κ=" + fixed(m.kappa, 2) + ")" : m.name;
}

// Probabilities of long LM targets can be tiny: keep three significant digits there.
std::string probability_text(double v) {
  if (v == 0 || v >= 0.01) return fixed(v, 3);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2e", v);
  return buffer;
}
}  // namespace

std::string to_markdown(const Report& report) {
  const bool faithful = report.faithfulness_steps > 0;
  std::ostringstream out;
  out << report.dataset << ", model " << report.model << ", n = " << report.n;
  if (report.skipped > 0) out << " (" << report.skipped << " skipped: too long)";
  out << ", pointing chance = " << fixed(report.chance, 3) << "\n\n";
  out << "| method | mAP | mAR | mAP_iq | mAR_iq | pointing | deletion AUC ↓ | insertion AUC ↑ | "
         "seconds |\n";
  out << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& m : report.methods) {
    out << "| " << display_name(m) << " | " << fixed(m.mAP, 3) << " | " << fixed(m.mAR, 3) << " | "
        << fixed(m.mAP_iq, 3) << " | " << fixed(m.mAR_iq, 3) << " | " << fixed(m.pointing, 3)
        << " | " << (faithful ? probability_text(m.deletion_auc) : "–") << " | "
        << (faithful ? probability_text(m.insertion_auc) : "–") << " | " << fixed(m.seconds, 1)
        << " |\n";
  }
  return out.str();
}

std::string to_csv(const Report& report) {
  auto sci = [](double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", v);
    return std::string(buffer);
  };
  const bool faithful = report.faithfulness_steps > 0;
  std::ostringstream out;
  out << "method,kappa,n,mAP,mAR,mAP_iq,mAR_iq,pointing,deletion_auc,insertion_auc,seconds,"
         "forwards\n";
  for (const auto& m : report.methods) {
    out << m.name << ',' << (m.kappa != 0 ? fixed(m.kappa, 2) : "") << ',' << m.n << ','
        << fixed(m.mAP, 6) << ',' << fixed(m.mAR, 6) << ',' << fixed(m.mAP_iq, 6) << ','
        << fixed(m.mAR_iq, 6) << ',' << fixed(m.pointing, 6) << ','
        << (faithful ? sci(m.deletion_auc) : "") << ',' << (faithful ? sci(m.insertion_auc) : "")
        << ',' << fixed(m.seconds, 3) << ',' << m.forwards << '\n';
  }
  return out.str();
}

}  // namespace atman::eval
