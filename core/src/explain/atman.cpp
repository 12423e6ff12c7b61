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
// GUI's κ slider only runs the masks it has not seen; masks run batched in order of their first
// suppressed position so a causal LM reuses the longest KV prefix. The batch size is measured: the
// first batches try a few sizes (within the memory budget) and the fastest per unit of work is
// kept for the model and input shape for the rest of the process.
//
// Adaptive AtMan (ExplainRequest::adaptive): groups of candidates are suppressed first; only
// groups whose loss moves by at least the threshold are explained candidate by candidate.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "atman/error.h"
#include "atman/explainer.h"
#include "explain/post_process.h"
#include "explain/task.h"
#include "models/loaded_model.h"

namespace atman {
namespace {

using detail::Mask;
using detail::PerturbationTask;
using detail::post_process;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void validate(const ExplainRequest& r) {
  if (!r.model) throw InputError("no model loaded");
  require_weights(*r.model);
  if (!(r.factor >= 0.0 && r.factor <= 1.0))
    throw InputError("the suppression factor f must lie in [0, 1], got " +
                     std::to_string(r.factor));
  if (r.mode == SuppressionMode::Correlated && !(r.kappa >= -1.0 && r.kappa <= 2.0))
    throw InputError("κ (kappa) must lie in [-1, 2] (κ >= 1 keeps only exact duplicates), got " +
                     std::to_string(r.kappa));
  if (r.tile < 1 || r.tile > 64) throw InputError("the tile size must be 1..64 patches");
  if (r.max_neighbours < 0) throw InputError("max_neighbours must be >= 0");
  if (r.batch_size < 0 || r.batch_size > 4096)
    throw InputError("batch size must be 0 (auto) .. 4096");
  if (r.adaptive && (r.adaptive_group < 1 || r.adaptive_group > 64))
    throw InputError("the adaptive group size must be 1..64 candidates (per side for patches)");
  if (r.adaptive && !(r.adaptive_threshold >= 0.0 && std::isfinite(r.adaptive_threshold)))
    throw InputError("the adaptive threshold must be a finite loss change >= 0 (0 = refine all)");
}

// Measured batch sizes per model and input shape (see State::run).
std::mutex measured_mutex;
std::map<std::string, int64_t>& measured_batches() {
  static std::map<std::string, int64_t> sizes;
  return sizes;
}

// Everything about a request except the knobs that only change which masks are built
// (mode, κ, neighbour cap) or how values are presented (post-processing, batching).
std::string input_key(const ExplainRequest& r) {
  std::ostringstream key;
  key << r.model.get() << '|' << request_fingerprint(r, FingerprintScope::Input) << '|';
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
  // Adaptive AtMan's group suppressions, kept apart from `losses` so the candidates' own masks
  // always run in the same batches as without adaptive (equal bit for bit).
  std::map<Mask, std::vector<double>> group_losses;
  double prepare_seconds = 0, baseline_seconds = 0;
};

// Adaptive AtMan's groups of candidates and their suppression masks (single mode, factor 1 - f).
struct Groups {
  std::vector<std::vector<int>> members;
  std::vector<Mask> masks;
  std::vector<int> group_of;  // per candidate
};

Groups make_groups(const std::vector<Candidate>& cands, const ExplainRequest& r) {
  Groups g;
  g.group_of.assign(cands.size(), -1);
  std::map<std::pair<int, int>, int> tile_group;
  const int block = std::max(1, r.tile) * r.adaptive_group;  // patches per group side
  int run_group = -1, run_length = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    const Candidate& c = cands[i];
    int group;
    if (c.kind == CandidateKind::Patch) {
      auto key = std::make_pair(c.row / block, c.col / block);
      auto it = tile_group.find(key);
      if (it == tile_group.end()) {
        it = tile_group.emplace(key, static_cast<int>(g.members.size())).first;
        g.members.emplace_back();
      }
      group = it->second;
    } else {
      if (run_group < 0 || run_length == r.adaptive_group) {
        run_group = static_cast<int>(g.members.size());
        run_length = 0;
        g.members.emplace_back();
      }
      ++run_length;
      group = run_group;
    }
    g.members[group].push_back(static_cast<int>(i));
    g.group_of[i] = group;
  }
  const float own = static_cast<float>(1.0 - r.factor);
  for (const auto& members : g.members) {
    Mask mask;
    if (own != 1.0f)
      for (int i : members)
        for (int pos : cands[i].positions) mask.entries.push_back({pos, own});
    std::sort(mask.entries.begin(), mask.entries.end());
    g.masks.push_back(std::move(mask));
  }
  return g;
}

// Σ_t ΔL_t and ΔL_t of each group (needs the group losses and the baseline).
std::vector<std::vector<double>> group_deltas(const Prepared& p, const Groups& g) {
  std::vector<std::vector<double>> out;
  for (const Mask& m : g.masks) {
    const std::vector<double>& l = m.entries.empty() ? p.baseline : p.group_losses.at(m);
    std::vector<double> d(p.baseline.size());
    for (size_t t = 0; t < d.size(); ++t) d[t] = l[t] - p.baseline[t];
    out.push_back(std::move(d));
  }
  return out;
}

double sum_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// Which groups are explained candidate by candidate: |Σ_t ΔL_t| >= threshold (threshold 0: all).
// Single-candidate groups in single mode are never refined: their group mask is the candidate's.
std::vector<bool> refined_groups(const Groups& g, const std::vector<std::vector<double>>& deltas,
                                 const ExplainRequest& r) {
  std::vector<bool> refine(g.members.size());
  for (size_t k = 0; k < g.members.size(); ++k) {
    const bool own_mask = g.members[k].size() == 1 && r.mode == SuppressionMode::Single;
    refine[k] = std::abs(sum_of(deltas[k])) >= r.adaptive_threshold &&
                !(own_mask && r.adaptive_threshold > 0);
  }
  return refine;
}

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

}  // namespace

