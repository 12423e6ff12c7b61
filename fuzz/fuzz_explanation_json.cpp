// Fuzzes the explanation JSON import (atman::explanation_from_json), which the GUI and tools use
// on files from anywhere, and everything a loaded explanation feeds: patch_heatmap, to_csv,
// to_json (which must load back to the same JSON) and render_overlay on a small image.
#include "atman/explanation.h"
#include "atman/heatmap.h"
#include "fuzz_support.h"

namespace {

constexpr const char* kHarness = "fuzz_explanation_json";

atman::RgbImage image_for(const atman::Explanation& e) {
  atman::RgbImage image;
  const bool usable =
      e.image_width > 0 && e.image_height > 0 && e.image_width <= 256 && e.image_height <= 256;
  image.width = usable ? e.image_width : 8;
  image.height = usable ? e.image_height : 8;
  image.pixels.assign(size_t(image.width) * size_t(image.height) * 3, 128);
  return image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  atman::fuzz::guarded(kHarness, [&] {
    const atman::Explanation e = atman::explanation_from_json(text);
    const auto heat = e.patch_heatmap();
    ATMAN_FUZZ_CHECK(kHarness, heat.size() == size_t(e.grid_rows) * size_t(e.grid_cols),
                     "heatmap size");
    (void)atman::to_csv(e);
    (void)atman::max_patch_value(e);
    // What is saved loads back, and saves the same again.
    const std::string saved = atman::to_json(e);
    try {
      const atman::Explanation back = atman::explanation_from_json(saved);
      ATMAN_FUZZ_CHECK(kHarness, atman::to_json(back) == saved, "JSON round trip differs");
    } catch (const std::exception& reload) {
      atman::fuzz::fail(kHarness,
                        std::string("a saved explanation does not load back: ") + reload.what());
    }
    atman::fuzz::guarded(kHarness, [&] {
      atman::OverlayOptions options;
      options.smooth = size % 2 == 0;
      const atman::RgbImage image = image_for(e);
      const atman::RgbImage overlay = atman::render_overlay(image, e, options);
      ATMAN_FUZZ_CHECK(kHarness,
                       overlay.width == image.width && overlay.height == image.height &&
                           overlay.pixels.size() == image.pixels.size(),
                       "overlay size");
    });
  });
  return 0;
}
