// UTF-8 helpers for the tokenizers, the chat-template lexer and the explainer. Input text is
// validated strictly (the user must fix bad text), while decoded token bytes are repaired like
// Python's errors="replace" (a token sequence may legitimately end in the middle of a character).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atman::text {

// Decodes strict UTF-8 (no overlong forms, surrogates or values above U+10FFFF). Throws
// InputError naming the byte offset of the first bad sequence.
std::u32string decode_utf8(std::string_view text);

void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view cps);

// UTF-8 encoding of `cps` plus, for every byte of it, the index of the code point it belongs to.
struct Utf8WithIndex {
  std::string bytes;
  std::vector<int32_t> cp_of_byte;
};
Utf8WithIndex encode_utf8_indexed(std::u32string_view cps);

// Python's bytes.decode("utf-8", errors="replace"): each maximal ill-formed subpart becomes one
// U+FFFD, everything else is kept.
std::string repair_utf8(std::string_view bytes);

}  // namespace atman::text
