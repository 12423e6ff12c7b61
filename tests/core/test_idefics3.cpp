// Idefics3 / SmolVLM (HuggingFaceTB/SmolVLM-256M-Instruct, HuggingFaceTB/SmolVLM-Instruct) against
// float64 computations written here from transformers' image_processing_idefics3.py (the
// longest-edge resize, resize_for_vision_encoder, split_image), processing_idefics3.py (the prompt
// string), modeling_idefics3.py (Idefics3VisionEmbeddings' bucketed position ids, the SigLIP
// encoder with post_layernorm, Idefics3Connector's pixel shuffle and projection, inputs_merger)
// and modeling_llama.py (the decoder), without calling our model code. Then the token -> image
// rectangle map, a real AtMan explanation and its overlay on a non-square image whose left half is
// one colour.
//
// The tiny configs keep the real checkpoints' config.json fields and key layout
// ("model.vision_model.*", "model.connector.modality_projection.proj.weight",
// "model.text_model.*", "lm_head.weight"); what they are based on (no Hub access here): the
// transformers configuration classes and the checkpoints' files as published, as far as known
// (256M: SigLIP tower 512 px, patch 16, scale_factor 4 -> 64 tokens a view, processor
// longest_edge 2048 = 4 x 512, max_image_size 512, LANCZOS, mean = std = 0.5; Instruct (2B):
// 384 px, patch 14 (27 patches, 6 pixels no patch reads), scale_factor 3 -> 81 tokens,
// longest_edge 1536 = 4 x 384; SmolLM2-style Llama decoders). Shrunk: towers of 32 px / patch 4
// (8 x 8 patches, scale 4 -> 2 x 2 tokens) and 38 px / patch 4 (9 x 9 patches, 2 pixels unread,
// scale 3 -> 3 x 3 tokens), longest_edge 4 tiles, a byte-level tokenizer with SmolVLM's special
// tokens.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include "atman/baselines.h"
#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/heatmap.h"
#include "atman/hf_config.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "atman/prompt.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "image/idefics3_image.h"
#include "models/inputs.h"
#include "models/loaded_model.h"
#include "tokenizers/bpe.h"

using namespace atman;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using Weights = std::map<std::string, at::Tensor>;

constexpr int kVisionC = 32, kVisionHeads = 4, kVisionInter = 64, kVisionLayers = 2;
constexpr int kC = 48, kHeads = 6, kKvHeads = 2, kHeadDim = kC / kHeads, kInter = 64, kLayers = 2;
constexpr int kVocab = 300;
// Byte-level ids 0..255, the merge "\n\n" = 256, then SmolVLM's added tokens.
constexpr int kDoubleNewline = 256, kImStart = 257, kEndOfUtterance = 258, kFake = 259;
constexpr int kGlobal = 260, kImage = 261, kEndOfText = 262, kRowCol0 = 263;  // 36 row/col tokens
const std::string kTemplate =
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if "
    "message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in "
    "message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == "
    "'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if "
    "add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

struct Spec {
  std::string name;
  int image_size = 32, patch = 4, scale = 4;
  bool splitting = true;
  int grid() const { return image_size / patch; }
  int tokens() const { return grid() / scale; }  // a side of one view's token grid
  int seq() const { return tokens() * tokens(); }
};

Spec spec_256m() {
  return {"smolvlm-256m", 32, 4, 4, true};
}
Spec spec_instruct() {
  return {"smolvlm-instruct", 38, 4, 3, true};
}

std::string row_col(int r, int c) {
  return "<row_" + std::to_string(r) + "_col_" + std::to_string(c) + ">";
}

json tiny_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[tokenizers::alphabet_string(std::string(1, char(b)))] = b;
  const std::string nl = tokenizers::alphabet_string("\n");
  vocab[nl + nl] = kDoubleNewline;
  json tokens = {test::added_token(kImStart, "<|im_start|>"),
                 test::added_token(kEndOfUtterance, "<end_of_utterance>"),
                 test::added_token(kFake, "<fake_token_around_image>"),
                 test::added_token(kGlobal, "<global-img>"),
                 test::added_token(kImage, "<image>"),
                 test::added_token(kEndOfText, "<|endoftext|>")};
  for (int r = 1; r <= 6; ++r)
    for (int c = 1; c <= 6; ++c)
      tokens.push_back(test::added_token(kRowCol0 + (r - 1) * 6 + c - 1, row_col(r, c)));
  return test::byte_level_bpe_tokenizer(vocab, tokens, json::array({nl + " " + nl}));
}

json text_config() {
  return {{"model_type", "llama"},         {"architectures", {"VLlama3ForCausalLM"}},
          {"vocab_size", kVocab},          {"hidden_size", kC},
          {"intermediate_size", kInter},   {"num_hidden_layers", kLayers},
          {"num_attention_heads", kHeads}, {"num_key_value_heads", kKvHeads},
          {"head_dim", kHeadDim},          {"max_position_embeddings", 8192},
          {"rms_norm_eps", 1e-5},          {"rope_theta", 100000.0},
          {"hidden_act", "silu"},          {"pad_token_id", 2},
          {"bos_token_id", kImStart},      {"eos_token_id", kEndOfUtterance},
          {"tie_word_embeddings", false}};
}

json config_of(const Spec& s) {
  return {{"architectures", {"Idefics3ForConditionalGeneration"}},
          {"model_type", "idefics3"},
          {"image_token_id", kImage},
          {"scale_factor", s.scale},
          {"tie_word_embeddings", false},
          {"torch_dtype", "float32"},
          {"transformers_version", "4.46.0"},
          {"use_cache", true},
          {"text_config", text_config()},
          {"vision_config",
           {{"model_type", "idefics3_vision"},
            {"hidden_size", kVisionC},
            {"intermediate_size", kVisionInter},
            {"num_hidden_layers", kVisionLayers},
            {"num_attention_heads", kVisionHeads},
            {"image_size", s.image_size},
            {"patch_size", s.patch},
            {"layer_norm_eps", 1e-6},
            {"hidden_act", "gelu_pytorch_tanh"}}}};
}

