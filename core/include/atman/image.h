// Images in, model pixels out. Loading honours EXIF orientation and turns grayscale, alpha,
// 16-bit and CMYK into 8-bit RGB. Preprocessing keeps the crop geometry so a patch heatmap maps
// back onto the original image.
//
//   atman::RgbImage image = atman::load_image("panda.jpg");
//   atman::PixelTensor input = atman::preprocess_clip(image,
//   atman::load_preprocess_config(model_dir)); atman::RectF patch_in_photo =
//   input.geometry.to_original({x, y, patch, patch});
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace atman {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel, RGB
};

// A heatmap overlay or any other picture with transparency. Straight (not premultiplied) alpha.
struct RgbaImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // row-major, 4 bytes per pixel, RGBA
};

// Throws InputError for unreadable, empty or absurdly large files, naming the path.
// Accepts JPEG, PNG, BMP, WebP and TIFF (sniffed from the bytes, not the extension). The size
// limits below are checked from the file header before anything is decoded. Alpha is dropped (as
// PIL's convert("RGB") does, which is what Hugging Face preprocessing sees); 16-bit samples are
// scaled by 1/257; EXIF orientation is applied where OpenCV reads it (JPEG).
RgbImage load_image(const std::filesystem::path& path);
// The same from bytes already in memory; `origin` names them in error messages (a path,
// "clipboard").
RgbImage decode_image(const std::vector<uint8_t>& encoded_bytes, const std::string& origin);

inline constexpr std::uintmax_t kMaxImageFileBytes = std::uintmax_t{512} << 20;  // 512 MiB
inline constexpr int kMaxImageSide = 40000;                                      // pixels
inline constexpr std::uint64_t kMaxImagePixels = 400'000'000;                    // 400 megapixels

// Resampling filters, numbered as PIL's Image.Resampling (and HF's `resample` field).
enum class ResampleFilter {
  nearest = 0,
  lanczos = 1,
  bilinear = 2,
  bicubic = 3,
  box = 4,
  hamming = 5
};

// PIL's Image.resize, reimplemented bit for bit: separable filter, horizontal pass then vertical,
// support widened by the scale factor when shrinking (antialiasing), 8-bit rounding after each
// pass. The RGBA variant resamples premultiplied alpha, as PIL does, so transparent pixels do not
// bleed.
RgbImage resize_image(const RgbImage& image, int width, int height,
                      ResampleFilter filter = ResampleFilter::bicubic);
RgbaImage resize_image(const RgbaImage& image, int width, int height,
                       ResampleFilter filter = ResampleFilter::bicubic);
// The region [x, x + region_width) x [y, y + region_height) of resize_image(image, width, height,
// filter), bit for bit, at the cost of the region alone: a centre crop of a very elongated photo
// needs only its middle. InputError when the region is not inside width x height.
RgbImage resize_image_region(const RgbImage& image, int width, int height, int x, int y,
                             int region_width, int region_height,
                             ResampleFilter filter = ResampleFilter::bicubic);

// PNG encoding for exports (heatmaps, overlays). save_png throws InputError naming the path when
// the file cannot be written.
std::vector<uint8_t> encode_png(const RgbImage& image);
std::vector<uint8_t> encode_png(const RgbaImage& image);
void save_png(const RgbImage& image, const std::filesystem::path& path);
void save_png(const RgbaImage& image, const std::filesystem::path& path);

struct RectF {
  double x = 0, y = 0, width = 0, height = 0;
};

// How the model's square input relates to the original image: resize by `scale` so the shortest
// side is `resized_shortest`, then crop a `crop_size` square whose top-left corner is at
// (crop_x, crop_y) in resized pixels. crop_x/crop_y are negative when the resized image was smaller
// than the crop and got zero-padded (as HF's center_crop does).
struct CropGeometry {
  int original_width = 0;
  int original_height = 0;
  double scale = 1.0;    // resized width / original width
  double scale_y = 0.0;  // resized height / original height; 0 means "same as scale". The two
                         // differ slightly because HF truncates the long side, and a lot for
                         // configs that resize to a fixed {height, width}.
  int crop_x = 0;
  int crop_y = 0;
  int crop_size = 0;  // side of the model input (its height when center crop is off)
  // The rectangle in original-image pixels covered by a rectangle in model-input pixels.
  RectF to_original(const RectF& model_rect) const;
};

struct ClipPreprocessConfig {
  int shortest_edge = 224;
  int crop_size = 224;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  bool do_resize = true;
  bool do_center_crop = true;
  bool do_normalize = true;
  double rescale_factor = 1.0 / 255.0;  // 1.0 when the config says do_rescale: false
  ResampleFilter resample = ResampleFilter::bicubic;
  // HF `size: {"height", "width"}`: resize to exactly this, aspect ratio not kept. 0 = use
  // shortest_edge.
  int resize_height = 0;
  int resize_width = 0;
};

// Reads <dir>/preprocessor_config.json (HF CLIPImageProcessor fields); defaults when absent.
// `model_dir` may also name the JSON file itself. Throws ModelError naming the file when it is
// malformed.
ClipPreprocessConfig load_preprocess_config(const std::filesystem::path& model_dir);

struct PixelTensor {
  int channels = 3;
  int height = 0;
  int width = 0;
  // Views of the image, each CHW: 1, or for anyres LLaVA (LLaVA-NeXT, LLaVA-OneVision) the base
  // view then its tiles in row-major order (preprocess_anyres).
  int views = 1;
  std::vector<float> values;  // views x CHW, normalised
  CropGeometry geometry;      // of the first (base) view
};

// What preprocess_clip does to an image of this size, worked out without its pixels: the resized
// size, the model input's size and how the input maps back onto the image. InputError as
// preprocess_clip gives for the size.
struct ClipInputGeometry {
  int resized_width = 0, resized_height = 0;  // before the centre crop
  int width = 0, height = 0;                  // the model input
  CropGeometry geometry;
};
ClipInputGeometry clip_input_geometry(int image_width, int image_height,
                                      const ClipPreprocessConfig& config);

// HF CLIPImageProcessor: bicubic resize of the shortest side, centre crop, rescale, normalise.
PixelTensor preprocess_clip(const RgbImage& image, const ClipPreprocessConfig& config);

}  // namespace atman
