// The baseline explainers of atman/baselines.h: raw attention, attention rollout, Input×Gradient,
// Integrated Gradients, GradCAM and Chefer et al. 2021. Each computes one score per sequence
// position and target token; candidates sum the scores of their positions.
//
// Gradients are of F_t = log p(target t) = -L_t, so positive scores support the target as AtMan's
// E = L(perturbed) - L(input) do. Attribute() leaves any caller's InferenceMode (no autograd graph
// could be built inside it) and turns grad mode on for the gradient methods.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <mutex>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/names.h"
#include "explain/baseline_input.h"
#include "explain/methods.h"
#include "explain/post_process.h"

namespace atman {
namespace {

using detail::BaselineInput;
using detail::post_process;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Per-position scores of one explanation and what it cost.
struct Scores {
  at::Tensor per_position;     // (nt, S) float64 on the CPU
  std::vector<double> losses;  // L_t of the unmodified input
  int forwards = 0, batches = 0;
  double baseline_seconds = 0;
};

class Progress {
 public:
  Progress(const ProgressFn& fn, int total) : fn_(fn), total_(total) {}
  void advance(int n = 1) {
    done_ += n;
    if (fn_ && !fn_(done_, total_)) throw Cancelled();
  }

 private:
  const ProgressFn& fn_;
  int total_ = 0, done_ = 0;
};

std::vector<double> losses_of(const at::Tensor& log_probs) {  // (1, nt) -> L_t
  at::Tensor l = (-log_probs.detach()).reshape({-1}).to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
}

// (nt, E) scores of embedding rows -> (nt, S) scores of sequence positions.
at::Tensor rows_to_positions(const BaselineInput& in, const at::Tensor& row_scores) {
  at::Tensor out = at::zeros({row_scores.size(0), in.positions}, at::kDouble);
  out.narrow(1, in.embed_offset, row_scores.size(1))
      .copy_(row_scores.detach().to(at::kCPU, at::kDouble));
  return out;
}

// One-hot rows of the prediction positions: (nt, S) float64 on `device`.
at::Tensor prediction_one_hot(const BaselineInput& in, at::Device device) {
  at::Tensor v = at::zeros({static_cast<int64_t>(in.rows.size()), in.positions}, at::kDouble);
  for (size_t t = 0; t < in.rows.size(); ++t) v[t][in.rows[t]] = 1.0;
  return v.to(device);
}

void check_recorded(const std::vector<at::Tensor>& weights, const BaselineInput& in) {
  const int expected = in.layers + (in.pooling_head ? 1 : 0);
  if (static_cast<int>(weights.size()) != expected || weights.empty())
    throw Error("attention recorder: expected " + std::to_string(expected) + " layers, got " +
                std::to_string(weights.size()));
}

// A pooling head's recorded weights (1, H, 1, S) -> the probe's row (1, S), mean over heads,
// float64 (the head attends only to the S positions: there is no residual around its attention).
at::Tensor probe_row(const at::Tensor& head_weights) {
  return head_weights[0].mean(0).to(at::kDouble);
}

// Clears the accumulated gradient of a leaf or a retain_grad() tensor before the next backward.
void reset_grad(at::Tensor& t) {
  if (t.grad().defined()) t.mutable_grad().reset();
}

// Backward of target t (of F: (B, nt), summed over the batch), keeping the graph for the next one.
void backward_target(const at::Tensor& log_probs, int64_t t) {
  const bool more = t + 1 < log_probs.size(1);
  log_probs.select(1, t).sum().backward({}, /*retain_graph=*/more);
}

class BaselineExplainer : public Explainer {
 public:
  explicit BaselineExplainer(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }

