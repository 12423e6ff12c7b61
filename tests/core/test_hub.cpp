// atman::hub against a fake Hugging Face Hub: a small threaded HTTP/1.1 server that this test
// starts on 127.0.0.1 (an ephemeral port) and that serves tiny model repos in the Hub's URL
// layout, with the Hub's headers (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size), a 302 to a
// "CDN" path for LFS files, one dropped connection, 404s, a wrong checksum and a gated repo.
// Nothing leaves the loopback interface; the server stops itself after at most two minutes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QtTest/QtTest>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "atman/error.h"
#include "atman/hub.h"
#include "atman/runtime.h"
#include "core/test_support.h"

namespace fs = std::filesystem;
using namespace atman;
using atman::test::error_of;

namespace {

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 server: one request per connection (Connection: close), one thread per
// connection, GET and HEAD.

struct Request {
  std::string method, path;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  size_t drop_after = std::string::npos;  // close the connection after this many body bytes
};

using Handler = std::function<Reply(const Request&)>;

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(const std::string& text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<size_t>(sent);
  }
  return true;
}

class LocalServer {
 public:
  explicit LocalServer(Handler handler, std::chrono::seconds lifetime = std::chrono::seconds(120))
      : handler_(std::move(handler)), deadline_(std::chrono::steady_clock::now() + lifetime) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) qFatal("socket() failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 only
    addr.sin_port = 0;                              // an ephemeral port
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0)
      qFatal("cannot listen on 127.0.0.1");
    socklen_t length = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~LocalServer() { stop(); }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void stop() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mutex_);
      workers.swap(workers_);
    }
    for (auto& worker : workers) worker.join();
    if (listen_fd_ >= 0) ::close(listen_fd_), listen_fd_ = -1;
  }

  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return log_;
  }
  size_t request_count() const {
    std::lock_guard lock(mutex_);
    return log_.size();
  }

 private:
  void accept_loop() {
    while (!stop_ && std::chrono::steady_clock::now() < deadline_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      workers_.emplace_back([this, fd] {
        handle(fd);
        ::close(fd);
      });
    }
  }

  void handle(int fd) {
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::string text;
    char buffer[4096];
    while (text.find("\r\n\r\n") == std::string::npos && text.size() < 65536) {
      ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) return;
      text.append(buffer, static_cast<size_t>(got));
    }
    Request request;
    std::istringstream in(text.substr(0, text.find("\r\n\r\n")));
    std::string line, version;
    std::getline(in, line);
    std::istringstream(line) >> request.method >> request.path >> version;
    while (std::getline(in, line)) {
      auto colon = line.find(':');
      if (colon != std::string::npos)
        request.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
    {
      std::lock_guard lock(mutex_);
      log_.push_back(request);
    }
    Reply reply = handler_(request);
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Whatever\r\n";
    for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
    head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
    head += "Connection: close\r\n\r\n";
    if (!send_all(fd, head.data(), head.size()) || request.method == "HEAD") return;
    send_all(fd, reply.body.data(), std::min(reply.body.size(), reply.drop_after));
    // Dropping: close with bytes still owed; the client sees a short body.
  }

  Handler handler_;
  std::chrono::steady_clock::time_point deadline_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<Request> log_;
};

// ---------------------------------------------------------------------------------------------
// The fake Hub: repos, files, and the Hub's answers.

std::string sha256_hex(const std::string& data) {
  return QCryptographicHash::hash(QByteArray::fromStdString(data), QCryptographicHash::Sha256)
      .toHex()
      .toStdString();
}

// What git (and so the Hub's ETag for a small file) calls this content.
std::string git_sha1(const std::string& data) {
  std::string blob = "blob " + std::to_string(data.size()) + std::string(1, '\0') + data;
  return QCryptographicHash::hash(QByteArray::fromStdString(blob), QCryptographicHash::Sha1)
      .toHex()
      .toStdString();
}

