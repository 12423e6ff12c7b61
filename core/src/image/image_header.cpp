#include "image/image_header.h"

#include <cstdlib>
#include <cstring>

#include "atman/error.h"

namespace atman::detail {
namespace {

// Bounds-checked big/little-endian reads: every offset comes from the (untrusted) file.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, bool little_endian)
      : bytes_(bytes), little_endian_(little_endian) {}

  bool has(uint64_t offset, uint64_t count) const {
    return offset <= bytes_.size() && count <= bytes_.size() - offset;
  }
  uint64_t read(uint64_t offset, int count) const {
    uint64_t value = 0;
    for (int i = 0; i < count; ++i) {
      const uint64_t byte = bytes_[offset + (little_endian_ ? count - 1 - i : i)];
      value = (value << 8) | byte;
    }
    return value;
  }

 private:
  std::span<const uint8_t> bytes_;
  bool little_endian_;
};

bool starts_with(std::span<const uint8_t> bytes, const char* magic, size_t count, size_t at = 0) {
  return bytes.size() >= at + count && std::memcmp(bytes.data() + at, magic, count) == 0;
}

[[noreturn]] void damaged(const std::string& origin, ImageFormat format, const std::string& what) {
  throw InputError(origin + " looks like a " + format_name(format) + " image but " + what +
                   " (is the file truncated or damaged?)");
}

ImageHeader read_png(std::span<const uint8_t> bytes, const std::string& origin) {
  // 8-byte signature, then the IHDR chunk must come first: length, "IHDR", width, height.
  ByteReader r(bytes, false);
  if (!r.has(8, 16) || !starts_with(bytes, "IHDR", 4, 12))
    damaged(origin, ImageFormat::png, "has no IHDR header");
  return {ImageFormat::png, r.read(16, 4), r.read(20, 4)};
}

ImageHeader read_jpeg(std::span<const uint8_t> bytes, const std::string& origin) {
  // Walk the marker segments up to the first start-of-frame; every frame type (baseline,
  // progressive, lossless, arithmetic) stores precision, height, width at the same place.
  ByteReader r(bytes, false);
  uint64_t pos = 2;
  while (true) {
    while (r.has(pos, 1) && bytes[pos] != 0xFF) ++pos;  // tolerate garbage between segments
    while (r.has(pos, 1) && bytes[pos] == 0xFF) ++pos;  // fill bytes
    if (!r.has(pos, 1)) damaged(origin, ImageFormat::jpeg, "ends before its frame header");
    const uint8_t marker = bytes[pos++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (marker == 0xD9 || marker == 0xDA) damaged(origin, ImageFormat::jpeg, "has no frame header");
    if (!r.has(pos, 2)) damaged(origin, ImageFormat::jpeg, "ends inside a marker segment");
    const uint64_t length = r.read(pos, 2);
    if (length < 2) damaged(origin, ImageFormat::jpeg, "has a marker segment of length < 2");
    const bool is_frame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_frame) {
      if (length < 8 || !r.has(pos, 7))
        damaged(origin, ImageFormat::jpeg, "has a short frame header");
      return {ImageFormat::jpeg, r.read(pos + 5, 2), r.read(pos + 3, 2)};
    }
    pos += length;
  }
}

ImageHeader read_bmp(std::span<const uint8_t> bytes, const std::string& origin) {
  ByteReader r(bytes, true);
  if (!r.has(14, 4)) damaged(origin, ImageFormat::bmp, "has no info header");
  const uint64_t info_size = r.read(14, 4);
  if (info_size == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    if (!r.has(18, 4)) damaged(origin, ImageFormat::bmp, "has a short info header");
    return {ImageFormat::bmp, r.read(18, 2), r.read(20, 2)};
  }
  if (info_size < 40 || !r.has(18, 8)) damaged(origin, ImageFormat::bmp, "has a short info header");
  // Signed 32-bit; a negative height means top-down rows.
  const auto width = static_cast<int32_t>(static_cast<uint32_t>(r.read(18, 4)));
  const auto height = static_cast<int32_t>(static_cast<uint32_t>(r.read(22, 4)));
  return {ImageFormat::bmp, static_cast<uint64_t>(std::abs(int64_t{width})),
          static_cast<uint64_t>(std::abs(int64_t{height}))};
}

ImageHeader read_webp(std::span<const uint8_t> bytes, const std::string& origin) {
  // "RIFF" size "WEBP", then the first chunk decides the layout (lossy, lossless, extended).
  ByteReader r(bytes, true);
  if (!r.has(12, 8)) damaged(origin, ImageFormat::webp, "has no image chunk");
  const uint64_t data = 20;
  if (starts_with(bytes, "VP8 ", 4, 12)) {
    // 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
    if (!r.has(data, 10) || bytes[data + 3] != 0x9D || bytes[data + 4] != 0x01 ||
        bytes[data + 5] != 0x2A)
      damaged(origin, ImageFormat::webp, "has a damaged VP8 frame header");
    return {ImageFormat::webp, r.read(data + 6, 2) & 0x3FFF, r.read(data + 8, 2) & 0x3FFF};
  }
  if (starts_with(bytes, "VP8L", 4, 12)) {
    // Signature 0x2F, then 14 bits width-1 and 14 bits height-1, little-endian bit order.
    if (!r.has(data, 5) || bytes[data] != 0x2F)
      damaged(origin, ImageFormat::webp, "has a damaged VP8L header");
    const uint64_t bits = r.read(data + 1, 4);
    return {ImageFormat::webp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (starts_with(bytes, "VP8X", 4, 12)) {
    // Flags and reserved (4 bytes), then 24-bit canvas width-1 and height-1.
    if (!r.has(data, 10)) damaged(origin, ImageFormat::webp, "has a short VP8X header");
    return {ImageFormat::webp, r.read(data + 4, 3) + 1, r.read(data + 7, 3) + 1};
  }
  damaged(origin, ImageFormat::webp, "starts with an unknown chunk");
}

ImageHeader read_tiff(std::span<const uint8_t> bytes, const std::string& origin) {
  // Only the first directory: OpenCV decodes the first page and nothing else.
  const bool little = bytes[0] == 'I';
  ByteReader r(bytes, little);
  const bool big_tiff = r.read(2, 2) == 43;
  const int offset_size = big_tiff ? 8 : 4;
  const int count_size = big_tiff ? 8 : 2;
  const int entry_size = big_tiff ? 20 : 12;
  const uint64_t ifd_pointer = big_tiff ? 8 : 4;
  if (!r.has(ifd_pointer, offset_size))
    damaged(origin, ImageFormat::tiff, "has no image directory");
  const uint64_t ifd = r.read(ifd_pointer, offset_size);
  if (!r.has(ifd, count_size))
    damaged(origin, ImageFormat::tiff, "points past its end for its image directory");
  const uint64_t entries = r.read(ifd, count_size);
  uint64_t width = 0, height = 0;
  bool have_width = false, have_height = false;
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t entry = ifd + count_size + i * entry_size;
    if (!r.has(entry, entry_size))
      damaged(origin, ImageFormat::tiff, "has a truncated image directory");
    const uint64_t tag = r.read(entry, 2);
    if (tag != 256 && tag != 257) continue;  // ImageWidth, ImageLength
    const uint64_t type = r.read(entry + 2, 2);
    const uint64_t value_at = entry + 4 + offset_size;  // inline value, left-justified
    uint64_t value = 0;
    if (type == 3)
      value = r.read(value_at, 2);  // SHORT
    else if (type == 4)
      value = r.read(value_at, 4);  // LONG
    else if (type == 16)
      value = r.read(value_at, 8);  // LONG8 (BigTIFF)
    else
      damaged(origin, ImageFormat::tiff, "stores its size with an unexpected field type");
    if (tag == 256) {
      width = value;
      have_width = true;
    } else {
      height = value;
      have_height = true;
    }
  }
  if (!have_width || !have_height)
    damaged(origin, ImageFormat::tiff, "does not say its width and height");
  return {ImageFormat::tiff, width, height};
}

}  // namespace

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::jpeg:
      return "JPEG";
    case ImageFormat::png:
      return "PNG";
    case ImageFormat::bmp:
      return "BMP";
    case ImageFormat::webp:
      return "WebP";
    case ImageFormat::tiff:
      return "TIFF";
  }
  return "?";
}

