// Safetensors checkpoints: a single `model.safetensors` or shards listed in
// `model.safetensors.index.json`. Files are memory-mapped and fully validated when opened
// (header size cap, JSON, dtypes, byte ranges inside the file, no overlaps), so a hostile file
// fails with a ModelError naming the file and the problem, before any tensor is touched.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace atman {

enum class StDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

struct TensorInfo {
  std::string name;
  StDType dtype = StDType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

// One memory-mapped .safetensors file. Movable, not copyable; unmaps on destruction.
class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // as the reference implementation

  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const;
  const std::map<std::string, TensorInfo>& tensors() const;
  const std::map<std::string, std::string>& metadata() const;
  const TensorInfo* find(const std::string& name) const;

  // A tensor copied out of the mapping and converted to `dtype` (float32 by default).
  at::Tensor load(const std::string& name, at::ScalarType dtype = at::kFloat) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// All tensors of a model folder, from one file or a sharded index.
class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& model_dir);
  ~Checkpoint();
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;

  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // Loads a tensor and checks its shape; a missing tensor or wrong shape is a ModelError naming
  // the file, the tensor, the expected and the found shape.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& expected_shape,
                 at::ScalarType dtype = at::kFloat) const;
  // Same without a shape check.
  at::Tensor get(const std::string& name, at::ScalarType dtype = at::kFloat) const;
  const std::filesystem::path& dir() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes tensors as a .safetensors file (used by tests that make tiny random models, and by tools).
void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace atman
