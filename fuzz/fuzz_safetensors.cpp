// Fuzzes the safetensors reader: the input is a whole .safetensors file (8-byte header length,
// JSON header, data section). It is opened as a SafetensorsFile and, in a model folder, as a
// Checkpoint; every tensor the header describes is loaded as stored and as float32 and checked
// against the header, and a missing name exercises the similar-name suggestions.
#include <ATen/ATen.h>

#include "fuzz_support.h"
#include "io/safetensors.h"

namespace {

constexpr const char* kHarness = "fuzz_safetensors";

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void check_loaded(const at::Tensor& t, const atman::TensorInfo& info, const std::string& name) {
  ATMAN_FUZZ_CHECK(kHarness, t.defined(), name);
  ATMAN_FUZZ_CHECK(kHarness, t.sizes().vec() == info.shape,
                   "shape of '" + name + "' differs from its header");
  ATMAN_FUZZ_CHECK(kHarness, t.numel() == numel_of(info.shape), name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto dir = atman::fuzz::scratch_dir() / "model";
  static const bool made = std::filesystem::create_directories(dir) || true;
  (void)made;
  const auto path = dir / "model.safetensors";
  atman::fuzz::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));

  atman::fuzz::guarded(kHarness, [&] {
    atman::SafetensorsFile file(path);
    uint64_t covered = 0;
    for (const auto& [name, info] : file.tensors()) {
      ATMAN_FUZZ_CHECK(kHarness, info.begin <= info.end, name);
      ATMAN_FUZZ_CHECK(kHarness, info.end <= size, name);
      covered += info.end - info.begin;
      ATMAN_FUZZ_CHECK(kHarness, file.find(name) == &info, name);
      // As stored (via its own scalar type) and converted to float32.
      atman::fuzz::guarded(kHarness,
                           [&] { check_loaded(file.load(name, at::kDouble), info, name); });
      atman::fuzz::guarded(kHarness, [&] { check_loaded(file.load(name), info, name); });
      atman::fuzz::guarded(kHarness, [&] { check_loaded(file.load(name, at::kLong), info, name); });
    }
    ATMAN_FUZZ_CHECK(kHarness, covered <= size, "tensors cover more bytes than the file has");
    (void)file.metadata();
    ATMAN_FUZZ_CHECK(kHarness, file.find("\x01missing") == nullptr, "found a tensor never written");
  });

  atman::fuzz::guarded(kHarness, [&] {
    atman::Checkpoint checkpoint(dir);
    const auto names = checkpoint.names();
    for (const auto& name : names) {
      ATMAN_FUZZ_CHECK(kHarness, checkpoint.has(name), name);
      const atman::TensorInfo& info = checkpoint.info(name);
      atman::fuzz::guarded(kHarness,
                           [&] { check_loaded(checkpoint.get(name, info.shape), info, name); });
      // The wrong shape is a ModelError, never a crash.
      auto wrong = info.shape;
      wrong.push_back(1);
      atman::fuzz::guarded(kHarness, [&] {
        (void)checkpoint.get(name, wrong);
        atman::fuzz::fail(kHarness, "a wrong expected shape was accepted for '" + name + "'");
      });
    }
    // A missing tensor: the message suggests similar names (edit distance over every name).
    const std::string missing = names.empty() ? std::string("weight") : names.front() + ".x";
    atman::fuzz::guarded(kHarness, [&] {
      (void)checkpoint.get(missing);
      if (!checkpoint.has(missing)) atman::fuzz::fail(kHarness, "a missing tensor loaded");
    });
  });
  return 0;
}