struct FakeFile {
  FakeFile() = default;
  FakeFile(std::string content_, bool lfs_ = false) : content(std::move(content_)), lfs(lfs_) {}
  std::string content;
  bool lfs = false;
  std::string claimed_sha256;  // LFS ETag; empty: the real sha256
};

struct FakeRepo {
  std::string commit;
  std::map<std::string, FakeFile> files;
  std::string token;  // when set: a gated repo that wants "Authorization: Bearer TOKEN"
};

class FakeHub {
 public:
  std::map<std::string, FakeRepo> repos;
  std::string base_url;

  void drop_once(const std::string& cdn_path, size_t after_bytes) {
    std::lock_guard lock(mutex_);
    drops_[cdn_path] = after_bytes;
  }

  Reply handle(const Request& request) {
    const std::string& path = request.path;
    if (path.rfind("/cdn/", 0) == 0) return cdn(request);
    // /ORG/NAME/resolve/REV/FILE
    auto resolve = path.find("/resolve/");
    if (resolve == std::string::npos) return {404, {}, "no such route", std::string::npos};
    const std::string repo_id = path.substr(1, resolve - 1);
    const std::string rest = path.substr(resolve + 9);
    const std::string revision = rest.substr(0, rest.find('/'));
    const std::string file = rest.substr(rest.find('/') + 1);
    auto repo_it = repos.find(repo_id);
    if (repo_it == repos.end())
      return {401,
              {{"X-Error-Code", "RepoNotFound"}, {"X-Error-Message", "Repository not found"}},
              "",
              std::string::npos};
    const FakeRepo& repo = repo_it->second;
    if (!repo.token.empty() && request.header("authorization") != "Bearer " + repo.token)
      return {401,
              {{"X-Error-Code", "GatedRepo"},
               {"X-Error-Message", "Access to model " + repo_id + " is restricted."}},
              "",
              std::string::npos};
    if (revision != "main" && revision != repo.commit)
      return {404, {{"X-Error-Code", "RevisionNotFound"}}, "", std::string::npos};
    auto file_it = repo.files.find(file);
    if (file_it == repo.files.end())
      return {404,
              {{"X-Error-Code", "EntryNotFound"}, {"X-Repo-Commit", repo.commit}},
              "Entry not found",
              std::string::npos};
    const FakeFile& f = file_it->second;
    if (f.lfs) {
      const std::string sha = f.claimed_sha256.empty() ? sha256_hex(f.content) : f.claimed_sha256;
      return {302,
              {{"Location", base_url + "/cdn/" + repo_id + "/" + file},
               {"X-Repo-Commit", repo.commit},
               {"ETag", "\"" + git_sha1("pointer " + file) + "\""},
               {"X-Linked-Etag", "\"" + sha + "\""},
               {"X-Linked-Size", std::to_string(f.content.size())}},
              "",
              std::string::npos};
    }
    Reply reply = ranged(request, f.content);
    reply.headers.push_back({"ETag", "\"" + git_sha1(f.content) + "\""});
    reply.headers.push_back({"X-Repo-Commit", repo.commit});
    return reply;
  }

 private:
  Reply cdn(const Request& request) {
    const std::string key = request.path.substr(5);  // ORG/NAME/FILE
    const auto slash = key.find('/', key.find('/') + 1);
    auto repo_it = repos.find(key.substr(0, slash));
    if (repo_it == repos.end() || !repo_it->second.files.count(key.substr(slash + 1)))
      return {404, {}, "", std::string::npos};
    Reply reply = ranged(request, repo_it->second.files.at(key.substr(slash + 1)).content);
    std::lock_guard lock(mutex_);
    if (auto drop = drops_.find(request.path); drop != drops_.end()) {
      reply.drop_after = drop->second;
      drops_.erase(drop);
    }
    return reply;
  }

