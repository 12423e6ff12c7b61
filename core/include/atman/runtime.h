// Process-wide runtime configuration: the model root and the compute threads. This is the only
// global state the core has, and it is configuration, set once by the CLI or GUI at start-up.
#pragma once

#include <filesystem>
#include <string>

namespace atman {

// Where bundled and downloaded models live. Order: the explicit value passed to
// set_model_root(), else $ATMAN_MODELS, else <project root>/../shared/models.
std::filesystem::path model_root();
void set_model_root(const std::filesystem::path& root);

// Resolves a --model argument: an existing folder is used as is; a bare name ("shapes-clip") is
// looked up under model_root(). Throws ModelError naming both places it looked.
std::filesystem::path resolve_model_dir(const std::string& name_or_path);

// Sets torch's intra-op thread count; 0 means "all cores of this machine".
void set_compute_threads(int threads);
int compute_threads();

// One line per fact: version, BLAS library in use, threads, devices. For `atman info`.
std::string runtime_report();

std::string version();

}  // namespace atman
