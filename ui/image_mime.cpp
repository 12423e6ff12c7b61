#include "image_mime.h"

#include <QFileInfo>
#include <QImage>
#include <QMimeData>
#include <QStringList>
#include <QUrl>

#include "conversions.h"

namespace atman::ui {
namespace {

bool isImageFile(const QString& path) {
  static const QStringList suffixes = {"png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"};
  return suffixes.contains(QFileInfo(path).suffix().toLower());
}

MimeImage pixels(const QMimeData* mime) {
  if (!mime->hasImage()) return {};
  return encodePng(qvariant_cast<QImage>(mime->imageData()));
}

MimeImage file(const QMimeData* mime) {
  for (const QUrl& url : mime->urls())
    if (url.isLocalFile()) return url.toLocalFile();
  return {};
}

}  // namespace

MimeImage imageFromMime(const QMimeData* mime, MimePreference prefer) {
  if (!mime) return {};
  MimeImage first = prefer == MimePreference::Pixels ? pixels(mime) : file(mime);
  if (!std::holds_alternative<std::monostate>(first)) return first;
  return prefer == MimePreference::Pixels ? file(mime) : pixels(mime);
}

bool offersImage(const QMimeData* mime) {
  bool usable = mime->hasImage();
  for (const QUrl& url : mime->urls())
    usable |= url.isLocalFile() && isImageFile(url.toLocalFile());
  return usable;
}

}  // namespace atman::ui
