#include "text/nfc.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atman::text {
namespace {

// Range tables are sorted: the first range whose last code point is >= c decides.
template <typename Range>
const Range* find_range(const Range* begin, size_t count, char32_t c) {
  const Range* end = begin + count;
  const Range* it =
      std::lower_bound(begin, end, c, [](const Range& r, char32_t v) { return r.last < v; });
  return it != end && it->first <= c ? it : nullptr;
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const auto* r = find_range(tables::kCombiningClasses, tables::kCombiningClassCount, c);
  return r ? r->ccc : 0;
}

// Hangul syllables decompose and compose by arithmetic (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

// Appends the full decomposition of c (canonical, or compatibility when `compat`).
void decompose(char32_t c, bool compat, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const tables::Decomposition* table = compat ? tables::kCompatibility : tables::kCanonical;
  const size_t count = compat ? tables::kCompatibilityCount : tables::kCanonicalCount;
  const tables::Decomposition* end = table + count;
  const auto* it = std::lower_bound(
      table, end, c, [](const tables::Decomposition& d, char32_t v) { return d.code_point < v; });
  if (it == end || it->code_point != c) {
    out.push_back(c);
    return;
  }
  const char32_t* chars = compat ? tables::kCompatibilityChars : tables::kCanonicalChars;
  out.append(chars + it->start, it->length);
}

// The primary composite of first + second, or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
      second < kVBase + kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
      second > kTBase && second < kTBase + kTCount) {
    return first + (second - kTBase);
  }
  const tables::Composition* end = tables::kCompositions + tables::kCompositionCount;
  const auto* it =
      std::lower_bound(tables::kCompositions, end, std::make_pair(first, second),
                       [](const tables::Composition& c, const std::pair<char32_t, char32_t>& v) {
                         return std::make_pair(c.first, c.second) < v;
                       });
  return it != end && it->first == first && it->second == second ? it->composite : 0;
}

void normalize(MappedText& text, bool compat) {
  // 1. Full decomposition; every piece keeps the span of the character it came from.
  MappedText d;
  d.text.reserve(text.text.size());
  d.origin.reserve(text.text.size());
  std::u32string pieces;
  for (size_t i = 0; i < text.text.size(); ++i) {
    pieces.clear();
    decompose(text.text[i], compat, pieces);
    d.text += pieces;
    d.origin.insert(d.origin.end(), pieces.size(), text.origin[i]);
  }
  // 2. Canonical ordering: a stable sort of each run of combining marks by class.
  std::vector<uint8_t> ccc(d.text.size());
  for (size_t i = 0; i < d.text.size(); ++i) ccc[i] = combining_class(d.text[i]);
  for (size_t i = 0; i < d.text.size();) {
    if (ccc[i] == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < d.text.size() && ccc[end] != 0) ++end;
    for (size_t a = i + 1; a < end; ++a) {  // insertion sort: runs are a few marks long
      for (size_t b = a; b > i && ccc[b - 1] > ccc[b]; --b) {
        std::swap(ccc[b - 1], ccc[b]);
        std::swap(d.text[b - 1], d.text[b]);
        std::swap(d.origin[b - 1], d.origin[b]);
      }
    }
    i = end;
  }
  // 3. Canonical composition: each character joins the last starter unless a mark of the same or
  // a higher class (or a starter) stands between them.
  MappedText out;
  out.text.reserve(d.text.size());
  out.origin.reserve(d.text.size());
  size_t starter = SIZE_MAX;  // index in out
  int last_ccc = -1;          // class of the last character appended after the starter
  for (size_t i = 0; i < d.text.size(); ++i) {
    const char32_t c = d.text[i];
    const int k = ccc[i];
    if (starter != SIZE_MAX && (last_ccc < k || (last_ccc == -1 && k == 0))) {
      if (const char32_t composite = compose(out.text[starter], c)) {
        out.text[starter] = composite;
        Span& span = out.origin[starter];
        span = {std::min(span.first, d.origin[i].first), std::max(span.second, d.origin[i].second)};
        continue;
      }
    }
    if (k == 0) {
      starter = out.text.size();
      last_ccc = -1;
    } else {
      last_ccc = k;
    }
    out.text.push_back(c);
    out.origin.push_back(d.origin[i]);
  }
  text = std::move(out);
}

}  // namespace

void to_nfc(MappedText& text) {
  if (first_non_nfc(text.text) == std::u32string::npos) return;
  normalize(text, false);
}

void to_nfkc(MappedText& text) {
  normalize(text, true);
}

size_t first_non_nfc(std::u32string_view text) {
  uint8_t previous_ccc = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c < 0x300) {  // Latin-1 and the Latin Extended blocks before the combining marks
      previous_ccc = 0;
      continue;
    }
    if (find_range(tables::kNfcUnstable, tables::kNfcUnstableCount, c)) return i;
    // Canonical ordering: NFC would swap marks whose classes go down.
    const uint8_t ccc = combining_class(c);
    if (ccc != 0 && previous_ccc > ccc) return i;
    previous_ccc = ccc;
  }
  return std::u32string_view::npos;
}

}  // namespace atman::text
