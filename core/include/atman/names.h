// The names of the core's enums, as the command line, the explanation JSON and the GUI spell them.
// Each enum has one table (names.cpp) that both directions read, so a name cannot be added to one
// direction and forgotten in the other. Torch-free.
//
//   atman::to_string(atman::SuppressionMode::Correlated)             // "correlated"
//   atman::from_string<atman::SuppressionMode>("single")             // SuppressionMode::Single
//   atman::from_string<atman::SuppressionMode>("corr")               // InputError: "... single,
//   correlated"
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "atman/explainer.h"
#include "atman/explanation.h"
#include "atman/model.h"
#include "atman/suppression.h"

namespace atman {

// "patches", "tokens", "all"
std::string_view to_string(ExplainWhat value);
// "single", "correlated"
std::string_view to_string(SuppressionMode value);
// "multiplicative", "log_additive"
std::string_view to_string(SuppressionVariant value);
// "none", "absolute", "square"
std::string_view to_string(PostProcess value);
// "token", "word", "sentence", "delimiter"
std::string_view to_string(Granularity value);
// "patch", "token"
std::string_view to_string(CandidateKind value);
// "clip", "causal_lm", "llava", "siglip"
std::string_view to_string(ModelKind value);
// "sigmoid", "softmax"
std::string_view to_string(SiglipLoss value);
// "atman", "attention", "rollout", "ixg", "ig", "gradcam", "chefer", "random"
std::string_view to_string(ExplainMethod value);

// The name of an optional value; "" when it is empty (as the explanation JSON writes it).
template <typename Enum>
std::string to_string(const std::optional<Enum>& value) {
  return value ? std::string(to_string(*value)) : std::string();
}

// The enum value of `name` (exact, case-sensitive). InputError for an unknown name, listing the
// valid ones: "unknown suppression mode 'x'; valid: single, correlated".
template <typename Enum>
Enum from_string(std::string_view name);
// Every name of the enum, in declaration order.
template <typename Enum>
std::vector<std::string> enum_names();

#define ATMAN_DECLARE_NAMES(Enum)                \
  template <>                                    \
  Enum from_string<Enum>(std::string_view name); \
  template <>                                    \
  std::vector<std::string> enum_names<Enum>();
ATMAN_DECLARE_NAMES(ExplainWhat)
ATMAN_DECLARE_NAMES(SuppressionMode)
ATMAN_DECLARE_NAMES(SuppressionVariant)
ATMAN_DECLARE_NAMES(PostProcess)
ATMAN_DECLARE_NAMES(Granularity)
ATMAN_DECLARE_NAMES(CandidateKind)
ATMAN_DECLARE_NAMES(ModelKind)
ATMAN_DECLARE_NAMES(ExplainMethod)
ATMAN_DECLARE_NAMES(SiglipLoss)
#undef ATMAN_DECLARE_NAMES

}  // namespace atman
