// `atman bench adaptive --set shapes|facts|long`: adaptive (coarse-to-fine) AtMan against exact
// AtMan on the same items: forwards and seconds saved, and fidelity of the values (Spearman ρ,
// top-5 overlap, whether the top candidate is the same), for a few thresholds.
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <sstream>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/explainer.h"
#include "atman/runtime.h"
#include "bench_support.h"
#include "cli_args.h"
#include "common.h"

namespace atman::cli {
namespace {

namespace fs = std::filesystem;

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {  // ties share their mean rank
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * double(i + j);
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ra = ranks(a), rb = ranks(b);
  const double n = double(a.size()), mean = (n - 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 1.0;
}

std::vector<size_t> top(const std::vector<double>& v, size_t k) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
  order.resize(std::min(k, order.size()));
  return order;
}

std::vector<double> values_of(const Explanation& e) {
  std::vector<double> v;
  for (const auto& c : e.candidates) v.push_back(c.value);
  return v;
}

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stod(item));
  return out;
}

}  // namespace

int bench_adaptive(const Args& args) {
  const std::string set = args.get("set", "shapes");
  const int limit = args.integer("limit", 20);
  std::vector<ExplainRequest> requests;
  std::shared_ptr<const Model> model;
  fs::path scratch;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup;
  const fs::path data = model_root().parent_path() / "data";
  ExplainRequest base;
  base.mode = args.get("mode", "single") == "correlated" ? SuppressionMode::Correlated
                                                         : SuppressionMode::Single;
  base.batch_size = args.integer("batch-size", 0);
  if (set == "shapes") {
    model = Model::load(resolve_model_dir(args.get("model", "shapes-clip")));
    for (const auto& item : eval::load_shapes_eval(data / "shapes-eval", limit)) {
      ExplainRequest r = base;
      r.model = model;
      r.image = std::make_shared<const RgbImage>(load_image(item.image));
      r.labels = item.labels;
      r.target = item.target;
      r.explain = ExplainWhat::ImagePatches;
      requests.push_back(r);
    }
  } else if (set == "facts") {
    model = Model::load(resolve_model_dir(args.get("model", "facts-gpt2")));
    for (const auto& item :
         eval::load_facts_eval(data / "facts-eval" / "facts-eval.jsonl", limit)) {
      ExplainRequest r = base;
      r.model = model;
      r.prompt = item.prompt;
      r.target = item.target;
      r.explain = ExplainWhat::PromptTokens;
      requests.push_back(r);
    }
  } else if (set == "long") {
    // A 1,024-position random GPT-2 (the scaling bench's model) and a ~1,000-token prompt.
    scratch = fs::temp_directory_path() / ("atman-adaptive-" + std::to_string(::getpid()));
    cleanup.dir = scratch;
    model =
        Model::load(write_random_lm(scratch, "gpt2", 1024, args.integer("width", 256),
                                    args.integer("layers", 4), resolve_model_dir("facts-gpt2")));
    const char* animals[] = {"cat", "dog", "fox", "bird", "cow", "pig", "duck", "wolf"};
    const char* cities[] = {"Paris", "London", "Tokyo", "Berlin", "Rome", "Madrid", "Oslo"};
    const std::string question = "Question: Where does the cat live? Answer:";
    std::string prompt;
    for (int i = 0;; ++i) {
      std::string next =
          prompt + "The " + animals[i % 8] + " lives in " + cities[(i * 3) % 7] + ". ";
      if (model->tokenizer().encode(next + question).ids.size() > 1020) break;
      prompt = next;
    }
    ExplainRequest r = base;
    r.model = model;
    r.prompt = prompt + question;
    r.target = " Paris";
    r.explain = ExplainWhat::PromptTokens;
    requests.push_back(r);
  } else {
    throw InputError("--set must be shapes, facts or long");
  }
  const auto thresholds = parse_list(args.get("thresholds", "0.001,0.01,0.05"));
  const int group = args.integer("group", 4);
  std::printf("%s: %zu items, %s mode, group %d, threads %d\n", set.c_str(), requests.size(),
              base.mode == SuppressionMode::Single ? "single" : "correlated", group,
              compute_threads());
  // Exact AtMan once per item (a fresh explainer each: no cache shared with the adaptive runs).
  std::vector<Explanation> exact;
  double exact_seconds = 0;
  int64_t exact_forwards = 0;
  for (const auto& r : requests) {
    exact.push_back(AtmanExplainer().attribute(r));
    exact_seconds += exact.back().timings.total_seconds;
    exact_forwards += exact.back().timings.forwards;
  }
  std::printf(
      "| threshold | forwards | seconds | speed-up | exact candidates | Spearman ρ | "
      "top-5 overlap | same top-1 |\n|---|---|---|---|---|---|---|---|\n");
  std::printf("| exact | %lld | %.2f | 1.00x | 100%% | 1 | 1 | 1 |\n", (long long)exact_forwards,
              exact_seconds);
  for (double t : thresholds) {
    double seconds = 0, rho = 0, overlap = 0, same = 0, exact_share = 0;
    int64_t forwards = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      ExplainRequest r = requests[i];
      r.adaptive = true;
      r.adaptive_threshold = t;
      r.adaptive_group = group;
      Explanation a = AtmanExplainer().attribute(r);
      seconds += a.timings.total_seconds;
      forwards += a.timings.forwards;
      const auto va = values_of(a), ve = values_of(exact[i]);
      rho += spearman(va, ve);
      auto ta = top(va, 5), te = top(ve, 5);
      int common = 0;
      for (size_t x : ta) common += std::count(te.begin(), te.end(), x) > 0;
      overlap += double(common) / double(te.size());
      same += ta.front() == te.front();
      exact_share += double(a.adaptive.exact_candidates) / double(a.candidates.size());
    }
    const double n = double(requests.size());
    std::printf("| %g | %lld | %.2f | %.2fx | %.0f%% | %.3f | %.3f | %.3f |\n", t,
                (long long)forwards, seconds, exact_seconds / seconds, 100 * exact_share / n,
                rho / n, overlap / n, same / n);
  }
  return 0;
}

}  // namespace atman::cli
