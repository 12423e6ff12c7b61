#include "text/html_unescape.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "text/utf8.h"

namespace atman::text {
namespace {

const char* find_entity(std::string_view name) {
  const auto* begin = html_tables::kEntities;
  const auto* end = begin + html_tables::kEntityCount;
  const auto* it =
      std::lower_bound(begin, end, name, [](const html_tables::Entity& e, std::string_view v) {
        return std::string_view(e.name) < v;
      });
  return it != end && std::string_view(it->name) == name ? it->value : nullptr;
}

bool is_digit(char32_t c) {
  return c >= '0' && c <= '9';
}
bool is_hex_digit(char32_t c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char32_t c) {
  if (is_digit(c)) return static_cast<int>(c - '0');
  return static_cast<int>((c | 0x20) - 'a' + 10);
}

// html._replace_charref for a number: HTML5's replacements for C1/Windows-1252 numbers, U+FFFD for
// surrogates and out-of-range values, nothing for control characters and non-characters.
std::u32string numeric_reference(uint64_t num) {
  const auto* rb = html_tables::kInvalidCharrefs;
  const auto* re = rb + html_tables::kInvalidCharrefCount;
  const auto* r = std::lower_bound(
      rb, re, num, [](const html_tables::InvalidCharref& e, uint64_t v) { return e.number < v; });
  if (r != re && r->number == num) return std::u32string(1, r->replacement);
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
  const auto* cb = html_tables::kInvalidCodepoints;
  const auto* ce = cb + html_tables::kInvalidCodepointCount;
  if (std::binary_search(cb, ce, static_cast<char32_t>(num))) return {};
  return std::u32string(1, static_cast<char32_t>(num));
}

// Characters the named-reference part of html.unescape's pattern `[^\t\n\f <&#;]{1,32}` excludes.
bool ends_name(char32_t c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
         c == ';';
}

}  // namespace

MappedText html_unescape(const MappedText& t) {
  const std::u32string& s = t.text;
  if (s.find(U'&') == std::u32string::npos) return t;
  MappedText out;
  out.text.reserve(s.size());
  out.origin.reserve(s.size());
  auto emit = [&out](std::u32string_view value, Span origin) {
    for (char32_t c : value) {
      out.text.push_back(c);
      out.origin.push_back(origin);
    }
  };
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    if (s[i] != U'&' || i + 1 >= n) {
      out.text.push_back(s[i]);
      out.origin.push_back(t.origin[i]);
      ++i;
      continue;
    }
    size_t j = i + 1;
    if (s[j] == U'#') {
      const bool hex =
          j + 2 < n && (s[j + 1] == U'x' || s[j + 1] == U'X') && is_hex_digit(s[j + 2]);
      const bool dec = j + 1 < n && is_digit(s[j + 1]);
      if (!hex && !dec) {  // "&#" without digits is no reference at all
        out.text.push_back(s[i]);
        out.origin.push_back(t.origin[i]);
        ++i;
        continue;
      }
      size_t k = hex ? j + 2 : j + 1;
      uint64_t num = 0;
      // Saturate: any value above U+10FFFF gives U+FFFD, however many digits follow.
      for (; k < n && (hex ? is_hex_digit(s[k]) : is_digit(s[k])); ++k) {
        if (num <= 0x10FFFF) {
          num = num * (hex ? 16 : 10) + static_cast<uint64_t>(hex_value(s[k]));
        }
      }
      if (k < n && s[k] == U';') ++k;
      emit(numeric_reference(num), t.origin_of(i, k - 1));
      i = k;
      continue;
    }
    size_t k = j;
    while (k < n && k - j < 32 && !ends_name(s[k])) ++k;
    if (k == j) {
      out.text.push_back(s[i]);
      out.origin.push_back(t.origin[i]);
      ++i;
      continue;
    }
    if (k < n && s[k] == U';') ++k;
    // s[j..k) is the name as Python's pattern captured it; names are ASCII, so a name holding any
    // other code point only matters through an ASCII prefix.
    const std::u32string_view name(s.data() + j, k - j);
    std::string name8;
    for (char32_t c : name) {
      if (c >= 0x80) break;
      name8.push_back(static_cast<char>(c));
    }
    const char* value = nullptr;
    size_t used = 0;  // code points of `name` the reference consumed
    if (name8.size() == name.size()) {
      value = find_entity(name8);
      used = name.size();
    }
    // Otherwise the longest prefix of at least two characters that is an entity (legacy names
    // like "amp" work without ';'), as html._replace_charref does.
    for (size_t x = std::min(name.size() - 1, name8.size()); !value && x >= 2; --x) {
      value = find_entity(std::string_view(name8).substr(0, x));
      used = x;
    }
    if (!value) {  // not a reference: keep the text as it is
      for (size_t m = i; m < k; ++m) {
        out.text.push_back(s[m]);
        out.origin.push_back(t.origin[m]);
      }
      i = k;
      continue;
    }
    emit(decode_utf8(value), t.origin_of(i, j + used - 1));
    for (size_t m = j + used; m < k; ++m) {
      out.text.push_back(s[m]);
      out.origin.push_back(t.origin[m]);
    }
    i = k;
  }
  return out;
}

}  // namespace atman::text
