// `atman generate`: greedy continuation, optionally steered (prompt text or image regions
// suppressed or amplified), printing how the answer changes.
#include <iostream>
#include <nlohmann/json.hpp>

#include "atman/conventions.h"
#include "atman/error.h"
#include "atman/inference.h"
#include "backend.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {
namespace {

std::pair<std::string, float> split_factor(const std::string& spec, const std::string& option) {
  auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--" + option + " expects WHAT=FACTOR, got '" + spec + "'");
  try {
    return {spec.substr(0, eq), std::stof(spec.substr(eq + 1))};
  } catch (const std::exception&) {
    throw InputError("--" + option + ": '" + spec.substr(eq + 1) + "' is not a number");
  }
}

// Code point offsets of every occurrence of `needle` in `text` (both UTF-8).
std::vector<std::pair<int64_t, int64_t>> find_all(const std::string& text,
                                                  const std::string& needle) {
  auto code_points = [](const std::string& s, size_t bytes) {
    int64_t n = 0;
    for (size_t i = 0; i < bytes; ++i) n += (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    return n;
  };
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    out.push_back({code_points(text, at), code_points(text, at + needle.size())});
  return out;
}

std::vector<SteeringFactor> steering_from(const Args& args, const Backend& backend,
                                          const std::string& prompt, const RgbImage* image) {
  std::vector<SteeringFactor> steering;
  if (args.all("steer-text").empty() && args.all("steer-patches").empty()) return steering;
  // The image tells Qwen2.5-VL how many image tokens the prompt holds.
  auto layout = backend.input_layout(prompt, image);
  for (const auto& spec : args.all("steer-text")) {
    auto [needle, factor] = split_factor(spec, "steer-text");
    auto hits = find_all(prompt, needle);
    if (hits.empty())
      throw InputError("--steer-text: '" + needle + "' does not occur in the prompt");
    for (size_t p = 0; p < layout.size(); ++p)
      for (auto [b, e] : hits)
        if (!layout[p].is_image && layout[p].span.first < e && layout[p].span.second > b)
          steering.push_back({static_cast<int64_t>(p), factor});
  }
  for (const auto& spec : args.all("steer-patches")) {
    auto [region, factor] = split_factor(spec, "steer-patches");
    int r0, r1, c0, c1;
    if (std::sscanf(region.c_str(), "%d:%d,%d:%d", &r0, &r1, &c0, &c1) != 4)
      throw InputError("--steer-patches expects ROW0:ROW1,COL0:COL1=FACTOR (inclusive), got '" +
                       spec + "'");
    const auto positions = patch_region_positions(layout, r0, r1, c0, c1);
    for (int64_t p : positions) steering.push_back({p, factor});
    if (positions.empty())
      throw InputError("--steer-patches: no image tokens in rows " + std::to_string(r0) + ".." +
                       std::to_string(r1) + ", columns " + std::to_string(c0) + ".." +
                       std::to_string(c1));
  }
  return steering;
}

}  // namespace

int run_generate(int argc, char** argv) {
  Args args(argc, argv, 2,
            server_options(common_options({"model", "image", "prompt", "question", "max-new-tokens",
                                           "steer-text", "steer-patches"})),
            {"log-additive"});
  apply_common(args);
  const Backend backend = open_backend(args);  // local, or on --server
  std::optional<RgbImage> image;
  if (args.has("image")) image = load_image(args.get("image"));
  const RgbImage* input = image ? &*image : nullptr;
  const std::string prompt = prompt_arg(args, *backend.model, image.has_value());
  const int max_new = args.integer("max-new-tokens", 32);
  auto steering = steering_from(args, backend, prompt, input);
  const auto variant = args.has("log-additive") ? SuppressionVariant::LogAdditive
                                                : SuppressionVariant::Multiplicative;
  Generation plain =
      backend.generate(prompt, max_new, input, {}, SuppressionVariant::Multiplicative);
  nlohmann::json out{{"ids", plain.ids}, {"tokens", plain.tokens}, {"text", plain.text}};
  std::optional<Generation> steered;
  if (!steering.empty()) {
    steered = backend.generate(prompt, max_new, input, steering, variant);
    out["steered"] = {{"ids", steered->ids},
                      {"tokens", steered->tokens},
                      {"text", steered->text},
                      {"positions", steering.size()}};
  }
  if (args.has("json")) {
    emit_json(args, out.dump());
  } else if (steered) {
    std::cout << "plain:   " << plain.text << "\nsteered: " << steered->text << "  ("
              << steering.size() << " positions)\n";
  } else {
    std::cout << plain.text << "\n";
  }
  return 0;
}

}  // namespace atman::cli
