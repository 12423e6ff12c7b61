// SentencePiece's normalizer (normalizer.cc): user-defined pieces copied as they are, the
// precompiled charsmap's longest rule (nmt_nfkc and the like), whitespace clean-up and escaping
// with U+2581, and the byte offsets back into the input.
#include <algorithm>

#include "atman/error.h"
#include "tokenizers/spiece.h"

namespace atman::tokenizers::spiece {
namespace {

const std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 ▁

// Darts-clone DoubleArrayUnit accessors.
bool has_leaf(uint32_t unit) {
  return ((unit >> 8) & 1) == 1;
}
uint32_t value_of(uint32_t unit) {
  return unit & ((1u << 31) - 1);
}
uint32_t label_of(uint32_t unit) {
  return unit & ((1u << 31) | 0xFF);
}
uint32_t offset_of(uint32_t unit) {
  return (unit >> 10) << ((unit & (1u << 9)) >> 6);
}

// Normalizer::kMaxTrieResultsSize: the library looks at the first (shortest) 32 matches only.
constexpr size_t kMaxTrieResults = 32;

}  // namespace

size_t utf8_char_length(std::string_view s) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return 1;
  size_t n;
  char32_t c;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    c = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    c = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    c = b0 & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  return n;
}

CharsMap::CharsMap(std::string_view blob, const std::string& where) : where_(where) {
  // <trie size: uint32 little-endian><double-array units><NUL-terminated replacements>
  auto broken = [&](const std::string& why) {
    return ModelError(where + ": the normalizer's precompiled charsmap is broken (" + why +
                      "). Download the file again.");
  };
  if (blob.size() <= 4) throw broken("it is shorter than its header");
  uint32_t trie_bytes = 0;
  for (int i = 3; i >= 0; --i) trie_bytes = (trie_bytes << 8) | static_cast<uint8_t>(blob[i]);
  if (trie_bytes >= blob.size()) throw broken("the trie size exceeds the blob");
  if (trie_bytes % 4 != 0 || trie_bytes == 0)
    throw broken("the trie is not a whole number of units");
  blob.remove_prefix(4);
  units_.resize(trie_bytes / 4);
  for (size_t u = 0; u < units_.size(); ++u) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(blob[u * 4 + i]);
    units_[u] = v;
  }
  normalized_ = std::string(blob.substr(trie_bytes));
}

std::pair<size_t, std::string_view> CharsMap::longest_match(std::string_view input) const {
  // Darts::DoubleArray::commonPrefixSearch from the root, keeping the longest of the first 32.
  size_t longest = 0;
  uint32_t value = 0;
  size_t results = 0;
  size_t node = offset_of(units_[0]);
  for (size_t i = 0; i < input.size() && results < kMaxTrieResults; ++i) {
    const auto byte = static_cast<uint8_t>(input[i]);
    node ^= byte;
    if (node >= units_.size()) break;
    const uint32_t unit = units_[node];
    if (label_of(unit) != byte) break;
    node ^= offset_of(unit);
    if (has_leaf(unit)) {
      if (node >= units_.size())
        throw ModelError(where_ +
                         ": the normalizer's precompiled charsmap is broken (a leaf "
                         "outside the trie). Download the file again.");
      longest = i + 1;
      value = value_of(units_[node]);
      ++results;
    }
  }
  if (longest == 0) return {0, {}};
  const size_t end = value < normalized_.size() ? normalized_.find('\0', value) : std::string::npos;
  if (end == std::string::npos)
    throw ModelError(where_ +
                     ": the normalizer's precompiled charsmap is broken (a replacement "
                     "outside its strings). Download the file again.");
  return {longest, std::string_view(normalized_).substr(value, end - value)};
}

size_t Processor::user_defined_prefix(std::string_view input) const {
  // PrefixMatcher::PrefixMatch: the longest user-defined piece at the start of the input.
  for (size_t n = std::min(longest_user_defined_, input.size()); n > 0; --n)
    if (user_defined_.count(input.substr(0, n))) return n;
  return 0;
}

NormalizedText Processor::normalize(std::string_view input) const {
  NormalizedText out;
  // One normalization step: the replacement of a prefix and how many input bytes it consumed.
  auto prefix = [&](std::string_view s) -> std::pair<std::string_view, size_t> {
    if (const size_t n = user_defined_prefix(s)) return {s.substr(0, n), n};
    if (!charsmap_.empty()) {
      const auto [length, replacement] = charsmap_.longest_match(s);
      if (length) return {replacement, length};
    }
    const size_t n = utf8_char_length(s);
    if (n == 0) return {"\xEF\xBF\xBD", 1};
    return {s.substr(0, n), n};
  };
  size_t consumed = 0;
  const bool remove_extra = model_.remove_extra_whitespaces;
  const bool escape = model_.escape_whitespaces;
  if (remove_extra) {
    while (!input.empty()) {
      const auto [sp, n] = prefix(input);
      if (sp != " ") break;
      input.remove_prefix(n);
      consumed += n;
    }
  }
  if (input.empty()) {
    out.to_input.push_back(consumed);
    return out;
  }
  auto add_space = [&] {
    if (escape) {
      out.text += kSpaceSymbol;
      out.to_input.insert(out.to_input.end(), kSpaceSymbol.size(), consumed);
    } else {
      out.text += ' ';
      out.to_input.push_back(consumed);
    }
  };
  if (!model_.treat_whitespace_as_suffix && model_.add_dummy_prefix) add_space();
  bool prev_space = remove_extra;
  while (!input.empty()) {
    auto [sp, n] = prefix(input);
    while (prev_space && !sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
    if (!sp.empty()) {
      for (char c : sp) {
        if (escape && c == ' ') {
          out.text += kSpaceSymbol;
          out.to_input.insert(out.to_input.end(), kSpaceSymbol.size(), consumed);
        } else {
          out.text += c;
          out.to_input.push_back(consumed);
        }
      }
      prev_space = sp.back() == ' ';
    }
    consumed += n;
    input.remove_prefix(n);
    if (!remove_extra) prev_space = false;
  }
  if (remove_extra) {
    const std::string_view space = escape ? kSpaceSymbol : std::string_view(" ");
    while (std::string_view(out.text).ends_with(space)) {
      const size_t length = out.text.size() - space.size();
      consumed = out.to_input[length];
      out.text.erase(length);
      out.to_input.resize(length);
    }
  }
  if (model_.treat_whitespace_as_suffix && model_.add_dummy_prefix) add_space();
  out.to_input.push_back(consumed);
  return out;
}

}  // namespace atman::tokenizers::spiece
