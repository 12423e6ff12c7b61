// Safetensors reading/writing and Checkpoint: round trips, the shared models, sharded indexes, and
// every kind of malformed file ending in a ModelError that names the file and the problem.
#include <ATen/ATen.h>

#include <QtTest/QtTest>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

#include "atman/error.h"
#include "core/test_support.h"
#include "io/safetensors.h"

using namespace atman;
using namespace atman::test;

namespace {

std::filesystem::path path_of(const QTemporaryDir& dir, const char* name) {
  return std::filesystem::path(dir.path().toStdString()) / name;
}

void write_file(const std::filesystem::path& path, const QByteArray& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.constData(), bytes.size());
  QVERIFY(out.good());
}

QByteArray read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return QByteArray::fromStdString(
      std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()});
}

QByteArray le64(uint64_t value) {
  QByteArray out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((value >> (8 * i)) & 0xff);
  return out;
}

// A safetensors file with the given header text and `data_bytes` bytes of data.
QByteArray raw_file(const QByteArray& header, int data_bytes) {
  return le64(uint64_t(header.size())) + header + QByteArray(data_bytes, '\0');
}

bool equal_exactly(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && at::equal(a, b);
}

}  // namespace

Q_DECLARE_METATYPE(at::ScalarType)

class TestSafetensors : public QObject {
  Q_OBJECT

 private slots:
  void round_trip_data();
  void round_trip();
  void metadata_and_determinism();
  void unaligned_data_section();
  void zero_sized_and_scalar_tensors();
  void load_dtype_rules();
  void move_keeps_mapping();
  void shared_models_data();
  void shared_models();
  void shared_model_load_time();
  void sharded_index_round_trip();
  void malformed_files_data();
  void malformed_files();
  void missing_tensor_suggests_names();
  void wrong_shape();
  void non_finite_weights_data();
  void non_finite_weights();
  void huge_finite_weights_pass_data();
  void huge_finite_weights_pass();
  void missing_model_files();
  void bad_index_data();
  void bad_index();
};

void TestSafetensors::round_trip_data() {
  QTest::addColumn<at::ScalarType>("dtype");
  QTest::addColumn<QString>("stored");
  QTest::newRow("F32") << at::kFloat << "F32";
  QTest::newRow("F16") << at::kHalf << "F16";
  QTest::newRow("BF16") << at::kBFloat16 << "BF16";
  QTest::newRow("F64") << at::kDouble << "F64";
  QTest::newRow("I64") << at::kLong << "I64";
  QTest::newRow("I32") << at::kInt << "I32";
  QTest::newRow("I8") << at::kChar << "I8";
  QTest::newRow("U8") << at::kByte << "U8";
}

void TestSafetensors::round_trip() {
  QFETCH(at::ScalarType, dtype);
  QFETCH(QString, stored);
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  // Multiples of 1/4 in [-3, 3] are exact in every floating type, so comparisons are exact.
  at::Tensor base = at::arange(24, at::kFloat).reshape({2, 3, 4});
  at::Tensor values = at::isFloatingType(dtype) ? (base * 0.25 - 3).to(dtype) : base.to(dtype);
  at::Tensor other = at::ones({5}, at::kFloat).to(dtype);
  const auto path = path_of(dir, "t.safetensors");
  write_safetensors(path, {{"values", values}, {"a.other", other}});

  SafetensorsFile file(path);
  QCOMPARE(file.tensors().size(), size_t(2));
  const TensorInfo* info = file.find("values");
  QVERIFY(info);
  QCOMPARE(info->name, std::string("values"));
  QVERIFY(info->shape == std::vector<int64_t>({2, 3, 4}));
  QCOMPARE(info->end - info->begin, uint64_t(values.nbytes()));
  QVERIFY(file.find("nope") == nullptr);

  QVERIFY(equal_exactly(file.load("values", dtype), values));
  QVERIFY(equal_exactly(file.load("a.other", dtype), other));
  QVERIFY(equal_exactly(file.load("values", at::kFloat), values.to(at::kFloat)));
  Q_UNUSED(stored);
}

