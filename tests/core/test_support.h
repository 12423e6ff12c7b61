// Helpers shared by the core tests: paths into ../shared, JSON loading, tolerance checks that
// print the largest deviation (parity tests report how close they are, not just pass/fail).
#pragma once

#include <QProcess>
#include <QtTest/QtTest>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// The sanitizer stage of scripts/test.sh hunts memory errors and undefined behaviour. Checks of
// model quality over dozens of items run the same code as the small cases, only many more times,
// mostly inside uninstrumented LibTorch: they run in the Release stage only.
#if defined(ATMAN_SANITIZED)
#define ATMAN_RELEASE_STAGE_ONLY() QSKIP("a statistical check over many items: Release stage only")
#else
#define ATMAN_RELEASE_STAGE_ONLY() static_cast<void>(0)
#endif

namespace atman {
class Model;
}

namespace atman::test {

inline std::filesystem::path shared_dir() {
  return ATMAN_SHARED_DIR;
}
inline std::filesystem::path golden_dir() {
  return shared_dir() / "golden";
}
inline std::filesystem::path models_dir() {
  return shared_dir() / "models";
}

// The bundled model `name` of models_dir(), loaded on first use and then shared by every test of
// the executable: loading dominates the run time of the tests that use the bundled models.
// Defined in test_support.cpp (library atman_test_support).
std::shared_ptr<const Model> shared_model(const std::string& name);

// Runs `fn`, which must throw E; returns its message, or says what happened instead (so a QCOMPARE
// against the expected message shows it).
template <typename E>
QString error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return QString::fromStdString(e.what());
  } catch (const std::exception& e) {
    return "WRONG EXCEPTION TYPE: " + QString::fromStdString(e.what());
  }
  return "NO EXCEPTION";
}

// One run of a command-line program (the `atman` CLI) for a test: whether it finished in time and
// exited 0, and everything it printed, for the failure message.
struct CliRun {
  bool ok = false;
  QString output;  // standard output, then standard error
};
inline CliRun run_cli(const QString& program, const QStringList& arguments,
                      int timeout_ms = 120000) {
  QProcess process;
  process.start(program, arguments);
  const bool finished = process.waitForFinished(timeout_ms);
  CliRun run;
  run.output = process.readAllStandardOutput() + process.readAllStandardError();
  if (!finished)
    run.output += QStringLiteral("\n(did not finish in time: ") + process.errorString() + ")";
  run.ok = finished && process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
  return run;
}

// An entry of tokenizer.json's "added_tokens" (not normalised, matched as a whole).
inline nlohmann::json added_token(int id, const std::string& content, bool special = true) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// tokenizer.json of a byte-level BPE as Qwen2, Llama 3 and SmolLM write it: the ByteLevel
// pre-tokenizer (with its regex), post-processor and decoder around a BPE model of `vocab` and
// `merges`, with `added_tokens`.
inline nlohmann::json byte_level_bpe_tokenizer(const nlohmann::json& vocab,
                                               const nlohmann::json& added_tokens,
                                               const nlohmann::json& merges) {
  const nlohmann::json byte_level = {{"type", "ByteLevel"},
                                     {"add_prefix_space", false},
                                     {"trim_offsets", false},
                                     {"use_regex", true}};
  return {{"version", "1.0"},
          {"added_tokens", added_tokens},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) qFatal("cannot open %s", path.string().c_str());
  return nlohmann::json::parse(in);
}

// Largest |got - want| - tol(want) over the vectors, where tol = abs_tol + rel_tol*|want|; prints
// the max absolute deviation under `what`. Returns true when every element is within tolerance.
inline bool all_close(const std::vector<double>& got, const std::vector<double>& want,
                      double abs_tol, double rel_tol, const std::string& what) {
  if (got.size() != want.size()) {
    qWarning("%s: size %zu vs %zu", what.c_str(), got.size(), want.size());
    return false;
  }
  double max_dev = 0, worst_excess = -1e300;
  size_t worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double dev = std::abs(got[i] - want[i]);
    double excess = dev - (abs_tol + rel_tol * std::abs(want[i]));
    max_dev = std::max(max_dev, dev);
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  qInfo("%s: max |diff| = %.3g over %zu values", what.c_str(), max_dev, got.size());
  if (worst_excess > 0 || std::isnan(max_dev))
    qWarning("%s: element %zu is %.9g, reference %.9g", what.c_str(), worst, got[worst],
             want[worst]);
  return worst_excess <= 0 && !std::isnan(max_dev);
}

template <typename T>
std::vector<double> as_doubles(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

inline std::vector<double> json_doubles(const nlohmann::json& j) {
  return j.get<std::vector<double>>();
}

}  // namespace atman::test