std::optional<ImageFormat> sniff_format(std::span<const uint8_t> bytes) {
  if (starts_with(bytes, "\xFF\xD8\xFF", 3)) return ImageFormat::jpeg;
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n", 8)) return ImageFormat::png;
  if (starts_with(bytes, "BM", 2)) return ImageFormat::bmp;
  if (starts_with(bytes, "RIFF", 4) && starts_with(bytes, "WEBP", 4, 8)) return ImageFormat::webp;
  if (starts_with(bytes, "II*\0", 4) || starts_with(bytes, "MM\0*", 4) ||
      starts_with(bytes, "II+\0", 4) || starts_with(bytes, "MM\0+", 4))
    return ImageFormat::tiff;
  return std::nullopt;
}

std::optional<ImageHeader> read_image_header(std::span<const uint8_t> bytes,
                                             const std::string& origin) {
  const auto format = sniff_format(bytes);
  if (!format) return std::nullopt;
  switch (*format) {
    case ImageFormat::jpeg:
      return read_jpeg(bytes, origin);
    case ImageFormat::png:
      return read_png(bytes, origin);
    case ImageFormat::bmp:
      return read_bmp(bytes, origin);
    case ImageFormat::webp:
      return read_webp(bytes, origin);
    case ImageFormat::tiff:
      return read_tiff(bytes, origin);
  }
  return std::nullopt;
}

}  // namespace atman::detail
