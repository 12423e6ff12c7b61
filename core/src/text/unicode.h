// Text clean-up steps that keep track of where every code point came from, so that a token found in
// CLIP's cleaned text can be coloured over the right characters of what the user typed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atman::text {

// [begin, end) in code points of the original text.
using Span = std::pair<int64_t, int64_t>;

// Python's str.isspace(): Unicode White_Space plus U+001C..U+001F. str.strip() uses this.
bool is_python_space(char32_t c);
// Unicode White_Space, i.e. `\s` of the `regex` module that OpenAI's and HF's tokenizers use.
bool is_white_space(char32_t c);
// The one-code-point lower case Python uses (identity for U+0130 and U+03A3, which need context
// or two code points; python_lower() handles them).
char32_t simple_lower(char32_t c);

struct MappedText {
  std::u32string text;
  std::vector<Span> origin;  // one per code point of `text`

  static MappedText identity(std::u32string text);
  // Union of the origins of text[first..last] (inclusive), which are ordered.
  Span origin_of(size_t first, size_t last) const {
    return {origin[first].first, origin[last].second};
  }
};

// str.strip() with no arguments.
void python_strip(MappedText& t);
// regex.sub(r"\s+", " ", text): every whitespace run becomes one space covering the whole run.
MappedText collapse_white_space(const MappedText& t);
// str.lower(): full lower-case mapping (U+0130 becomes two code points) with the Final_Sigma rule.
MappedText python_lower(const MappedText& t);

}  // namespace atman::text
