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
  for (size_t p = 0; p < layout.size(); ++p) {
    const InputPosition& x = layout[p];
    // The base view's grid (anyres tiles have a grid of their own).
    if (x.is_image && x.view == 0 && x.row >= row0 && x.row <= row1 && x.col >= col0 &&
        x.col <= col1)
      out.push_back(static_cast<int64_t>(p));
  }
  return out;
}

}  // namespace atman
