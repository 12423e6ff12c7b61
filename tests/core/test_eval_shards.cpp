// Sharded and resumable evaluation runs (atman/eval.h, atman/eval_results.h): per-item results
// round-trip through their JSON lines bit for bit; shards of a run, assembled, give exactly the
// report of the whole run (every per-item score and every summary, only the seconds differ); a
// results file is resumed without recomputing what it holds, refuses another configuration and
// drops a line cut off by a killed process. The same through `atman eval` and mpirun:
// eval_shards_cli and eval_mpi (eval_mpi_test.sh).
#include <QTemporaryDir>

#include <cmath>
#include <fstream>
#include <limits>

#include "atman/error.h"
#include "atman/eval.h"
#include "atman/eval_results.h"
#include "core/test_support.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

bool same_score(const eval::ItemScore& a, const eval::ItemScore& b) {
  return a.precision == b.precision && a.recall == b.recall && a.hit == b.hit &&
         a.chance == b.chance && a.deletion_auc == b.deletion_auc &&
         a.insertion_auc == b.insertion_auc;
}

// Equal item for item and in every summary; the seconds are wall-clock and may differ.
void check_same_report(const eval::Report& a, const eval::Report& b) {
  QCOMPARE(a.dataset, b.dataset);
  QCOMPARE(a.model, b.model);
  QCOMPARE(a.n, b.n);
  QCOMPARE(a.chance, b.chance);
  QCOMPARE(a.faithfulness_steps, b.faithfulness_steps);
  QCOMPARE(a.items.size(), b.items.size());
  for (size_t i = 0; i < a.items.size(); ++i) {
    QCOMPARE(a.items[i].item, b.items[i].item);
    QCOMPARE(a.items[i].key, b.items[i].key);
    QCOMPARE(a.items[i].method, b.items[i].method);
    QVERIFY(same_score(a.items[i].score, b.items[i].score));
    QCOMPARE(a.items[i].forwards, b.items[i].forwards);
  }
  QCOMPARE(a.methods.size(), b.methods.size());
  for (size_t m = 0; m < a.methods.size(); ++m) {
    const auto &x = a.methods[m], &y = b.methods[m];
    QCOMPARE(x.name, y.name);
    QCOMPARE(x.kappa, y.kappa);
    QCOMPARE(x.n, y.n);
    for (auto [u, v] : {std::pair{x.mAP, y.mAP},
                        {x.mAR, y.mAR},
                        {x.mAP_iq, y.mAP_iq},
                        {x.mAR_iq, y.mAR_iq},
                        {x.pointing, y.pointing},
                        {x.deletion_auc, y.deletion_auc},
                        {x.insertion_auc, y.insertion_auc}})
      QCOMPARE(u, v);  // exact: the same numbers summed in the same order
    QCOMPARE(x.forwards, y.forwards);
    QCOMPARE(x.precision, y.precision);
    QCOMPARE(x.hits, y.hits);
  }
  // The CSV without its seconds column.
  auto strip_seconds = [](std::string csv) {
    std::string out;
    std::istringstream lines(csv);
    for (std::string line; std::getline(lines, line);) {
      const auto last = line.rfind(','), before = line.rfind(',', last - 1);
      out += line.substr(0, before) + line.substr(last) + "\n";
    }
    return out;
  };
  QCOMPARE(strip_seconds(eval::to_csv(a)), strip_seconds(eval::to_csv(b)));
}

std::vector<std::string> file_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

class TestEvalShards : public QObject {
  Q_OBJECT

  std::shared_ptr<const Model> model_;
  std::vector<eval::ShapesItem> items_;
  std::vector<eval::Method> methods_;
  eval::RunOptions options_;
  eval::Report full_;

 private slots:
  void initTestCase() {
    model_ = shared_model("shapes-clip");
    items_ = eval::load_shapes_eval(shared_dir() / "data/shapes-eval", 5);
    QCOMPARE(items_.size(), size_t(5));
    // The random reference (seeded per item index) and AtMan, with short faithfulness curves.
    methods_ = eval::parse_methods("random,atman_single");
    options_.faithfulness_steps = 2;
    full_ = eval::evaluate_shapes(model_, items_, methods_, options_);
    QCOMPARE(full_.items.size(), size_t(10));
  }

