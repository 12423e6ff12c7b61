// Unicode tables generated from CPython (see unicode_tables.cpp) so that CLIP's lower() step gives
// exactly Python's str.lower(), including the context-dependent final sigma.
#pragma once

#include <cstddef>
#include <cstdint>

namespace atman::text::tables {

struct LowerRun {
  char32_t first;
  char32_t last;
  int32_t delta;   // lower(c) = c + delta
  int32_t stride;  // 1 for a block, 2 for the alternating upper/lower pairs of Latin Extended etc.
};

// Case properties as CPython's Final_Sigma test sees them. kIgnorable wins over kCased for code
// points that are both, because the test skips ignorable code points before it looks for cased
// ones.
enum class CaseKind : uint8_t { kNone, kIgnorable, kCased };

struct CaseRange {
  char32_t first;
  char32_t last;
  CaseKind kind;
};

extern const LowerRun kLowerRuns[];
extern const std::size_t kLowerRunCount;
extern const CaseRange kCaseRanges[];
extern const std::size_t kCaseRangeCount;

}  // namespace atman::text::tables