  // 200 with everything, or 206 for "Range: bytes=N-".
  static Reply ranged(const Request& request, const std::string& content) {
    const std::string range = request.header("range");
    if (range.rfind("bytes=", 0) != 0) return {200, {}, content, std::string::npos};
    const size_t start = std::stoul(range.substr(6));
    if (start >= content.size())
      return {416,
              {{"Content-Range", "bytes */" + std::to_string(content.size())}},
              "",
              std::string::npos};
    return {206,
            {{"Content-Range", "bytes " + std::to_string(start) + "-" +
                                   std::to_string(content.size() - 1) + "/" +
                                   std::to_string(content.size())}},
            content.substr(start),
            std::string::npos};
  }

  std::mutex mutex_;
  std::map<std::string, size_t> drops_;
};

// ---------------------------------------------------------------------------------------------

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A safetensors file with one F32 [rows, 128] tensor "w" of a fixed pattern.
std::string tiny_safetensors(int rows, float scale) {
  const size_t bytes = static_cast<size_t>(rows) * 128 * 4;
  std::string header = R"({"w":{"dtype":"F32","shape":[)" + std::to_string(rows) +
                       R"(,128],"data_offsets":[0,)" + std::to_string(bytes) + "]}}";
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out += header;
  for (size_t i = 0; i < bytes / 4; ++i) {
    float value = scale * static_cast<float>(i % 1000) / 1000.0f;
    out.append(reinterpret_cast<const char*>(&value), 4);
  }
  return out;
}

#define VERIFY_CONTAINS(message, part) \
  QVERIFY2((message).contains(part), qPrintable(QString("'%1' not in: %2").arg(part, message)))

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

const char* kCommit = "0123456789abcdef0123456789abcdef01234567";
const char* kShardedCommit = "89abcdef0123456789abcdef0123456789abcdef";

}  // namespace

class TestHub : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cleanupTestCase();
  void repo_ids();
  void environment_defaults();
  void fetch_layout_redirect_and_resume();
  void second_fetch_downloads_nothing();
  void resume_partial_download();
  void cancel_keeps_nothing_broken();
  void missing_files();
  void bad_checksum();
  void gated_repo();
  void offline_mode();
  void unreachable_endpoint();
  void resolve_model_dir_uses_hub();

 private:
  hub::FetchOptions options(const fs::path& cache) const {
    hub::FetchOptions o;
    o.endpoint = server_->url();
    o.cache_dir = cache;
    o.connect_timeout_s = 5;
    o.stall_timeout_s = 5;
    return o;
  }
  size_t count_requests(const std::string& method, const std::string& path_prefix,
                        size_t from = 0) const {
    auto log = server_->requests();
    size_t count = 0;
    for (size_t i = from; i < log.size(); ++i)
      if (log[i].method == method && log[i].path.rfind(path_prefix, 0) == 0) ++count;
    return count;
  }

  QTemporaryDir temp_;
  fs::path root_, cache_;
  FakeHub hub_;
  std::unique_ptr<LocalServer> server_;
  std::string model_bytes_, config_, vocab_, merges_;
};

