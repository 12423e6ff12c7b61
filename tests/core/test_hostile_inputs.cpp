// The catalogue of hostile and odd inputs (docs/RELIABILITY.md): each row is one input a user or a
// download can produce, and the exact message the user gets for it (or a stable prefix, where the
// rest comes from a third-party parser), or no error at all where the input is fine. A row fails
// if the input crashes, throws anything but the expected atman::Error subclass, or words it
// differently: these messages are the user interface of failure, so changing one is deliberate.
//
// ATMAN_CATALOGUE=FILE appends the table as Markdown (paths shown as <tmp>) for the docs.
#include <ATen/ATen.h>

#include <QTemporaryDir>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>

#include <jpeglib.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/explanation.h"
#include "atman/heatmap.h"
#include "atman/hf_config.h"
#include "atman/image.h"
#include "atman/model.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "io/safetensors.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

// What a row does; it throws (or not) like the application would.
struct Action {
  std::function<void()> run;
};

enum class Match { Exact, Prefix };

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) qFatal("cannot write %s", path.c_str());
}

// Appends rather than `"'" + s + "'"`, which trips a false -Wrestrict in GCC 12.
std::string q(const fs::path& p) {
  std::string out(1, '\'');
  out += p.string();
  out += '\'';
  return out;
}

uint64_t header_length(const std::string& file) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file[size_t(i)]);
  return n;
}

std::string length_prefix(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out;
}

// A safetensors file from a hand-written header and `data` bytes.
std::string raw_safetensors(const std::string& header, size_t data) {
  return length_prefix(header.size()) + header + std::string(data, '\0');
}

uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xFF), char((v >> 8) & 0xFF), char(v & 0xFF)};
}

// A PNG signature and IHDR chunk (valid CRC) claiming width x height, and nothing else.
std::string png_header(uint32_t width, uint32_t height) {
  const std::string ihdr =
      "IHDR" + be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1A\n", 8) + be32(13) + ihdr + be32(crc32(ihdr));
}

std::vector<uint8_t> encode(const std::string& ext, const cv::Mat& image) {
  std::vector<uint8_t> bytes;
  if (!cv::imencode(ext, image, bytes)) qFatal("cannot encode %s", ext.c_str());
  return bytes;
}

// A CMYK JPEG as Photoshop writes them (Adobe marker, inverted samples: 255 = no ink). OpenCV
// cannot write CMYK, so this goes through libjpeg directly.
std::vector<uint8_t> cmyk_jpeg(int width, int height, const uint8_t ink[4]) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr jerr{};
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<JSAMPLE> row(size_t(width) * 4);
  for (int x = 0; x < width; ++x)
    for (int c = 0; c < 4; ++c) row[size_t(x) * 4 + size_t(c)] = JSAMPLE(255 - ink[c]);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW rows[1] = {row.data()};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

bool near(const RgbImage& image, int x, int y, int r, int g, int b, int tolerance) {
  const uint8_t* p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
  return std::abs(p[0] - r) <= tolerance && std::abs(p[1] - g) <= tolerance &&
         std::abs(p[2] - b) <= tolerance;
}

void expect(bool condition, const std::string& what) {
  if (!condition) throw std::logic_error("check failed: " + what);
}

}  // namespace

Q_DECLARE_METATYPE(Action)
Q_DECLARE_METATYPE(Match)

class TestHostileInputs : public QObject {
  Q_OBJECT

  QTemporaryDir m_tmp;
  fs::path m_root;
  fs::path m_gpt2Dir, m_clipDir;
  std::shared_ptr<const Model> m_gpt2, m_clip;
  std::string m_catalogue;

  fs::path path(const std::string& name) const { return m_root / name; }

  // A copy of the tiny GPT-2 folder to damage.
  fs::path copy_gpt2(const std::string& name) const {
    const fs::path dir = path(name);
    fs::remove_all(dir);
    fs::copy(m_gpt2Dir, dir, fs::copy_options::recursive);
    return dir;
  }

