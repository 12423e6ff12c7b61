// Fields of a preprocessor_config.json, read with errors that name the file and the field: the one
// reader of the image processors (preprocess.cpp, qwen2_vl_image.cpp, siglip2_image.cpp,
// idefics3_image.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "atman/error.h"

namespace atman {

struct ConfigReader {
  const nlohmann::json& root;
  std::string file;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ModelError(file + ": field \"" + key + "\" " + what);
  }

  bool flag(const char* key, bool fallback) const {
    if (!root.contains(key) || root[key].is_null()) return fallback;
    if (!root[key].is_boolean()) fail(key, "must be true or false, found " + root[key].dump());
    return root[key].get<bool>();
  }

  // A whole number in [lo, hi] (HF writes some as 3.0); absent or null: the fallback.
  int64_t integer(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
    if (!root.contains(key) || root[key].is_null()) return fallback;
    const nlohmann::json& v = root[key];
    if (!v.is_number() || v.get<double>() != std::floor(v.get<double>()) ||
        v.get<double>() < double(lo) || v.get<double>() > double(hi))
      fail(key, "must be a whole number between " + std::to_string(lo) + " and " +
                    std::to_string(hi) + ", found " + v.dump());
    return static_cast<int64_t>(v.get<double>());
  }

  // HF accepts one number for all channels or one per channel.
  void triple(const char* key, float (&out)[3]) const {
    if (!root.contains(key) || root[key].is_null()) return;
    const nlohmann::json& v = root[key];
    if (v.is_number()) {
      out[0] = out[1] = out[2] = v.get<float>();
      return;
    }
    if (!v.is_array() || v.size() != 3) fail(key, "must be a list of 3 numbers, found " + v.dump());
    for (int c = 0; c < 3; ++c) {
      if (!v[c].is_number()) fail(key, "must be a list of 3 numbers, found " + v.dump());
      out[c] = v[c].get<float>();
    }
  }

  // image_mean and image_std over the defaults in `mean` and `std`; std must be positive.
  void normalisation(float (&mean)[3], float (&std)[3]) const {
    triple("image_mean", mean);
    triple("image_std", std);
    for (int c = 0; c < 3; ++c)
      if (!(std[c] > 0.0f) || !std::isfinite(std[c]) || !std::isfinite(mean[c]))
        throw ModelError(file + ": image_std must hold finite positive numbers");
  }
};

// <model_dir>/preprocessor_config.json, which must be a JSON object; nullopt when there is none.
// `file` receives its path for messages.
inline std::optional<nlohmann::json> read_preprocessor_json(const std::filesystem::path& model_dir,
                                                            std::string& file) {
  const auto path = model_dir / "preprocessor_config.json";
  file = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw ModelError("cannot read " + file);
  nlohmann::json root = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!root.is_object()) throw ModelError(file + " is not a JSON object");
  return root;
}

}  // namespace atman
