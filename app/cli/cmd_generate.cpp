#include <iostream>
#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/inference.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {

int run_generate(int argc, char** argv) {
  Args args(argc, argv, 2, common_options({"model", "image", "prompt", "max-new-tokens"}), {});
  apply_common(args);
  auto model = load_model_arg(args);
  std::optional<PixelTensor> pixels;
  if (args.has("image"))
    pixels = preprocess_clip(load_image(args.get("image")), model->preprocess_config());
  Generation g = generate(*model, args.required("prompt"), args.integer("max-new-tokens", 32),
                          pixels ? &*pixels : nullptr);
  if (args.has("json")) {
    emit_json(args, nlohmann::json{{"ids", g.ids}, {"tokens", g.tokens}, {"text", g.text}}.dump());
  } else {
    std::cout << g.text << "\n";
  }
  return 0;
}

}  // namespace atman::cli
