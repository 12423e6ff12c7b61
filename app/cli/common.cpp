#include "common.h"

#include "atman/runtime.h"

namespace atman::cli {

std::vector<std::string> common_options(std::vector<std::string> own) {
  for (const char* name : {"models-dir", "threads", "device", "json"}) own.push_back(name);
  return own;
}

void apply_common(const Args& args) {
  if (args.has("models-dir")) set_model_root(args.get("models-dir"));
  set_compute_threads(args.integer("threads", 0));
}

std::shared_ptr<const Model> load_model_arg(const Args& args) {
  LoadOptions options;
  options.device = args.get("device", "cpu");
  return Model::load(resolve_model_dir(args.required("model")), options);
}

}  // namespace atman::cli
