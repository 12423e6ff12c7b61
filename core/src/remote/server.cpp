#include "remote/server.h"

#include <ATen/ATen.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/hub.h"
#include "atman/inference.h"
#include "atman/names.h"
#include "atman/registry.h"
#include "atman/remote.h"
#include "atman/runtime.h"
#include "atman/v1/atman.grpc.pb.h"
#include "remote/convert.h"
#include "remote/status.h"

namespace atman::remote {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool is_loopback_address(const std::string& listen) {
  std::string host = listen;
  if (!host.empty() && host.front() == '[') {  // [::1]:PORT
    host = host.substr(1, host.find(']') == std::string::npos ? 0 : host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host.resize(colon);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

namespace {

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

// The small files a client builds its view of a model from: config, tokenizer, prompt and
// preprocessing. Never weights, never anything but JSON, text vocabularies and templates.
bool is_view_file(const fs::path& file) {
  const std::string name = file.filename().string();
  const std::string ext = file.extension().string();
  if (name.find(".index.json") != std::string::npos) return false;  // shard index: weights only
  return ext == ".json" || ext == ".txt" || ext == ".jinja";
}
constexpr uintmax_t kMaxViewFileBytes = uintmax_t{64} << 20;

// The peer's host without its port ("ipv4:127.0.0.1:5555" -> "ipv4:127.0.0.1").
std::string peer_host(const std::string& peer) {
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

std::vector<std::string> device_names() {
  std::vector<std::string> out{"cpu"};
  if (at::hasCUDA())
    for (int i = 0; i < at::detail::getCUDAHooks().getNumGPUs(); ++i)
      out.push_back("cuda:" + std::to_string(i));
  return out;
}

struct LoadedEntry {
  std::shared_ptr<const Model> model;
  // One AtMan explainer per model: its caches serve κ sweeps, sliders and neighbourhoods of every
  // client of this model, as the GUI's worker keeps one.
  std::unique_ptr<AtmanExplainer> atman = std::make_unique<AtmanExplainer>();
};

// Calls in flight per client; a slot is released when its guard goes.
class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(int limit) : limit_(limit) {}
  class Slot {
   public:
    Slot(ConcurrencyLimit* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)), key_(other.key_) {}
    Slot(const Slot&) = delete;
    ~Slot() {
      if (!owner_) return;
      std::lock_guard lock(owner_->mutex_);
      if (--owner_->in_flight_[key_] == 0) owner_->in_flight_.erase(key_);
    }

   private:
    ConcurrencyLimit* owner_;
    std::string key_;
  };
  std::optional<Slot> acquire(const std::string& key) {
    std::lock_guard lock(mutex_);
    int& count = in_flight_[key];
    if (count >= limit_) return std::nullopt;
    ++count;
    return Slot(this, key);
  }

 private:
  int limit_;
  std::mutex mutex_;
  std::map<std::string, int> in_flight_;
};

class Service final : public v1::Atman::Service {
 public:
  explicit Service(const ServerOptions& options)
      : options_(options), limit_(std::max(1, options.max_concurrent_per_client)) {
    std::error_code ec;
    root_ = fs::weakly_canonical(options_.models_dir, ec);
    if (ec) root_ = options_.models_dir;
  }

  grpc::Status GetServerInfo(grpc::ServerContext* ctx, const v1::ServerInfoRequest*,
                             v1::ServerInfoReply* reply) override {
    return call(ctx, [&] {
      reply->set_version(atman::version());
      reply->set_protocol_version(kProtocolVersion);
      for (const auto& d : device_names()) reply->add_devices(d);
      for (const auto& m : model_names()) reply->add_models(m);
      reply->set_runtime(runtime_report());
      return grpc::Status::OK;
    });
  }

  grpc::Status ListModels(grpc::ServerContext* ctx, const v1::ListModelsRequest*,
                          v1::ListModelsReply* reply) override {
    return call(ctx, [&] {
      for (const auto& m : model_names()) reply->add_models(m);
      return grpc::Status::OK;
    });
  }

  grpc::Status LoadModel(grpc::ServerContext* ctx, const v1::LoadModelRequest* request,
                         v1::LoadModelReply* reply) override {
    return call(ctx, [&] {
      const fs::path dir = resolve_name(request->name());
      LoadOptions options;
      options.device = request->device().empty() ? "cpu" : request->device();
      options.dtype = request->dtype().empty() ? "auto" : request->dtype();
      const std::string id = request->name() + "@" + options.device + "/" + options.dtype;
      std::shared_ptr<const Model> model;
      {
        // One load at a time: two clients asking for the same model share one copy.
        std::lock_guard load_lock(load_mutex_);
        if (auto found = find(id)) {
          model = found->model;
        } else {
          auto entry = std::make_shared<LoadedEntry>();
          entry->model = Model::load(dir, options);
          model = entry->model;
          std::lock_guard lock(models_mutex_);
          models_[id] = std::move(entry);
        }
      }
      reply->set_model_id(id);
      reply->set_name(model->name());
      reply->set_architecture(model->architecture());
      reply->set_device(model->device());
      reply->set_dtype(model->dtype());
      reply->set_parameters(model->parameter_count());
      reply->set_patch_grid(model->patch_grid());
      reply->set_max_text_tokens(model->max_text_tokens());
      for (const auto& entry : fs::directory_iterator(dir)) {
        std::error_code ec;
        if (!entry.is_regular_file(ec) || !is_view_file(entry.path())) continue;
        if (entry.file_size(ec) > kMaxViewFileBytes) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream content;
        content << in.rdbuf();
        v1::ModelFile* file = reply->add_files();
        file->set_name(entry.path().filename().string());
        file->set_content(content.str());
      }
      return grpc::Status::OK;
    });
  }

  grpc::Status Predict(grpc::ServerContext* ctx, const v1::PredictRequest* request,
                       v1::PredictReply* reply) override {
    return call(ctx, [&] {
      auto entry = require(request->model_id());
      const Model& model = *entry->model;
      std::optional<PixelTensor> pixels;
      if (request->has_image()) pixels = model.preprocess(from_proto(request->image()));
      if (model.target_is_label()) {
        if (!pixels) throw InputError("ranking labels needs an image");
        std::vector<std::string> labels(request->labels().begin(), request->labels().end());
        for (const auto& s : zero_shot(model, *pixels, labels)) to_proto(s, reply->add_labels());
        return grpc::Status::OK;
      }
      std::vector<SteeringFactor> steering;
      for (const auto& s : request->steering()) steering.push_back({s.position(), s.factor()});
      const auto variant = request->variant().empty()
                               ? SuppressionVariant::Multiplicative
                               : from_string<SuppressionVariant>(request->variant());
      to_proto(generate(model, request->prompt(), request->max_new_tokens(),
                        pixels ? &*pixels : nullptr, steering, variant),
               reply->mutable_generation());
      return grpc::Status::OK;
    });
  }

  grpc::Status InputLayout(grpc::ServerContext* ctx, const v1::InputLayoutRequest* request,
                           v1::InputLayoutReply* reply) override {
    return call(ctx, [&] {
      auto entry = require(request->model_id());
      const Model& model = *entry->model;
      std::optional<PixelTensor> shape;  // the image's size sizes the image tokens
      if (request->image_width() > 0 || request->image_height() > 0)
        shape = model.input_shape(request->image_width(), request->image_height());
      for (const auto& p : input_layout(model, request->prompt(), shape ? &*shape : nullptr))
        to_proto(p, reply->add_positions());
      return grpc::Status::OK;
    });
  }

  grpc::Status Explain(grpc::ServerContext* ctx, const v1::ExplainCall* call_message,
                       grpc::ServerWriter<v1::ExplainEvent>* writer) override {
    return call(ctx, [&] {
      auto entry = require(call_message->request().model_id());
      const ExplainRequest request = from_proto(call_message->request(), entry->model);
      std::unique_ptr<Explainer> own;
      Explainer* explainer = entry->atman.get();
      const std::string& method = call_message->method();
      if (!method.empty() && method != "atman") {
        MethodOptions options;
        if (call_message->ig_steps() > 0) options.ig_steps = call_message->ig_steps();
        own = create_explainer(method, options);
        explainer = own.get();
      }
      // The client's cancel (or a connection that went away) and the server's own time limit both
      // stop the core within one batch through its progress callback.
      const auto start = Clock::now();
      ProgressFn progress = [&](int done, int total) {
        if (ctx->IsCancelled()) return false;
        if (std::chrono::duration<double>(Clock::now() - start).count() > options_.timeout_s)
          throw Error("the explanation ran past the server's time limit of " +
                      std::to_string(options_.timeout_s) + " s (atman serve --timeout-s)");
        v1::ExplainEvent event;
        event.set_done(done);
        event.set_total(total);
        writer->Write(event);
        return true;
      };
      std::vector<Explanation> results;
      if (call_message->kappas().empty()) {
        results.push_back(explainer->attribute(request, progress));
      } else {
        const std::vector<double> kappas(call_message->kappas().begin(),
                                         call_message->kappas().end());
        results = explainer->kappa_sweep(request, kappas, progress);
      }
      v1::ExplainEvent last;
      for (const auto& e : results) to_proto(e, last.add_results());
      writer->Write(last);
      return grpc::Status::OK;
    });
  }

  grpc::Status Neighbours(grpc::ServerContext* ctx, const v1::NeighboursRequest* request,
                          v1::NeighboursReply* reply) override {
    return call(ctx, [&] {
      auto entry = require(request->request().model_id());
      const ExplainRequest r = from_proto(request->request(), entry->model);
      for (const auto& f : entry->atman->neighbours(r, request->index(), request->kappa()))
        to_proto(f, reply->add_factors());
      return grpc::Status::OK;
    });
  }

  grpc::Status ClearCache(grpc::ServerContext* ctx, const v1::ClearCacheRequest* request,
                          v1::ClearCacheReply*) override {
    return call(ctx, [&] {
      if (request->model_ids().empty()) {
        std::lock_guard lock(models_mutex_);
        for (auto& [id, entry] : models_) entry->atman->clear_cache();
      }
      for (const auto& id : request->model_ids())
        if (auto entry = find(id)) entry->atman->clear_cache();
      return grpc::Status::OK;
    });
  }

 private:
  // Every handler: the token, the client's concurrency slot, then the body with the core's
  // exceptions turned into statuses.
  grpc::Status call(grpc::ServerContext* ctx, const std::function<grpc::Status()>& body) {
    std::string given;
    const auto& metadata = ctx->client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end())
      given.assign(it->second.data(), it->second.size());
    if (!options_.token.empty()) {
      const std::string prefix = "Bearer ";
      if (given.empty())
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            "this server requires a token: give the client the server's token "
                            "(atman ... --token-file FILE)");
      if (given.rfind(prefix, 0) != 0 || !same_secret(given.substr(prefix.size()), options_.token))
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            "wrong token: the token given is not this server's");
    }
    auto slot = limit_.acquire(peer_host(ctx->peer()) + " " + given);
    if (!slot)
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "too many calls at once from this client (the server allows " +
                              std::to_string(options_.max_concurrent_per_client) +
                              "; atman serve --max-concurrent-per-client)");
    return guarded_status(body);
  }

