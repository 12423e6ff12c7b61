// LLaVA with a SigLIP tower (llava-hf/llava-interleave-qwen-0.5b-hf), vision_feature_layer lists,
// LLaVA-NeXT anyres (llava-hf/llava-v1.6-mistral-7b-hf) and LLaVA-OneVision
// (llava-hf/llava-onevision-qwen2-0.5b-ov-hf) against float64 computations written here from
// transformers' modeling_siglip.py / modeling_clip.py (towers), modeling_llava*.py
// (get_image_features, pack_image_features, unpad_image, OneVision's downscaling) and
// image_processing_llava_next.py / image_processing_utils.py (select_best_resolution,
// get_patch_output_size, the padded tiles), without calling our model code. Then the token ->
// image-rectangle map, and the overlay of an anyres explanation on a non-square image whose left
// half is one colour.
//
// The tiny configs keep the real checkpoints' config.json fields and key layouts; what they are
// based on (no Hub access here): the transformers configuration classes' defaults and the
// checkpoints' config.json as published (interleave: siglip_vision_model tower of 26 layers,
// 384 px, patch 14, strategy "full", layer -1, Qwen2 text; NeXT-Mistral: CLIP-L/14-336 tower,
// layer -2, strategy "default", pinpoints [[336,672],[672,336],[672,672],[1008,336],[336,1008]],
// Mistral text; OneVision: SigLIP tower as interleave, layer -1, "full", anyres_max_9, pinpoints
// 384..2304 in steps of 384). Shrunk: towers 32 px, patch 8 (a 4 x 4 grid), width 32, pinpoints
// scaled by 32/336 or 32/384, and the ids of the test tokenizer (shapes-llava's GPT-2 BPE with
// <image> = 50257) instead of 32000 / 151646.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "atman/conventions.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/heatmap.h"
#include "atman/hf_config.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "core/test_support.h"
#include "core/tiny_llava.h"
#include "core/tiny_models.h"
#include "image/anyres.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace atman::test::llava;