  Explanation attribute(const ExplainRequest& request, const ProgressFn& progress) override {
    std::lock_guard lock(mutex_);
    c10::InferenceMode normal_mode(false);  // a caller's InferenceMode would forbid autograd
    at::AutoGradMode grad_mode(true);
    const auto start = Clock::now();
    BaselineInput in = detail::prepare_baseline_input(request);
    const double prepare = seconds_since(start);
    const auto compute_start = Clock::now();
    Scores s = compute(in, request, progress);
    const double compute_seconds = seconds_since(compute_start);

    Explanation e = in.task->skeleton;
    e.method = from_string<ExplainMethod>(name_);
    e.explained = request.explain;
    e.mode.reset();  // suppression settings do not apply to baselines
    e.kappa = 0;
    e.factor = 0;
    e.variant.reset();
    e.post = request.post;
    e.baseline_per_target = s.losses;
    e.baseline_loss = 0;
    for (double l : s.losses) e.baseline_loss += l;
    e.candidates = in.task->candidates;
    const at::Tensor scores = s.per_position.to(at::kCPU, at::kDouble).contiguous();
    const int64_t nt = scores.size(0), S = scores.size(1);
    const double* d = scores.data_ptr<double>();
    for (Candidate& c : e.candidates) {
      c.per_target.assign(nt, 0.0);
      double sum = 0;
      for (int64_t t = 0; t < nt; ++t) {
        for (int p : c.positions) c.per_target[t] += d[t * S + p];
        sum += c.per_target[t];
      }
      c.value = post_process(sum, request.post);
    }
    e.timings.prepare_seconds = prepare;
    e.timings.baseline_seconds = s.baseline_seconds;
    e.timings.perturbation_seconds = compute_seconds;
    e.timings.total_seconds = seconds_since(start);
    e.timings.forwards = s.forwards;
    e.timings.batches = s.batches;
    return e;
  }

 protected:
  virtual Scores compute(const BaselineInput& in, const ExplainRequest& request,
                         const ProgressFn& progress) = 0;

 private:
  std::string name_;
  std::mutex mutex_;
};

// "attention": last layer, head mean, prediction row. "rollout": e_rowᵀ Π_{l=L..1}(0.5·Ā_l +
// 0.5·I). With a pooling head (SigLIP) its probe's row ā_head plays both parts: "attention" is
// ā_head (the head is the last attention over the patches), "rollout" ā_head Π_l(0.5·Ā_l + 0.5·I)
// (the head has no residual, so no 0.5·I of its own): a distribution over the patches.
class AttentionExplainer final : public BaselineExplainer {
 public:
  explicit AttentionExplainer(bool rollout)
      : BaselineExplainer(rollout ? "rollout" : "attention"), rollout_(rollout) {}

 protected:
  Scores compute(const BaselineInput& in, const ExplainRequest&,
                 const ProgressFn& progress) override {
    at::NoGradGuard no_grad;
    Progress p(progress, 1);
    std::vector<at::Tensor> weights;
    Suppression recorder;
    recorder.record_weights = &weights;
    Scores s;
    const auto start = Clock::now();
    s.losses = losses_of(in.log_probs(in.hidden(in.embeds, &recorder), &recorder));
    s.baseline_seconds = seconds_since(start);
    s.forwards = s.batches = 1;
    check_recorded(weights, in);
    const at::Device device = weights.back().device();
    if (!rollout_) {
      if (in.pooling_head) {
        s.per_position = probe_row(weights.back()).to(at::kCPU);  // (1, S)
      } else {
        at::Tensor mean = weights.back()[0].mean(0).to(at::kDouble);  // (T, S)
        s.per_position = prediction_one_hot(in, device).matmul(mean).to(at::kCPU);
      }
    } else {
      // Row vectors from the last layer down: v ← v (0.5·Ā_l + 0.5·I), never the full S×S product.
      at::Tensor v =
          in.pooling_head ? probe_row(weights.back()) : prediction_one_hot(in, device);  // (nt, S)
      for (int l = in.layers - 1; l >= 0; --l)
        v = 0.5 * v.matmul(weights[l][0].mean(0).to(at::kDouble)) + 0.5 * v;
      s.per_position = v.to(at::kCPU);
    }
    p.advance();
    return s;
  }

 private:
  bool rollout_;
};

// Input×Gradient: Σ_c x_c · ∂F_t/∂x_c.
class InputXGradientExplainer final : public BaselineExplainer {
 public:
  InputXGradientExplainer() : BaselineExplainer("ixg") {}

