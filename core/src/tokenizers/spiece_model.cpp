#include "tokenizers/spiece_model.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "atman/error.h"

namespace atman::tokenizers::spiece {
namespace {

constexpr uintmax_t kMaxFileBytes = 256u << 20;
constexpr size_t kMaxPieces = 16u << 20;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One message's bytes, read field by field. Every read checks the bytes left, so a truncated or
// lying file ends in a ModelError that says where, never in a read past the buffer.
class WireReader {
 public:
  WireReader(std::string_view bytes, const std::string& where, const char* message)
      : bytes_(bytes), where_(where), message_(message) {}

  bool done() const { return pos_ >= bytes_.size(); }

  // The next field's number and wire type.
  std::pair<uint32_t, uint32_t> tag() {
    const uint64_t key = varint();
    const uint64_t field = key >> 3;
    if (field == 0 || field > 0x1FFFFFFF) fail("a field number of " + std::to_string(field));
    return {static_cast<uint32_t>(field), static_cast<uint32_t>(key & 7)};
  }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) fail("a varint cut off by the end of the data");
      const auto byte = static_cast<uint8_t>(bytes_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    fail("a varint longer than 10 bytes");
  }

  std::string_view length_delimited() {
    const uint64_t length = varint();
    if (length > bytes_.size() - pos_)
      fail("a length of " + std::to_string(length) + " bytes where only " +
           std::to_string(bytes_.size() - pos_) + " are left");
    const std::string_view out = bytes_.substr(pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return out;
  }

  float fixed32_float() {
    if (bytes_.size() - pos_ < 4) fail("a 4-byte value cut off by the end of the data");
    uint32_t bits = 0;
    for (int i = 3; i >= 0; --i) bits = (bits << 8) | static_cast<uint8_t>(bytes_[pos_ + i]);
    pos_ += 4;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }

  // Skips a field this reader does not keep, as protobuf skips unknown fields.
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint:
        (void)varint();
        return;
      case kFixed64:
        if (bytes_.size() - pos_ < 8) fail("an 8-byte value cut off by the end of the data");
        pos_ += 8;
        return;
      case kLengthDelimited:
        (void)length_delimited();
        return;
      case kFixed32:
        if (bytes_.size() - pos_ < 4) fail("a 4-byte value cut off by the end of the data");
        pos_ += 4;
        return;
      default:
        fail("wire type " + std::to_string(wire_type) +
             " (groups and unknown wire types are not valid in this file)");
    }
  }

  // The value of a field that must have `expected` wire type.
  void expect(uint32_t field, uint32_t wire_type, uint32_t expected) const {
    if (wire_type != expected)
      fail("field " + std::to_string(field) + " with wire type " + std::to_string(wire_type) +
           " where the format has wire type " + std::to_string(expected));
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError(where_ + " is not a valid SentencePiece model: " + message_ + " has " + what +
                     " at byte " + std::to_string(pos_) +
                     " of its data. Download the file again or use the model's tokenizer.json.");
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  const std::string& where_;
  const char* message_;
};

bool read_bool(WireReader& r, uint32_t field, uint32_t wire_type) {
  r.expect(field, wire_type, kVarint);
  return r.varint() != 0;
}

// int32 fields are varints of the sign-extended 64-bit value.
int32_t read_int32(WireReader& r, uint32_t field, uint32_t wire_type) {
  r.expect(field, wire_type, kVarint);
  return static_cast<int32_t>(static_cast<uint32_t>(r.varint()));
}

std::string read_string(WireReader& r, uint32_t field, uint32_t wire_type) {
  r.expect(field, wire_type, kLengthDelimited);
  return std::string(r.length_delimited());
}

Piece parse_piece(std::string_view bytes, const std::string& where) {
  WireReader r(bytes, where, "a piece");
  Piece piece;
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    if (field == 1) {
      piece.text = read_string(r, field, wire);
    } else if (field == 2) {
      r.expect(field, wire, kFixed32);
      piece.score = r.fixed32_float();
    } else if (field == 3) {
      const int32_t type = read_int32(r, field, wire);
      if (type < 1 || type > 6) r.fail("piece type " + std::to_string(type));
      piece.type = static_cast<PieceType>(type);
    } else {
      r.skip(wire);
    }
  }
  return piece;
}

