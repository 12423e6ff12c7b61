// config.json parsing: the shared models, transformers' defaults, and errors that name the file and
// the key.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <functional>

#include "atman/error.h"
#include "atman/hf_config.h"
#include "core/test_support.h"

using namespace atman;
using namespace atman::test;

namespace {

template <typename T>
T parse_as(const std::string& text) {
  ModelConfig config = parse_model_config(text, "test.json");
  if (!std::holds_alternative<T>(config)) throw std::runtime_error("wrong config type");
  return std::get<T>(config);
}

const char* kLlavaMinimal = R"({
  "model_type": "llava",
  "vision_config": {"model_type": "clip_vision_model", "image_size": 64, "patch_size": 16,
                    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                    "num_attention_heads": 2},
  "text_config": {"model_type": "llama", "vocab_size": 100, "hidden_size": 32,
                  "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "tie_word_embeddings": true}
})";

}  // namespace

class TestHfConfig : public QObject {
  Q_OBJECT

 private slots:
  void shared_clip();
  void shared_gpt2();
  void shared_llava();
  void clip_defaults();
  void gpt2_defaults();
  void llama_family_data();
  void llama_family();
  void llama_eos_list();
  void llava_defaults_and_tie();
  void parse_activation_data();
  void parse_activation();
  void errors_data();
  void errors();
  void load_errors();
};

void TestHfConfig::shared_clip() {
  if (!std::filesystem::exists(models_dir() / "shapes-clip" / "config.json"))
    QSKIP("shared model not present");
  auto config = load_model_config(models_dir() / "shapes-clip");
  QVERIFY(std::holds_alternative<ClipConfig>(config));
  const auto& c = std::get<ClipConfig>(config);
  QCOMPARE(c.projection_dim, 128);
  QCOMPARE(c.text.vocab_size, 49408);
  QCOMPARE(c.text.hidden_size, 128);
  QCOMPARE(c.text.intermediate_size, 512);
  QCOMPARE(c.text.num_hidden_layers, 4);
  QCOMPARE(c.text.num_attention_heads, 4);
  QCOMPARE(c.text.max_position_embeddings, 77);
  QCOMPARE(c.text.eos_token_id, 49407);
  QVERIFY(c.text.hidden_act == Activation::QuickGelu);
  QCOMPARE(c.text.layer_norm_eps, 1e-5);
  QCOMPARE(c.vision.image_size, 128);
  QCOMPARE(c.vision.patch_size, 16);
  QCOMPARE(c.vision.num_channels, 3);
  QCOMPARE(c.vision.hidden_size, 128);
  QCOMPARE(c.vision.num_hidden_layers, 4);
  QVERIFY(c.vision.hidden_act == Activation::QuickGelu);
}

void TestHfConfig::shared_gpt2() {
  if (!std::filesystem::exists(models_dir() / "facts-gpt2" / "config.json"))
    QSKIP("shared model not present");
  const auto c = std::get<Gpt2Config>(load_model_config(models_dir() / "facts-gpt2"));
  QCOMPARE(c.vocab_size, 50257);
  QCOMPARE(c.n_positions, 128);
  QCOMPARE(c.n_embd, 128);
  QCOMPARE(c.n_layer, 4);
  QCOMPARE(c.n_head, 4);
  QCOMPARE(c.n_inner, 512);  // null -> 4 * n_embd
  QVERIFY(c.activation == Activation::GeluTanh);
  QCOMPARE(c.layer_norm_epsilon, 1e-5);
  QVERIFY(c.scale_attn_weights);
  QVERIFY(!c.scale_attn_by_inverse_layer_idx);
  QCOMPARE(c.eos_token_id, 50256);
}