 protected:
  Scores compute(const BaselineInput& in, const ExplainRequest&,
                 const ProgressFn& progress) override {
    const int64_t nt = static_cast<int64_t>(in.rows.size());
    Progress p(progress, static_cast<int>(nt));
    at::Tensor x = in.embeds.detach().requires_grad_(true);  // (1, E, C)
    Scores s;
    const auto start = Clock::now();
    at::Tensor F = in.log_probs(in.hidden(x, nullptr), nullptr);  // (1, nt)
    s.baseline_seconds = seconds_since(start);
    s.losses = losses_of(F);
    s.forwards = s.batches = 1;
    std::vector<at::Tensor> rows;
    for (int64_t t = 0; t < nt; ++t) {
      reset_grad(x);
      backward_target(F, t);
      rows.push_back((x.detach() * x.grad()).sum(-1)[0]);  // (E)
      p.advance();
    }
    s.per_position = rows_to_positions(in, at::stack(rows));
    return s;
  }
};

// Integrated Gradients from the zero embedding: (x − 0) ⊙ (1/n) Σ_k ∂F_t/∂x at ((k + 0.5)/n)·x.
class IntegratedGradientsExplainer final : public BaselineExplainer {
 public:
  explicit IntegratedGradientsExplainer(int steps) : BaselineExplainer("ig"), steps_(steps) {}

 protected:
  Scores compute(const BaselineInput& in, const ExplainRequest& r,
                 const ProgressFn& progress) override {
    const int64_t nt = static_cast<int64_t>(in.rows.size());
    const int64_t n = steps_;
    int64_t chunk = r.batch_size;
    if (chunk <= 0) {
      const int64_t budget = r.memory_budget_bytes > 0 ? r.memory_budget_bytes : (1ll << 30);
      chunk = std::clamp<int64_t>(budget / std::max<int64_t>(1, in.grad_bytes_per_item), 1, n);
    }
    Progress p(progress, static_cast<int>(n + 1));
    const at::Tensor x0 = in.embeds.detach();  // (1, E, C)
    Scores s;
    {
      at::NoGradGuard no_grad;
      const auto start = Clock::now();
      s.losses = losses_of(in.log_probs(in.hidden(x0, nullptr), nullptr));
      s.baseline_seconds = seconds_since(start);
      s.forwards = s.batches = 1;
      p.advance();
    }
    at::Tensor total = at::zeros({nt, x0.size(1), x0.size(2)}, x0.options());  // Σ_k gradients
    for (int64_t begin = 0; begin < n; begin += chunk) {
      const int64_t b = std::min(chunk, n - begin);
      at::Tensor alphas =
          (at::arange(begin, begin + b, x0.options()) + 0.5) / static_cast<double>(n);
      at::Tensor xb = (alphas.view({b, 1, 1}) * x0).requires_grad_(true);  // (b, E, C) leaf
      at::Tensor F = in.log_probs(in.hidden(xb, nullptr), nullptr);        // (b, nt)
      for (int64_t t = 0; t < nt; ++t) {
        reset_grad(xb);
        backward_target(F, t);
        total[t] += xb.grad().sum(0);
      }
      s.forwards += static_cast<int>(b);
      ++s.batches;
      p.advance(static_cast<int>(b));
    }
    at::Tensor attribution = (x0 * total / static_cast<double>(n)).sum(-1);  // (nt, E)
    s.per_position = rows_to_positions(in, attribution);
    return s;
  }

 private:
  int steps_;
};

// GradCAM on the last block's output H: relu(Σ_c mean_tokens(∂F_t/∂H)_c · H_c) per token. The
// mean and the map span the present positions only (SigLIP 2: not the masked padding).
class GradCamExplainer final : public BaselineExplainer {
 public:
  GradCamExplainer() : BaselineExplainer("gradcam") {}

