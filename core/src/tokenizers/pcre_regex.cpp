#include "tokenizers/pcre_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "atman/error.h"

namespace atman::tokenizers {

struct Regex::Impl {
  struct CodeDeleter {
    void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  };
  struct MatchDataDeleter {
    void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
  };
  std::unique_ptr<pcre2_code, CodeDeleter> code;
};

Regex::Regex(std::string_view pattern, bool caseless) : impl_(std::make_unique<Impl>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (caseless ? PCRE2_CASELESS : 0u);
  impl_->code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                  options, &error, &offset, nullptr));
  if (!impl_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw ModelError("Internal error: tokenizer pattern does not compile at offset " +
                     std::to_string(offset) + ": " + reinterpret_cast<const char*>(message));
  }
  // JIT makes pre-tokenizing several times faster; without it (unsupported CPU) matching still
  // works through the interpreter.
  pcre2_jit_compile(impl_->code.get(), PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view subject) const {
  std::vector<std::pair<size_t, size_t>> matches;
  std::unique_ptr<pcre2_match_data, Impl::MatchDataDeleter> data(
      pcre2_match_data_create_from_pattern(impl_->code.get(), nullptr));
  if (!data) throw std::bad_alloc();
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  uint32_t no_jit = 0;
  for (size_t start = 0; start < subject.size();) {
    // The caller validated the UTF-8 once for the whole text.
    int rc = pcre2_match(impl_->code.get(), s, subject.size(), start, PCRE2_NO_UTF_CHECK | no_jit,
                         data.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !no_jit) {
      // The JIT's small machine stack ran out on a huge input: retry with the heap-based matcher.
      no_jit = PCRE2_NO_JIT;
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      throw InputError(std::string("The text could not be split into words: ") +
                       reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
    const size_t b = ov[0], e = ov[1];
    if (e == b) {  // none of our patterns matches empty text; guard against looping anyway
      start = b + 1;
      while (start < subject.size() &&
             (static_cast<unsigned char>(subject[start]) & 0xC0) == 0x80) {
        ++start;
      }
      continue;
    }
    matches.emplace_back(b, e);
    start = e;
  }
  return matches;
}

}  // namespace atman::tokenizers
