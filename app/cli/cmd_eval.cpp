// `atman eval shapes|facts|coco|squad`: explains every item of an evaluation set with each method
// (AtMan single / correlated and any registered explainer) and prints mean precision / recall,
// their interquartile means, the pointing game and the deletion / insertion AUCs as a Markdown
// table; --json and --csv write the same numbers.
#include <fstream>
#include <iostream>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/runtime.h"
#include "commands.h"
#include "common.h"
#include "eval_shards.h"

namespace atman::cli {
namespace {

constexpr const char* kUsage =
    "usage: atman eval shapes|facts|coco|squad --model DIR --data PATH [--limit N] "
    "[--methods atman_single,atman_correlated,...] [--kappa K] [--faithfulness-steps S (0 = off)] "
    "[--max-context-tokens T] [--prompt TEXT] [--batch-size N] [--adaptive] [--adaptive-threshold "
    "T] [--adaptive-group K] [--json OUT] [--csv OUT] [--quiet] [--results FILE.jsonl] [--shard "
    "I/N]";

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) throw InputError("cannot write " + path);
  out << text;
  if (!out) throw InputError("cannot write " + path);
}

}  // namespace

int run_eval(int argc, char** argv) {
  Args args(
      argc, argv, 2,
      common_options(with_eval_shard_options(
          {"model", "data", "limit", "methods", "kappa", "batch-size", "csv", "faithfulness-steps",
           "max-context-tokens", "prompt", "adaptive-threshold", "adaptive-group", "server"})),
      {"quiet", "adaptive"});
  apply_common(args);
  // The runner reads the data and scores deletion / insertion curves with the weights in this
  // process; a remote run would need both on the server (docs/remote.md says what to do instead).
  if (args.has("server"))
    throw InputError(
        "eval --server is not supported: an evaluation reads its data set and runs the model's "
        "faithfulness curves where the weights are; run `atman eval` on the server machine");
  EvalShards shards(args);  // MPI ranks or --shard, --results (docs/cluster.md)
  if (args.positional().size() != 1) throw InputError(kUsage);
  const std::string set = args.positional()[0];
  if (set != "shapes" && set != "facts" && set != "coco" && set != "squad")
    throw InputError("unknown evaluation set '" + set + "'; " + kUsage);
  const int limit = args.integer("limit", 0);
  if (limit < 0) throw InputError("--limit must be >= 0 (0 = all items)");
  const double kappa = args.number("kappa", 0.7);
  const auto methods =
      eval::parse_methods(args.get("methods", "atman_single,atman_correlated"), kappa);

  LoadOptions load;
  load.device = shards.device(args.get("device", "cpu"));
  load.dtype = args.get("dtype", "auto");
  const bool text = set == "facts" || set == "squad";
  if (!args.has("model") && (set == "coco" || set == "squad"))
    throw InputError(
        "give --model: coco needs a CLIP model, squad a causal LM (the bundled "
        "shapes-clip / facts-gpt2 only check the plumbing)");
  auto model =
      Model::load(resolve_model_dir(args.get("model", text ? "facts-gpt2" : "shapes-clip")), load);
  // Default data: next to the bundled models (../shared/data).
  const std::filesystem::path data_root = model_root().parent_path() / "data";
  std::filesystem::path data = args.get("data", "");
  if (data.empty()) {
    data = set == "shapes"  ? data_root / "shapes-eval"
           : set == "facts" ? data_root / "facts-eval"
           : set == "coco"  ? data_root / "coco128"
                            : data_root / "squad";
  }
  if (set == "facts" && std::filesystem::is_directory(data)) data /= "facts-eval.jsonl";
  if (set == "squad" && std::filesystem::is_directory(data)) data /= "dev-v1.1.json";

  eval::RunOptions options;
  options.batch_size = args.integer("batch-size", 0);
  options.adaptive =
      args.has("adaptive") || args.has("adaptive-threshold") || args.has("adaptive-group");
  options.adaptive_threshold = args.number("adaptive-threshold", 0.01);
  options.adaptive_group = args.integer("adaptive-group", 4);
  options.faithfulness_steps = args.integer("faithfulness-steps", 20);
  options.llava_prompt = args.get("prompt", "");
  const bool quiet = args.has("quiet") || !shards.root();
  options.progress = [&](int done, int total, const std::string& method) {
    if (!quiet) std::cerr << "\r" << method << ": " << done << "/" << total << std::flush;
    if (!quiet && done == total) std::cerr << "\n";
    return true;
  };
  shards.prepare(options, eval_config(args, set, *model, data, methods, options), quiet);
  auto need_items = [&](size_t count) {
    if (count == 0) throw InputError("no items in " + data.string());
  };
  eval::Report report;
  if (set == "shapes") {
    auto items = eval::load_shapes_eval(data, limit);
    need_items(items.size());
    report = eval::evaluate_shapes(model, items, methods, options);
  } else if (set == "facts") {
    auto items = eval::load_facts_eval(data, limit);
    need_items(items.size());
    report = eval::evaluate_facts(model, items, methods, options);
  } else if (set == "coco") {
    auto coco = eval::load_coco(data, limit);
    need_items(coco.items.size());
    report = eval::evaluate_coco(model, coco, methods, options);
  } else {
    const int max_tokens = args.integer("max-context-tokens", 0);
    // --limit counts the questions evaluated, i.e. those that fit.
    auto selection = eval::select_fitting(*model, eval::load_squad(data), max_tokens, limit);
    if (!quiet)
      std::cerr << selection.items.size() << " questions fit " << model->name() << "'s context"
                << (max_tokens > 0 ? " and --max-context-tokens " + std::to_string(max_tokens) : "")
                << "; " << selection.skipped << " skipped as too long\n";
    if (selection.items.empty())
      throw InputError("no SQuAD question fits the model's context of " +
                       std::to_string(model->max_text_tokens()) + " tokens");
    report = eval::evaluate_squad(model, selection.items, methods, options);
    report.skipped = selection.skipped;
  }
  auto all = shards.gather(report);
  if (!all) return 0;  // another rank prints the report
  report = std::move(*all);
  std::cout << eval::to_markdown(report);
  if (args.has("json")) emit_json(args, eval::to_json(report));
  if (args.has("csv")) write_file(args.get("csv"), eval::to_csv(report));
  return 0;
}

}  // namespace atman::cli