void TestSafetensors::metadata_and_determinism() {
  QTemporaryDir dir;
  std::map<std::string, at::Tensor> tensors{{"b", at::randn({3, 5})}, {"a", at::randn({7})}};
  std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "x"}};
  const auto first = path_of(dir, "1.safetensors");
  const auto second = path_of(dir, "2.safetensors");
  write_safetensors(first, tensors, metadata);
  write_safetensors(second, tensors, metadata);
  const QByteArray bytes = read_file(first);
  QCOMPARE(bytes, read_file(second));

  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | uint8_t(bytes[i]);
  QCOMPARE(header_size % 8, uint64_t(0));
  // Sorted names: "a" is stored first.
  const QByteArray header = bytes.mid(8, int(header_size));
  QVERIFY(header.indexOf("\"a\"") < header.indexOf("\"b\""));

  SafetensorsFile file(first);
  QVERIFY(file.metadata() == metadata);
  QVERIFY(file.find("a")->begin == 0);
  QVERIFY(equal_exactly(file.load("b"), tensors["b"]));
  // No temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(dir.path().toStdString()))
    ++entries;
  QCOMPARE(entries, 2);
}

void TestSafetensors::unaligned_data_section() {
  // A 3-byte-off header puts the data at an odd offset; loading must still give the right floats.
  QTemporaryDir dir;
  const QByteArray header = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  QVERIFY((8 + header.size()) % 4 != 0);
  const float values[3] = {1.5f, -2.25f, 1e-3f};
  QByteArray bytes = le64(header.size()) + header +
                     QByteArray(reinterpret_cast<const char*>(values), sizeof(values));
  const auto path = path_of(dir, "u.safetensors");
  write_file(path, bytes);
  SafetensorsFile file(path);
  at::Tensor x = file.load("x");
  QCOMPARE(x.size(0), int64_t(3));
  QCOMPARE(x[0].item<float>(), 1.5f);
  QCOMPARE(x[1].item<float>(), -2.25f);
  QCOMPARE(x[2].item<float>(), 1e-3f);
}

void TestSafetensors::zero_sized_and_scalar_tensors() {
  QTemporaryDir dir;
  const auto path = path_of(dir, "z.safetensors");
  write_safetensors(path, {{"empty", at::zeros({0, 4})},
                           {"scalar", at::full({}, 2.5, at::kFloat)},
                           {"flags", at::tensor({1, 0, 1}).to(at::kBool)}});
  SafetensorsFile file(path);
  QCOMPARE(file.load("empty").numel(), int64_t(0));
  QCOMPARE(file.load("scalar").dim(), int64_t(0));
  QCOMPARE(file.load("scalar").item<float>(), 2.5f);
  QVERIFY(equal_exactly(file.load("flags", at::kBool), at::tensor({1, 0, 1}).to(at::kBool)));
}

void TestSafetensors::load_dtype_rules() {
  QTemporaryDir dir;
  const auto path = path_of(dir, "d.safetensors");
  write_safetensors(path, {{"w", at::ones({2})}, {"ids", at::arange(4, at::kLong)}});
  SafetensorsFile file(path);
  QCOMPARE(file.load("w", at::kDouble).scalar_type(), at::kDouble);
  QCOMPARE(file.load("w", at::kHalf).scalar_type(), at::kHalf);
  QVERIFY(equal_exactly(file.load("ids", at::kLong), at::arange(4, at::kLong)));
  QCOMPARE(file.load("ids").scalar_type(), at::kFloat);
  QString msg = error_of<ModelError>([&] { file.load("w", at::kLong); });
  QVERIFY2(msg.contains("'w'") && msg.contains("F32") && msg.contains("d.safetensors"),
           qPrintable(msg));
  msg = error_of<ModelError>([&] { file.load("nope"); });
  QVERIFY2(msg.contains("'nope' not found") && msg.contains("d.safetensors"), qPrintable(msg));
}

