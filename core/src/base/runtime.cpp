#include "atman/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <malloc.h>

#include <cctype>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "atman/error.h"

namespace atman {
namespace {

std::filesystem::path& explicit_model_root() {
  static std::filesystem::path root;
  return root;
}

RepoResolver& repo_resolver() {
  static RepoResolver resolver;
  return resolver;
}

// huggingface_hub's cache folder (hub::default_cache_dir without the Hub library).
std::filesystem::path hub_cache_dir() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
    if (const char* env = std::getenv(name); env && *env) return env;
  if (const char* env = std::getenv("HF_HOME"); env && *env)
    return std::filesystem::path(env) / "hub";
  std::filesystem::path cache;
  if (const char* env = std::getenv("XDG_CACHE_HOME"); env && *env)
    cache = env;
  else if (const char* home = std::getenv("HOME"); home && *home)
    cache = std::filesystem::path(home) / ".cache";
  return cache / "huggingface" / "hub";
}

// models--ORG--NAME/snapshots/<refs/main> when it has a config.json, else empty.
std::filesystem::path cached_hub_snapshot(const std::filesystem::path& repo_folder) {
  std::ifstream ref(repo_folder / "refs" / "main");
  std::string commit;
  if (!(ref >> commit)) return {};
  for (char c : commit)
    if (!std::isalnum(static_cast<unsigned char>(c))) return {};
  auto snapshot = repo_folder / "snapshots" / commit;
  std::error_code ec;
  return std::filesystem::is_regular_file(snapshot / "config.json", ec) ? snapshot
                                                                        : std::filesystem::path{};
}

// Which BLAS the process really loaded: Debian's LibTorch goes through the libblas.so.3
// alternative, which is the 25x slower reference BLAS unless OpenBLAS is installed.
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    auto file = std::filesystem::path(path).filename().string();
    if (file.rfind("libblas.so", 0) == 0 || file.rfind("libopenblas", 0) == 0 ||
        file.rfind("libmkl", 0) == 0 || file.rfind("libblis", 0) == 0) {
      std::error_code ec;
      auto real = std::filesystem::canonical(path, ec);
      std::string shown = ec ? path : real.string();
      if (shown.find("openblas") != std::string::npos) return "OpenBLAS (" + shown + ")";
      if (shown.find("mkl") != std::string::npos) return "MKL (" + shown + ")";
      if (shown.find("blis") != std::string::npos) return "BLIS (" + shown + ")";
      return "reference BLAS, slow: install libopenblas0-pthread (" + shown + ")";
    }
  }
  return "none loaded";
}

// set_compute_threads for OpenBLAS, whose pthread pool is separate from torch's OpenMP one; looked
// up at run time because which BLAS libblas.so.3 is depends on the machine.
void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(threads);
}

}  // namespace

std::filesystem::path model_root() {
  if (!explicit_model_root().empty()) return explicit_model_root();
  if (const char* env = std::getenv("ATMAN_MODELS"); env && *env) return env;
  return std::filesystem::path(ATMAN_SOURCE_ROOT) / ".." / "shared" / "models";
}

void set_model_root(const std::filesystem::path& root) {
  explicit_model_root() = root;
}