namespace {

// Adaptive AtMan's decisions for one request.
struct Adaptive {
  Groups groups;
  std::vector<std::vector<double>> deltas;  // per group, per target
  std::vector<bool> refined;                // per group
};

// The masks of `plan` to run: all, or with adaptive only the refined groups' candidates.
std::vector<const Mask*> masks_to_run(const Plan& plan, const Adaptive* adaptive) {
  std::vector<const Mask*> out;
  for (size_t i = 0; i < plan.masks.size(); ++i)
    if (!adaptive || adaptive->refined[adaptive->groups.group_of[i]]) out.push_back(&plan.masks[i]);
  return out;
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
    p->task = detail::make_task(r);
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

  // Runs every mask of `masks` not yet in `store` (and the baseline), reporting progress.
  void run(Prepared& p, const ExplainRequest& r, const std::vector<const Mask*>& masks,
           std::map<Mask, std::vector<double>>& store, const ProgressFn& progress,
           Timings& timings) {
    std::set<const Mask*, bool (*)(const Mask*, const Mask*)> todo(
        [](const Mask* a, const Mask* b) { return *a < *b; });
    for (const Mask* m : masks) {
      if (m->entries.empty() || store.count(*m)) {
        ++timings.cache_hits;
        continue;
      }
      todo.insert(m);
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
    // Batch size: as asked; else measured. The memory budget caps it; within the cap the first
    // batches of a long job try 16, 32 and 64 masks (real work, nothing is thrown away) and the
    // size with the most work per second is kept for this model and input shape. Small models gain
    // from large batches (fewer, larger operations), large ones stop gaining once the matrices fill
    // the BLAS kernels while the attention buffers keep growing.
    const int64_t budget = r.memory_budget_bytes > 0 ? r.memory_budget_bytes : (1ll << 30);
    const int64_t cap =
        std::clamp<int64_t>(budget / std::max<int64_t>(1, p.task->bytes_per_item()), 1, 64);
    std::ostringstream shape;
    shape << r.model.get() << '|' << int(r.explain) << '|' << p.task->bytes_per_item() << '|'
          << cap;
    int64_t fixed = r.batch_size;
    std::vector<int64_t> trials;
    if (fixed <= 0) {
      std::lock_guard lock(measured_mutex);
      auto it = measured_batches().find(shape.str());
      if (it != measured_batches().end()) fixed = it->second;
    }
    if (fixed <= 0) {
      // Trials pay only on long jobs: a short one runs in batches of the cap (one batch of 49
      // for CLIP B/32 measured faster than 8 + 16 + 25).
      int64_t tried = 0;
      for (int64_t size : {16, 32, 64})
        if (size <= cap) trials.push_back(size), tried += size;
      if (trials.size() < 2 || static_cast<int64_t>(order.size()) < 3 * tried) {
        trials.clear();
        fixed = cap;
      }
    }
    std::vector<std::pair<double, int64_t>> rates;  // (work per second, batch size)
    auto start = Clock::now();
    for (size_t begin = 0, trial = 0; begin < order.size();) {
      int64_t batch = fixed;
      if (batch <= 0)
        batch = trial < trials.size() ? trials[trial]
                                      : std::max_element(rates.begin(), rates.end())->second;
      std::vector<const Mask*> chunk(order.begin() + begin,
                                     order.begin() + std::min<size_t>(order.size(), begin + batch));
      auto chunk_start = Clock::now();
      auto results = p.task->losses(chunk);
      if (fixed <= 0 && trial < trials.size()) {
        if (static_cast<int64_t>(chunk.size()) == batch)  // a full batch of the tried size
          rates.push_back(
              {p.task->work(chunk) / std::max(1e-9, seconds_since(chunk_start)), batch});
        if (++trial == trials.size() && rates.size() == trials.size()) {
          std::lock_guard lock(measured_mutex);
          measured_batches()[shape.str()] = std::max_element(rates.begin(), rates.end())->second;
        }
        if (trial == trials.size() && rates.empty()) fixed = trials.back();
      }
      for (size_t k = 0; k < chunk.size(); ++k) store[*chunk[k]] = std::move(results[k]);
      begin += chunk.size();
      done += static_cast<int>(chunk.size());
      timings.forwards += static_cast<int>(chunk.size());
      ++timings.batches;
      report();
    }
    timings.perturbation_seconds += seconds_since(start);
  }

  Explanation assemble(const Prepared& p, const ExplainRequest& r, const Plan& plan, double kappa,
                       const Timings& timings, const Adaptive* adaptive = nullptr) const {
    Explanation e = p.task->skeleton;
    e.method = ExplainMethod::Atman;
    e.explained = r.explain;
    e.mode = r.mode;
    e.kappa = r.mode == SuppressionMode::Correlated ? kappa : 0.0;
    e.factor = r.factor;
    e.variant = r.variant;
    e.post = r.post;
    e.baseline_per_target = p.baseline;
    e.baseline_loss = 0;
    for (double l : p.baseline) e.baseline_loss += l;
    e.candidates = p.task->candidates;
    for (size_t i = 0; i < e.candidates.size(); ++i) {
      Candidate& c = e.candidates[i];
      if (adaptive) {
        const int g = adaptive->groups.group_of[i];
        c.group = g;
        if (!adaptive->refined[g]) {
          // Inherited: the group's loss change shared equally among its members. A lone
          // candidate in single mode is its own group: its value is exact.
          const auto& members = adaptive->groups.members[g];
          const double n = static_cast<double>(members.size());
          c.exact = members.size() == 1 && r.mode == SuppressionMode::Single;
          c.per_target.clear();
          for (double d : adaptive->deltas[g]) c.per_target.push_back(c.exact ? d : d / n);
          c.value = post_process(sum_of(c.per_target), r.post);
          for (int j : members)
            c.suppressed.push_back(
                {j, p.similarity.data_ptr<double>()[i * e.candidates.size() + j], 1.0 - r.factor});
          continue;
        }
      }
      const Mask& m = plan.masks[i];
      const std::vector<double>& perturbed = m.entries.empty() ? p.baseline : p.losses.at(m);
      c.per_target.resize(p.baseline.size());
      double sum = 0;
      for (size_t t = 0; t < p.baseline.size(); ++t)
        sum += c.per_target[t] = perturbed[t] - p.baseline[t];
      c.value = post_process(sum, r.post);
      c.suppressed = plan.suppressed[i];
    }
    if (adaptive) {
      e.adaptive.enabled = true;
      e.adaptive.threshold = r.adaptive_threshold;
      e.adaptive.group_size = r.adaptive_group;
      e.adaptive.groups = static_cast<int>(adaptive->groups.members.size());
      for (bool refined : adaptive->refined) e.adaptive.refined_groups += refined ? 1 : 0;
      for (const auto& c : e.candidates) e.adaptive.exact_candidates += c.exact ? 1 : 0;
      for (const auto& d : adaptive->deltas) e.adaptive.group_values.push_back(sum_of(d));
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
  Timings timings;
  std::optional<Adaptive> adaptive;
  if (request.adaptive) {
    // Coarse pass: one suppression per group (and the baseline).
    adaptive.emplace();
    adaptive->groups = make_groups(prepared->task->candidates, request);
    std::vector<const Mask*> group_masks;
    for (const Mask& m : adaptive->groups.masks) group_masks.push_back(&m);
    state_->run(*prepared, request, group_masks, prepared->group_losses, progress, timings);
    adaptive->deltas = group_deltas(*prepared, adaptive->groups);
    adaptive->refined = refined_groups(adaptive->groups, adaptive->deltas, request);
  }
  const Adaptive* chosen = adaptive ? &*adaptive : nullptr;
  std::vector<const Mask*> masks;
  for (const Plan& p : plans)
    for (const Mask* m : masks_to_run(p, chosen)) masks.push_back(m);
  state_->run(*prepared, request, masks, prepared->losses, progress, timings);
  timings.total_seconds = seconds_since(start);
  std::vector<Explanation> out;
  for (size_t k = 0; k < kappas.size(); ++k)
    out.push_back(state_->assemble(*prepared, request, plans[k], kappas[k], timings, chosen));
  return out;
}

bool AtmanExplainer::is_cached(const ExplainRequest& request) const {
  // Never waits for a running explanation (the GUI thread asks this): busy counts as "not cached".
  std::unique_lock lock(state_->mutex, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  auto prepared = state_->find(input_key(request));
  if (!prepared || prepared->baseline.empty()) return false;
  std::optional<Adaptive> adaptive;
  if (request.adaptive) {
    adaptive.emplace();
    adaptive->groups = make_groups(prepared->task->candidates, request);
    for (const Mask& m : adaptive->groups.masks)
      if (!m.entries.empty() && !prepared->group_losses.count(m)) return false;
    adaptive->deltas = group_deltas(*prepared, adaptive->groups);
    adaptive->refined = refined_groups(adaptive->groups, adaptive->deltas, request);
  }
  Plan plan = plan_masks(*prepared, request, request.kappa);
  for (const Mask* m : masks_to_run(plan, adaptive ? &*adaptive : nullptr))
    if (!m->entries.empty() && !prepared->losses.count(*m)) return false;
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

}  // namespace atman