void TestHub::initTestCase() {
  QVERIFY(temp_.isValid());
  root_ = temp_.path().toStdString();
  cache_ = root_ / "cache";
  // Nothing from the person running the tests: no token, no offline flag, no real cache.
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE",
                           "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT"})
    qunsetenv(name);
  qputenv("HF_HOME", QByteArray::fromStdString((root_ / "hf-home").string()));
  // The server is on 127.0.0.1: never through a proxy.
  qputenv("NO_PROXY", "127.0.0.1,localhost");
  qputenv("no_proxy", "127.0.0.1,localhost");

  const fs::path gpt2 = fs::path(ATMAN_SHARED_DIR) / "models" / "facts-gpt2";
  config_ = read_text(gpt2 / "config.json");
  vocab_ = read_text(gpt2 / "vocab.json");
  merges_ = read_text(gpt2 / "merges.txt");
  QVERIFY2(!config_.empty() && !vocab_.empty() && !merges_.empty(),
           "facts-gpt2 tokenizer files missing from ../shared/models");
  model_bytes_ = tiny_safetensors(128, 1.0f);  // 64 KiB of data

  FakeRepo tiny;
  tiny.commit = kCommit;
  tiny.files["config.json"] = {config_};
  tiny.files["model.safetensors"] = {model_bytes_, true};
  tiny.files["vocab.json"] = {vocab_};
  tiny.files["merges.txt"] = {merges_};
  tiny.files["tokenizer_config.json"] = {R"({"model_max_length": 128})"};
  tiny.files["pytorch_model.bin"] = {"never downloaded", true};
  hub_.repos["test-org/tiny-model"] = tiny;

  FakeRepo sharded;
  sharded.commit = kShardedCommit;
  sharded.files["config.json"] = {config_};
  sharded.files["model.safetensors.index.json"] = {
      R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
      R"("b":"model-00002-of-00002.safetensors"}})"};
  sharded.files["model-00001-of-00002.safetensors"] = {tiny_safetensors(4, 1.0f), true};
  sharded.files["model-00002-of-00002.safetensors"] = {tiny_safetensors(4, 2.0f), true};
  hub_.repos["test-org/sharded"] = sharded;

  FakeRepo no_config = tiny;
  no_config.files.erase("config.json");
  hub_.repos["test-org/no-config"] = no_config;

  FakeRepo bin_only = tiny;
  bin_only.files.erase("model.safetensors");
  hub_.repos["test-org/bin-only"] = bin_only;

  FakeRepo bad = tiny;
  bad.files["model.safetensors"].claimed_sha256 = sha256_hex("something else");
  hub_.repos["test-org/bad-checksum"] = bad;

  FakeRepo gated = tiny;
  gated.token = "hf_test_secret";
  hub_.repos["test-org/gated"] = gated;

  server_ = std::make_unique<LocalServer>([this](const Request& r) { return hub_.handle(r); });
  hub_.base_url = server_->url();
}

void TestHub::cleanupTestCase() {
  set_repo_resolver(nullptr);
  if (server_) server_->stop();
}

void TestHub::repo_ids() {
  for (const char* good : {"openai/clip-vit-base-patch32", "test-org/tiny-model", "a/b",
                           "Org_1/Name.v2", "llava-hf/llava-1.5-7b-hf"})
    QVERIFY2(hub::is_repo_id(good), good);
  for (const char* bad :
       {"", "clip", "a/b/c", "/abs/path", "./x", "org/", "/name", "org/na me", "org/-name",
        "org/name.", "org/a--b", "org/a..b", "org/name.git", "../shared/models", "org\\name"})
    QVERIFY2(!hub::is_repo_id(bad), bad);
}

void TestHub::environment_defaults() {
  QCOMPARE(hub::default_endpoint(), std::string("https://huggingface.co"));
  qputenv("HF_ENDPOINT", "http://mirror.example/");
  QCOMPARE(hub::default_endpoint(), std::string("http://mirror.example"));
  qunsetenv("HF_ENDPOINT");
  QCOMPARE(hub::default_cache_dir(), root_ / "hf-home" / "hub");
  qputenv("HF_HUB_CACHE", "/somewhere/else");
  QCOMPARE(hub::default_cache_dir(), fs::path("/somewhere/else"));
  qunsetenv("HF_HUB_CACHE");
  QVERIFY(!hub::offline_from_env());
  qputenv("HF_HUB_OFFLINE", "1");
  QVERIFY(hub::offline_from_env());
  qputenv("HF_HUB_OFFLINE", "0");
  QVERIFY(!hub::offline_from_env());
  qunsetenv("HF_HUB_OFFLINE");
  QCOMPARE(hub::token_from_env(), std::string());
  write_text(root_ / "hf-home" / "token", "hf_from_login\n");  // what huggingface-cli login writes
  QCOMPARE(hub::token_from_env(), std::string("hf_from_login"));
  qputenv("HF_TOKEN", "hf_from_env");
  QCOMPARE(hub::token_from_env(), std::string("hf_from_env"));
  qunsetenv("HF_TOKEN");
  fs::remove(root_ / "hf-home" / "token");
  QCOMPARE(hub::repo_folder("/c", "openai/clip-vit-base-patch32"),
           fs::path("/c/models--openai--clip-vit-base-patch32"));
}

