// Fuzzes model.safetensors.index.json: the input is the index, in a folder that holds two valid
// shards (written once at start-up). Shard names are untrusted (path traversal, missing files,
// names of the index itself), and so is every tensor name the index maps.
#include <ATen/ATen.h>

#include "fuzz_support.h"
#include "io/safetensors.h"

namespace {

constexpr const char* kHarness = "fuzz_checkpoint_index";

const std::filesystem::path& model_dir() {
  static const std::filesystem::path dir = [] {
    auto d = atman::fuzz::scratch_dir() / "sharded";
    std::filesystem::create_directories(d);
    atman::write_safetensors(d / "model-00001-of-00002.safetensors",
                             {{"embed.weight", at::arange(6, at::kFloat).reshape({2, 3})},
                              {"embed.bias", at::ones({3}, at::kFloat)}});
    atman::write_safetensors(d / "model-00002-of-00002.safetensors",
                             {{"head.weight", at::full({4}, 0.5, at::kHalf)},
                              {"head.position_ids", at::arange(4, at::kLong)},
                              {"head.broken", at::full({2}, NAN, at::kFloat)}});
    // A file that is not a safetensors file, for index entries that point at it.
    atman::fuzz::write_file(d / "notes.txt", "not a checkpoint");
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)model_dir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = model_dir();
  atman::fuzz::write_file(dir / "model.safetensors.index.json",
                          std::string_view(reinterpret_cast<const char*>(data), size));
  atman::fuzz::guarded(kHarness, [&] {
    atman::Checkpoint checkpoint(dir);
    for (const auto& name : checkpoint.names()) {
      ATMAN_FUZZ_CHECK(kHarness, checkpoint.has(name), name);
      const auto& info = checkpoint.info(name);
      atman::fuzz::guarded(kHarness, [&] {
        at::Tensor t = checkpoint.get(name, info.shape);
        ATMAN_FUZZ_CHECK(kHarness, t.sizes().vec() == info.shape, name);
      });
    }
    atman::fuzz::guarded(kHarness, [&] { (void)checkpoint.get("embed.weigth"); });
  });
  return 0;
}
