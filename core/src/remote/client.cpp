#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <utility>

#include "atman/error.h"
#include "atman/names.h"
#include "atman/prompt.h"
#include "atman/remote.h"
#include "atman/v1/atman.grpc.pb.h"
#include "remote/convert.h"
#include "remote/status.h"

namespace atman::remote {
namespace fs = std::filesystem;

struct Client::Impl {
  ConnectOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Atman::Stub> stub;

  // The token and the deadline every call carries.
  void prepare(grpc::ClientContext& ctx, bool long_call) const {
    if (!options.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options.token);
    const double seconds = long_call ? options.long_call_timeout_s : options.call_timeout_s;
    if (seconds > 0)
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  }

  void check(const grpc::Status& status) const { throw_if_failed(status, options.address); }

  // The server's id of a model this client loaded.
  std::string model_id(const Model& model) const {
    const RemoteModelInfo* remote = model.remote();
    if (!remote)
      throw InputError("model '" + model.name() +
                       "' is loaded locally; load it through the server (Client::load_model)");
    if (remote->address != options.address)
      throw InputError("model '" + model.name() + "' was loaded from " + remote->address +
                       ", not from " + options.address);
    return remote->model_id;
  }
};

namespace {

std::shared_ptr<grpc::Channel> open_channel(const ConnectOptions& options) {
  grpc::ChannelArguments args;
  // A model's tokenizer files and a large explanation exceed gRPC's default 4 MiB.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  if (options.ca_pem.empty() && options.pinned_cert_pem.empty())
    return grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
  grpc::SslCredentialsOptions ssl;
  // A pinned (self-signed) certificate is its own trust anchor: only that server verifies.
  ssl.pem_root_certs = options.ca_pem.empty() ? options.pinned_cert_pem : options.ca_pem;
  if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl), args);
}

// A private folder for a model view's files, removed with the last copy of the view.
fs::path make_view_dir() {
  std::string pattern = (fs::temp_directory_path() / "atman-remote-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw Error("cannot create a temporary folder for a remote model's files in " +
                fs::temp_directory_path().string());
  return pattern;
}

// A file name the server sent: a bare name, or the server is not one to trust.
bool is_bare_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

std::shared_ptr<Client> Client::connect(const ConnectOptions& options) {
  if (options.address.empty()) throw InputError("no server address given (HOST:PORT)");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->channel = open_channel(options);
  impl->stub = v1::Atman::NewStub(impl->channel);
  std::shared_ptr<Client> client(new Client(std::move(impl)));
  // ServerInfo now, with its own deadline: a wrong address, token or CA fails here.
  grpc::ClientContext ctx;
  client->impl_->prepare(ctx, false);
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(
                       (options.connect_timeout_s > 0 ? options.connect_timeout_s : 10) * 1000)));
  ctx.set_wait_for_ready(false);
  v1::ServerInfoRequest request;
  v1::ServerInfoReply reply;
  client->impl_->check(client->impl_->stub->GetServerInfo(&ctx, request, &reply));
  if (reply.protocol_version() != kProtocolVersion)
    throw RemoteError("atman server " + options.address + " speaks protocol version " +
                      std::to_string(reply.protocol_version()) + ", this client " +
                      std::to_string(kProtocolVersion) + ": use matching versions of atman");
  return client;
}

const ConnectOptions& Client::options() const {
  return impl_->options;
}

ServerInfo Client::info() {
  grpc::ClientContext ctx;
  impl_->prepare(ctx, false);
  v1::ServerInfoRequest request;
  v1::ServerInfoReply reply;
  impl_->check(impl_->stub->GetServerInfo(&ctx, request, &reply));
  ServerInfo out;
  out.version = reply.version();
  out.protocol_version = reply.protocol_version();
  out.devices.assign(reply.devices().begin(), reply.devices().end());
  out.models.assign(reply.models().begin(), reply.models().end());
  out.runtime = reply.runtime();
  return out;
}