json preprocessor_of(const Spec& s) {
  return {{"image_processor_type", "Idefics3ImageProcessor"},
          {"processor_class", "Idefics3Processor"},
          {"do_convert_rgb", true},
          {"do_image_splitting", s.splitting},
          {"do_normalize", true},
          {"do_pad", true},
          {"do_rescale", true},
          {"do_resize", true},
          {"image_mean", {0.5, 0.5, 0.5}},
          {"image_std", {0.5, 0.5, 0.5}},
          {"max_image_size", {{"longest_edge", s.image_size}}},
          {"resample", 1},
          {"rescale_factor", 1.0 / 255},
          {"size", {{"longest_edge", 4 * s.image_size}}}};
}

Weights tensors_of(const Spec& s, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  Weights t;
  const std::string v = "model.vision_model.";
  const int C = kVisionC, P = s.grid() * s.grid();
  t[v + "embeddings.patch_embedding.weight"] = 0.1 * at::randn({C, 3, s.patch, s.patch});
  t[v + "embeddings.patch_embedding.bias"] = 0.1 * at::randn({C});
  t[v + "embeddings.position_embedding.weight"] = 0.5 * at::randn({P, C});
  for (int l = 0; l < kVisionLayers; ++l) {
    const std::string p = v + "encoder.layers." + std::to_string(l) + ".";
    for (const char* n : {"layer_norm1", "layer_norm2"}) {
      t[p + n + ".weight"] = 1 + 0.1 * at::randn({C});
      t[p + n + ".bias"] = 0.1 * at::randn({C});
    }
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      t[p + "self_attn." + n + ".weight"] = 0.2 * at::randn({C, C});
      t[p + "self_attn." + n + ".bias"] = 0.1 * at::randn({C});
    }
    t[p + "mlp.fc1.weight"] = 0.2 * at::randn({kVisionInter, C});
    t[p + "mlp.fc1.bias"] = 0.1 * at::randn({kVisionInter});
    t[p + "mlp.fc2.weight"] = 0.2 * at::randn({C, kVisionInter});
    t[p + "mlp.fc2.bias"] = 0.1 * at::randn({C});
  }
  t[v + "post_layernorm.weight"] = 1 + 0.1 * at::randn({C});
  t[v + "post_layernorm.bias"] = 0.1 * at::randn({C});
  t["model.connector.modality_projection.proj.weight"] =
      0.2 * at::randn({kC, C * s.scale * s.scale});
  test::TinyDecoder lm;
  lm.config = text_config();
  lm.seed = seed + 1;
  for (auto& [name, tensor] : test::tiny_decoder_tensors(lm))
    t[name == "lm_head.weight" ? name : "model.text_model." + name.substr(6)] = tensor;
  return t;
}

void write_json(const fs::path& path, const json& value) {
  std::ofstream(path) << value.dump(2);
}

fs::path write_model(const fs::path& dir, const Spec& s, const Weights& w) {
  fs::create_directories(dir);
  write_json(dir / "config.json", config_of(s));
  write_json(dir / "preprocessor_config.json", preprocessor_of(s));
  write_json(dir / "processor_config.json",
             {{"image_seq_len", s.seq()}, {"processor_class", "Idefics3Processor"}});
  write_json(dir / "chat_template.json", {{"chat_template", kTemplate}});
  write_json(dir / "tokenizer.json", tiny_tokenizer());
  write_json(dir / "tokenizer_config.json", {{"add_bos_token", false},
                                             {"bos_token", "<|im_start|>"},
                                             {"eos_token", "<end_of_utterance>"},
                                             {"tokenizer_class", "GPT2Tokenizer"}});
  test::write_weights(dir, w, test::TinyDType::F32, false);
  return dir;
}

// ---- float64 references, from the transformers sources --------------------------------------

// The processor's sizes (image_processing_idefics3.py), in Python's arithmetic.
struct RefPlan {
  int h1 = 0, w1 = 0;  // after the longest-edge resize
  int h2 = 0, w2 = 0;  // after resize_for_vision_encoder
  int rows = 0, cols = 0;
};

RefPlan ref_plan(int W, int H, const Spec& s) {
  RefPlan p;
  const int L = 4 * s.image_size, M = s.image_size;
  // _resize_output_size_rescale_to_max_len(height, width, max_len=L)
  double aspect = double(W) / H;
  int height = H, width = W;
  if (width >= height) {
    width = L;
    height = int(width / aspect);
    if (height % 2 != 0) height += 1;
  } else {
    height = L;
    width = int(height * aspect);
    if (width % 2 != 0) width += 1;
  }
  p.h1 = std::max(height, 1), p.w1 = std::max(width, 1);
  if (!s.splitting) {
    p.h2 = p.w2 = M;
    return p;
  }
  // resize_for_vision_encoder(image, M)
  aspect = double(p.w1) / p.h1;
  height = p.h1, width = p.w1;
  if (width >= height) {
    width = int(std::ceil(double(width) / M)) * M;
    height = int(width / aspect);
    height = int(std::ceil(double(height) / M)) * M;
  } else {
    height = int(std::ceil(double(height) / M)) * M;
    width = int(height * aspect);
    width = int(std::ceil(double(width) / M)) * M;
  }
  p.h2 = height, p.w2 = width;
  // split_image: ceil(h / M) x ceil(w / M) crops when larger than one tile.
  if (height > M || width > M) {
    p.rows = int(std::ceil(double(height) / M));
    p.cols = int(std::ceil(double(width) / M));
  }
  return p;
}

