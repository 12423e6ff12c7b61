// Reading and writing .safetensors files. Everything in the header is checked against the real file
// size before any tensor is touched, because checkpoints are downloaded from the internet and a
// hostile or truncated file must end in a ModelError, never in a crash or a giant allocation.
#include "io/safetensors.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "io/messages.h"

// The data section is little-endian; copying it straight into tensors is only right on such hosts.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace atman {
namespace {

struct DTypeInfo {
  StDType dtype;
  const char* name;
  uint64_t size;
  at::ScalarType scalar;
};

constexpr DTypeInfo kDTypes[] = {
    {StDType::F32, "F32", 4, at::kFloat},      {StDType::F16, "F16", 2, at::kHalf},
    {StDType::BF16, "BF16", 2, at::kBFloat16}, {StDType::F64, "F64", 8, at::kDouble},
    {StDType::I64, "I64", 8, at::kLong},       {StDType::I32, "I32", 4, at::kInt},
    {StDType::I16, "I16", 2, at::kShort},      {StDType::I8, "I8", 1, at::kChar},
    {StDType::U8, "U8", 1, at::kByte},         {StDType::BOOL, "BOOL", 1, at::kBool},
};

const DTypeInfo& info_of(StDType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info;
  throw std::logic_error("unhandled StDType");
}

const DTypeInfo* info_of_name(const std::string& name) {
  for (const auto& info : kDTypes)
    if (name == info.name) return &info;
  return nullptr;
}

const DTypeInfo* info_of_scalar(at::ScalarType scalar) {
  for (const auto& info : kDTypes)
    if (info.scalar == scalar) return &info;
  return nullptr;
}

std::string dtype_list() {
  std::string out;
  for (const auto& info : kDTypes) out += std::string(out.empty() ? "" : ", ") + info.name;
  return out;
}

std::string errno_text() {
  return std::strerror(errno);
}

// A private, copy-on-write mapping of a whole file. Writable so that tensors viewing it stay
// ordinary writable tensors: a write (an in-place op on a weight, which the models do not do)
// copies that page for this process and never reaches the file. Read-only pages stay the page
// cache's. The descriptor is closed right after mmap: the mapping keeps the file alive, and
// holding one descriptor per shard is pointless.
class Mapping {
 public:
  explicit Mapping(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw ModelError("cannot open " + quoted(path) + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      std::string why = errno_text();
      ::close(fd);
      throw ModelError("cannot read " + quoted(path) + ": " + why);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw ModelError("cannot read " + quoted(path) + ": not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ < 8) {
      ::close(fd);
      throw ModelError("invalid safetensors file " + quoted(path) + ": the file is " +
                       std::to_string(size_) +
                       " bytes long, shorter than the 8-byte header length (empty or truncated "
                       "download?)");
    }
    void* base = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    std::string why = base == MAP_FAILED ? errno_text() : std::string();
    ::close(fd);
    if (base == MAP_FAILED) throw ModelError("cannot memory-map " + quoted(path) + ": " + why);
    data_ = static_cast<unsigned char*>(base);
  }
  ~Mapping() {
    if (data_) ::munmap(data_, size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  unsigned char* data() const { return data_; }
  uint64_t size() const { return size_; }

  // Maps the whole file into the page tables in one call instead of one page fault per 64 KiB
  // (MADV_POPULATE_READ, Linux 5.14; read-only population keeps the pages the page cache's). On
  // older kernels, at least start reading the file ahead.
  void populate() const {
#ifdef MADV_POPULATE_READ
    if (::madvise(data_, size_, MADV_POPULATE_READ) == 0) return;
#endif
    ::madvise(data_, size_, MADV_WILLNEED);
  }

  // Gives back this process's pages of [begin, end) once their bytes were copied elsewhere (only
  // pages wholly inside, which no view can be using: views are whole tensors and were not made
  // of a range that was copied). The page cache keeps the file's pages; only our RSS shrinks.
  void release(const unsigned char* begin, const unsigned char* end) const {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t first = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
    const uintptr_t last = reinterpret_cast<uintptr_t>(end) / page * page;
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

 private:
  unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
};

// Parses the header JSON, rejecting duplicate top-level keys: nlohmann would silently keep the last
// one, and two different descriptions of one tensor mean the file is corrupt or crafted.
nlohmann::json parse_header(const char* begin, const char* end, const std::string& where) {
  std::string duplicate;
  std::set<std::string> seen;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(begin, end, on_event);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(where + "the header is not valid JSON (" + e.what() +
                     "); the file is corrupt or not a safetensors file");
  }
  if (!header.is_object()) throw ModelError(where + "the header is JSON but not an object");
  if (!duplicate.empty())
    throw ModelError(where + "the header lists '" + duplicate + "' more than once");
  return header;
}

TensorInfo parse_entry(const std::string& name, const nlohmann::json& entry, uint64_t data_size,
                       const std::string& where) {
  const std::string what = where + "tensor '" + name + "' ";
  if (!entry.is_object()) throw ModelError(what + "is not described by a JSON object");
  TensorInfo info;
  info.name = name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string())
    throw ModelError(what + "has no \"dtype\" string");
  const DTypeInfo* dtype = info_of_name(dtype_it->get<std::string>());
  if (!dtype)
    throw ModelError(what + "has unsupported dtype '" + dtype_it->get<std::string>() +
                     "' (supported: " + dtype_list() + ")");
  info.dtype = dtype->dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array())
    throw ModelError(what + "has no \"shape\" array");
  uint64_t numel = 1;
  for (const auto& dim : *shape_it) {
    // nlohmann stores non-negative integers as unsigned, so anything else is negative or not an
    // integer at all.
    if (!dim.is_number_unsigned())
      throw ModelError(what + "has an invalid shape " + shape_it->dump() +
                       ": dimensions must be non-negative integers");
    uint64_t d = dim.get<uint64_t>();
    if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(numel, d, &numel))
      throw ModelError(what + "has an impossibly large shape " + shape_it->dump());
    info.shape.push_back(static_cast<int64_t>(d));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, dtype->size, &nbytes))
    throw ModelError(what + "has an impossibly large shape " + shape_it->dump());

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned())
    throw ModelError(what + "needs \"data_offsets\" as two non-negative integers [begin, end]");
  info.begin = (*offsets_it)[0].get<uint64_t>();
  info.end = (*offsets_it)[1].get<uint64_t>();
  if (info.begin > info.end)
    throw ModelError(what + "has data_offsets [" + std::to_string(info.begin) + ", " +
                     std::to_string(info.end) + "] whose begin is after its end");
  if (info.end > data_size)
    throw ModelError(what + "has data_offsets [" + std::to_string(info.begin) + ", " +
                     std::to_string(info.end) + "] outside the data section of " +
                     std::to_string(data_size) + " bytes (truncated file?)");
  if (info.end - info.begin != nbytes)
    throw ModelError(what + "has shape " + shape_to_string(info.shape) + " and dtype " +
                     dtype->name + ", which need " + std::to_string(nbytes) +
                     " bytes, but its data_offsets span " + std::to_string(info.end - info.begin) +
                     " bytes");
  return info;
}

