// Where explain and generate run: in this process, or on an `atman serve` server (--server
// HOST:PORT, docs/remote.md). Both give the same results, so the commands do not care which.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "atman/explainer.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "atman/registry.h"
#include "cli_args.h"

namespace atman::cli {

struct Backend {
  std::shared_ptr<const Model> model;  // --model (a view of the server's model with --server)
  std::function<std::unique_ptr<Explainer>(const std::string& method, const MethodOptions&)>
      make_explainer;
  // atman/inference.h's generate, with the image before preprocessing.
  std::function<Generation(const std::string& prompt, int max_new_tokens, const RgbImage* image,
                           const std::vector<SteeringFactor>& steering, SuppressionVariant)>
      generate;
  // The image (may be null) counts Qwen2.5-VL's and anyres LLaVA's image tokens.
  std::function<std::vector<InputPosition>(const std::string& prompt, const RgbImage* image)>
      input_layout;
};

// The options a command that can run remotely adds to its own.
std::vector<std::string> server_options(std::vector<std::string> own);

// Loads --model locally, or on --server (with --token-file, --ca / --pinned-cert,
// --tls-server-name).
Backend open_backend(const Args& args);

// The remote half of open_backend (backend_remote.cpp): the model is --model, else
// `default_model`, a name on the server. Without ATMAN_WITH_SERVER an InputError saying this atman
// was built without it.
Backend open_remote_backend(const Args& args, const std::string& default_model = "");

// A token file's first line without surrounding white space (--token-file of the client and of
// `atman serve`). ATMAN_WITH_SERVER only.
std::string read_token_file(const std::string& path);

}  // namespace atman::cli
