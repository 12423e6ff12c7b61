// Fuzzes SentencePiece model files and SiglipTokenizer. Layout:
//
//   byte 0        flags: bit 0 = also load the model as a SigLIP folder (spiece.model plus the
//                 third part as tokenizer_config.json) through load_tokenizer
//   then, separated by "\n##\n": the spiece.model bytes, a text to encode, tokenizer_config.json
//
// The model is parsed (hand-written protobuf reader), checked as SentencePiece checks it on
// loading, and the text normalized (precompiled charsmap), encoded (Unigram Viterbi, byte
// fallback) and decoded.
#include "atman/tokenizer.h"
#include "encoding_checks.h"
#include "fuzz_support.h"
#include "text/utf8.h"
#include "tokenizers/spiece.h"

namespace {

constexpr const char* kHarness = "fuzz_spiece";

void exercise_processor(const atman::tokenizers::spiece::Processor& sp, const std::string& text) {
  const auto norm = sp.normalize(text);
  ATMAN_FUZZ_CHECK(kHarness, norm.to_input.size() == norm.text.size() + 1, "offsets per byte");
  for (size_t offset : norm.to_input)
    ATMAN_FUZZ_CHECK(kHarness, offset <= text.size(), "offset past the input");
  const auto pieces = sp.encode(text);
  std::vector<int64_t> ids;
  size_t last_begin = 0;
  for (const auto& p : pieces) {
    ATMAN_FUZZ_CHECK(kHarness, p.id >= 0 && p.id < sp.size(), "id outside the vocabulary");
    ATMAN_FUZZ_CHECK(kHarness, !p.piece.empty(), "empty piece");
    ATMAN_FUZZ_CHECK(kHarness, p.begin <= p.end && p.end <= text.size(), "range outside the input");
    ATMAN_FUZZ_CHECK(kHarness, p.begin >= last_begin, "ranges go backwards");
    last_begin = p.begin;
    ids.push_back(p.id);
  }
  (void)sp.decode(ids);
}

void exercise_tokenizer(const atman::Tokenizer& tokenizer, const std::string& text) {
  const int64_t vocab = tokenizer.vocab_size();
  atman::fuzz::guarded(kHarness, [&] {
    const atman::Encoding enc = tokenizer.encode(text);
    atman::fuzz::check_encoding(kHarness, tokenizer, enc,
                                static_cast<int64_t>(atman::text::decode_utf8(text).size()));
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
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "\n##\n", 3);
  auto part = [&](size_t i) { return i < parts.size() ? std::string(parts[i]) : std::string(); };
  const std::string model = part(0), text = part(1), config = part(2);

  atman::fuzz::guarded(kHarness, [&] {
    using namespace atman::tokenizers::spiece;
    const Processor sp(parse_model_proto(model, "fuzz.model"), "fuzz.model");
    exercise_processor(sp, text);
  });
  if (flags & 1) {
    const auto dir = atman::fuzz::scratch_dir() / "siglip";
    static const bool made = std::filesystem::create_directories(dir) || true;
    (void)made;
    atman::fuzz::write_file(dir / "spiece.model", model);
    if (config.empty())
      atman::fuzz::remove_file(dir / "tokenizer_config.json");
    else
      atman::fuzz::write_file(dir / "tokenizer_config.json", config);
    atman::fuzz::guarded(kHarness, [&] { exercise_tokenizer(*atman::load_tokenizer(dir), text); });
  }
  return 0;
}
