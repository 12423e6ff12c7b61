// Per-item localisation metrics and dataset-level summaries (see atman/eval.h for definitions).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "atman/error.h"
#include "atman/eval.h"

namespace atman::eval {
namespace {

void check_sizes(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.empty() || y.empty())
    throw InputError("metrics need a non-empty explanation and ground truth");
  if (x.size() != y.size())
    throw InputError("the explanation has " + std::to_string(x.size()) +
                     " values but the ground truth " + std::to_string(y.size()));
}

double positive(double v) {
  return v > 0 ? v : 0;
}

}  // namespace

double precision(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  double sum_x = 0, sum_xy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sum_x += positive(x[i]);
    sum_xy += positive(x[i]) * y[i];
  }
  return sum_x > 0 ? sum_xy / sum_x : 0.0;
}

double recall(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  double max_x = 0, sum_y = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    max_x = std::max(max_x, positive(x[i]));
    sum_y += y[i];
  }
  if (max_x <= 0 || sum_y <= 0) return 0.0;
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += positive(x[i]) / max_x * y[i];
  return sum / sum_y;
}

bool pointing_hit(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y);
  size_t best = 0;
  for (size_t i = 1; i < x.size(); ++i)
    if (x[i] > x[best]) best = i;
  return y[best] > 0;
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) throw InputError("percentile of no values");
  if (!(q >= 0 && q <= 100)) throw InputError("percentile must lie in [0, 100]");
  std::sort(values.begin(), values.end());
  const double rank = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

double interquartile_mean(const std::vector<double>& values) {
  if (values.empty()) return 0.0;
  const double q1 = percentile(values, 25), q3 = percentile(values, 75);
  double sum = 0;
  int n = 0;
  for (double v : values)
    if (v >= q1 && v <= q3) sum += v, ++n;
  return n > 0 ? sum / n : mean(values);
}

ItemScore score(const std::vector<double>& x, const std::vector<double>& y) {
  ItemScore s;
  s.precision = precision(x, y);
  s.recall = recall(x, y);
  s.hit = pointing_hit(x, y);
  int inside = 0;
  for (double v : y) inside += v > 0;
  s.chance = static_cast<double>(inside) / static_cast<double>(y.size());
  return s;
}

std::vector<int> ranking(const std::vector<double>& x) {
  std::vector<int> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] > x[b]; });
  return order;
}

std::vector<int> curve_steps(int n, int max_steps) {
  if (n < 1) throw InputError("a faithfulness curve needs at least one candidate");
  if (max_steps < 1) throw InputError("a faithfulness curve needs at least one step");
  const int steps = std::min(n, max_steps);
  std::vector<int> ks;
  // steps <= n: consecutive k differ by n / steps >= 1, so rounding never repeats a value.
  for (int s = 0; s <= steps; ++s)
    ks.push_back(static_cast<int>(std::lround(static_cast<double>(s) * n / steps)));
  return ks;
}

double curve_auc(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2)
    throw InputError("an area under a curve needs at least two points and as many x as y values");
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    if (x[i] < x[i - 1]) throw InputError("curve x values must be ascending");
    area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  }
  return area;
}

std::vector<CandidateMask> deletion_masks(const std::vector<int>& order,
                                          const std::vector<int>& ks) {
  std::vector<CandidateMask> masks;
  for (int k : ks) {
    if (k < 0 || k > static_cast<int>(order.size())) throw InputError("curve step out of range");
    CandidateMask m;
    for (int i = 0; i < k; ++i) m.push_back({order[i], 0.0f});
    masks.push_back(std::move(m));
  }
  return masks;
}

std::vector<CandidateMask> insertion_masks(const std::vector<int>& order,
                                           const std::vector<int>& ks) {
  std::vector<CandidateMask> masks;
  for (int k : ks) {
    if (k < 0 || k > static_cast<int>(order.size())) throw InputError("curve step out of range");
    CandidateMask m;
    for (size_t i = k; i < order.size(); ++i) m.push_back({order[i], 0.0f});
    masks.push_back(std::move(m));
  }
  return masks;
}

MethodReport summarize(const std::string& name, const std::vector<ItemScore>& scores,
                       double seconds) {
  MethodReport r;
  r.name = name;
  r.n = static_cast<int>(scores.size());
  r.seconds = seconds;
  std::vector<double> hits;
  for (const auto& s : scores) {
    r.precision.push_back(s.precision);
    r.recall.push_back(s.recall);
    r.hits.push_back(s.hit ? 1 : 0);
    r.deletion.push_back(s.deletion_auc);
    r.insertion.push_back(s.insertion_auc);
    hits.push_back(s.hit ? 1.0 : 0.0);
  }
  r.deletion_auc = mean(r.deletion);
  r.insertion_auc = mean(r.insertion);
  r.mAP = mean(r.precision);
  r.mAR = mean(r.recall);
  r.mAP_iq = interquartile_mean(r.precision);
  r.mAR_iq = interquartile_mean(r.recall);
  r.pointing = mean(hits);
  return r;
}

}  // namespace atman::eval
