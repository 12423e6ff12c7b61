// Fuzzes Hugging Face tokenizer.json loading (load_hf_tokenizer_json) and the pipeline it builds.
// Layout: the tokenizer.json text, then "\n##\n", then a text to encode (no separator: no text).
//
// A file that loads encodes the text: invalid UTF-8 must be an InputError; valid UTF-8 must be
// accepted unless a hostile Split regex exhausts PCRE2's match limits (the InputError
// pcre_regex.cpp documents; NFC/NFKC normalizers compose instead of refusing). Encodings
// must keep ids inside the vocabulary, ids/tokens/spans of one size, spans inside the text and
// never going backwards. Decoding what encode() produced must work; an id past the vocabulary
// must be refused.
#include <string>

#include "atman/tokenizer.h"
#include "encoding_checks.h"

namespace {

constexpr const char* kHarness = "fuzz_tokenizer_json";

// The InputError valid text may meet (see the top of this file).
bool documented_refusal(const std::string& message) {
  return message.find("could not be split into words") != std::string::npos;
}

void exercise(const atman::Tokenizer& tokenizer, const std::string& text) {
  const int64_t vocab = tokenizer.vocab_size();
  ATMAN_FUZZ_CHECK(kHarness, vocab > 0, "empty vocabulary loaded");
  (void)tokenizer.special_token_id("<s>");
  (void)tokenizer.special_token_id("");

  const int64_t length = atman::fuzz::code_point_count(text);
  const bool valid = length >= 0;
  bool encoded = false;
  try {
    const atman::Encoding enc = tokenizer.encode(text);
    encoded = true;
    atman::fuzz::check_encoding(kHarness, tokenizer, enc, length);
    // Whatever encode() produced decodes: every id names a token.
    atman::fuzz::guarded(kHarness, [&] {
      try {
        (void)tokenizer.decode(enc.ids);
      } catch (const atman::Error& e) {
        atman::fuzz::fail(kHarness, std::string("decode refused encode()'s ids: ") + e.what());
      }
    });
  } catch (const atman::InputError& e) {
    if (valid && !documented_refusal(e.what()))
      atman::fuzz::fail(kHarness, std::string("valid UTF-8 was refused: ") + e.what());
  } catch (const atman::Error& e) {
    atman::fuzz::fail(kHarness, std::string("encode threw a non-InputError: ") + e.what());
  } catch (const std::exception& e) {
    atman::fuzz::fail(kHarness, std::string("unexpected exception from encode: ") + e.what());
  }
  if (!valid) ATMAN_FUZZ_CHECK(kHarness, !encoded, "invalid UTF-8 was encoded");

  // Every id of the vocabulary decodes or is refused; ids past it are refused.
  atman::fuzz::guarded(kHarness, [&] { (void)tokenizer.decode({0, vocab - 1, vocab / 2}); });
  for (const int64_t bad : {vocab, int64_t{-1}}) {
    atman::fuzz::guarded(kHarness, [&] {
      (void)tokenizer.decode({bad});
      atman::fuzz::fail(kHarness, "decoded the id " + std::to_string(bad) +
                                      " outside the vocabulary of " + std::to_string(vocab));
    });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts =
      atman::fuzz::split(std::string_view(reinterpret_cast<const char*>(data), size), "\n##\n", 2);
  const std::string text = parts.size() > 1 ? std::string(parts[1]) : std::string();
  const auto path = atman::fuzz::scratch_dir() / "tokenizer.json";
  atman::fuzz::write_file(path, parts[0]);
  atman::fuzz::guarded(kHarness, [&] { exercise(*atman::load_hf_tokenizer_json(path), text); });
  return 0;
}
