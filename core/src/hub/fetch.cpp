// hub::fetch: downloads a model repo's files into the huggingface_hub cache with libcurl, the
// way huggingface_hub's hf_hub_download does it:
//   1. HEAD {endpoint}/{repo}/resolve/{revision}/{file}, following relative redirects (renamed
//      repos) but not absolute ones (LFS files redirect to a CDN): X-Repo-Commit names the
//      snapshot, X-Linked-Etag (else ETag) names the blob, X-Linked-Size (else Content-Length)
//      is its size. Every file after the first is asked for at that commit, so a push to the
//      branch halfway through cannot mix two versions.
//   2. Unless blobs/<etag> is already there: GET the file (from the CDN location when there was
//      one) into blobs/<etag>.incomplete, resuming with a Range request after a dropped
//      connection or an earlier interrupted fetch; check the size, and the sha256 when the ETag is
//      one (LFS files); rename to blobs/<etag>.
//   3. snapshots/<commit>/<file> -> ../../blobs/<etag> (relative symlink; a copy where the file
//      system has no symlinks), and refs/<revision> holds the commit.
// A lock file per blob (.locks/models--ORG--NAME/<etag>.lock, flock, as huggingface_hub's
// filelock) keeps two processes from writing the same blob.
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/hub.h"
#include "atman/runtime.h"

namespace atman::hub {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

bool is_hex(const std::string& text, size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](unsigned char c) {
           return std::isxdigit(c) != 0;
         });
}

// Safe as one path component: letters, digits, '-', '_', '.', and not "." or "..".
bool is_safe_name(const std::string& text) {
  return !text.empty() && text != "." && text != ".." &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

// huggingface_hub's _normalize_etag: drop a weak-validator prefix and the quotes.
std::string normalize_etag(std::string etag) {
  etag = trim(etag);
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return etag;
}

std::optional<uint64_t> parse_size(const std::string& text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), ::isdigit)) return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

std::string sha256_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot read '" + path.string() + "' to check its sha256");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw ModelError("OpenSSL cannot compute sha256");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0)
      EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// Writes `text` to `path` through a temporary file and a rename.
void write_atomically(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  fs::path temp = path;
  temp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.good()) throw ModelError("cannot write '" + temp.string() + "'");
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) throw ModelError("cannot write '" + path.string() + "': " + ec.message());
}

// An exclusive flock on a file, held while one blob is written.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    // Without a lock (a read-only or odd file system) the download still works: it is only the
    // protection against a second process writing the same blob at the same time that is lost.
  }
  ~FileLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The URL-escaped form of each '/'-separated part of `path`.