  std::vector<std::string> model_names() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_, ec)) {
      std::error_code ec2;
      if (entry.is_directory(ec2) && fs::is_regular_file(entry.path() / "config.json", ec2))
        out.push_back(entry.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // A bare name below the model root, or a Hub repo id from the server's Hub cache; nothing the
  // client sends can name another folder.
  fs::path resolve_name(const std::string& name) const {
    if (name.empty()) throw InputError("no model name given");
    if (name.find('\0') != std::string::npos || name.find('\\') != std::string::npos)
      throw ModelError("model name '" + name + "' is not a name: no separators allowed");
    if (name.find('/') != std::string::npos) {
      if (!looks_like_repo_id(name))
        throw ModelError("model '" + name +
                         "' is neither a bare name under the server's model folder nor a Hub "
                         "repo id (ORG/NAME); paths are not accepted");
      if (auto snapshot = hub::cached_snapshot(name, "main", options_.hub_cache)) return *snapshot;
      throw ModelError("model '" + name +
                       "' is not in the server's Hub cache; fetch it there first (atman fetch " +
                       name + ")");
    }
    if (name == "." || name == ".." || name.front() == '.')
      throw ModelError("model name '" + name + "' is not a model folder name");
    const fs::path dir = root_ / name;
    std::error_code ec;
    const fs::path real = fs::canonical(dir, ec);
    if (ec || !fs::is_directory(real, ec))
      throw ModelError("the server has no model '" + name + "' (its models: " + joined_names() +
                       ")");
    // A symbolic link inside the root must not lead out of it.
    const auto rel = real.lexically_relative(fs::canonical(root_, ec));
    if (rel.empty() || rel.begin()->string() == "..")
      throw ModelError("model '" + name + "' leads outside the server's model folder: refused");
    return real;
  }

  std::string joined_names() const {
    std::string out;
    for (const auto& n : model_names()) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "none" : out;
  }

  std::shared_ptr<LoadedEntry> find(const std::string& id) {
    std::lock_guard lock(models_mutex_);
    auto it = models_.find(id);
    return it == models_.end() ? nullptr : it->second;
  }

  std::shared_ptr<LoadedEntry> require(const std::string& id) {
    if (auto entry = find(id)) return entry;
    throw ModelError("the server has no loaded model '" + id + "': load it first");
  }

  ServerOptions options_;
  fs::path root_;
  ConcurrencyLimit limit_;
  std::mutex load_mutex_;
  std::mutex models_mutex_;
  std::map<std::string, std::shared_ptr<LoadedEntry>> models_;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  const bool loopback = is_loopback_address(options.listen);
  const bool tls = !options.tls_cert_pem.empty() || !options.tls_key_pem.empty();
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty())
    throw InputError("TLS needs both the certificate and its key (--tls-cert and --tls-key)");
  if (options.token.empty() && !options.allow_no_token)
    throw InputError(
        "atman serve requires a token: --token-file FILE (its first line is the token clients "
        "must send); on loopback only, --insecure-no-token serves without one");
  if (!loopback && (!tls || options.token.empty()))
    throw InputError("refusing to listen on " + options.listen +
                     " without TLS and a token: anyone who reaches the port could run the "
                     "models; give --tls-cert, --tls-key and --token-file, or listen on "
                     "127.0.0.1");
  std::error_code ec;
  if (!fs::is_directory(options.models_dir, ec))
    throw InputError("--models-dir '" + options.models_dir.string() + "' is not a folder");

  impl_->options = options;
  impl_->service = std::make_unique<Service>(impl_->options);
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(options.listen, credentials, &impl_->port);
  builder.RegisterService(impl_->service.get());
  builder.SetMaxReceiveMessageSize(std::max(1, options.max_request_mb) * (1 << 20));
  builder.SetMaxSendMessageSize(-1);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    throw RemoteError("cannot listen on " + options.listen +
                      " (address in use, or not an address of this machine?)");
}

Server::~Server() {
  shutdown();
}

int Server::port() const {
  return impl_->port;
}

void Server::wait() {
  if (impl_->server) impl_->server->Wait();
}

void Server::shutdown() {
  // Calls in flight see IsCancelled() after the deadline and stop within one batch.
  if (impl_->server)
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace atman::remote
