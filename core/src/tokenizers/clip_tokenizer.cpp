// CLIP's tokenizer as OpenAI's SimpleTokenizer defines it (ftfy omitted): html.unescape twice,
// whitespace clean-up, lower(), the CLIP pre-tokenizer pattern and BPE with "</w>" word ends.
#include <string>
#include <string_view>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "text/html_unescape.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "tokenizers/bpe.h"
#include "tokenizers/pcre_regex.h"

namespace atman {
namespace {

using namespace tokenizers;

constexpr std::string_view kStartOfText = "<|startoftext|>";
constexpr std::string_view kEndOfText = "<|endoftext|>";
constexpr std::string_view kEndOfWord = "</w>";
// OpenAI's and HF's CLIP tokenizers use the first 49152 - 256 - 2 merges whatever the file holds:
// the vocabulary has one token per byte, per byte + "</w>", per merge and the two specials.
constexpr size_t kClipMerges = 49152 - 256 - 2;

std::string clip_pattern() {
  // OpenAI's pattern, with `\s` spelled out as the `regex` module understands it. The text is
  // lower-cased before matching, so case-insensitivity only matters for oddities like "'ſ",
  // which Python's IGNORECASE also treats as "'s". One more IGNORECASE effect of the `regex`
  // module: U+0345 (combining ypogegrammeni) case-folds to the letter ι, so the "not a letter"
  // class rejects it and the character belongs to no token at all; PCRE2 ignores case for
  // properties, so it is excluded explicitly.
  return std::string(
             R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^)") +
         std::string(kWhiteSpaceClass) + R"(\p{L}\p{N}\x{345}]+)";
}

std::vector<MergeRule> first_merges(std::vector<MergeRule> merges) {
  if (merges.size() > kClipMerges) merges.resize(kClipMerges);
  return merges;
}

class ClipTokenizer final : public Tokenizer {
 public:
  ClipTokenizer(Vocab vocab, const std::vector<MergeRule>& merges,
                const std::filesystem::path& vocab_path, const std::filesystem::path& merges_path)
      : vocab_(std::move(vocab)),
        bpe_(vocab_, merges, std::string(kEndOfWord), vocab_path, merges_path),
        pattern_(clip_pattern(), /*caseless=*/true),
        start_id_(vocab_.id(kStartOfText)),
        end_id_(vocab_.id(kEndOfText)) {
    if (start_id_ < 0 || end_id_ < 0) {
      throw ModelError("The CLIP vocabulary '" + vocab_path.string() + "' has no '" +
                       std::string(start_id_ < 0 ? kStartOfText : kEndOfText) + "' token.");
    }
  }

  Encoding encode(std::string_view text) const override {
    std::u32string code_points = text::decode_utf8(text);
    const auto n = static_cast<int64_t>(code_points.size());
    text::MappedText t = text::MappedText::identity(std::move(code_points));
    // basic_clean() then whitespace_clean() then lower(), as in SimpleTokenizer.encode().
    t = text::html_unescape(text::html_unescape(t));
    text::python_strip(t);
    t = text::collapse_white_space(t);
    text::python_strip(t);
    t = text::python_lower(t);
    const text::Utf8WithIndex cleaned = text::encode_utf8_indexed(t.text);

    Encoding enc;
    auto add = [&](int32_t id, std::pair<int64_t, int64_t> span) {
      enc.ids.push_back(id);
      enc.tokens.push_back(vocab_.tokens[static_cast<size_t>(id)]);
      enc.spans.push_back(span);
    };
    // Bytes [b, e) of the cleaned text -> the original characters they came from.
    auto span_of = [&](size_t b, size_t e) {
      return t.origin_of(static_cast<size_t>(cleaned.cp_of_byte[b]),
                         static_cast<size_t>(cleaned.cp_of_byte[e - 1]));
    };
    add(start_id_, {0, 0});
    std::vector<BpeModel::Symbol> symbols;
    for (const auto& [b, e] : pattern_.find_all(cleaned.bytes)) {
      const std::string_view piece = std::string_view(cleaned.bytes).substr(b, e - b);
      // SimpleTokenizer's cache maps the two specials to themselves, so typed ones are kept whole.
      if (piece == kStartOfText || piece == kEndOfText) {
        add(piece == kStartOfText ? start_id_ : end_id_, span_of(b, e));
        continue;
      }
      symbols.clear();
      bpe_.encode_word(piece, symbols);
      size_t pos = b;
      for (const auto& s : symbols) {
        add(s.id, span_of(pos, pos + static_cast<size_t>(s.bytes)));
        pos += static_cast<size_t>(s.bytes);
      }
    }
    add(end_id_, {n, n});
    return enc;
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string bytes;
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab_size() || vocab_.tokens[static_cast<size_t>(id)].empty()) {
        throw InputError("Cannot decode token id " + std::to_string(id) +
                         ": the CLIP vocabulary has no such token.");
      }
      if (id == start_id_ || id == end_id_) continue;
      bytes += token_bytes(vocab_.tokens[static_cast<size_t>(id)]);
    }
    // Like SimpleTokenizer.decode(): bytes -> text (bad UTF-8 replaced), word ends -> spaces; and
    // like HF's CLIPTokenizer, without the trailing space the last word end leaves.
    std::string text = text::repair_utf8(bytes);
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      if (std::string_view(text).substr(i, kEndOfWord.size()) == kEndOfWord) {
        out.push_back(' ');
        i += kEndOfWord.size();
      } else {
        out.push_back(text[i++]);
      }
    }
    text::MappedText m = text::MappedText::identity(text::decode_utf8(out));
    text::python_strip(m);
    return text::encode_utf8(m.text);
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.tokens.size()); }

  int64_t special_token_id(std::string_view token) const override {
    if (token == kStartOfText) return start_id_;
    if (token == kEndOfText) return end_id_;
    return -1;
  }

 private:
  Vocab vocab_;
  BpeModel bpe_;
  Regex pattern_;
  int32_t start_id_;
  int32_t end_id_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_clip_tokenizer(const std::filesystem::path& vocab_json,
                                               const std::filesystem::path& merges_txt) {
  return std::make_unique<ClipTokenizer>(load_vocab_json(vocab_json),
                                         first_merges(load_merges_txt(merges_txt)), vocab_json,
                                         merges_txt);
}

}  // namespace atman
