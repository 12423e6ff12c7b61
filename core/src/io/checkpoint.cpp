// A model folder's weights: model.safetensors, or shards listed in model.safetensors.index.json.
// Every file is opened (and so validated) up front, so a broken download fails when the model is
// opened instead of halfway through building it.
#include <ATen/ops/isfinite.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "io/messages.h"
#include "io/safetensors.h"

namespace atman {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream in(name);
  for (std::string part; std::getline(in, part, '.');) parts.push_back(part);
  return parts;
}

// The usual reasons for a missing tensor are a different prefix ("model." vs
// "language_model.model."), a layer index past the end, or a typo. Names sharing several trailing
// components or only a few edits away cover all three.
std::vector<std::string> similar_names(const std::string& name,
                                       const std::vector<std::string>& names) {
  const auto wanted = split_dots(name);
  struct Candidate {
    size_t shared_suffix;
    size_t distance;
    const std::string* name;
  };
  std::vector<Candidate> candidates;
  for (const auto& other : names) {
    const auto parts = split_dots(other);
    size_t shared = 0;
    while (shared < wanted.size() && shared < parts.size() &&
           wanted[wanted.size() - 1 - shared] == parts[parts.size() - 1 - shared])
      ++shared;
    size_t distance = edit_distance(name, other);
    if (shared >= 2 || distance <= std::max<size_t>(3, name.size() / 4))
      candidates.push_back({shared, distance, &other});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.shared_suffix != b.shared_suffix) return a.shared_suffix > b.shared_suffix;
    if (a.distance != b.distance) return a.distance < b.distance;
    return *a.name < *b.name;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < candidates.size() && i < 5; ++i) out.push_back(*candidates[i].name);
  return out;
}

// Shard names come from a downloaded JSON file; one like "../../.ssh/id_rsa" must not make us map
// a file outside the model folder.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

std::string bin_hint(const std::filesystem::path& dir) {
  std::error_code ec;
  bool has_bin = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".bin" || entry.path().extension() == ".pt" ||
        entry.path().extension() == ".pth") {
      has_bin = true;
      break;
    }
  }
  if (!has_bin) return "";
  return ". The folder has a PyTorch .bin/.pt checkpoint, which is not supported (loading it can "
         "run arbitrary code); convert it in Python with transformers: load the model with "
         "from_pretrained('" +
         dir.string() + "') and save it again with save_pretrained('" + dir.string() +
         "', safe_serialization=True)";
}

// Whether none of `count` values of `Bits` width at `bytes` has the all-ones exponent (`mask`) of
// NaN and Inf. (bits & mask) plus the lowest exponent bit reaches the sign bit exactly when the
// exponent is all ones, so OR-ing those sums and testing the sign bit once needs only and, add
// and or, which the compiler vectorises. The bytes are read as integers through memcpy (no
// aliasing questions), in one pass with no early exit: a broken checkpoint is the rare case.
template <typename Bits>
[[gnu::always_inline]] inline bool exponents_finite(const unsigned char* bytes, int64_t count,
                                                    Bits mask) {
  const auto lowest = static_cast<Bits>(mask & (~mask + 1u));
  const auto sign = static_cast<Bits>(mask + lowest);
  Bits any = 0;
  for (int64_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, bytes + i * static_cast<int64_t>(sizeof(Bits)), sizeof(Bits));
    any |= static_cast<Bits>((bits & mask) + lowest);
  }
  return (any & sign) == 0;
}

// The scan with 256-bit loads where the CPU has AVX2 (chosen once, when the program is loaded):
// 50 instead of 61 ms for the 600 MB of a CLIP B/32 checkpoint here, where a reduction with
// at::sum took 52 ms with one thread and 86-99 ms with two (it woke the OpenMP workers for each
// tensor), and needed a second, exact pass whenever large finite weights overflowed the sum.
[[gnu::target_clones("avx2", "default")]] bool floats_finite(const void* data, int64_t count,
                                                             at::ScalarType dtype) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  switch (dtype) {
    case at::kFloat:
      return exponents_finite<uint32_t>(bytes, count, 0x7f800000u);
    case at::kDouble:
      return exponents_finite<uint64_t>(bytes, count, 0x7ff0000000000000ull);
    case at::kHalf:
      return exponents_finite<uint16_t>(bytes, count, 0x7c00u);
    case at::kBFloat16:
      return exponents_finite<uint16_t>(bytes, count, 0x7f80u);
    default:
      throw std::logic_error("floats_finite: not a floating dtype");
  }
}

bool all_finite(const at::Tensor& tensor) {
  if (tensor.numel() == 0) return true;
  const at::ScalarType dtype = tensor.scalar_type();
  if (tensor.is_contiguous() &&
      (dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf || dtype == at::kBFloat16))
    return floats_finite(tensor.data_ptr(), tensor.numel(), dtype);
  return at::isfinite(tensor).all().item<bool>();
}

}  // namespace

struct Checkpoint::Impl {
  std::filesystem::path dir;
  CheckpointOptions options;
  std::filesystem::path source;  // model.safetensors or the index: what "missing tensor" names
  std::vector<SafetensorsFile> files;
  std::unordered_map<std::string, size_t> file_of;  // tensor name -> index into files

