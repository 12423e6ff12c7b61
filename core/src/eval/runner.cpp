// Explains every item of an evaluation set with each method and scores it (see atman/eval.h).
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "atman/error.h"
#include "atman/eval.h"

namespace atman::eval {
namespace {

using Clock = std::chrono::steady_clock;

struct MethodInfo {
  const char* name;
  SuppressionMode mode;
};
constexpr MethodInfo kMethods[] = {{"atman_single", SuppressionMode::Single},
                                   {"atman_correlated", SuppressionMode::Correlated}};

double timed_seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void report_progress(const RunOptions& options, int done, int total, const std::string& method) {
  if (options.progress && !options.progress(done, total, method)) throw Cancelled();
}

ExplainRequest base_request(const std::shared_ptr<const Model>& model, const Method& method,
                            const RunOptions& options) {
  ExplainRequest r;
  r.model = model;
  r.mode = method.mode;
  r.kappa = method.kappa;
  r.batch_size = options.batch_size;
  return r;
}

// Runs `explain_item(explainer, request template, i, explanation out)` for every item with every
// method, timing each call.
template <typename ExplainItem>
Report run(const std::string& dataset, const std::shared_ptr<const Model>& model, int n,
           const std::vector<Method>& methods, const RunOptions& options,
           ExplainItem explain_item) {
  if (methods.empty()) throw InputError("no evaluation methods given");
  Report report;
  report.dataset = dataset;
  report.model = model->name();
  report.n = n;
  for (size_t m = 0; m < methods.size(); ++m) {
    const Method& method = methods[m];
    AtmanExplainer explainer;  // a fresh cache per method: its timing owes nothing to another's
    std::vector<ItemScore> scores;
    double seconds = 0;
    int64_t forwards = 0;
    for (int i = 0; i < n; ++i) {
      ExplainRequest request = base_request(model, method, options);
      Explanation e;
      const auto start = Clock::now();
      scores.push_back(explain_item(explainer, request, i, e));
      seconds += timed_seconds(start);
      forwards += e.timings.forwards + 1;  // + the unperturbed forward
      explainer.clear_cache();
      report_progress(options, i + 1, n, method.name);
    }
    MethodReport summary = summarize(method.name, scores, seconds);
    summary.kappa = method.mode == SuppressionMode::Correlated ? method.kappa : 0.0;
    summary.forwards = forwards;
    if (m == 0) {
      double chance = 0;
      for (const auto& s : scores) chance += s.chance;
      report.chance = n > 0 ? chance / n : 0.0;
    }
    report.methods.push_back(std::move(summary));
  }
  return report;
}

std::string fixed(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : kMethods) names.push_back(m.name);
  return names;
}

std::vector<Method> parse_methods(const std::string& names, double kappa) {
  std::vector<Method> out;
  std::stringstream in(names);
  for (std::string name; std::getline(in, name, ',');) {
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty()) continue;
    bool found = false;
    for (const auto& m : kMethods) {
      if (name == m.name) {
        out.push_back({m.name, m.mode, kappa});
        found = true;
      }
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
  if (!model || model->kind() != ModelKind::Clip)
    throw InputError(
        "shapes-eval explains a CLIP model's image patches; give a CLIP model (e.g. shapes-clip)");
  std::vector<RgbImage> images;
  for (const auto& item : items) {
    images.push_back(load_image(item.image));
    if (item.grid != model->patch_grid())
      throw InputError("item " + item.id + " has a " + std::to_string(item.grid) + "x" +
                       std::to_string(item.grid) + " patch grid but model '" + model->name() +
                       "' has " + std::to_string(model->patch_grid()) + "x" +
                       std::to_string(model->patch_grid()));
  }
  return run("shapes-eval", model, static_cast<int>(items.size()), methods, options,
             [&](AtmanExplainer& explainer, ExplainRequest& r, int i, Explanation& e) {
               r.image = images[i];
               r.labels = items[i].labels;
               r.target = items[i].target;
               r.explain = ExplainWhat::ImagePatches;
               e = explainer.attribute(r);
               return score(e.patch_heatmap(), items[i].coverage);
             });
}

Report evaluate_facts(const std::shared_ptr<const Model>& model,
                      const std::vector<FactsItem>& items, const std::vector<Method>& methods,
                      const RunOptions& options) {
  if (!model || model->kind() != ModelKind::CausalLM)
    throw InputError(
        "facts-eval explains a language model's prompt tokens; give a causal LM (e.g. facts-gpt2)");
  return run("facts-eval", model, static_cast<int>(items.size()), methods, options,
             [&](AtmanExplainer& explainer, ExplainRequest& r, int i, Explanation& e) {
               r.prompt = items[i].prompt;
               r.target = items[i].target;
               r.explain = ExplainWhat::PromptTokens;
               e = explainer.attribute(r);
               std::vector<double> x;
               for (const auto& c : e.candidates) x.push_back(c.value);
               return score(x, token_truth(e, items[i].answer_span));
             });
}

std::string to_json(const Report& report, int indent) {
  nlohmann::json methods = nlohmann::json::object();
  for (const auto& m : report.methods) {
    nlohmann::json j = {{"mAP", m.mAP},       {"mAR", m.mAR},           {"mAP_iq", m.mAP_iq},
                        {"mAR_iq", m.mAR_iq}, {"pointing", m.pointing}, {"seconds", m.seconds},
                        {"n", m.n},           {"forwards", m.forwards}};
    if (m.kappa != 0) j["kappa"] = m.kappa;
    methods[m.name] = j;
  }
  nlohmann::json j = {{"dataset", report.dataset},
                      {"model", report.model},
                      {"n", report.n},
                      {"chance", report.chance},
                      {"methods", methods}};
  return j.dump(indent);
}

std::string to_markdown(const Report& report) {
  std::ostringstream out;
  out << report.dataset << ", model " << report.model << ", n = " << report.n
      << ", pointing chance = " << fixed(report.chance, 3) << "\n\n";
  out << "| method | mAP | mAR | mAP_iq | mAR_iq | pointing | seconds |\n";
  out << "|---|---|---|---|---|---|---|\n";
  for (const auto& m : report.methods) {
    std::string name = m.name;
    if (m.kappa != 0) name += " (κ=" + fixed(m.kappa, 2) + ")";
    out << "| " << name << " | " << fixed(m.mAP, 3) << " | " << fixed(m.mAR, 3) << " | "
        << fixed(m.mAP_iq, 3) << " | " << fixed(m.mAR_iq, 3) << " | " << fixed(m.pointing, 3)
        << " | " << fixed(m.seconds, 1) << " |\n";
  }
  return out.str();
}

}  // namespace atman::eval
