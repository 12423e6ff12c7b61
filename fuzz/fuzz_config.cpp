// Fuzzes the JSON configs of a model folder: the input is parsed as config.json
// (atman::parse_model_config) and as preprocessor_config.json (atman::load_preprocess_config,
// which reads a file); a preprocessing config that parses is applied to a small odd-sized image.
#include <algorithm>
#include <variant>

#include "atman/hf_config.h"
#include "atman/image.h"
#include "fuzz_support.h"

namespace {

constexpr const char* kHarness = "fuzz_config";

// Invariants the architectures rely on; parse_model_config promises them.
void check(const atman::ModelConfig& config) {
  auto tower = [](const atman::ClipTowerConfig& c, bool vision) {
    ATMAN_FUZZ_CHECK(kHarness, c.hidden_size > 0 && c.num_attention_heads > 0, "tower sizes");
    ATMAN_FUZZ_CHECK(kHarness, c.hidden_size % c.num_attention_heads == 0, "heads divide hidden");
    ATMAN_FUZZ_CHECK(kHarness, c.num_hidden_layers > 0, "layers");
    if (vision) {
      ATMAN_FUZZ_CHECK(kHarness, c.patch_size > 0 && c.image_size % c.patch_size == 0, "patches");
    }
  };
  if (const auto* clip = std::get_if<atman::ClipConfig>(&config)) {
    tower(clip->text, false);
    tower(clip->vision, true);
  } else if (const auto* gpt2 = std::get_if<atman::Gpt2Config>(&config)) {
    ATMAN_FUZZ_CHECK(kHarness, gpt2->n_head > 0 && gpt2->n_embd % gpt2->n_head == 0, "gpt2 heads");
    ATMAN_FUZZ_CHECK(kHarness, gpt2->n_inner > 0 && gpt2->vocab_size > 0, "gpt2 sizes");
  } else if (const auto* llama = std::get_if<atman::LlamaConfig>(&config)) {
    ATMAN_FUZZ_CHECK(kHarness, llama->num_key_value_heads > 0, "kv heads");
    ATMAN_FUZZ_CHECK(kHarness, llama->num_attention_heads % llama->num_key_value_heads == 0, "gqa");
    ATMAN_FUZZ_CHECK(kHarness, llama->head_dim > 0 && llama->head_dim % 2 == 0, "head_dim");
  } else {
    const auto& llava = std::get<atman::LlavaConfig>(config);
    tower(llava.vision, true);
    ATMAN_FUZZ_CHECK(kHarness, llava.text.head_dim > 0, "llava head_dim");
  }
}

atman::RgbImage small_image() {
  atman::RgbImage image;
  image.width = 7;
  image.height = 5;
  for (int i = 0; i < image.width * image.height * 3; ++i) image.pixels.push_back(uint8_t(i * 37));
  return image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  atman::fuzz::guarded(kHarness,
                       [&] { check(atman::parse_model_config(text, "'fuzz/config.json'")); });

  const auto path = atman::fuzz::scratch_dir() / "preprocessor_config.json";
  atman::fuzz::write_file(path, text);
  atman::fuzz::guarded(kHarness, [&] {
    const atman::ClipPreprocessConfig config = atman::load_preprocess_config(path);
    // Sizes up to the parser's limit (16384) are legal but make multi-GB tensors; the harness
    // applies only the small ones (the size limits have their own tests).
    const int largest = std::max(
        {config.shortest_edge, config.crop_size, config.resize_height, config.resize_width});
    if (largest > 512) return;
    static const atman::RgbImage image = small_image();
    const atman::PixelTensor pixels = atman::preprocess_clip(image, config);
    ATMAN_FUZZ_CHECK(
        kHarness, pixels.values.size() == size_t(3) * size_t(pixels.height) * size_t(pixels.width),
        "pixel tensor size");
  });
  return 0;
}