void parse_trainer_spec(std::string_view bytes, ModelProto& m, const std::string& where) {
  WireReader r(bytes, where, "trainer_spec");
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    switch (field) {
      case 3: {
        const int32_t type = read_int32(r, field, wire);
        if (type < 1 || type > 4) r.fail("model_type " + std::to_string(type));
        m.model_type = static_cast<ModelType>(type);
        break;
      }
      case 24:
        m.treat_whitespace_as_suffix = read_bool(r, field, wire);
        break;
      case 35:
        m.byte_fallback = read_bool(r, field, wire);
        break;
      case 40:
        m.unk_id = read_int32(r, field, wire);
        break;
      case 41:
        m.bos_id = read_int32(r, field, wire);
        break;
      case 42:
        m.eos_id = read_int32(r, field, wire);
        break;
      case 43:
        m.pad_id = read_int32(r, field, wire);
        break;
      case 44:
        m.unk_surface = read_string(r, field, wire);
        break;
      default:
        r.skip(wire);
    }
  }
}

void parse_normalizer_spec(std::string_view bytes, ModelProto& m, const std::string& where) {
  WireReader r(bytes, where, "normalizer_spec");
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    switch (field) {
      case 1:
        m.normalizer_name = read_string(r, field, wire);
        break;
      case 2:
        m.precompiled_charsmap = read_string(r, field, wire);
        break;
      case 3:
        m.add_dummy_prefix = read_bool(r, field, wire);
        break;
      case 4:
        m.remove_extra_whitespaces = read_bool(r, field, wire);
        break;
      case 5:
        m.escape_whitespaces = read_bool(r, field, wire);
        break;
      default:
        r.skip(wire);
    }
  }
}

}  // namespace

ModelProto parse_model_proto(std::string_view bytes, const std::string& where) {
  WireReader r(bytes, where, "the ModelProto");
  ModelProto m;
  while (!r.done()) {
    const auto [field, wire] = r.tag();
    if (field == 1) {
      r.expect(field, wire, kLengthDelimited);
      if (m.pieces.size() >= kMaxPieces)
        r.fail("more than " + std::to_string(kMaxPieces) + " pieces");
      m.pieces.push_back(parse_piece(r.length_delimited(), where));
    } else if (field == 2) {
      // A message field that occurs twice is merged, as protobuf merges it.
      r.expect(field, wire, kLengthDelimited);
      parse_trainer_spec(r.length_delimited(), m, where);
    } else if (field == 3) {
      r.expect(field, wire, kLengthDelimited);
      parse_normalizer_spec(r.length_delimited(), m, where);
    } else {
      r.skip(wire);  // self_test_data, denormalizer_spec (not applied: see docs/tokenizers.md)
    }
  }
  if (m.pieces.empty())
    throw ModelError(where +
                     " is not a valid SentencePiece model: it holds no pieces (is it a "
                     "SentencePiece .model file?).");
  return m;
}

ModelProto read_model_proto(const std::filesystem::path& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw ModelError("Cannot read '" + path.string() + "': " + ec.message() + ".");
  if (size > kMaxFileBytes)
    throw ModelError("'" + path.string() + "' has " + std::to_string(size) +
                     " bytes; a SentencePiece model is at most 256 MiB.");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("Cannot read '" + path.string() + "'.");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Appends only: `"'" + path.string()` trips a false -Wrestrict in GCC 12.
  std::string where = "'";
  where += path.string();
  where += '\'';
  return parse_model_proto(bytes, where);
}

}  // namespace atman::tokenizers::spiece