void TestHub::fetch_layout_redirect_and_resume() {
  const std::string cdn_path = "/cdn/test-org/tiny-model/model.safetensors";
  hub_.drop_once(cdn_path, 10000);  // the first download of the weights breaks off
  const size_t before = server_->request_count();

  std::vector<hub::Progress> reports;
  auto o = options(cache_);
  o.progress = [&](const hub::Progress& p) {
    reports.push_back(p);
    return true;
  };
  const fs::path snapshot = hub::fetch("test-org/tiny-model", "main", o);

  const fs::path repo = cache_ / "models--test-org--tiny-model";
  QCOMPARE(snapshot, repo / "snapshots" / kCommit);
  QCOMPARE(read_text(repo / "refs" / "main"), std::string(kCommit));

  // Snapshot files are relative symlinks into blobs/, named by ETag.
  const std::string model_sha = sha256_hex(model_bytes_);
  QVERIFY(fs::is_symlink(snapshot / "model.safetensors"));
  QCOMPARE(fs::read_symlink(snapshot / "model.safetensors"), fs::path("../../blobs") / model_sha);
  QVERIFY(read_text(snapshot / "model.safetensors") == model_bytes_);
  QVERIFY(fs::is_symlink(snapshot / "config.json"));
  QCOMPARE(fs::read_symlink(snapshot / "config.json"), fs::path("../../blobs") / git_sha1(config_));
  QVERIFY(read_text(snapshot / "config.json") == config_);
  QVERIFY(read_text(snapshot / "vocab.json") == vocab_);
  QVERIFY(read_text(snapshot / "merges.txt") == merges_);
  QVERIFY(fs::exists(snapshot / "tokenizer_config.json"));
  // Optional files the repo does not have (404) are simply absent; .bin is never asked for.
  QVERIFY(!fs::exists(snapshot / "tokenizer.json"));
  QVERIFY(!fs::exists(snapshot / "preprocessor_config.json"));
  QVERIFY(!fs::exists(snapshot / "pytorch_model.bin"));
  QCOMPARE(files_in(snapshot),
           (std::vector<std::string>{"config.json", "merges.txt", "model.safetensors",
                                     "tokenizer_config.json", "vocab.json"}));
  for (const auto& name : files_in(repo / "blobs"))
    QVERIFY2(name.find(".incomplete") == std::string::npos, name.c_str());
  QCOMPARE(files_in(repo / "blobs").size(), size_t(5));

  // The HTTP conversation: HEAD at main, then everything at the commit; the weights through
  // the redirect, broken off after 10000 bytes and resumed with a Range request.
  auto log = server_->requests();
  std::vector<Request> mine(log.begin() + static_cast<long>(before), log.end());
  QVERIFY(!mine.empty());
  QCOMPARE(mine.front().method, std::string("HEAD"));
  QCOMPARE(mine.front().path, std::string("/test-org/tiny-model/resolve/main/config.json"));
  QCOMPARE(count_requests("HEAD", "/test-org/tiny-model/resolve/main/", before), size_t(1));
  QVERIFY(count_requests("HEAD", std::string("/test-org/tiny-model/resolve/") + kCommit, before) >=
          4);
  std::vector<std::string> cdn_ranges;
  for (const auto& r : mine)
    if (r.method == "GET" && r.path == cdn_path) cdn_ranges.push_back(r.header("range"));
  QCOMPARE(cdn_ranges, (std::vector<std::string>{"", "bytes=10000-"}));
  QCOMPARE(count_requests("GET", "/test-org/tiny-model/resolve/main/model.safetensors", before),
           size_t(0));
  for (const auto& r : mine) QVERIFY(r.path.find("pytorch_model.bin") == std::string::npos);

  // Progress: a final report per file, with the size from X-Linked-Size.
  bool model_reported = false;
  for (const auto& p : reports) {
    QCOMPARE(p.repo_id, std::string("test-org/tiny-model"));
    if (p.file == "model.safetensors" && p.finished) {
      model_reported = true;
      QCOMPARE(p.bytes_total, uint64_t(model_bytes_.size()));
      QCOMPARE(p.bytes_done, uint64_t(model_bytes_.size()));
      QVERIFY(!p.cached);
    }
  }
  QVERIFY(model_reported);
}