// The reference implementation requires the tensors to tile the data section exactly: no overlap
// (two tensors aliasing the same bytes), no gap and no trailing bytes (both signs of a damaged
// file). We check the same so that every file we accept is one the reference accepts too.
void check_layout(const std::map<std::string, TensorInfo>& tensors, uint64_t data_size,
                  const std::string& where) {
  std::vector<const TensorInfo*> order;
  order.reserve(tensors.size());
  for (const auto& [name, info] : tensors) order.push_back(&info);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* info : order) {
    if (info->begin < covered)
      throw ModelError(where + "the byte ranges of tensors '" + previous->name + "' [" +
                       std::to_string(previous->begin) + ", " + std::to_string(previous->end) +
                       ") and '" + info->name + "' [" + std::to_string(info->begin) + ", " +
                       std::to_string(info->end) + ") overlap");
    if (info->begin > covered)
      throw ModelError(where + "there is a gap of " + std::to_string(info->begin - covered) +
                       " bytes in the data section before tensor '" + info->name + "' (bytes " +
                       std::to_string(covered) + " to " + std::to_string(info->begin) +
                       " belong to no tensor)");
    covered = info->end;
    previous = info;
  }
  if (covered != data_size)
    throw ModelError(where + "the data section has " + std::to_string(data_size - covered) +
                     " bytes after the last tensor that belong to no tensor");
}

}  // namespace

