#include <nlohmann/json.hpp>

#include "atman/runtime.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {

int run_tokenize(int argc, char** argv) {
  Args args(argc, argv, 2, common_options({"model", "text"}), {});
  apply_common(args);
  auto tokenizer = load_tokenizer(resolve_model_dir(args.required("model")));
  Encoding enc = tokenizer->encode(args.required("text"));
  nlohmann::json spans = nlohmann::json::array();
  for (auto [begin, end] : enc.spans) spans.push_back({begin, end});
  nlohmann::json out = {{"ids", enc.ids}, {"tokens", enc.tokens}, {"spans", spans}};
  emit_json(args, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

}  // namespace atman::cli
