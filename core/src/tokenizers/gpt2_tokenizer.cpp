// GPT-2's byte-level BPE as Hugging Face's (slow) GPT2Tokenizer applies it: added tokens are cut
// out of the text literally first, the rest goes through the GPT-2 pattern and BPE. No BOS/EOS.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "tokenizers/bpe.h"
#include "tokenizers/model_files.h"
#include "tokenizers/pcre_regex.h"

namespace atman {
namespace {

using namespace tokenizers;

constexpr std::string_view kEndOfText = "<|endoftext|>";
// Ids index embedding rows, and the tokenizer allocates a slot per id up to the largest: the
// vocabulary reader's limit (bpe.cpp) holds for added tokens too, or one "<x>": 2147483647 in
// added_tokens.json asks for 64 GiB.
constexpr int64_t kMaxAddedTokenId = 16 * 1024 * 1024;

std::string gpt2_pattern() {
  // GPT-2's pattern with `\s` / `\S` spelled out as the `regex` module understands them.
  const std::string ws(kWhiteSpaceClass);
  return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" + ws + R"(\p{L}\p{N}]+|[)" + ws +
         R"(]+(?![^)" + ws + R"(])|[)" + ws + "]+";
}

struct AddedToken {
  std::string content;
  int32_t id;
  bool lstrip = false;  // swallows the whitespace before it (HF AddedToken semantics)
  bool rstrip = false;  // swallows the whitespace after it
};

// Added and special tokens of a HF model folder, the way a slow tokenizer collects them:
// added_tokens.json, tokenizer_config.json's added_tokens_decoder, and the named special tokens
// (special_tokens_map.json / tokenizer_config.json) that the vocabulary knows.
std::vector<AddedToken> collect_added_tokens(const std::filesystem::path& dir, const Vocab& vocab) {
  std::vector<AddedToken> added;
  auto upsert = [&added](AddedToken t) {
    for (auto& a : added) {
      if (a.content == t.content) {
        a = std::move(t);
        return;
      }
    }
    added.push_back(std::move(t));
  };
  auto bad = [](const std::filesystem::path& p, const std::string& what) {
    return ModelError("'" + p.string() + "' is not a usable tokenizer file: " + what);
  };
  // GPT-2's end-of-text token is always special, also in folders that do not say so.
  if (int32_t id = vocab.id(kEndOfText); id >= 0) upsert({std::string(kEndOfText), id});

  // A special token named by string or by an AddedToken dict; only meaningful if it has an id.
  auto named = [&](const nlohmann::json& v) {
    std::string content;
    if (v.is_string()) {
      content = v.get<std::string>();
    } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      content = v["content"].get<std::string>();
    } else {
      return;
    }
    for (const auto& a : added) {
      if (a.content == content) return;
    }
    if (int32_t id = vocab.id(content); id >= 0 && !content.empty()) upsert({content, id});
  };
  auto named_specials = [&](const nlohmann::json& j) {
    if (!j.is_object()) return;
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                            "cls_token", "mask_token"}) {
      if (j.contains(key)) named(j[key]);
    }
    if (j.contains("additional_special_tokens") && j["additional_special_tokens"].is_array()) {
      for (const auto& v : j["additional_special_tokens"]) named(v);
    }
  };

  const auto added_path = dir / "added_tokens.json";
  if (auto j = read_optional_json(added_path)) {
    if (!j->is_object()) throw bad(added_path, "expected an object {\"token\": id}.");
    for (auto& [content, id] : j->items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > kMaxAddedTokenId || content.empty()) {
        throw bad(added_path, "token '" + content + "' has no valid id.");
      }
      upsert({content, static_cast<int32_t>(id.get<int64_t>())});
    }
  }
  const auto config_path = dir / "tokenizer_config.json";
  auto config = read_optional_json(config_path);
  if (config && config->is_object() && config->contains("added_tokens_decoder")) {
    const auto& decoder = (*config)["added_tokens_decoder"];
    if (!decoder.is_object()) throw bad(config_path, "added_tokens_decoder is not an object.");
    for (auto& [key, value] : decoder.items()) {
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(key, &used);
        if (used != key.size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      if (id < 0 || id > kMaxAddedTokenId || !value.is_object() || !value.contains("content") ||
          !value["content"].is_string() || value["content"].get<std::string>().empty()) {
        throw bad(config_path, "added_tokens_decoder entry '" + key + "' is malformed.");
      }
      upsert({value["content"].get<std::string>(), static_cast<int32_t>(id),
              value.value("lstrip", false), value.value("rstrip", false)});
    }
  }
  if (auto j = read_optional_json(dir / "special_tokens_map.json")) named_specials(*j);
  if (config) named_specials(*config);
  return added;
}

class Gpt2Tokenizer final : public Tokenizer {
 public:
  Gpt2Tokenizer(Vocab vocab, const std::vector<MergeRule>& merges, std::vector<AddedToken> added,
                const std::filesystem::path& vocab_path, const std::filesystem::path& merges_path)
      : vocab_(std::move(vocab)),
        bpe_(vocab_, merges, "", vocab_path, merges_path),
        pattern_(gpt2_pattern()),
        added_(std::move(added)) {
    // Longest first, so that at one position the longest added token wins (HF's trie does so).
    std::stable_sort(added_.begin(), added_.end(), [](const AddedToken& a, const AddedToken& b) {
      return a.content.size() > b.content.size();
    });
    for (const auto& a : added_) {
      const auto id = static_cast<size_t>(a.id);
      if (id >= vocab_.tokens.size()) vocab_.tokens.resize(id + 1);
      vocab_.tokens[id] = a.content;
      added_ids_.insert_or_assign(a.content, a.id);
      first_bytes_[static_cast<unsigned char>(a.content[0])] = true;
    }
    is_added_.assign(vocab_.tokens.size(), false);
    for (const auto& a : added_) is_added_[static_cast<size_t>(a.id)] = true;
  }

