// AtMan (Deiseroth et al., NeurIPS 2023) — the whole algorithm, modality-free. See
// ../shared/spec/atman.md. For every candidate i:
//
//   mask_i = { positions of i: 1 - f }                                      (single, §2)
//          ∪ { positions of j: 1 - f·s_ij  for j ≠ i with s_ij >= κ }      (correlated, §3)
//   E[i, t] = L_t(input with attention scaled by mask_i) − L_t(input)       (§4)
//
// s_ij is the cosine similarity of the candidates' input embeddings. What a forward under a mask
// means (which tower, which loss) is the task's business (clip_task.cpp, lm_task.cpp).
//
// Cost (§5): each distinct mask is computed once and cached per prepared input, so a κ sweep or the
// GUI's κ slider only runs the masks it has not seen; masks run batched, sized by the memory
// budget, in order of their first suppressed position so a causal LM reuses the longest KV prefix.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/models/loaded_model.h"
#include "explain/task.h"

namespace atman {
namespace {

using detail::Mask;
using detail::PerturbationTask;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* variant_name(SuppressionVariant v) {
  return v == SuppressionVariant::Multiplicative ? "multiplicative" : "log_additive";
}

void validate(const ExplainRequest& r) {
  if (!r.model) throw InputError("no model loaded");
  if (!(r.factor >= 0.0 && r.factor <= 1.0))
    throw InputError("the suppression factor f must lie in [0, 1], got " + std::to_string(r.factor));
  if (r.mode == SuppressionMode::Correlated && !(r.kappa >= -1.0 && r.kappa <= 2.0))
    throw InputError("κ (kappa) must lie in [-1, 2] (κ >= 1 keeps only exact duplicates), got " +
                     std::to_string(r.kappa));
  if (r.tile < 1 || r.tile > 64) throw InputError("the tile size must be 1..64 patches");
  if (r.max_neighbours < 0) throw InputError("max_neighbours must be >= 0");
  if (r.batch_size < 0 || r.batch_size > 4096) throw InputError("batch size must be 0 (auto) .. 4096");
}

// Everything about a request except the knobs that only change which masks are built
// (mode, κ, neighbour cap) or how values are presented (post-processing, batching).
std::string input_key(const ExplainRequest& r) {
  std::ostringstream key;
  key << r.model.get() << '|' << int(r.explain) << '|' << r.factor << '|' << int(r.variant) << '|'
      << int(r.granularity) << '|' << r.delimiter.size() << ':' << r.delimiter << '|' << r.tile << '|'
      << r.prompt.size() << ':' << r.prompt << '|' << r.target.size() << ':' << r.target << '|';
  for (const auto& l : r.labels) key << l.size() << ':' << l << ',';
  key << '|';
  for (int l : r.layers) key << l << ',';
  key << '|';
  if (r.image) {
    // FNV-1a over the pixels: images differing anywhere get different keys.
    uint64_t h = 1469598103934665603ull;
    for (uint8_t b : r.image->pixels) h = (h ^ b) * 1099511628211ull;
    key << r.image->width << 'x' << r.image->height << ':' << h;
  }
  return key.str();
}

struct Prepared {
  std::unique_ptr<PerturbationTask> task;
  std::vector<double> baseline;  // L_t of the unperturbed input; empty until computed
  at::Tensor similarity;         // (N, N) float64 cosine similarities of candidates
  std::map<Mask, std::vector<double>> losses;
  double prepare_seconds = 0, baseline_seconds = 0;
};

struct Plan {
  std::vector<Mask> masks;  // one per candidate
  std::vector<std::vector<NeighbourFactor>> suppressed;
};

Plan plan_masks(const Prepared& p, const ExplainRequest& r, double kappa) {
  const auto& cands = p.task->candidates;
  const int n = static_cast<int>(cands.size());
  const double own = 1.0 - r.factor;
  const double* sim = p.similarity.data_ptr<double>();
  Plan plan;
  for (int i = 0; i < n; ++i) {
    std::vector<NeighbourFactor> chosen = {{i, 1.0, own}};
    if (r.mode == SuppressionMode::Correlated) {
      std::vector<NeighbourFactor> neighbours;
      for (int j = 0; j < n; ++j) {
        double s = sim[i * n + j];
        if (j != i && s >= kappa) neighbours.push_back({j, s, 1.0 - r.factor * s});
      }
      if (r.max_neighbours > 0 && static_cast<int>(neighbours.size()) > r.max_neighbours) {
        std::stable_sort(neighbours.begin(), neighbours.end(),
                         [](auto& a, auto& b) { return a.similarity > b.similarity; });
        neighbours.resize(r.max_neighbours);
      }
      chosen.insert(chosen.end(), neighbours.begin(), neighbours.end());
    }
    Mask mask;
    for (const auto& nf : chosen) {
      // A factor of exactly 1 changes nothing: leaving it out makes f = 0 an exact no-op.
      if (static_cast<float>(nf.factor) == 1.0f) continue;
      for (int pos : cands[nf.candidate].positions)
        mask.entries.push_back({pos, static_cast<float>(nf.factor)});
    }
    std::sort(mask.entries.begin(), mask.entries.end());
    plan.masks.push_back(std::move(mask));
    plan.suppressed.push_back(std::move(chosen));
  }
  return plan;
}

double post_process(double v, PostProcess post) {
  switch (post) {
    case PostProcess::Absolute: return std::abs(v);
    case PostProcess::Square: return v * v;
    case PostProcess::None: break;
  }
  return v;
}

const char* post_name(PostProcess p) {
  return p == PostProcess::None ? "none" : p == PostProcess::Absolute ? "absolute" : "square";
}

const char* explained_name(ExplainWhat w) {
  return w == ExplainWhat::ImagePatches ? "patches" : w == ExplainWhat::PromptTokens ? "tokens" : "all";
}

}  // namespace

struct AtmanExplainer::State {
  mutable std::mutex mutex;
  // A few recently prepared inputs (LRU), so switching back and forth in the GUI stays instant.
  std::list<std::pair<std::string, std::shared_ptr<Prepared>>> prepared;
  static constexpr size_t kKeep = 4;

