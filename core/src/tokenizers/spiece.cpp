// SentencePiece Unigram encoding and decoding (unigram_model.cc's EncodeOptimized,
// sentencepiece_processor.cc's PopulateSentencePieceText and Decode), in the library's float
// arithmetic so that ties and near-ties pick the same pieces.
#include "tokenizers/spiece.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <queue>

#include "atman/error.h"

namespace atman::tokenizers::spiece {
namespace {

constexpr float kUnkPenalty = 10.0f;
constexpr size_t kMaxPieceBytes = 8000;  // ModelInterface::InitializePieces' kMaxPieceSize
const std::string_view kSpaceSymbol = "\xE2\x96\x81";

// string_util::OneCharLen: the length a UTF-8 lead byte announces (1 for a stray continuation).
size_t one_char_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

std::string byte_piece(uint8_t b) {
  char name[8];
  std::snprintf(name, sizeof name, "<0x%02X>", b);
  return name;
}

int piece_to_byte(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    if (c >= '0' && c <= '9')
      value = value * 16 + (c - '0');
    else if (c >= 'A' && c <= 'F')
      value = value * 16 + (c - 'A' + 10);
    else
      return -1;  // ByteToPiece writes upper-case hex only
  }
  return value;
}

}  // namespace

Processor::Processor(ModelProto model, const std::string& where)
    : model_(std::move(model)), where_(where) {
  auto invalid = [&](const std::string& why) {
    return ModelError(where_ + " is not a usable SentencePiece model: " + why + ".");
  };
  if (model_.model_type != ModelType::Unigram && model_.model_type != ModelType::Bpe) {
    throw ModelError(where_ + " is a SentencePiece " +
                     (model_.model_type == ModelType::Word ? "WORD" : "CHAR") +
                     " model; only Unigram and BPE models are supported. Use the model's "
                     "tokenizer.json instead.");
  }
  if (!model_.precompiled_charsmap.empty())
    charsmap_ = CharsMap(model_.precompiled_charsmap, where_);
  // ModelInterface::InitializePieces with the reserved-id map: NORMAL, USER_DEFINED and UNUSED
  // pieces are matched in text; UNKNOWN, CONTROL and BYTE ones only by id.
  std::vector<bool> byte_found(256, false);
  std::unordered_map<std::string, int32_t> reserved;
  trie_.emplace_back();
  min_score_ = FLT_MAX;
  max_score_ = FLT_MIN;
  for (int32_t i = 0; i < size(); ++i) {
    const Piece& p = model_.pieces[size_t(i)];
    if (p.text.size() >= kMaxPieceBytes)
      throw invalid("piece " + std::to_string(i) + " is too long");
    if (p.text.empty()) throw invalid("piece " + std::to_string(i) + " is empty");
    if (p.text.find('\0') != std::string::npos)
      throw invalid("piece " + std::to_string(i) + " holds a NUL character");
    const bool normal = p.type == PieceType::Normal || p.type == PieceType::UserDefined ||
                        p.type == PieceType::Unused;
    auto& map = normal ? ids_ : reserved;
    if (!map.emplace(p.text, i).second) throw invalid("piece '" + p.text + "' is defined twice");
    if (normal && model_.model_type == ModelType::Unigram) insert(p.text, i);  // BPE: no trie
    if (p.type == PieceType::UserDefined) {
      user_defined_.insert(p.text);
      longest_user_defined_ = std::max(longest_user_defined_, p.text.size());
    }
    if (p.type == PieceType::Normal) {
      min_score_ = std::min(min_score_, p.score);
      max_score_ = std::max(max_score_, p.score);
    }
    if (p.type == PieceType::Unknown) {
      if (unk_id_ >= 0) throw invalid("it has two unknown pieces");
      unk_id_ = i;
    }
    if (p.type == PieceType::Byte) {
      if (!model_.byte_fallback)
        throw invalid("byte piece '" + p.text + "' is found although byte_fallback is false");
      const int b = piece_to_byte(p.text);
      if (b < 0) throw invalid("byte piece '" + p.text + "' is not of the form <0xNN>");
      byte_found[size_t(b)] = true;
    }
  }
  if (unk_id_ < 0) throw invalid("it has no unknown piece");
  if (model_.byte_fallback &&
      std::find(byte_found.begin(), byte_found.end(), false) != byte_found.end())
    throw invalid("byte_fallback is true but the 256 byte pieces <0x00>..<0xFF> are not all there");
  // Reserved pieces take precedence in PieceToId, as in the library.
  normal_ids_ = ids_;
  for (auto& [piece, id] : reserved) ids_[piece] = id;
}

int32_t Processor::child(int32_t node, uint8_t byte) const {
  const auto& children = trie_[size_t(node)].children;
  const auto it = std::lower_bound(children.begin(), children.end(), byte,
                                   [](const auto& c, uint8_t b) { return c.first < b; });
  return it != children.end() && it->first == byte ? it->second : -1;
}

