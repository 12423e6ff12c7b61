#include "atman/conventions.h"

#include <algorithm>

namespace atman {

std::string resolve_label_alias(const std::string& target, const std::vector<std::string>& labels) {
  if (std::find(labels.begin(), labels.end(), target) != labels.end()) return target;
  const std::string alias = "a photo of a " + target;  // CLIP's usual zero-shot prompt
  if (std::find(labels.begin(), labels.end(), alias) != labels.end()) return alias;
  return target;
}

std::vector<int64_t> patch_region_positions(const std::vector<InputPosition>& layout, int row0,
                                            int row1, int col0, int col1) {
  std::vector<int64_t> out;
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  bool tiles = false;
  for (size_t p = 0; p < layout.size(); ++p) {
    const InputPosition& x = layout[p];
    tiles |= x.is_image && x.view == 1;
    // The base view's grid (anyres tiles have a grid of their own).
    if (x.is_image && x.view == 0 && x.row >= row0 && x.row <= row1 && x.col >= col0 &&
        x.col <= col1) {
      out.push_back(static_cast<int64_t>(p));
      x0 = std::min(x0, x.rect.x), y0 = std::min(y0, x.rect.y);
      x1 = std::max(x1, x.rect.x + x.rect.width), y1 = std::max(y1, x.rect.y + x.rect.height);
    }
  }
  if (!tiles || out.empty()) return out;
  // The same part of the picture in the tiles: the tokens whose centre lies there.
  for (size_t p = 0; p < layout.size(); ++p) {
    const InputPosition& x = layout[p];
    if (!x.is_image || x.view != 1 || x.row < 0 || x.col < 0) continue;
    const double cx = x.rect.x + x.rect.width / 2, cy = x.rect.y + x.rect.height / 2;
    if (cx >= x0 && cx < x1 && cy >= y0 && cy < y1) out.push_back(static_cast<int64_t>(p));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace atman
