// Fuzzes tokenizer loading: the input describes a tokenizer folder and a text. Layout:
//
//   byte 0        flags: bit 0 = prepend GPT-2's 256 byte symbols (ids 0..255) to vocab.json, so
//   that
//                 mutations reach the merges and added tokens instead of stopping at "not a
//                 byte-level vocabulary"; bit 1 = also their CLIP "</w>" forms and CLIP's specials
//   then, separated by "\n##\n":  vocab.json, merges.txt, added_tokens.json, tokenizer_config.json,
//                 text to encode (an empty part means "no such file")
//
// The folder is loaded as GPT-2 (load_gpt2_tokenizer), as CLIP (load_clip_tokenizer) and by
// detection (load_tokenizer); each tokenizer that loads encodes and decodes the text.
#include "atman/tokenizer.h"
#include "fuzz_support.h"
#include "text/utf8.h"
#include "tokenizers/bpe.h"

namespace {

constexpr const char* kHarness = "fuzz_tokenizer_files";

std::string json_string(const std::string& utf8) {
  std::string out = "\"";
  for (char c : utf8) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const std::string& byte_alphabet(bool clip) {
  static const auto make = [](bool with_word_ends) {
    std::string entries;
    for (int b = 0; b < 256; ++b) {
      std::string symbol;
      atman::text::append_utf8(symbol, atman::tokenizers::byte_to_unicode()[size_t(b)]);
      // Appends only: `"," + json_string(...)` trips a false -Wrestrict in GCC 12.
      if (b) entries += ',';
      entries += json_string(symbol);
      entries += ':';
      entries += std::to_string(b);
      if (with_word_ends) {
        entries += ',';
        entries += json_string(symbol + "</w>");
        entries += ':';
        entries += std::to_string(256 + b);
      }
    }
    if (with_word_ends) entries += ",\"<|startoftext|>\":512,\"<|endoftext|>\":513";
    return entries;
  };
  static const std::string gpt2 = make(false), clip_alphabet = make(true);
  return clip ? clip_alphabet : gpt2;
}

void exercise(const atman::Tokenizer& tokenizer, const std::string& text) {
  const int64_t vocab = tokenizer.vocab_size();
  ATMAN_FUZZ_CHECK(kHarness, vocab > 0, "empty vocabulary loaded");
  (void)tokenizer.special_token_id("<|endoftext|>");
  (void)tokenizer.special_token_id("");
  atman::fuzz::guarded(kHarness, [&] {
    const atman::Encoding enc = tokenizer.encode(text);
    ATMAN_FUZZ_CHECK(kHarness, enc.ids.size() == enc.tokens.size(), "ids vs tokens");
    ATMAN_FUZZ_CHECK(kHarness, enc.ids.size() == enc.spans.size(), "ids vs spans");
    const auto n = static_cast<int64_t>(atman::text::decode_utf8(text).size());
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      ATMAN_FUZZ_CHECK(kHarness, enc.ids[i] >= 0 && enc.ids[i] < vocab,
                       "id outside the vocabulary");
      const auto [b, e] = enc.spans[i];
      ATMAN_FUZZ_CHECK(kHarness, 0 <= b && b <= e && e <= n, "span outside the text");
    }
    (void)tokenizer.decode(enc.ids);
  });
  atman::fuzz::guarded(kHarness, [&] {
    (void)tokenizer.decode({vocab});
    atman::fuzz::fail(kHarness, "decoded an id past the vocabulary");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const auto parts = atman::fuzz::split(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "\n##\n", 5);
  auto part = [&](size_t i) { return i < parts.size() ? std::string(parts[i]) : std::string(); };

  const auto dir = atman::fuzz::scratch_dir() / "tokenizer";
  static const bool made = std::filesystem::create_directories(dir) || true;
  (void)made;
  std::string vocab = part(0);
  if (flags & 1) {
    const std::string& alphabet = byte_alphabet(flags & 2);
    vocab = "{" + alphabet + (vocab.empty() ? "" : "," + vocab) + "}";
  }
  atman::fuzz::write_file(dir / "vocab.json", vocab);
  atman::fuzz::write_file(dir / "merges.txt", part(1));
  const char* optional_files[] = {"added_tokens.json", "tokenizer_config.json"};
  for (size_t i = 0; i < 2; ++i) {
    const std::string content = part(2 + i);
    if (content.empty())
      atman::fuzz::remove_file(dir / optional_files[i]);
    else
      atman::fuzz::write_file(dir / optional_files[i], content);
  }
  const std::string text = part(4);

  atman::fuzz::guarded(kHarness, [&] { exercise(*atman::load_gpt2_tokenizer(dir), text); });
  atman::fuzz::guarded(kHarness, [&] {
    exercise(*atman::load_clip_tokenizer(dir / "vocab.json", dir / "merges.txt"), text);
  });
  atman::fuzz::guarded(kHarness, [&] { exercise(*atman::load_tokenizer(dir), text); });
  return 0;
}
