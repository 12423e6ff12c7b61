// The `atman eval` side of sharded runs (app/cli/eval_shards.h) without MPI: --shard parsing, the
// GPU a rank takes, the options a shard gets, and the refusal of an MPI launch by a build without
// MPI (app/cli/mpi_shards_off.cpp). The runs themselves: eval_shards_cli and eval_mpi.
#include <QtTest>

#include <cstdlib>

#include "atman/error.h"
#include "eval_shards.h"

using namespace atman;
using namespace atman::cli;

namespace {

Args make_args(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  return Args(static_cast<int>(argv.size()), argv.data(), 0, with_eval_shard_options({}), {});
}

}  // namespace

class TestEvalShardArgs : public QObject {
  Q_OBJECT

 private slots:
  void shardParses() {
    QCOMPARE(parse_shard("0/1"), std::make_pair(0, 1));
    QCOMPARE(parse_shard("3/8"), std::make_pair(3, 8));
    for (const char* bad : {"4/4", "-1/2", "1/0", "a/b", "1/2x", "12", "/2", "1/"})
      QVERIFY_THROWS_EXCEPTION(InputError, parse_shard(bad));
  }

  void rankDevice() {
    QCOMPARE(rank_device("cuda", 3, ""), std::string("cuda:3"));
    // One GPU visible per rank (srun --gpus-per-task=1): cuda:0; several: counted among them.
    QCOMPARE(rank_device("cuda", 3, "5"), std::string("cuda:0"));
    QCOMPARE(rank_device("cuda", 3, "0,1"), std::string("cuda:1"));
    QCOMPARE(rank_device("cuda:2", 3, ""), std::string("cuda:2"));  // as given
    QCOMPARE(rank_device("cpu", 1, ""), std::string("cpu"));
  }

  void shardOptions() {
    EvalShards shards(make_args({"--shard", "1/3"}));
    QVERIFY(shards.root());
    QCOMPARE(shards.index(), 1);
    QCOMPARE(shards.count(), 3);
    QCOMPARE(shards.device("cuda"), std::string("cuda"));  // no MPI: no mapping
    eval::RunOptions options;
    shards.prepare(options, nlohmann::json::object(), true);
    QCOMPARE(options.shard, 1);
    QCOMPARE(options.shards, 3);
    QVERIFY(!options.on_result);  // no --results
    EvalShards hook(make_args({"--stop-after", "2"}));
    QVERIFY_THROWS_EXCEPTION(InputError, hook.prepare(options, nlohmann::json::object(), true));
  }

  void mpiLaunchWithoutMpiIsRefused() {
    QVERIFY(start_mpi() == nullptr);
    qputenv("OMPI_COMM_WORLD_SIZE", "2");
    try {
      start_mpi();
      QFAIL("an MPI launch of several processes was accepted without MPI");
    } catch (const InputError& e) {
      QVERIFY2(QString(e.what()).contains("--shard"), e.what());
    }
    qputenv("OMPI_COMM_WORLD_SIZE", "1");  // one process: runs as always
    QVERIFY(start_mpi() == nullptr);
    qunsetenv("OMPI_COMM_WORLD_SIZE");
  }
};

QTEST_GUILESS_MAIN(TestEvalShardArgs)
#include "test_eval_shard_args.moc"
