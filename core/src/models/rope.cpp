// RoPE inverse frequencies, following transformers' modeling_rope_utils function by function. The
// tensor arithmetic stays in float32 and in the same order as there (Python scalars are doubles
// that ATen casts to float32 exactly as PyTorch does), so the angles match transformers'.
#include "models/rope.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "atman/error.h"

namespace atman {
namespace {

at::Tensor exponents(int64_t dim) {  // arange(0, dim, 2).float() / dim
  return at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
}

at::Tensor default_inv_freq(double base, int64_t dim) {
  return at::reciprocal(at::pow(base, exponents(dim)));
}

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

RopeFrequencies yarn(const RopeSpec& r) {
  const RopeScaling& s = r.scaling;
  const int64_t dim = r.rotary_dim;
  const double base = r.theta;
  const double original = s.original_max_position_embeddings > 0
                              ? s.original_max_position_embeddings
                              : static_cast<double>(r.max_position_embeddings);
  // The configured factor wins; without one, DeepSeek-style configs imply max / original.
  const double factor = s.factor > 0 ? s.factor : r.max_position_embeddings / original;
  RopeFrequencies out;
  if (s.attention_factor > 0)
    out.attention_factor = s.attention_factor;
  else if (s.mscale > 0 && s.mscale_all_dim > 0)
    out.attention_factor = yarn_mscale(factor, s.mscale) / yarn_mscale(factor, s.mscale_all_dim);
  else
    out.attention_factor = yarn_mscale(factor, 1.0);
  auto correction_dim = [&](double rotations) {
    return dim * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoids a zero-width ramp
  const at::Tensor pos_freqs = at::pow(base, exponents(dim));
  const at::Tensor extrapolation = at::reciprocal(pos_freqs);
  const at::Tensor interpolation = at::reciprocal(factor * pos_freqs);
  const at::Tensor ramp = at::clamp((at::arange(dim / 2, at::kFloat) - low) / (high - low), 0, 1);
  const at::Tensor extrapolation_factor = 1 - ramp;
  out.inv_freq = interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
  return out;
}

RopeFrequencies longrope(const RopeSpec& r, int64_t seq_len) {
  const RopeScaling& s = r.scaling;
  double factor = s.factor;
  int64_t original = r.original_max_position_embeddings > 0 ? r.original_max_position_embeddings
                                                            : s.original_max_position_embeddings;
  if (original > 0)
    factor = static_cast<double>(r.max_position_embeddings) / original;
  else
    original = r.max_position_embeddings;
  RopeFrequencies out;
  if (s.attention_factor > 0)
    out.attention_factor = s.attention_factor;
  else
    out.attention_factor =
        factor <= 1.0 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(double(original)));
  const auto& ext = seq_len > original ? s.long_factor : s.short_factor;
  const at::Tensor ext_factors = at::tensor(std::vector<double>(ext), at::kDouble).to(at::kFloat);
  out.inv_freq = at::reciprocal(ext_factors * at::pow(r.theta, exponents(r.rotary_dim)));
  return out;
}

at::Tensor llama3(const RopeSpec& r) {
  const RopeScaling& s = r.scaling;
  const at::Tensor inv_freq = default_inv_freq(r.theta, r.rotary_dim);
  const double old_context = s.original_max_position_embeddings;
  const double low_wavelen = old_context / s.low_freq_factor;
  const double high_wavelen = old_context / s.high_freq_factor;
  const at::Tensor wavelen = at::reciprocal(inv_freq) * (2 * M_PI);
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
  const at::Tensor smooth = (at::reciprocal(wavelen) * old_context - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  const at::Tensor medium =
      (wavelen < high_wavelen).logical_not() * (wavelen > low_wavelen).logical_not();
  return at::where(medium, smoothed, scaled);
}

}  // namespace

bool RopeSpec::depends_on_length() const {
  return scaling.type == "dynamic" || scaling.type == "longrope";
}

RopeFrequencies RopeSpec::frequencies(int64_t seq_len) const {
  const std::string& type = scaling.type;
  RopeFrequencies out;
  if (type == "linear") {
    out.inv_freq = default_inv_freq(theta, rotary_dim) / scaling.factor;
  } else if (type == "dynamic") {
    // Recomputed for the current length once it passes max_position_embeddings.
    const double max = static_cast<double>(max_position_embeddings);
    const double len = seq_len > max_position_embeddings ? static_cast<double>(seq_len) : max;
    const double factor = scaling.factor;
    const double base = theta * std::pow(factor * len / max - (factor - 1),
                                         double(rotary_dim) / double(rotary_dim - 2));
    out.inv_freq = default_inv_freq(base, rotary_dim);
  } else if (type == "yarn") {
    out = yarn(*this);
  } else if (type == "longrope") {
    out = longrope(*this, seq_len);
  } else if (type == "llama3") {
    out.inv_freq = llama3(*this);
  } else {
    out.inv_freq = default_inv_freq(theta, rotary_dim);
  }
  return out;
}

std::pair<at::Tensor, at::Tensor> RopeSpec::cos_sin(int64_t start, int64_t T, at::Device device,
                                                    at::ScalarType dtype) const {
  const RopeFrequencies f = frequencies(start + T);
  // transformers: (inv_freq @ positions) in float32, emb = cat(freqs, freqs), cos() * factor.
  const at::Tensor positions = at::arange(start, start + T, at::kLong).to(at::kFloat);
  const at::Tensor freqs = at::outer(positions, f.inv_freq);  // (T, rotary_dim / 2)
  const at::Tensor angles = at::cat({freqs, freqs}, -1);      // (T, rotary_dim)
  at::Tensor cos = angles.cos(), sin = angles.sin();
  if (f.attention_factor != 1.0) {
    cos = cos * f.attention_factor;
    sin = sin * f.attention_factor;
  }
  return {cos.to(device, dtype), sin.to(device, dtype)};
}

std::pair<at::Tensor, at::Tensor> RopeSpec::mrope_cos_sin(const at::Tensor& positions,
                                                          const std::vector<int>& section,
                                                          at::Device device,
                                                          at::ScalarType dtype) const {
  const int64_t T = positions.size(1);
  const RopeFrequencies f = frequencies(T);
  // transformers: (inv_freq @ positions) per component in float32, emb = cat(freqs, freqs), then
  // the sections [t, h, w, t, h, w] of emb are taken from components 0, 1, 2, 0, 1, 2: the same
  // as choosing, per frequency pair, the component of its section before duplicating.
  const at::Tensor pos = positions.to(at::kCPU).to(at::kFloat);             // (3, T)
  const at::Tensor freqs = pos.unsqueeze(2) * f.inv_freq.view({1, 1, -1});  // (3, T, R/2)
  std::vector<int64_t> component;
  for (size_t s = 0; s < section.size(); ++s) component.insert(component.end(), section[s], s % 3);
  if (static_cast<int64_t>(component.size()) != f.inv_freq.size(0))
    throw Error("mrope_section covers " + std::to_string(component.size()) +
                " frequency pairs but the rotary embedding has " +
                std::to_string(f.inv_freq.size(0)));
  const at::Tensor pick = at::tensor(component, at::kLong).view({1, 1, -1}).expand({1, T, -1});
  const at::Tensor chosen = freqs.gather(0, pick).squeeze(0);  // (T, R/2)
  const at::Tensor angles = at::cat({chosen, chosen}, -1);     // (T, rotary_dim)
  at::Tensor cos = angles.cos(), sin = angles.sin();
  if (f.attention_factor != 1.0) {
    cos = cos * f.attention_factor;
    sin = sin * f.attention_factor;
  }
  return {cos.to(device, dtype), sin.to(device, dtype)};
}

RopeSpec global_rope(const LlamaConfig& c) {
  RopeSpec r;
  r.scaling = c.rope_scaling;
  r.theta = c.rope_theta;
  r.rotary_dim = static_cast<int64_t>(c.head_dim * c.partial_rotary_factor);
  r.max_position_embeddings = c.max_position_embeddings;
  r.original_max_position_embeddings = c.original_max_position_embeddings;
  return r;
}

RopeSpec local_rope(const LlamaConfig& c) {
  if (c.rope_local_theta <= 0) return global_rope(c);
  RopeSpec r = global_rope(c);
  r.scaling = RopeScaling{};  // Gemma 3: sliding layers use plain RoPE with their own base
  r.theta = c.rope_local_theta;
  return r;
}

}  // namespace atman
