// Unicode NFC for the tokenizers whose tokenizer.json normalizes with NFC (Qwen2). AtMan Studio
// does not implement the composition algorithm: it proves that a text is already in NFC, which
// typed and pasted text almost always is, and NFC is then the identity (spans stay exact).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace atman::tokenizers {

// Index of the first code point from which NFC might change `text`, or npos when `text` is
// certainly in NFC: no code point with NFC_Quick_Check No/Maybe, and combining marks in canonical
// order.
size_t first_non_nfc(std::u32string_view text);

namespace tables {

struct CodePointRange {
  char32_t first;
  char32_t last;
};
struct CombiningRange {
  char32_t first;
  char32_t last;
  uint8_t ccc;
};

extern const CodePointRange kNfcUnstable[];
extern const std::size_t kNfcUnstableCount;
extern const CombiningRange kCombiningClasses[];
extern const std::size_t kCombiningClassCount;

}  // namespace tables
}  // namespace atman::tokenizers
