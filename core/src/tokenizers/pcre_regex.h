// A compiled PCRE2 pattern in UTF + Unicode-property mode, used for the pre-tokenizer patterns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace atman::tokenizers {

class Regex {
 public:
  // Throws ModelError if the pattern does not compile (a bug, not a user error).
  explicit Regex(std::string_view pattern, bool caseless = false);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // Non-overlapping matches [begin, end) in bytes, left to right, like Python's re.findall().
  // `subject` must be valid UTF-8. Thread-safe.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view subject) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The character class body for Unicode White_Space, which is what `\s` means to the Python `regex`
// module. PCRE2's own `\s` (Unicode Z plus ASCII spaces) would miss U+0085.
inline constexpr std::string_view kWhiteSpaceClass =
    R"(\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

}  // namespace atman::tokenizers
