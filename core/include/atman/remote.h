// The core worker over the network: a client of `atman serve` (docs/remote.md). Torch-free and
// gRPC-free: everything remote lives behind Client's pimpl in core/src/remote/.
//
//   auto client = atman::remote::Client::connect({.address = "gpu-box:7861",
//                                                 .token = read_token("~/.atman-token"),
//                                                 .ca_pem = read_file("ca.pem")});
//   auto model = client->load_model("shapes-clip");        // a local view: tokenizer, no weights
//   auto explainer = client->make_explainer("atman");      // runs on the server
//   atman::ExplainRequest request;
//   request.model = model;
//   ...
//   atman::Explanation e = explainer->attribute(request, progress);  // == a local one, bit for bit
//
// Errors: what the server's core throws comes back as the same type with the same text
// (InputError, ModelError, Cancelled); a server that cannot be reached, refuses the token or the
// certificate, or runs out of time is a RemoteError naming the address and the cause.
//
// Thread-safety: a Client and its RemoteExplainers may be used from several threads at once (each
// call is its own RPC); the server's AtMan explainer of a model serialises explanations of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "atman/error.h"
#include "atman/explainer.h"
#include "atman/explanation.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "atman/registry.h"
#include "atman/suppression.h"

namespace atman::remote {

// The protocol version of proto/atman/v1/atman.proto this client speaks. A server answers
// ServerInfo with its own; a different major version is refused at connect().
inline constexpr int kProtocolVersion = 1;

// The server could not be reached, refused the credentials, answered out of protocol, or a call
// ran past its deadline. The message names the address and the cause.
class RemoteError : public Error {
 public:
  using Error::Error;
};

struct ConnectOptions {
  std::string address;  // "HOST:PORT"
  // The bearer token the server requires (sent as `authorization: Bearer TOKEN`); empty: none.
  std::string token;
  // TLS: set one of these (PEM text, not a path). ca_pem: the CA that signed the server's
  // certificate; pinned_cert_pem: the server's own (self-signed) certificate, trusted as is. Both
  // empty: plain TCP, which a server accepts only on loopback.
  std::string ca_pem;
  std::string pinned_cert_pem;
  // The name the server's certificate must carry; empty: the host part of `address`.
  std::string tls_server_name;
  double connect_timeout_s = 10;  // connect() waits this long for the channel and ServerInfo
  // Deadline of every call except explanations, κ sweeps and generation; 0: no deadline.
  double call_timeout_s = 60;
  // Deadline of explanations, κ sweeps and generation (they may run for minutes); 0: none (the
  // server's own --timeout-s still applies).
  double long_call_timeout_s = 0;
};

struct ServerInfo {
  std::string version;               // atman::version() of the server
  int protocol_version = 0;          // kProtocolVersion of the server
  std::vector<std::string> devices;  // "cpu", "cuda:0", ...
  std::vector<std::string> models;   // bare names under the server's --models-dir
  std::string runtime;               // runtime_report() of the server (threads, BLAS, devices)
};

// What Client::load_model hands back besides the model.
struct RemoteModel {
  // A local view of the server's model: config, tokenizer, preprocessing and prompt files (never
  // weights) in a private temporary folder removed when the last copy goes. name(), description(),
  // device(), dtype(), capabilities(), tokenizer(), patch_grid(), preprocess_config() answer as
  // the server's model does; Model::remote() says where it runs. Core functions that need the
  // weights (zero_shot, generate, explain with a local explainer) throw ModelError for it: use
  // the Client's functions and make_explainer().
  std::shared_ptr<const Model> model;
  // default_prompt(model->dir(), "", reads_images) of atman/prompt.h: the prompt and template
  // files come with the view, so any other question renders locally the same way. Empty for
  // CLIP and SigLIP, or a model with neither prompt_format.json nor a chat template.
  std::string default_prompt;
};

class RemoteExplainer;

class Client : public std::enable_shared_from_this<Client> {
 public:
  // Opens the channel and checks it with ServerInfo (token, certificate and protocol version), so
  // a wrong token or CA fails here with a RemoteError, not at the first explanation.
  static std::shared_ptr<Client> connect(const ConnectOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ConnectOptions& options() const;
  ServerInfo info();  // asks the server again

  // Loads `name` on the server: a bare folder name under its --models-dir or a Hub repo id
  // ("ORG/NAME") present in the server's Hub cache. options.device / options.dtype as for
  // Model::load (on the server's devices). A model already loaded with the same options is
  // shared, not loaded twice. ModelError with the server's message for an unknown name, a path
  // outside its model root, or a model that does not fit.
  RemoteModel load_model(const std::string& name, const LoadOptions& options = {});

  // An explainer whose attribute(), kappa_sweep() and neighbours() run on the server, for
  // requests whose model came from this client's load_model(). `method` names a method of the
  // registry (atman/registry.h); AtMan's caches live on the server (one AtmanExplainer per loaded
  // model), so a κ sweep after an explanation reuses its masks there.
  std::unique_ptr<RemoteExplainer> make_explainer(const std::string& method = "atman",
                                                  const MethodOptions& options = {});

  // atman/inference.h on the server: zero_shot (the image is preprocessed there with the model's
  // config), generate (greedy, optionally steered), input_layout (only the image's size is sent:
  // it sizes anyres LLaVA's and Qwen2.5-VL's image tokens). (atman::input_layout of a view works
  // locally for text models; LLaVA's image tokens need this one.)
  std::vector<LabelScore> zero_shot(const Model& model, const RgbImage& image,
                                    const std::vector<std::string>& labels);
  Generation generate(const Model& model, const std::string& prompt, int max_new_tokens,
                      const RgbImage* image = nullptr,
                      const std::vector<SteeringFactor>& steering = {},
                      SuppressionVariant variant = SuppressionVariant::Multiplicative);
  std::vector<InputPosition> input_layout(const Model& model, const std::string& prompt,
                                          const RgbImage* image = nullptr);

  struct Impl;  // the gRPC channel and stub: core/src/remote/client.cpp

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class RemoteExplainer;
};

// An Explainer that runs on the server. attribute() streams progress into `progress`; returning
// false there cancels the call, which stops the server's work within one batch and throws
// Cancelled here. Also what the GUI's worker needs of AtmanExplainer: neighbours() and
// clear_cache() (both on the server's AtMan explainer of the request's model).
class RemoteExplainer final : public Explainer {
 public:
  RemoteExplainer(std::shared_ptr<Client> client, std::string method, MethodOptions options);
  ~RemoteExplainer() override;
  std::string name() const override;
  Explanation attribute(const ExplainRequest& request, const ProgressFn& progress = {}) override;
  std::vector<Explanation> kappa_sweep(const ExplainRequest& request,
                                       const std::vector<double>& kappas,
                                       const ProgressFn& progress = {}) override;
  std::vector<NeighbourFactor> neighbours(const ExplainRequest& request, int index, double kappa);
  // Frees the server's AtMan caches (of every model it has loaded).
  void clear_cache();

 private:
  std::shared_ptr<Client> client_;
  std::string method_;
  MethodOptions options_;
};

}  // namespace atman::remote
