// Reads an image's format and pixel size from its first bytes, without decoding anything. The size
// limits are checked from this before OpenCV sees the data: cv::imdecode allocates the full pixel
// buffer straight from the header, so a 50-byte file claiming 100000×100000 pixels would otherwise
// ask for 30 GB.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace atman::detail {

enum class ImageFormat { jpeg, png, bmp, webp, tiff };

const char* format_name(ImageFormat format);

// The format named by the file's magic bytes, or nullopt when it is none we accept.
std::optional<ImageFormat> sniff_format(std::span<const uint8_t> bytes);

struct ImageHeader {
  ImageFormat format = ImageFormat::png;
  // The stored size, before any EXIF rotation (which only swaps the two).
  uint64_t width = 0;
  uint64_t height = 0;
};

// Format and stored pixel size. nullopt when the magic bytes match no accepted format;
// throws InputError naming `origin` when they match but the header is cut short or inconsistent.
std::optional<ImageHeader> read_image_header(std::span<const uint8_t> bytes,
                                             const std::string& origin);

}  // namespace atman::detail
