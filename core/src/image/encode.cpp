// PNG export through OpenCV's encoder (libpng), converting our RGB(A) order to OpenCV's BGR(A).
#include <cerrno>
#include <cstring>
#include <fstream>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "atman/error.h"
#include "atman/image.h"

namespace atman {
namespace {

std::vector<uint8_t> encode(int width, int height, int channels,
                            const std::vector<uint8_t>& pixels) {
  if (width <= 0 || height <= 0 || pixels.size() != static_cast<size_t>(width) * height * channels)
    throw InputError("cannot encode a PNG of " + std::to_string(width) + "x" +
                     std::to_string(height) + " pixels from " + std::to_string(pixels.size()) +
                     " bytes");
  const cv::Mat view(height, width, CV_8UC(channels), const_cast<uint8_t*>(pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(view, bgr, channels == 4 ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGB2BGR);
  std::vector<uint8_t> png;
  if (!cv::imencode(".png", bgr, png)) throw InputError("OpenCV could not encode a PNG");
  return png;
}

void write_file(const std::vector<uint8_t>& bytes, const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError("cannot write PNG " + path.string() + ": " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw InputError("cannot write PNG " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

std::vector<uint8_t> encode_png(const RgbImage& image) {
  return encode(image.width, image.height, 3, image.pixels);
}

std::vector<uint8_t> encode_png(const RgbaImage& image) {
  return encode(image.width, image.height, 4, image.pixels);
}

void save_png(const RgbImage& image, const std::filesystem::path& path) {
  write_file(encode_png(image), path);
}

void save_png(const RgbaImage& image, const std::filesystem::path& path) {
  write_file(encode_png(image), path);
}

}  // namespace atman
