#include "models/attention.h"

#include <ATen/ATen.h>

#include <cmath>

#include "atman/error.h"

namespace atman {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                     const Suppression* suppression, int layer, const AttentionOptions& options) {
  const int64_t heads = q.size(1), kv_heads = k.size(1);
  const int64_t queries = q.size(2), keys = k.size(2), head_dim = q.size(3);
  at::Tensor key = k, value = v;
  if (kv_heads != heads) {  // grouped-query attention: query head h reads KV head h / (H / Hkv)
    key = k.repeat_interleave(heads / kv_heads, 1);
    value = v.repeat_interleave(heads / kv_heads, 1);
  }
  double scale = options.scale > 0 ? options.scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
  at::Tensor scores = at::matmul(q, key.transpose(-2, -1));  // (B, H, T, S), raw Q Kᵀ
  if (options.softcap > 0) {
    // Gemma 2: cap the scaled scores, then suppress those (the shift by the row minimum is only
    // softmax-invariant after the tanh).
    scores = at::tanh(scores.mul_(scale).div_(options.softcap)).mul_(options.softcap);
    scale = 1.0;
  }

  const bool suppress = suppression != nullptr && suppression->active_in(layer);
  if (suppress) {
    const at::Tensor& m = suppression->factors;
    // Batch 1 queries/keys with B masks: the explainer's first layer, identical for every mask up
    // to here, is computed once and broadcast against the factors.
    if (m.dim() != 2 || m.size(1) != keys ||
        (m.size(0) != scores.size(0) && m.size(0) != 1 && scores.size(0) != 1))
      throw Error("suppression factors have shape " + std::to_string(m.size(0)) + "x" +
                  std::to_string(m.size(1)) + " but attention has batch " +
                  std::to_string(scores.size(0)) + " and " + std::to_string(keys) + " keys");
    const at::Tensor factors = m.to(scores.scalar_type()).view({m.size(0), 1, 1, keys});
    if (suppression->variant == SuppressionVariant::Multiplicative) {
      // Spec §1: shift by the minimum of the whole row (masked keys included) so every score is
      // >= 0 before scaling; softmax is shift-invariant, so m = 1 leaves attention unchanged.
      // In place where the batch allows (same operations, same rounding as out of place).
      scores.sub_(std::get<0>(scores.min(-1, true)));
      scores = scores.size(0) == factors.size(0) ? scores.mul_(factors) : scores * factors;
      scores.mul_(scale);
    } else {
      scores = scores * scale + at::log(factors);
    }
  } else {
    scores.mul_(scale);
  }

  if (causal || options.window > 0) {
    // Query t is at absolute position (keys - queries + t); keys after it are hidden, and with a
    // window so are keys `window` or more positions before it.
    const auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
    at::Tensor query_pos = at::arange(keys - queries, keys, opts).unsqueeze(1);  // (T, 1)
    at::Tensor key_pos = at::arange(keys, opts).unsqueeze(0);                    // (1, S)
    at::Tensor hidden = causal ? key_pos > query_pos : at::zeros({1, 1}, opts.dtype(at::kBool));
    if (options.window > 0) hidden = hidden.logical_or(key_pos <= query_pos - options.window);
    if (options.prefix > 0)
      hidden = hidden.logical_and(
          (query_pos < options.prefix).logical_and(key_pos < options.prefix).logical_not());
    scores.masked_fill_(hidden, -std::numeric_limits<float>::infinity());
  }
  if (options.key_mask.defined()) {
    const at::Tensor& mask = options.key_mask;
    if (mask.dim() != 2 || mask.size(1) != keys ||
        (mask.size(0) != 1 && mask.size(0) != scores.size(0)))
      throw Error("attention key mask has shape " + std::to_string(mask.size(0)) + "x" +
                  std::to_string(mask.size(mask.dim() - 1)) + " but attention has batch " +
                  std::to_string(scores.size(0)) + " and " + std::to_string(keys) + " keys");
    scores = scores.masked_fill(mask.logical_not().view({mask.size(0), 1, 1, keys}),
                                -std::numeric_limits<float>::infinity());
  }
  // (B, H, T, S), in float32 for bfloat16/float16 models as transformers (no-op for float32).
  at::Tensor weights = at::softmax(scores, -1, at::kFloat).to(scores.scalar_type());
  if (suppression != nullptr && suppression->record_weights != nullptr)
    suppression->record_weights->push_back(weights);
  return at::matmul(weights, value);  // (B, H, T, D)
}

}  // namespace atman
