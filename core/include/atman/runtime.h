// Process-wide runtime configuration: the model root and the compute threads. This is the only
// global state the core has, and it is configuration, set once by the CLI or GUI at start-up.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace atman {

// Where bundled and downloaded models live. Order: the explicit value passed to
// set_model_root(), else $ATMAN_MODELS, else <project root>/../shared/models.
std::filesystem::path model_root();
void set_model_root(const std::filesystem::path& root);

// Resolves a --model argument: an existing folder is used as is; a bare name ("shapes-clip") is
// looked up under model_root(); then a Hugging Face repo id ("openai/clip-vit-base-patch32") goes
// to the repo resolver (set_repo_resolver), or, when none is installed, to the huggingface_hub
// cache (refs/main -> snapshots/<commit>). Throws ModelError naming the places it looked.
std::filesystem::path resolve_model_dir(const std::string& name_or_path);

// Turns a repo id into a local snapshot folder (from the cache, downloading first when needed)
// or throws. atman::hub::install_repo_resolver() (hub.h) installs one, so that this base library
// needs no HTTP; an empty function uninstalls it.
using RepoResolver = std::function<std::filesystem::path(const std::string& repo_id)>;
void set_repo_resolver(RepoResolver resolver);

// "ORG/NAME" following the Hub's rules for repo ids (see hub::is_repo_id).
bool looks_like_repo_id(const std::string& text);

// Sets torch's intra-op thread count; 0 means "all cores of this machine".
void set_compute_threads(int threads);
int compute_threads();

// Whether idle OpenMP workers sleep at once (OMP_WAIT_POLICY=PASSIVE) instead of spinning. The
// `atman` launcher starts the CLI with that setting; an executable that calls this gets the
// start-up hook of thread_environment.cpp, which re-executes the process once with it when it was
// started without (and the user chose no policy); call it from main().
bool passive_thread_waiting();

// Keeps freed tensor memory in the process instead of returning it to the OS after every op:
// LibTorch allocates and frees large blocks per layer, and glibc's default (mmap per large block)
// turns each into page faults — measured 169 -> 104 ms for a batch-32 GPT-2 forward here. Call once
// at start-up, before any tensor work.
void configure_memory_allocator();

// Bytes free for new allocations on `device`: MemAvailable of /proc/meminfo for "cpu", the CUDA
// runtime's free memory (cudaMemGetInfo) for "cuda[:N]". 0 when unknown.
uint64_t available_memory_bytes(const std::string& device);

// One line per fact: version, BLAS library in use, threads, devices. For `atman info`.
std::string runtime_report();

std::string version();

}  // namespace atman
