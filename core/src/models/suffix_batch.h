// The explainer's batches of a causal LM in packed form. Perturbation b of one input of T
// positions differs from the unperturbed pass only from position starts[b] on (its first suppressed
// key), so only its rows [starts[b], T) are computed: the token-wise layers (projections, MLP,
// norms) run on the packed rows of all perturbations, attention on a padded (B, T - min start)
// layout whose keys before starts[b] are the unperturbed pass's. A batch of single-token
// suppressions of an n-token prompt then costs about n²/2 rows instead of n per mask.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace atman {

class SuffixBatch {
 public:
  // starts: per perturbation, its first recomputed position (0 <= start <= T - outputs);
  // outputs: how many last positions the caller needs (the target positions).
  SuffixBatch(const std::vector<int64_t>& starts, int64_t positions, int64_t outputs,
              at::Device device);

  int64_t batch() const { return batch_; }
  int64_t positions() const { return positions_; }
  // The smallest start: padded rows cover positions [first(), T).
  int64_t first() const { return first_; }
  int64_t padded() const { return positions_ - first_; }
  int64_t rows() const { return rows_; }
  int64_t outputs() const { return outputs_; }
  // Perturbation b's first recomputed position, and its first row in the packed layout.
  int64_t start(int64_t b) const { return starts_[b]; }
  int64_t offset(int64_t b) const { return offsets_[b]; }

  // Rows of positions [first(), T) shared by all perturbations, (padded(), X) -> packed (rows(),
  // X).
  at::Tensor spread(const at::Tensor& shared) const;
  // Packed (rows(), X) -> (B, padded(), X); rows before a perturbation's start are zero.
  at::Tensor to_padded(const at::Tensor& packed) const;
  // (B, padded(), X) -> packed (rows(), X).
  at::Tensor from_padded(const at::Tensor& padded) const;
  // All T rows per perturbation, (B, T, X): `base` (T, X) (the unperturbed pass) before each
  // perturbation's start, its packed rows from there on.
  at::Tensor full(const at::Tensor& packed, const at::Tensor& base) const;
  // The packed rows of the last outputs() positions, (B * outputs(), X), perturbation-major.
  at::Tensor last(const at::Tensor& packed) const;
  // Their positions relative to first(), (outputs()) (the same for every perturbation).
  at::Tensor last_positions() const { return last_positions_; }

 private:
  int64_t batch_ = 0, positions_ = 0, first_ = 0, rows_ = 0, outputs_ = 0;
  std::vector<int64_t> starts_, offsets_;
  at::Tensor shared_index_;  // per packed row: position - first
  at::Tensor padded_index_;  // per packed row: b * padded + position - first
  at::Tensor full_index_;    // per packed row: b * T + position
  at::Tensor last_index_;    // per output row: its packed row
  at::Tensor last_positions_;
};

}  // namespace atman
