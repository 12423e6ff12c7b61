// The huggingface_hub cache without the network: where it is, what is in it, and the repo
// resolver that resolve_model_dir() calls. The downloads are in fetch.cpp.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>

#include <nlohmann/json.hpp>

#include "atman/hub.h"
#include "atman/runtime.h"

namespace atman::hub {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::filesystem::path home_dir() {
  if (auto home = env("HOME"); !home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return ".";
}

std::filesystem::path hf_home() {
  if (auto value = env("HF_HOME"); !value.empty()) return value;
  std::filesystem::path cache = env("XDG_CACHE_HOME");
  if (cache.empty()) cache = home_dir() / ".cache";
  return cache / "huggingface";
}

std::string trim(std::string text) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), space));
  text.erase(std::find_if_not(text.rbegin(), text.rend(), space).base(), text.end());
  return text;
}

bool is_commit_hash(const std::string& text) {
  return text.size() == 40 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_file(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);  // follows the snapshot's symlinks
}

// The weights are there: model.safetensors, or the index and every shard it lists.
bool has_weights(const std::filesystem::path& snapshot) {
  if (is_file(snapshot / "model.safetensors")) return true;
  const auto index_path = snapshot / "model.safetensors.index.json";
  std::ifstream in(index_path);
  if (!in) return false;
  try {
    auto index = nlohmann::json::parse(in);
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : index.at("weight_map").items())
      shards.insert(shard.get<std::string>());
    return !shards.empty() && std::all_of(shards.begin(), shards.end(), [&](const auto& shard) {
      return is_file(snapshot / shard);
    });
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

bool is_repo_id(const std::string& text) {
  return looks_like_repo_id(text);
}

std::filesystem::path default_cache_dir() {
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
    if (auto value = env(name); !value.empty()) return value;
  return hf_home() / "hub";
}

std::string default_endpoint() {
  std::string endpoint = env("HF_ENDPOINT");
  if (endpoint.empty()) endpoint = "https://huggingface.co";
  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

bool offline_from_env() {
  std::string value = env("HF_HUB_OFFLINE");
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  value = trim(value);
  return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string token_from_env() {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})
    if (auto value = trim(env(name)); !value.empty()) return value;
  std::filesystem::path file = env("HF_TOKEN_PATH");
  if (file.empty()) file = hf_home() / "token";
  std::ifstream in(file);
  if (!in) return "";
  return trim(std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
}

std::filesystem::path repo_folder(const std::filesystem::path& cache_dir,
                                  const std::string& repo_id) {
  std::string folder = "models--" + repo_id;
  for (auto slash = folder.find('/'); slash != std::string::npos; slash = folder.find('/'))
    folder.replace(slash, 1, "--");
  return cache_dir / folder;
}

const std::vector<std::string>& model_file_names() {
  static const std::vector<std::string> names = {"config.json",
                                                 "model.safetensors",
                                                 "vocab.json",
                                                 "merges.txt",
                                                 "tokenizer.json",
                                                 "spiece.model",
                                                 "tokenizer_config.json",
                                                 "special_tokens_map.json",
                                                 "added_tokens.json",
                                                 "preprocessor_config.json",
                                                 "processor_config.json",
                                                 "generation_config.json",
                                                 "prompt_format.json",
                                                 "chat_template.json",
                                                 "chat_template.jinja"};
  return names;
}

std::optional<std::filesystem::path> cached_snapshot(const std::string& repo_id,
                                                     const std::string& revision,
                                                     const std::filesystem::path& cache_dir) {
  if (!is_repo_id(repo_id) || revision.empty() || revision.find("..") != std::string::npos)
    return std::nullopt;
  const auto repo = repo_folder(cache_dir.empty() ? default_cache_dir() : cache_dir, repo_id);
  std::string commit = revision;
  if (!is_commit_hash(revision)) {
    std::ifstream ref(repo / "refs" / revision);
    if (!(ref >> commit)) return std::nullopt;
    if (!std::all_of(commit.begin(), commit.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; }))
      return std::nullopt;
  }
  const auto snapshot = repo / "snapshots" / commit;
  if (!is_file(snapshot / "config.json") || !has_weights(snapshot)) return std::nullopt;
  return snapshot;
}

std::filesystem::path resolve(const std::string& repo_id, const FetchOptions& options) {
  if (auto snapshot = cached_snapshot(repo_id, "main", options.cache_dir)) return *snapshot;
  return fetch(repo_id, "main", options);
}

void install_repo_resolver(FetchOptions options) {
  set_repo_resolver([options = std::move(options)](const std::string& repo_id) {
    return resolve(repo_id, options);
  });
}

}  // namespace atman::hub
