#include "conversions.h"

#include <QBuffer>
#include <QByteArray>

#include <cstring>

namespace atman::ui {

QImage toQImage(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0) return {};
  QImage out(image.width, image.height, QImage::Format_RGB888);
  const size_t rowBytes = static_cast<size_t>(image.width) * 3;
  for (int y = 0; y < image.height; ++y)
    std::memcpy(out.scanLine(y), image.pixels.data() + y * rowBytes, rowBytes);
  return out;
}

RgbImage toRgbImage(const QImage& image) {
  RgbImage out;
  if (image.isNull()) return out;
  // Straight alpha is dropped, not blended: the colour values stay what the file holds.
  const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
  out.width = rgb.width();
  out.height = rgb.height();
  const size_t rowBytes = static_cast<size_t>(out.width) * 3;
  out.pixels.resize(rowBytes * out.height);
  for (int y = 0; y < out.height; ++y)
    std::memcpy(out.pixels.data() + y * rowBytes, rgb.constScanLine(y), rowBytes);
  return out;
}

std::vector<uint8_t> encodePng(const QImage& image) {
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  image.save(&buffer, "PNG");
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

}  // namespace atman::ui