  void itemResultRoundTripsExactly() {
    eval::ItemResult r;
    r.item = 41;
    r.key = "041 \"quoted\" ü";
    r.method = "atman_correlated";
    r.score = {0.1 + 0.2, 1.0 / 3.0, true, std::nextafter(0.5, 1.0), 4.9e-324, 1e300};
    r.seconds = 12.345678901234567;
    r.forwards = int64_t(1) << 40;
    const std::string line = eval::to_json_line(r);
    QVERIFY(line.find('\n') == std::string::npos);
    const eval::ItemResult back = eval::item_result_from_json(line);
    QCOMPARE(back.item, r.item);
    QCOMPARE(back.key, r.key);
    QCOMPARE(back.method, r.method);
    QVERIFY(same_score(back.score, r.score));  // bit for bit, denormal included
    QCOMPARE(back.seconds, r.seconds);
    QCOMPARE(back.forwards, r.forwards);
    QVERIFY_THROWS_EXCEPTION(InputError, eval::item_result_from_json("{\"item\":1}"));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::item_result_from_json("{\"item\":1,"));
  }

  void fullRunCarriesItsItems() {
    // The summaries are the per-item results' means, in item order then method order.
    for (size_t i = 0; i < full_.items.size(); ++i) {
      QCOMPARE(full_.items[i].item, int(i / 2));
      QCOMPARE(full_.items[i].key, items_[i / 2].id);
      QCOMPARE(full_.items[i].method, methods_[i % 2].name);
      QCOMPARE(full_.methods[i % 2].precision[i / 2], full_.items[i].score.precision);
    }
    for (const auto& m : full_.methods) QCOMPARE(m.n, 5);
  }

  void shardsAssembleToTheFullRun() {
    // Three shards, assembled from their results in scrambled order.
    std::vector<eval::ItemResult> all;
    int covered = 0;
    for (int shard = 0; shard < 3; ++shard) {
      eval::RunOptions options = options_;
      options.shard = shard;
      options.shards = 3;
      const eval::Report part = eval::evaluate_shapes(model_, items_, methods_, options);
      QCOMPARE(part.n, shard < 2 ? 2 : 1);  // items {0, 3}, {1, 4}, {2}
      for (const auto& r : part.items) QCOMPARE(r.item % 3, shard);
      covered += part.n;
      all.insert(all.begin(), part.items.rbegin(), part.items.rend());
    }
    QCOMPARE(covered, 5);
    check_same_report(eval::assemble_report(full_, all), full_);
    // An explicit item list, and an out-of-range shard.
    eval::RunOptions some = options_;
    some.items = {4, 1};
    const eval::Report two = eval::evaluate_shapes(model_, items_, methods_, some);
    QCOMPARE(two.n, 2);
    QCOMPARE(two.items.front().item, 1);
    QCOMPARE(two.items.back().item, 4);
    some.shard = 2;
    some.shards = 2;
    QVERIFY_THROWS_EXCEPTION(InputError, eval::evaluate_shapes(model_, items_, methods_, some));
    // Incomplete: a method lacking an item the other has.
    std::vector<eval::ItemResult> partial(full_.items.begin(), full_.items.end() - 1);
    QVERIFY_THROWS_EXCEPTION(InputError, eval::assemble_report(full_, partial));
    std::vector<eval::ItemResult> foreign = {full_.items[0]};
    foreign[0].method = "chefer";
    QVERIFY_THROWS_EXCEPTION(InputError, eval::assemble_report(full_, foreign));
  }

  void resultsFileResumes() {
    QTemporaryDir dir;
    const fs::path base = fs::path(dir.path().toStdString()) / "out.jsonl";
    const nlohmann::json config = {{"model", "shapes-clip"}, {"steps", 2}};
    {
      // A first run appends only shard 0 of 2 (items 0, 2, 4), as a killed run would have left it.
      eval::ResultsLog log(base, eval::results_files(base), config);
      QVERIFY(log.finished().empty());
      eval::RunOptions options = options_;
      options.shards = 2;
      options.on_result = [&](const eval::ItemResult& r) { log.append(r); };
      eval::evaluate_shapes(model_, items_, methods_, options);
    }
    QCOMPARE(file_lines(base).size(), size_t(1 + 6));
    // A process killed while writing a line leaves it without its newline.
    { std::ofstream(base, std::ios::app) << "{\"item\":1,\"key\":\"001\",\"meth"; }

    eval::ResultsLog log(base, eval::results_files(base), config);
    QCOMPARE(log.finished().size(), size_t(6));
    for (const auto& r : log.finished()) QCOMPARE(r.item % 2, 0);
    eval::RunOptions options = options_;
    options.finished = log.finished();
    int computed = 0;
    options.on_result = [&](const eval::ItemResult& r) {
      QCOMPARE(r.item % 2, 1);  // only what the file lacks
      ++computed;
      log.append(r);
    };
    check_same_report(eval::evaluate_shapes(model_, items_, methods_, options), full_);
    QCOMPARE(computed, 4);
    // The cut-off line is gone and every line is a result: header + 10.
    const auto lines = file_lines(base);
    QCOMPARE(lines.size(), size_t(11));
    for (size_t i = 1; i < lines.size(); ++i) eval::item_result_from_json(lines[i]);

    // Another configuration is refused, naming what differs.
    try {
      eval::ResultsLog other(base, eval::results_files(base),
                             {{"model", "shapes-clip"}, {"steps", 3}});
      QFAIL("a results file of another configuration was accepted");
    } catch (const InputError& e) {
      QVERIFY2(QString(e.what()).contains("differs in: steps"), e.what());
    }
    // Results whose item key no longer matches the data.
    eval::RunOptions stale = options_;
    stale.finished = {full_.items[0]};
    stale.finished[0].key = "999";
    QVERIFY_THROWS_EXCEPTION(InputError, eval::evaluate_shapes(model_, items_, methods_, stale));
  }

  void rankFilesAreFoundBesideTheBase() {
    QTemporaryDir dir;
    const fs::path root = dir.path().toStdString();
    const fs::path base = root / "run.jsonl";
    QCOMPARE(eval::results_part_path(base, 3), root / "run.rank3.jsonl");
    QCOMPARE(eval::results_part_path(base, -1), base);
    QVERIFY(eval::results_files(base).empty());
    for (const char* name : {"run.rank0.jsonl", "run.rank12.jsonl", "run.rankx.jsonl",
                             "run.rank1.json", "other.rank1.jsonl"})
      std::ofstream(root / name) << "";
    QCOMPARE(eval::results_files(base),
             (std::vector<fs::path>{root / "run.rank0.jsonl", root / "run.rank12.jsonl"}));
    std::ofstream(base) << "";
    QCOMPARE(eval::results_files(base).size(), size_t(3));
    // Not a results file: refused rather than overwritten.
    std::ofstream(root / "run.rank0.jsonl") << "{\"something\":1}\n";
    QVERIFY_THROWS_EXCEPTION(InputError,
                             eval::ResultsLog(base, eval::results_files(base), nlohmann::json{}));
  }
};

QTEST_GUILESS_MAIN(TestEvalShards)
#include "test_eval_shards.moc"
