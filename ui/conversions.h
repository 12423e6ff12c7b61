// Conversions between the core's plain value types (std::string, RgbImage) and Qt's. The core
// speaks UTF-8 and code points; Qt speaks UTF-16, so every crossing goes through here.
#pragma once

#include <QImage>
#include <QString>

#include <memory>
#include <string>

#include "atman/image.h"

namespace atman::ui {

inline QString toQString(const std::string& text) {
  return QString::fromStdString(text);
}
inline std::string toStd(const QString& text) {
  return text.toStdString();
}

// A deep copy: the returned QImage owns its pixels, so the RgbImage may go away.
QImage toQImage(const RgbImage& image);
// Any QImage (clipboard, drag-drop) to the core's 8-bit RGB; alpha is dropped, as the core's own
// loader does (PIL's convert("RGB")), so a pasted picture explains like the same file opened.
RgbImage toRgbImage(const QImage& image);
// PNG bytes of a QImage, for atman::decode_image (so pasted pixels take the same path as files).
std::vector<uint8_t> encodePng(const QImage& image);

}  // namespace atman::ui
