// Loaders of the project's evaluation sets (../shared/data/shapes-eval, facts-eval) and the token
// ground truth of a facts item.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/prompt.h"

namespace atman::eval {
namespace {

using nlohmann::json;

json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read " + path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(path.string() + " is not valid JSON: " + e.what());
  }
}

}  // namespace

std::vector<ShapesItem> load_shapes_eval(const std::filesystem::path& dir, int limit) {
  const auto index_path = dir / "index.json";
  const json index = read_json_file(index_path);
  try {
    std::vector<ShapesItem> items;
    for (const auto& entry : index.at("items")) {
      if (limit > 0 && static_cast<int>(items.size()) >= limit) break;
      const auto item_path = dir / entry.at("json").get<std::string>();
      const json j = read_json_file(item_path);
      try {
        ShapesItem item;
        item.id = entry.at("id").get<std::string>();
        item.image = dir / j.at("image").get<std::string>();
        item.labels = j.at("labels").get<std::vector<std::string>>();
        item.target = j.at("target").get<std::string>();
        item.grid = j.at("grid").get<int>();
        const int target_shape = j.at("target_shape").get<int>();
        const auto& shape = j.at("shapes").at(target_shape);
        item.color = shape.at("color").get<std::string>();
        item.shape = shape.at("shape").get<std::string>();
        const auto& coverage = shape.at("patch_coverage");
        if (static_cast<int>(coverage.size()) != item.grid)
          throw InputError("patch_coverage has " + std::to_string(coverage.size()) +
                           " rows, grid is " + std::to_string(item.grid));
        for (const auto& row : coverage) {
          if (static_cast<int>(row.size()) != item.grid)
            throw InputError("a patch_coverage row has " + std::to_string(row.size()) +
                             " values, grid is " + std::to_string(item.grid));
          for (const auto& v : row) item.coverage.push_back(v.get<double>());
        }
        if (std::find(item.labels.begin(), item.labels.end(), item.target) == item.labels.end())
          throw InputError("the target '" + item.target + "' is not one of its labels");
        items.push_back(std::move(item));
      } catch (const json::exception& e) {
        throw InputError(item_path.string() + ": " + e.what());
      } catch (const InputError& e) {
        throw InputError(item_path.string() + ": " + e.what());
      }
    }
    return items;
  } catch (const json::exception& e) {
    throw InputError(index_path.string() + ": " + e.what());
  }
}

std::string llava_target(const ShapesItem& item) {
  return " a " + item.color + " " + item.shape;
}

std::string llava_prompt(const Model& model) {
  // The bundled prompt as it is; a chat template wraps the question the shapes captions answer.
  std::error_code ec;
  const bool bundled = std::filesystem::is_regular_file(model.dir() / "prompt_format.json", ec);
  return default_prompt(model.dir(), bundled ? "" : "What is in the picture?", true);
}

std::vector<FactsItem> load_facts_eval(const std::filesystem::path& jsonl, int limit) {
  std::ifstream in(jsonl, std::ios::binary);
  if (!in) throw InputError("cannot read " + jsonl.string());
  std::vector<FactsItem> items;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (limit > 0 && static_cast<int>(items.size()) >= limit) break;
    try {
      const json j = json::parse(line);
      FactsItem item;
      item.id = j.value("id", static_cast<int>(items.size()));
      item.prompt = j.at("prompt").get<std::string>();
      item.target = j.at("target").get<std::string>();
      auto span = j.at("answer_span").get<std::vector<int64_t>>();
      if (span.size() != 2 || span[0] < 0 || span[1] < span[0])
        throw InputError("answer_span must be [begin, end] with 0 <= begin <= end");
      item.answer_span = {span[0], span[1]};
      item.answer_sentence = j.value("answer_sentence", "");
      items.push_back(std::move(item));
    } catch (const json::exception& e) {
      throw InputError(jsonl.string() + " line " + std::to_string(line_number) + ": " + e.what());
    } catch (const InputError& e) {
      throw InputError(jsonl.string() + " line " + std::to_string(line_number) + ": " + e.what());
    }
  }
  return items;
}

std::vector<double> token_truth(const Explanation& e, std::pair<int64_t, int64_t> answer) {
  std::vector<double> y;
  y.reserve(e.candidates.size());
  for (const auto& c : e.candidates) {
    const bool overlaps = c.kind == CandidateKind::Token && c.span.first < answer.second &&
                          c.span.second > answer.first;
    y.push_back(overlaps ? 1.0 : 0.0);
  }
  return y;
}

}  // namespace atman::eval