std::string escape_path(CURL* curl, const std::string& path, bool keep_slashes) {
  auto escape = [&](const std::string& part) {
    char* escaped = curl_easy_escape(curl, part.c_str(), static_cast<int>(part.size()));
    std::string out = escaped ? escaped : part;
    curl_free(escaped);
    return out;
  };
  if (!keep_slashes) return escape(path);
  std::string out;
  size_t start = 0;
  while (true) {
    auto slash = path.find('/', start);
    out += escape(path.substr(start, slash - start));
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

bool is_absolute_url(const std::string& url) {
  auto scheme = lower(url.substr(0, 8));
  return scheme.rfind("http://", 0) == 0 || scheme.rfind("https://", 0) == 0;
}

// What one request answered: the status and headers of the last response (after curl's own
// redirects, if any), a capped error body, and curl's verdict.
struct Response {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string redirect_url;                    // a 3xx's Location, made absolute by curl
  std::string error_body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  const size_t length = size * count;
  std::string line = trim(std::string(data, length));
  if (line.rfind("HTTP/", 0) == 0) {
    response->headers.clear();  // a new response (after a redirect or a 100 Continue)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    response->headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return length;
}

// The body of a GET: into the .incomplete file for 200 (from the start) and 206 (appended,
// after checking that Content-Range starts where the file ends), else kept as an error text.
struct Sink {
  CURL* curl = nullptr;
  Response* response = nullptr;
  fs::path path;
  uint64_t offset = 0;  // bytes already in the file, asked for with Range
  bool decided = false;
  bool writing = false;
  bool failed_write = false;
  bool bad_range = false;
  uint64_t written = 0;
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file{nullptr, &std::fclose};

  bool open(const char* mode) {
    file.reset(std::fopen(path.c_str(), mode));
    return file != nullptr;
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t length = size * count;
  if (!sink->decided) {
    sink->decided = true;
    long status = 0;
    curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 206) {
      // "bytes START-END/TOTAL"
      const std::string range = sink->response->header("content-range");
      auto space = range.find(' '), dash = range.find('-');
      auto start = (space != std::string::npos && dash != std::string::npos && dash > space)
                       ? parse_size(range.substr(space + 1, dash - space - 1))
                       : std::nullopt;
      if (!start || *start != sink->offset) {
        sink->bad_range = true;
        return 0;
      }
      sink->writing = sink->open("ab");
    } else if (status == 200) {
      sink->offset = 0;
      sink->writing = sink->open("wb");
    } else {
      sink->writing = false;
    }
    if ((status == 200 || status == 206) && !sink->writing) {
      sink->failed_write = true;
      return 0;
    }
  }
  if (!sink->writing) {
    auto& body = sink->response->error_body;
    if (body.size() < 2048) body.append(data, std::min<size_t>(length, 2048 - body.size()));
    return length;
  }
  if (std::fwrite(data, 1, length, sink->file.get()) != length) {
    sink->failed_write = true;
    return 0;
  }
  sink->written += length;
  return length;
}

// Throttled progress of one GET, forwarded to the user's callback.
struct ProgressState {
  const ProgressCallback* callback = nullptr;
  Progress report;
  uint64_t offset = 0;
  Clock::time_point last{};
  bool cancelled = false;
};

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* state = static_cast<ProgressState*>(user);
  if (!state->callback || !*state->callback) return 0;
  auto now = Clock::now();
  if (now - state->last < std::chrono::milliseconds(100)) return 0;
  state->last = now;
  state->report.bytes_done = state->offset + static_cast<uint64_t>(dlnow);
  if (!state->report.bytes_total && dltotal > 0)
    state->report.bytes_total = state->offset + static_cast<uint64_t>(dltotal);
  if (!(*state->callback)(state->report)) {
    state->cancelled = true;
    return 1;
  }
  return 0;
}

// What a HEAD said about one file.
struct FileMeta {
  bool found = false;
  std::string commit;
  std::string etag;
  std::optional<uint64_t> size;
  std::string download_url;
};

class Fetcher {
 public:
  Fetcher(std::string repo_id, std::string revision, const FetchOptions& options)
      : repo_id_(std::move(repo_id)), revision_(std::move(revision)), options_(options) {
    endpoint_ = options.endpoint.empty() ? default_endpoint() : options.endpoint;
    while (endpoint_.size() > 1 && endpoint_.back() == '/') endpoint_.pop_back();
    cache_dir_ = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    token_ = options.token ? *options.token : token_from_env();
    repo_dir_ = repo_folder(cache_dir_, repo_id_);
    lock_dir_ = repo_folder(cache_dir_ / ".locks", repo_id_);
    init_curl_once();
    curl_.reset(curl_easy_init());
    if (!curl_) throw ModelError("cannot start libcurl");
    user_agent_ = "atman/" + version() + "; libcurl/" + curl_version_info(CURLVERSION_NOW)->version;
  }

  fs::path run() {
    const auto& names = model_file_names();
    // config.json first: its answer names the commit that every other file is fetched at.
    std::vector<std::string> queue(names.begin(), names.end());
    file_count_ = static_cast<int>(queue.size());
    for (size_t i = 0; i < queue.size(); ++i) {
      const std::string& file = queue[i];
      const bool required = file == "config.json";
      bool got = fetch_file(file, required);
      if (file == "model.safetensors" && !got) {
        // A sharded checkpoint: the index, then every shard it lists, right after.
        auto shards = fetch_index();
        queue.insert(queue.begin() + static_cast<long>(i) + 1, shards.begin(), shards.end());
        file_count_ += static_cast<int>(shards.size()) + 1;
      }
    }
    return repo_dir_ / "snapshots" / commit_;
  }

 private:
  struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  };
  using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

  std::string where() const {
    return "'" + repo_id_ + "' (revision '" + revision_ + "') on " + endpoint_;
  }

  std::string resolve_url(const std::string& file) const {
    const std::string revision = commit_.empty() ? revision_ : commit_;
    return endpoint_ + "/" + repo_id_ + "/resolve/" + escape_path(curl_.get(), revision, false) +
           "/" + escape_path(curl_.get(), file, true);
  }

  bool to_endpoint(const std::string& url) const { return url.rfind(endpoint_ + "/", 0) == 0; }

  // Options shared by every request; returns the header list, which must outlive the request.
  Slist prepare(const std::string& url, Response& response) {
    CURL* curl = curl_.get();
    curl_easy_reset(curl);
    error_buffer_[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent_.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
    curl_slist* headers = nullptr;
    // The token goes to the Hub only, never to the CDN an LFS file redirects to (curl also drops
    // it itself when a redirect changes the host).
    if (!token_.empty() && to_endpoint(url))
      headers = curl_slist_append(headers, ("Authorization: Bearer " + token_).c_str());
    headers = curl_slist_append(headers, "Accept-Encoding: identity");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    return Slist(headers);
  }

  void finish(Response& response, CURLcode code) {
    response.code = code;
    response.curl_error = error_buffer_[0] ? error_buffer_ : curl_easy_strerror(code);
    curl_easy_getinfo(curl_.get(), CURLINFO_RESPONSE_CODE, &response.status);
    char* redirect = nullptr;
    if (curl_easy_getinfo(curl_.get(), CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
      response.redirect_url = redirect;
  }

  [[noreturn]] void throw_unreachable(const Response& response, const std::string& url) const {
    std::string host = to_endpoint(url) ? endpoint_ : url;
    throw ModelError("cannot reach " + host + ": " + response.curl_error +
                     "; use a local folder or set HF_HUB_OFFLINE=1 to use the cache");
  }

  // 401/403/404 and the rest, worded for what the Hub means by them.
  [[noreturn]] void throw_http(const Response& response, const std::string& file,
                               const std::string& url) const {
    const std::string code = response.header("x-error-code");
    std::string detail = response.header("x-error-message");
    if (detail.empty()) detail = trim(response.error_body.substr(0, 300));
    if (!detail.empty()) detail = " (" + detail + ")";
    const std::string status = "HTTP " + std::to_string(response.status);
    if (response.status == 401 || response.status == 403 || code == "RepoNotFound" ||
        code == "GatedRepo") {
      std::string message;
      if (code == "RepoNotFound")
        message = "repository '" + repo_id_ + "' was not found on " + endpoint_ +
                  ", or it is private or gated (" + status + ")";
      else if (code == "GatedRepo")
        message = "repository '" + repo_id_ + "' is gated (" + status +
                  "): accept its conditions on " + endpoint_ + "/" + repo_id_ + " while logged in";
      else
        message = "repository '" + repo_id_ + "' is gated or private (" + status + ")";
      if (token_.empty())
        message +=
            "; set HF_TOKEN to an access token with access to it"
            " (https://huggingface.co/settings/tokens)";
      else
        message +=
            "; the token in HF_TOKEN was refused or has no access to it (is HF_TOKEN "
            "a valid token with access to this gated or private repo?)";
      throw ModelError(message + detail);
    }
    if (code == "RevisionNotFound")
      throw ModelError("revision '" + revision_ + "' of '" + repo_id_ + "' was not found on " +
                       endpoint_ + detail);
    if (response.status == 404)
      throw ModelError("required file '" + file + "' is missing from " + where() + ": " + url +
                       " answered " + status + detail);
    throw ModelError("cannot download '" + file + "' of " + where() + ": " + url + " answered " +
                     status + detail);
  }

  // HEAD, following relative redirects only. found = false for a missing file (404).
  FileMeta head(const std::string& file) {
    std::string url = resolve_url(file);
    FileMeta meta;
    for (int hop = 0; hop < 10; ++hop) {
      Response response;
      Slist headers = prepare(url, response);
      curl_easy_setopt(curl_.get(), CURLOPT_NOBODY, 1L);
      curl_easy_setopt(curl_.get(), CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(curl_.get(), CURLOPT_TIMEOUT,
                       options_.connect_timeout_s + options_.stall_timeout_s);
      finish(response, curl_easy_perform(curl_.get()));
      if (response.code != CURLE_OK) throw_unreachable(response, url);

      if (auto commit = response.header("x-repo-commit"); !commit.empty()) meta.commit = commit;
      std::string etag = response.header("x-linked-etag");
      if (etag.empty()) etag = response.header("etag");
      if (!etag.empty()) meta.etag = normalize_etag(etag);
      if (auto size = parse_size(response.header("x-linked-size")))
        meta.size = size;
      else if (response.status == 200)
        meta.size = parse_size(response.header("content-length"));

      if (response.status >= 300 && response.status < 400) {
        const std::string location = response.header("location");
        if (location.empty() || response.redirect_url.empty())
          throw ModelError(url + " answered HTTP " + std::to_string(response.status) +
                           " without a Location to follow");
        if (is_absolute_url(location)) {  // the CDN of an LFS file: the metadata is in hand
          meta.download_url = response.redirect_url;
          meta.found = true;
          return meta;
        }
        url = response.redirect_url;  // a renamed repo: ask again there
        continue;
      }
      if (response.status == 200) {
        meta.download_url = url;
        meta.found = true;
        return meta;
      }
      const std::string code = response.header("x-error-code");
      if (response.status == 404 && (code.empty() || code == "EntryNotFound")) return meta;
      throw_http(response, file, url);
    }
    throw ModelError("too many redirects for '" + file + "' of " + where());
  }

  void report(Progress progress) {
    if (options_.progress && !options_.progress(progress)) throw Cancelled();
  }

  // Fetches one file; false when it is optional and the repo has no such file.
  bool fetch_file(const std::string& file, bool required) {
    FileMeta meta = head(file);
    if (!meta.found) {
      if (required) {
        Response response;
        response.status = 404;
        throw_http(response, file, resolve_url(file));
      }
      ++file_index_;
      return false;
    }
    if (commit_.empty()) set_commit(meta.commit);
    if (meta.etag.empty())
      throw ModelError(endpoint_ + " sent no ETag for '" + file + "' of '" + repo_id_ +
                       "', so it cannot be cached (is HF_ENDPOINT a Hugging Face Hub?)");
    if (!is_safe_name(meta.etag))
      throw ModelError(endpoint_ + " sent the ETag '" + meta.etag + "' for '" + file +
                       "', which is not usable as a file name");

    Progress progress;
    progress.repo_id = repo_id_;
    progress.file = file;
    progress.file_index = file_index_++;
    progress.file_count = file_count_;
    progress.bytes_total = meta.size.value_or(0);

    const fs::path blob = repo_dir_ / "blobs" / meta.etag;
    std::error_code ec;
    const bool cached =
        fs::is_regular_file(blob, ec) && (!meta.size || fs::file_size(blob, ec) == *meta.size);
    if (cached) {
      progress.cached = true;
    } else {
      FileLock lock(lock_dir_ / (meta.etag + ".lock"));
      if (!(fs::is_regular_file(blob, ec) &&
            (!meta.size || fs::file_size(blob, ec) == *meta.size)))  // another process's?
        download(file, meta, blob, progress);
    }
    link_snapshot(file, meta.etag, blob);
    progress.bytes_done = file_size_or_zero(blob);
    if (!progress.bytes_total) progress.bytes_total = progress.bytes_done;
    progress.finished = true;
    report(progress);
    return true;
  }

  void set_commit(const std::string& commit) {
    std::string name = commit;
    if (name.empty() && is_hex(revision_, 40)) name = lower(revision_);
    if (name.empty())
      throw ModelError(endpoint_ + " did not say which commit revision '" + revision_ + "' of '" +
                       repo_id_ +
                       "' is (no X-Repo-Commit header): is HF_ENDPOINT a Hugging "
                       "Face Hub?");
    if (!is_safe_name(name) || name.find('.') != std::string::npos)
      throw ModelError(endpoint_ + " named the commit of '" + repo_id_ + "' '" + name +
                       "', which is not a commit hash");
    commit_ = name;
    if (revision_ != commit_) {
      const fs::path ref = repo_dir_ / "refs" / revision_;
      std::ifstream in(ref);
      std::string current;
      if (!(in >> current) || current != commit_) write_atomically(ref, commit_);
    }
  }

  // model.safetensors.index.json (required when there is no model.safetensors) and its shards.
  std::vector<std::string> fetch_index() {
    const std::string index_name = "model.safetensors.index.json";
    if (!fetch_file(index_name, false))
      throw ModelError(where() + " has neither model.safetensors nor " + index_name +
                       ": AtMan reads only safetensors checkpoints, not pytorch_model.bin (look "
                       "for a revision or a copy of the model with safetensors weights)");
    const fs::path index_path = repo_dir_ / "snapshots" / commit_ / index_name;
    std::ifstream in(index_path);
    std::set<std::string> shards;
    try {
      auto index = nlohmann::json::parse(in);
      for (const auto& [tensor, shard] : index.at("weight_map").items())
        shards.insert(shard.get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      throw ModelError("'" + index_path.string() + "' from '" + repo_id_ +
                       "' is not a safetensors index: " + e.what());
    }
    for (const auto& shard : shards)
      if (!is_safe_name(shard))
        throw ModelError("'" + index_name + "' of '" + repo_id_ + "' lists the shard '" + shard +
                         "', which is not a plain file name");
    if (shards.empty())
      throw ModelError("'" + index_name + "' of '" + repo_id_ + "' lists no shards");
    return {shards.begin(), shards.end()};
  }

  // GET into <blob>.incomplete until it is complete, then check it and rename it to <blob>.
  void download(const std::string& file, const FileMeta& meta, const fs::path& blob,
                Progress progress) {
    fs::create_directories(blob.parent_path());
    fs::path part = blob;
    part += ".incomplete";
    int failures = 0;
    std::string last_error;
    while (true) {
      uint64_t have = file_size_or_zero(part);
      if (meta.size && have > *meta.size) {
        fs::remove(part);
        have = 0;
      }
      if (meta.size && have == *meta.size && fs::exists(part)) break;

      Response response;
      Sink sink;
      sink.curl = curl_.get();
      sink.response = &response;
      sink.path = part;
      sink.offset = have;
      ProgressState state;
      state.callback = &options_.progress;
      state.report = progress;
      state.offset = have;

      Slist headers = prepare(meta.download_url, response);
      CURL* curl = curl_.get();
      curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
      const std::string range = std::to_string(have) + "-";
      if (have > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
      finish(response, curl_easy_perform(curl));
      if (response.code == CURLE_OK && response.status == 200 && !sink.decided)
        sink.open("wb");  // an empty file: no body callback came
      sink.file.reset();  // flush and close before looking at the size

      if (state.cancelled) throw Cancelled();
      if (sink.failed_write)
        throw ModelError("cannot write '" + part.string() + "' (disk full or no permission?)");

      if (response.code == CURLE_OK && (response.status == 200 || response.status == 206)) {
        const uint64_t now = file_size_or_zero(part);
        if (!meta.size || now == *meta.size) break;
        last_error = "the server sent " + std::to_string(now) + " of " +
                     std::to_string(*meta.size) + " bytes";
      } else if (sink.bad_range) {
        fs::remove(part);  // the server resumed somewhere else: start over
        last_error = "the server answered the Range request with a different range";
      } else if (response.code == CURLE_OK) {
        if (response.status == 416 && have > 0) {
          fs::remove(part);  // the partial file does not fit the server's file: start over
          last_error = "HTTP 416 for a resumed download";
        } else if (response.status >= 500 || response.status == 429) {
          last_error = "HTTP " + std::to_string(response.status);
        } else {
          throw_http(response, file, meta.download_url);
        }
      } else {
        last_error = response.curl_error;
      }

      if (file_size_or_zero(part) > have)
        failures = 0;  // progress was made: a dropped connection, resume at once
      else if (++failures >= std::max(1, options_.max_attempts)) {
        if (response.code == CURLE_COULDNT_CONNECT || response.code == CURLE_COULDNT_RESOLVE_HOST ||
            response.code == CURLE_COULDNT_RESOLVE_PROXY)
          throw_unreachable(response, meta.download_url);
        throw ModelError("downloading '" + file + "' of " + where() + " failed " +
                         std::to_string(failures) + " times in a row: " + last_error +
                         " (the partial download is kept and resumed by the next fetch)");
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(failures ? 250 << std::min(failures, 4) : 0));
    }

    const uint64_t size = file_size_or_zero(part);
    if (meta.size && size != *meta.size) {
      fs::remove(part);
      throw ModelError("'" + file + "' of " + where() + " is " + std::to_string(size) +
                       " bytes instead of " + std::to_string(*meta.size) +
                       "; the download was deleted, fetch again");
    }
    if (is_hex(meta.etag, 64)) {  // an LFS file: its ETag is the sha256 of its contents
      const std::string actual = sha256_of(part);
      if (actual != lower(meta.etag)) {
        std::error_code ec;
        fs::remove(part, ec);
        throw ModelError("checksum mismatch for '" + file + "' of " + where() +
                         ": the Hub says sha256 " + lower(meta.etag) + ", the download has " +
                         actual +
                         "; the download was deleted (a proxy or a broken mirror may "
                         "have altered it), fetch again");
      }
    }
    std::error_code ec;
    fs::rename(part, blob, ec);
    if (ec)
      throw ModelError("cannot move '" + part.string() + "' to '" + blob.string() +
                       "': " + ec.message());
  }

  // snapshots/<commit>/<file> -> ../../blobs/<etag>, a copy where symlinks do not work.
  void link_snapshot(const std::string& file, const std::string& etag, const fs::path& blob) {
    const fs::path pointer = repo_dir_ / "snapshots" / commit_ / file;
    fs::create_directories(pointer.parent_path());
    fs::path target;
    for (auto depth = std::count(file.begin(), file.end(), '/') + 2; depth > 0; --depth)
      target /= "..";
    target = target / "blobs" / etag;
    std::error_code ec;
    if (fs::is_symlink(pointer, ec)) {
      if (fs::read_symlink(pointer, ec) == target && !ec) return;
      fs::remove(pointer, ec);
    } else if (fs::exists(pointer, ec)) {
      fs::remove(pointer, ec);
    }
    fs::create_symlink(target, pointer, ec);
    if (!ec) return;
    if (fs::is_symlink(pointer) && fs::read_symlink(pointer) == target) return;  // a racing fetch
    if (!fs::copy_file(blob, pointer, fs::copy_options::overwrite_existing, ec) || ec)
      throw ModelError("cannot create '" + pointer.string() + "': " + ec.message());
  }

  std::string repo_id_, revision_;
  const FetchOptions& options_;
  std::string endpoint_, token_, user_agent_, commit_;
  fs::path cache_dir_, repo_dir_, lock_dir_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  int file_index_ = 0, file_count_ = 0;
};

}  // namespace

fs::path fetch(const std::string& repo_id, const std::string& revision,
               const FetchOptions& options) {
  if (!is_repo_id(repo_id))
    throw InputError("'" + repo_id +
                     "' is not a Hugging Face repo id (ORG/NAME, e.g. "
                     "openai/clip-vit-base-patch32)");
  if (revision.empty() || revision.front() == '/' || revision.find("..") != std::string::npos ||
      !std::all_of(revision.begin(), revision.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
      }))
    throw InputError("'" + revision + "' is not a revision (a branch, tag or commit hash)");
  const bool offline = options.offline ? *options.offline : offline_from_env();
  const fs::path cache = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  if (offline) {
    if (auto snapshot = cached_snapshot(repo_id, revision, cache)) return *snapshot;
    throw ModelError("offline mode (HF_HUB_OFFLINE=1): '" + repo_id + "' (revision '" + revision +
                     "') is not complete in the cache " + repo_folder(cache, repo_id).string() +
                     "; fetch it once with internet access (atman fetch " + repo_id +
                     "), or use a local folder");
  }
  return Fetcher(repo_id, revision, options).run();
}

}  // namespace atman::hub
