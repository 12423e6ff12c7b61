// Safetensors checkpoints: a single `model.safetensors` or shards listed in
// `model.safetensors.index.json`. Files are memory-mapped and fully validated when opened
// (header size cap, JSON, no duplicate names, dtypes, shape x dtype size == byte range, ranges
// inside the file and tiling the data section with no overlap or gap, as the reference
// implementation requires), so a hostile file fails with a ModelError naming the file and the
// problem, before any tensor is touched.
//
// Tensors can be views of the mapping (zero-copy): the mapping is private and writable, so a
// write into such a tensor copies the touched page for this process and never reaches the file,
// and each view keeps the mapping alive for as long as it lives.
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

// Whether a stored dtype is a floating type (F32, F16, BF16, F64).
bool is_floating(StDType dtype);
// Bytes per element of a stored dtype.
uint64_t element_size(StDType dtype);

struct TensorInfo {
  std::string name;
  StDType dtype = StDType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

// One memory-mapped .safetensors file. Movable, not copyable; unmaps on destruction. A moved-from
// object may only be destroyed or assigned to. const methods are safe to call from several threads.
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

  // A tensor converted to `dtype` (float32 by default). Floating data converts to any floating
  // dtype; integer and bool data to any dtype; floating data requested as an integer type is a
  // ModelError. With `allow_view`, a tensor stored as `dtype` whose bytes are aligned for it is a
  // view of the mapping instead of a copy (see can_view); otherwise it never aliases the file.
  at::Tensor load(const std::string& name, at::ScalarType dtype = at::kFloat,
                  bool allow_view = false) const;
  // Brings the whole file into this process's page tables at once (before loading all of it).
  void populate() const;
  // Whether load(name, dtype, true) returns a view: stored as `dtype`, element-aligned in memory.
  bool can_view(const std::string& name, at::ScalarType dtype) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How a Checkpoint hands out tensors.
struct CheckpointOptions {
  // The dtype of floating weights that WeightReader asks for (the model's compute dtype).
  at::ScalarType float_dtype = at::kFloat;
  // Tensors stored in the requested dtype are views of the file mapping instead of copies: no
  // memcpy, and the pages are the page cache's (shared, reclaimable) until something writes them.
  bool zero_copy = true;
};

// All tensors of a model folder, from model.safetensors (preferred when both exist) or a sharded
// index. Shard names must be plain file names inside the folder, and every tensor the index lists
// must be in its shard. A folder with neither file is a ModelError (with a hint on converting a
// PyTorch .bin checkpoint when one is there).
class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& model_dir, CheckpointOptions options = {});
  ~Checkpoint();
  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;

  bool has(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  // Header facts of a tensor without loading it (ModelError when missing).
  const TensorInfo& info(const std::string& name) const;
  // Loads a tensor and checks its shape; a missing tensor (the message suggests similar names) or
  // wrong shape is a ModelError naming the file, the tensor, the expected and the found shape.
  // Floating results containing NaN or Inf are a ModelError too.
  at::Tensor get(const std::string& name, const std::vector<int64_t>& expected_shape,
                 at::ScalarType dtype = at::kFloat) const;
  // Same without a shape check.
  at::Tensor get(const std::string& name, at::ScalarType dtype = at::kFloat) const;
  const std::filesystem::path& dir() const;
  const CheckpointOptions& options() const;
  // Bytes the tensors take once loaded with floating tensors in `float_dtype` (others as stored):
  // what the model's weights need in memory.
  uint64_t loaded_bytes(at::ScalarType float_dtype) const;
  // Bytes of the tensors as stored in the files.
  uint64_t stored_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes tensors as a .safetensors file (used by tests that make tiny random models, and by tools).
// Each tensor keeps its dtype (a contiguous CPU copy is written). Names are stored sorted and the
// header is padded to a multiple of 8 bytes, so equal input gives identical files. The file is
// written under a temporary name and renamed into place. Throws ModelError on I/O failure or a
// dtype safetensors cannot hold here (e.g. complex).
void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace atman
