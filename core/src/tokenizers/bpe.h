// Byte-level BPE shared by the CLIP and GPT-2 tokenizers: vocab.json / merges.txt loading, the
// bytes_to_unicode alphabet and the merge loop of OpenAI's bpe() with a per-word cache.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace atman::tokenizers {

// Lets unordered maps keyed by std::string be searched with a string_view without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// String -> id with open addressing in flat arrays. A 50k-token vocabulary is looked up ~150k times
// while the merges load; std::unordered_map's scattered nodes made that most of the load time.
class TokenIndex {
 public:
  int32_t find(std::string_view token) const;  // -1 when absent
  // Later assignments win, as for duplicate keys in a JSON object.
  void insert_or_assign(std::string token, int32_t id);
  size_t size() const { return keys_.size(); }
  void reserve(size_t n);

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t entry = 0;  // index into keys_/ids_ plus one; 0 for an empty slot
  };
  static uint32_t hash_of(std::string_view s) {
    return static_cast<uint32_t>(std::hash<std::string_view>{}(s));
  }
  size_t probe(std::string_view token, uint32_t hash) const;  // slot holding token, or empty slot
  void rehash(size_t capacity);

  std::vector<std::string> keys_;
  std::vector<int32_t> ids_;
  std::vector<Slot> slots_;  // power-of-two size, at most half full
};

struct Vocab {
  TokenIndex ids;
  std::vector<std::string> tokens;  // by id; empty for ids vocab.json does not use

  int32_t id(std::string_view token) const { return ids.find(token); }
};

// vocab.json: {"token": id, ...}. Throws ModelError naming the file on any problem.
Vocab load_vocab_json(const std::filesystem::path& path);

struct MergeRule {
  std::string first, second;
  int line;  // 1-based, for error messages
};
// merges.txt: an optional "#version" first line, then one "first second" pair per line, in rank
// order. Throws ModelError naming the file and line.
std::vector<MergeRule> load_merges_txt(const std::filesystem::path& path);

// GPT-2's bytes_to_unicode(): printable stand-ins for the 256 byte values, so that BPE symbols are
// strings without spaces or control characters.
const std::array<char32_t, 256>& byte_to_unicode();
// The inverse; -1 for a code point that stands for no byte.
int unicode_to_byte(char32_t c);
// Raw bytes a vocabulary string stands for ("Ġpanda" -> " panda"); code points outside the
// byte alphabet are kept as their UTF-8.
std::string token_bytes(std::string_view token);
// The other way: raw bytes as their byte-alphabet string (" panda" -> "Ġpanda").
std::string alphabet_string(std::string_view bytes);

// How a word becomes its first symbols, and the Hugging Face `tokenizers` BPE options.
struct BpeOptions {
  // CLIP's "</w>", appended to the last symbol of every word before merging; empty for GPT-2.
  std::string end_of_word;
  // Byte-level (GPT-2, Llama-3, Qwen2): every byte starts as its bytes_to_unicode() symbol, and
  // the vocabulary must hold all 256. Otherwise (SentencePiece-style BPE) every character starts
  // as its own vocabulary entry, and one the vocabulary lacks becomes:
  bool byte_level = true;
  bool byte_fallback = false;  // its UTF-8 bytes as "<0xNN>" tokens, when all of them exist;
  int32_t unk_id = -1;         // else this token (-1: the character is dropped, as HF does);
  bool fuse_unk = false;       // consecutive unknown characters then share one unk token.
  // Llama-3: a word that is itself a vocabulary entry is that one token, whatever merges say.
  bool ignore_merges = false;
  // Words of at least this many symbols merge through a priority queue (HF's order: lowest rank,
  // then leftmost) in O(n log n) instead of OpenAI's loop, which is O(n) per merged pair type and
  // too slow for the paragraph-long words of SentencePiece-style models (no pre-tokenizer). Both
  // give the same tokens for trained merges, where a merge always ranks after those making its
  // parts. Tests move the threshold to compare the two.
  size_t queue_from_symbols = 256;
};

class BpeModel {
 public:
  // The paths only name the files in error messages.
  BpeModel(const Vocab& vocab, const std::vector<MergeRule>& merges, std::string end_of_word,
           const std::filesystem::path& vocab_path, const std::filesystem::path& merges_path);
  // `vocab` must outlive the model when the options look words up at encode time (not
  // byte_level, or ignore_merges).
  BpeModel(const Vocab& vocab, const std::vector<MergeRule>& merges, BpeOptions options,
           const std::filesystem::path& vocab_path, const std::filesystem::path& merges_path);

  struct Symbol {
    int32_t id;
    int32_t bytes;     // how many bytes of the word this token covers, from its start...
    int32_t skip = 0;  // ...after this many bytes that belong to no token (dropped characters)
  };
  // Appends the tokens of one pre-tokenized word (raw UTF-8 bytes, not empty). Thread-safe.
  void encode_word(std::string_view word, std::vector<Symbol>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  int32_t rank(int32_t a, int32_t b) const;
  std::vector<Symbol> initial_symbols(std::string_view word) const;
  std::vector<Symbol> merge_word(std::string_view word) const;
  std::vector<Symbol> merge_with_queue(std::vector<Symbol> w) const;

  BpeOptions options_;
  const Vocab* vocab_ = nullptr;  // set when encoding needs lookups (see the constructor)
  std::array<int32_t, 256> fallback_ids_{};  // "<0xNN>" ids, -1 where absent

  std::array<int32_t, 256> byte_ids_{};
  std::array<int32_t, 256>
      last_byte_ids_{};  // byte symbol + end_of_word (same as byte_ids_ for GPT-2)
  std::unordered_map<uint64_t, Merge> merges_;

  // Words repeat a lot in real text, and merging is the expensive part of encoding.
  static constexpr size_t kMaxCachedWords = 100000;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::mutex cache_mutex_;
  mutable StringMap<std::vector<Symbol>> cache_;
};

}  // namespace atman::tokenizers
