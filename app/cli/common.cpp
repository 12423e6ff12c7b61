#include "common.h"

#include <filesystem>

#include "atman/error.h"
#include "atman/prompt.h"
#include "atman/runtime.h"

namespace atman::cli {

std::vector<std::string> common_options(std::vector<std::string> own) {
  for (const char* name : {"models-dir", "threads", "device", "dtype", "json"}) own.push_back(name);
  return own;
}

void apply_common(const Args& args) {
  if (args.has("models-dir")) set_model_root(args.get("models-dir"));
  set_compute_threads(args.integer("threads", 0));
}

std::shared_ptr<const Model> load_model_arg(const Args& args) {
  LoadOptions options;
  options.device = args.get("device", "cpu");
  options.dtype = args.get("dtype", "auto");
  return Model::load(resolve_model_dir(args.required("model")), options);
}

std::string prompt_arg(const Args& args, const Model& model, bool with_image) {
  if (args.has("prompt") && args.has("question"))
    throw InputError(
        "give --prompt (the input text as it is) or --question (put into the model's "
        "prompt format), not both");
  if (args.has("prompt")) return args.get("prompt");
  if (args.has("question")) return default_prompt(model.dir(), args.get("question"), with_image);
  std::error_code ec;
  if (std::filesystem::is_regular_file(model.dir() / "prompt_format.json", ec))
    return default_prompt(model.dir(), "", with_image);
  if (find_chat_template(model.dir()))
    throw InputError(
        "give --question TEXT (put into this model's chat template) or --prompt TEXT "
        "(the input text as it is" +
        std::string(with_image ? ", with <image> where the image goes)" : ")"));
  throw InputError(
      "give --prompt TEXT: the model folder has no prompt_format.json or chat "
      "template to build the input from");
}

}  // namespace atman::cli