void TestSafetensors::move_keeps_mapping() {
  QTemporaryDir dir;
  const auto path = path_of(dir, "m.safetensors");
  write_safetensors(path, {{"w", at::full({4}, 3.0)}});
  SafetensorsFile first(path);
  SafetensorsFile second(std::move(first));
  QCOMPARE(second.load("w").sum().item<float>(), 12.0f);
  std::vector<SafetensorsFile> files;
  files.push_back(std::move(second));
  files.emplace_back(path);
  QCOMPARE(files[0].load("w").sum().item<float>(), 12.0f);
  QCOMPARE(files[1].path(), path);
}

void TestSafetensors::shared_models_data() {
  QTest::addColumn<QString>("model");
  QTest::addColumn<int>("count");
  QTest::addColumn<QString>("tensor");
  QTest::addColumn<QList<qint64>>("shape");
  QTest::newRow("shapes-clip") << "shapes-clip" << 142
                               << "vision_model.embeddings.patch_embedding.weight"
                               << QList<qint64>{128, 3, 16, 16};
  QTest::newRow("facts-gpt2") << "facts-gpt2" << 52 << "h.0.attn.c_attn.weight"
                              << QList<qint64>{128, 384};
  QTest::newRow("shapes-llava") << "shapes-llava" << 125
                                << "language_model.model.embed_tokens.weight"
                                << QList<qint64>{50258, 128};
}

void TestSafetensors::shared_models() {
  QFETCH(QString, model);
  QFETCH(int, count);
  QFETCH(QString, tensor);
  QFETCH(QList<qint64>, shape);
  const std::filesystem::path dir = models_dir() / model.toStdString();
  if (!std::filesystem::exists(dir / "model.safetensors")) QSKIP("shared model not present");
  Checkpoint checkpoint(dir);
  QCOMPARE(checkpoint.dir(), dir);
  QCOMPARE(int(checkpoint.names().size()), count);
  QVERIFY(checkpoint.has(tensor.toStdString()));
  std::vector<int64_t> expected(shape.begin(), shape.end());
  at::Tensor t = checkpoint.get(tensor.toStdString(), expected);
  QVERIFY(t.sizes().vec() == expected);
  QCOMPARE(t.scalar_type(), at::kFloat);
  QVERIFY(t.abs().sum().item<double>() > 0);
}

void TestSafetensors::shared_model_load_time() {
  const std::filesystem::path dir = models_dir() / "shapes-clip";
  if (!std::filesystem::exists(dir / "model.safetensors")) QSKIP("shared model not present");
  const auto start = std::chrono::steady_clock::now();
  Checkpoint checkpoint(dir);
  const auto opened = std::chrono::steady_clock::now();
  int64_t elements = 0;
  for (const auto& name : checkpoint.names()) elements += checkpoint.get(name).numel();
  const auto done = std::chrono::steady_clock::now();
  // The same copies without Checkpoint's NaN/Inf scan, to show what that check costs.
  SafetensorsFile file(dir / "model.safetensors");
  int64_t raw_elements = 0;
  for (const auto& [name, info] : file.tensors()) raw_elements += file.load(name).numel();
  const auto raw_done = std::chrono::steady_clock::now();
  using ms = std::chrono::duration<double, std::milli>;
  qInfo(
      "shapes-clip: open %.2f ms, get all %zu tensors (%lld values) %.2f ms; "
      "the same loads without the NaN/Inf check %.2f ms",
      ms(opened - start).count(), checkpoint.names().size(), static_cast<long long>(elements),
      ms(done - opened).count(), ms(raw_done - done).count());
  QCOMPARE(raw_elements, elements);
  QVERIFY(elements > 0);
}