  std::shared_ptr<Prepared> find(const std::string& key) {
    for (auto it = prepared.begin(); it != prepared.end(); ++it)
      if (it->first == key) {
        prepared.splice(prepared.begin(), prepared, it);
        return it->second;
      }
    return nullptr;
  }

  std::shared_ptr<Prepared> prepare(const ExplainRequest& r) {
    const std::string key = input_key(r);
    if (auto found = find(key)) return found;
    auto start = Clock::now();
    auto p = std::make_shared<Prepared>();
    p->task = r.model->kind() == ModelKind::Clip ? detail::make_clip_task(r) : detail::make_lm_task(r);
    at::Tensor e = p->task->candidate_embeddings.to(at::kCPU, at::kDouble);
    e = e / e.norm(2, -1, true).clamp_min(1e-12);
    at::Tensor sim = at::matmul(e, e.t()).clamp(-1.0, 1.0);
    // Identical embeddings (a repeated token, a uniform patch) must compare as exactly 1, which
    // float64 rounding of the normalisation can miss by ~1e-16: κ = 1 keeps exact duplicates.
    p->similarity = at::where((sim - 1.0).abs() < 1e-12, at::ones_like(sim), sim).contiguous();
    p->prepare_seconds = seconds_since(start);
    prepared.emplace_front(key, p);
    if (prepared.size() > kKeep) prepared.pop_back();
    return p;
  }

  // Runs every uncached mask of `plans` (and the baseline), reporting progress.
  void run(Prepared& p, const ExplainRequest& r, const std::vector<const Plan*>& plans,
           const ProgressFn& progress, Timings& timings) {
    std::set<const Mask*, bool (*)(const Mask*, const Mask*)> todo(
        [](const Mask* a, const Mask* b) { return *a < *b; });
    for (const Plan* plan : plans)
      for (const Mask& m : plan->masks) {
        if (m.entries.empty() || p.losses.count(m)) {
          ++timings.cache_hits;
          continue;
        }
        todo.insert(&m);
      }
    const bool need_baseline = p.baseline.empty();
    const int total = static_cast<int>(todo.size()) + (need_baseline ? 1 : 0);
    int done = 0;
    auto report = [&] {
      if (progress && !progress(done, total)) throw Cancelled();
    };
    if (need_baseline) {
      auto start = Clock::now();
      p.baseline = p.task->baseline();
      p.baseline_seconds = seconds_since(start);
      ++done;
      report();
    }
    // First suppressed position ascending: consecutive masks share the longest unperturbed prefix.
    std::vector<const Mask*> order(todo.begin(), todo.end());
    std::stable_sort(order.begin(), order.end(), [](const Mask* a, const Mask* b) {
      return a->first_position() < b->first_position();
    });
    int64_t batch = r.batch_size;
    if (batch <= 0) {
      const int64_t budget = r.memory_budget_bytes > 0 ? r.memory_budget_bytes : (1ll << 30);
      batch = std::clamp<int64_t>(budget / std::max<int64_t>(1, p.task->bytes_per_item()), 1, 64);
    }
    auto start = Clock::now();
    for (size_t begin = 0; begin < order.size(); begin += batch) {
      std::vector<const Mask*> chunk(order.begin() + begin,
                                     order.begin() + std::min<size_t>(order.size(), begin + batch));
      auto results = p.task->losses(chunk);
      for (size_t k = 0; k < chunk.size(); ++k) p.losses[*chunk[k]] = std::move(results[k]);
      done += static_cast<int>(chunk.size());
      timings.forwards += static_cast<int>(chunk.size());
      ++timings.batches;
      report();
    }
    timings.perturbation_seconds += seconds_since(start);
  }