void TestHfConfig::shared_llava() {
  if (!std::filesystem::exists(models_dir() / "shapes-llava" / "config.json"))
    QSKIP("shared model not present");
  const auto c = std::get<LlavaConfig>(load_model_config(models_dir() / "shapes-llava"));
  QCOMPARE(c.vision.image_size, 128);
  QCOMPARE(c.vision.patch_size, 16);
  QCOMPARE(c.vision.hidden_size, 128);
  QCOMPARE(c.vision.num_hidden_layers, 4);
  QCOMPARE(c.text.model_type, std::string("qwen2"));
  QCOMPARE(c.text.vocab_size, 50258);
  QCOMPARE(c.text.hidden_size, 128);
  QCOMPARE(c.text.intermediate_size, 512);
  QCOMPARE(c.text.num_hidden_layers, 4);
  QCOMPARE(c.text.num_attention_heads, 4);
  QCOMPARE(c.text.num_key_value_heads, 2);
  QCOMPARE(c.text.head_dim, 32);
  QVERIFY(c.text.hidden_act == Activation::Silu);
  QCOMPARE(c.text.rms_norm_eps, 1e-6);
  QCOMPARE(c.text.rope_theta, 10000.0);
  QCOMPARE(c.text.max_position_embeddings, 256);
  QVERIFY(c.text.tie_word_embeddings);
  QVERIFY(c.text.attention_bias);
  QCOMPARE(c.text.eos_token_id, 50256);
  QCOMPARE(c.text.bos_token_id, 50256);
  QCOMPARE(c.image_token_index, 50257);
  QCOMPARE(c.vision_feature_layers.at(0), -2);
  QCOMPARE(c.vision_feature_select_strategy, std::string("default"));
  QVERIFY(c.projector_hidden_act == Activation::Gelu);
  QVERIFY(c.projector_bias);
  QCOMPARE(c.image_seq_length, 64);
}

void TestHfConfig::clip_defaults() {
  // transformers leaves default values out of nested configs; they must come back as its defaults.
  const auto c = parse_as<ClipConfig>(R"({"model_type": "clip", "text_config": {},
                                          "vision_config": {"hidden_act": "gelu"}})");
  QCOMPARE(c.projection_dim, 512);
  QCOMPARE(c.text.hidden_size, 512);
  QCOMPARE(c.text.intermediate_size, 2048);
  QCOMPARE(c.text.num_hidden_layers, 12);
  QCOMPARE(c.text.num_attention_heads, 8);
  QCOMPARE(c.text.vocab_size, 49408);
  QCOMPARE(c.text.max_position_embeddings, 77);
  QCOMPARE(c.text.eos_token_id, 2);
  QCOMPARE(c.text.layer_norm_eps, 1e-5);
  QVERIFY(c.text.hidden_act == Activation::QuickGelu);
  QCOMPARE(c.vision.hidden_size, 768);
  QCOMPARE(c.vision.num_attention_heads, 12);
  QCOMPARE(c.vision.image_size, 224);
  QCOMPARE(c.vision.patch_size, 32);
  QVERIFY(c.vision.hidden_act == Activation::Gelu);
  // Old configs name the towers *_config_dict; "architectures" alone picks the model.
  const auto old = parse_as<ClipConfig>(R"({"architectures": ["CLIPModel"], "projection_dim": 64,
      "text_config_dict": {"hidden_size": 64, "num_attention_heads": 2},
      "vision_config_dict": {"hidden_size": 96, "num_attention_heads": 3}})");
  QCOMPARE(old.projection_dim, 64);
  QCOMPARE(old.text.hidden_size, 64);
  QCOMPARE(old.vision.hidden_size, 96);
}

void TestHfConfig::gpt2_defaults() {
  const auto c = parse_as<Gpt2Config>(R"({"model_type": "gpt2", "vocab_size": 100,
      "n_positions": 64, "n_embd": 48, "n_layer": 2, "n_head": 3, "n_inner": 100,
      "activation_function": "relu"})");
  QCOMPARE(c.n_inner, 100);
  QVERIFY(c.activation == Activation::Relu);
  QCOMPARE(c.eos_token_id, 50256);
  QCOMPARE(c.layer_norm_epsilon, 1e-5);
}

void TestHfConfig::llama_family_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QString>("model_type");
  QTest::addColumn<int>("kv_heads");
  QTest::addColumn<int>("head_dim");
  QTest::addColumn<bool>("attention_bias");
  QTest::addColumn<bool>("tied");
  const QString sizes = R"("vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
                           "num_hidden_layers": 2, "num_attention_heads": 4)";
  QTest::newRow("llama defaults") << "{\"model_type\": \"llama\", " + sizes + "}"
                                  << "llama" << 4 << 16 << false << false;
  QTest::newRow("llama (SmolLM) gqa, bias, tied")
      << "{\"model_type\": \"llama\", \"num_key_value_heads\": 2, \"attention_bias\": true, "
         "\"tie_word_embeddings\": true, \"rope_scaling\": null, " +
             sizes + "}"
      << "llama" << 2 << 16 << true << true;
  QTest::newRow("qwen2 has bias") << "{\"model_type\": \"qwen2\", \"tie_word_embeddings\": true, " +
                                         sizes + "}"
                                  << "qwen2" << 4 << 16 << true << true;
  QTest::newRow("qwen2 ignores attention_bias")
      << "{\"model_type\": \"qwen2\", \"attention_bias\": false, " + sizes + "}"
      << "qwen2" << 4 << 16 << true << false;
  QTest::newRow("mistral") << "{\"model_type\": \"mistral\", \"num_key_value_heads\": 1, " + sizes +
                                  "}"
                           << "mistral" << 1 << 16 << false << false;
  QTest::newRow("explicit head_dim")
      << "{\"model_type\": \"llama\", \"head_dim\": 32, " + sizes + "}"
      << "llama" << 4 << 32 << false << false;
  QTest::newRow("by architectures") << "{\"architectures\": [\"Qwen2ForCausalLM\"], " + sizes + "}"
                                    << "qwen2" << 4 << 16 << true << false;
}

