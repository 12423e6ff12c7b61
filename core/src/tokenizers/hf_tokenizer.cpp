// The Tokenizer for a tokenizer.json pipeline, in the order HF's TokenizerImpl::encode runs it:
// added tokens that are matched in the original text are cut out first, the rest is normalized,
// added tokens matched in normalized text are cut out next, then pre-tokenization, BPE per piece,
// and finally the post-processor's tokens (BOS/EOS) around everything.
#include <algorithm>
#include <unordered_set>

#include "atman/error.h"
#include "text/utf8.h"
#include "tokenizers/hf_tokenizer.h"

namespace atman::tokenizers::hf {
namespace {

// Either text still to tokenize or an added token found in it.
struct Part {
  text::MappedText text;
  const AddedToken* added = nullptr;
  text::Span span{0, 0};  // of the added token
};

// Rust's `\w`, which HF's single_word test uses next to the token: letters, marks, decimal digits
// and connector punctuation such as "_".
bool is_word_character(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  }
  static const Regex word(R"(^[\p{L}\p{M}\p{Nd}\p{Pc}])");
  std::string utf8;
  text::append_utf8(utf8, c);
  return !word.find_all(utf8).empty();
}

// Added tokens of one kind (matched in original or in normalized text), longest first so that at
// each position the longest one wins, as HF's leftmost-longest matcher does.
class AddedMatcher {
 public:
  void add(const AddedToken* t) {
    tokens_.push_back(t);
    first_chars_.insert(t->content.front());
    std::stable_sort(tokens_.begin(), tokens_.end(), [](const AddedToken* a, const AddedToken* b) {
      return a->content.size() > b->content.size();
    });
  }
  bool empty() const { return tokens_.empty(); }

  void split(text::MappedText t, std::vector<Part>& out) const {
    if (tokens_.empty()) {
      out.push_back({std::move(t)});
      return;
    }
    const std::u32string& s = t.text;
    const size_t n = s.size();
    size_t segment_begin = 0;
    for (size_t i = 0; i < n;) {
      const AddedToken* hit = first_chars_.count(s[i]) ? longest_at(s, i) : nullptr;
      if (!hit) {
        ++i;
        continue;
      }
      if (hit->single_word && !stands_alone(s, i, i + hit->content.size())) {
        // HF's leftmost-longest matcher has consumed these characters: the match is dropped and
        // the search goes on after it (no shorter token is tried in its place).
        i += hit->content.size();
        continue;
      }
      // lstrip / rstrip: the white space next to the token belongs to no token at all.
      size_t segment_end = i;
      while (hit->lstrip && segment_end > segment_begin &&
             text::is_white_space(s[segment_end - 1])) {
        --segment_end;
      }
      if (segment_end > segment_begin) out.push_back({slice(t, segment_begin, segment_end)});
      const size_t after = i + hit->content.size();
      out.push_back({{}, hit, t.origin_of(i, after - 1)});
      segment_begin = after;
      while (hit->rstrip && segment_begin < n && text::is_white_space(s[segment_begin]))
        ++segment_begin;
      i = segment_begin;
    }
    if (segment_begin < n) out.push_back({slice(t, segment_begin, n)});
  }

 private:
  const AddedToken* longest_at(const std::u32string& s, size_t i) const {
    for (const AddedToken* a : tokens_) {
      const size_t len = a->content.size();
      if (len <= s.size() - i && s.compare(i, len, a->content) == 0) return a;
    }
    return nullptr;
  }
  // single_word: no word character touches s[begin, end) on either side.
  static bool stands_alone(const std::u32string& s, size_t begin, size_t end) {
    return (begin == 0 || !is_word_character(s[begin - 1])) &&
           (end == s.size() || !is_word_character(s[end]));
  }

  std::vector<const AddedToken*> tokens_;
  std::unordered_set<char32_t> first_chars_;  // to skip most positions fast
};

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(TokenizerSpec spec)
      : spec_(std::move(spec)), bpe_(spec_.vocab, spec_.merges, spec_.bpe, spec_.path, spec_.path) {
    spec_.merges = {};  // BpeModel keeps its own table
    auto& tokens = spec_.vocab.tokens;
    auto name = [&tokens](int32_t id, const std::string& text) {
      const auto i = static_cast<size_t>(id);
      if (i >= tokens.size()) tokens.resize(i + 1);
      tokens[i] = text;
    };
    for (const auto& a : spec_.added) {
      name(a.id, a.text);
      added_ids_.insert_or_assign(a.text, a.id);
    }
    for (const auto* list : {&spec_.prefix, &spec_.suffix}) {
      for (const auto& [id, text] : *list) {
        if (static_cast<size_t>(id) >= tokens.size() || tokens[static_cast<size_t>(id)].empty()) {
          name(id, text);
        }
      }
    }
    // An empty string marks an unused id, except where a token really is "" (a vocabulary entry,
    // say the unk_token, or a post-processor token): encode() emits those, so they must decode.
    exists_.assign(tokens.size(), false);
    for (size_t i = 0; i < tokens.size(); ++i) exists_[i] = !tokens[i].empty();
    if (const int32_t empty = spec_.vocab.id(""); empty >= 0)
      exists_[static_cast<size_t>(empty)] = true;
    for (const auto* list : {&spec_.prefix, &spec_.suffix}) {
      for (const auto& entry : *list) exists_[static_cast<size_t>(entry.first)] = true;
    }
    for (const auto& a : spec_.added) {
      (a.normalized && !spec_.normalizer.empty() ? normalized_added_ : raw_added_).add(&a);
    }
  }
  HfTokenizer(const HfTokenizer&) = delete;  // bpe_ refers to spec_.vocab
  HfTokenizer& operator=(const HfTokenizer&) = delete;