  ExplainRequest gpt2_request() const {
    ExplainRequest r;
    r.model = m_gpt2;
    r.prompt = "The dog lives in Paris. Answer:";
    r.target = " Paris";
    r.explain = ExplainWhat::PromptTokens;
    r.batch_size = 8;
    return r;
  }

  ExplainRequest clip_request() const {
    ExplainRequest r;
    r.model = m_clip;
    RgbImage image;
    image.width = image.height = 32;
    image.pixels.assign(32 * 32 * 3, 90);
    r.image = std::make_shared<const RgbImage>(image);
    r.labels = {"a photo of a red square", "a photo of a blue circle"};
    r.target = r.labels[0];
    r.explain = ExplainWhat::ImagePatches;
    r.batch_size = 8;
    return r;
  }

  static void explain(const ExplainRequest& r) { AtmanExplainer().attribute(r); }

  // One catalogue row.
  void row(const char* name, std::function<void()> run, const char* kind,
           const std::string& message, Match match = Match::Exact) {
    QTest::newRow(name) << Action{std::move(run)} << QString(kind)
                        << QString::fromStdString(message) << match;
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_tmp.isValid());
    m_root = fs::path(m_tmp.path().toStdString());
    m_gpt2Dir = write_tiny_gpt2(m_root / "gpt2");
    m_clipDir = write_tiny_clip(m_root / "clip");
    m_gpt2 = Model::load(m_gpt2Dir);
    m_clip = Model::load(m_clipDir);
  }

  void catalogue_data() {
    QTest::addColumn<Action>("action");
    QTest::addColumn<QString>("kind");  // "ModelError", "InputError", or "" for no error
    QTest::addColumn<QString>("message");
    QTest::addColumn<Match>("match");

    // ---- Model folders and checkpoints (Model::load) ----
    const std::string weights = read_bytes(m_gpt2Dir / "model.safetensors");
    const uint64_t header = header_length(weights);
    {
      const fs::path dir = copy_gpt2("truncated-header");
      write_bytes(dir / "model.safetensors", weights.substr(0, 100));
      row(
          "checkpoint cut inside its header", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") + ": the header claims " +
              std::to_string(header) +
              " bytes but the file has only 92 after the length field "
              "(truncated download?)");
    }
    {
      const fs::path dir = copy_gpt2("truncated-data");
      write_bytes(dir / "model.safetensors", weights.substr(0, 8 + header + 1000));
      // The first tensor (in name order) that no longer fits names the problem.
      const auto entries = nlohmann::json::parse(weights.substr(8, header));
      std::string first;
      for (const auto& [name, entry] : entries.items())
        if (name != "__metadata__" && entry["data_offsets"][1].get<uint64_t>() > 1000 &&
            first.empty())
          first = "tensor '" + name + "' has data_offsets [" +
                  std::to_string(entry["data_offsets"][0].get<uint64_t>()) + ", " +
                  std::to_string(entry["data_offsets"][1].get<uint64_t>()) + "]";
      row(
          "checkpoint cut inside its data", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") + ": " + first +
              " outside the data section of 1000 bytes (truncated file?)");
    }
    {
      const fs::path dir = copy_gpt2("empty-weights");
      write_bytes(dir / "model.safetensors", "");
      row(
          "empty checkpoint file", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") +
              ": the file is 0 bytes long, shorter than the 8-byte header length (empty or "
              "truncated download?)");
    }
    {
      const fs::path dir = copy_gpt2("html-weights");
      const std::string html = "<!DOCTYPE html><html><body>Rate limit exceeded</body></html>";
      write_bytes(dir / "model.safetensors", html);
      row(
          "an HTML error page saved as the checkpoint", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") + ": the header claims " +
              std::to_string(header_length(html)) +
              " bytes, more than the 104857600-byte limit "
              "(corrupt file, or not a safetensors file)");
    }
    {
      const fs::path dir = copy_gpt2("terabyte-header");
      write_bytes(dir / "model.safetensors", length_prefix(1ull << 40) + "{}");
      row(
          "header claiming a terabyte", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") +
              ": the header claims 1099511627776 bytes, more than the 104857600-byte limit "
              "(corrupt file, or not a safetensors file)");
    }
    {
      const fs::path dir = copy_gpt2("offsets-out-of-range");
      write_bytes(dir / "model.safetensors",
                  raw_safetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
      row(
          "tensor offsets past the end of the file", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") +
              ": tensor 'w' has data_offsets [0, 16] outside the data section of 8 bytes "
              "(truncated file?)");
    }
    {
      const fs::path dir = copy_gpt2("dtype-size-mismatch");
      write_bytes(dir / "model.safetensors",
                  raw_safetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
      row(
          "shape x dtype does not match the byte range", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") +
              ": tensor 'w' has shape [3] and dtype F32, which need 12 bytes, but its data_offsets "
              "span 8 bytes");
    }
    {
      const fs::path dir = copy_gpt2("overlap");
      write_bytes(dir / "model.safetensors",
                  raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}})",
                                  12));
      row(
          "two tensors sharing bytes", [dir] { Model::load(dir); }, "ModelError",
          "invalid safetensors file " + q(dir / "model.safetensors") +
              ": the byte ranges of tensors 'a' [0, 8) and 'b' [4, 12) overlap");
    }
    {
      const fs::path dir = path("wrong-shape");
      TinyGpt2 spec;
      spec.edit = [](std::map<std::string, at::Tensor>& t) {
        auto& w = t["transformer.h.0.attn.c_attn.weight"];
        w = w.t().contiguous();
      };
      write_tiny_gpt2(dir, spec);
      row(
          "tensor shape does not match config.json", [dir] { Model::load(dir); }, "ModelError",
          "tensor 'transformer.h.0.attn.c_attn.weight' in " + q(dir / "model.safetensors") +
              " has shape [96, 32] but the model expects [32, 96]; the config.json may not match "
              "these weights");
    }
    {
      const fs::path dir = path("missing-tensor");
      TinyGpt2 spec;
      spec.edit = [](std::map<std::string, at::Tensor>& t) {
        t.erase("transformer.h.1.mlp.c_fc.bias");
      };
      write_tiny_gpt2(dir, spec);
      row(
          "tensor missing from the checkpoint", [dir] { Model::load(dir); }, "ModelError",
          "tensor 'transformer.h.1.mlp.c_fc.bias' not found in " + q(dir / "model.safetensors") +
              " (",
          Match::Prefix);
    }
    for (const auto& [name, value] : {std::pair{"nan", NAN}, std::pair{"inf", INFINITY}}) {
      const fs::path dir = path(std::string("weights-") + name);
      TinyGpt2 spec;
      const double v = value;
      spec.edit = [v](std::map<std::string, at::Tensor>& t) {
        t["transformer.h.1.ln_2.weight"][3] = v;
      };
      write_tiny_gpt2(dir, spec);
      row(
          name == std::string("nan") ? "a NaN weight" : "an Inf weight",
          [dir] { Model::load(dir); }, "ModelError",
          "tensor 'transformer.h.1.ln_2.weight' in " + q(dir / "model.safetensors") +
              " contains NaN or Inf values; the checkpoint is broken (diverged training or corrupt "
              "file)");
    }
    {
      const fs::path dir = copy_gpt2("bad-config");
      write_bytes(dir / "config.json", "{\"model_type\": \"gpt2\", ");
      row(
          "config.json that is not JSON", [dir] { Model::load(dir); }, "ModelError",
          "invalid config " + q(dir / "config.json") +
              ": not valid JSON ([json.exception.parse_error.101]",
          Match::Prefix);
    }
    {
      const fs::path dir = copy_gpt2("bert");
      write_bytes(dir / "config.json", R"({"model_type": "bert", "vocab_size": 30522})");
      row(
          "unsupported architecture", [dir] { Model::load(dir); }, "ModelError",
          "unsupported architecture 'bert' in " + q(dir / "config.json") +
              "; supported: " + supported_architectures());
    }
    {
      const fs::path dir = copy_gpt2("huge-config");
      write_bytes(
          dir / "config.json",
          R"({"model_type":"gpt2","vocab_size":50257,"n_positions":1024,"n_embd":1000000000,"n_layer":2,"n_head":4})");
      row(
          "config.json asking for absurd sizes", [dir] { Model::load(dir); }, "ModelError",
          "invalid config " + q(dir / "config.json") +
              ": 'n_embd' is 1000000000 but must be between 1 and 268435456");
    }
    {
      const fs::path dir = copy_gpt2("no-config");
      fs::remove(dir / "config.json");
      row(
          "no config.json", [dir] { Model::load(dir); }, "ModelError",
          "no config.json in " + q(dir) +
              "; a model folder needs the Hugging Face config.json next to its weights");
    }
    {
      const fs::path dir = copy_gpt2("pytorch-bin");
      fs::rename(dir / "model.safetensors", dir / "pytorch_model.bin");
      row(
          "only a PyTorch .bin checkpoint", [dir] { Model::load(dir); }, "ModelError",
          "no model.safetensors or model.safetensors.index.json in " + q(dir) +
              ". The folder has a PyTorch .bin/.pt checkpoint, which is not supported (loading it "
              "can run arbitrary code); convert it in Python with transformers",
          Match::Prefix);
    }
    {
      const fs::path dir = copy_gpt2("index-traversal");
      fs::remove(dir / "model.safetensors");
      write_bytes(dir / "model.safetensors.index.json",
                  R"({"weight_map": {"transformer.wte.weight": "../../../etc/passwd"}})");
      row(
          "shard index pointing outside the folder", [dir] { Model::load(dir); }, "ModelError",
          q(dir / "model.safetensors.index.json") +
              " maps tensor 'transformer.wte.weight' to shard '../../../etc/passwd', which is not "
              "a plain file name inside the model folder");
    }
    {
      const fs::path dir = copy_gpt2("no-merges");
      fs::remove(dir / "merges.txt");
      row(
          "tokenizer file missing", [dir] { Model::load(dir); }, "ModelError",
          "The model folder '" + dir.string() +
              "' has no merges.txt (the tokenizer needs vocab.json and merges.txt).");
    }
    {
      const fs::path dir = copy_gpt2("added-token-id");
      write_bytes(dir / "added_tokens.json", R"({"<x>": 2147483647})");
      row(
          "added token with id 2147483647", [dir] { Model::load(dir); }, "ModelError",
          "'" + (dir / "added_tokens.json").string() +
              "' is not a usable tokenizer file: token '<x>' has no valid id.");
    }
    row(
        "model folder that does not exist", [this] { Model::load(path("nowhere")); }, "ModelError",
        "model folder '" + path("nowhere").string() + "' does not exist or is not a folder");
    {
      // The weights are copied out of the file while loading, so a loaded model outlives its
      // folder.
      const fs::path dir = path("vanishing");
      write_tiny_gpt2(dir);
      auto loaded = std::make_shared<std::shared_ptr<const Model>>(Model::load(dir));
      row(
          "model folder deleted after loading: explaining still works",
          [this, dir, loaded] {
            fs::remove_all(dir);
            ExplainRequest r = gpt2_request();
            r.model = *loaded;
            const Explanation e = AtmanExplainer().attribute(r);
            expect(e.candidates.size() > 3, "candidates");
          },
          "", "");
      row(
          "model folder deleted after loading: loading it again",
          [dir] {
            fs::remove_all(dir);
            Model::load(dir);
          },
          "ModelError", "model folder '" + dir.string() + "' does not exist or is not a folder");
    }

    // ---- Images (load_image, decode_image, preprocess_clip) ----
    const cv::Mat colour(6, 9, CV_8UC3, cv::Scalar(30, 20, 10));  // BGR
    {
      const fs::path file = path("empty.png");
      write_bytes(file, "");
      row(
          "empty image file", [file] { load_image(file); }, "InputError",
          "image " + file.string() + " is empty (0 bytes)");
    }
    {
      const fs::path file = path("notes.png");
      write_bytes(file, "these are notes, not a picture");
      row(
          "text file named .png", [file] { load_image(file); }, "InputError",
          file.string() +
              " is not an image OpenCV can read (supported: JPEG, PNG, BMP, WebP, TIFF)");
    }
    {
      const fs::path file = path("gif.gif");
      write_bytes(file, "GIF89a\x01\x00\x01\x00");
      row(
          "GIF (unsupported format)", [file] { load_image(file); }, "InputError",
          file.string() +
              " is not an image OpenCV can read (supported: JPEG, PNG, BMP, WebP, TIFF)");
    }
    row(
        "image that does not exist", [this] { load_image(path("missing.png")); }, "InputError",
        "cannot read image " + path("missing.png").string() + ": no such file");
    row(
        "folder given as the image", [this] { load_image(m_root); }, "InputError",
        "cannot read image " + m_root.string() + ": it is a directory");
    {
      const fs::path file = path("huge.png");
      write_bytes(file, png_header(30000, 30000));
      row(
          "30000x30000 image", [file] { load_image(file); }, "InputError",
          "image " + file.string() +
              " is 30000\u00D730000 pixels; the limit is 40000 pixels on a side and 400 "
              "megapixels");
    }
    {
      const fs::path file = path("wide.png");
      write_bytes(file, png_header(50000, 10));
      row(
          "50000x10 image", [file] { load_image(file); }, "InputError",
          "image " + file.string() +
              " is 50000\u00D710 pixels; the limit is 40000 pixels on a side and 400 megapixels");
    }
    {
      const fs::path file = path("truncated.png");
      const auto png = encode(".png", cv::Mat(40, 40, CV_8UC3, cv::Scalar(1, 2, 3)));
      write_bytes(file, std::string(png.begin(), png.begin() + 12));
      row(
          "PNG cut inside its header", [file] { load_image(file); }, "InputError",
          file.string() +
              " looks like a PNG image but has no IHDR header (is the file truncated or "
              "damaged?)");
    }
    {
      const fs::path file = path("no-pixels.png");
      write_bytes(file, png_header(40, 30));
      row(
          "PNG header without pixel data", [file] { load_image(file); }, "InputError",
          file.string() +
              " looks like a PNG image (40\u00D730 pixels) but OpenCV could not decode "
              "it: the file is damaged or truncated");
    }
    {
      const auto png = encode(".png", cv::Mat(1, 1, CV_8UC3, cv::Scalar(10, 20, 30)));
      row(
          "1x1 image: upscaled to the model's input, explained",
          [this, png] {
            ExplainRequest r = clip_request();
            r.image = std::make_shared<const RgbImage>(decode_image(png, "1x1.png"));
            const PixelTensor pixels = preprocess_clip(*r.image, m_clip->preprocess_config());
            expect(pixels.width == 32 && pixels.height == 32, "upscaled to 32x32");
            expect(AtmanExplainer().attribute(r).candidates.size() == 16, "16 patches");
          },
          "", "");
    }
    {
      // shapes-clip resizes the short side to 128 pixels.
      const ClipPreprocessConfig shapes = load_preprocess_config(models_dir() / "shapes-clip");
      const auto png = encode(".png", cv::Mat(30000, 1, CV_8UC3, cv::Scalar(10, 20, 30)));
      // Only the centre crop of the 128x3840000 resize is computed.
      row(
          "1x30000 image: only the centre crop is resampled",
          [shapes, png] {
            const PixelTensor p = preprocess_clip(decode_image(png, "strip.png"), shapes);
            expect(p.width == 128 && p.height == 128, "128x128");
          },
          "", "");
      // Without a crop the whole resize is the result: refused before allocating it.
      ClipPreprocessConfig uncropped = shapes;
      uncropped.do_center_crop = false;
      row(
          "1x30000 image, no centre crop: too elongated to resize",
          [uncropped, png] { preprocess_clip(decode_image(png, "strip.png"), uncropped); },
          "InputError",
          "the image is 1\u00D730000 pixels, too elongated for this model: resizing its short side "
          "to 128 pixels would make it 3840000 pixels long. Crop it to a less extreme shape "
          "first.");
      const auto shorter = encode(".png", cv::Mat(1, 3000, CV_8UC3, cv::Scalar(10, 20, 30)));
      row(
          "3000x1 image: still accepted",
          [shapes, shorter] {
            const PixelTensor p = preprocess_clip(decode_image(shorter, "strip.png"), shapes);
            expect(p.width == 128 && p.height == 128, "128x128");
          },
          "", "");
    }
    {
      const uint8_t cyan[4] = {255, 0, 0, 0};
      const auto jpeg = cmyk_jpeg(8, 8, cyan);
      row(
          "CMYK JPEG (Adobe, inverted): read as RGB",
          [jpeg] {
            const RgbImage image = decode_image(jpeg, "cmyk.jpg");
            expect(image.width == 8 && image.height == 8, "size");
            expect(near(image, 3, 3, 0, 255, 255, 8), "cyan ink reads as RGB cyan");
          },
          "", "");
    }
    {
      cv::Mat deep(5, 7, CV_16UC3, cv::Scalar(257 * 30, 257 * 20, 65535));
      const auto png = encode(".png", deep);
      row(
          "16-bit PNG: scaled to 8 bits",
          [png] {
            const RgbImage image = decode_image(png, "deep.png");
            expect(near(image, 2, 2, 255, 20, 30, 0), "65535 -> 255, 257*n -> n");
          },
          "", "");
    }
    {
      const auto png = encode(".png", cv::Mat(5, 7, CV_8UC1, cv::Scalar(77)));
      row(
          "grayscale PNG: gray to RGB",
          [png] { expect(near(decode_image(png, "gray.png"), 1, 1, 77, 77, 77, 0), "gray"); }, "",
          "");
    }
    {
      const auto png = encode(".png", cv::Mat(5, 7, CV_8UC4, cv::Scalar(30, 20, 10, 0)));
      row(
          "transparent RGBA PNG: alpha dropped",
          [png] {
            expect(near(decode_image(png, "rgba.png"), 1, 1, 10, 20, 30, 0), "alpha dropped");
          },
          "", "");
    }
    {
      const auto tiff = encode(".tiff", cv::Mat(5, 7, CV_16UC1, cv::Scalar(257 * 99)));
      row(
          "16-bit grayscale TIFF",
          [tiff] {
            expect(near(decode_image(tiff, "gray16.tiff"), 0, 0, 99, 99, 99, 0), "gray 16");
          },
          "", "");
    }
    {
      const auto bmp = encode(".bmp", colour);
      row(
          "BMP", [bmp] { expect(near(decode_image(bmp, "c.bmp"), 4, 4, 10, 20, 30, 0), "bmp"); },
          "", "");
    }

    // ---- Explanation requests (AtmanExplainer::attribute) ----
    {
      std::string prompt;
      for (int i = 0; i < 2000; ++i) prompt += " word";
      const size_t tokens = m_gpt2->tokenizer().encode(prompt).ids.size() +
                            m_gpt2->tokenizer().encode(" Paris").ids.size() - 1;
      row(
          "prompt far over the context length",
          [this, prompt] {
            ExplainRequest r = gpt2_request();
            r.prompt = prompt;
            explain(r);
          },
          "InputError",
          "prompt and target are " + std::to_string(tokens) +
              " tokens; model 'gpt2' reads at most 32. Shorten the prompt.");
    }
    {
      std::string label = "a photo of";
      for (int i = 0; i < 40; ++i) label += " a red square";
      const size_t tokens = m_clip->tokenizer().encode(label).ids.size();
      row(
          "CLIP label over the context length",
          [this, label] {
            ExplainRequest r = clip_request();
            r.labels.push_back(label);
            r.target = label;
            explain(r);
          },
          "InputError",
          "label '" + label + "' has " + std::to_string(tokens) + " tokens; CLIP reads at most 24");
    }
    row(
        "empty target (language model)",
        [this] {
          ExplainRequest r = gpt2_request();
          r.target = "";
          explain(r);
        },
        "InputError", "the target is empty: give the text to explain");
    row(
        "empty prompt",
        [this] {
          ExplainRequest r = gpt2_request();
          r.prompt = "";
          explain(r);
        },
        "InputError", "the prompt is empty: nothing to explain");
    row(
        "empty target (CLIP)",
        [this] {
          ExplainRequest r = clip_request();
          r.target = "";
          explain(r);
        },
        "InputError", "the target '' is not one of the 2 labels");
    row(
        "no labels (CLIP)",
        [this] {
          ExplainRequest r = clip_request();
          r.labels.clear();
          explain(r);
        },
        "InputError", "CLIP needs a label set: give the labels to choose among (--labels)");
    row(
        "no image (CLIP)",
        [this] {
          ExplainRequest r = clip_request();
          r.image.reset();
          explain(r);
        },
        "InputError", "CLIP explanations need an image");
    row(
        "prompt that is not UTF-8",
        [this] {
          ExplainRequest r = gpt2_request();
          r.prompt = "caf\xE9 au lait";
          explain(r);
        },
        "InputError",
        "The text is not valid UTF-8: unexpected byte 0x20 at byte offset 4. Save or paste it as "
        "UTF-8.");
    for (const auto& [name, kappa, shown] :
         {std::tuple{"kappa = 3", 3.0, "3.000000"}, std::tuple{"kappa = -1.5", -1.5, "-1.500000"},
          std::tuple{"kappa = NaN", double(NAN), "nan"}}) {
      const double k = kappa;
      row(
          name,
          [this, k] {
            ExplainRequest r = clip_request();
            r.mode = SuppressionMode::Correlated;
            r.kappa = k;
            explain(r);
          },
          "InputError",
          std::string("\u03BA (kappa) must lie in [-1, 2] (\u03BA >= 1 keeps only exact "
                      "duplicates), got ") +
              shown);
    }
    for (const auto& [name, factor, shown] :
         {std::tuple{"f = 1.5", 1.5, "1.500000"}, std::tuple{"f = -0.1", -0.1, "-0.100000"},
          std::tuple{"f = Inf", double(INFINITY), "inf"}}) {
      const double f = factor;
      row(
          name,
          [this, f] {
            ExplainRequest r = gpt2_request();
            r.factor = f;
            explain(r);
          },
          "InputError", std::string("the suppression factor f must lie in [0, 1], got ") + shown);
    }
    row(
        "no model", [] { explain(ExplainRequest{}); }, "InputError", "no model loaded");
    row(
        "tile of 0 patches",
        [this] {
          ExplainRequest r = clip_request();
          r.tile = 0;
          explain(r);
        },
        "InputError", "the tile size must be 1..64 patches");
    row(
        "batch size 5000",
        [this] {
          ExplainRequest r = clip_request();
          r.batch_size = 5000;
          explain(r);
        },
        "InputError", "batch size must be 0 (auto) .. 4096");
    row(
        "layer that does not exist",
        [this] {
          ExplainRequest r = clip_request();
          r.layers = {7};
          explain(r);
        },
        "InputError", "layer 7 does not exist; the tower has 2 layers (0..1)");

    // ---- Explanation files (explanation_from_json) ----
    row(
        "explanation file that is not JSON", [] { explanation_from_json("<html>"); }, "InputError",
        "not an AtMan explanation JSON: [json.exception.parse_error.101]", Match::Prefix);
    row(
        "explanation JSON without candidates",
        [] { explanation_from_json(R"({"baseline_loss": 1})"); }, "InputError",
        "not an AtMan explanation JSON: [json.exception.out_of_range.403]", Match::Prefix);
    row(
        "explanation grid out of range",
        [] {
          explanation_from_json(R"({"baseline_loss": 1, "grid": [5000, 2], "candidates": []})");
        },
        "InputError", "grid size out of range");
    row(
        "explanation index 1e30",
        [] {
          explanation_from_json(
              R"({"baseline_loss":0,"candidates":[{"index":1e30,"kind":"token","value":0}]})");
        },
        "InputError", "not an AtMan explanation JSON: 'index' is 1e+30, out of range");
    row(
        "explanation patch outside its grid: drawn clipped",
        [] {
          const Explanation e = explanation_from_json(
              R"({"baseline_loss":0,"grid":[2,2],"image_size":[8,8],"candidates":[)"
              R"({"index":0,"kind":"patch","value":1,"row":-3,"col":1,"rows":5,"cols":9,"rect":[-1e308,0,1e308,4]}]})");
          const auto heat = e.patch_heatmap();
          expect(heat == std::vector<double>({0, 1, 0, 1}), "clipped to the grid");
          RgbImage image;
          image.width = image.height = 8;
          image.pixels.assign(8 * 8 * 3, 0);
          render_overlay(image, e, OverlayOptions{});
        },
        "", "");
    row(
        "explanation without patches drawn as a heatmap",
        [] {
          RgbImage image;
          image.width = image.height = 8;
          image.pixels.assign(8 * 8 * 3, 0);
          render_overlay(
              image, explanation_from_json(R"({"baseline_loss":0,"grid":[2,2],"candidates":[]})"),
              OverlayOptions{});
        },
        "InputError", "this explanation has no image patches to draw");
  }

  void catalogue() {
    QFETCH(Action, action);
    QFETCH(QString, kind);
    QFETCH(QString, message);
    QFETCH(Match, match);
    std::string got_kind, got;
    try {
      action.run();
    } catch (const ModelError& e) {
      got_kind = "ModelError", got = e.what();
    } catch (const InputError& e) {
      got_kind = "InputError", got = e.what();
    } catch (const Error& e) {
      got_kind = "Error", got = e.what();
    } catch (const std::exception& e) {
      got_kind = std::string("unexpected ") + typeid(e).name(), got = e.what();
    }
    qInfo("%s: %s", got_kind.empty() ? "no error" : got_kind.c_str(), got.c_str());
    if (const char* file = std::getenv("ATMAN_CATALOGUE")) {
      std::string shown = got.empty() ? "*(no error)*" : got;
      for (size_t at; (at = shown.find(m_root.string())) != std::string::npos;)
        shown.replace(at, m_root.string().size(), "<tmp>");
      for (size_t at = 0; (at = shown.find('|', at)) != std::string::npos; at += 2)
        shown.replace(at, 1, "\\|");
      std::ofstream(file, std::ios::app)
          << "| " << QTest::currentDataTag() << " | " << (got_kind.empty() ? "—" : got_kind)
          << " | " << shown << (match == Match::Prefix ? " …" : "") << " |\n";
    }
    QCOMPARE(QString::fromStdString(got_kind), kind);
    const QString text = QString::fromStdString(got);
    if (match == Match::Prefix) {
      if (!text.startsWith(message))
        QFAIL(qPrintable(
            QStringLiteral("message\n  %1\ndoes not start with\n  %2").arg(text, message)));
    } else {
      QCOMPARE(text, message);
    }
  }
};

QTEST_GUILESS_MAIN(TestHostileInputs)
#include "test_hostile_inputs.moc"
