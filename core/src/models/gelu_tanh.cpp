#include "models/gelu_tanh.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace atman {
namespace {

// transformers' gelu_new is 0.5 x (1 + tanh(u)), u = sqrt(2 / pi) (x + 0.044715 x^3). As
// 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)), it is x / (1 + exp(-2u)): one exp instead of a tanh,
// and no cancellation in 1 + tanh(u) for negative x. exp is Cephes' expf (within about 1 ulp):
// 2^n times a polynomial on [-ln 2 / 2, ln 2 / 2].
constexpr float kTwoBeta = 1.5957691216057308f;                   // 2 sqrt(2 / pi)
constexpr float kTwoBetaKappa = 1.5957691216057308f * 0.044715f;  // 2 sqrt(2 / pi) 0.044715
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: (y + kRound) - kRound rounds y to an integer
// exp's argument is clamped to +-kMaxArg: beyond it x / (1 + exp) is x or 0 to float precision,
// and 2^n stays a normal float.
constexpr float kMaxArg = 87.0f;

typedef float Floats4 __attribute__((vector_size(16)));
typedef int32_t Ints4 __attribute__((vector_size(16)));
typedef float Floats8 __attribute__((vector_size(32)));
typedef int32_t Ints8 __attribute__((vector_size(32)));
template <int W>
struct Vec;
template <>
struct Vec<4> {
  using F = Floats4;
  using I = Ints4;
};
template <>
struct Vec<8> {
  using F = Floats8;
  using I = Ints8;
};
template <int W>
using Floats = typename Vec<W>::F;
template <int W>
using Ints = typename Vec<W>::I;

// By reference: a 32-byte vector passed by value has another ABI with AVX than without.
template <int W>
inline __attribute__((always_inline)) void gelu(Floats<W>& x) {
  using F = Floats<W>;
  const F zero = F{} + 0.0f;
  F y = zero - x * (kTwoBeta + kTwoBetaKappa * x * x);  // -2u
  y = y < kMaxArg ? y : zero + kMaxArg;                 // NaN -> kMaxArg: x keeps the NaN
  y = y > -kMaxArg ? y : zero - kMaxArg;
  const F n = (y * kLog2e + kRound) - kRound;
  F r = y - n * kLn2Hi;
  r = r - n * kLn2Lo;
  F p = zero + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F e = p * r * r + r + 1.0f;
  const Ints<W> exponent = (__builtin_convertvector(n, Ints<W>) + 127) << 23;
  F scale;
  std::memcpy(&scale, &exponent, sizeof scale);
  x = x / (e * scale + 1.0f);
}

template <int W>
inline __attribute__((always_inline)) void bias_gelu_rows(float* x, const float* bias,
                                                          int64_t begin, int64_t end,
                                                          int64_t features) {
  using F = Floats<W>;
  for (int64_t i = begin; i < end; ++i) {
    float* row = x + i * features;
    int64_t j = 0;
    for (; j + W <= features; j += W) {
      F v, b;
      std::memcpy(&v, row + j, sizeof v);
      std::memcpy(&b, bias + j, sizeof b);
      v += b;
      gelu<W>(v);
      std::memcpy(row + j, &v, sizeof v);
    }
    if (j < features) {  // the tail through a zero-padded vector: the same arithmetic
      float v[W] = {}, b[W] = {};
      std::copy(row + j, row + features, v);
      std::copy(bias + j, bias + features, b);
      F fv, fb;
      std::memcpy(&fv, v, sizeof fv);
      std::memcpy(&fb, b, sizeof fb);
      fv += fb;
      gelu<W>(fv);
      std::memcpy(v, &fv, sizeof fv);
      std::copy(v, v + (features - j), row + j);
    }
  }
}

void bias_gelu_portable(float* x, const float* bias, int64_t begin, int64_t end, int64_t f) {
  bias_gelu_rows<4>(x, bias, begin, end, f);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) void bias_gelu_avx2(float* x, const float* bias, int64_t begin,
                                                        int64_t end, int64_t f) {
  bias_gelu_rows<8>(x, bias, begin, end, f);
}
bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

}  // namespace

void bias_gelu_tanh_(at::Tensor& x, const at::Tensor& bias) {
  const int64_t features = x.dim() > 0 ? x.size(-1) : 0;
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous() &&
      bias.device().is_cpu() && bias.scalar_type() == at::kFloat && bias.is_contiguous() &&
      bias.dim() == 1 && bias.size(0) == features && features > 0) {
    float* data = x.data_ptr<float>();
    const float* b = bias.data_ptr<float>();
    auto kernel = bias_gelu_portable;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (has_avx2()) kernel = bias_gelu_avx2;
#endif
    const int64_t rows = x.numel() / features;
    // About 32k elements per task, as ATen's element-wise kernels.
    at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / features),
                     [&](int64_t begin, int64_t end) { kernel(data, b, begin, end, features); });
    return;
  }
  at::gelu_(x.add_(bias), "tanh");
}

}  // namespace atman