void TestHub::second_fetch_downloads_nothing() {
  const size_t before = server_->request_count();
  std::vector<hub::Progress> reports;
  auto o = options(cache_);
  o.progress = [&](const hub::Progress& p) {
    reports.push_back(p);
    return true;
  };
  const fs::path snapshot = hub::fetch("test-org/tiny-model", "main", o);
  QCOMPARE(snapshot, cache_ / "models--test-org--tiny-model" / "snapshots" / kCommit);
  QCOMPARE(count_requests("GET", "/", before), size_t(0));  // HEADs only
  QVERIFY(!reports.empty());
  for (const auto& p : reports) QVERIFY2(p.cached, p.file.c_str());
}

void TestHub::resume_partial_download() {
  // An earlier fetch stopped after 5000 bytes: the next one asks only for the rest.
  const fs::path cache = root_ / "cache-resume";
  const fs::path blobs = cache / "models--test-org--tiny-model" / "blobs";
  const std::string sha = sha256_hex(model_bytes_);
  write_text(blobs / (sha + ".incomplete"), model_bytes_.substr(0, 5000));
  const size_t before = server_->request_count();
  const fs::path snapshot = hub::fetch("test-org/tiny-model", "main", options(cache));
  QVERIFY(read_text(snapshot / "model.safetensors") == model_bytes_);
  QVERIFY(!fs::exists(blobs / (sha + ".incomplete")));
  std::vector<std::string> ranges;
  for (const auto& r : server_->requests())
    if (r.method == "GET" && r.path.find("/cdn/test-org/tiny-model/") == 0)
      ranges.push_back(r.header("range"));
  QVERIFY(before < server_->request_count());
  QCOMPARE(ranges.back(), std::string("bytes=5000-"));
}

void TestHub::cancel_keeps_nothing_broken() {
  const fs::path cache = root_ / "cache-cancel";
  auto o = options(cache);
  o.progress = [](const hub::Progress& p) { return p.file != "model.safetensors"; };
  QCOMPARE(error_of<Cancelled>([&] { hub::fetch("test-org/tiny-model", "main", o); }),
           QString("cancelled"));
  const fs::path repo = cache / "models--test-org--tiny-model";
  QVERIFY(!fs::exists(repo / "blobs" / sha256_hex(model_bytes_)));
  QVERIFY(!fs::exists(repo / "snapshots" / kCommit / "model.safetensors"));
  QVERIFY(!hub::cached_snapshot("test-org/tiny-model", "main", cache));
  // Fetching again completes it.
  o.progress = nullptr;
  const fs::path snapshot = hub::fetch("test-org/tiny-model", "main", o);
  QVERIFY(read_text(snapshot / "model.safetensors") == model_bytes_);
  QCOMPARE(hub::cached_snapshot("test-org/tiny-model", "main", cache).value_or(""), snapshot);
}

