// `atman eval shapes|facts`: explains every item of an evaluation set with AtMan (single and/or
// correlated) and prints mean precision / recall, their interquartile means and the pointing game
// as a Markdown table; --json writes the same numbers.
#include <fstream>
#include <iostream>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/runtime.h"
#include "commands.h"
#include "common.h"

namespace atman::cli {

int run_eval(int argc, char** argv) {
  Args args(argc, argv, 2,
            common_options({"model", "data", "limit", "methods", "kappa", "batch-size"}),
            {"quiet"});
  apply_common(args);
  if (args.positional().size() != 1 ||
      (args.positional()[0] != "shapes" && args.positional()[0] != "facts"))
    throw InputError(
        "usage: atman eval shapes|facts --model DIR --data PATH [--limit N] "
        "[--methods atman_single,atman_correlated] [--kappa K] [--json OUT]");
  const bool shapes = args.positional()[0] == "shapes";
  const int limit = args.integer("limit", 0);
  if (limit < 0) throw InputError("--limit must be >= 0 (0 = all items)");
  const double kappa = args.number("kappa", 0.7);
  const auto methods =
      eval::parse_methods(args.get("methods", "atman_single,atman_correlated"), kappa);

  LoadOptions load;
  load.device = args.get("device", "cpu");
  auto model = Model::load(
      resolve_model_dir(args.get("model", shapes ? "shapes-clip" : "facts-gpt2")), load);
  // Default data: next to the bundled models (../shared/data).
  const std::filesystem::path data_root = model_root().parent_path() / "data";
  std::filesystem::path data = args.get("data", "");
  if (data.empty()) data = shapes ? data_root / "shapes-eval" : data_root / "facts-eval";
  if (!shapes && std::filesystem::is_directory(data)) data /= "facts-eval.jsonl";

  eval::RunOptions options;
  options.batch_size = args.integer("batch-size", 0);
  const bool quiet = args.has("quiet");
  options.progress = [&](int done, int total, const std::string& method) {
    if (!quiet) std::cerr << "\r" << method << ": " << done << "/" << total << std::flush;
    if (!quiet && done == total) std::cerr << "\n";
    return true;
  };
  eval::Report report;
  if (shapes) {
    auto items = eval::load_shapes_eval(data, limit);
    if (items.empty()) throw InputError("no items in " + data.string());
    report = eval::evaluate_shapes(model, items, methods, options);
  } else {
    auto items = eval::load_facts_eval(data, limit);
    if (items.empty()) throw InputError("no items in " + data.string());
    report = eval::evaluate_facts(model, items, methods, options);
  }
  std::cout << eval::to_markdown(report);
  if (args.has("json")) emit_json(args, eval::to_json(report));
  return 0;
}

}  // namespace atman::cli
