// Unicode NFC / NFKC for the tokenizers whose tokenizer.json normalizes with them (Qwen2.5/3: NFC),
// on text whose every code point keeps the span of the original it came from. Text already in NFC
// (almost all typed and pasted text) is recognised quickly and left as it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "text/unicode.h"

namespace atman::text {

// Index of the first code point from which NFC might change `text`, or npos when `text` is
// certainly in NFC: no code point with NFC_Quick_Check No/Maybe, and combining marks in canonical
// order.
size_t first_non_nfc(std::u32string_view text);

// UAX #15 normalization forms C and KC: full (canonical / compatibility) decomposition, canonical
// ordering of combining marks, canonical composition. A composed character covers the spans of
// everything composed into it; the pieces of a decomposed one each cover the original character.
void to_nfc(MappedText& text);
void to_nfkc(MappedText& text);

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

struct Decomposition {
  char32_t code_point;
  uint32_t start;  // into the matching ...Chars array
  uint32_t length;
};
struct Composition {
  char32_t first;
  char32_t second;
  char32_t composite;
};
extern const Decomposition kCanonical[];
extern const std::size_t kCanonicalCount;
extern const char32_t kCanonicalChars[];
extern const Decomposition kCompatibility[];
extern const std::size_t kCompatibilityCount;
extern const char32_t kCompatibilityChars[];
extern const Composition kCompositions[];
extern const std::size_t kCompositionCount;

}  // namespace tables
}  // namespace atman::text