 protected:
  Scores compute(const BaselineInput& in, const ExplainRequest&,
                 const ProgressFn& progress) override {
    const int64_t nt = static_cast<int64_t>(in.rows.size());
    Progress p(progress, static_cast<int>(nt));
    Scores s;
    const auto start = Clock::now();
    at::Tensor h;
    {
      at::NoGradGuard no_grad;  // nothing below the last block's output is differentiated
      h = in.hidden(in.embeds, nullptr);
    }
    h = h.detach().requires_grad_(true);      // (1, S, C)
    at::Tensor F = in.log_probs(h, nullptr);  // (1, nt)
    s.baseline_seconds = seconds_since(start);
    s.losses = losses_of(F);
    s.forwards = s.batches = 1;
    const at::Tensor present =
        in.present.defined() ? in.present.to(h.device()).nonzero().view({-1}) : at::Tensor();
    std::vector<at::Tensor> cams;
    for (int64_t t = 0; t < nt; ++t) {
      reset_grad(h);
      backward_target(F, t);
      at::Tensor grad = h.grad()[0];                                                      // (S, C)
      at::Tensor w = (present.defined() ? grad.index_select(0, present) : grad).mean(0);  // (C)
      at::Tensor cam = at::relu(h.detach()[0].matmul(w)).to(at::kCPU, at::kDouble);       // (S)
      if (present.defined()) cam = cam * in.present.to(at::kDouble);
      cams.push_back(cam);
      p.advance();
    }
    s.per_position = at::stack(cams);
    return s;
  }
};

// Chefer et al. 2021: R = I; per layer Ā = E_h[(∇A ⊙ A)^+], R ← R + Ā·R; row of the prediction.
// With a pooling head (SigLIP), the probe is a query outside the sequence: Chefer's rule for such
// a cross-attention (their bi-modal case, R^qk ← R^qk + Ā^qk·R^kk with R^qk = 0 before) gives the
// probe's relevance row Ā_head·R_L, where Ā_head = E_h[(∇A ⊙ A)^+] of the head's attention.
class CheferExplainer final : public BaselineExplainer {
 public:
  CheferExplainer() : BaselineExplainer("chefer") {}

 protected:
  Scores compute(const BaselineInput& in, const ExplainRequest&,
                 const ProgressFn& progress) override {
    const int64_t nt = static_cast<int64_t>(in.rows.size());
    Progress p(progress, static_cast<int>(nt));
    // The input requires grad so the attention weights are part of a graph.
    at::Tensor x = in.embeds.detach().requires_grad_(true);
    std::vector<at::Tensor> weights;
    Suppression recorder;
    recorder.record_weights = &weights;
    Scores s;
    const auto start = Clock::now();
    at::Tensor F = in.log_probs(in.hidden(x, &recorder), &recorder);  // (1, nt)
    s.baseline_seconds = seconds_since(start);
    s.losses = losses_of(F);
    s.forwards = s.batches = 1;
    check_recorded(weights, in);
    for (at::Tensor& a : weights) a.retain_grad();
    const at::Tensor one_hot = prediction_one_hot(in, weights.back().device());
    std::vector<at::Tensor> rows;
    for (int64_t t = 0; t < nt; ++t) {
      for (at::Tensor& a : weights) reset_grad(a);
      reset_grad(x);
      backward_target(F, t);
      at::NoGradGuard no_grad;
      auto bar_of = [&weights](int l) {  // Ā_l: (T, S) float64
        const at::Tensor& a = weights[l];
        if (!a.grad().defined())
          throw Error("chefer: layer " + std::to_string(l) + " got no gradient");
        return (a.grad() * a.detach())[0].clamp_min(0).mean(0).to(at::kDouble);
      };
      // Row i of R_L = e_iᵀ (I + Ā_L) ⋯ (I + Ā_1): row vectors from the last layer down.
      at::Tensor v = in.pooling_head ? bar_of(in.layers)[0] : one_hot[t];  // (S)
      for (int l = in.layers - 1; l >= 0; --l) v = v + v.matmul(bar_of(l));
      rows.push_back(v.to(at::kCPU));
      p.advance();
    }
    s.per_position = at::stack(rows);
    return s;
  }
};

}  // namespace

namespace detail {

std::unique_ptr<Explainer> make_attention_explainer(bool rollout) {
  return std::make_unique<AttentionExplainer>(rollout);
}
std::unique_ptr<Explainer> make_ixg_explainer() {
  return std::make_unique<InputXGradientExplainer>();
}
std::unique_ptr<Explainer> make_ig_explainer(int steps) {
  return std::make_unique<IntegratedGradientsExplainer>(steps);
}
std::unique_ptr<Explainer> make_gradcam_explainer() {
  return std::make_unique<GradCamExplainer>();
}
std::unique_ptr<Explainer> make_chefer_explainer() {
  return std::make_unique<CheferExplainer>();
}

}  // namespace detail
}  // namespace atman
