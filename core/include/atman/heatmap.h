// Turning an Explanation's patch values into pictures: a colour-mapped heatmap over the original
// image. The CLI's --png and the GUI's overlay use the same function, so they show the same pixels.
#pragma once

#include <string>
#include <vector>

#include "atman/explanation.h"
#include "atman/image.h"

namespace atman {

enum class Colormap { Jet, Inferno, Viridis, Turbo, Hot, Gray };

Colormap parse_colormap(const std::string& name);  // InputError listing the names
std::vector<std::string> colormap_names();
// The colour of t in [0, 1].
void colormap_rgb(Colormap map, double t, uint8_t rgb[3]);

struct OverlayOptions {
  Colormap colormap = Colormap::Jet;
  double opacity = 0.5;  // heatmap weight over the image
  bool smooth = true;    // bicubic upsampling of the patch grid; false: nearest (blocky patches)
  // Colour scale: values are shown as value / scale_max, clipped to [0, 1] (negative values, which
  // oppose the target, show as 0). scale_max <= 0 means "the largest value of this explanation".
  double scale_max = 0;
};

// Largest positive patch value (0 when none): the default colour scale.
double max_patch_value(const Explanation& e);

// The original image with the patch heatmap blended over the crop region the model saw.
// Throws InputError when the explanation has no patch grid or its image size does not match.
RgbImage render_overlay(const RgbImage& image, const Explanation& e, const OverlayOptions& options);

}  // namespace atman
