// Python's html.unescape() on text with origin tracking: CLIP's tokenizer applies it twice, and
// the GUI must still colour "&amp;" in the user's text when the token is "&".
#pragma once

#include <cstddef>

#include "text/unicode.h"

namespace atman::text {

// Replaces character references like html.unescape(): the 2,231 HTML5 named references (legacy
// ones also without ';', longest prefix wins), &#NNN; and &#xHHH; with HTML5's fix-ups for
// invalid numbers. Every produced code point maps to the whole reference it replaced.
MappedText html_unescape(const MappedText& t);

namespace html_tables {

struct Entity {
  const char* name;   // without the leading '&', with ';' when the reference needs it
  const char* value;  // UTF-8, one or two code points
};
struct InvalidCharref {
  char32_t number;
  char32_t replacement;
};

extern const Entity kEntities[];
extern const std::size_t kEntityCount;
extern const InvalidCharref kInvalidCharrefs[];
extern const std::size_t kInvalidCharrefCount;
extern const char32_t kInvalidCodepoints[];
extern const std::size_t kInvalidCodepointCount;

}  // namespace html_tables
}  // namespace atman::text
