// Coverage feedback for libFuzzer from GCC-instrumented code (see fuzz/instrumentation.cmake).
//
// Why: clang cannot compile LibTorch 1.13's headers in C++20 mode (ATen/core/List.h holds a
// std::vector of the then-incomplete c10::IValue, which C++20's constexpr std::vector rejects;
// pytorch/pytorch#97689, same with clang 16), so the core is built with GCC, and GCC has no
// -fsanitize=fuzzer. GCC does have -fsanitize-coverage=trace-pc (a call at every basic block) and
// trace-cmp (a call at every comparison, the same callbacks libFuzzer implements). libFuzzer 14
// refuses trace-pc itself, so the link wraps __sanitizer_cov_trace_pc to the function below, which
// records edges (this block and the previous one, AFL-style) as 8-bit counters in the section
// libFuzzer reads "extra counters" from. libFuzzer resets them before every input.
//
// This file is compiled without instrumentation. Executables that are not fuzz harnesses (the
// tests of an instrumented build) link it too: there the counters are unused and the comparison
// callbacks are the weak no-ops below; in a harness, libFuzzer's own definitions win.
#include <cstddef>
#include <cstdint>

extern "C" {

__attribute__((section("__libfuzzer_extra_counters"), used)) uint8_t atman_fuzz_edges[1 << 16];

namespace {
thread_local uintptr_t previous_block = 0;
}

void __wrap___sanitizer_cov_trace_pc() {
  const auto block = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  // Fibonacci hashing of (previous, current) onto the counters: distinct edges rarely collide.
  const uintptr_t edge = ((block ^ previous_block) * 0x9E3779B97F4A7C15ull) >> 48;
  previous_block = block >> 1;
  ++atman_fuzz_edges[edge];
}

#define ATMAN_WEAK __attribute__((weak))
ATMAN_WEAK void __sanitizer_cov_trace_cmp1(uint8_t, uint8_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_cmp2(uint16_t, uint16_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_cmp4(uint32_t, uint32_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_cmp8(uint64_t, uint64_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_const_cmp1(uint8_t, uint8_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_const_cmp2(uint16_t, uint16_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_const_cmp4(uint32_t, uint32_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_const_cmp8(uint64_t, uint64_t) {}
ATMAN_WEAK void __sanitizer_cov_trace_switch(uint64_t, uint64_t*) {}
// GCC also reports floating-point comparisons, which libFuzzer does not use.
ATMAN_WEAK void __sanitizer_cov_trace_cmpf(float, float) {}
ATMAN_WEAK void __sanitizer_cov_trace_cmpd(double, double) {}
#undef ATMAN_WEAK

}  // extern "C"
