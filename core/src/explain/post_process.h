// The post-processing of a candidate's summed score, shared by AtMan and the baselines so that
// ExplainRequest::post means the same for every method. Core-internal.
#pragma once

#include "atman/explanation.h"

namespace atman::detail {

double post_process(double v, PostProcess post);

}  // namespace atman::detail
