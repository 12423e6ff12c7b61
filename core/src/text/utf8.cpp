#include "text/utf8.h"

#include <cstdio>

#include "atman/error.h"

namespace atman::text {
namespace {

// Length of the well-formed prefix of the sequence starting at `s[i]` (Unicode Table 3-7), and its
// value. Returns 0 when even the lead byte is invalid; a result shorter than the sequence length
// the lead byte announces means the sequence is truncated or ill-formed after that many bytes.
struct Scan {
  int valid_bytes;  // bytes that form a valid (possibly incomplete) prefix
  int needed;       // bytes the lead byte announces
  char32_t cp;
};

Scan scan(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {1, 1, b0};
  int needed = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    needed = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    needed = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    needed = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {0, 1, 0};
  }
  int valid = 1;
  for (int k = 1; k < needed; ++k) {
    if (i + k >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i + k]);
    // Only the second byte has the narrowed range; later ones are plain continuation bytes.
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
    cp = (cp << 6) | (b & 0x3F);
    ++valid;
  }
  return {valid, needed, cp};
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const Scan sc = scan(text, i);
    if (sc.valid_bytes != sc.needed || sc.valid_bytes == 0) {
      // Name the first byte that breaks the sequence so the user can find it in a hex view.
      const size_t bad = i + static_cast<size_t>(sc.valid_bytes);
      char msg[200];
      if (bad >= text.size()) {
        std::snprintf(msg, sizeof msg,
                      "The text is not valid UTF-8: it ends inside a multi-byte character (byte "
                      "offset %zu). Save or paste it as UTF-8.",
                      i);
      } else {
        std::snprintf(
            msg, sizeof msg,
            "The text is not valid UTF-8: unexpected byte 0x%02X at byte offset %zu. Save "
            "or paste it as UTF-8.",
            static_cast<unsigned>(static_cast<unsigned char>(text[bad])), bad);
      }
      throw InputError(msg);
    }
    out.push_back(sc.cp);
    i += sc.needed;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

Utf8WithIndex encode_utf8_indexed(std::u32string_view cps) {
  Utf8WithIndex r;
  r.bytes.reserve(cps.size());
  r.cp_of_byte.reserve(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) {
    append_utf8(r.bytes, cps[i]);
    r.cp_of_byte.resize(r.bytes.size(), static_cast<int32_t>(i));
  }
  return r;
}

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const Scan sc = scan(bytes, i);
    if (sc.valid_bytes == sc.needed && sc.valid_bytes > 0) {
      out.append(bytes.substr(i, sc.needed));
      i += sc.needed;
    } else {
      out += "\xEF\xBF\xBD";
      i += sc.valid_bytes > 0 ? sc.valid_bytes : 1;
    }
  }
  return out;
}

}  // namespace atman::text