std::filesystem::path resolve_model_dir(const std::string& name_or_path) {
  if (name_or_path.empty()) throw InputError("no model given: pass a model folder or a model name");
  std::filesystem::path direct(name_or_path);
  std::error_code ec;
  if (std::filesystem::is_directory(direct, ec)) return direct;
  auto under_root = model_root() / name_or_path;
  if (std::filesystem::is_directory(under_root, ec)) return under_root;
  if (looks_like_repo_id(name_or_path)) {
    const std::string not_local = "model '" + name_or_path + "': neither '" + direct.string() +
                                  "' nor '" + under_root.string() + "' is a folder";
    if (const auto& resolver = repo_resolver()) {
      try {
        return resolver(name_or_path);
      } catch (const Cancelled&) {
        throw;
      } catch (const std::exception& e) {
        throw ModelError(not_local + ", and as a Hugging Face repo id: " + e.what());
      }
    }
    std::string folder = "models--" + name_or_path;
    folder.replace(folder.find('/'), 1, "--");
    const auto repo_folder = hub_cache_dir() / folder;
    if (auto snapshot = cached_hub_snapshot(repo_folder); !snapshot.empty()) return snapshot;
    throw ModelError(not_local + ", and the Hugging Face cache has no snapshot of it in '" +
                     repo_folder.string() + "' (download it with: atman fetch " + name_or_path +
                     ")");
  }
  // An absolute path is not looked up under the model root (the two would name the same folder).
  if (direct.is_absolute())
    throw ModelError("model folder '" + direct.string() + "' does not exist or is not a folder");
  throw ModelError("model '" + name_or_path + "' not found: neither '" + direct.string() +
                   "' nor '" + under_root.string() +
                   "' is a folder (set the model root with --models-dir or ATMAN_MODELS)");
}

void set_repo_resolver(RepoResolver resolver) {
  repo_resolver() = std::move(resolver);
}

bool looks_like_repo_id(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || text.find('/', slash + 1) != std::string::npos) return false;
  auto part_ok = [](std::string_view part) {
    if (part.empty() || part.size() > 96) return false;
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        return false;
    return part.front() != '-' && part.front() != '.' && part.back() != '-' && part.back() != '.';
  };
  const std::string_view view(text);
  return part_ok(view.substr(0, slash)) && part_ok(view.substr(slash + 1)) &&
         text.find("--") == std::string::npos && text.find("..") == std::string::npos &&
         !view.ends_with(".git");
}

void set_compute_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // at::set_num_threads also rebuilds caffe2's pthreadpool, whose new workers spin for a million
  // pause instructions each (~50 ms of a core); OMP_NUM_THREADS (thread_environment.cpp) usually
  // made the count right already, and then every thread's lazy default is right too.
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
  set_blas_threads(threads);
}

int compute_threads() {
  return at::get_num_threads();
}

void configure_memory_allocator() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum: larger blocks are mmap'ed regardless
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

uint64_t available_memory_bytes(const std::string& device) {
  if (device.rfind("cuda", 0) == 0) {
    // The CUDA runtime is in the process only with a CUDA LibTorch; looked up at run time so that
    // this CPU build needs no CUDA headers or libraries.
    using GetDevice = int (*)(int*);
    using SetDevice = int (*)(int);
    using MemGetInfo = int (*)(size_t*, size_t*);
    auto get_device = reinterpret_cast<GetDevice>(::dlsym(RTLD_DEFAULT, "cudaGetDevice"));
    auto set_device = reinterpret_cast<SetDevice>(::dlsym(RTLD_DEFAULT, "cudaSetDevice"));
    auto mem_get_info = reinterpret_cast<MemGetInfo>(::dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
    if (!get_device || !set_device || !mem_get_info) return 0;
    int index = 0;
    if (auto colon = device.find(':'); colon != std::string::npos)
      index = std::atoi(device.c_str() + colon + 1);
    int previous = 0;
    if (get_device(&previous) != 0) return 0;
    size_t free_bytes = 0, total_bytes = 0;
    const bool ok = set_device(index) == 0 && mem_get_info(&free_bytes, &total_bytes) == 0;
    set_device(previous);
    return ok ? free_bytes : 0;
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

std::string version() {
  return ATMAN_VERSION;
}

std::string runtime_report() {
  std::ostringstream out;
  out << "AtMan Studio " << version() << "\n";
  out << "torch threads: " << at::get_num_threads() << " of " << std::thread::hardware_concurrency()
      << " cores\n";
  out << "BLAS: " << loaded_blas() << "\n";
  if (const char* policy = std::getenv("OMP_WAIT_POLICY"))
    out << "OpenMP idle threads: " << policy << " (OMP_WAIT_POLICY)\n";
  out << "CUDA: " << (at::hasCUDA() ? "available" : "not available in this LibTorch build") << "\n";
  out << "model root: " << model_root().string() << "\n";
  return out.str();
}

}  // namespace atman
