// Fuzzes BPE encoding of arbitrary bytes with the bundled tokenizers, loaded once: GPT-2 byte-level
// BPE (facts-gpt2), the same with LLaVA's added tokens (shapes-llava), and CLIP (shapes-clip).
// Invalid UTF-8 must be an InputError. For valid text: ids, tokens and spans agree, spans stay
// inside the text and never go backwards, and GPT-2's decode is the exact inverse of encode.
#include "atman/tokenizer.h"
#include "encoding_checks.h"

namespace {

constexpr const char* kHarness = "fuzz_bpe_encode";

struct Tokenizers {
  std::unique_ptr<atman::Tokenizer> gpt2, llava, clip;
};

const Tokenizers& tokenizers() {
  static const Tokenizers t = [] {
    const auto models = atman::fuzz::shared_dir() / "models";
    Tokenizers out;
    try {
      out.gpt2 = atman::load_gpt2_tokenizer(models / "facts-gpt2");
      out.llava = atman::load_gpt2_tokenizer(models / "shapes-llava");
      out.clip = atman::load_clip_tokenizer(models / "shapes-clip" / "vocab.json",
                                            models / "shapes-clip" / "merges.txt");
    } catch (const std::exception& e) {
      atman::fuzz::fail(
          kHarness,
          std::string("cannot load the bundled tokenizers (set ATMAN_SHARED): ") + e.what());
    }
    return out;
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const Tokenizers& t = tokenizers();
  const int64_t length = atman::fuzz::code_point_count(text);
  const bool valid = length >= 0;
  for (const atman::Tokenizer* tokenizer : {t.gpt2.get(), t.llava.get(), t.clip.get()}) {
    bool encoded = false;
    atman::fuzz::guarded(kHarness, [&] {
      const atman::Encoding enc = tokenizer->encode(text);
      encoded = true;
      atman::fuzz::check_encoding(kHarness, *tokenizer, enc, length);
      const std::string decoded = tokenizer->decode(enc.ids);
      if (tokenizer == t.gpt2.get())
        ATMAN_FUZZ_CHECK(kHarness, decoded == text, "GPT-2 decode(encode(text)) != text");
    });
    ATMAN_FUZZ_CHECK(kHarness, encoded == valid,
                     valid ? "valid UTF-8 was refused" : "invalid UTF-8 was encoded");
  }
  return 0;
}
