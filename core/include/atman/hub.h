// Checkpoints from the Hugging Face Hub: download a model repo's files into the huggingface_hub
// cache and return the local snapshot folder, which every loader of the core then reads like any
// other model folder. No LibTorch here; HTTP is libcurl.
//
// The cache is byte-for-byte the layout of the Python `huggingface_hub` library, so a model that
// `transformers` already downloaded is reused, and the other way round:
//
//   $HF_HUB_CACHE/models--ORG--NAME/
//     blobs/<etag>                      file contents, named by their ETag (sha256 for LFS files)
//     blobs/<etag>.incomplete           a partial download, resumed with a Range request
//     snapshots/<commit>/<file>         relative symlink to ../../blobs/<etag>
//     refs/<revision>                   the commit hash the revision ("main") pointed at
//
// Environment (read when the corresponding option is left empty):
//   HF_ENDPOINT     the Hub (default https://huggingface.co); a mirror or a test server
//   HF_HOME         default ~/.cache/huggingface ($XDG_CACHE_HOME/huggingface when set)
//   HF_HUB_CACHE    default $HF_HOME/hub
//   HF_HUB_OFFLINE  1: never touch the network; answer from the cache or fail clearly
//   HF_TOKEN        access token for gated and private repos (else the file $HF_HOME/token that
//                   `huggingface-cli login` writes, or $HF_TOKEN_PATH)
//
// Every failure is an atman::ModelError (atman::Cancelled when the progress callback said stop)
// whose message names the repo, the file and what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace atman::hub {

// One progress report, for one file of one fetch.
struct Progress {
  std::string repo_id;
  std::string file;          // path inside the repo, e.g. "model.safetensors"
  int file_index = 0;        // 0-based position of this file in this fetch
  int file_count = 0;        // files known so far (grows when a shard index lists its shards)
  uint64_t bytes_done = 0;   // of this file, resumed bytes included
  uint64_t bytes_total = 0;  // 0 while unknown
  bool cached = false;       // already in the cache: nothing was downloaded
  bool finished = false;     // the last report for this file
};

// Returns false to cancel the fetch: it then throws atman::Cancelled and keeps the partial
// download (blobs/<etag>.incomplete), which the next fetch resumes.
using ProgressCallback = std::function<bool(const Progress&)>;

struct FetchOptions {
  std::string endpoint;              // empty: $HF_ENDPOINT, else https://huggingface.co
  std::filesystem::path cache_dir;   // empty: default_cache_dir()
  std::optional<std::string> token;  // unset: token_from_env(); "" sends no token
  std::optional<bool> offline;       // unset: $HF_HUB_OFFLINE
  ProgressCallback progress;         // optional
  long connect_timeout_s = 10;       // per connection attempt
  long stall_timeout_s = 30;         // a transfer that receives nothing this long is retried
  int max_attempts = 5;              // tries per file in a row without progress (dropped
                                     // connections resume where they stopped)
};

// Downloads what a model needs from repo `repo_id` ("ORG/NAME") at `revision` (branch, tag or
// commit hash) and returns the snapshot folder $HF_HUB_CACHE/models--ORG--NAME/snapshots/<commit>.
//   required: config.json; model.safetensors, or model.safetensors.index.json and every shard it
//             lists (only safetensors are read: pytorch_model.bin is never downloaded)
//   optional: the tokenizer files (vocab.json, merges.txt, tokenizer.json, tokenizer_config.json,
//             special_tokens_map.json, added_tokens.json), preprocessor_config.json,
//             processor_config.json, generation_config.json, prompt_format.json,
//             chat_template.json, chat_template.jinja - a 404 just skips them
// Files already in the cache are not downloaded again (one HEAD request each checks the ETag).
// Offline (option or HF_HUB_OFFLINE=1), the snapshot comes from the cache without any request.
std::filesystem::path fetch(const std::string& repo_id, const std::string& revision = "main",
                            const FetchOptions& options = {});

// The complete cached snapshot of `repo_id` at `revision` (config.json and the weights present),
// or nothing. Never touches the network. An empty cache_dir means default_cache_dir().
std::optional<std::filesystem::path> cached_snapshot(const std::string& repo_id,
                                                     const std::string& revision = "main",
                                                     const std::filesystem::path& cache_dir = {});

// The cache when it has the model, else fetch() (which fails clearly when offline). This is what
// a repo id given as --model goes through.
std::filesystem::path resolve(const std::string& repo_id, const FetchOptions& options = {});

// Makes atman::resolve_model_dir() (runtime.h) accept repo ids through resolve() with these
// options. The CLI and GUI call it at start-up; the base library itself has no HTTP.
void install_repo_resolver(FetchOptions options = {});

// "ORG/NAME" with the Hub's rules: letters, digits, '-', '_', '.', at most 96 characters a part,
// no "--" or "..", not starting or ending with '-' or '.'. Same as atman::looks_like_repo_id.
bool is_repo_id(const std::string& text);

// $HF_HUB_CACHE, else $HF_HOME/hub, else ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub.
std::filesystem::path default_cache_dir();
// $HF_ENDPOINT without a trailing '/', else https://huggingface.co.
std::string default_endpoint();
// $HF_HUB_OFFLINE is 1, true, yes or on.
bool offline_from_env();
// $HF_TOKEN, else the contents of $HF_TOKEN_PATH or $HF_HOME/token; empty when none.
std::string token_from_env();

// <cache_dir>/models--ORG--NAME.
std::filesystem::path repo_folder(const std::filesystem::path& cache_dir,
                                  const std::string& repo_id);

// The files fetch() asks for before it knows about shards, required ones first.
const std::vector<std::string>& model_file_names();

}  // namespace atman::hub
