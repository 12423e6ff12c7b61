#include "atman/explanation.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

#include "atman/error.h"
#include "atman/names.h"

namespace atman {

using nlohmann::json;

std::vector<double> Explanation::patch_heatmap() const {
  const int64_t rows = std::max(grid_rows, 0), cols = std::max(grid_cols, 0);
  std::vector<double> grid(static_cast<size_t>(rows * cols), 0.0);
  for (const auto& c : candidates) {
    // Anyres tiles (view 1) lie on a grid of their own.
    if (c.kind != CandidateKind::Patch || c.view != 0) continue;
    // Tiles come from files too (explanation_from_json): only the part inside the grid is drawn.
    const int64_t r0 = std::max<int64_t>(c.row, 0),
                  r1 = std::min<int64_t>(int64_t{c.row} + c.rows, rows);
    const int64_t k0 = std::max<int64_t>(c.col, 0),
                  k1 = std::min<int64_t>(int64_t{c.col} + c.cols, cols);
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t k = k0; k < k1; ++k) grid[static_cast<size_t>(r * cols + k)] = c.value;
  }
  return grid;
}

namespace {

// An unset enum field is "" in the JSON (baselines have no mode or variant).
template <typename Enum>
std::optional<Enum> optional_enum(const std::string& name) {
  if (name.empty()) return std::nullopt;
  return from_string<Enum>(name);
}

json candidate_json(const Candidate& c) {
  json j = {{"index", c.index},
            {"kind", std::string(to_string(c.kind))},
            {"value", c.value},
            {"per_target", c.per_target},
            {"positions", c.positions}};
  if (c.kind == CandidateKind::Token) {
    j["text"] = c.text;
    j["span"] = {c.span.first, c.span.second};
  } else {
    j["row"] = c.row;
    j["col"] = c.col;
    j["rows"] = c.rows;
    j["cols"] = c.cols;
    j["rect"] = {c.rect.x, c.rect.y, c.rect.width, c.rect.height};
    if (c.view != 0) j["view"] = c.view;  // absent: view 0, as in files written before views
  }
  json suppressed = json::array();
  for (const auto& n : c.suppressed)
    suppressed.push_back(
        {{"candidate", n.candidate}, {"similarity", n.similarity}, {"factor", n.factor}});
  j["suppressed"] = suppressed;
  if (c.group >= 0) {  // adaptive AtMan only
    j["exact"] = c.exact;
    j["group"] = c.group;
  }
  return j;
}

// Integer fields. nlohmann converts a floating-point JSON number to an integer with a plain cast,
// which is undefined behaviour outside the integer's range ("index": 1e30), so check first.
template <typename Int>
Int whole(const json& v, const char* key) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    const double low = static_cast<double>(std::numeric_limits<Int>::min());
    if (!(d >= low && d < -low))
      throw InputError(std::string("not an AtMan explanation JSON: '") + key + "' is " + v.dump() +
                       ", out of range");
  }
  return v.get<Int>();
}

template <typename Int>
Int whole_field(const json& j, const char* key, Int fallback) {
  auto it = j.find(key);
  return it == j.end() ? fallback : whole<Int>(*it, key);
}

template <typename Int>
std::vector<Int> whole_list(const json& j, const char* key, std::vector<Int> fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_array()) return it->template get<std::vector<Int>>();  // throws the type error
  std::vector<Int> out;
  for (const auto& v : *it) out.push_back(whole<Int>(v, key));
  return out;
}

Candidate candidate_from(const json& j) {
  Candidate c;
  c.index = whole<int>(j.at("index"), "index");
  c.kind = from_string<CandidateKind>(j.at("kind").get<std::string>());
  c.value = j.at("value").get<double>();
  c.per_target = j.value("per_target", std::vector<double>{});
  c.positions = whole_list<int>(j, "positions", {});
  if (c.kind == CandidateKind::Token) {
    c.text = j.value("text", "");
    auto span = whole_list<int64_t>(j, "span", {-1, -1});
    if (span.size() == 2) c.span = {span[0], span[1]};
  } else {
    c.row = whole_field(j, "row", -1);
    c.col = whole_field(j, "col", -1);
    c.rows = whole_field(j, "rows", 1);
    c.cols = whole_field(j, "cols", 1);
    auto rect = j.value("rect", std::vector<double>{0, 0, 0, 0});
    if (rect.size() == 4) c.rect = {rect[0], rect[1], rect[2], rect[3]};
    c.view = whole_field(j, "view", 0);
    if (c.view < 0 || c.view > 1) throw InputError("a candidate's \"view\" must be 0 or 1");
  }
  for (const auto& n : j.value("suppressed", json::array()))
    c.suppressed.push_back({whole<int>(n.at("candidate"), "candidate"),
                            n.at("similarity").get<double>(), n.at("factor").get<double>()});
  c.exact = j.value("exact", true);
  c.group = whole_field(j, "group", -1);
  return c;
}

}  // namespace

