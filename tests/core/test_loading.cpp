// How weights are loaded: zero-copy views of the memory-mapped safetensors files, the compute
// dtype (LoadOptions::dtype), and the memory estimate that refuses a model before it is read.
// Views must give the very same model as copies, must never write through to the file, and must
// keep the mapping alive; a bfloat16 model must really hold bfloat16 weights and compute close to
// float32.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <QTemporaryDir>

#include <cmath>
#include <fstream>

#include "atman/error.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "core/test_support.h"
#include "core/tiny_models.h"
#include "io/safetensors.h"
#include "models/inputs.h"
#include "models/loaded_model.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

uint64_t tensor_bytes(const std::map<std::string, at::Tensor>& tensors, int64_t float_size) {
  uint64_t total = 0;
  for (const auto& [name, t] : tensors)
    total += t.numel() * (at::isFloatingType(t.scalar_type()) ? float_size : t.element_size());
  return total;
}

PixelTensor random_pixels(int size) {
  PixelTensor pixels;
  pixels.height = pixels.width = size;
  at::Tensor values = at::randn({3 * size * size}, at::TensorOptions().dtype(at::kFloat));
  pixels.values.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  return pixels;
}

LoadOptions with(const std::string& dtype, bool zero_copy = true) {
  LoadOptions options;
  options.dtype = dtype;
  options.zero_copy = zero_copy;
  return options;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

double max_abs(const std::vector<float>& a) {
  double worst = 0;
  for (float v : a) worst = std::max(worst, std::abs(double(v)));
  return worst;
}

}  // namespace

