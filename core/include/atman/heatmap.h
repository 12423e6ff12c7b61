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

// Which image tokens an overlay shows. LLaVA-NeXT / OneVision explanations hold the base view
// (the whole image at the tower's size) and the tiles (the image at the best resolution): All sums
// both per pixel of the original image; Base and Tiles show one alone. Explanations with one view
// (CLIP, SigLIP, LLaVA-1.5) have only Base, which All equals.
enum class OverlayView { All, Base, Tiles };
OverlayView parse_overlay_view(const std::string& name);  // "all", "base", "tiles"; InputError
std::vector<std::string> overlay_view_names();

struct OverlayOptions {
  Colormap colormap = Colormap::Jet;
  double opacity = 0.5;  // heatmap weight over the image
  bool smooth = true;    // bicubic upsampling of the patch grid; false: nearest (blocky patches)
  // Colour scale: values are shown as value / scale_max, clipped to [0, 1] (negative values, which
  // oppose the target, show as 0). scale_max <= 0 means "the largest value of this explanation".
  double scale_max = 0;
  OverlayView view = OverlayView::All;
};

// Does the explanation hold more than one image view (LLaVA-NeXT / OneVision tiles)?
bool has_tile_view(const Explanation& e);

// The default colour scale: the largest positive patch value (0 when none); for an explanation
// with tiles, the largest per-pixel sum of the shown view(s) that render_overlay draws.
double max_patch_value(const Explanation& e, OverlayView view = OverlayView::All);

// The original image with the patch heatmap blended over the crop region the model saw. With one
// view, the patch grid is upsampled over the union of the patch rectangles; with tiles, every
// original pixel gets the sum of the values of the shown candidates whose rectangle covers its
// centre (smooth: then blurred by a Gaussian of half the smallest rectangle side), and only pixels
// some rectangle covers are blended. Throws InputError when the explanation has no patch grid or
// no candidate of the asked view.
RgbImage render_overlay(const RgbImage& image, const Explanation& e, const OverlayOptions& options);

}  // namespace atman