  Encoding encode(std::string_view text) const override {
    const std::u32string code_points = text::decode_utf8(text);
    // cp_of_byte[i]: the code point byte i belongs to; byte_of_cp[c]: where code point c starts.
    // Both have one extra entry for the end of the text.
    std::vector<int64_t> cp_of_byte(text.size() + 1);
    std::vector<size_t> byte_of_cp(code_points.size() + 1);
    {
      size_t byte = 0;
      std::string tmp;
      for (size_t c = 0; c < code_points.size(); ++c) {
        byte_of_cp[c] = byte;
        tmp.clear();
        text::append_utf8(tmp, code_points[c]);
        for (size_t k = 0; k < tmp.size(); ++k) cp_of_byte[byte++] = static_cast<int64_t>(c);
      }
      cp_of_byte[byte] = static_cast<int64_t>(code_points.size());
      byte_of_cp[code_points.size()] = byte;
    }

    Encoding enc;
    std::vector<BpeModel::Symbol> symbols;
    auto encode_segment = [&](size_t begin, size_t end) {
      const std::string_view segment = text.substr(begin, end - begin);
      for (const auto& [b, e] : pattern_.find_all(segment)) {
        symbols.clear();
        bpe_.encode_word(segment.substr(b, e - b), symbols);
        size_t pos = begin + b;
        for (const auto& s : symbols) {
          const size_t next = pos + static_cast<size_t>(s.bytes);
          enc.ids.push_back(s.id);
          enc.tokens.push_back(vocab_.tokens[static_cast<size_t>(s.id)]);
          // A token holding part of a multi-byte character covers that whole character.
          enc.spans.emplace_back(cp_of_byte[pos], cp_of_byte[next - 1] + 1);
          pos = next;
        }
      }
    };
    auto cp_at = [&](size_t byte) { return static_cast<size_t>(cp_of_byte[byte]); };

    size_t segment_begin = 0;
    for (size_t i = 0; i < text.size();) {
      const AddedToken* hit = nullptr;
      if (first_bytes_[static_cast<unsigned char>(text[i])]) {
        for (const auto& a : added_) {
          if (text.substr(i, a.content.size()) == a.content) {
            hit = &a;
            break;
          }
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      // HF's lstrip / rstrip: the whitespace next to the token belongs to no token at all.
      size_t segment_end = i;
      while (hit->lstrip && segment_end > segment_begin &&
             text::is_python_space(code_points[cp_at(segment_end - 1)])) {
        segment_end = byte_of_cp[cp_at(segment_end - 1)];
      }
      encode_segment(segment_begin, segment_end);
      const size_t after = i + hit->content.size();
      enc.ids.push_back(hit->id);
      enc.tokens.push_back(hit->content);
      enc.spans.emplace_back(cp_of_byte[i], cp_of_byte[after]);
      segment_begin = after;
      while (hit->rstrip && segment_begin < text.size() &&
             text::is_python_space(code_points[cp_at(segment_begin)])) {
        segment_begin = byte_of_cp[cp_at(segment_begin) + 1];
      }
      i = std::max(after, segment_begin);
    }
    encode_segment(segment_begin, text.size());
    return enc;
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string out, bytes;
    for (int64_t id : ids) {
      if (id < 0 || id >= vocab_size() || vocab_.tokens[static_cast<size_t>(id)].empty()) {
        throw InputError("Cannot decode token id " + std::to_string(id) +
                         ": the vocabulary has no such token.");
      }
      const std::string& token = vocab_.tokens[static_cast<size_t>(id)];
      if (is_added_[static_cast<size_t>(id)]) {
        // Added tokens are plain text, not byte-alphabet strings (HF's _decode does the same).
        out += text::repair_utf8(bytes);
        bytes.clear();
        out += token;
      } else {
        bytes += token_bytes(token);
      }
    }
    return out + text::repair_utf8(bytes);
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(vocab_.tokens.size()); }

  int64_t special_token_id(std::string_view token) const override {
    auto it = added_ids_.find(token);
    return it == added_ids_.end() ? -1 : it->second;
  }

 private:
  Vocab vocab_;
  BpeModel bpe_;
  Regex pattern_;
  std::vector<AddedToken> added_;
  StringMap<int32_t> added_ids_;
  std::vector<bool> is_added_;
  std::array<bool, 256> first_bytes_{};  // first bytes of added tokens, to skip most positions fast
};

}  // namespace

std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::filesystem::path& model_dir) {
  require_folder(model_dir);
  const char* why = "a byte-level BPE tokenizer needs vocab.json and merges.txt";
  const auto vocab_path = require_file(model_dir, "vocab.json", why);
  const auto merges_path = require_file(model_dir, "merges.txt", why);
  Vocab vocab = load_vocab_json(vocab_path);
  auto merges = load_merges_txt(merges_path);
  std::vector<AddedToken> added;
  try {
    added = collect_added_tokens(model_dir, vocab);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong JSON type
    throw ModelError("The tokenizer files in '" + model_dir.string() +
                     "' describe their added tokens wrongly: " + e.what());
  }
  return std::make_unique<Gpt2Tokenizer>(std::move(vocab), merges, std::move(added), vocab_path,
                                         merges_path);
}

}  // namespace atman
