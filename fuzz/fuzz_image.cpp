// Fuzzes image decoding and CLIP preprocessing: the input is an encoded image (any bytes). It is
// decoded with atman::decode_image (header sniffing and size checks, then OpenCV), preprocessed
// with shapes-clip's preprocessor_config.json and with a fixed-size resize, and small results are
// round-tripped through PNG.
//
// Inputs whose header claims more than a megapixel are skipped: decode_image accepts up to
// 400 megapixels by design, which makes OpenCV allocate gigabytes (more than libFuzzer's memory
// limit) for a 60-byte file. test_hostile_inputs covers those limits.
#include <span>

#include "atman/image.h"
#include "fuzz_support.h"
#include "image/image_header.h"

namespace {

constexpr const char* kHarness = "fuzz_image";
constexpr uint64_t kMaxFuzzPixels = 1u << 20;

const atman::ClipPreprocessConfig& clip_config() {
  static const atman::ClipPreprocessConfig config = [] {
    try {
      return atman::load_preprocess_config(atman::fuzz::shared_dir() / "models" / "shapes-clip");
    } catch (const atman::Error&) {
      return atman::ClipPreprocessConfig{};
    }
  }();
  return config;
}

atman::ClipPreprocessConfig square_config() {
  atman::ClipPreprocessConfig config;
  config.resize_height = 48;
  config.resize_width = 40;
  config.do_center_crop = false;
  config.resample = atman::ResampleFilter::lanczos;
  return config;
}

bool too_large_for_fuzzing(const std::vector<uint8_t>& bytes) {
  try {
    const auto header = atman::detail::read_image_header(std::span(bytes), "fuzz");
    if (!header) return false;
    uint64_t pixels = 0;
    return __builtin_mul_overflow(header->width, header->height, &pixels) ||
           pixels > kMaxFuzzPixels;
  } catch (const atman::Error&) {
    return false;  // decode_image reports the same problem
  }
}

void check_pixels(const atman::PixelTensor& p) {
  ATMAN_FUZZ_CHECK(kHarness, p.channels == 3 && p.height > 0 && p.width > 0, "pixel tensor shape");
  ATMAN_FUZZ_CHECK(kHarness, p.values.size() == size_t(3) * size_t(p.height) * size_t(p.width),
                   "pixel tensor size");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)clip_config();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  if (too_large_for_fuzzing(bytes)) return 0;
  atman::fuzz::guarded(kHarness, [&] {
    const atman::RgbImage image = atman::decode_image(bytes, "fuzz-input");
    ATMAN_FUZZ_CHECK(kHarness, image.width > 0 && image.height > 0, "empty image decoded");
    ATMAN_FUZZ_CHECK(kHarness,
                     image.pixels.size() == size_t(image.width) * size_t(image.height) * 3,
                     "pixel buffer size");
    check_pixels(atman::preprocess_clip(image, clip_config()));
    check_pixels(atman::preprocess_clip(image, square_config()));
    if (image.width <= 256 && image.height <= 256) {
      const atman::RgbImage again = atman::decode_image(atman::encode_png(image), "round trip");
      ATMAN_FUZZ_CHECK(kHarness,
                       again.width == image.width && again.height == image.height &&
                           again.pixels == image.pixels,
                       "PNG round trip changed the image");
    }
  });
  return 0;
}
