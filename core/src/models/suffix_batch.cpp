#include "models/suffix_batch.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "atman/error.h"

namespace atman {

SuffixBatch::SuffixBatch(const std::vector<int64_t>& starts, int64_t positions, int64_t outputs,
                         at::Device device)
    : batch_(static_cast<int64_t>(starts.size())), positions_(positions), outputs_(outputs) {
  if (starts.empty() || outputs < 1 || outputs > positions)
    throw Error("a suffix batch needs perturbations and 1.." + std::to_string(positions) +
                " output positions");
  first_ = *std::min_element(starts.begin(), starts.end());
  const int64_t P = padded();
  std::vector<int64_t> shared, padded_rows, full, last;
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t start = starts[b];
    if (start < 0 || start > positions - outputs)
      throw Error("a perturbation's first recomputed position " + std::to_string(start) +
                  " lies outside 0.." + std::to_string(positions - outputs));
    const int64_t offset = static_cast<int64_t>(shared.size());
    starts_.push_back(start);
    offsets_.push_back(offset);
    for (int64_t t = start; t < positions; ++t) {
      shared.push_back(t - first_);
      padded_rows.push_back(b * P + t - first_);
      full.push_back(b * positions + t);
    }
    for (int64_t t = positions - outputs; t < positions; ++t) last.push_back(offset + t - start);
  }
  rows_ = static_cast<int64_t>(shared.size());
  auto to_tensor = [&](const std::vector<int64_t>& v) {
    return at::tensor(v, at::kLong).to(device);
  };
  shared_index_ = to_tensor(shared);
  padded_index_ = to_tensor(padded_rows);
  full_index_ = to_tensor(full);
  last_index_ = to_tensor(last);
  last_positions_ = at::arange(P - outputs, P, at::TensorOptions(at::kLong).device(device));
}

at::Tensor SuffixBatch::spread(const at::Tensor& shared) const {
  return shared.index_select(0, shared_index_);
}

at::Tensor SuffixBatch::to_padded(const at::Tensor& packed) const {
  const int64_t X = packed.size(-1);
  return at::zeros({batch_ * padded(), X}, packed.options())
      .index_copy_(0, padded_index_, packed)
      .view({batch_, padded(), X});
}

at::Tensor SuffixBatch::from_padded(const at::Tensor& padded_rows) const {
  return padded_rows.reshape({batch_ * padded(), padded_rows.size(-1)})
      .index_select(0, padded_index_);
}

at::Tensor SuffixBatch::full(const at::Tensor& packed, const at::Tensor& base) const {
  const int64_t X = packed.size(-1);
  // clone: never write into `base` (a view of the unperturbed cache when the batch is 1).
  return base.reshape({1, positions_, X})
      .expand({batch_, positions_, X})
      .clone(at::MemoryFormat::Contiguous)
      .view({batch_ * positions_, X})
      .index_copy_(0, full_index_, packed)
      .view({batch_, positions_, X});
}

at::Tensor SuffixBatch::last(const at::Tensor& packed) const {
  return packed.index_select(0, last_index_);
}

}  // namespace atman