void TestSafetensors::sharded_index_round_trip() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  at::Tensor a = at::randn({4, 3});
  at::Tensor b = at::randn({2}).to(at::kBFloat16);
  at::Tensor c = at::arange(6, at::kLong);
  write_safetensors(root / "model-00001-of-00002.safetensors",
                    {{"layer.0.w", a}, {"layer.0.b", b}});
  write_safetensors(root / "model-00002-of-00002.safetensors", {{"layer.1.ids", c}});
  write_file(root / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 66}, "weight_map": {
                   "layer.0.w": "model-00001-of-00002.safetensors",
                   "layer.0.b": "model-00001-of-00002.safetensors",
                   "layer.1.ids": "model-00002-of-00002.safetensors"}})");
  Checkpoint checkpoint(root);
  QVERIFY(checkpoint.names() ==
          std::vector<std::string>({"layer.0.b", "layer.0.w", "layer.1.ids"}));
  QVERIFY(equal_exactly(checkpoint.get("layer.0.w", {4, 3}), a));
  QVERIFY(equal_exactly(checkpoint.get("layer.0.b", {2}, at::kBFloat16), b));
  QVERIFY(equal_exactly(checkpoint.get("layer.0.b"), b.to(at::kFloat)));
  QVERIFY(equal_exactly(checkpoint.get("layer.1.ids", {6}, at::kLong), c));
  QVERIFY(!checkpoint.has("layer.2.w"));

  // Moving keeps every shard usable.
  Checkpoint moved(std::move(checkpoint));
  QVERIFY(equal_exactly(moved.get("layer.0.w"), a));
  QString msg = error_of<ModelError>([&] { moved.get("layer.2.w"); });
  QVERIFY2(msg.contains("'layer.2.w' not found") && msg.contains("model.safetensors.index.json"),
           qPrintable(msg));
}

void TestSafetensors::malformed_files_data() {
  QTest::addColumn<QByteArray>("bytes");
  QTest::addColumn<QStringList>("expected");

  // A valid two-tensor file to damage: "a" F32 [2] at [0,8), "b" F32 [3] at [8,20).
  const QByteArray good_header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}})";
  const QByteArray good = raw_file(good_header, 20);

  QTest::newRow("empty") << QByteArray() << QStringList{"0 bytes long", "shorter than"};
  QTest::newRow("five bytes") << QByteArray("\x01\x02\x03\x04\x05", 5)
                              << QStringList{"5 bytes long"};
  QTest::newRow("truncated in header")
      << good.left(40) << QStringList{"header claims", "truncated"};
  QTest::newRow("truncated in data")
      << good.left(good.size() - 4)
      << QStringList{"tensor 'b'", "[8, 20]", "outside the data section of 16 bytes"};
  QTest::newRow("header 2^40") << le64(uint64_t(1) << 40) + QByteArray("{}")
                               << QStringList{"1099511627776", "limit"};
  QTest::newRow("header max u64") << le64(~uint64_t(0)) << QStringList{"header claims", "limit"};
  QTest::newRow("not json") << raw_file("this is not json", 0) << QStringList{"not valid JSON"};
  QTest::newRow("json array") << raw_file("[1,2]", 0) << QStringList{"not an object"};
  QTest::newRow("duplicate key")
      << raw_file(
             R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
             4)
      << QStringList{"'a'", "more than once"};
  QTest::newRow("unknown dtype")
      << raw_file(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1)
      << QStringList{"tensor 'a'", "unsupported dtype 'F8_E4M3'"};
  QTest::newRow("missing dtype") << raw_file(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4)
                                 << QStringList{"tensor 'a'", "dtype"};
  QTest::newRow("negative dim") << raw_file(
                                       R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                                       4)
                                << QStringList{"tensor 'a'", "non-negative"};
  QTest::newRow("fractional dim")
      << raw_file(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4)
      << QStringList{"tensor 'a'", "non-negative integers"};
  QTest::newRow("shape overflow")
      << raw_file(
             R"({"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,4]}})",
             4)
      << QStringList{"tensor 'a'", "impossibly large"};
  QTest::newRow("bytes overflow")
      << raw_file(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})", 4)
      << QStringList{"tensor 'a'", "impossibly large"};
  QTest::newRow("shape x dtype != range")
      << raw_file(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})", 8)
      << QStringList{"tensor 'a'", "[2, 2]", "need 16 bytes", "span 8 bytes"};
  QTest::newRow("offsets out of range")
      << raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)
      << QStringList{"tensor 'a'", "outside the data section of 8 bytes"};
  QTest::newRow("begin after end")
      << raw_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8)
      << QStringList{"tensor 'a'", "[8, 4]"};
  QTest::newRow("bad offsets") << raw_file(
                                      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4)
                               << QStringList{"tensor 'a'", "data_offsets"};
  QTest::newRow("overlap")
      << raw_file(
             R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             12)
      << QStringList{"'a' [0, 8)", "'b' [4, 12)", "overlap"};
  QTest::newRow("same range twice")
      << raw_file(
             R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             8)
      << QStringList{"'a'", "'b'", "overlap"};
  QTest::newRow("gap")
      << raw_file(
             R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
             12)
      << QStringList{"gap of 4 bytes", "tensor 'b'"};
  QTest::newRow("trailing bytes")
      << raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8)
      << QStringList{"4 bytes after the last tensor"};
  QTest::newRow("metadata not object")
      << raw_file(R"({"__metadata__":[1]})", 0) << QStringList{"__metadata__"};
  QTest::newRow("entry not object")
      << raw_file(R"({"a":3})", 0) << QStringList{"tensor 'a'", "not described by a JSON object"};
}