namespace {

// ---- float64 reference, from modeling_clip.py / modeling_siglip.py / modeling_llava*.py -------

at::Tensor d(const Weights& w, const std::string& name) {
  return w.at(name).to(at::kDouble);
}

at::Tensor layer_norm(const at::Tensor& x, const Weights& w, const std::string& p, double eps) {
  at::Tensor mean = x.mean(-1, true);
  at::Tensor var = (x - mean).pow(2).mean(-1, true);
  return (x - mean) / at::sqrt(var + eps) * d(w, p + ".weight") + d(w, p + ".bias");
}

at::Tensor linear(const at::Tensor& x, const Weights& w, const std::string& p) {
  return at::matmul(x, d(w, p + ".weight").t()) + d(w, p + ".bias");
}

at::Tensor gelu_tanh(const at::Tensor& x) {
  return 0.5 * x * (1 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}
at::Tensor gelu_erf(const at::Tensor& x) {
  return 0.5 * x * (1 + at::erf(x / std::sqrt(2.0)));
}
at::Tensor quick_gelu(const at::Tensor& x) {
  return x * at::sigmoid(1.702 * x);
}

// Self-attention, one head at a time, softmax written out: x (V, T, C).
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t D = kC / kHeads;
  std::vector<at::Tensor> outs;
  for (int h = 0; h < kHeads; ++h) {
    at::Tensor qh = q.slice(-1, h * D, (h + 1) * D), kh = k.slice(-1, h * D, (h + 1) * D);
    at::Tensor s = at::matmul(qh, kh.transpose(-1, -2)) / std::sqrt(double(D));
    at::Tensor e = at::exp(s - std::get<0>(s.max(-1, true)));
    outs.push_back(at::matmul(e / e.sum(-1, true), v.slice(-1, h * D, (h + 1) * D)));
  }
  return at::cat(outs, -1);
}

// hidden_states[0..L] of the vision tower for views (V, 3, S, S).
std::vector<at::Tensor> ref_states(const at::Tensor& views, const Weights& w, const Spec& s) {
  const std::string v =
      s.modern_keys ? "model.vision_tower.vision_model." : "vision_tower.vision_model.";
  const bool siglip = s.tower == Tower::Siglip;
  const double eps = siglip ? 1e-6 : 1e-5;
  // The patch conv as a loop over patches: each patch flattened (c, y, x) against the kernel.
  at::Tensor kernel = d(w, v + "embeddings.patch_embedding.weight").reshape({kC, -1});
  std::vector<at::Tensor> per_view;
  for (int64_t i = 0; i < views.size(0); ++i) {
    std::vector<at::Tensor> rows;
    if (!siglip) rows.push_back(d(w, v + "embeddings.class_embedding"));
    for (int py = 0; py < kGrid; ++py)
      for (int px = 0; px < kGrid; ++px) {
        at::Tensor patch = views[i]
                               .slice(1, py * kPatch, (py + 1) * kPatch)
                               .slice(2, px * kPatch, (px + 1) * kPatch)
                               .reshape({-1});
        at::Tensor e = at::matmul(kernel, patch);
        if (siglip) e = e + d(w, v + "embeddings.patch_embedding.bias");
        rows.push_back(e);
      }
    per_view.push_back(at::stack(rows));
  }
  at::Tensor x = at::stack(per_view) + d(w, v + "embeddings.position_embedding.weight");
  if (!siglip) x = layer_norm(x, w, v + "pre_layrnorm", eps);
  std::vector<at::Tensor> states = {x};
  for (int l = 0; l < kVLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    at::Tensor h = layer_norm(x, w, p + "layer_norm1", eps);
    x = x +
        linear(attend(linear(h, w, p + "self_attn.q_proj"), linear(h, w, p + "self_attn.k_proj"),
                      linear(h, w, p + "self_attn.v_proj")),
               w, p + "self_attn.out_proj");
    h = linear(layer_norm(x, w, p + "layer_norm2", eps), w, p + "mlp.fc1");
    x = x + linear(siglip ? gelu_tanh(h) : quick_gelu(h), w, p + "mlp.fc2");
    states.push_back(x);
  }
  return states;
}

// get_image_features: hidden_states[layer] (or the listed ones concatenated), the strategy's
// slice, the projector (linear, gelu, linear): (V, P', C).
at::Tensor ref_view_features(const at::Tensor& views, const Weights& w, const Spec& s) {
  const std::vector<at::Tensor> states = ref_states(views, w, s);
  std::vector<int> layers;
  if (s.feature_layer.is_array())
    for (const auto& l : s.feature_layer) layers.push_back(l.get<int>());
  else
    layers.push_back(s.feature_layer.get<int>());
  std::vector<at::Tensor> pool;
  for (int l : layers) pool.push_back(states[l < 0 ? states.size() + l : l]);
  at::Tensor x = at::cat(pool, -1);
  if (s.strategy == "default") x = x.slice(1, 1);
  const std::string mp = s.modern_keys ? "model.multi_modal_projector." : "multi_modal_projector.";
  return linear(gelu_erf(linear(x, w, mp + "linear_1")), w, mp + "linear_2");
}

// image_processing_utils.select_best_resolution, written out again.
std::pair<int, int> ref_best(int H, int W, const std::vector<std::pair<int, int>>& points) {
  std::pair<int, int> best{0, 0};
  long max_eff = 0;
  double min_waste = 1e300;
  for (auto [h, w] : points) {
    const double scale = std::min(double(w) / W, double(h) / H);
    const long dw = long(W * scale), dh = long(H * scale);
    const long eff = std::min(dw * dh, long(W) * H);
    const double waste = double(w) * h - eff;
    if (eff > max_eff || (eff == max_eff && waste < min_waste)) {
      max_eff = eff;
      min_waste = waste;
      best = {h, w};
    }
  }
  return best;
}

// The reference anyres plan of an image: best resolution, resized size, paste offsets, the
// unpadded rows/columns of the tile grid, OneVision's output grid.
struct Plan {
  int bh = 0, bw = 0, nh = 0, nw = 0, top = 0, left = 0, tr = 0, tc = 0;
  int r0 = 0, r1 = 0, c0 = 0, c1 = 0, oh = 0, ow = 0;
  bool scaled = false;
};

Plan ref_plan(int W, int H, const Spec& s) {
  Plan p;
  std::tie(p.bh, p.bw) = ref_best(H, W, s.pinpoints);
  // get_patch_output_size
  const double sw = double(p.bw) / W, sh = double(p.bh) / H;
  if (sw < sh) {
    p.nw = p.bw;
    p.nh = std::min(int(std::ceil(H * sw)), p.bh);
  } else {
    p.nh = p.bh;
    p.nw = std::min(int(std::ceil(W * sh)), p.bw);
  }
  p.top = (p.bh - p.nh) / 2;
  p.left = (p.bw - p.nw) / 2;
  p.tr = p.bh / s.image_size;
  p.tc = p.bw / s.image_size;
  // unpad_image on the (tr * g) x (tc * g) grid
  const int gh = p.tr * kGrid, gw = p.tc * kGrid;
  p.r0 = 0, p.r1 = gh, p.c0 = 0, p.c1 = gw;
  if (double(W) / H > double(gw) / gh) {
    const int new_h = int(std::round(H * (double(gw) / W) * 1e7) / 1e7);
    const int pad = (gh - new_h) / 2;
    p.r0 = pad, p.r1 = gh - pad;
  } else {
    const int new_w = int(std::round(W * (double(gh) / H) * 1e7) / 1e7);
    const int pad = (gw - new_w) / 2;
    p.c0 = pad, p.c1 = gw - pad;
  }
  p.oh = p.r1 - p.r0, p.ow = p.c1 - p.c0;
  if (s.max_tiles > 0) {
    const double ratio = std::sqrt(double(p.oh) * p.ow / (s.max_tiles * kGrid * kGrid));
    if (ratio > 1.1) {
      p.scaled = true;
      p.oh = int(std::floor(p.oh / ratio));
      p.ow = int(std::floor(p.ow / ratio));
    }
  }
  return p;
}

// The processor's pixel values (V, 3, S, S) in float64: base view then the padded tiles.
at::Tensor ref_pixels(const RgbImage& image, const Spec& s, const float mean[3],
                      const float stdv[3]) {
  const Plan p = ref_plan(image.width, image.height, s);
  const int T = s.image_size;
  auto normalised = [&](const RgbImage& img, int x0, int y0) {
    at::Tensor out = at::zeros({3, T, T}, at::kDouble);
    auto a = out.accessor<double, 3>();
    for (int y = 0; y < T; ++y)
      for (int x = 0; x < T; ++x) {
        const int sx = x0 + x, sy = y0 + y;
        const bool in = sx >= 0 && sy >= 0 && sx < img.width && sy < img.height;
        for (int c = 0; c < 3; ++c) {
          const double v = in ? img.pixels[(size_t(sy) * img.width + sx) * 3 + c] : 0.0;
          a[c][y][x] = (v / 255.0 - mean[c]) / stdv[c];
        }
      }
    return out;
  };
  std::vector<at::Tensor> views = {normalised(resize_image(image, T, T), 0, 0)};
  const RgbImage resized = resize_image(image, p.nw, p.nh);
  for (int i = 0; i < p.tr; ++i)
    for (int j = 0; j < p.tc; ++j)
      views.push_back(normalised(resized, j * T - p.left, i * T - p.top));
  return at::stack(views);
}

// pack_image_features for one image: base features, then the unpadded (and for OneVision maybe
// bilinearly downscaled) tile grid row by row, each row closed by image_newline.
at::Tensor ref_pack(const at::Tensor& f, const Plan& p, const Weights& w, const Spec& s) {
  const at::Tensor newline = d(w, s.modern_keys ? "model.image_newline" : "image_newline");
  const int gh = p.r1 - p.r0, gw = p.c1 - p.c0;
  // The unpadded grid: cell (r, c) of the full grid is tile (r / g, c / g), patch (r % g, c % g).
  at::Tensor grid = at::zeros({gh, gw, kC}, at::kDouble);
  for (int r = 0; r < gh; ++r)
    for (int c = 0; c < gw; ++c) {
      const int R = p.r0 + r, Cc = p.c0 + c;
      grid[r][c] = f[1 + (R / kGrid) * p.tc + Cc / kGrid][(R % kGrid) * kGrid + Cc % kGrid];
    }
  if (p.scaled) {
    // F.interpolate(mode="bilinear", align_corners=False) with a size: src = (dst + 0.5) * in /
    // out - 0.5, clamped at 0, between the two neighbours.
    at::Tensor out = at::zeros({p.oh, p.ow, kC}, at::kDouble);
    auto src = [](int dst, int in, int outn, int& i0, int& i1, double& l) {
      double x = std::max((dst + 0.5) * double(in) / outn - 0.5, 0.0);
      i0 = int(x);
      i1 = std::min(i0 + 1, in - 1);
      l = x - i0;
    };
    for (int y = 0; y < p.oh; ++y)
      for (int x = 0; x < p.ow; ++x) {
        int y0, y1, x0, x1;
        double ly, lx;
        src(y, gh, p.oh, y0, y1, ly);
        src(x, gw, p.ow, x0, x1, lx);
        out[y][x] = (1 - ly) * ((1 - lx) * grid[y0][x0] + lx * grid[y0][x1]) +
                    ly * ((1 - lx) * grid[y1][x0] + lx * grid[y1][x1]);
      }
    grid = out;
  }
  std::vector<at::Tensor> rows = {f[0]};
  for (int r = 0; r < grid.size(0); ++r) {
    rows.push_back(grid[r]);
    rows.push_back(newline.unsqueeze(0));
  }
  return at::cat(rows, 0);
}

// OneVision with a 36 px tower of 8 px patches: 4 x 4 patches read 32 of the 36 pixels, as
// so400m-patch14-384 reads 378 of 384. No downscaling, so every tile token is one patch.
Spec onevision_36_spec() {
  Spec s = onevision_spec();
  s.image_size = 36;
  s.pinpoints.clear();
  for (int h = 1; h <= 6; ++h)
    for (int w = 1; w <= 6; ++w) s.pinpoints.emplace_back(h * 36, w * 36);
  s.max_tiles = 64;
  return s;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// A W x H image: the left half one colour, the right half a pattern.
std::shared_ptr<RgbImage> half_solid(int W, int H) {
  auto image = std::make_shared<RgbImage>();
  image->width = W;
  image->height = H;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const bool left = x < W / 2;
      image->pixels.push_back(left ? 200 : static_cast<uint8_t>((x * 7 + y * 13) % 256));
      image->pixels.push_back(left ? 40 : static_cast<uint8_t>((x * 3 + y * 29) % 256));
      image->pixels.push_back(left ? 90 : static_cast<uint8_t>((x * 11 + y * 5) % 256));
    }
  return image;
}

}  // namespace