class TestLoading : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  fs::path root() const { return tmp_.path().toStdString(); }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    at::manual_seed(7);
  }

  // The zero-copy path and the copying one load bit-identical models.
  void viewsAndCopiesGiveIdenticalForwards() {
    const auto clip_dir = write_tiny_clip(root() / "clip");
    const auto gpt2_dir = write_tiny_gpt2(root() / "gpt2");
    TinyLlama llama;
    llama.sharded = true;
    const auto llama_dir = write_tiny_llama(root() / "llama", llama);

    const TinyClip clip_spec;
    const PixelTensor pixels = random_pixels(clip_spec.image_size);
    const auto viewed = Model::load(clip_dir, with("auto", true));
    const auto copied = Model::load(clip_dir, with("auto", false));
    const auto a = clip_forward(*viewed, &pixels, {"a red circle", "two blue squares"});
    const auto b = clip_forward(*copied, &pixels, {"a red circle", "two blue squares"});
    QCOMPARE(a.image_embeds, b.image_embeds);
    QCOMPARE(a.text_embeds, b.text_embeds);
    QCOMPARE(a.logits_per_image, b.logits_per_image);

    for (const auto& dir : {gpt2_dir, llama_dir}) {
      const auto v = lm_forward(*Model::load(dir, with("float32", true)), "The capital of France");
      const auto c = lm_forward(*Model::load(dir, with("float32", false)), "The capital of France");
      QVERIFY(!v.last_logits.empty());
      QCOMPARE(v.last_logits, c.last_logits);
    }
  }

  // A view is the file's bytes in place; writing into it copies the page for this process only,
  // and the view outlives the SafetensorsFile that made it.
  void viewsAliasTheMappingButNeverWriteTheFile() {
    const fs::path path = root() / "views.safetensors";
    const at::Tensor values = at::arange(4096, at::kFloat).view({64, 64});
    write_safetensors(path, {{"w", values}, {"ids", at::arange(5, at::kLong)}});
    at::Tensor view;
    {
      SafetensorsFile file(path);
      QVERIFY(file.can_view("w", at::kFloat));
      QVERIFY(!file.can_view("w", at::kBFloat16));  // another dtype is a conversion
      view = file.load("w", at::kFloat, /*allow_view=*/true);
      const at::Tensor again = file.load("w", at::kFloat, true);
      QCOMPARE(view.data_ptr(), again.data_ptr());  // both alias the mapping
      const at::Tensor copy = file.load("w", at::kFloat);
      QVERIFY(copy.data_ptr() != view.data_ptr());
    }
    QVERIFY(at::equal(view, values));  // the mapping lives on with the view
    view.add_(1);                      // copy-on-write: this process's page only
    QVERIFY(at::equal(view, values + 1));
    QVERIFY(at::equal(SafetensorsFile(path).load("w"), values));
  }

  // Data at an offset that is not a multiple of the element size cannot be viewed: it is copied.
  void misalignedTensorsAreCopied() {
    const fs::path path = root() / "misaligned.safetensors";
    // A 2-byte tensor first puts the float32 one at data offset 2.
    std::string header = R"({"a":{"dtype":"I16","shape":[1],"data_offsets":[0,2]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::ofstream out(path, std::ios::binary);
    const uint64_t length = header.size();
    out.write(reinterpret_cast<const char*>(&length), 8);
    out << header;
    const int16_t a = 7;
    const float b[2] = {1.5f, -2.25f};
    out.write(reinterpret_cast<const char*>(&a), 2);
    out.write(reinterpret_cast<const char*>(b), 8);
    out.close();
    SafetensorsFile file(path);
    QVERIFY(!file.can_view("b", at::kFloat));
    const at::Tensor loaded = file.load("b", at::kFloat, /*allow_view=*/true);
    QCOMPARE(loaded[0].item<float>(), 1.5f);
    QCOMPARE(loaded[1].item<float>(), -2.25f);
    QCOMPARE(reinterpret_cast<uintptr_t>(loaded.data_ptr()) % 4, uintptr_t(0));
  }

  // A BF16 checkpoint loaded as bfloat16 keeps 2-byte weights and computes in bfloat16, close to
  // the float32 computation with the same (bf16-valued) weights.
  void bfloat16KeepsBf16WeightsAndStaysCloseToFloat32() {
    c10::InferenceMode inference;
    TinyLlama llama;
    llama.dtype = TinyDType::BF16;
    TinyGpt2 gpt2;
    gpt2.dtype = TinyDType::BF16;
    const auto llama_dir = write_tiny_llama(root() / "llama-bf16", llama);
    const auto gpt2_dir = write_tiny_gpt2(root() / "gpt2-bf16", gpt2);
    for (const auto& dir : {llama_dir, gpt2_dir}) {
      const auto half = Model::load(dir, with("bfloat16"));
      const auto full = Model::load(dir, with("float32"));
      QCOMPARE(half->dtype(), std::string("bfloat16"));
      QCOMPARE(full->dtype(), std::string("float32"));
      const CausalLM& lm = half->impl().language_model();
      const at::Tensor embeds = lm.embed_tokens(ids_to_tensor({1, 2, 3}, at::kCPU));
      QCOMPARE(embeds.scalar_type(), at::kBFloat16);
      QCOMPARE(embeds.element_size(), int64_t(2));
      const at::Tensor hidden = lm.forward_embeds(embeds, nullptr, nullptr);
      QCOMPARE(hidden.scalar_type(), at::kBFloat16);
      QCOMPARE(lm.lm_logits(hidden).scalar_type(), at::kFloat);  // logits always float32

      const auto h = lm_forward(*half, "The capital of France is");
      const auto f = lm_forward(*full, "The capital of France is");
      const double diff = max_abs_diff(h.last_logits, f.last_logits);
      const double scale = max_abs(f.last_logits);
      qInfo("%s: bfloat16 vs float32 logits: max |delta| %.4g, max |logit| %.4g",
            dir.filename().c_str(), diff, scale);
      // bfloat16 keeps 8 significant bits (relative step 2^-8 = 0.4 %); a few roundings per layer
      // stay within 5 % of the largest logit.
      QVERIFY(diff <= 0.05 * scale);
      QVERIFY(scale > 0);
    }

    TinyClip clip;
    clip.dtype = TinyDType::BF16;
    const auto clip_dir = write_tiny_clip(root() / "clip-bf16", clip);
    const PixelTensor pixels = random_pixels(clip.image_size);
    const auto h = clip_forward(*Model::load(clip_dir, with("bfloat16")), &pixels, {"a circle"});
    const auto f = clip_forward(*Model::load(clip_dir, with("float32")), &pixels, {"a circle"});
    const double diff = max_abs_diff(h.image_embeds, f.image_embeds);
    qInfo("clip: bfloat16 vs float32 image embeds: max |delta| %.4g, max |value| %.4g", diff,
          max_abs(f.image_embeds));
    QVERIFY(diff <= 0.05 * max_abs(f.image_embeds));
  }

  // The estimate is the sum of the tensors' bytes in the compute dtype, from the headers alone.
  void memoryEstimateIsTheSumOfTensorBytes() {
    TinyLlama spec;
    spec.dtype = TinyDType::BF16;
    spec.sharded = true;
    const auto dir = write_tiny_llama(root() / "llama-estimate", spec);
    const auto tensors = tiny_llama_tensors(spec);
    const auto as_float = Model::estimate_memory(dir, with("float32"));
    const auto as_bf16 = Model::estimate_memory(dir, with("bfloat16"));
    QCOMPARE(as_float.weight_bytes, tensor_bytes(tensors, 4));
    QCOMPARE(as_bf16.weight_bytes, tensor_bytes(tensors, 2));
    QCOMPARE(as_bf16.stored_bytes, tensor_bytes(tensors, 2));
    QCOMPARE(as_float.dtype, std::string("float32"));
    QCOMPARE(as_float.device, std::string("cpu"));
    QVERIFY(as_float.available_bytes > 0);  // MemAvailable of this machine
    QCOMPARE(as_float.available_source, std::string("MemAvailable"));
  }

  // Over the limit: a ModelError with both numbers and the bfloat16 hint; at the limit it loads.
  void refusesAModelThatDoesNotFit() {
    const auto dir = write_tiny_gpt2(root() / "gpt2-limit");
    LoadOptions options;
    const uint64_t need = Model::estimate_memory(dir, options).weight_bytes;
    options.memory_limit_bytes = need - 1;
    QVERIFY(!Model::estimate_memory(dir, options).fits());
    const QString message = error_of<ModelError>([&] { Model::load(dir, options); });
    QVERIFY2(message.contains("for its weights as float32 on cpu, but only") &&
                 message.contains("(limit given)") && message.contains("--dtype bfloat16"),
             qPrintable(message));
    options.memory_limit_bytes = need;
    QVERIFY(Model::load(dir, options) != nullptr);
  }

  void dtypeChoicesAndErrors() {
    TinyGpt2 spec;
    spec.dtype = TinyDType::BF16;
    const auto dir = write_tiny_gpt2(root() / "gpt2-dtypes", spec);
    // auto on the CPU is float32 whatever the checkpoint stores.
    QCOMPARE(Model::load(dir)->dtype(), std::string("float32"));
    QVERIFY(
        error_of<ModelError>([&] { Model::load(dir, with("float16")); }).contains("use bfloat16"));
    QVERIFY(error_of<ModelError>([&] {
              Model::load(dir, with("int8"));
            }).contains("unknown dtype 'int8'"));
  }
};

QTEST_GUILESS_MAIN(TestLoading)
#include "test_loading.moc"