  Explanation assemble(const Prepared& p, const ExplainRequest& r, const Plan& plan, double kappa,
                       const Timings& timings) const {
    Explanation e = p.task->skeleton;
    e.method = "atman";
    e.explained = explained_name(r.explain);
    e.mode = r.mode == SuppressionMode::Single ? "single" : "correlated";
    e.kappa = r.mode == SuppressionMode::Correlated ? kappa : 0.0;
    e.factor = r.factor;
    e.variant = variant_name(r.variant);
    e.post = post_name(r.post);
    e.baseline_per_target = p.baseline;
    e.baseline_loss = 0;
    for (double l : p.baseline) e.baseline_loss += l;
    e.candidates = p.task->candidates;
    for (size_t i = 0; i < e.candidates.size(); ++i) {
      Candidate& c = e.candidates[i];
      const Mask& m = plan.masks[i];
      const std::vector<double>& perturbed = m.entries.empty() ? p.baseline : p.losses.at(m);
      c.per_target.resize(p.baseline.size());
      double sum = 0;
      for (size_t t = 0; t < p.baseline.size(); ++t) sum += c.per_target[t] = perturbed[t] - p.baseline[t];
      c.value = post_process(sum, r.post);
      c.suppressed = plan.suppressed[i];
    }
    e.timings = timings;
    e.timings.prepare_seconds = p.prepare_seconds;
    e.timings.baseline_seconds = p.baseline_seconds;
    return e;
  }
};

AtmanExplainer::AtmanExplainer() : state_(std::make_unique<State>()) {}
AtmanExplainer::~AtmanExplainer() = default;

Explanation AtmanExplainer::attribute(const ExplainRequest& request, const ProgressFn& progress) {
  auto sweep = kappa_sweep(request, {request.kappa}, progress);
  return std::move(sweep.front());
}

std::vector<Explanation> AtmanExplainer::kappa_sweep(const ExplainRequest& request,
                                                     const std::vector<double>& kappas,
                                                     const ProgressFn& progress) {
  validate(request);
  for (double k : kappas) {
    ExplainRequest probe = request;
    probe.kappa = k;
    validate(probe);
  }
  auto start = Clock::now();
  std::lock_guard lock(state_->mutex);
  c10::InferenceMode inference;
  auto prepared = state_->prepare(request);
  std::vector<Plan> plans;
  for (double k : kappas) plans.push_back(plan_masks(*prepared, request, k));
  std::vector<const Plan*> plan_ptrs;
  for (const Plan& p : plans) plan_ptrs.push_back(&p);
  Timings timings;
  state_->run(*prepared, request, plan_ptrs, progress, timings);
  timings.total_seconds = seconds_since(start);
  std::vector<Explanation> out;
  for (size_t k = 0; k < kappas.size(); ++k)
    out.push_back(state_->assemble(*prepared, request, plans[k], kappas[k], timings));
  return out;
}

bool AtmanExplainer::is_cached(const ExplainRequest& request) const {
  // Never waits for a running explanation (the GUI thread asks this): busy counts as "not cached".
  std::unique_lock lock(state_->mutex, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  auto prepared = state_->find(input_key(request));
  if (!prepared || prepared->baseline.empty()) return false;
  Plan plan = plan_masks(*prepared, request, request.kappa);
  for (const Mask& m : plan.masks)
    if (!m.entries.empty() && !prepared->losses.count(m)) return false;
  return true;
}

std::vector<NeighbourFactor> AtmanExplainer::neighbours(const ExplainRequest& request, int index,
                                                        double kappa) {
  validate(request);
  std::lock_guard lock(state_->mutex);
  c10::InferenceMode inference;
  auto prepared = state_->prepare(request);
  ExplainRequest correlated = request;
  correlated.mode = SuppressionMode::Correlated;
  Plan plan = plan_masks(*prepared, correlated, kappa);
  if (index < 0 || index >= static_cast<int>(plan.suppressed.size()))
    throw InputError("candidate " + std::to_string(index) + " does not exist");
  return plan.suppressed[index];
}

void AtmanExplainer::clear_cache() {
  std::lock_guard lock(state_->mutex);
  state_->prepared.clear();
}

std::unique_ptr<Explainer> make_explainer(const std::string& method) {
  if (method == "atman") return std::make_unique<AtmanExplainer>();
  for (const auto& n : baseline_names())
    if (n == method) return make_baseline(method);  // default options (IG: 20 steps)
  std::string names;
  for (const auto& n : explainer_names()) names += (names.empty() ? "" : ", ") + n;
  throw InputError("unknown explanation method '" + method + "'; available: " + names);
}

std::vector<std::string> explainer_names() {
  std::vector<std::string> names = {"atman"};
  for (auto& n : baseline_names()) names.push_back(std::move(n));
  return names;
}

}  // namespace atman
