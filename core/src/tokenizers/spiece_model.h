// SentencePiece model files (spiece.model, tokenizer.model): the `ModelProto` protobuf read by hand
// from its wire format, so the core needs no libprotobuf. Only the fields encoding and decoding
// use are kept; every other field is skipped as protobuf skips unknown fields.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace atman::tokenizers::spiece {

// ModelProto.SentencePiece.Type, numbered as in sentencepiece_model.proto.
enum class PieceType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

// TrainerSpec.ModelType.
enum class ModelType : int32_t { Unigram = 1, Bpe = 2, Word = 3, Char = 4 };

struct Piece {
  std::string text;
  float score = 0.0f;
  PieceType type = PieceType::Normal;
};

// The proto2 defaults of sentencepiece_model.proto where a field is absent.
struct ModelProto {
  std::vector<Piece> pieces;
  // TrainerSpec
  ModelType model_type = ModelType::Unigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
  // NormalizerSpec
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses a serialized ModelProto. Throws ModelError naming `where` for anything that is not a
// well-formed message (truncated varints or fields, lengths past the end, group or unknown wire
// types, enum values outside the proto's) or holds more than 16 M pieces.
ModelProto parse_model_proto(std::string_view bytes, const std::string& where);

// Reads and parses a model file (at most 256 MiB). Throws ModelError naming the file.
ModelProto read_model_proto(const std::filesystem::path& path);

}  // namespace atman::tokenizers::spiece