void TestSafetensors::malformed_files() {
  QFETCH(QByteArray, bytes);
  QFETCH(QStringList, expected);
  QTemporaryDir dir;
  const auto path = path_of(dir, "bad.safetensors");
  write_file(path, bytes);
  const QString msg = error_of<ModelError>([&] { SafetensorsFile file(path); });
  QVERIFY2(msg.contains(QString::fromStdString(path.string())), qPrintable(msg));
  for (const auto& part : expected)
    QVERIFY2(msg.contains(part), qPrintable(part + " not in: " + msg));

  // Checkpoint passes the same errors on.
  std::filesystem::rename(path, path_of(dir, "model.safetensors"));
  const QString via_checkpoint = error_of<ModelError>(
      [&] { Checkpoint checkpoint(std::filesystem::path(dir.path().toStdString())); });
  QVERIFY2(via_checkpoint.contains("model.safetensors") && via_checkpoint.contains(expected[0]),
           qPrintable(via_checkpoint));
}

void TestSafetensors::missing_tensor_suggests_names() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  std::map<std::string, at::Tensor> tensors;
  for (int i = 0; i < 3; ++i) {
    tensors["language_model.model.layers." + std::to_string(i) + ".mlp.up_proj.weight"] =
        at::ones({2});
    tensors["language_model.model.layers." + std::to_string(i) + ".input_layernorm.weight"] =
        at::ones({2});
  }
  tensors["unrelated"] = at::ones({1});
  write_safetensors(root / "model.safetensors", tensors);
  Checkpoint checkpoint(root);

  // A different prefix: the real name is suggested first.
  QString msg =
      error_of<ModelError>([&] { checkpoint.get("model.layers.1.mlp.up_proj.weight", {2}); });
  QVERIFY2(msg.contains("'model.layers.1.mlp.up_proj.weight' not found") &&
               msg.contains("model.safetensors") && msg.contains("7 tensors") &&
               msg.contains("similar names: 'language_model.model.layers.1.mlp.up_proj.weight'"),
           qPrintable(msg));
  QVERIFY2(!msg.contains("unrelated"), qPrintable(msg));
  // A typo.
  msg = error_of<ModelError>([&] { checkpoint.get("unrelatd"); });
  QVERIFY2(msg.contains("similar names: 'unrelated'"), qPrintable(msg));
  // Nothing alike: no suggestion list.
  msg = error_of<ModelError>([&] { checkpoint.get("zzzzzzzzzzzzzz"); });
  QVERIFY2(msg.contains("not found") && !msg.contains("similar"), qPrintable(msg));
}