// pixel_values: the crops row by row, then the global image, rescaled and normalised (float64).
at::Tensor ref_pixels(const RgbImage& image, const Spec& s) {
  const RefPlan p = ref_plan(image.width, image.height, s);
  const int M = s.image_size;
  const RgbImage a = resize_image(image, p.w1, p.h1, ResampleFilter::lanczos);
  const RgbImage b = resize_image(a, p.w2, p.h2, ResampleFilter::lanczos);
  std::vector<at::Tensor> views;
  auto view_of = [&](const RgbImage& img, int x0, int y0) {
    at::Tensor out = at::empty({3, M, M}, at::kDouble);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < M; ++y)
        for (int x = 0; x < M; ++x)
          out[c][y][x] =
              (img.pixels[(size_t(y0 + y) * img.width + x0 + x) * 3 + c] / 255.0 - 0.5) / 0.5;
    return out;
  };
  for (int r = 0; r < p.rows; ++r)
    for (int c = 0; c < p.cols; ++c) views.push_back(view_of(b, c * M, r * M));
  const RgbImage global =
      (b.width == M && b.height == M) ? b : resize_image(b, M, M, ResampleFilter::lanczos);
  views.push_back(view_of(global, 0, 0));
  return at::stack(views);
}

// Idefics3Processor's image string (_prompt_split_image / _prompt_single_image).
std::string ref_image_string(const RefPlan& p, const Spec& s) {
  std::string image;
  for (int k = 0; k < s.seq(); ++k) image += "<image>";
  const std::string fake = "<fake_token_around_image>";
  if (p.rows == 0 && p.cols == 0) return fake + "<global-img>" + image + fake;
  std::string text;
  for (int h = 0; h < p.rows; ++h) {
    for (int w = 0; w < p.cols; ++w) text += fake + row_col(h + 1, w + 1) + image;
    text += "\n";
  }
  return text + "\n" + fake + "<global-img>" + image + fake;
}

// Idefics3VisionEmbeddings: fractional coordinates k / n bucketed against boundaries j / side.
std::vector<int64_t> ref_position_ids(int rows, int cols, int side) {
  auto bucket = [&](int k, int n) {
    int b = 0;
    for (int j = 1; j < side; ++j) b += double(j) / side <= double(k) / n;
    return b;
  };
  std::vector<int64_t> out;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out.push_back(int64_t(bucket(r, rows)) * side + bucket(c, cols));
  return out;
}

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

// Softmax attention one head at a time over (V, T, C) inputs.
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int heads) {
  const int64_t D = q.size(-1) / heads;
  std::vector<at::Tensor> outs;
  for (int h = 0; h < heads; ++h) {
    at::Tensor qh = q.slice(-1, h * D, (h + 1) * D), kh = k.slice(-1, h * D, (h + 1) * D);
    at::Tensor s = at::matmul(qh, kh.transpose(-1, -2)) / std::sqrt(double(D));
    at::Tensor e = at::exp(s - std::get<0>(s.max(-1, true)));
    outs.push_back(at::matmul(e / e.sum(-1, true), v.slice(-1, h * D, (h + 1) * D)));
  }
  return at::cat(outs, -1);
}

// Idefics3VisionTransformer's last_hidden_state for views (V, 3, S, S): (V, P, C).
at::Tensor ref_vision(const at::Tensor& views, const Weights& w, const Spec& s) {
  const std::string v = "model.vision_model.";
  const int g = s.grid(), p = s.patch;
  at::Tensor kernel = d(w, v + "embeddings.patch_embedding.weight").reshape({kVisionC, -1});
  const std::vector<int64_t> ids = ref_position_ids(g, g, g);
  std::vector<at::Tensor> per_view;
  for (int64_t i = 0; i < views.size(0); ++i) {
    std::vector<at::Tensor> rows;
    for (int py = 0; py < g; ++py)
      for (int px = 0; px < g; ++px) {
        at::Tensor patch =
            views[i].slice(1, py * p, (py + 1) * p).slice(2, px * p, (px + 1) * p).reshape({-1});
        rows.push_back(at::matmul(kernel, patch) + d(w, v + "embeddings.patch_embedding.bias") +
                       d(w, v + "embeddings.position_embedding.weight")[ids[rows.size()]]);
      }
    per_view.push_back(at::stack(rows));
  }
  at::Tensor x = at::stack(per_view);
  for (int l = 0; l < kVisionLayers; ++l) {
    const std::string q = v + "encoder.layers." + std::to_string(l) + ".";
    at::Tensor h = layer_norm(x, w, q + "layer_norm1", 1e-6);
    x = x +
        linear(attend(linear(h, w, q + "self_attn.q_proj"), linear(h, w, q + "self_attn.k_proj"),
                      linear(h, w, q + "self_attn.v_proj"), kVisionHeads),
               w, q + "self_attn.out_proj");
    h = linear(layer_norm(x, w, q + "layer_norm2", 1e-6), w, q + "mlp.fc1");
    x = x + linear(gelu_tanh(h), w, q + "mlp.fc2");
  }
  return layer_norm(x, w, v + "post_layernorm", 1e-6);
}

// Idefics3Connector: pixel_shuffle written as the index map it is, then the projection.
at::Tensor ref_shuffle(const at::Tensor& x, const Spec& s) {
  const int g = s.grid(), sf = s.scale, n = g / sf;
  const int64_t V = x.size(0), C = x.size(2);
  at::Tensor out = at::empty({V, n * n, C * sf * sf}, at::kDouble);
  for (int64_t v = 0; v < V; ++v)
    for (int R = 0; R < n; ++R)
      for (int Cc = 0; Cc < n; ++Cc)
        for (int i = 0; i < sf; ++i)
          for (int j = 0; j < sf; ++j)
            out[v][R * n + Cc].slice(0, (i * sf + j) * C, (i * sf + j + 1) * C) =
                x[v][(R * sf + i) * g + Cc * sf + j];
  return out;
}

at::Tensor ref_features(const at::Tensor& views, const Weights& w, const Spec& s) {
  at::Tensor shuffled = ref_shuffle(ref_vision(views, w, s), s);
  return at::matmul(shuffled, d(w, "model.connector.modality_projection.proj.weight").t())
      .reshape({-1, kC});
}

