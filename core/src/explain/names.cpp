#include "atman/names.h"

#include <array>
#include <utility>

#include "atman/error.h"

namespace atman {
namespace {

template <typename Enum, size_t N>
using Table = std::array<std::pair<Enum, std::string_view>, N>;

// One table per enum, in declaration order. `what` names the enum in error messages.
struct Names {
  template <typename Enum, size_t N>
  static std::string_view name(const Table<Enum, N>& table, Enum value) {
    for (const auto& [v, n] : table)
      if (v == value) return n;
    return "?";  // only for a value cast from an out-of-range integer
  }
  template <typename Enum, size_t N>
  static Enum value(const Table<Enum, N>& table, std::string_view name, const char* what) {
    for (const auto& [v, n] : table)
      if (n == name) return v;
    std::string valid;
    for (const auto& entry : table)
      valid += (valid.empty() ? "" : ", ") + std::string(entry.second);
    throw InputError("unknown " + std::string(what) + " '" + std::string(name) +
                     "'; valid: " + valid);
  }
  template <typename Enum, size_t N>
  static std::vector<std::string> all(const Table<Enum, N>& table) {
    std::vector<std::string> out;
    for (const auto& entry : table) out.emplace_back(entry.second);
    return out;
  }
};

constexpr Table<ExplainWhat, 3> kExplainWhat{{{ExplainWhat::ImagePatches, "patches"},
                                              {ExplainWhat::PromptTokens, "tokens"},
                                              {ExplainWhat::All, "all"}}};
constexpr Table<SuppressionMode, 2> kSuppressionMode{
    {{SuppressionMode::Single, "single"}, {SuppressionMode::Correlated, "correlated"}}};
constexpr Table<SuppressionVariant, 2> kSuppressionVariant{
    {{SuppressionVariant::Multiplicative, "multiplicative"},
     {SuppressionVariant::LogAdditive, "log_additive"}}};
constexpr Table<PostProcess, 3> kPostProcess{{{PostProcess::None, "none"},
                                              {PostProcess::Absolute, "absolute"},
                                              {PostProcess::Square, "square"}}};
constexpr Table<Granularity, 4> kGranularity{{{Granularity::Token, "token"},
                                              {Granularity::Word, "word"},
                                              {Granularity::Sentence, "sentence"},
                                              {Granularity::Delimiter, "delimiter"}}};
constexpr Table<CandidateKind, 2> kCandidateKind{
    {{CandidateKind::Patch, "patch"}, {CandidateKind::Token, "token"}}};
constexpr Table<ModelKind, 4> kModelKind{{{ModelKind::Clip, "clip"},
                                          {ModelKind::CausalLM, "causal_lm"},
                                          {ModelKind::Llava, "llava"},
                                          {ModelKind::Siglip, "siglip"}}};
constexpr Table<SiglipLoss, 2> kSiglipLoss{
    {{SiglipLoss::Sigmoid, "sigmoid"}, {SiglipLoss::Softmax, "softmax"}}};
constexpr Table<ExplainMethod, 8> kExplainMethod{{{ExplainMethod::Atman, "atman"},
                                                  {ExplainMethod::Attention, "attention"},
                                                  {ExplainMethod::Rollout, "rollout"},
                                                  {ExplainMethod::InputXGradient, "ixg"},
                                                  {ExplainMethod::IntegratedGradients, "ig"},
                                                  {ExplainMethod::GradCam, "gradcam"},
                                                  {ExplainMethod::Chefer, "chefer"},
                                                  {ExplainMethod::Random, "random"}}};

}  // namespace

#define ATMAN_DEFINE_NAMES(Enum, table, what)     \
  std::string_view to_string(Enum value) {        \
    return Names::name(table, value);             \
  }                                               \
  template <>                                     \
  Enum from_string<Enum>(std::string_view name) { \
    return Names::value(table, name, what);       \
  }                                               \
  template <>                                     \
  std::vector<std::string> enum_names<Enum>() {   \
    return Names::all(table);                     \
  }
ATMAN_DEFINE_NAMES(ExplainWhat, kExplainWhat, "explained unit")
ATMAN_DEFINE_NAMES(SuppressionMode, kSuppressionMode, "suppression mode")
ATMAN_DEFINE_NAMES(SuppressionVariant, kSuppressionVariant, "suppression variant")
ATMAN_DEFINE_NAMES(PostProcess, kPostProcess, "post-processing")
ATMAN_DEFINE_NAMES(Granularity, kGranularity, "granularity")
ATMAN_DEFINE_NAMES(CandidateKind, kCandidateKind, "candidate kind")
ATMAN_DEFINE_NAMES(ModelKind, kModelKind, "model kind")
ATMAN_DEFINE_NAMES(ExplainMethod, kExplainMethod, "explanation method")
ATMAN_DEFINE_NAMES(SiglipLoss, kSiglipLoss, "SigLIP loss")
#undef ATMAN_DEFINE_NAMES

}  // namespace atman
