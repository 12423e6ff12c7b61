#include "eval_shards.h"

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "atman/error.h"

namespace atman::cli {

std::vector<std::string> with_eval_shard_options(std::vector<std::string> own) {
  for (const char* name : {"results", "shard", "stop-after"}) own.push_back(name);
  return own;
}

std::pair<int, int> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used_i = 0, used_n = 0;
    const int i = std::stoi(text.substr(0, slash), &used_i);
    const int n = std::stoi(text.substr(slash + 1), &used_n);
    if (used_i != slash || used_n != text.size() - slash - 1 || n < 1 || i < 0 || i >= n)
      throw std::invalid_argument("out of range");
    return {i, n};
  } catch (const std::exception&) {
    throw InputError("--shard expects I/N with 0 <= I < N (e.g. 0/4 for the first of four), got '" +
                     text + "'");
  }
}

std::string rank_device(const std::string& requested, int local_rank,
                        const std::string& visible_devices) {
  if (requested != "cuda") return requested;
  int visible = 0;
  if (!visible_devices.empty()) {
    visible = 1;
    for (char c : visible_devices) visible += c == ',';
  }
  // A launcher that gives each rank its own GPU (srun --gpus-per-task=1) leaves one visible:
  // cuda:0.
  return "cuda:" + std::to_string(visible > 0 ? local_rank % visible : local_rank);
}

nlohmann::json eval_config(const Args& args, const std::string& set, const Model& model,
                           const std::filesystem::path& data,
                           const std::vector<eval::Method>& methods,
                           const eval::RunOptions& options) {
  nlohmann::json method_list = nlohmann::json::array();
  for (const auto& m : methods)
    method_list.push_back(
        {{"name", m.name}, {"kappa", m.mode == SuppressionMode::Correlated ? m.kappa : 0.0}});
  const std::string device = args.get("device", "cpu");
  return {{"set", set},
          {"model", std::filesystem::weakly_canonical(model.dir()).string()},
          {"data", std::filesystem::weakly_canonical(data).string()},
          {"methods", method_list},
          {"faithfulness_steps", options.faithfulness_steps},
          {"batch_size", options.batch_size},
          {"adaptive", options.adaptive},
          {"adaptive_threshold", options.adaptive ? options.adaptive_threshold : 0.0},
          {"adaptive_group", options.adaptive ? options.adaptive_group : 0},
          {"prompt", options.llava_prompt},
          {"max_context_tokens", args.integer("max-context-tokens", 0)},
          {"device", device.substr(0, device.find(':'))},
          {"dtype", args.get("dtype", "auto")}};
}

EvalShards::EvalShards(const Args& args) : mpi_(start_mpi()) {
  if (mpi_) {
    if (args.has("shard"))
      throw InputError(
          "--shard splits a run over separate processes; under mpirun / srun the MPI ranks are "
          "the shards: leave --shard out");
    index_ = mpi_->rank();
    count_ = mpi_->size();
  } else if (args.has("shard")) {
    std::tie(index_, count_) = parse_shard(args.get("shard"));
  }
  results_ = args.get("results", "");
  stop_after_ = args.integer("stop-after", 0);
  if (stop_after_ < 0) throw InputError("--stop-after must be >= 0");
}

std::string EvalShards::device(const std::string& requested) const {
  if (!mpi_) return requested;
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  return rank_device(requested, mpi_->local_rank(), visible ? visible : "");
}

void EvalShards::prepare(eval::RunOptions& options, const nlohmann::json& config, bool quiet) {
  options.shard = index_;
  options.shards = count_;
  if (results_.empty()) {
    if (stop_after_ > 0) throw InputError("--stop-after is a test hook of --results; give both");
    return;
  }
  const bool sharded = mpi_ || count_ > 1;
  const std::filesystem::path own = eval::results_part_path(results_, sharded ? index_ : -1);
  const auto files = eval::results_files(results_);
  log_ = std::make_unique<eval::ResultsLog>(own, files, config);
  // Every rank has read the files before any appends, so none reads a line being written.
  if (mpi_) mpi_->barrier();
  options.finished = log_->finished();
  if (!quiet && root() && !options.finished.empty())
    std::cerr << "resuming: " << options.finished.size() << " results already finished in "
              << files.size() << " file(s) of " << results_.string() << "\n";
  options.on_result = [this](const eval::ItemResult& result) {
    log_->append(result);
    if (stop_after_ > 0 && ++appended_ == stop_after_) {
      std::cerr << "atman: --stop-after " << stop_after_ << ": exiting as if killed (test hook)\n";
      std::_Exit(3);
    }
  };
}

std::optional<eval::Report> EvalShards::gather(const eval::Report& mine) {
  if (!mpi_) return mine;
  std::string text;
  for (const auto& r : mine.items) text += eval::to_json_line(r) + '\n';
  const std::vector<std::string> texts = mpi_->gather(text);
  if (!root()) return std::nullopt;
  std::vector<eval::ItemResult> all;
  for (const auto& t : texts) {
    std::istringstream lines(t);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) all.push_back(eval::item_result_from_json(line));
  }
  return eval::assemble_report(mine, std::move(all));
}

}  // namespace atman::cli
