// How explanations are drawn, shared by both panes (so the single-token and the correlated view
// always use the same colormap, opacity and interpolation) and by the exported figure.
#pragma once

#include <vector>

#include "atman/explanation.h"
#include "atman/heatmap.h"

namespace atman::ui {

struct ViewOptions {
  Colormap colormap = Colormap::Jet;
  double opacity = 0.5;
  bool smooth = true;     // bicubic heatmap; false: one flat colour per patch
  bool showGrid = false;  // patch borders over the image
  // LLaVA-NeXT / OneVision: base view and tiles summed per pixel, or one of them.
  OverlayView overlayView = OverlayView::All;
};

// The colour scales of a pane: patch values and token values are scaled separately (a strong
// token would otherwise wash out every patch of a LLaVA explanation). 0 = nothing to show.
struct Scales {
  double patches = 0;
  double tokens = 0;
};

// Largest positive token value (0 when none), the token counterpart of max_patch_value.
double maxTokenValue(const Explanation& e);
Scales scalesOf(const Explanation& e);
Scales sharedScales(const Scales& a, const Scales& b);

// The correlated neighbourhood of one candidate at one κ (the paper's Figure 5): what its
// perturbation suppresses, itself first.
struct Neighbourhood {
  int centre = -1;  // -1: none shown
  double kappa = 0;
  std::vector<NeighbourFactor> members;
  const NeighbourFactor* find(int candidate) const {
    for (const auto& m : members)
      if (m.candidate == candidate) return &m;
    return nullptr;
  }
};

}  // namespace atman::ui