void TestHub::missing_files() {
  const fs::path cache = root_ / "cache-missing";
  QString message =
      error_of<ModelError>([&] { hub::fetch("test-org/no-config", "main", options(cache)); });
  VERIFY_CONTAINS(message, "required file 'config.json' is missing");
  VERIFY_CONTAINS(message, "test-org/no-config");
  VERIFY_CONTAINS(message, "404");

  message = error_of<ModelError>([&] { hub::fetch("test-org/bin-only", "main", options(cache)); });
  VERIFY_CONTAINS(message, "neither model.safetensors nor model.safetensors.index.json");
  VERIFY_CONTAINS(message, "pytorch_model.bin");
  VERIFY_CONTAINS(message, "test-org/bin-only");

  message =
      error_of<ModelError>([&] { hub::fetch("test-org/no-such-repo", "main", options(cache)); });
  VERIFY_CONTAINS(message, "'test-org/no-such-repo' was not found");
  VERIFY_CONTAINS(message, "HF_TOKEN");

  message =
      error_of<ModelError>([&] { hub::fetch("test-org/tiny-model", "v9.9", options(cache)); });
  VERIFY_CONTAINS(message, "revision 'v9.9'");

  message = error_of<InputError>([&] { hub::fetch("not a repo", "main", options(cache)); });
  VERIFY_CONTAINS(message, "not a Hugging Face repo id");

  // A sharded checkpoint: the index and the shards it lists.
  const fs::path snapshot = hub::fetch("test-org/sharded", "main", options(cache));
  QCOMPARE(snapshot, cache / "models--test-org--sharded" / "snapshots" / kShardedCommit);
  QCOMPARE(files_in(snapshot),
           (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                     "model-00002-of-00002.safetensors",
                                     "model.safetensors.index.json"}));
  QVERIFY(read_text(snapshot / "model-00002-of-00002.safetensors") == tiny_safetensors(4, 2.0f));
}

void TestHub::bad_checksum() {
  const fs::path cache = root_ / "cache-bad";
  const QString message =
      error_of<ModelError>([&] { hub::fetch("test-org/bad-checksum", "main", options(cache)); });
  VERIFY_CONTAINS(message, "checksum mismatch for 'model.safetensors'");
  VERIFY_CONTAINS(message, QString::fromStdString(sha256_hex("something else")));
  VERIFY_CONTAINS(message, QString::fromStdString(sha256_hex(model_bytes_)));
  VERIFY_CONTAINS(message, "deleted");
  const fs::path repo = cache / "models--test-org--bad-checksum";
  // No corrupted blob under the claimed name, no leftover partial file, no snapshot link.
  for (const auto& name : files_in(repo / "blobs")) {
    QVERIFY2(name != sha256_hex("something else"), name.c_str());
    QVERIFY2(name.find(".incomplete") == std::string::npos, name.c_str());
  }
  QVERIFY(!fs::exists(repo / "snapshots" / kCommit / "model.safetensors"));
  QVERIFY(!hub::cached_snapshot("test-org/bad-checksum", "main", cache));
}

void TestHub::gated_repo() {
  const fs::path cache = root_ / "cache-gated";
  QString message =
      error_of<ModelError>([&] { hub::fetch("test-org/gated", "main", options(cache)); });
  VERIFY_CONTAINS(message, "gated");
  VERIFY_CONTAINS(message, "set HF_TOKEN");
  VERIFY_CONTAINS(message, "test-org/gated");

  qputenv("HF_TOKEN", "hf_wrong");
  message = error_of<ModelError>([&] { hub::fetch("test-org/gated", "main", options(cache)); });
  VERIFY_CONTAINS(message, "refused");

  qputenv("HF_TOKEN", "hf_test_secret");
  const size_t before = server_->request_count();
  const fs::path snapshot = hub::fetch("test-org/gated", "main", options(cache));
  qunsetenv("HF_TOKEN");
  QVERIFY(read_text(snapshot / "model.safetensors") == model_bytes_);
  auto log = server_->requests();
  for (size_t i = before; i < log.size(); ++i)
    if (log[i].path.rfind("/test-org/gated/", 0) == 0)
      QCOMPARE(log[i].header("authorization"), std::string("Bearer hf_test_secret"));

  // An explicit empty token sends none, whatever the environment says.
  qputenv("HF_TOKEN", "hf_test_secret");
  auto o = options(root_ / "cache-gated-2");
  o.token = "";
  message = error_of<ModelError>([&] { hub::fetch("test-org/gated", "main", o); });
  qunsetenv("HF_TOKEN");
  VERIFY_CONTAINS(message, "gated");
}

