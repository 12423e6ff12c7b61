// load_image / decode_image: bytes → checked header → cv::imdecode → 8-bit RGB.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "atman/error.h"
#include "atman/image.h"
#include "image/image_header.h"

namespace atman {
namespace {

constexpr const char* kSupported = "supported: JPEG, PNG, BMP, WebP, TIFF";

std::string pixels_text(uint64_t width, uint64_t height) {
  return std::to_string(width) + "\u00D7" + std::to_string(height) + " pixels";
}

void check_size(uint64_t width, uint64_t height, const std::string& origin) {
  if (width == 0 || height == 0)
    throw InputError("image " + origin + " is " + pixels_text(width, height) +
                     ": it has no pixels");
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels)
    throw InputError("image " + origin + " is " + pixels_text(width, height) + "; the limit is " +
                     std::to_string(kMaxImageSide) + " pixels on a side and " +
                     std::to_string(kMaxImagePixels / 1'000'000) + " megapixels");
}

// Any depth/channel layout OpenCV hands back → contiguous 8-bit RGB.
RgbImage to_rgb8(const cv::Mat& decoded, const std::string& origin) {
  cv::Mat depth8;
  switch (decoded.depth()) {
    case CV_8U:
      depth8 = decoded;
      break;
    // 65535 → 255 exactly; rounding, not the truncating >> 8 of libpng's strip_16.
    case CV_16U:
      decoded.convertTo(depth8, CV_8U, 1.0 / 257.0);
      break;
    // Float TIFFs are conventionally 0..1; out-of-range values saturate.
    case CV_32F:
    case CV_64F:
      decoded.convertTo(depth8, CV_8U, 255.0);
      break;
    default:
      throw InputError("image " + origin +
                       " has a sample type AtMan cannot use (only 8-bit, 16-bit and float)");
  }
  cv::Mat rgb;
  switch (depth8.channels()) {
    case 1:
      cv::cvtColor(depth8, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(depth8, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(depth8, rgb, cv::COLOR_BGRA2RGB);
      break;  // alpha dropped, like PIL's convert("RGB")
    default:
      throw InputError("image " + origin + " has " + std::to_string(depth8.channels()) +
                       " channels; AtMan reads gray, RGB and RGBA");
  }
  RgbImage out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.pixels.resize(static_cast<size_t>(rgb.cols) * rgb.rows * 3);
  cv::Mat view(rgb.rows, rgb.cols, CV_8UC3, out.pixels.data());
  rgb.copyTo(view);  // view wraps out.pixels, so copyTo writes there (same size and type)
  return out;
}

}  // namespace

RgbImage decode_image(const std::vector<uint8_t>& encoded_bytes, const std::string& origin) {
  if (encoded_bytes.empty()) throw InputError("image " + origin + " is empty (0 bytes)");
  if (encoded_bytes.size() > kMaxImageFileBytes)
    throw InputError("image " + origin + " is " + std::to_string(encoded_bytes.size() >> 20) +
                     " MiB; the limit is " + std::to_string(kMaxImageFileBytes >> 20) + " MiB");

  // Only formats whose header we can size-check reach OpenCV: its other decoders (GDAL, EXR, ...)
  // would bypass the limits, and are no photo formats anyone feeds a vision model.
  const auto header = detail::read_image_header(encoded_bytes, origin);
  if (!header) throw InputError(origin + " is not an image OpenCV can read (" + kSupported + ")");
  check_size(header->width, header->height, origin);

  // ANYDEPTH keeps 16-bit samples for our own rounding; ANYCOLOR keeps gray as one channel and
  // turns alpha and CMYK into 3-channel BGR. Unlike IMREAD_UNCHANGED, these flags make OpenCV apply
  // the EXIF orientation.
  const cv::Mat buffer(1, static_cast<int>(encoded_bytes.size()), CV_8U,
                       const_cast<uint8_t*>(encoded_bytes.data()));
  cv::Mat decoded;
  std::string reason = "the file is damaged or truncated";
  try {
    decoded = cv::imdecode(buffer, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
  } catch (const cv::Exception& e) {
    reason = e.err.empty() ? e.what() : e.err;
  }
  if (decoded.empty())
    throw InputError(origin + " looks like a " + detail::format_name(header->format) + " image (" +
                     pixels_text(header->width, header->height) +
                     ") but OpenCV could not decode it: " + reason);
  check_size(static_cast<uint64_t>(decoded.cols), static_cast<uint64_t>(decoded.rows), origin);
  return to_rgb8(decoded, origin);
}

RgbImage load_image(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found)
    throw InputError("cannot read image " + name + ": no such file");
  if (ec) throw InputError("cannot read image " + name + ": " + ec.message());
  if (std::filesystem::is_directory(status))
    throw InputError("cannot read image " + name + ": it is a directory");
  // Ask the size first so a huge file is refused before we read any of it.
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxImageFileBytes)
    throw InputError("image " + name + " is " + std::to_string(size >> 20) + " MiB; the limit is " +
                     std::to_string(kMaxImageFileBytes >> 20) + " MiB");

  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read image " + name + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  if (!ec) bytes.reserve(size);
  // Read in chunks rather than trusting file_size: pipes and /proc files report 0.
  char chunk[1 << 16];
  while (in) {
    in.read(chunk, sizeof chunk);
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
    if (bytes.size() > kMaxImageFileBytes) break;  // decode_image reports it
  }
  if (in.bad()) throw InputError("cannot read image " + name + ": " + std::strerror(errno));
  return decode_image(bytes, name);
}

}  // namespace atman