  Encoding encode(std::string_view text) const override {
    std::u32string code_points = text::decode_utf8(text);
    const auto n = static_cast<int64_t>(code_points.size());
    Encoding enc;
    for (const auto& [id, token] : spec_.prefix) push(enc, id, token, {0, 0});
    std::vector<Part> raw_parts, parts;
    raw_added_.split(text::MappedText::identity(std::move(code_points)), raw_parts);
    for (auto& raw : raw_parts) {
      if (raw.added) {
        push(enc, raw.added->id, raw.added->text, raw.span);
        continue;
      }
      normalize(spec_.normalizer, raw.text);
      parts.clear();
      normalized_added_.split(std::move(raw.text), parts);
      for (auto& part : parts) {
        if (part.added) {
          push(enc, part.added->id, part.added->text, part.span);
          continue;
        }
        for (const auto& piece : pre_tokenize(spec_.pre_tokenizer, std::move(part.text))) {
          encode_piece(piece, enc);
        }
      }
    }
    drop_repeated_prefix(enc);
    for (const auto& [id, token] : spec_.suffix) push(enc, id, token, {n, n});
    return enc;
  }

  // The text here is always the whole model input, and a rendered chat template writes its own
  // bos_token ("<s>[INST] ..."), which HF encodes with add_special_tokens=False. So when the text
  // already starts with the post-processor's prefix, that prefix is not added a second time: a
  // doubled BOS is never wanted and changes the model's answer.
  void drop_repeated_prefix(Encoding& enc) const {
    const size_t p = spec_.prefix.size();
    if (p == 0 || enc.ids.size() < 2 * p) return;
    for (size_t k = 0; k < p; ++k)
      if (enc.ids[p + k] != enc.ids[k]) return;
    const auto cut = static_cast<std::ptrdiff_t>(p);
    enc.ids.erase(enc.ids.begin(), enc.ids.begin() + cut);
    enc.tokens.erase(enc.tokens.begin(), enc.tokens.begin() + cut);
    enc.spans.erase(enc.spans.begin(), enc.spans.begin() + cut);
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab_size() || !exists_[static_cast<size_t>(id)]) {
        throw InputError("Cannot decode token id " + std::to_string(id) +
                         ": the vocabulary has no such token.");
      }
      tokens.push_back(spec_.vocab.tokens[static_cast<size_t>(id)]);
    }
    return text::repair_utf8(decode_tokens(spec_.decoder, spec_.has_decoder, std::move(tokens)));
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(spec_.vocab.tokens.size()); }

  int64_t special_token_id(std::string_view token) const override {
    auto it = added_ids_.find(token);
    return it == added_ids_.end() ? -1 : it->second;
  }

 private:
  void push(Encoding& enc, int32_t id, const std::string& token, text::Span span) const {
    enc.ids.push_back(id);
    enc.tokens.push_back(token);
    enc.spans.push_back(span);
  }

  void encode_piece(const text::MappedText& piece, Encoding& enc) const {
    const text::Utf8WithIndex utf8 = text::encode_utf8_indexed(piece.text);
    std::vector<BpeModel::Symbol> symbols;
    bpe_.encode_word(utf8.bytes, symbols);
    size_t pos = 0;
    for (const auto& s : symbols) {
      pos += static_cast<size_t>(s.skip);
      const size_t end = pos + static_cast<size_t>(s.bytes);
      // A token holding part of a character (a byte-level or "<0xNN>" token) covers all of it.
      const text::Span span = piece.origin_of(static_cast<size_t>(utf8.cp_of_byte[pos]),
                                              static_cast<size_t>(utf8.cp_of_byte[end - 1]));
      push(enc, s.id, spec_.vocab.tokens[static_cast<size_t>(s.id)], span);
      pos = end;
    }
  }

  TokenizerSpec spec_;
  BpeModel bpe_;
  AddedMatcher raw_added_, normalized_added_;
  StringMap<int32_t> added_ids_;
  std::vector<bool> exists_;  // ids decode() accepts
};

}  // namespace

std::unique_ptr<Tokenizer> make_hf_tokenizer(TokenizerSpec spec) {
  return std::make_unique<HfTokenizer>(std::move(spec));
}

}  // namespace atman::tokenizers::hf
