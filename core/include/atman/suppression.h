// How attention to a suppressed token is reduced (spec §1). Torch-free: the GUI uses it too.
#pragma once

namespace atman {

enum class SuppressionVariant {
  Multiplicative,  // S' = (S - rowmin(S)) * m  (the paper and the official code; default)
  LogAdditive,     // S' = S/sqrt(d) + log(m)    (the hosted API's default)
};

}  // namespace atman
