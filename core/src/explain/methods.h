// The baselines' constructors, for the method registry (registry.cpp). Core-internal.
#pragma once

#include <memory>

#include "atman/explainer.h"

namespace atman::detail {

std::unique_ptr<Explainer> make_attention_explainer(bool rollout);
std::unique_ptr<Explainer> make_ixg_explainer();
std::unique_ptr<Explainer> make_ig_explainer(int steps);  // steps already validated
std::unique_ptr<Explainer> make_gradcam_explainer();
std::unique_ptr<Explainer> make_chefer_explainer();

}  // namespace atman::detail
