// A SentencePiece processor with the library's own semantics (sentencepiece_processor.cc,
// normalizer.cc, unigram_model.cc, bpe_model.cc): the precompiled-charsmap normalizer with
// whitespace escaping, Unigram Viterbi encoding over the piece scores (the optimized encoder the
// library uses by default) or BPE merges by piece score, user-defined pieces, unknown characters,
// byte fallback, and decoding.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizers/spiece_model.h"

namespace atman::tokenizers::spiece {

// The normalization rules of a precompiled charsmap: a Darts-clone double-array trie whose values
// index NUL-terminated replacement strings. Bounds are checked on every step, so a broken map
// gives a ModelError, not a read outside it.
class CharsMap {
 public:
  CharsMap() = default;
  CharsMap(std::string_view blob, const std::string& where);
  bool empty() const { return units_.empty(); }
  // The longest rule matching a prefix of `input`: its length in bytes (0 when none) and its
  // replacement.
  std::pair<size_t, std::string_view> longest_match(std::string_view input) const;

 private:
  std::vector<uint32_t> units_;
  std::string normalized_;
  std::string where_;
};

// Normalized text and, for each of its bytes plus one past the end, the byte offset in the input
// it came from (SentencePiece's norm_to_orig).
struct NormalizedText {
  std::string text;
  std::vector<size_t> to_input;
};

// The length of the well-formed UTF-8 character at the start of `s` (not empty), 0 when it is not
// one: SentencePiece then reads U+FFFD for one byte.
size_t utf8_char_length(std::string_view s);

// One piece of an encoding: its id, its string and the bytes [begin, end) of the input it covers.
struct EncodedPiece {
  int32_t id = 0;
  std::string piece;
  size_t begin = 0, end = 0;
};

class Processor {
 public:
  // Checks the model as SentencePiece does when it loads one (one unknown piece, no empty or
  // duplicate pieces, 256 byte pieces with byte_fallback, ...). Throws ModelError naming `where`.
  // WORD and CHAR models are refused.
  Processor(ModelProto model, const std::string& where);

  // The normalizer alone, as SentencePiece's Normalizer::Normalize.
  NormalizedText normalize(std::string_view input) const;
  // SentencePieceProcessor::Encode: normalize, Viterbi, then byte fallback for unknown pieces or
  // a run of unknown pieces merged into one.
  std::vector<EncodedPiece> encode(std::string_view input) const;
  // SentencePieceProcessor::Decode of ids (control pieces vanish, <unk> becomes unk_surface,
  // <0xNN> runs become UTF-8 with U+FFFD for bad bytes, ▁ becomes a space and the first one is
  // dropped). Throws InputError for an id outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids) const;

  int32_t size() const { return static_cast<int32_t>(model_.pieces.size()); }
  const std::string& id_to_piece(int32_t id) const { return model_.pieces.at(id).text; }
  PieceType type(int32_t id) const { return model_.pieces.at(id).type; }
  // SentencePiece's PieceToId: the piece's id, else the unknown piece's.
  int32_t piece_to_id(std::string_view piece) const;
  int32_t unk_id() const { return unk_id_; }
  const ModelProto& model() const { return model_; }

 private:
  struct TrieNode {
    int32_t id = -1;
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
  };
  int32_t child(int32_t node, uint8_t byte) const;
  void insert(std::string_view piece, int32_t id);
  size_t user_defined_prefix(std::string_view input) const;
  std::vector<std::pair<std::string_view, int32_t>> viterbi(std::string_view normalized) const;
  std::vector<std::pair<std::string_view, int32_t>> bpe(std::string_view normalized) const;

  ModelProto model_;
  std::string where_;
  CharsMap charsmap_;
  std::vector<TrieNode> trie_;  // NORMAL, USER_DEFINED and UNUSED pieces, as the library's trie
  std::unordered_map<std::string, int32_t> ids_;         // PieceToId: reserved pieces first
  std::unordered_map<std::string, int32_t> normal_ids_;  // NORMAL, USER_DEFINED, UNUSED
  std::set<std::string, std::less<>> user_defined_;
  size_t longest_user_defined_ = 0;
  int32_t unk_id_ = -1;
  float min_score_ = 0, max_score_ = 0;
};

}  // namespace atman::tokenizers::spiece
