// The explanation methods, by name: one table (registry.cpp) of AtMan and the baselines of
// atman/baselines.h, read by the CLI (--method), the evaluation runner and the GUI. Torch-free.
//
//   for (const auto& m : atman::explanation_methods()) std::cout << m.name << "\n";
//   auto ig = atman::create_explainer("ig", {.ig_steps = 50});
//   atman::Explanation e = ig->attribute(request);
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "atman/explainer.h"

namespace atman {

// Options of the methods that have any; each method reads only its own.
struct MethodOptions {
  int ig_steps = 20;  // Integrated Gradients: Riemann steps (1..4096)
};

struct MethodInfo {
  ExplainMethod method;
  std::string_view name;  // as to_string(method) (atman/names.h) spells it
  // Explainer::kappa_sweep works (AtMan); the others throw InputError for a sweep.
  bool kappa_sweep = false;
};

// Every method create_explainer() makes, AtMan first. ExplainMethod::Random (the evaluation's
// chance reference, atman/eval.h) is not one: it has no explainer.
const std::vector<MethodInfo>& explanation_methods();

// A new explainer (with its own caches) for `name`. InputError for an unknown name, listing the
// valid ones, or for an option out of range (IG steps).
std::unique_ptr<Explainer> create_explainer(std::string_view name,
                                            const MethodOptions& options = {});
std::unique_ptr<Explainer> create_explainer(ExplainMethod method,
                                            const MethodOptions& options = {});

}  // namespace atman
