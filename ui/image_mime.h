// Images that arrive as MIME data (drag and drop, the clipboard): a local file to open, or pixels
// to decode. Widget-free, so the window only decides what to do with them.
#pragma once

#include <QString>

#include <cstdint>
#include <variant>
#include <vector>

class QMimeData;

namespace atman::ui {

// Nothing usable, a local file's path, or the pixels encoded as PNG.
using MimeImage = std::variant<std::monostate, QString, std::vector<uint8_t>>;

enum class MimePreference { Pixels, Files };
// Both may be offered at once (a file manager's copy): `prefer` says which one wins.
MimeImage imageFromMime(const QMimeData* mime, MimePreference prefer);
// Whether a drag is worth accepting: pixels, or a local file that looks like an image.
bool offersImage(const QMimeData* mime);

}  // namespace atman::ui
