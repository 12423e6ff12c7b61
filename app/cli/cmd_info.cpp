#include <chrono>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "atman/model.h"
#include "atman/runtime.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {
namespace {

// Resident memory of this process from /proc/self/status: (VmRSS, VmHWM) in MiB.
std::pair<double, double> resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  double rss = 0, peak = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stod(line.substr(6)) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stod(line.substr(6)) / 1024;
  }
  return {rss, peak};
}

}  // namespace

int run_info(int argc, char** argv) {
  Args args(argc, argv, 2, common_options({"model"}), {"load", "copy-weights"});
  apply_common(args);
  std::cout << runtime_report();
  if (args.has("model")) {
    // From the headers alone: says whether the model fits before anything is loaded.
    LoadOptions options;
    options.device = args.get("device", "cpu");
    options.dtype = args.get("dtype", "auto");
    options.zero_copy = !args.has("copy-weights");  // the copying loader, for comparisons
    const auto dir = resolve_model_dir(args.required("model"));
    std::cout << "model: " << dir.string() << "\n" << Model::estimate_memory(dir, options).report();
    if (args.has("load")) {
      // Load time and memory, for measuring the loader (bench commands measure the forwards).
      const auto start = std::chrono::steady_clock::now();
      const std::clock_t cpu_start = std::clock();
      auto model = Model::load(dir, options);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      const auto [rss, peak] = resident_mib();
      std::cout << std::fixed << std::setprecision(3) << "loaded: " << model->description()
                << "\nload time: " << seconds << " s (CPU time of all threads " << cpu_seconds
                << " s)\n"
                << std::setprecision(0) << "resident memory: " << rss << " MiB (peak " << peak
                << " MiB)\n";
    }
  }
  return 0;
}

}  // namespace atman::cli
