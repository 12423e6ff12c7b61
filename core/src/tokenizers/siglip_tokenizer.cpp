// transformers' SiglipTokenizer (tokenization_siglip.py) over a SentencePiece Unigram model: the
// slow tokenizer's steps in its order, each keeping where every code point came from.
//
//   1. do_lower_case: PreTrainedTokenizer.tokenize lower-cases one character at a time, skipping
//      special tokens (its regex `(special|...)|(.+?)`).
//   2. SiglipTokenizer.tokenize: "▁" + text with every "▁" turned into a space.
//   3. The added tokens (eos, unk, pad, additional_special_tokens, added_tokens_decoder) split the
//      text; each is one token.
//   4. _tokenize on every other piece: canonicalize_text (ASCII punctuation removed, runs of
//      Python whitespace become one space, stripped), then SentencePiece encodes "<unk>" + text
//      with add_dummy_prefix forced off and the tokens of "<unk>" alone are dropped (the library
//      would otherwise drop the "▁" in front of the first word).
//   5. A leading "▁" token right before a special token is dropped; eos is appended unless the
//      ids already end with it.
#include <algorithm>
#include <map>
#include <optional>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "tokenizers/model_files.h"
#include "tokenizers/spiece.h"

namespace atman {
namespace {

constexpr int64_t kMaxAddedTokenId = 16 * 1024 * 1024;
const std::u32string kUnderline = U"\u2581";

bool is_ascii_punctuation(char32_t c) {
  // Python's string.punctuation.
  return c < 0x80 && ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
                      (c >= '{' && c <= '~'));
}

// canonicalize_text(text, keep_punctuation_exact_string=None): the stdlib `re` module's `\s`
// is str.isspace(), which also holds U+001C..U+001F.
text::MappedText canonicalize(const text::MappedText& in) {
  text::MappedText out;
  for (size_t i = 0; i < in.text.size(); ++i) {
    const char32_t c = in.text[i];
    if (is_ascii_punctuation(c)) continue;
    if (text::is_python_space(c)) {
      // Punctuation is gone before `\s+` is collapsed, so "a , b" has one run of spaces.
      if (!out.text.empty() && out.text.back() == U' ') {
        out.origin.back().second = in.origin[i].second;
        continue;
      }
      out.text += U' ';
      out.origin.push_back(in.origin[i]);
      continue;
    }
    out.text += c;
    out.origin.push_back(in.origin[i]);
  }
  text::python_strip(out);
  return out;
}

std::optional<std::string> token_content(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

struct AddedToken {
  std::string content;
  std::u32string code_points;
  int64_t id = -1;
  bool special = true;
};

class SiglipTokenizer final : public Tokenizer {
 public:
  SiglipTokenizer(tokenizers::spiece::Processor sp, const std::filesystem::path& dir)
      : sp_(std::move(sp)) {
    const auto config = tokenizers::read_optional_json(dir / "tokenizer_config.json");
    const auto map = tokenizers::read_optional_json(dir / "special_tokens_map.json");
    auto lookup = [&](const char* key) -> std::optional<nlohmann::json> {
      for (const auto* j : {&config, &map})
        if (*j && (*j)->is_object() && (*j)->contains(key)) return (**j)[key];
      return std::nullopt;
    };
    if (const auto v = lookup("do_lower_case"); v && v->is_boolean()) lower_ = v->get<bool>();
    // The constructor's defaults: eos and pad "</s>", unk "<unk>".
    auto special = [&](const char* key, const char* fallback) {
      const auto v = lookup(key);
      if (!v) return std::string(fallback);
      auto content = token_content(*v);
      if (!content || content->empty())
        throw ModelError("'" + (dir / "tokenizer_config.json").string() + "': " + key +
                         " must be a token string for a SigLIP tokenizer.");
      return *content;
    };
    eos_ = special("eos_token", "</s>");
    unk_ = special("unk_token", "<unk>");
    const std::string pad = special("pad_token", "</s>");
    std::vector<std::string> specials = {eos_, unk_, pad};
    if (const auto v = lookup("additional_special_tokens"); v && v->is_array())
      for (const auto& t : *v)
        if (auto c = token_content(t); c && !c->empty()) specials.push_back(*c);
    // Ids named by added_tokens_decoder, else the SentencePiece vocabulary's.
    std::map<std::string, std::pair<int64_t, bool>> named;
    if (config && config->contains("added_tokens_decoder") &&
        (*config)["added_tokens_decoder"].is_object()) {
      for (const auto& [key, value] : (*config)["added_tokens_decoder"].items()) {
        int64_t id = -1;
        try {
          size_t used = 0;
          id = std::stoll(key, &used);
          if (used != key.size()) id = -1;
        } catch (const std::exception&) {
        }
        const auto content = token_content(value);
        if (id < 0 || id > kMaxAddedTokenId || !content || content->empty())
          throw ModelError("'" + (dir / "tokenizer_config.json").string() +
                           "': added_tokens_decoder entry '" + key +
                           "' needs an id up to 16M and a non-empty content.");
        const bool is_special = !value.is_object() || !value.contains("special") ||
                                !value["special"].is_boolean() || value["special"].get<bool>();
        named[*content] = {id, is_special};
      }
    }
    vocab_size_ = sp_.size();
    for (const auto& [content, entry] : named) vocab_size_ = std::max(vocab_size_, entry.first + 1);
    auto add = [&](const std::string& content, bool is_special) {
      for (auto& t : added_)
        if (t.content == content) return;
      AddedToken t;
      t.content = content;
      t.code_points = text::decode_utf8(content);
      const auto it = named.find(content);
      t.id = it != named.end() ? it->second.first : sp_.piece_to_id(content);
      // A special token the vocabulary lacks gets the next id, as PreTrainedTokenizer adds it.
      if (it == named.end() && t.id == sp_.unk_id() && content != unk_) t.id = vocab_size_++;
      t.special = is_special;
      added_.push_back(std::move(t));
    };
    for (const auto& s : specials) add(s, true);
    for (const auto& [content, entry] : named) add(content, entry.second);
    eos_id_ = id_of(eos_);
    unk_length_ = static_cast<int64_t>(sp_.encode(unk_).size());
  }

  Encoding encode(std::string_view input) const override {
    const std::u32string original = text::decode_utf8(input);
    const auto n = static_cast<int64_t>(original.size());
    // Steps 1 and 2.
    text::MappedText t;
    t.text = kUnderline;
    t.origin.push_back({0, 0});
    for (size_t i = 0; i < original.size();) {
      if (const AddedToken* s = lower_ ? special_at(original, i) : nullptr) {
        for (size_t k = 0; k < s->code_points.size(); ++k) {
          t.text += s->code_points[k] == kUnderline[0] ? U' ' : s->code_points[k];
          t.origin.push_back({int64_t(i + k), int64_t(i + k + 1)});
        }
        i += s->code_points.size();
        continue;
      }
      text::MappedText one = text::MappedText::identity(std::u32string(1, original[i]));
      if (lower_) one = text::python_lower(one);
      for (char32_t c : one.text) {
        t.text += c == kUnderline[0] ? U' ' : c;
        t.origin.push_back({int64_t(i), int64_t(i + 1)});
      }
      ++i;
    }
    // Step 3 and 4.
    struct Token {
      int64_t id;
      std::string text;
      text::Span span;
      bool special;
    };
    std::vector<Token> tokens;
    size_t chunk_begin = 0;
    auto flush = [&](size_t end) {
      if (end <= chunk_begin) return;
      text::MappedText chunk;
      chunk.text = t.text.substr(chunk_begin, end - chunk_begin);
      chunk.origin.assign(t.origin.begin() + std::ptrdiff_t(chunk_begin),
                          t.origin.begin() + std::ptrdiff_t(end));
      for (auto& tok : tokenize_chunk(canonicalize(chunk)))
        tokens.push_back({tok.id, tok.text, tok.span, false});
    };
    for (size_t i = 0; i < t.text.size();) {
      const AddedToken* s = added_at(t.text, i);
      if (!s) {
        ++i;
        continue;
      }
      flush(i);
      const size_t len = s->code_points.size();
      tokens.push_back(
          {s->id, s->content, {t.origin[i].first, t.origin[i + len - 1].second}, s->special});
      i += len;
      chunk_begin = i;
    }
    flush(t.text.size());
    // Step 5.
    if (tokens.size() > 1 && tokens[0].text == "\xE2\x96\x81" && tokens[1].special &&
        !tokens[0].special)
      tokens.erase(tokens.begin());
    if (tokens.empty() || tokens.back().id != eos_id_)
      tokens.push_back({eos_id_, eos_, {n, n}, true});
    Encoding enc;
    int64_t last_begin = 0;
    for (auto& tok : tokens) {
      // Spans never go backwards (a token the "<unk>" prefix trick leaves behind may point before
      // its neighbour).
      auto [b, e] = tok.span;
      b = std::clamp<int64_t>(b, last_begin, n);
      e = std::clamp<int64_t>(e, b, n);
      last_begin = b;
      enc.ids.push_back(tok.id);
      enc.tokens.push_back(std::move(tok.text));
      enc.spans.emplace_back(b, e);
    }
    return enc;
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    // decode(ids, skip_special_tokens=True): the special tokens are left out, the rest goes
    // through SentencePiece's decoder; convert_tokens_to_string strips the result. Added
    // tokens that are not special are written as they are.
    std::string out;
    std::vector<int64_t> run;
    auto flush = [&] {
      out += sp_.decode(run);
      run.clear();
    };
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab_size_)
        throw InputError("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                         std::to_string(vocab_size_ - 1) + ")");
      const AddedToken* added = nullptr;
      for (const auto& t : added_)
        if (t.id == id) added = &t;
      if (added && added->special) continue;
      if (added || id >= sp_.size()) {
        if (!added) throw InputError("token id " + std::to_string(id) + " has no token");
        flush();
        out += added->content;
        continue;
      }
      run.push_back(id);
    }
    flush();
    text::MappedText m = text::MappedText::identity(text::decode_utf8(out));
    text::python_strip(m);
    return text::encode_utf8(m.text);
  }

