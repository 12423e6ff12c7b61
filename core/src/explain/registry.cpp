// The one table of explanation methods. make_explainer / explainer_names (atman/explainer.h) and
// make_baseline / baseline_names (atman/baselines.h) are views of it.
#include "atman/registry.h"

#include <functional>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/names.h"
#include "explain/methods.h"

namespace atman {
namespace {

struct Entry {
  MethodInfo info;
  std::function<std::unique_ptr<Explainer>(const MethodOptions&)> make;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    auto entry = [](ExplainMethod m, bool sweep, auto make) {
      return Entry{MethodInfo{m, to_string(m), sweep}, make};
    };
    return std::vector<Entry>{
        entry(ExplainMethod::Atman, true,
              [](const MethodOptions&) -> std::unique_ptr<Explainer> {
                return std::make_unique<AtmanExplainer>();
              }),
        entry(ExplainMethod::Attention, false,
              [](const MethodOptions&) { return detail::make_attention_explainer(false); }),
        entry(ExplainMethod::Rollout, false,
              [](const MethodOptions&) { return detail::make_attention_explainer(true); }),
        entry(ExplainMethod::InputXGradient, false,
              [](const MethodOptions&) { return detail::make_ixg_explainer(); }),
        entry(ExplainMethod::IntegratedGradients, false,
              [](const MethodOptions& o) {
                if (o.ig_steps < 1 || o.ig_steps > 4096)
                  throw InputError("Integrated Gradients needs 1..4096 steps, got " +
                                   std::to_string(o.ig_steps));
                return detail::make_ig_explainer(o.ig_steps);
              }),
        entry(ExplainMethod::GradCam, false,
              [](const MethodOptions&) { return detail::make_gradcam_explainer(); }),
        entry(ExplainMethod::Chefer, false,
              [](const MethodOptions&) { return detail::make_chefer_explainer(); }),
    };
  }();
  return table;
}

std::string listing(bool baselines_only) {
  std::string names;
  for (const auto& e : entries())
    if (!baselines_only || e.info.method != ExplainMethod::Atman)
      names += (names.empty() ? "" : ", ") + std::string(e.info.name);
  return names;
}

}  // namespace

// Only AtMan overrides this (MethodInfo::kappa_sweep).
std::vector<Explanation> Explainer::kappa_sweep(const ExplainRequest&, const std::vector<double>&,
                                                const ProgressFn&) {
  throw InputError("a κ sweep is AtMan's (correlated mode); the '" + name() +
                   "' method has no κ: use the method 'atman' or drop the sweep");
}

const std::vector<MethodInfo>& explanation_methods() {
  static const std::vector<MethodInfo> infos = [] {
    std::vector<MethodInfo> out;
    for (const auto& e : entries()) out.push_back(e.info);
    return out;
  }();
  return infos;
}

std::unique_ptr<Explainer> create_explainer(std::string_view name, const MethodOptions& options) {
  for (const auto& e : entries())
    if (e.info.name == name) return e.make(options);
  throw InputError("unknown explanation method '" + std::string(name) +
                   "'; available: " + listing(false));
}

std::unique_ptr<Explainer> create_explainer(ExplainMethod method, const MethodOptions& options) {
  return create_explainer(to_string(method), options);
}

std::unique_ptr<Explainer> make_explainer(const std::string& method) {
  return create_explainer(method);  // default options (IG: 20 steps)
}

std::vector<std::string> explainer_names() {
  std::vector<std::string> names;
  for (const auto& e : entries()) names.emplace_back(e.info.name);
  return names;
}

std::vector<std::string> baseline_names() {
  std::vector<std::string> names;
  for (const auto& e : entries())
    if (e.info.method != ExplainMethod::Atman) names.emplace_back(e.info.name);
  return names;
}

std::unique_ptr<Explainer> make_baseline(const std::string& method,
                                         const BaselineOptions& options) {
  if (method == "atman")  // a baseline factory never makes AtMan
    throw InputError("unknown baseline method 'atman'; available: " + listing(true));
  for (const auto& e : entries())
    if (e.info.name == method) return e.make(MethodOptions{options.ig_steps});
  throw InputError("unknown baseline method '" + method + "'; available: " + listing(true));
}

}  // namespace atman
