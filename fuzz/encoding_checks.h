// Checks shared by the tokenizer harnesses: what tokenizer.h promises of every Encoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "fuzz_support.h"
#include "text/utf8.h"

namespace atman::fuzz {

// Code points of `text` by the core's own strict decoder, or -1 when it is not valid UTF-8.
inline int64_t code_point_count(std::string_view text) {
  try {
    return static_cast<int64_t>(atman::text::decode_utf8(text).size());
  } catch (const atman::InputError&) {
    return -1;
  }
}

// ids, tokens and spans of one size; ids inside the vocabulary; spans inside a text of `length`
// code points and never going backwards.
inline void check_encoding(const char* harness, const atman::Tokenizer& tokenizer,
                           const atman::Encoding& enc, int64_t length) {
  const int64_t vocab = tokenizer.vocab_size();
  ATMAN_FUZZ_CHECK(harness, enc.ids.size() == enc.tokens.size(), "ids vs tokens");
  ATMAN_FUZZ_CHECK(harness, enc.ids.size() == enc.spans.size(), "ids vs spans");
  int64_t last_begin = 0;
  for (size_t i = 0; i < enc.ids.size(); ++i) {
    ATMAN_FUZZ_CHECK(harness, enc.ids[i] >= 0 && enc.ids[i] < vocab,
                     "id " + std::to_string(enc.ids[i]) + " outside the vocabulary");
    const auto [b, e] = enc.spans[i];
    ATMAN_FUZZ_CHECK(harness, 0 <= b && b <= e && e <= length,
                     "span [" + std::to_string(b) + ", " + std::to_string(e) +
                         ") outside the text of " + std::to_string(length) + " code points");
    ATMAN_FUZZ_CHECK(harness, b >= last_begin, "spans go backwards at token " + std::to_string(i));
    last_begin = b;
  }
}

}  // namespace atman::fuzz