void TestHub::offline_mode() {
  // cache_ holds test-org/tiny-model from the earlier tests.
  qputenv("HF_HUB_OFFLINE", "1");
  const size_t before = server_->request_count();
  const fs::path snapshot = hub::fetch("test-org/tiny-model", "main", options(cache_));
  QCOMPARE(snapshot, cache_ / "models--test-org--tiny-model" / "snapshots" / kCommit);
  // By commit hash, too.
  QCOMPARE(hub::fetch("test-org/tiny-model", kCommit, options(cache_)), snapshot);
  QString message =
      error_of<ModelError>([&] { hub::fetch("test-org/sharded", "main", options(cache_)); });
  VERIFY_CONTAINS(message, "HF_HUB_OFFLINE");
  VERIFY_CONTAINS(message, "test-org/sharded");
  VERIFY_CONTAINS(message, "not complete in the cache");
  qunsetenv("HF_HUB_OFFLINE");
  auto o = options(cache_);
  o.offline = true;
  QCOMPARE(hub::fetch("test-org/tiny-model", "main", o), snapshot);
  QCOMPARE(server_->request_count(), before);  // not one request
}

void TestHub::unreachable_endpoint() {
  // A port that was free a moment ago: connection refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  QCOMPARE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto o = options(root_ / "cache-unreachable");
  o.endpoint = endpoint;
  const QString message =
      error_of<ModelError>([&] { hub::fetch("test-org/tiny-model", "main", o); });
  VERIFY_CONTAINS(message, QString::fromStdString("cannot reach " + endpoint + ": "));
  VERIFY_CONTAINS(message, "use a local folder or set HF_HUB_OFFLINE=1 to use the cache");
}

void TestHub::resolve_model_dir_uses_hub() {
  qputenv("HF_HUB_CACHE", QByteArray::fromStdString(cache_.string()));
  const fs::path snapshot = cache_ / "models--test-org--tiny-model" / "snapshots" / kCommit;

  // Without a resolver the base library still finds cached snapshots (refs/main).
  set_repo_resolver(nullptr);
  QCOMPARE(resolve_model_dir("test-org/tiny-model"), snapshot);
  QString message = error_of<ModelError>([] { resolve_model_dir("test-org/sharded"); });
  VERIFY_CONTAINS(message, "atman fetch test-org/sharded");
  // A local folder still wins, and plain names are not repo ids.
  QCOMPARE(resolve_model_dir(root_.string()), root_);
  message = error_of<ModelError>([] { resolve_model_dir("no-such-model"); });
  VERIFY_CONTAINS(message, "no-such-model");

  // With the hub resolver: cached ones without a request, missing ones fetched first.
  auto o = options({});  // cache from HF_HUB_CACHE
  hub::install_repo_resolver(o);
  size_t before = server_->request_count();
  QCOMPARE(resolve_model_dir("test-org/tiny-model"), snapshot);
  QCOMPARE(server_->request_count(), before);
  const fs::path sharded = resolve_model_dir("test-org/sharded");
  QCOMPARE(sharded, cache_ / "models--test-org--sharded" / "snapshots" / kShardedCommit);
  QVERIFY(fs::exists(sharded / "model-00001-of-00002.safetensors"));
  QVERIFY(server_->request_count() > before);

  message = error_of<ModelError>([] { resolve_model_dir("test-org/does-not-exist"); });
  VERIFY_CONTAINS(message, "test-org/does-not-exist");
  VERIFY_CONTAINS(message, "as a Hugging Face repo id");
  VERIFY_CONTAINS(message, "not found");

  qputenv("HF_HUB_OFFLINE", "1");
  before = server_->request_count();
  message = error_of<ModelError>([] { resolve_model_dir("test-org/gated"); });
  VERIFY_CONTAINS(message, "HF_HUB_OFFLINE");
  QCOMPARE(resolve_model_dir("test-org/sharded"), sharded);
  QCOMPARE(server_->request_count(), before);
  qunsetenv("HF_HUB_OFFLINE");

  set_repo_resolver(nullptr);
  qunsetenv("HF_HUB_CACHE");
}

QTEST_APPLESS_MAIN(TestHub)
#include "test_hub.moc"
