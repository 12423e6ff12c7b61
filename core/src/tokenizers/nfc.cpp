#include "tokenizers/nfc.h"

#include <algorithm>
#include <string>

namespace atman::tokenizers {
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

}  // namespace

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

}  // namespace atman::tokenizers