void TestSafetensors::wrong_shape() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  write_safetensors(root / "model.safetensors", {{"w", at::ones({4, 3})}});
  Checkpoint checkpoint(root);
  const QString msg = error_of<ModelError>([&] { checkpoint.get("w", {3, 4}); });
  QVERIFY2(msg.contains("tensor 'w'") && msg.contains("model.safetensors") &&
               msg.contains("has shape [4, 3]") && msg.contains("expects [3, 4]"),
           qPrintable(msg));
  QCOMPARE(checkpoint.get("w", {4, 3}).size(0), int64_t(4));
}

void TestSafetensors::non_finite_weights_data() {
  QTest::addColumn<double>("bad");
  QTest::addColumn<at::ScalarType>("stored");
  QTest::addColumn<at::ScalarType>("loaded");
  QTest::addColumn<int>("position");  // of the bad value among 3 x 343 (a vector loop's tail too)
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Loaded as stored: the file's own bytes are checked (a view of the mapping for F32).
  QTest::newRow("NaN F32") << nan << at::kFloat << at::kFloat << 345;
  QTest::newRow("Inf F32, first") << inf << at::kFloat << at::kFloat << 0;
  QTest::newRow("-Inf F32, last") << -inf << at::kFloat << at::kFloat << 1028;
  QTest::newRow("-Inf BF16") << -inf << at::kBFloat16 << at::kBFloat16 << 1028;
  QTest::newRow("NaN BF16") << nan << at::kBFloat16 << at::kBFloat16 << 7;
  QTest::newRow("NaN F16") << nan << at::kHalf << at::kHalf << 1027;
  QTest::newRow("Inf F16") << inf << at::kHalf << at::kHalf << 0;
  QTest::newRow("-NaN F64") << -nan << at::kDouble << at::kDouble << 1028;
  // Converted to the compute dtype: the converted values are checked.
  QTest::newRow("-Inf BF16 as F32") << -inf << at::kBFloat16 << at::kFloat << 345;
  QTest::newRow("NaN F16 as F32") << nan << at::kHalf << at::kFloat << 1028;
  QTest::newRow("Inf F32 as BF16") << inf << at::kFloat << at::kBFloat16 << 1;
  // Finite as stored, but beyond float16's largest value (65504): Inf once converted.
  QTest::newRow("1e5 F32 as F16") << 1e5 << at::kFloat << at::kHalf << 1028;
}

void TestSafetensors::non_finite_weights() {
  QFETCH(double, bad);
  QFETCH(at::ScalarType, stored);
  QFETCH(at::ScalarType, loaded);
  QFETCH(int, position);
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  at::Tensor w = at::ones({3, 343}, at::kDouble);
  w.view({-1})[position] = bad;
  write_safetensors(root / "model.safetensors",
                    {{"encoder.w", w.to(stored)}, {"ok", at::ones({2})}});
  Checkpoint checkpoint(root);
  const QString msg = error_of<ModelError>([&] { checkpoint.get("encoder.w", {3, 343}, loaded); });
  QVERIFY2(msg.contains("tensor 'encoder.w'") && msg.contains("model.safetensors") &&
               msg.contains("contains NaN or Inf values"),
           qPrintable(msg));
  QCOMPARE(checkpoint.get("ok").sum().item<float>(), 2.0f);
}

void TestSafetensors::huge_finite_weights_pass_data() {
  QTest::addColumn<double>("value");
  QTest::addColumn<at::ScalarType>("dtype");
  // The largest finite values have every exponent bit but the lowest set; subnormals none.
  QTest::newRow("3e38 F32") << 3e38 << at::kFloat;
  QTest::newRow("-max F32") << -double(std::numeric_limits<float>::max()) << at::kFloat;
  QTest::newRow("subnormal F32") << double(std::numeric_limits<float>::denorm_min()) << at::kFloat;
  QTest::newRow("65504 F16") << 65504.0 << at::kHalf;
  QTest::newRow("-max BF16") << -double(std::numeric_limits<c10::BFloat16>::max()) << at::kBFloat16;
  QTest::newRow("max F64") << std::numeric_limits<double>::max() << at::kDouble;
}

