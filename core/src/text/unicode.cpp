#include "text/unicode.h"

#include <algorithm>

#include "text/unicode_tables.h"

namespace atman::text {
namespace {

using tables::CaseKind;

CaseKind case_kind(char32_t c) {
  const auto* begin = tables::kCaseRanges;
  const auto* end = begin + tables::kCaseRangeCount;
  // First range whose last code point is >= c.
  const auto* it = std::lower_bound(
      begin, end, c, [](const tables::CaseRange& r, char32_t v) { return r.last < v; });
  return it != end && it->first <= c ? it->kind : CaseKind::kNone;
}

// CPython's handle_capital_sigma(): Σ is final when a cased letter precedes it and none follows,
// skipping case-ignorable code points (apostrophes, combining marks) in both directions.
bool is_final_sigma(const std::u32string& s, size_t i) {
  size_t j = i;
  while (j > 0 && case_kind(s[j - 1]) == CaseKind::kIgnorable) --j;
  if (j == 0 || case_kind(s[j - 1]) != CaseKind::kCased) return false;
  size_t k = i + 1;
  while (k < s.size() && case_kind(s[k]) == CaseKind::kIgnorable) ++k;
  return k == s.size() || case_kind(s[k]) != CaseKind::kCased;
}

}  // namespace

bool is_white_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_python_space(char32_t c) {
  return is_white_space(c) || (c >= 0x1C && c <= 0x1F);
}

char32_t simple_lower(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  const auto* begin = tables::kLowerRuns;
  const auto* end = begin + tables::kLowerRunCount;
  const auto* it = std::lower_bound(
      begin, end, c, [](const tables::LowerRun& r, char32_t v) { return r.last < v; });
  if (it == end || it->first > c || (c - it->first) % static_cast<char32_t>(it->stride) != 0) {
    return c;
  }
  return static_cast<char32_t>(static_cast<int32_t>(c) + it->delta);
}

MappedText MappedText::identity(std::u32string text) {
  MappedText t;
  t.origin.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    t.origin.emplace_back(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1);
  }
  t.text = std::move(text);
  return t;
}

void python_strip(MappedText& t) {
  size_t b = 0, e = t.text.size();
  while (b < e && is_python_space(t.text[b])) ++b;
  while (e > b && is_python_space(t.text[e - 1])) --e;
  if (b == 0 && e == t.text.size()) return;
  t.text = t.text.substr(b, e - b);
  t.origin = std::vector<Span>(t.origin.begin() + static_cast<std::ptrdiff_t>(b),
                               t.origin.begin() + static_cast<std::ptrdiff_t>(e));
}

MappedText collapse_white_space(const MappedText& t) {
  MappedText out;
  out.text.reserve(t.text.size());
  out.origin.reserve(t.text.size());
  for (size_t i = 0; i < t.text.size();) {
    if (!is_white_space(t.text[i])) {
      out.text.push_back(t.text[i]);
      out.origin.push_back(t.origin[i]);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < t.text.size() && is_white_space(t.text[j])) ++j;
    out.text.push_back(U' ');
    out.origin.push_back(t.origin_of(i, j - 1));
    i = j;
  }
  return out;
}

MappedText python_lower(const MappedText& t) {
  MappedText out;
  out.text.reserve(t.text.size());
  out.origin.reserve(t.text.size());
  for (size_t i = 0; i < t.text.size(); ++i) {
    const char32_t c = t.text[i];
    if (c == 0x130) {  // İ: the only unconditional two-code-point lower case (SpecialCasing.txt)
      out.text.push_back(U'i');
      out.origin.push_back(t.origin[i]);
      out.text.push_back(0x307);
      out.origin.push_back(t.origin[i]);
      continue;
    }
    out.text.push_back(c == 0x3A3 ? (is_final_sigma(t.text, i) ? 0x3C2 : 0x3C3) : simple_lower(c));
    out.origin.push_back(t.origin[i]);
  }
  return out;
}

}  // namespace atman::text