class TestLlavaNext : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;

  struct Loaded {
    Spec spec;
    Weights weights;
    std::shared_ptr<const Model> model;
  };
  std::map<std::string, Loaded> models_;

  const Loaded& load(const std::string& name, const Spec& spec, uint64_t seed) {
    auto it = models_.find(name);
    if (it != models_.end()) return it->second;
    Loaded l{spec, tensors_of(spec, seed), nullptr};
    l.model = Model::load(write_model(fs::path(tmp_.path().toStdString()) / name, spec, l.weights));
    return models_.emplace(name, std::move(l)).first->second;
  }

  // The model's image features against the float64 reference, and the processor's pixels.
  void parity(const Loaded& l, const RgbImage& image, int64_t expected_tokens, double& err) {
    c10::InferenceMode guard;
    const PixelTensor pixels = l.model->preprocess(image);
    const ClipPreprocessConfig& pre = l.model->preprocess_config();
    const bool anyres = l.spec.model_type != "llava";
    at::Tensor want_pixels = anyres ? ref_pixels(image, l.spec, pre.mean, pre.std) : at::Tensor();
    at::Tensor views = pixels_to_tensor(pixels, at::kCPU);
    if (anyres) {
      const double pixel_err = max_abs_diff(views, want_pixels);
      std::printf("%s %dx%d: %d views, pixel values max |diff| %.2e\n", l.spec.model_type.c_str(),
                  image.width, image.height, pixels.views, pixel_err);
      QVERIFY2(pixel_err < 1e-5, "pixel values differ from the processor's");
    }
    at::Tensor got = l.model->impl().llava->image_features(views, pixels.geometry).squeeze(0);
    at::Tensor f = ref_view_features(views.to(at::kDouble), l.weights, l.spec);
    at::Tensor want =
        anyres ? ref_pack(f, ref_plan(image.width, image.height, l.spec), l.weights, l.spec) : f[0];
    [&] { QCOMPARE(got.size(0), expected_tokens); }();
    [&] { QCOMPARE(want.size(0), expected_tokens); }();
    err = max_abs_diff(got, want);
    QVERIFY(std::isfinite(err));
    // The layout has one entry per image position.
    [&] {
      QCOMPARE(int64_t(l.model->impl().llava->image_layout(pixels.geometry).size()),
               expected_tokens);
    }();
  }

 private slots:
  void interleave_siglip_tower() {
    const auto& l = load("interleave", interleave_spec(-1), 11);
    QCOMPARE(l.model->architecture(), std::string("LLaVA"));
    const auto& config = std::get<LlavaConfig>(l.model->impl().config);
    QVERIFY(config.vision_type == LlavaVision::Siglip);
    QCOMPARE(config.vision.hidden_act, Activation::GeluTanh);  // SiglipVisionConfig's default
    QCOMPARE(config.vision.layer_norm_eps, 1e-6);
    QVERIFY(l.model->capabilities().reads_images && l.model->capabilities().generates);
    // SiglipImageProcessor: square resize, no crop, mean = std = 0.5.
    QVERIFY(!l.model->preprocess_config().do_center_crop);
    QCOMPARE(l.model->preprocess_config().mean[0], 0.5f);
    // "full" with a SigLIP tower: every patch, no class token to keep.
    double err = 0;
    parity(l, *half_solid(40, 30), kGrid * kGrid, err);
    std::printf("interleave (SigLIP tower) features max |diff| vs float64: %.2e\n", err);
    QVERIFY(err < 1e-4);
  }

  void feature_layer_list() {
    // Hidden states of layers -1 and 1 concatenated along features: the projector reads 2 x C.
    const auto& l = load("interleave_list", interleave_spec(json::array({-1, 1})), 12);
    const auto& config = std::get<LlavaConfig>(l.model->impl().config);
    QVERIFY(config.vision_feature_layers == (std::vector<int>{-1, 1}));
    double err = 0;
    parity(l, *half_solid(40, 30), kGrid * kGrid, err);
    std::printf("vision_feature_layer [-1, 1] features max |diff| vs float64: %.2e\n", err);
    QVERIFY(err < 1e-4);
    // A CLIP tower with "default" and a list: CLS dropped after the concatenation.
    Spec clip = next_spec(false);
    clip.model_type = "llava";
    clip.feature_layer = json::array({-2, 0, 3});
    const auto& lc = load("clip_list", clip, 13);
    double err2 = 0;
    parity(lc, *half_solid(50, 37), kGrid * kGrid, err2);
    std::printf("CLIP tower, layers [-2, 0, 3] max |diff| vs float64: %.2e\n", err2);
    QVERIFY(err2 < 1e-4);
  }

  void best_resolution_and_token_counts() {
    // Worked by hand from select_best_resolution and unpad_image for LLaVA-NeXT's pinpoints
    // (scaled to a 32 px tower): 300 x 180 fills 64 x 64 best (2 x 2 tiles); resized 64 x 39,
    // 12 rows of padding above; the 8 x 8 tile grid unpads to rows 2..5: 4 x 8 features + 4
    // newlines + 16 base = 52.
    const auto& l = load("next", next_spec(false), 21);
    const auto& config = std::get<LlavaConfig>(l.model->impl().config);
    QVERIFY(ref_best(180, 300, config.image_grid_pinpoints) == std::make_pair(64, 64));
    QVERIFY(select_best_resolution(180, 300, config.image_grid_pinpoints) ==
            std::make_pair(64, 64));
    const Plan p = ref_plan(300, 180, l.spec);
    QCOMPARE(p.nh, 39);
    QCOMPARE(p.top, 12);
    QCOMPARE(p.r0, 2);
    QCOMPARE(p.r1, 6);
    auto image = half_solid(300, 180);
    QCOMPARE(l.model->preprocess(*image).views, 5);
    double err = 0;
    parity(l, *image, 52, err);
    std::printf("LLaVA-NeXT 300x180 features max |diff| vs float64: %.2e\n", err);
    QVERIFY(err < 1e-4);
    // Tall, wide, tiny and exactly-a-pinpoint images, each against the reference's count.
    for (auto [W, H] : std::vector<std::pair<int, int>>{{60, 200}, {500, 90}, {7, 5}, {64, 32}}) {
      const Plan q = ref_plan(W, H, l.spec);
      const int64_t tokens = kGrid * kGrid + int64_t(q.oh) * (q.ow + 1);
      double e = 0;
      parity(l, *half_solid(W, H), tokens, e);
      std::printf("LLaVA-NeXT %dx%d: best %dx%d, %lld tokens, max |diff| %.2e\n", W, H, q.bh, q.bw,
                  static_cast<long long>(tokens), e);
      QVERIFY(e < 1e-4);
    }
  }

  void next_modern_layout_same_model() {
    // Same seed, other key layout: the same features.
    const auto& a = load("next", next_spec(false), 21);
    const auto& b = load("next_modern", next_spec(true), 21);
    c10::InferenceMode guard;
    auto image = half_solid(90, 70);
    const PixelTensor pixels = a.model->preprocess(*image);
    at::Tensor fa =
        a.model->impl().llava->image_features(pixels_to_tensor(pixels, at::kCPU), pixels.geometry);
    at::Tensor fb =
        b.model->impl().llava->image_features(pixels_to_tensor(pixels, at::kCPU), pixels.geometry);
    QVERIFY(max_abs_diff(fa, fb) < 1e-6);
    QCOMPARE(b.model->architecture(), std::string("LLaVA-NeXT"));
  }

  void onevision_downscaling() {
    const auto& l = load("onevision", onevision_spec(), 31);
    QCOMPARE(l.model->architecture(), std::string("LLaVA-OneVision"));
    // 200 x 200 fills 192 x 192 (6 x 6 tiles): a 24 x 24 grid holds 4 times anyres_max_9's 144
    // features, so it is resized bilinearly to 12 x 12.
    const Plan p = ref_plan(200, 200, l.spec);
    QVERIFY(p.scaled);
    QCOMPARE(p.oh, 12);
    QCOMPARE(p.ow, 12);
    double err = 0;
    parity(l, *half_solid(200, 200), kGrid * kGrid + 12 * 13, err);
    std::printf("OneVision 200x200 (downscaled) max |diff| vs float64: %.2e\n", err);
    QVERIFY(err < 1e-4);
    // Small enough not to be downscaled.
    const Plan q = ref_plan(40, 70, l.spec);
    QVERIFY(!q.scaled);
    parity(l, *half_solid(40, 70), kGrid * kGrid + int64_t(q.oh) * (q.ow + 1), err);
    std::printf("OneVision 40x70 max |diff| vs float64: %.2e\n", err);
    QVERIFY(err < 1e-4);
  }

  void tower_wider_than_its_patches() {
    const auto& l = load("onevision36", onevision_36_spec(), 41);
    QCOMPARE(l.model->patch_grid(), kGrid);
    const Plan p = ref_plan(300, 180, l.spec);
    QVERIFY(!p.scaled);
    double err = 0;
    parity(l, *half_solid(300, 180), kGrid * kGrid + int64_t(p.oh) * (p.ow + 1), err);
    std::printf("OneVision, 36 px tower / 8 px patches, 300x180 max |diff| vs float64: %.2e\n",
                err);
    QVERIFY(err < 1e-4);
  }

  // The rectangle of every image token, against the reference plan, and the pixels under it:
  // a token whose rectangle lies inside the solid left half sees only that colour.
  void rect_map() {
    for (const std::string name : {"next", "onevision", "onevision36"}) {
      const auto& l = name == "next"        ? load("next", next_spec(false), 21)
                      : name == "onevision" ? load("onevision", onevision_spec(), 31)
                                            : load("onevision36", onevision_36_spec(), 41);
      const int W = 300, H = 180;
      auto image = half_solid(W, H);
      const PixelTensor pixels = l.model->preprocess(*image);
      const auto layout = l.model->impl().llava->image_layout(pixels.geometry);
      const Plan p = ref_plan(W, H, l.spec);
      const int T = l.spec.image_size;
      // Grid cell u of the tile grid is patch u % g of tile u / g (tiles may be wider than g
      // patches: 36 / 8 leaves 4 pixels, as 384 / 14 leaves 6).
      auto cell_px = [&](int u) { return (u / kGrid) * T + (u % kGrid) * kPatch; };
      const double sx = double(W) / T, sy = double(H) / T;        // base view
      const double tx = double(W) / p.nw, ty = double(H) / p.nh;  // tiles
      const double rs = double(p.r1 - p.r0) / p.oh, cs = double(p.c1 - p.c0) / p.ow;
      int solid_checked = 0;
      const size_t plane = size_t(T) * T;
      for (size_t k = 0; k < layout.size(); ++k) {
        const ImageToken& t = layout[k];
        RectF want;
        if (k < size_t(kGrid * kGrid)) {
          QCOMPARE(t.view, 0);
          const int r = int(k) / kGrid, c = int(k) % kGrid;
          want = {c * kPatch * sx, r * kPatch * sy, kPatch * sx, kPatch * sy};
        } else {
          QCOMPARE(t.view, 1);
          const int i = int(k - kGrid * kGrid) / (p.ow + 1),
                    j = int(k - kGrid * kGrid) % (p.ow + 1);
          QCOMPARE(t.newline, j == p.ow);
          if (t.newline) continue;
          QCOMPARE(t.row, i);
          QCOMPARE(t.col, j);
          double x0, y0, x1, y1;
          if (p.scaled) {  // a share of the unpadded grid (tiles of exactly g patches here)
            QCOMPARE(T, kGrid * kPatch);
            const double y = (p.r0 + i * rs) * kPatch, x = (p.c0 + j * cs) * kPatch;
            x0 = (x - p.left) * tx, y0 = (y - p.top) * ty;
            x1 = x0 + cs * kPatch * tx, y1 = y0 + rs * kPatch * ty;
          } else {
            x0 = (cell_px(p.c0 + j) - p.left) * tx, y0 = (cell_px(p.r0 + i) - p.top) * ty;
            x1 = x0 + kPatch * tx, y1 = y0 + kPatch * ty;
          }
          x0 = std::clamp(x0, 0.0, double(W)), x1 = std::clamp(x1, 0.0, double(W));
          y0 = std::clamp(y0, 0.0, double(H)), y1 = std::clamp(y1, 0.0, double(H));
          want = {x0, y0, x1 - x0, y1 - y0};
        }
        QVERIFY(std::abs(t.rect.x - want.x) < 1e-9 && std::abs(t.rect.y - want.y) < 1e-9);
        QVERIFY(std::abs(t.rect.width - want.width) < 1e-9);
        QVERIFY(std::abs(t.rect.height - want.height) < 1e-9);
        // Inside the picture, and not empty (unpadding removed the padding-only tokens).
        QVERIFY(t.rect.x >= 0 && t.rect.y >= 0 && t.rect.x + t.rect.width <= W + 1e-9 &&
                t.rect.y + t.rect.height <= H + 1e-9);
        QVERIFY(t.rect.width > 0 && t.rect.height > 0);
        // Solid-colour check on the view's pixels for whole (unclipped, not downscaled) tokens
        // well inside the left half (the resampling filter reaches 2 source pixels per output
        // pixel).
        const double margin = 2.5 * (t.view == 0 ? sx : tx);
        const bool whole =
            t.view == 0 || (!p.scaled && std::abs(t.rect.height - kPatch * ty) < 1e-9);
        if (!whole || t.rect.x + t.rect.width > W / 2 - margin) continue;
        if (t.view == 1 && (t.rect.y < margin || t.rect.y + t.rect.height > H - margin)) continue;
        int view = 0, py = t.row, px = t.col;
        if (t.view == 1) {
          const int R = p.r0 + t.row, C = p.c0 + t.col;
          view = 1 + (R / kGrid) * p.tc + C / kGrid;
          py = R % kGrid, px = C % kGrid;
        }
        const ClipPreprocessConfig& pre = l.model->preprocess_config();
        for (int c = 0; c < 3; ++c) {
          const float want_v = (float((c == 0   ? 200
                                       : c == 1 ? 40
                                                : 90) /
                                      255.0) -
                                pre.mean[c]) /
                               pre.std[c];
          for (int y = 0; y < kPatch; ++y)
            for (int x = 0; x < kPatch; ++x) {
              const float v = pixels.values[size_t(view) * 3 * plane + c * plane +
                                            size_t(py * kPatch + y) * T + px * kPatch + x];
              QVERIFY2(std::abs(v - want_v) < 1e-5, "a left-half token sees other pixels");
            }
        }
        ++solid_checked;
      }
      std::printf("%s: %zu image tokens, rects match; %d left-half tokens see only the colour\n",
                  name.c_str(), layout.size(), solid_checked);
      QVERIFY(solid_checked >= 4);
    }
  }

  // A real AtMan explanation end to end; then the overlay of values set on the left-half tokens.
  void explain_and_overlay_left_half() {
    for (const std::string name : {"next", "onevision"}) {
      const auto& l = name == "next" ? load("next", next_spec(false), 21)
                                     : load("onevision", onevision_spec(), 31);
      const int W = 300, H = 180;
      auto image = half_solid(W, H);
      ExplainRequest r;
      r.model = l.model;
      r.image = image;
      r.prompt = "<image>\nWhat is in the picture?";
      r.target = " a red square";
      r.batch_size = 16;
      Explanation e = AtmanExplainer().attribute(r);
      const PixelTensor pixels = l.model->preprocess(*image);
      const auto layout = l.model->impl().llava->image_layout(pixels.geometry);
      // One candidate per image token with pixels, at its position, with its rectangle.
      std::vector<const ImageToken*> tokens;
      std::vector<int64_t> positions;  // from the first image position
      for (size_t k = 0; k < layout.size(); ++k)
        if (!layout[k].newline) {
          tokens.push_back(&layout[k]);
          positions.push_back(int64_t(k));
        }
      int64_t first = -1;
      int patches = 0, tiles = 0;
      for (const Candidate& c : e.candidates) {
        if (c.kind != CandidateKind::Patch) continue;
        QVERIFY(std::isfinite(c.value));
        QCOMPARE(c.positions.size(), size_t(1));
        const ImageToken& t = *tokens[patches];
        if (first < 0) first = c.positions[0];
        QCOMPARE(int64_t(c.positions[0]) - first, positions[patches]);
        QCOMPARE(c.view, t.view);
        QVERIFY(c.rect.x == t.rect.x && c.rect.width == t.rect.width && c.rect.y == t.rect.y);
        tiles += c.view == 1;
        ++patches;
      }
      QCOMPARE(size_t(patches), tokens.size());
      QVERIFY(tiles > 0);
      QCOMPARE(e.grid_rows, kGrid);
      // JSON round trip keeps the views.
      const Explanation back = explanation_from_json(to_json(e));
      int back_tiles = 0;
      for (const Candidate& c : back.candidates) back_tiles += c.view == 1;
      QCOMPARE(back_tiles, tiles);

      // Values: 1 on every token whose rectangle lies in the left half, 0 elsewhere.
      int left = 0;
      for (Candidate& c : e.candidates) {
        const bool in_left = c.kind == CandidateKind::Patch && c.rect.x + c.rect.width <= W / 2.0;
        c.value = in_left ? 1.0 : 0.0;
        left += in_left;
      }
      QVERIFY(left > 0);
      OverlayOptions o;
      o.colormap = Colormap::Gray;
      o.opacity = 1.0;
      o.smooth = false;
      // The reference: the same overlay with every value 0 (pixels no shown token covers keep the
      // picture, e.g. the rows unpadding left to the base view alone in the tiles view).
      Explanation zero = e;
      o.scale_max = 1.0;
      for (Candidate& c : zero.candidates) c.value = 0;
      for (OverlayView view : {OverlayView::All, OverlayView::Base, OverlayView::Tiles}) {
        o.view = view;
        const RgbImage out = render_overlay(*image, e, o);
        const RgbImage ref = render_overlay(*image, zero, o);
        int lit_left = 0;
        for (int y = 0; y < H; ++y)
          for (int x = 0; x < W; ++x)
            for (int k = 0; k < 3; ++k) {
              const size_t at = (size_t(y) * W + x) * 3 + k;
              if (x >= W / 2)
                QVERIFY2(out.pixels[at] == ref.pixels[at],
                         "evidence of a left-half token on the right half");
              else
                lit_left += out.pixels[at] != ref.pixels[at];
            }
        QVERIFY(lit_left > 0);
      }
      o.scale_max = 0;
      // All = base + tiles per pixel: where both views' left tokens cover a pixel it is brighter
      // than where one does.
      QVERIFY(max_patch_value(e, OverlayView::All) >= 2.0 - 1e-12);
      // The colour scale is the largest per-pixel sum: brute force over the pixel centres.
      double brute = 0;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          double sum = 0;
          for (const Candidate& c : e.candidates)
            if (c.kind == CandidateKind::Patch && x + 0.5 >= c.rect.x &&
                x + 0.5 < c.rect.x + c.rect.width && y + 0.5 >= c.rect.y &&
                y + 0.5 < c.rect.y + c.rect.height)
              sum += c.value;
          brute = std::max(brute, sum);
        }
      QCOMPARE(max_patch_value(e, OverlayView::All), brute);
      QCOMPARE(max_patch_value(e, OverlayView::Base), 1.0);
      std::printf("%s: %d candidates (%d on tiles), baseline loss %.3f, overlay views checked\n",
                  name.c_str(), patches, tiles, e.baseline_loss);
    }
  }

  // The configuration classes' defaults, as real configs rely on them (fields equal to a default
  // are left out of config.json).
  void config_defaults() {
    // A nested vision_config dict takes SiglipVisionConfig's own defaults (224 px, patch 16), not
    // the 384 px tower LlavaOnevisionConfig builds when vision_config is None: real configs write
    // image_size.
    const json onevision = {{"model_type", "llava_onevision"},
                            {"text_config", json::object()},
                            {"vision_config", {{"image_size", 384}, {"patch_size", 14}}}};
    const auto ov = std::get<LlavaConfig>(parse_model_config(onevision.dump(), "test"));
    QVERIFY(ov.vision_type == LlavaVision::Siglip);  // SiglipVisionConfig
    QCOMPARE(ov.text.model_type, std::string("qwen2"));
    QCOMPARE(ov.image_token_index, 151646);
    QVERIFY(ov.vision_feature_layers == std::vector<int>{-1});
    QCOMPARE(ov.vision_feature_select_strategy, std::string("full"));
    QCOMPARE(ov.anyres_max_tiles, 9);
    QCOMPARE(ov.image_grid_pinpoints.size(), size_t(36));
    QVERIFY(ov.image_grid_pinpoints.back() == std::make_pair(2304, 2304));
    const json next = {{"architectures", {"LlavaNextForConditionalGeneration"}},
                       {"text_config", {{"model_type", "mistral"}}},
                       {"vision_config", {{"image_size", 336}, {"patch_size", 14}}}};
    const auto nx = std::get<LlavaConfig>(parse_model_config(next.dump(), "test"));
    QCOMPARE(nx.model_type, std::string("llava_next"));
    QVERIFY(nx.vision_type == LlavaVision::Clip);
    QVERIFY(nx.vision_feature_layers == std::vector<int>{-2});
    QCOMPARE(nx.anyres_max_tiles, 0);
    QVERIFY(nx.image_grid_pinpoints ==
            (std::vector<std::pair<int, int>>{
                {336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}}));
    // llava-interleave-qwen-0.5b-hf's tower at its real size: 384 / 14 gives 27 x 27 = 729
    // patches (6 pixels no patch reads), as transformers' num_patches; no pooling head.
    const json interleave = {{"model_type", "llava"},
                             {"vision_feature_layer", -1},
                             {"vision_feature_select_strategy", "full"},
                             {"text_config", {{"model_type", "qwen2"}, {"hidden_size", 896}}},
                             {"vision_config",
                              {{"model_type", "siglip_vision_model"},
                               {"hidden_size", 1152},
                               {"image_size", 384},
                               {"intermediate_size", 4304},
                               {"num_attention_heads", 16},
                               {"num_hidden_layers", 26},
                               {"patch_size", 14},
                               {"vision_use_head", false}}}};
    const auto il = std::get<LlavaConfig>(parse_model_config(interleave.dump(), "test"));
    QCOMPARE(il.vision.image_size / il.vision.patch_size, 27);
    QCOMPARE(il.image_seq_length, 729);
    QVERIFY(!il.anyres());
    // Refused with the field named: pinpoints off the tile size, a bad aspect-ratio rule, an
    // unknown tower, a layer outside the tower.
    auto fails = [](json c, const std::string& field) {
      try {
        parse_model_config(c.dump(), "test");
      } catch (const ModelError& e) {
        return std::string(e.what()).find(field) != std::string::npos;
      }
      return false;
    };
    json bad = next;
    bad["image_grid_pinpoints"] = {{336, 600}};
    QVERIFY(fails(bad, "image_grid_pinpoints"));
    bad = onevision;
    bad["vision_aspect_ratio"] = "anyres";
    QVERIFY(fails(bad, "vision_aspect_ratio"));
    bad = next;
    bad["vision_config"]["model_type"] = "dinov2";
    QVERIFY(fails(bad, "vision_config.model_type"));
    bad = next;
    bad["vision_feature_layer"] = {-2, 40};
    QVERIFY(fails(bad, "vision_feature_layer"));
  }

  // --tile 2: blocks of 2 x 2 tokens on each view's grid, each block's rectangle the bounding box
  // of its tokens'.
  void tiled_candidates() {
    const auto& l = load("next", next_spec(false), 21);
    auto image = half_solid(300, 180);
    ExplainRequest r;
    r.model = l.model;
    r.image = image;
    r.prompt = "<image>\nWhat is in the picture?";
    r.target = " a red square";
    r.tile = 2;
    r.batch_size = 16;
    const Explanation e = AtmanExplainer().attribute(r);
    const Plan p = ref_plan(300, 180, l.spec);
    const PixelTensor pixels = l.model->preprocess(*image);
    const auto layout = l.model->impl().llava->image_layout(pixels.geometry);
    int base = 0, tiles = 0;
    for (const Candidate& c : e.candidates) {
      if (c.kind != CandidateKind::Patch) continue;
      (c.view == 0 ? base : tiles) += 1;
      QVERIFY(c.positions.size() >= 1 && c.positions.size() <= 4);
      QVERIFY(std::isfinite(c.value));
      QCOMPARE(c.row % 2, 0);
      QCOMPARE(c.col % 2, 0);
      double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
      for (const ImageToken& t : layout)
        if (!t.newline && t.view == c.view && t.row / 2 == c.row / 2 && t.col / 2 == c.col / 2) {
          x0 = std::min(x0, t.rect.x), y0 = std::min(y0, t.rect.y);
          x1 = std::max(x1, t.rect.x + t.rect.width), y1 = std::max(y1, t.rect.y + t.rect.height);
        }
      QVERIFY(std::abs(c.rect.x - x0) < 1e-9 && std::abs(c.rect.y - y0) < 1e-9);
      QVERIFY(std::abs(c.rect.x + c.rect.width - x1) < 1e-9);
      QVERIFY(std::abs(c.rect.y + c.rect.height - y1) < 1e-9);
    }
    QCOMPARE(base, (kGrid / 2) * (kGrid / 2));
    QCOMPARE(tiles, ((p.oh + 1) / 2) * ((p.ow + 1) / 2));
  }

  void input_layout_and_errors() {
    const auto& l = load("next", next_spec(false), 21);
    const std::string prompt = "<image>\nWhat is it?";
    QVERIFY_THROWS_EXCEPTION(InputError, input_layout(*l.model, prompt));
    RgbImage image_300x180;
    image_300x180.width = 300;
    image_300x180.height = 180;
    image_300x180.pixels.assign(300 * 180 * 3, 128);
    const PixelTensor pixels = l.model->preprocess(image_300x180);
    QCOMPARE(pixels.geometry.original_width, 300);
    QCOMPARE(pixels.geometry.original_height, 180);
    const auto layout = input_layout(*l.model, prompt, &pixels);
    // The layout reads the input's size and geometry only: input_shape (no resampling) agrees.
    const PixelTensor shape = l.model->input_shape(300, 180);
    const auto from_shape = input_layout(*l.model, prompt, &shape);
    QCOMPARE(from_shape.size(), layout.size());
    for (size_t i = 0; i < layout.size(); ++i)
      QVERIFY(from_shape[i].is_image == layout[i].is_image &&
              from_shape[i].view == layout[i].view && from_shape[i].row == layout[i].row &&
              from_shape[i].col == layout[i].col && from_shape[i].rect.x == layout[i].rect.x &&
              from_shape[i].rect.y == layout[i].rect.y &&
              from_shape[i].rect.width == layout[i].rect.width &&
              from_shape[i].rect.height == layout[i].rect.height);
    int image = 0, base = 0;
    for (const auto& p : layout) {
      image += p.is_image;
      base += p.is_image && p.view == 0;
    }
    QCOMPARE(image, 52);
    QCOMPARE(base, kGrid * kGrid);
    // Steering the top-left 2 x 2 base patches (the picture's top-left quarter) reaches the tile
    // tokens of that quarter too, and no others.
    const auto region = patch_region_positions(layout, 0, 1, 0, 1);
    int in_tiles = 0;
    for (int64_t p : region) {
      const InputPosition& x = layout[p];
      QVERIFY(x.is_image);
      if (x.view == 0) {
        QVERIFY(x.row <= 1 && x.col <= 1);
      } else {
        ++in_tiles;
        QVERIFY(x.rect.x + x.rect.width / 2 < 150 && x.rect.y + x.rect.height / 2 < 90);
      }
    }
    int want_tiles = 0;
    for (const auto& x : layout)
      want_tiles += x.is_image && x.view == 1 && x.row >= 0 && x.col >= 0 &&
                    x.rect.x + x.rect.width / 2 < 150 && x.rect.y + x.rect.height / 2 < 90;
    QVERIFY(want_tiles > 0);
    QCOMPARE(in_tiles, want_tiles);
    QVERIFY(std::is_sorted(region.begin(), region.end()));
    // A SigLIP tower with "default" cannot fill anyres tiles (HF's view() fails there too).
    Spec bad = onevision_spec();
    bad.strategy = "default";
    const fs::path dir =
        write_model(fs::path(tmp_.path().toStdString()) / "bad", bad, tensors_of(bad, 5));
    QVERIFY_THROWS_EXCEPTION(ModelError, Model::load(dir));
  }
};

QTEST_APPLESS_MAIN(TestLlavaNext)
#include "test_llava_next.moc"