void TestSafetensors::huge_finite_weights_pass() {
  // Their sum overflows; they are still finite and must load, as stored and as float32 (F64's
  // largest value is Inf as float32, so that one only as stored).
  QFETCH(double, value);
  QFETCH(at::ScalarType, dtype);
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  const at::Tensor w = at::full({1029}, value, at::kDouble).to(dtype);
  write_safetensors(root / "model.safetensors", {{"w", w}});
  Checkpoint checkpoint(root);
  QVERIFY(equal_exactly(checkpoint.get("w", {1029}, dtype), w));
  if (dtype != at::kDouble)
    QCOMPARE(checkpoint.get("w", {1029}, at::kFloat)[1028].item<double>(),
             w[1028].to(at::kFloat).item<double>());
}

void TestSafetensors::missing_model_files() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  QString msg = error_of<ModelError>([&] { Checkpoint checkpoint(root); });
  QVERIFY2(msg.contains("no model.safetensors or model.safetensors.index.json") &&
               msg.contains(dir.path()) && !msg.contains(".bin"),
           qPrintable(msg));

  write_file(root / "pytorch_model.bin", "PK");
  msg = error_of<ModelError>([&] { Checkpoint checkpoint(root); });
  QVERIFY2(msg.contains("no model.safetensors") && msg.contains(".bin") &&
               msg.contains("not supported") && msg.contains("safe_serialization=True"),
           qPrintable(msg));

  msg = error_of<ModelError>([&] { Checkpoint checkpoint(root / "does-not-exist"); });
  QVERIFY2(msg.contains("does-not-exist") && msg.contains("does not exist"), qPrintable(msg));
}

void TestSafetensors::bad_index_data() {
  QTest::addColumn<QByteArray>("index");
  QTest::addColumn<QStringList>("expected");
  QTest::newRow("missing shard")
      << QByteArray(
             R"({"weight_map": {"w": "model-00001-of-00002.safetensors", "x": "model-00009-of-00009.safetensors"}})")
      << QStringList{"'x'", "'model-00009-of-00009.safetensors'", "does not exist"};
  QTest::newRow("parent dir") << QByteArray(R"({"weight_map": {"w": "../x.safetensors"}})")
                              << QStringList{"'w'", "'../x.safetensors'", "not a plain file name"};
  QTest::newRow("dot dot") << QByteArray(R"({"weight_map": {"w": ".."}})")
                           << QStringList{"'..'", "not a plain file name"};
  QTest::newRow("absolute") << QByteArray(R"({"weight_map": {"w": "/etc/passwd"}})")
                            << QStringList{"'/etc/passwd'", "not a plain file name"};
  QTest::newRow("subfolder") << QByteArray(R"({"weight_map": {"w": "sub/model.safetensors"}})")
                             << QStringList{"not a plain file name"};
  QTest::newRow("tensor not in shard")
      << QByteArray(
             R"({"weight_map": {"w": "model-00001-of-00002.safetensors", "ghost": "model-00001-of-00002.safetensors"}})")
      << QStringList{"'ghost'", "model-00001-of-00002.safetensors", "does not contain it"};
  QTest::newRow("not json") << QByteArray("{weight_map") << QStringList{"not valid JSON"};
  QTest::newRow("no weight_map") << QByteArray(R"({"metadata": {}})") << QStringList{"weight_map"};
  QTest::newRow("shard not string")
      << QByteArray(R"({"weight_map": {"w": 3}})") << QStringList{"'w'", "not a file name"};
}

void TestSafetensors::bad_index() {
  QFETCH(QByteArray, index);
  QFETCH(QStringList, expected);
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  write_safetensors(root / "model-00001-of-00002.safetensors", {{"w", at::ones({2})}});
  write_file(root / "model.safetensors.index.json", index);
  const QString msg = error_of<ModelError>([&] { Checkpoint checkpoint(root); });
  QVERIFY2(msg.contains("model.safetensors.index.json"), qPrintable(msg));
  for (const auto& part : expected)
    QVERIFY2(msg.contains(part), qPrintable(part + " not in: " + msg));
}

QTEST_APPLESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