void TestHfConfig::llama_family() {
  QFETCH(QString, text);
  QFETCH(QString, model_type);
  QFETCH(int, kv_heads);
  QFETCH(int, head_dim);
  QFETCH(bool, attention_bias);
  QFETCH(bool, tied);
  const auto c = parse_as<LlamaConfig>(text.toStdString());
  QCOMPARE(QString::fromStdString(c.model_type), model_type);
  QCOMPARE(c.vocab_size, 1000);
  QCOMPARE(c.hidden_size, 64);
  QCOMPARE(c.num_key_value_heads, kv_heads);
  QCOMPARE(c.head_dim, head_dim);
  QCOMPARE(c.attention_bias, attention_bias);
  QCOMPARE(c.tie_word_embeddings, tied);
  QVERIFY(c.hidden_act == Activation::Silu);
  QCOMPARE(c.rms_norm_eps, 1e-6);
  QCOMPARE(c.rope_theta, 10000.0);
}

void TestHfConfig::llama_eos_list() {
  const auto c = parse_as<LlamaConfig>(R"({"model_type": "llama", "vocab_size": 1000,
      "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
      "num_attention_heads": 4, "eos_token_id": [7, 8, 9], "bos_token_id": 5,
      "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "max_position_embeddings": 8192})");
  QCOMPARE(c.eos_token_id, 7);
  QVERIFY(c.eos_token_ids == std::vector<int>({7, 8, 9}));
  QCOMPARE(c.bos_token_id, 5);
  QCOMPARE(c.rope_theta, 500000.0);
  QCOMPARE(c.rms_norm_eps, 1e-5);
  QCOMPARE(c.max_position_embeddings, 8192);
}

void TestHfConfig::llava_defaults_and_tie() {
  auto c = parse_as<LlavaConfig>(kLlavaMinimal);
  QCOMPARE(c.image_seq_length, 16);  // (64 / 16)^2
  QCOMPARE(c.image_token_index, 32000);
  QCOMPARE(c.vision_feature_layers.at(0), -2);
  QVERIFY(c.projector_bias);
  QVERIFY(c.projector_hidden_act == Activation::Gelu);
  QVERIFY(c.text.tie_word_embeddings);  // from text_config
  QVERIFY(!c.text.attention_bias);
  QCOMPARE(c.text.model_type, std::string("llama"));

  // A top-level flag wins over text_config's.
  std::string text = kLlavaMinimal;
  text.insert(text.find('{') + 1,
              R"("tie_word_embeddings": false, "multimodal_projector_bias": false,
      "vision_feature_select_strategy": "full", "vision_feature_layer": -1, )");
  c = parse_as<LlavaConfig>(text);
  QVERIFY(!c.text.tie_word_embeddings);
  QVERIFY(!c.projector_bias);
  QCOMPARE(c.vision_feature_select_strategy, std::string("full"));
  QCOMPARE(c.vision_feature_layers.at(0), -1);

  // text_config sizes equal to LlamaConfig's defaults are left out by transformers.
  c = parse_as<LlavaConfig>(R"({"model_type": "llava",
      "vision_config": {"hidden_size": 1024, "image_size": 336, "patch_size": 14,
                        "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24},
      "text_config": {"model_type": "llama", "vocab_size": 32064, "rms_norm_eps": 1e-5}})");
  QCOMPARE(c.text.hidden_size, 4096);
  QCOMPARE(c.text.intermediate_size, 11008);
  QCOMPARE(c.text.num_hidden_layers, 32);
  QCOMPARE(c.text.num_key_value_heads, 32);
  QCOMPARE(c.text.head_dim, 128);
  QCOMPARE(c.image_seq_length, 576);
}

