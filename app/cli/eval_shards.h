// How `atman eval` spreads over processes and resumes (docs/cluster.md): the ranks of an MPI launch
// or --shard I/N, the --results file (per-item results appended as they finish, finished ones
// skipped on a rerun), and the assembly of all shards' results into one report on rank 0.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "atman/eval.h"
#include "atman/eval_results.h"
#include "atman/model.h"
#include "cli_args.h"
#include "mpi_shards.h"

namespace atman::cli {

// `own` and the options this adds to `atman eval`. --stop-after N is a test hook (docs/cluster.md):
// the process exits like a killed one after appending N new results.
std::vector<std::string> with_eval_shard_options(std::vector<std::string> own);

class EvalShards {
 public:
  // Starts MPI when an MPI launcher started this process; reads --shard, --results, --stop-after.
  explicit EvalShards(const Args& args);

  int index() const { return index_; }
  int count() const { return count_; }
  // The process that prints and writes the report: rank 0, or the only one.
  bool root() const { return !mpi_ || mpi_->rank() == 0; }

  // --device for this process: under MPI a bare "cuda" becomes cuda:<local rank>, counted among
  // the CUDA_VISIBLE_DEVICES when that lists the GPUs; anything else is kept as given.
  std::string device(const std::string& requested) const;

  // Sets the options' shard and, with --results, the finished results to skip and the appending of
  // new ones. `config` is what decides the scores (eval_config()).
  void prepare(eval::RunOptions& options, const nlohmann::json& config, bool quiet);

  // Rank 0 (or the only process): the report of every rank's results, as one process that ran
  // them all would have written it; other ranks: nullopt (they are done).
  std::optional<eval::Report> gather(const eval::Report& mine);

 private:
  std::unique_ptr<MpiRanks> mpi_;
  int index_ = 0, count_ = 1;
  std::filesystem::path results_;
  int stop_after_ = 0;
  int appended_ = 0;
  std::unique_ptr<eval::ResultsLog> log_;
};

// What decides the scores of an `atman eval` run, for the header of its results file: the set,
// the model folder, the data, the methods with κ, the run options and the device type (CPU and CUDA
// round differently). Not --limit (a longer run extends a shorter one), nor the CUDA index.
nlohmann::json eval_config(const Args& args, const std::string& set, const Model& model,
                           const std::filesystem::path& data,
                           const std::vector<eval::Method>& methods,
                           const eval::RunOptions& options);

// The device a rank with `local_rank` takes for `requested` (EvalShards::device());
// `visible_devices` = $CUDA_VISIBLE_DEVICES, empty when unset.
std::string rank_device(const std::string& requested, int local_rank,
                        const std::string& visible_devices);

// "I/N" -> {I, N}; InputError unless 0 <= I < N.
std::pair<int, int> parse_shard(const std::string& text);

}  // namespace atman::cli