std::string to_json(const Explanation& e, int indent) {
  json candidates = json::array();
  for (const auto& c : e.candidates) candidates.push_back(candidate_json(c));
  json j = {{"format", "atman-explanation/1"},
            {"method", std::string(to_string(e.method))},
            {"model", e.model},
            {"architecture", e.architecture},
            {"explained", to_string(e.explained)},
            {"mode", to_string(e.mode)},
            {"kappa", e.kappa},
            {"factor", e.factor},
            {"variant", to_string(e.variant)},
            {"post", std::string(to_string(e.post))},
            {"prompt", e.prompt},
            {"target", e.target},
            {"labels", e.labels},
            {"target_tokens", e.target_tokens},
            {"baseline_loss", e.baseline_loss},
            {"baseline_per_target", e.baseline_per_target},
            {"grid", {e.grid_rows, e.grid_cols}},
            {"image_size", {e.image_width, e.image_height}},
            {"candidates", candidates},
            {"timings",
             {{"prepare_seconds", e.timings.prepare_seconds},
              {"baseline_seconds", e.timings.baseline_seconds},
              {"perturbation_seconds", e.timings.perturbation_seconds},
              {"total_seconds", e.timings.total_seconds},
              {"forwards", e.timings.forwards},
              {"cache_hits", e.timings.cache_hits},
              {"batches", e.timings.batches}}}};
  if (e.loss) j["loss"] = to_string(e.loss);  // SigLIP only: other explanations stay as they were
  if (e.adaptive.enabled)
    j["adaptive"] = {{"threshold", e.adaptive.threshold},
                     {"group_size", e.adaptive.group_size},
                     {"groups", e.adaptive.groups},
                     {"refined_groups", e.adaptive.refined_groups},
                     {"exact_candidates", e.adaptive.exact_candidates},
                     {"group_values", e.adaptive.group_values}};
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

Explanation explanation_from_json(const std::string& text) {
  try {
    json j = json::parse(text);
    Explanation e;
    e.method = from_string<ExplainMethod>(j.value("method", "atman"));
    e.model = j.value("model", "");
    e.architecture = j.value("architecture", "");
    e.explained = optional_enum<ExplainWhat>(j.value("explained", ""));
    e.mode = optional_enum<SuppressionMode>(j.value("mode", ""));
    e.kappa = j.value("kappa", 0.0);
    e.factor = j.value("factor", 0.9);
    e.variant = optional_enum<SuppressionVariant>(j.value("variant", ""));
    e.loss = optional_enum<SiglipLoss>(j.value("loss", ""));
    // "" too: what an Explanation built by hand wrote before `post` became an enum.
    e.post = optional_enum<PostProcess>(j.value("post", "none")).value_or(PostProcess::None);
    e.prompt = j.value("prompt", "");
    e.target = j.value("target", "");
    e.labels = j.value("labels", std::vector<std::string>{});
    e.target_tokens = j.value("target_tokens", std::vector<std::string>{});
    e.baseline_loss = j.at("baseline_loss").get<double>();
    e.baseline_per_target = j.value("baseline_per_target", std::vector<double>{});
    auto grid = whole_list<int>(j, "grid", {0, 0});
    auto size = whole_list<int>(j, "image_size", {0, 0});
    if (grid.size() != 2 || size.size() != 2)
      throw InputError("grid and image_size need two numbers");
    if (grid[0] < 0 || grid[1] < 0 || grid[0] > 4096 || grid[1] > 4096)
      throw InputError("grid size out of range");
    e.grid_rows = grid[0];
    e.grid_cols = grid[1];
    e.image_width = size[0];
    e.image_height = size[1];
    for (const auto& c : j.at("candidates")) e.candidates.push_back(candidate_from(c));
    if (j.contains("timings")) {
      const auto& t = j["timings"];
      e.timings.prepare_seconds = t.value("prepare_seconds", 0.0);
      e.timings.baseline_seconds = t.value("baseline_seconds", 0.0);
      e.timings.perturbation_seconds = t.value("perturbation_seconds", 0.0);
      e.timings.total_seconds = t.value("total_seconds", 0.0);
      e.timings.forwards = whole_field(t, "forwards", 0);
      e.timings.cache_hits = whole_field(t, "cache_hits", 0);
      e.timings.batches = whole_field(t, "batches", 0);
    }
    if (j.contains("adaptive")) {
      const auto& a = j["adaptive"];
      e.adaptive.enabled = true;
      e.adaptive.threshold = a.value("threshold", 0.0);
      e.adaptive.group_size = whole_field(a, "group_size", 0);
      e.adaptive.groups = whole_field(a, "groups", 0);
      e.adaptive.refined_groups = whole_field(a, "refined_groups", 0);
      e.adaptive.exact_candidates = whole_field(a, "exact_candidates", 0);
      e.adaptive.group_values = a.value("group_values", std::vector<double>{});
    }
    return e;
  } catch (const json::exception& ex) {
    throw InputError(std::string("not an AtMan explanation JSON: ") + ex.what());
  }
}

void save_json(const Explanation& e, const std::filesystem::path& path) {
  std::ofstream out(path);
  out << to_json(e) << "\n";
  if (!out) throw InputError("cannot write " + path.string());
}

Explanation load_explanation(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return explanation_from_json(buffer.str());
  } catch (const InputError& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

std::string to_csv(const Explanation& e) {
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::ostringstream out;
  out << std::setprecision(9);
  out << "index,kind,text,begin,end,row,col,x,y,width,height,value";
  for (size_t t = 0; t < e.target_tokens.size(); ++t)
    out << "," << quote("E[" + e.target_tokens[t] + "]");
  out << "\n";
  for (const auto& c : e.candidates) {
    out << c.index << "," << (c.kind == CandidateKind::Patch ? "patch" : "token") << ","
        << quote(c.text) << "," << c.span.first << "," << c.span.second << "," << c.row << ","
        << c.col << "," << c.rect.x << "," << c.rect.y << "," << c.rect.width << ","
        << c.rect.height << "," << c.value;
    for (double v : c.per_target) out << "," << v;
    out << "\n";
  }
  return out.str();
}

}  // namespace atman