  int64_t vocab_size() const override { return vocab_size_; }

  int64_t special_token_id(std::string_view token) const override {
    for (const auto& t : added_)
      if (t.content == token) return t.id;
    return -1;
  }

 private:
  struct Piece {
    int64_t id;
    std::string text;
    text::Span span;
  };

  int64_t id_of(const std::string& content) const {
    for (const auto& t : added_)
      if (t.content == content) return t.id;
    return sp_.piece_to_id(content);
  }

  // The special token that the lower-casing regex matches at `i` (the first listed wins, as in
  // an alternation), or null.
  const AddedToken* special_at(const std::u32string& s, size_t i) const {
    for (const auto& t : added_) {
      if (!t.special) continue;
      if (s.compare(i, t.code_points.size(), t.code_points) == 0) return &t;
    }
    return nullptr;
  }

  // The longest added token starting at `i` (HF's Trie.split), or null.
  const AddedToken* added_at(const std::u32string& s, size_t i) const {
    const AddedToken* best = nullptr;
    for (const auto& t : added_)
      if (s.compare(i, t.code_points.size(), t.code_points) == 0 &&
          (!best || t.code_points.size() > best->code_points.size()))
        best = &t;
    return best;
  }

  // _tokenize on canonicalized text: SentencePiece on unk_token + text, its first tokens dropped.
  std::vector<Piece> tokenize_chunk(const text::MappedText& chunk) const {
    const text::Utf8WithIndex utf8 = text::encode_utf8_indexed(chunk.text);
    const std::string input = unk_ + utf8.bytes;
    const auto pieces = sp_.encode(input);
    const size_t drop = pieces.size() >= size_t(unk_length_) ? size_t(unk_length_) : 0;
    std::vector<Piece> out;
    const size_t prefix = unk_.size();
    auto cp_at = [&](size_t byte) -> size_t {  // code point of chunk at input byte `byte`
      if (byte <= prefix) return 0;
      byte -= prefix;
      return byte >= utf8.cp_of_byte.size() ? chunk.text.size() : size_t(utf8.cp_of_byte[byte]);
    };
    for (size_t k = drop; k < pieces.size(); ++k) {
      const auto& p = pieces[k];
      const size_t cb = cp_at(p.begin), ce = std::max(cb, cp_at(p.end));
      text::Span span;
      if (chunk.text.empty())
        span = {0, 0};
      else if (cb < ce)
        span = {chunk.origin[cb].first, chunk.origin[ce - 1].second};
      else if (cb < chunk.text.size())
        span = {chunk.origin[cb].first, chunk.origin[cb].first};
      else
        span = {chunk.origin.back().second, chunk.origin.back().second};
      out.push_back({p.id, p.piece, span});
    }
    return out;
  }

  tokenizers::spiece::Processor sp_;
  bool lower_ = true;
  std::string eos_, unk_;
  std::vector<AddedToken> added_;
  int64_t vocab_size_ = 0, eos_id_ = -1, unk_length_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> load_siglip_tokenizer(const std::filesystem::path& model_dir) {
  tokenizers::require_folder(model_dir);
  const auto path =
      tokenizers::require_file(model_dir, "spiece.model", "SigLIP's SentencePiece tokenizer");
  tokenizers::spiece::ModelProto proto = tokenizers::spiece::read_model_proto(path);
  // SiglipTokenizer.get_spm_processor() loads the model with add_dummy_prefix = False.
  proto.add_dummy_prefix = false;
  std::string where = "'";  // appends only: a false -Wrestrict in GCC 12 otherwise
  where += path.string();
  where += '\'';
  tokenizers::spiece::Processor sp(std::move(proto), where);
  return std::make_unique<SiglipTokenizer>(std::move(sp), model_dir);
}

}  // namespace atman