  const SafetensorsFile& file_for(const std::string& name) const {
    auto it = file_of.find(name);
    if (it != file_of.end()) return files[it->second];
    std::vector<std::string> all;
    all.reserve(file_of.size());
    for (const auto& [known, index] : file_of) all.push_back(known);
    std::sort(all.begin(), all.end());
    std::string message = "tensor '" + name + "' not found in " + quoted(source) + " (" +
                          std::to_string(all.size()) + " tensors)";
    auto similar = similar_names(name, all);
    if (!similar.empty()) {
      message += "; similar names:";
      for (size_t i = 0; i < similar.size(); ++i) message += (i ? ", '" : " '") + similar[i] + "'";
    }
    throw ModelError(message + ". The config.json may not match these weights.");
  }

  void open_single(const std::filesystem::path& path) {
    source = path;
    files.emplace_back(path);
    for (const auto& [name, info] : files.back().tensors()) file_of.emplace(name, 0);
  }

  void open_index(const std::filesystem::path& index_path) {
    source = index_path;
    std::ifstream in(index_path, std::ios::binary);
    if (!in) throw ModelError("cannot read " + quoted(index_path));
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw ModelError(quoted(index_path) + " is not valid JSON: " + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw ModelError(quoted(index_path) +
                       " has no \"weight_map\" object mapping tensor names "
                       "to shard files");

    std::map<std::string, size_t> shard_index;
    for (const auto& [tensor, shard_json] : index["weight_map"].items()) {
      if (!shard_json.is_string())
        throw ModelError(quoted(index_path) + ": weight_map entry for tensor '" + tensor +
                         "' is not a file name string");
      const auto shard = shard_json.get<std::string>();
      if (!is_plain_file_name(shard))
        throw ModelError(quoted(index_path) + " maps tensor '" + tensor + "' to shard '" + shard +
                         "', which is not a plain file name inside the model folder");
      auto [it, inserted] = shard_index.emplace(shard, files.size());
      if (inserted) {
        const auto shard_path = dir / shard;
        std::error_code ec;
        if (!std::filesystem::exists(shard_path, ec))
          throw ModelError(quoted(index_path) + " maps tensor '" + tensor + "' to shard '" + shard +
                           "', which does not exist in " + quoted(dir) + " (incomplete download?)");
        files.emplace_back(shard_path);
      }
      if (!files[it->second].find(tensor))
        throw ModelError(quoted(index_path) + " maps tensor '" + tensor + "' to shard " +
                         quoted(files[it->second].path()) + ", which does not contain it");
      file_of.emplace(tensor, it->second);
    }
  }
};

Checkpoint::Checkpoint(const std::filesystem::path& model_dir, CheckpointOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = model_dir;
  impl_->options = options;
  std::error_code ec;
  if (!std::filesystem::is_directory(model_dir, ec))
    throw ModelError("model folder " + quoted(model_dir) + " does not exist or is not a folder");
  const auto single = model_dir / "model.safetensors";
  const auto index = model_dir / "model.safetensors.index.json";
  // A folder with both is what transformers writes when it re-saves a small model over a sharded
  // one; like transformers, the single file wins.
  if (std::filesystem::exists(single, ec))
    impl_->open_single(single);
  else if (std::filesystem::exists(index, ec))
    impl_->open_index(index);
  else
    throw ModelError("no model.safetensors or model.safetensors.index.json in " +
                     quoted(model_dir) + bin_hint(model_dir));
  // A model reads all of its weights; mapping them in bulk is far cheaper than faulting them in.
  if (options.zero_copy)
    for (const auto& file : impl_->files) file.populate();
}

Checkpoint::~Checkpoint() = default;
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;

bool Checkpoint::has(const std::string& name) const {
  return impl_->file_of.count(name) != 0;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  return *impl_->file_for(name).find(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->file_of.size());
  for (const auto& [name, index] : impl_->file_of) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

at::Tensor Checkpoint::get(const std::string& name, const std::vector<int64_t>& expected_shape,
                           at::ScalarType dtype) const {
  const SafetensorsFile& file = impl_->file_for(name);
  const TensorInfo* info = file.find(name);
  if (info->shape != expected_shape)
    throw ModelError("tensor '" + name + "' in " + quoted(file.path()) + " has shape " +
                     shape_to_string(info->shape) + " but the model expects " +
                     shape_to_string(expected_shape) +
                     "; the config.json may not match these weights");
  return get(name, dtype);
}

at::Tensor Checkpoint::get(const std::string& name, at::ScalarType dtype) const {
  const SafetensorsFile& file = impl_->file_for(name);
  at::Tensor tensor = file.load(name, dtype, impl_->options.zero_copy);
  // A diverged training run saves NaN weights; they would surface much later as NaN
  // explanations with no hint of the cause.
  if (at::isFloatingType(tensor.scalar_type()) && !all_finite(tensor))
    throw ModelError("tensor '" + name + "' in " + quoted(file.path()) +
                     " contains NaN or Inf values; the checkpoint is broken (diverged training or "
                     "corrupt file)");
  return tensor;
}

const std::filesystem::path& Checkpoint::dir() const {
  return impl_->dir;
}

const CheckpointOptions& Checkpoint::options() const {
  return impl_->options;
}

uint64_t Checkpoint::loaded_bytes(at::ScalarType float_dtype) const {
  uint64_t total = 0;
  for (const auto& [name, index] : impl_->file_of) {
    const TensorInfo& info = *impl_->files[index].find(name);
    const uint64_t stored = info.end - info.begin;
    total += is_floating(info.dtype)
                 ? stored / element_size(info.dtype) * at::elementSize(float_dtype)
                 : stored;
  }
  return total;
}

uint64_t Checkpoint::stored_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, index] : impl_->file_of) {
    const TensorInfo& info = *impl_->files[index].find(name);
    total += info.end - info.begin;
  }
  return total;
}

}  // namespace atman