void TestHfConfig::parse_activation_data() {
  QTest::addColumn<QString>("name");
  QTest::addColumn<int>("expected");
  QTest::newRow("quick_gelu") << "quick_gelu" << int(Activation::QuickGelu);
  QTest::newRow("gelu") << "gelu" << int(Activation::Gelu);
  QTest::newRow("gelu_new") << "gelu_new" << int(Activation::GeluTanh);
  QTest::newRow("gelu_pytorch_tanh") << "gelu_pytorch_tanh" << int(Activation::GeluTanh);
  QTest::newRow("silu") << "silu" << int(Activation::Silu);
  QTest::newRow("swish") << "swish" << int(Activation::Silu);
  QTest::newRow("relu") << "relu" << int(Activation::Relu);
}

void TestHfConfig::parse_activation() {
  QFETCH(QString, name);
  QFETCH(int, expected);
  QCOMPARE(int(atman::parse_activation(name.toStdString())), expected);
  const QString msg = error_of<ModelError>([] { atman::parse_activation("mish"); });
  QVERIFY2(msg.contains("unknown activation function 'mish'") && msg.contains("quick_gelu"),
           qPrintable(msg));
}

void TestHfConfig::errors_data() {
  QTest::addColumn<QString>("text");
  QTest::addColumn<QStringList>("expected");
  const QString gpt2 = R"("vocab_size": 100, "n_positions": 64, "n_layer": 2, "n_head": 4)";
  const QString llama = R"("vocab_size": 100, "intermediate_size": 64, "num_hidden_layers": 2)";

  QTest::newRow("not json") << "{model_type: clip" << QStringList{"not valid JSON"};
  QTest::newRow("not object") << "[1]" << QStringList{"not a JSON object"};
  QTest::newRow("unknown model_type") << R"({"model_type": "bert"})"
                                      << QStringList{"unsupported architecture 'bert'",
                                                     "supported: clip (CLIPModel)",
                                                     "gpt2",
                                                     "qwen2 (Qwen2ForCausalLM)",
                                                     "gemma2",
                                                     "phi3",
                                                     "olmo2",
                                                     "llava (LlavaForConditionalGeneration)"};
  QTest::newRow("unknown architecture")
      << R"({"architectures": ["T5ForConditionalGeneration"]})"
      << QStringList{"unsupported architecture 'T5ForConditionalGeneration'"};
  QTest::newRow("no type at all") << "{}" << QStringList{"model_type", "supported"};
  QTest::newRow("missing n_embd") << "{\"model_type\": \"gpt2\", " + gpt2 + "}"
                                  << QStringList{"missing required field 'n_embd'"};
  QTest::newRow("missing hidden_size")
      << "{\"model_type\": \"llama\", \"num_attention_heads\": 4, " + llama + "}"
      << QStringList{"missing required field 'hidden_size'"};
  QTest::newRow("null required") << "{\"model_type\": \"gpt2\", \"n_embd\": null, " + gpt2 + "}"
                                 << QStringList{"'n_embd'", "null"};
  QTest::newRow("wrong type nested")
      << R"({"model_type": "clip", "text_config": {"hidden_size": "128"}, "vision_config": {}})"
      << QStringList{"'text_config.hidden_size'", "must be an integer", "string"};
  QTest::newRow("bool for int") << "{\"model_type\": \"gpt2\", \"n_embd\": true, " + gpt2 + "}"
                                << QStringList{"'n_embd'", "must be an integer", "boolean"};
  QTest::newRow("fraction for int") << "{\"model_type\": \"gpt2\", \"n_embd\": 64.5, " + gpt2 + "}"
                                    << QStringList{"'n_embd'", "must be an integer"};
  QTest::newRow("missing text_config") << R"({"model_type": "clip", "vision_config": {}})"
                                       << QStringList{"missing required field 'text_config'"};
  QTest::newRow("text_config not object")
      << R"({"model_type": "clip", "text_config": 3, "vision_config": {}})"
      << QStringList{"'text_config'", "must be an object"};
  QTest::newRow("heads not dividing")
      << "{\"model_type\": \"gpt2\", \"n_embd\": 130, " + gpt2 + "}"
      << QStringList{"'n_embd'", "130", "not divisible", "'n_head' = 4"};
  QTest::newRow("nested heads not dividing")
      << R"({"model_type": "clip", "text_config": {}, "vision_config": {"hidden_size": 100, "num_attention_heads": 3}})"
      << QStringList{"'vision_config.hidden_size'", "not divisible",
                     "'vision_config.num_attention_heads'"};
  QTest::newRow("kv heads")
      << "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
         "\"num_key_value_heads\": 3, " +
             llama + "}"
      << QStringList{"'num_attention_heads'", "num_key_value_heads"};
  QTest::newRow("zero size") << "{\"model_type\": \"gpt2\", \"n_embd\": 0, " + gpt2 + "}"
                             << QStringList{"'n_embd'", "is 0", "between 1"};
  QTest::newRow("negative size")
      << R"({"model_type": "clip", "text_config": {"vocab_size": -5}, "vision_config": {}})"
      << QStringList{"'text_config.vocab_size'", "-5"};
  QTest::newRow("absurd layers")
      << R"({"model_type": "gpt2", "n_embd": 64, "vocab_size": 100, "n_positions": 64, "n_layer": 2000000, "n_head": 4})"
      << QStringList{"'n_layer'", "2000000"};
  QTest::newRow("huge integer")
      << R"({"model_type": "gpt2", "n_embd": 18446744073709551615, "vocab_size": 100, "n_positions": 64, "n_layer": 2, "n_head": 4})"
      << QStringList{"'n_embd'", "out of range"};
  QTest::newRow("bad eps")
      << "{\"model_type\": \"gpt2\", \"n_embd\": 64, \"layer_norm_epsilon\": -1, " + gpt2 + "}"
      << QStringList{"'layer_norm_epsilon'", "positive"};
  QTest::newRow("unknown activation")
      << "{\"model_type\": \"gpt2\", \"n_embd\": 64, \"activation_function\": \"mish\", " + gpt2 +
             "}"
      << QStringList{"'activation_function'", "unknown activation function 'mish'"};
  QTest::newRow("rope scaling without its keys")
      << "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
         "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}, " +
             llama + "}"
      << QStringList{"missing required field 'rope_scaling.low_freq_factor'"};
  QTest::newRow("rope scaling unknown type")
      << "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
         "\"rope_scaling\": {\"type\": \"ntk-by-parts\", \"factor\": 2.0}, " +
             llama + "}"
      << QStringList{"'rope_scaling.rope_type'", "ntk-by-parts", "not supported", "llama3"};
  QTest::newRow("rope scaling odd value")
      << "{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
         "\"rope_scaling\": {\"rope_type\": 3}, " +
             llama + "}"
      << QStringList{"'rope_scaling.rope_type'", "must be a string"};
  QTest::newRow("absurd patch count")
      << R"({"model_type": "clip", "text_config": {}, "vision_config": {"image_size": 100000000, "patch_size": 1}})"
      << QStringList{"'vision_config.image_size'", "absurd"};
  QTest::newRow("patch does not divide image")
      << R"({"model_type": "clip", "text_config": {}, "vision_config": {"image_size": 100, "patch_size": 16}})"
      << QStringList{"'vision_config.image_size'", "patch_size"};
  QTest::newRow("llava bad strategy")
      << QString(kLlavaMinimal)
             .replace("\"model_type\": \"llava\",",
                      "\"model_type\": \"llava\", \"vision_feature_select_strategy\": \"cls\",")
      << QStringList{"'vision_feature_select_strategy'", "cls"};
  QTest::newRow("llava unsupported text model")
      << QString(kLlavaMinimal).replace("\"model_type\": \"llama\"", "\"model_type\": \"falcon\"")
      << QStringList{"'text_config.model_type'", "falcon"};
  QTest::newRow("llava feature layer out of range")
      << QString(kLlavaMinimal)
             .replace("\"model_type\": \"llava\",",
                      "\"model_type\": \"llava\", \"vision_feature_layer\": 7,")
      << QStringList{"'vision_feature_layer'", "7"};
}

