#include "view_options.h"

#include <algorithm>
#include <cmath>

namespace atman::ui {

double maxTokenValue(const Explanation& e) {
  double m = 0;
  for (const auto& c : e.candidates)
    if (c.kind == CandidateKind::Token && std::isfinite(c.value)) m = std::max(m, c.value);
  return m;
}

Scales scalesOf(const Explanation& e) {
  return {max_patch_value(e), maxTokenValue(e)};
}

Scales sharedScales(const Scales& a, const Scales& b) {
  return {std::max(a.patches, b.patches), std::max(a.tokens, b.tokens)};
}

}  // namespace atman::ui
