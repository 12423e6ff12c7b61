// Resumable evaluation runs: a results file of JSON lines, one per finished (item, method), written
// as each finishes, so that a process that dies loses only the items it had not finished and a
// rerun with the same file skips the finished ones (docs/cluster.md).
//
//   {"atman_eval_results":1,"config":{...}}      the header: what the run computes
//   {"item":0,"key":"000","method":"atman_single","precision":0.41,...}   eval::to_json_line()
//
// The configuration is whatever decides the scores (model, data, methods, κ, steps, ...; the
// caller's choice, `atman eval` writes it): a file written under another configuration is refused,
// never mixed in. Several processes of one run (shards, MPI ranks) each append to their own file,
// results_part_path(), and read everybody's.
//
//   atman::eval::ResultsLog log(atman::eval::results_part_path("out.jsonl", rank),
//                               atman::eval::results_files("out.jsonl"), config);
//   options.finished = log.finished();
//   options.on_result = [&](const atman::eval::ItemResult& r) { log.append(r); };
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include "atman/eval.h"

namespace atman::eval {

// The file shard or rank `part` of a run appends to: "out.jsonl" -> "out.rank<part>.jsonl"; a
// negative part = the file itself (an unsharded run).
std::filesystem::path results_part_path(const std::filesystem::path& base, int part);
// The files of a run that exist: `base` and every "out.rank<N>.jsonl" beside it.
std::vector<std::filesystem::path> results_files(const std::filesystem::path& base);

class ResultsLog {
 public:
  // Reads the finished results of every file in `read` (missing files are skipped), then opens
  // `write` for appending, writing the header when it is new. InputError when a file is no results
  // file or its header holds another configuration (naming the fields that differ). A last line cut
  // off by a process killed while writing it is dropped (from `write` also on disk, so that the
  // next line starts on a line of its own).
  ResultsLog(const std::filesystem::path& write, const std::vector<std::filesystem::path>& read,
             const nlohmann::json& config);

  // Finished results of all files read, each (item, method) once.
  const std::vector<ItemResult>& finished() const { return finished_; }
  // Appends one result and flushes it to the operating system.
  void append(const ItemResult& result);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
  std::vector<ItemResult> finished_;
};

}  // namespace atman::eval
