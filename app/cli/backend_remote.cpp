// --server HOST:PORT: explain and generate on an `atman serve` server (atman/remote.h).
#include <fstream>
#include <sstream>

#include "atman/error.h"
#include "atman/remote.h"
#include "backend.h"

namespace atman::cli {
namespace {

std::string read_text(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(std::string("--") + option + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// The token file's first line, without surrounding white space: what `atman serve --token-file`
// reads too.
std::string read_token_file(const std::string& path) {
  std::string token = read_text(path, "token-file");
  token = token.substr(0, token.find('\n'));
  const auto first = token.find_first_not_of(" \t\r");
  const auto last = token.find_last_not_of(" \t\r");
  return first == std::string::npos ? "" : token.substr(first, last - first + 1);
}

Backend open_remote_backend(const Args& args, const std::string& default_model) {
  remote::ConnectOptions options;
  options.address = args.get("server");
  if (args.has("token-file")) options.token = read_token_file(args.get("token-file"));
  if (args.has("ca")) options.ca_pem = read_text(args.get("ca"), "ca");
  if (args.has("pinned-cert"))
    options.pinned_cert_pem = read_text(args.get("pinned-cert"), "pinned-cert");
  options.tls_server_name = args.get("tls-server-name");
  auto client = remote::Client::connect(options);
  LoadOptions load;
  load.device = args.get("device", "cpu");
  load.dtype = args.get("dtype", "auto");
  Backend backend;
  backend.model = client
                      ->load_model(default_model.empty() ? args.required("model")
                                                         : args.get("model", default_model),
                                   load)
                      .model;
  backend.make_explainer = [client](const std::string& method, const MethodOptions& options) {
    return std::unique_ptr<Explainer>(client->make_explainer(method, options));
  };
  const std::shared_ptr<const Model> model = backend.model;
  backend.generate = [client, model](const std::string& prompt, int max_new, const RgbImage* image,
                                     const std::vector<SteeringFactor>& steering,
                                     SuppressionVariant variant) {
    return client->generate(*model, prompt, max_new, image, steering, variant);
  };
  backend.input_layout = [client, model](const std::string& prompt, const RgbImage* image) {
    return client->input_layout(*model, prompt, image);
  };
  return backend;
}

}  // namespace atman::cli