void Processor::insert(std::string_view piece, int32_t id) {
  int32_t node = 0;
  for (char ch : piece) {
    const auto byte = static_cast<uint8_t>(ch);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(trie_.size());
      auto& children = trie_[size_t(node)].children;
      const auto it = std::lower_bound(children.begin(), children.end(), byte,
                                       [](const auto& c, uint8_t b) { return c.first < b; });
      children.insert(it, {byte, next});
      trie_.emplace_back();
    }
    node = next;
  }
  trie_[size_t(node)].id = id;
}

int32_t Processor::piece_to_id(std::string_view piece) const {
  const auto it = ids_.find(std::string(piece));
  return it == ids_.end() ? unk_id_ : it->second;
}

std::vector<std::pair<std::string_view, int32_t>> Processor::viterbi(
    std::string_view normalized) const {
  // Model::EncodeOptimized. The best path ending at each byte offset; pieces starting at each
  // character found by walking the trie. A user-defined piece scores length * max_score - 0.1
  // (in double, as the library's `auto` makes it), an unknown character min_score - 10.
  struct Best {
    int32_t id = -1;
    float score = 0;
    int64_t starts_at = -1;
  };
  const size_t size = normalized.size();
  std::vector<Best> best(size + 1);
  const float unk_score = min_score_ - kUnkPenalty;
  size_t starts_at = 0;
  while (starts_at < size) {
    const float till_here = best[starts_at].score;
    bool has_single_node = false;
    const size_t mblen =
        std::min(one_char_len(static_cast<uint8_t>(normalized[starts_at])), size - starts_at);
    int32_t node = 0;
    for (size_t key_pos = starts_at; key_pos < size;) {
      node = child(node, static_cast<uint8_t>(normalized[key_pos]));
      if (node < 0) break;
      ++key_pos;
      const int32_t id = trie_[size_t(node)].id;
      if (id < 0) continue;
      const Piece& piece = model_.pieces[size_t(id)];
      if (piece.type == PieceType::Unused) continue;
      const size_t length = key_pos - starts_at;
      const double score = piece.type == PieceType::UserDefined
                               ? static_cast<double>(static_cast<float>(length) * max_score_) - 0.1
                               : static_cast<double>(piece.score);
      const double candidate = score + static_cast<double>(till_here);
      Best& target = best[key_pos];
      if (target.starts_at == -1 || candidate > static_cast<double>(target.score)) {
        target = {id, static_cast<float>(candidate), static_cast<int64_t>(starts_at)};
      }
      if (length == mblen) has_single_node = true;
    }
    if (!has_single_node) {
      Best& target = best[starts_at + mblen];
      const float candidate = unk_score + till_here;
      if (target.starts_at == -1 || candidate > target.score)
        target = {unk_id_, candidate, static_cast<int64_t>(starts_at)};
    }
    starts_at += mblen;
  }
  std::vector<std::pair<std::string_view, int32_t>> out;
  for (size_t ends_at = size; ends_at > 0;) {
    const Best& b = best[ends_at];
    const auto begin = static_cast<size_t>(b.starts_at);
    out.emplace_back(normalized.substr(begin, ends_at - begin), b.id);
    ends_at = begin;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string_view, int32_t>> Processor::bpe(
    std::string_view normalized) const {
  // bpe::Model::SampleEncode without dropout. Characters (a user-defined piece is one frozen
  // symbol) are merged pair by pair, the pair whose merged string is the best-scoring piece first
  // (the leftmost among equal scores); an UNUSED piece merges but is split back into the two
  // symbols it was made of.
  struct Symbol {
    int64_t prev, next;
    bool freeze;
    std::string_view piece;
  };
  struct Pair {
    int64_t left, right;
    float score;
    size_t size;
  };
  const auto worse = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
  std::vector<Symbol> symbols;
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;
  auto add_pair = [&](int64_t left, int64_t right) {
    if (left == -1 || right == -1 || symbols[size_t(left)].freeze || symbols[size_t(right)].freeze)
      return;
    const std::string_view piece(
        symbols[size_t(left)].piece.data(),
        symbols[size_t(left)].piece.size() + symbols[size_t(right)].piece.size());
    const auto it = normal_ids_.find(std::string(piece));
    if (it == normal_ids_.end()) return;
    const Piece& p = model_.pieces[size_t(it->second)];
    agenda.push({left, right, p.score, piece.size()});
    if (p.type == PieceType::Unused)
      rev_merge[piece] = {symbols[size_t(left)].piece, symbols[size_t(right)].piece};
  };
  for (std::string_view rest = normalized; !rest.empty();) {
    size_t n = user_defined_prefix(rest);
    const bool freeze = n > 0;
    if (!freeze) n = std::min(one_char_len(static_cast<uint8_t>(rest[0])), rest.size());
    const auto index = static_cast<int64_t>(symbols.size());
    symbols.push_back({index - 1, rest.size() == n ? -1 : index + 1, freeze, rest.substr(0, n)});
    rest.remove_prefix(n);
  }
  for (size_t i = 1; i < symbols.size(); ++i) add_pair(int64_t(i) - 1, int64_t(i));
  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[size_t(top.left)];
    Symbol& right = symbols[size_t(top.right)];
    if (left.piece.empty() || right.piece.empty() ||
        left.piece.size() + right.piece.size() != top.size)
      continue;  // a stale pair: one side has been merged since
    left.piece = std::string_view(left.piece.data(), left.piece.size() + right.piece.size());
    left.next = right.next;
    if (right.next >= 0) symbols[size_t(right.next)].prev = top.left;
    right.piece = {};
    add_pair(left.prev, top.left);
    add_pair(top.left, left.next);
  }
  std::vector<std::pair<std::string_view, int32_t>> out;
  const auto resegment = [&](const auto& self, std::string_view w) -> void {
    const int32_t id = piece_to_id(w);
    const auto it = rev_merge.find(w);
    if (model_.pieces[size_t(id)].type != PieceType::Unused || it == rev_merge.end()) {
      out.emplace_back(w, id);
      return;
    }
    self(self, it->second.first);
    self(self, it->second.second);
  };
  for (int64_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[size_t(i)].next)
    resegment(resegment, symbols[size_t(i)].piece);
  return out;
}

std::vector<EncodedPiece> Processor::encode(std::string_view input) const {
  const NormalizedText norm = normalize(input);
  std::vector<EncodedPiece> out;
  size_t consumed = 0;
  bool prev_unk = false;
  const auto segments = model_.model_type == ModelType::Bpe ? bpe(norm.text) : viterbi(norm.text);
  for (const auto& [w, id] : segments) {
    const bool unk = id == unk_id_;
    const size_t begin = norm.to_input[consumed], end = norm.to_input[consumed + w.size()];
    if (unk && model_.byte_fallback) {
      // Each byte of the unknown character becomes its <0xNN> piece; the last one holds the
      // character's input bytes, the others none.
      for (size_t i = 0; i < w.size(); ++i) {
        std::string piece = byte_piece(static_cast<uint8_t>(w[i]));
        const int32_t byte_id = piece_to_id(piece);
        const bool last = i + 1 == w.size();
        out.push_back({byte_id, std::move(piece), begin, last ? end : begin});
      }
    } else if (unk && prev_unk) {
      // A run of unknown pieces is merged into one, still unknown.
      out.back().piece += w;
      out.back().end = end;
    } else {
      out.push_back({id, std::string(w), begin, end});
    }
    consumed += w.size();
    prev_unk = unk;
  }
  return out;
}

std::string Processor::decode(const std::vector<int64_t>& ids) const {
  for (int64_t id : ids)
    if (id < 0 || id >= size())
      throw InputError("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                       std::to_string(size() - 1) + ")");
  std::string text;
  // A run of <0xNN> pieces: each well-formed character as it is, each bad byte as U+FFFD.
  auto flush_bytes = [&](std::string& bytes) {
    for (size_t pos = 0; pos < bytes.size();) {
      const size_t n = utf8_char_length(std::string_view(bytes).substr(pos));
      text += n ? bytes.substr(pos, n) : std::string("\xEF\xBF\xBD");
      pos += n ? n : 1;
    }
    bytes.clear();
  };
  std::string bytes;
  bool is_bos_ws = true, bos_ws_seen = false;
  for (int64_t id64 : ids) {
    const auto id = static_cast<int32_t>(id64);
    const Piece& p = model_.pieces[size_t(id)];
    if (p.type == PieceType::Byte) {
      bytes += static_cast<char>(piece_to_byte(p.text));
      continue;
    }
    flush_bytes(bytes);
    if (bos_ws_seen || !text.empty()) is_bos_ws = false;
    bos_ws_seen = false;
    if (p.type == PieceType::Control) continue;
    if (p.type == PieceType::Unknown) {
      text += model_.unk_surface;
      continue;
    }
    std::string_view piece = p.text;
    if (is_bos_ws && (model_.add_dummy_prefix || model_.remove_extra_whitespaces)) {
      if (piece.starts_with(kSpaceSymbol)) {
        piece.remove_prefix(kSpaceSymbol.size());
        bos_ws_seen = !model_.remove_extra_whitespaces;
      }
    }
    for (size_t pos = 0; pos < piece.size();) {
      if (piece.substr(pos).starts_with(kSpaceSymbol)) {
        text += ' ';
        pos += kSpaceSymbol.size();
      } else {
        text += piece[pos++];
      }
    }
  }
  flush_bytes(bytes);
  return text;
}

}  // namespace atman::tokenizers::spiece
