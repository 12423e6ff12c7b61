// Per-item results (atman/eval.h): the unit that sharded and resumed evaluation runs exchange, its
// one-line JSON form, and the report assembled from them exactly as a single run computes it.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "atman/error.h"
#include "atman/eval.h"

namespace atman::eval {

std::string to_json_line(const ItemResult& r) {
  // nlohmann writes the shortest decimal text that reads back to the same double, so a result
  // replayed from a file summarizes to the very numbers of the run that wrote it.
  const nlohmann::json j = {{"item", r.item},
                            {"key", r.key},
                            {"method", r.method},
                            {"precision", r.score.precision},
                            {"recall", r.score.recall},
                            {"hit", r.score.hit},
                            {"chance", r.score.chance},
                            {"deletion_auc", r.score.deletion_auc},
                            {"insertion_auc", r.score.insertion_auc},
                            {"seconds", r.seconds},
                            {"forwards", r.forwards}};
  return j.dump();
}

ItemResult item_result_from_json(const std::string& line) {
  try {
    const nlohmann::json j = nlohmann::json::parse(line);
    ItemResult r;
    r.item = j.at("item").get<int>();
    r.key = j.at("key").get<std::string>();
    r.method = j.at("method").get<std::string>();
    r.score.precision = j.at("precision").get<double>();
    r.score.recall = j.at("recall").get<double>();
    r.score.hit = j.at("hit").get<bool>();
    r.score.chance = j.at("chance").get<double>();
    r.score.deletion_auc = j.at("deletion_auc").get<double>();
    r.score.insertion_auc = j.at("insertion_auc").get<double>();
    r.seconds = j.at("seconds").get<double>();
    r.forwards = j.at("forwards").get<int64_t>();
    if (r.item < 0) throw InputError("negative item index");
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("not a per-item evaluation result: ") + e.what());
  }
}

Report assemble_report(const Report& header, std::vector<ItemResult> results) {
  std::map<std::string, size_t> method_index;
  for (size_t m = 0; m < header.methods.size(); ++m) method_index[header.methods[m].name] = m;
  // By item, then method order: the order of a single run's per-item lists.
  std::vector<std::pair<std::pair<int, size_t>, ItemResult>> ordered;
  for (auto& r : results) {
    auto m = method_index.find(r.method);
    if (m == method_index.end())
      throw InputError("a result of method '" + r.method + "' does not belong to this run");
    ordered.push_back({{r.item, m->second}, std::move(r)});
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  ordered.erase(std::unique(ordered.begin(), ordered.end(),
                            [](const auto& a, const auto& b) { return a.first == b.first; }),
                ordered.end());

  Report report = header;
  report.items.clear();
  std::set<int> items;
  std::vector<std::vector<ItemScore>> scores(header.methods.size());
  std::vector<double> seconds(header.methods.size(), 0.0);
  std::vector<int64_t> forwards(header.methods.size(), 0);
  for (auto& [at, r] : ordered) {
    items.insert(r.item);
    scores[at.second].push_back(r.score);
    seconds[at.second] += r.seconds;
    forwards[at.second] += r.forwards;
    report.items.push_back(std::move(r));
  }
  report.n = static_cast<int>(items.size());
  for (size_t m = 0; m < header.methods.size(); ++m) {
    if (static_cast<int>(scores[m].size()) != report.n)
      throw InputError("method '" + header.methods[m].name + "' has results for " +
                       std::to_string(scores[m].size()) + " of the " + std::to_string(report.n) +
                       " items: the results are incomplete");
    MethodReport summary = summarize(header.methods[m].name, scores[m], seconds[m]);
    summary.kappa = header.methods[m].kappa;
    summary.forwards = forwards[m];
    report.methods[m] = std::move(summary);
  }
  // The pointing chance comes from the first method's items (every method sees the same truth).
  double chance = 0;
  if (!scores.empty())
    for (const auto& s : scores[0]) chance += s.chance;
  report.chance = report.n > 0 ? chance / report.n : 0.0;
  return report;
}

}  // namespace atman::eval