void TestHfConfig::errors() {
  QFETCH(QString, text);
  QFETCH(QStringList, expected);
  const QString msg =
      error_of<ModelError>([&] { parse_model_config(text.toStdString(), "test.json"); });
  QVERIFY2(msg.contains("test.json"), qPrintable(msg));
  for (const auto& part : expected)
    QVERIFY2(msg.contains(part), qPrintable(part + " not in: " + msg));
}

void TestHfConfig::load_errors() {
  QTemporaryDir dir;
  const std::filesystem::path root = dir.path().toStdString();
  QString msg = error_of<ModelError>([&] { load_model_config(root); });
  QVERIFY2(msg.contains("no config.json") && msg.contains(dir.path()), qPrintable(msg));
  msg = error_of<ModelError>([&] { load_model_config(root / "nope"); });
  QVERIFY2(msg.contains("nope") && msg.contains("does not exist"), qPrintable(msg));
  {
    std::ofstream out(root / "config.json");
    out << R"({"model_type": "whisper"})";
  }
  msg = error_of<ModelError>([&] { load_model_config(root); });
  QVERIFY2(msg.contains("unsupported architecture 'whisper'") &&
               msg.contains(QString::fromStdString((root / "config.json").string())),
           qPrintable(msg));
}

QTEST_APPLESS_MAIN(TestHfConfig)
#include "test_hf_config.moc"
