#include "backend.h"

#include <optional>

#include "atman/error.h"
#include "common.h"

namespace atman::cli {

std::vector<std::string> server_options(std::vector<std::string> own) {
  for (const char* name : {"server", "token-file", "ca", "pinned-cert", "tls-server-name"})
    own.push_back(name);
  return own;
}

Backend open_backend(const Args& args) {
  if (args.has("server")) return open_remote_backend(args);
  Backend backend;
  backend.model = load_model_arg(args);
  backend.make_explainer = [](const std::string& method, const MethodOptions& options) {
    return create_explainer(method, options);
  };
  const Model& model = *backend.model;
  backend.generate = [&model](const std::string& prompt, int max_new, const RgbImage* image,
                              const std::vector<SteeringFactor>& steering,
                              SuppressionVariant variant) {
    std::optional<PixelTensor> pixels;
    if (image) pixels = model.preprocess(*image);
    return generate(model, prompt, max_new, pixels ? &*pixels : nullptr, steering, variant);
  };
  backend.input_layout = [&model](const std::string& prompt, const RgbImage* image) {
    std::optional<PixelTensor> shape;  // the layout reads the input's size, not its values
    if (image && model.reads_images()) shape = model.input_shape(image->width, image->height);
    return input_layout(model, prompt, shape ? &*shape : nullptr);
  };
  return backend;
}

#ifndef ATMAN_WITH_SERVER
Backend open_remote_backend(const Args&, const std::string&) {
  throw InputError(
      "--server: this atman was built without the remote client (configure with gRPC installed, "
      "ATMAN_WITH_SERVER=ON)");
}
#endif

}  // namespace atman::cli