at::Tensor rms(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x / at::sqrt(x.pow(2).mean(-1, true) + eps) * weight.to(at::kDouble);
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({-x.slice(-1, h), x.slice(-1, 0, h)}, -1);
}

// LlamaForCausalLM (the text model and lm_head) in float64 over input embeddings (T, C).
at::Tensor ref_logits(const Weights& w, const at::Tensor& embeds) {
  const int64_t T = embeds.size(0), hd = kHeadDim;
  at::Tensor inv_freq = 1.0 / at::pow(100000.0, at::arange(0, hd, 2, at::kDouble) / double(hd));
  at::Tensor freqs = at::arange(T, at::kDouble).unsqueeze(1) * inv_freq.unsqueeze(0);
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  const at::Tensor cos = emb.cos(), sin = emb.sin();
  const at::Tensor causal = at::ones({T, T}, at::kBool).triu(1);
  auto lin = [&](const std::string& name, const at::Tensor& x) {
    return at::matmul(x, d(w, name + ".weight").t());
  };
  at::Tensor x = embeds;
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.text_model.layers." + std::to_string(l) + ".";
    at::Tensor h = rms(x, w.at(p + "input_layernorm.weight"), 1e-5);
    at::Tensor q = lin(p + "self_attn.q_proj", h).reshape({T, kHeads, hd}).transpose(0, 1);
    at::Tensor k = lin(p + "self_attn.k_proj", h).reshape({T, kKvHeads, hd}).transpose(0, 1);
    at::Tensor v = lin(p + "self_attn.v_proj", h).reshape({T, kKvHeads, hd}).transpose(0, 1);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    k = k.repeat_interleave(kHeads / kKvHeads, 0);
    v = v.repeat_interleave(kHeads / kKvHeads, 0);
    at::Tensor scores = at::matmul(q, k.transpose(1, 2)) / std::sqrt(double(hd));
    scores = scores.masked_fill(causal, -std::numeric_limits<double>::infinity());
    at::Tensor y = at::matmul(at::softmax(scores, -1), v).transpose(0, 1).reshape({T, kC});
    x = x + lin(p + "self_attn.o_proj", y);
    h = rms(x, w.at(p + "post_attention_layernorm.weight"), 1e-5);
    x = x +
        lin(p + "mlp.down_proj", at::silu(lin(p + "mlp.gate_proj", h)) * lin(p + "mlp.up_proj", h));
  }
  x = rms(x, w.at("model.text_model.norm.weight"), 1e-5);
  return at::matmul(x, d(w, "lm_head.weight").t());
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

const std::string kQuestion =
    "<|im_start|>User:<image>What is in the picture?<end_of_utterance>\n"
    "Assistant:";

}  // namespace

