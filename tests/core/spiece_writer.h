// Writes SentencePiece model files (ModelProto in protobuf wire format) for tests, and precompiled
// charsmaps as Darts-clone double arrays, so tests need neither libprotobuf nor a trained model.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace atman::test {

inline std::string pb_varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
inline std::string pb_key(uint32_t field, uint32_t wire) {
  return pb_varint((field << 3) | wire);
}
inline std::string pb_bytes(uint32_t field, const std::string& bytes) {
  return pb_key(field, 2) + pb_varint(bytes.size()) + bytes;
}
inline std::string pb_int(uint32_t field, int64_t v) {
  return pb_key(field, 0) + pb_varint(static_cast<uint64_t>(v));
}
inline std::string pb_float(uint32_t field, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  std::string out = pb_key(field, 5);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xFF);
  return out;
}

// ModelProto.SentencePiece.Type
enum SpType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct SpPiece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

struct SpModel {
  std::vector<SpPiece> pieces;
  int model_type = 1;  // UNIGRAM
  bool byte_fallback = false;
  int unk_id = 2, bos_id = -1, eos_id = 1, pad_id = 0;
  std::string normalizer_name = "identity";
  std::string charsmap;  // empty: no normalization rules
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

inline std::string write_model_proto(const SpModel& m) {
  std::string out;
  for (const auto& p : m.pieces) {
    std::string piece = pb_bytes(1, p.text) + pb_float(2, p.score);
    if (p.type != kNormal) piece += pb_int(3, p.type);
    out += pb_bytes(1, piece);
  }
  std::string trainer = pb_int(3, m.model_type) + pb_int(4, int64_t(m.pieces.size())) +
                        pb_int(35, m.byte_fallback) + pb_int(40, m.unk_id) + pb_int(41, m.bos_id) +
                        pb_int(42, m.eos_id) + pb_int(43, m.pad_id);
  out += pb_bytes(2, trainer);
  std::string normalizer = pb_bytes(1, m.normalizer_name);
  if (!m.charsmap.empty()) normalizer += pb_bytes(2, m.charsmap);
  normalizer += pb_int(3, m.add_dummy_prefix) + pb_int(4, m.remove_extra_whitespaces) +
                pb_int(5, m.escape_whitespaces);
  out += pb_bytes(3, normalizer);
  return out;
}

// A precompiled charsmap (Normalizer::EncodePrecompiledCharsMap) for `rules` (UTF-8 source ->
// replacement): <uint32 trie bytes><Darts-clone units><NUL-terminated replacements>. Each node
// with children or a value gets its own 256-unit block, so unit ^ offset ^ byte lands in it; a
// key's value sits at index 0 of its node's block with the MSB set, as Darts-clone stores leaves.
inline std::string write_charsmap(const std::map<std::string, std::string>& rules) {
  std::vector<uint32_t> units(256, 0);
  std::string normalized;
  auto build = [&](auto&& self, uint32_t index, const std::string& prefix) -> void {
    std::set<uint8_t> next;
    const std::string* value = nullptr;
    for (const auto& [key, v] : rules) {
      if (key == prefix)
        value = &v;
      else if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0)
        next.insert(static_cast<uint8_t>(key[prefix.size()]));
    }
    if (next.empty() && !value) return;
    const auto block = static_cast<uint32_t>(units.size());
    units.resize(units.size() + 256, 0);
    units[index] |= (index ^ block) << 10;
    if (value) {
      units[index] |= 1u << 8;
      units[block] = (1u << 31) | static_cast<uint32_t>(normalized.size());
      normalized += *value;
      normalized += '\0';
    }
    for (uint8_t b : next) {
      units[block ^ b] |= b;
      self(self, block ^ b, prefix + static_cast<char>(b));
    }
  };
  build(build, 0, "");
  std::string out;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  put32(static_cast<uint32_t>(units.size() * 4));
  for (uint32_t u : units) put32(u);
  return out + normalized;
}

}  // namespace atman::test