bool is_floating(StDType dtype) {
  return dtype == StDType::F32 || dtype == StDType::F16 || dtype == StDType::BF16 ||
         dtype == StDType::F64;
}

uint64_t element_size(StDType dtype) {
  return info_of(dtype).size;
}

struct SafetensorsFile::Impl {
  std::filesystem::path path;
  // Shared with every tensor that views it, so the file stays mapped while one lives.
  std::shared_ptr<Mapping> mapping;
  unsigned char* data = nullptr;  // start of the data section inside the mapping
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  // Tensors handed out as views: their pages must never be released (a released page that was
  // written would lose the write). load() is const and may run on several threads.
  mutable std::mutex viewed_mutex;
  mutable std::set<std::string> viewed;

  explicit Impl(const std::filesystem::path& p) : path(p), mapping(std::make_shared<Mapping>(p)) {}
};

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : impl_(std::make_unique<Impl>(path)) {
  const std::string where = "invalid safetensors file " + quoted(path) + ": ";
  const unsigned char* base = impl_->mapping->data();
  const uint64_t file_size = impl_->mapping->size();

  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | base[i];
  // Both limits are checked before anything of header_size is read or allocated.
  if (header_size > kMaxHeaderBytes)
    throw ModelError(where + "the header claims " + std::to_string(header_size) +
                     " bytes, more than the " + std::to_string(kMaxHeaderBytes) +
                     "-byte limit (corrupt file, or not a safetensors file)");
  if (header_size > file_size - 8)
    throw ModelError(where + "the header claims " + std::to_string(header_size) +
                     " bytes but the file has only " + std::to_string(file_size - 8) +
                     " after the length field (truncated download?)");

  const char* header_begin = reinterpret_cast<const char*>(base + 8);
  nlohmann::json header = parse_header(header_begin, header_begin + header_size, where);
  impl_->data = impl_->mapping->data() + 8 + header_size;
  const uint64_t data_size = file_size - 8 - header_size;

  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw ModelError(where + "\"__metadata__\" is not a JSON object");
      // The format says string values; a writer that stored numbers is harmless, so keep its text.
      for (const auto& [mkey, mvalue] : value.items())
        impl_->metadata[mkey] = mvalue.is_string() ? mvalue.get<std::string>() : mvalue.dump();
      continue;
    }
    impl_->tensors.emplace(key, parse_entry(key, value, data_size, where));
  }
  check_layout(impl_->tensors, data_size, where);
}

SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

const std::filesystem::path& SafetensorsFile::path() const {
  return impl_->path;
}
const std::map<std::string, TensorInfo>& SafetensorsFile::tensors() const {
  return impl_->tensors;
}
const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return impl_->metadata;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = impl_->tensors.find(name);
  return it == impl_->tensors.end() ? nullptr : &it->second;
}

void SafetensorsFile::populate() const {
  impl_->mapping->populate();
}

bool SafetensorsFile::can_view(const std::string& name, at::ScalarType dtype) const {
  const TensorInfo* info = find(name);
  if (!info) return false;
  const DTypeInfo& stored = info_of(info->dtype);
  // The data section starts right after a header of any length, so alignment is per file and
  // per tensor; kernels may assume element alignment, never more.
  return stored.scalar == dtype &&
         reinterpret_cast<uintptr_t>(impl_->data + info->begin) % stored.size == 0;
}

