#include "atman/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "atman/error.h"

namespace atman {
namespace {

std::filesystem::path& explicit_model_root() {
  static std::filesystem::path root;
  return root;
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

}  // namespace

std::filesystem::path model_root() {
  if (!explicit_model_root().empty()) return explicit_model_root();
  if (const char* env = std::getenv("ATMAN_MODELS"); env && *env) return env;
  return std::filesystem::path(ATMAN_SOURCE_ROOT) / ".." / "shared" / "models";
}

void set_model_root(const std::filesystem::path& root) { explicit_model_root() = root; }

std::filesystem::path resolve_model_dir(const std::string& name_or_path) {
  if (name_or_path.empty()) throw InputError("no model given: pass a model folder or a model name");
  std::filesystem::path direct(name_or_path);
  std::error_code ec;
  if (std::filesystem::is_directory(direct, ec)) return direct;
  auto under_root = model_root() / name_or_path;
  if (std::filesystem::is_directory(under_root, ec)) return under_root;
  throw ModelError("model '" + name_or_path + "' not found: neither '" + direct.string() +
                   "' nor '" + under_root.string() +
                   "' is a folder (set the model root with --models-dir or ATMAN_MODELS)");
}

void set_compute_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

int compute_threads() { return at::get_num_threads(); }

std::string version() { return ATMAN_VERSION; }

std::string runtime_report() {
  std::ostringstream out;
  out << "AtMan Studio " << version() << "\n";
  out << "torch threads: " << at::get_num_threads() << " of "
      << std::thread::hardware_concurrency() << " cores\n";
  out << "BLAS: " << loaded_blas() << "\n";
  out << "CUDA: " << (at::hasCUDA() ? "available" : "not available in this LibTorch build") << "\n";
  out << "model root: " << model_root().string() << "\n";
  return out.str();
}

}  // namespace atman