class TestIdefics3 : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;

  struct Loaded {
    Spec spec;
    Weights weights;
    std::shared_ptr<const Model> model;
    const Idefics3Model& idefics3() const { return *model->impl().idefics3; }
  };
  std::map<std::string, Loaded> models_;

  const Loaded& load(const Spec& spec, uint64_t seed) {
    auto it = models_.find(spec.name);
    if (it != models_.end()) return it->second;
    Loaded l{spec, tensors_of(spec, seed), nullptr};
    l.model =
        Model::load(write_model(fs::path(tmp_.path().toStdString()) / spec.name, spec, l.weights));
    return models_.emplace(spec.name, std::move(l)).first->second;
  }

 private slots:
  void config_fields() {
    const auto& l = load(spec_256m(), 7);
    QCOMPARE(l.model->architecture(), std::string("Idefics3"));
    QCOMPARE(l.model->kind(), ModelKind::Llava);
    QVERIFY(l.model->capabilities().reads_images && l.model->capabilities().generates);
    const auto& c = std::get<Idefics3Config>(l.model->impl().config);
    QCOMPARE(c.image_token_id, kImage);
    QCOMPARE(c.scale_factor, 4);
    QCOMPARE(c.image_seq_len(), 4);
    QCOMPARE(c.vision.hidden_act, Activation::GeluTanh);
    QCOMPARE(c.text.num_key_value_heads, kKvHeads);
    QCOMPARE(l.model->patch_grid(), 2);  // the global view's token grid
    // Idefics3VisionConfig's own defaults when a field is left out (its 224 / 32 = 7 patches do
    // not shuffle by the default scale_factor 2: HF's view fails there too, so it is refused);
    // Idefics3-8B's 364 px / patch 14 tower.
    json bare = {{"model_type", "idefics3"},
                 {"text_config", json::object()},
                 {"vision_config", json::object()}};
    QVERIFY_THROWS_EXCEPTION(ModelError, parse_model_config(bare.dump(), "test"));
    bare["vision_config"] = {{"image_size", 364}, {"patch_size", 14}};
    const auto def = std::get<Idefics3Config>(parse_model_config(bare.dump(), "test"));
    QCOMPARE(def.vision.hidden_size, 1152);
    QCOMPARE(def.vision.num_attention_heads, 16);
    QCOMPARE(def.vision.num_hidden_layers, 12);
    QCOMPARE(def.scale_factor, 2);
    QCOMPARE(def.image_seq_len(), 169);
    QCOMPARE(def.text.model_type, std::string("llama"));
    QCOMPARE(def.image_token_id, 128257);
    json real = {{"model_type", "idefics3"},
                 {"scale_factor", 4},
                 {"image_token_id", 49190},
                 {"text_config", text_config()},
                 {"vision_config",
                  {{"image_size", 512},
                   {"patch_size", 16},
                   {"hidden_size", 768},
                   {"num_attention_heads", 12}}}};
    QCOMPARE(std::get<Idefics3Config>(parse_model_config(real.dump(), "test")).image_seq_len(), 64);
    // A scale factor that does not divide the patch grid cannot shuffle it.
    real["scale_factor"] = 3;
    QVERIFY_THROWS_EXCEPTION(ModelError, parse_model_config(real.dump(), "test"));
    // The processor's image_seq_len must be what the tower gives.
    const fs::path bad = fs::path(tmp_.path().toStdString()) / "bad_seq";
    write_model(bad, spec_256m(), l.weights);
    write_json(bad / "processor_config.json", {{"image_seq_len", 64}});
    QVERIFY_THROWS_EXCEPTION(ModelError, Model::load(bad));
  }

  // The CLI opens it like the other LLaVA-style models: the question through the chat template,
  // an explanation with its overlay (tiles and global view summed), a greedy continuation.
  void cli() {
    const auto& l = load(spec_256m(), 7);
    const QString image = tmp_.filePath("half.png"), out = tmp_.filePath("smolvlm.json"),
                  png = tmp_.filePath("smolvlm.png");
    save_png(*half_solid(100, 60), image.toStdString());
    const QString dir = QString::fromStdString(l.model->dir().string());
    QProcess cli;
    cli.start(ATMAN_CLI,
              {"explain", "--model", dir, "--image", image, "--question", "What is in the picture?",
               "--target", " a red", "--json", out, "--png", png});
    QVERIFY(cli.waitForFinished(120000));
    QString output = cli.readAllStandardOutput() + cli.readAllStandardError();
    QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(output));
    std::ifstream in(out.toStdString());
    const json e = json::parse(in);
    QCOMPARE(e["prompt"].get<std::string>(), kQuestion);
    QCOMPARE(e["candidates"].size(), size_t{52});  // 12 tiles and the global view, 4 tokens each
    QVERIFY(QFileInfo(png).size() > 0);
    cli.start(ATMAN_CLI, {"generate", "--model", dir, "--image", image, "--question",
                          "What is in the picture?", "--max-new-tokens", "2"});
    QVERIFY(cli.waitForFinished(120000));
    output = cli.readAllStandardOutput() + cli.readAllStandardError();
    QVERIFY2(cli.exitStatus() == QProcess::NormalExit && cli.exitCode() == 0, qPrintable(output));
  }

  // SmolVLM2 (SmolVLMForConditionalGeneration, model_type "smolvlm") is Idefics3's code with its
  // own config names: the same weights give the same features and logits.
  void smolvlm2_same_model() {
    const auto& a = load(spec_256m(), 7);
    json config = config_of(a.spec);
    config["model_type"] = "smolvlm";
    config["architectures"] = {"SmolVLMForConditionalGeneration"};
    config["vision_config"]["model_type"] = "smolvlm_vision";
    const fs::path dir = fs::path(tmp_.path().toStdString()) / "smolvlm2";
    write_model(dir, a.spec, a.weights);
    write_json(dir / "config.json", config);
    const auto b = Model::load(dir);
    QCOMPARE(b->architecture(), std::string("SmolVLM2"));
    c10::InferenceMode guard;
    auto image = half_solid(70, 90);
    const PixelTensor pixels = b->preprocess(*image);
    const LmForward fa = lm_forward(*a.model, kQuestion, &pixels);
    const LmForward fb = lm_forward(*b, kQuestion, &pixels);
    QCOMPARE(fa.ids, fb.ids);
    QCOMPARE(fa.last_logits, fb.last_logits);
  }

  void processor_sizes_and_pixels() {
    for (const Spec& s : {spec_256m(), spec_instruct()}) {
      const auto& l = load(s, s.name == "smolvlm-256m" ? 7 : 8);
      for (auto [W, H] :
           std::vector<std::pair<int, int>>{{100, 60}, {60, 100}, {7, 5}, {300, 300}}) {
        auto image = half_solid(W, H);
        const RefPlan p = ref_plan(W, H, s);
        const Idefics3Layout got = l.idefics3().layout(W, H);
        QCOMPARE(got.longest_width, p.w1);
        QCOMPARE(got.longest_height, p.h1);
        QCOMPARE(got.resized_width, p.w2);
        QCOMPARE(got.resized_height, p.h2);
        QCOMPARE(got.rows, p.rows);
        QCOMPARE(got.cols, p.cols);
        const PixelTensor pixels = l.model->preprocess(*image);
        QCOMPARE(pixels.views, p.rows * p.cols + 1);
        QCOMPARE(pixels.width, s.image_size);
        const double err = max_abs_diff(pixels_to_tensor(pixels, at::kCPU), ref_pixels(*image, s));
        std::printf("%s %dx%d: resized %dx%d, %dx%d tiles + global, pixels max |diff| %.2e\n",
                    s.name.c_str(), W, H, p.w2, p.h2, p.rows, p.cols, err);
        QVERIFY(err < 1e-5);
      }
    }
    // Worked by hand for the 256M model (tile 32, longest edge 128): 100 x 60 -> 128 x 76 (76.8
    // truncated, even) -> 128 x 96 -> 3 x 4 tiles; 60 x 100 the transpose.
    const RefPlan wide = ref_plan(100, 60, spec_256m());
    QCOMPARE(wide.h1, 76);
    QCOMPARE(wide.rows, 3);
    QCOMPARE(wide.cols, 4);
    const RefPlan tall = ref_plan(60, 100, spec_256m());
    QCOMPARE(tall.rows, 4);
    QCOMPARE(tall.cols, 3);
    // Without do_image_splitting the image is squashed to one tile: the global view alone.
    Spec single = spec_256m();
    single.name = "smolvlm-single";
    single.splitting = false;
    const auto& l = load(single, 7);
    auto image = half_solid(100, 60);
    const PixelTensor pixels = l.model->preprocess(*image);
    QCOMPARE(pixels.views, 1);
    QVERIFY(max_abs_diff(pixels_to_tensor(pixels, at::kCPU), ref_pixels(*image, single)) < 1e-5);
    QCOMPARE(l.idefics3().image_layout(pixels.geometry).size(), size_t(4));
  }

  void prompt_string_and_ids() {
    for (const Spec& s : {spec_256m(), spec_instruct()}) {
      const auto& l = load(s, s.name == "smolvlm-256m" ? 7 : 8);
      const Tokenizer& tok = l.model->tokenizer();
      auto image = half_solid(100, 60);
      const PixelTensor pixels = l.model->preprocess(*image);
      const RefPlan p = ref_plan(100, 60, s);
      const std::string want = ref_image_string(p, s);
      QCOMPARE(l.idefics3().image_prompt(l.idefics3().layout(100, 60)), want);
      // The processor replaces <image> in the text, then tokenizes the whole: the same ids as our
      // expansion spliced into the tokenized prompt.
      std::string full = kQuestion;
      full.replace(full.find("<image>"), 7, want);
      const std::vector<int64_t> ref_ids = tok.encode(full).ids;
      const std::vector<int64_t> ids =
          l.idefics3().expand_image_tokens(tok.encode(kQuestion).ids, tok, pixels.geometry);
      QCOMPARE(ids, ref_ids);
      QCOMPARE(int(std::count(ids.begin(), ids.end(), kImage)), (p.rows * p.cols + 1) * s.seq());
      QVERIFY(std::count(ids.begin(), ids.end(), kDoubleNewline) == 1);  // "\n\n" before global
      // Markers in order, each followed by its view's run of <image>.
      int markers = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] < kRowCol0 && ids[i] != kGlobal) continue;
        const int expect = markers < p.rows * p.cols
                               ? kRowCol0 + (markers / p.cols) * 6 + markers % p.cols
                               : kGlobal;
        QCOMPARE(int(ids[i]), expect);
        QCOMPARE(int(ids[i - 1]), kFake);
        for (int k = 1; k <= s.seq(); ++k) QCOMPARE(int(ids[i + k]), kImage);
        ++markers;
      }
      QCOMPARE(markers, p.rows * p.cols + 1);
    }
    // The chat template's prompt puts the image right after "User:".
    const auto& l = load(spec_256m(), 7);
    QCOMPARE(default_prompt(l.model->dir(), "What is in the picture?", true), kQuestion);
  }

  void position_ids() {
    // Full grids (one image never pads), the real 27 and 32 included, and partial ones.
    for (auto [r, c, side] : std::vector<std::tuple<int, int, int>>{{8, 8, 8},
                                                                    {9, 9, 9},
                                                                    {27, 27, 27},
                                                                    {32, 32, 32},
                                                                    {5, 7, 8},
                                                                    {5, 7, 9},
                                                                    {20, 13, 27}}) {
      const at::Tensor got = idefics3_position_ids(r, c, side);
      const std::vector<int64_t> want = ref_position_ids(r, c, side);
      QCOMPARE(got.numel(), int64_t(want.size()));
      for (size_t i = 0; i < want.size(); ++i) QCOMPARE(got[i].item<int64_t>(), want[i]);
    }
  }

  void vision_connector_and_logits() {
    for (const Spec& s : {spec_256m(), spec_instruct()}) {
      const auto& l = load(s, s.name == "smolvlm-256m" ? 7 : 8);
      c10::InferenceMode guard;
      auto image = half_solid(100, 60);
      const PixelTensor pixels = l.model->preprocess(*image);
      const at::Tensor views = pixels_to_tensor(pixels, at::kCPU);
      const at::Tensor ref_hidden = ref_vision(views.to(at::kDouble), l.weights, s);
      const double vision_err = max_abs_diff(l.idefics3().vision_hidden(views), ref_hidden);
      // The shuffle alone, on the reference's own hidden states.
      const double shuffle_err =
          max_abs_diff(idefics3_pixel_shuffle(ref_hidden, s.scale), ref_shuffle(ref_hidden, s));
      const at::Tensor features = l.idefics3().image_features(views);
      const at::Tensor ref_f = ref_features(views.to(at::kDouble), l.weights, s);
      const double feature_err = max_abs_diff(features.squeeze(0), ref_f);
      QCOMPARE(features.size(1), int64_t(pixels.views) * s.seq());
      // Logits of the whole prompt: token embeddings with the features at the <image> rows.
      const Tokenizer& tok = l.model->tokenizer();
      const std::vector<int64_t> ids =
          l.idefics3().expand_image_tokens(tok.encode(kQuestion).ids, tok, pixels.geometry);
      at::Tensor embeds = d(l.weights, "model.text_model.embed_tokens.weight")
                              .index_select(0, at::tensor(ids, at::kLong));
      int64_t k = 0;
      for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == kImage) embeds[int64_t(i)] = ref_f[k++];
      const at::Tensor ref = ref_logits(l.weights, embeds);
      const LlamaModel& lm = l.idefics3().language_model();
      const at::Tensor ours =
          lm.lm_logits(
                lm.forward_embeds(l.idefics3().input_embeds(ids, features), nullptr, nullptr))
              .squeeze(0);
      const double logit_err = max_abs_diff(ours, ref);
      // The public forward (Model::preprocess pixels, <image> in the text) gives the last row.
      const LmForward fwd = lm_forward(*l.model, kQuestion, &pixels);
      QCOMPARE(fwd.ids, ids);
      double last_err = 0;
      for (int64_t v = 0; v < kVocab; ++v)
        last_err = std::max(last_err, std::abs(fwd.last_logits[v] - ref[-1][v].item<double>()));
      std::printf(
          "%s: %d views; vision max |diff| %.2e, shuffle %.2e, connector %.2e, logits "
          "%.2e (last row via lm_forward %.2e, max |logit| %.2f)\n",
          s.name.c_str(), pixels.views, vision_err, shuffle_err, feature_err, logit_err, last_err,
          ref.abs().max().item<double>());
      QVERIFY(vision_err < 1e-4);
      QCOMPARE(shuffle_err, 0.0);
      QVERIFY(feature_err < 1e-4);
      QVERIFY(logit_err < 1e-3);
      QVERIFY(last_err < 1e-3);
    }
  }

  // Every image token's rectangle (the union of its scale² patches through the tile or the global
  // view), and the pixels under a token well inside the solid left half are that colour alone.
  void rect_map() {
    for (const Spec& s : {spec_256m(), spec_instruct()}) {
      const auto& l = load(s, s.name == "smolvlm-256m" ? 7 : 8);
      const int W = 100, H = 60;
      auto image = half_solid(W, H);
      const PixelTensor pixels = l.model->preprocess(*image);
      const auto layout = l.idefics3().image_layout(pixels.geometry);
      const RefPlan p = ref_plan(W, H, s);
      const int n = s.tokens(), M = s.image_size, side = s.scale * s.patch;
      QCOMPARE(layout.size(), size_t((p.rows * p.cols + 1) * n * n));
      const size_t plane = size_t(M) * M;
      int solid = 0;
      for (size_t k = 0; k < layout.size(); ++k) {
        const ImageToken& t = layout[k];
        const int view = int(k) / (n * n), within = int(k) % (n * n);
        const int R = within / n, Cc = within % n;
        const bool global = view == p.rows * p.cols;
        double x0, y0, sx, sy;
        if (global) {
          sx = double(W) / M, sy = double(H) / M;
          x0 = Cc * side * sx, y0 = R * side * sy;
          QCOMPARE(t.view, 0);
          QCOMPARE(t.row, R);
          QCOMPARE(t.col, Cc);
        } else {
          const int tr = view / p.cols, tc = view % p.cols;
          sx = double(W) / p.w2, sy = double(H) / p.h2;
          x0 = (tc * M + Cc * side) * sx, y0 = (tr * M + R * side) * sy;
          QCOMPARE(t.view, 1);
          QCOMPARE(t.row, tr * n + R);
          QCOMPARE(t.col, tc * n + Cc);
        }
        const double x1 = std::min(x0 + side * sx, double(W)),
                     y1 = std::min(y0 + side * sy, double(H));
        QVERIFY(std::abs(t.rect.x - x0) < 1e-9 && std::abs(t.rect.y - y0) < 1e-9);
        QVERIFY(std::abs(t.rect.width - (x1 - x0)) < 1e-9);
        QVERIFY(std::abs(t.rect.height - (y1 - y0)) < 1e-9);
        // Lanczos reaches 3 source pixels per output pixel: a margin of 3.5 scaled pixels.
        if (t.rect.x + t.rect.width > W / 2.0 - 3.5 * sx) continue;
        for (int c = 0; c < 3; ++c) {
          const float want = (float((c == 0 ? 200 : c == 1 ? 40 : 90) / 255.0) - 0.5f) / 0.5f;
          for (int y = 0; y < side; ++y)
            for (int x = 0; x < side; ++x) {
              const float v = pixels.values[size_t(view) * 3 * plane + c * plane +
                                            size_t(R * side + y) * M + Cc * side + x];
              QVERIFY2(std::abs(v - want) < 1e-5, "a left-half token sees other pixels");
            }
        }
        ++solid;
      }
      std::printf("%s: %zu image tokens, rects match; %d left-half tokens see only the colour\n",
                  s.name.c_str(), layout.size(), solid);
      QVERIFY(solid >= 4);
    }
  }

  // A real AtMan explanation end to end on a non-square image; then the overlay of values set on
  // the left-half tokens: no evidence on the right half in any view, tile + global summed.
  void explain_and_overlay_left_half() {
    const auto& l = load(spec_256m(), 7);
    const int W = 100, H = 60;
    auto image = half_solid(W, H);
    ExplainRequest r;
    r.model = l.model;
    r.image = image;
    r.prompt = kQuestion;
    r.target = " a red square";
    r.batch_size = 16;
    r.explain = ExplainWhat::All;  // image tokens and the question's words
    Explanation e = AtmanExplainer().attribute(r);
    const PixelTensor pixels = l.model->preprocess(*image);
    const auto layout = l.idefics3().image_layout(pixels.geometry);
    const std::vector<int64_t> ids = l.idefics3().expand_image_tokens(
        l.model->tokenizer().encode(kQuestion).ids, l.model->tokenizer(), pixels.geometry);
    std::vector<int64_t> image_positions;
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == kImage) image_positions.push_back(int64_t(i));
    // One candidate per image token at its position, with its view and rectangle.
    size_t patches = 0;
    int tiles = 0, text = 0;
    for (const Candidate& c : e.candidates) {
      QVERIFY(std::isfinite(c.value));
      if (c.kind != CandidateKind::Patch) {
        // Text candidates sit at the prompt's own tokens, never inside the image's expansion.
        for (int pos : c.positions)
          QVERIFY(pos < image_positions.front() - 2 || pos > image_positions.back() + 1);
        ++text;
        continue;
      }
      QCOMPARE(c.positions.size(), size_t(1));
      const auto at = std::find(image_positions.begin(), image_positions.end(), c.positions[0]);
      QVERIFY(at != image_positions.end());
      const ImageToken& t = layout[size_t(at - image_positions.begin())];
      QCOMPARE(c.view, t.view);
      QVERIFY(c.rect.x == t.rect.x && c.rect.width == t.rect.width && c.rect.y == t.rect.y);
      tiles += c.view == 1;
      ++patches;
    }
    QCOMPARE(patches, layout.size());
    QCOMPARE(tiles, 12 * 4);
    QVERIFY(text > 0);  // the question's words
    QCOMPARE(e.grid_rows, 2);

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
    o.scale_max = 1.0;
    Explanation zero = e;
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
    // All = global + tiles per pixel.
    QVERIFY(max_patch_value(e, OverlayView::All) >= 2.0 - 1e-12);
    QCOMPARE(max_patch_value(e, OverlayView::Base), 1.0);
    std::printf("AtMan: %zu image candidates (%d on tiles), %d text, baseline loss %.3f\n", patches,
                tiles, text, e.baseline_loss);

    // The input layout (steering, display): the processor's markers as text, image tokens placed.
    const auto positions = input_layout(*l.model, kQuestion, &pixels);
    QCOMPARE(positions.size(), ids.size());
    size_t k = 0;
    for (size_t i = 0; i < positions.size(); ++i) {
      QCOMPARE(positions[i].is_image, ids[i] == kImage);
      if (positions[i].is_image) {
        QCOMPARE(positions[i].view, layout[k].view);
        QCOMPARE(positions[i].rect.x, layout[k].rect.x);
        ++k;
      }
    }
    QCOMPARE(positions[image_positions[0] - 2].text, std::string("<fake_token_around_image>"));
    QCOMPARE(positions[image_positions[0] - 1].text, row_col(1, 1));
  }

  // The gradient and attention baselines on SmolVLM: AtMan's candidates (image tokens of every
  // view and the question's words) and target loss; Input×Gradient is the derivative of
  // F = Σ_t log p(target t) along scaling a candidate's input embeddings, checked by central
  // differences of the float64 reference decoder (ref_logits) at the same input; the attention
  // methods give non-negative values, raw attention at most 1 in all per target row.
  void baselines() {
    const auto& l = load(spec_256m(), 7);
    ExplainRequest r;
    r.model = l.model;
    r.image = half_solid(100, 60);
    r.prompt = kQuestion;
    r.target = " a red";
    r.explain = ExplainWhat::All;
    r.batch_size = 16;
    const Explanation atman = AtmanExplainer().attribute(r);

    // The explained input, as the processor and the connector give it.
    const Tokenizer& tok = l.model->tokenizer();
    const PixelTensor pixels = l.model->preprocess(*r.image);
    std::vector<int64_t> ids =
        l.idefics3().expand_image_tokens(tok.encode(kQuestion).ids, tok, pixels.geometry);
    const std::vector<int64_t> target = tok.encode(r.target).ids;
    QVERIFY(target.size() >= 2);
    const int64_t n_prompt = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), target.begin(), target.end() - 1);
    at::Tensor x0;
    {
      c10::InferenceMode guard;
      x0 = l.idefics3()
               .input_embeds(ids, l.idefics3().image_features(pixels_to_tensor(pixels, at::kCPU)))
               .squeeze(0)
               .to(at::kDouble);
    }
    auto F = [&](const at::Tensor& x) {
      const at::Tensor logp = at::log_softmax(ref_logits(l.weights, x), -1);
      double f = 0;
      for (size_t t = 0; t < target.size(); ++t)
        f += logp[n_prompt - 1 + int64_t(t)][target[t]].item<double>();
      return f;
    };
    const double f0 = F(x0);
    QVERIFY(std::abs(atman.baseline_loss + f0) < 1e-4);

    for (const auto& name : baseline_names()) {
      const Explanation e = make_baseline(name, {8})->attribute(r);
      QCOMPARE(e.candidates.size(), atman.candidates.size());
      double lowest = 0, largest = 0;
      std::vector<double> row_sum(target.size(), 0.0);
      for (size_t i = 0; i < e.candidates.size(); ++i) {
        const Candidate &a = e.candidates[i], &b = atman.candidates[i];
        QVERIFY(a.positions == b.positions && a.kind == b.kind && a.view == b.view);
        QCOMPARE(a.per_target.size(), target.size());
        QVERIFY2(std::isfinite(a.value), name.c_str());
        lowest = std::min(lowest, a.value);
        largest = std::max(largest, std::abs(a.value));
        for (size_t t = 0; t < target.size(); ++t) row_sum[t] += a.per_target[t];
      }
      QVERIFY2(std::abs(e.baseline_loss + f0) < 1e-4, name.c_str());
      std::printf("SmolVLM %s: %zu candidates, min %.3g, largest |value| %.3g\n", name.c_str(),
                  e.candidates.size(), lowest, largest);
      QVERIFY2(largest > 1e-6, name.c_str());
      if (name != "ixg" && name != "ig") QVERIFY2(lowest >= 0, name.c_str());
      if (name == "attention")
        for (double sum : row_sum) QVERIFY(sum <= 1 + 1e-5);
      if (name != "ixg") continue;
      at::NoGradGuard no_grad;
      const double h = 1e-5;
      int checked_image = 0, checked_text = 0;
      for (const Candidate& c : e.candidates) {
        const bool image = c.kind == CandidateKind::Patch;
        if ((image && checked_image >= 3) || (!image && checked_text >= 2)) continue;
        (image ? checked_image : checked_text)++;
        at::Tensor up = x0.clone(), down = x0.clone();
        for (int p : c.positions) {
          up[p].mul_(1 + h);
          down[p].mul_(1 - h);
        }
        const double fd = (F(up) - F(down)) / (2 * h);
        QVERIFY2(std::abs(c.value - fd) < 1e-4 + 1e-3 * std::abs(fd),
                 qPrintable(QString("ixg %1 vs central differences %2").arg(c.value).arg(fd)));
      }
      QVERIFY(checked_image == 3 && checked_text == 2);
    }
  }

  // Every baseline through the command line.
  void baselines_command() {
    const auto& l = load(spec_256m(), 7);
    const QString image = tmp_.filePath("half-baselines.png");
    save_png(*half_solid(100, 60), image.toStdString());
    const QString dir = QString::fromStdString(l.model->dir().string());
    for (const auto& name : baseline_names()) {
      const QString out = tmp_.filePath(QString::fromStdString("smolvlm-" + name + ".json"));
      const test::CliRun run =
          test::run_cli(ATMAN_CLI, {"explain", "--model", dir, "--image", image, "--question",
                                    "What is in the picture?", "--target", " a red", "--method",
                                    QString::fromStdString(name), "--json", out});
      QVERIFY2(run.ok, qPrintable(run.output));
      const json e = test::read_json(out.toStdString());
      QCOMPARE(e["method"].get<std::string>(), name);
      QCOMPARE(e["candidates"].size(), size_t{52});
    }
  }
};

QTEST_GUILESS_MAIN(TestIdefics3)
#include "test_idefics3.moc"