at::Tensor SafetensorsFile::load(const std::string& name, at::ScalarType dtype,
                                 bool allow_view) const {
  const TensorInfo* info = find(name);
  if (!info) throw ModelError("tensor '" + name + "' not found in " + quoted(impl_->path));
  const DTypeInfo& stored = info_of(info->dtype);
  // Turning weights into integers would silently truncate them; that is a caller bug worth a
  // clear message rather than garbage.
  if (is_floating(info->dtype) && !at::isFloatingType(dtype))
    throw ModelError("tensor '" + name + "' in " + quoted(impl_->path) + " is stored as " +
                     stored.name + " and cannot be loaded as " + at::toString(dtype));
  unsigned char* bytes = impl_->data + info->begin;
  const uint64_t nbytes = info->end - info->begin;
  if (allow_view && nbytes && can_view(name, dtype)) {
    {
      std::lock_guard lock(impl_->viewed_mutex);
      impl_->viewed.insert(name);
    }
    // The deleter owns a reference to the mapping: the file stays mapped while the view lives.
    return at::from_blob(
        bytes, info->shape, [mapping = impl_->mapping](void*) {},
        at::TensorOptions().dtype(stored.scalar));
  }
  // A tensor converted to another dtype is read straight from the mapping (no intermediate
  // copy); a misaligned or copied one goes through a fresh, aligned tensor of the stored type.
  at::Tensor out;
  if (dtype != stored.scalar && nbytes && reinterpret_cast<uintptr_t>(bytes) % stored.size == 0) {
    out = at::from_blob(bytes, info->shape, at::TensorOptions().dtype(stored.scalar)).to(dtype);
  } else {
    out = at::empty(info->shape, at::TensorOptions().dtype(stored.scalar));
    if (nbytes) std::memcpy(out.data_ptr(), bytes, nbytes);
    if (dtype != stored.scalar) out = out.to(dtype);
  }
  // Our copy is all that is needed now: drop the file pages from this process's RSS.
  std::lock_guard lock(impl_->viewed_mutex);
  if (nbytes && !impl_->viewed.count(name)) impl_->mapping->release(bytes, bytes + nbytes);
  return out;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // std::map keeps the names sorted, so the same tensors always give the same bytes.
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> payload;
  payload.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__")
      throw ModelError("cannot write " + quoted(path) +
                       ": '__metadata__' is reserved, not a tensor name");
    if (!tensor.defined())
      throw ModelError("cannot write " + quoted(path) + ": tensor '" + name + "' is undefined");
    const DTypeInfo* dtype = info_of_scalar(tensor.scalar_type());
    if (!dtype)
      throw ModelError("cannot write " + quoted(path) + ": tensor '" + name + "' has dtype " +
                       at::toString(tensor.scalar_type()) +
                       ", which safetensors cannot store here");
    at::Tensor data = tensor.to(at::kCPU).contiguous();
    const uint64_t nbytes = data.nbytes();
    header[name] = {{"dtype", dtype->name},
                    {"shape", data.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    payload.push_back(std::move(data));
  }
  std::string text = header.dump();
  // Padding keeps the data section 8-byte aligned inside the file, so readers that map the file
  // can use the data in place.
  text.append((8 - text.size() % 8) % 8, ' ');

  // Written next to the target and renamed over it: a crash or full disk never leaves a
  // half-written checkpoint under the real name.
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw ModelError("cannot create " + quoted(tmp) + ": " + errno_text());
    unsigned char length[8];
    for (int i = 0; i < 8; ++i)
      length[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& data : payload)
      if (data.nbytes())
        out.write(static_cast<const char*>(data.data_ptr()),
                  static_cast<std::streamsize>(data.nbytes()));
    out.close();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw ModelError("cannot write " + quoted(path) + " (disk full or not writable?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw ModelError("cannot write " + quoted(path) + ": " + ec.message());
  }
}

}  // namespace atman
