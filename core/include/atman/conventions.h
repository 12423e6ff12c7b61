// Input conventions the CLI and the GUI share, so that both accept the same inputs. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "atman/inference.h"

namespace atman {

// CLIP targets: "panda" names the label "a photo of a panda" when `target` is not itself one of
// `labels` and that label is. Otherwise returns `target` unchanged (validation reports a target
// that is not a label).
std::string resolve_label_alias(const std::string& target, const std::vector<std::string>& labels);

// The input positions (indices into `layout`, ascending) of the image tokens whose patch lies in
// rows row0..row1 and columns col0..col1 (inclusive): a rectangle of the patch grid as steering
// and the GUI's region selection name it. Empty when no image token lies inside. Anyres models
// (LLaVA-NeXT, OneVision): the rectangle is of the base view's grid, and the tile tokens whose
// rectangle's centre lies in the picture region those base patches cover are included too.
std::vector<int64_t> patch_region_positions(const std::vector<InputPosition>& layout, int row0,
                                            int row1, int col0, int col1);

}  // namespace atman