RemoteModel Client::load_model(const std::string& name, const LoadOptions& options) {
  grpc::ClientContext ctx;
  impl_->prepare(ctx, true);  // a large model takes a while to load
  v1::LoadModelRequest request;
  request.set_name(name);
  request.set_device(options.device);
  request.set_dtype(options.dtype);
  v1::LoadModelReply reply;
  impl_->check(impl_->stub->LoadModel(&ctx, request, &reply));

  const fs::path dir = make_view_dir();
  auto remove_dir = std::shared_ptr<const void>(nullptr, [dir](const void*) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  for (const v1::ModelFile& file : reply.files()) {
    if (!is_bare_file_name(file.name()))
      throw RemoteError("atman server " + impl_->options.address + " sent a file named '" +
                        file.name() + "': not a bare file name, refused");
    std::ofstream out(dir / file.name(), std::ios::binary);
    out.write(file.content().data(), static_cast<std::streamsize>(file.content().size()));
    if (!out) throw Error("cannot write a remote model's file to " + dir.string());
  }
  RemoteModelInfo info;
  info.address = impl_->options.address;
  info.model_id = reply.model_id();
  info.name = reply.name();
  info.architecture = reply.architecture();
  info.device = reply.device();
  info.dtype = reply.dtype();
  info.parameters = reply.parameters();
  info.patch_grid = reply.patch_grid();
  info.max_text_tokens = reply.max_text_tokens();
  info.keep_alive = remove_dir;
  RemoteModel out;
  out.model = Model::load_view(dir, std::move(info));
  if (out.model->generates()) {
    // The prompt files came with the view, so the core renders the default prompt as it does for
    // a local folder; a model with neither prompt_format.json nor a template has none.
    try {
      out.default_prompt = default_prompt(dir, "", out.model->reads_images());
    } catch (const Error&) {
    }
  }
  return out;
}

std::unique_ptr<RemoteExplainer> Client::make_explainer(const std::string& method,
                                                        const MethodOptions& options) {
  return std::make_unique<RemoteExplainer>(shared_from_this(), method, options);
}

std::vector<LabelScore> Client::zero_shot(const Model& model, const RgbImage& image,
                                          const std::vector<std::string>& labels) {
  grpc::ClientContext ctx;
  impl_->prepare(ctx, true);
  v1::PredictRequest request;
  request.set_model_id(impl_->model_id(model));
  to_proto(image, request.mutable_image());
  for (const auto& label : labels) request.add_labels(label);
  v1::PredictReply reply;
  impl_->check(impl_->stub->Predict(&ctx, request, &reply));
  std::vector<LabelScore> out;
  for (const auto& s : reply.labels()) out.push_back(from_proto(s));
  return out;
}

Generation Client::generate(const Model& model, const std::string& prompt, int max_new_tokens,
                            const RgbImage* image, const std::vector<SteeringFactor>& steering,
                            SuppressionVariant variant) {
  grpc::ClientContext ctx;
  impl_->prepare(ctx, true);
  v1::PredictRequest request;
  request.set_model_id(impl_->model_id(model));
  if (image) {
    to_proto(*image, request.mutable_image());
  }
  request.set_prompt(prompt);
  request.set_max_new_tokens(max_new_tokens);
  for (const auto& s : steering) {
    v1::Steering* p = request.add_steering();
    p->set_position(s.position);
    p->set_factor(s.factor);
  }
  request.set_variant(std::string(to_string(variant)));
  v1::PredictReply reply;
  impl_->check(impl_->stub->Predict(&ctx, request, &reply));
  return from_proto(reply.generation());
}

std::vector<InputPosition> Client::input_layout(const Model& model, const std::string& prompt,
                                                const RgbImage* image) {
  grpc::ClientContext ctx;
  impl_->prepare(ctx, false);
  v1::InputLayoutRequest request;
  request.set_model_id(impl_->model_id(model));
  request.set_prompt(prompt);
  if (image) {
    request.set_image_width(image->width);
    request.set_image_height(image->height);
  }
  v1::InputLayoutReply reply;
  impl_->check(impl_->stub->InputLayout(&ctx, request, &reply));
  std::vector<InputPosition> out;
  for (const auto& p : reply.positions()) out.push_back(from_proto(p));
  return out;
}

// ---- RemoteExplainer ----

namespace {

// One Explain call: progress events into `progress`, then the results. A false from `progress`
// cancels the call; the server stops within one batch and the status says CANCELLED.
std::vector<Explanation> run_explain(const Client::Impl& impl, const v1::ExplainCall& call,
                                     const ProgressFn& progress) {
  grpc::ClientContext ctx;
  impl.prepare(ctx, true);
  auto reader = impl.stub->Explain(&ctx, call);
  v1::ExplainEvent event;
  std::vector<Explanation> results;
  bool cancelled = false;
  while (reader->Read(&event)) {
    if (event.results_size() > 0) {
      for (const auto& e : event.results()) results.push_back(from_proto(e));
    } else if (!cancelled && progress && !progress(event.done(), event.total())) {
      ctx.TryCancel();
      cancelled = true;
    }
  }
  const grpc::Status status = reader->Finish();
  if (cancelled) throw Cancelled();
  impl.check(status);
  if (results.empty())
    throw RemoteError("atman server " + impl.options.address + " sent no explanation");
  return results;
}

}  // namespace

RemoteExplainer::RemoteExplainer(std::shared_ptr<Client> client, std::string method,
                                 MethodOptions options)
    : client_(std::move(client)), method_(std::move(method)), options_(options) {
  if (method_.empty()) method_ = "atman";
}

RemoteExplainer::~RemoteExplainer() = default;

std::string RemoteExplainer::name() const {
  return method_;
}

Explanation RemoteExplainer::attribute(const ExplainRequest& request, const ProgressFn& progress) {
  if (!request.model) throw InputError("no model loaded");
  v1::ExplainCall call;
  to_proto(request, client_->impl_->model_id(*request.model), call.mutable_request());
  call.set_method(method_);
  call.set_ig_steps(options_.ig_steps);
  return std::move(run_explain(*client_->impl_, call, progress).front());
}

std::vector<Explanation> RemoteExplainer::kappa_sweep(const ExplainRequest& request,
                                                      const std::vector<double>& kappas,
                                                      const ProgressFn& progress) {
  if (!request.model) throw InputError("no model loaded");
  if (kappas.empty()) return {};
  v1::ExplainCall call;
  to_proto(request, client_->impl_->model_id(*request.model), call.mutable_request());
  call.set_method(method_);
  call.set_ig_steps(options_.ig_steps);
  for (double k : kappas) call.add_kappas(k);
  return run_explain(*client_->impl_, call, progress);
}

std::vector<NeighbourFactor> RemoteExplainer::neighbours(const ExplainRequest& request, int index,
                                                         double kappa) {
  if (!request.model) throw InputError("no model loaded");
  const Client::Impl& impl = *client_->impl_;
  grpc::ClientContext ctx;
  impl.prepare(ctx, true);
  v1::NeighboursRequest message;
  to_proto(request, impl.model_id(*request.model), message.mutable_request());
  message.set_index(index);
  message.set_kappa(kappa);
  v1::NeighboursReply reply;
  impl.check(impl.stub->Neighbours(&ctx, message, &reply));
  std::vector<NeighbourFactor> out;
  for (const auto& f : reply.factors()) out.push_back(from_proto(f));
  return out;
}

void RemoteExplainer::clear_cache() {
  const Client::Impl& impl = *client_->impl_;
  grpc::ClientContext ctx;
  impl.prepare(ctx, false);
  v1::ClearCacheRequest request;
  v1::ClearCacheReply reply;
  impl.check(impl.stub->ClearCache(&ctx, request, &reply));
}

}  // namespace atman::remote
