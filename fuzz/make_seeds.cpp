// Writes the seed corpora of the fuzz harnesses: atman_fuzz_seeds OUT_DIR [SHARED_DIR]
//
// Seeds are made at run time from ../shared (model configs, cut-down tokenizer files, images
// re-encoded small, prompts) plus small hand-written cases, so the repository holds no copies of
// shared files. One folder per harness: OUT_DIR/<harness>/<name>.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../tests/core/spiece_writer.h"
#include "atman/error.h"
#include "atman/explanation.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path g_out;
fs::path g_shared;
int g_written = 0;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void seed(const std::string& harness, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_out / harness;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  ++g_written;
}

void seed_file(const std::string& harness, const std::string& name, const fs::path& source) {
  std::error_code ec;
  if (fs::is_regular_file(source, ec)) seed(harness, name, read(source));
}

// ---- safetensors -------------------------------------------------------------------------------

void safetensors_seeds() {
  const fs::path tmp = g_out / "tmp.safetensors";
  auto emit = [&](const std::string& name, const std::map<std::string, at::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata = {}) {
    atman::write_safetensors(tmp, tensors, metadata);
    seed("fuzz_safetensors", name, read(tmp));
    fs::remove(tmp);
  };
  emit("all-dtypes",
       {{"f32", at::arange(4, at::kFloat)},
        {"f16", at::arange(3, at::kHalf)},
        {"bf16", at::arange(2, at::kBFloat16).reshape({1, 2})},
        {"f64", at::full({1}, 1e300, at::kDouble)},
        {"i64", at::arange(2, at::kLong)},
        {"i32", at::arange(2, at::kInt)},
        {"i16", at::arange(2, at::kShort)},
        {"i8", at::arange(2, at::kChar)},
        {"u8", at::arange(2, at::kByte)},
        {"bool", at::ones({2}, at::kBool)}},
       {{"format", "pt"}});
  emit("empty-and-scalar",
       {{"empty", at::zeros({0, 5}, at::kFloat)}, {"scalar", at::ones({}, at::kFloat)}});
  emit("nan", {{"w", at::full({2, 2}, NAN, at::kFloat)}});
  emit("nothing", {});
  // Three real tensors of the bundled CLIP, with their real names.
  try {
    atman::SafetensorsFile clip(g_shared / "models" / "shapes-clip" / "model.safetensors");
    std::map<std::string, at::Tensor> small;
    for (const auto& [name, info] : clip.tensors()) {
      int64_t n = 1;
      for (int64_t d : info.shape) n *= d;
      if (n <= 64 && small.size() < 3) small[name] = clip.load(name);
    }
    emit("shapes-clip-subset", small);
  } catch (const atman::Error& e) {
    std::cerr << "seeds: no shapes-clip tensors: " << e.what() << "\n";
  }
  // Hand-written headers: overlap, a gap, offsets past the end, a terabyte claim.
  auto raw = [](const std::string& header, size_t data_bytes, uint64_t claimed = 0) {
    std::string out(8, '\0');
    const uint64_t length = claimed ? claimed : header.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((length >> (8 * i)) & 0xFF);
    return out + header + std::string(data_bytes, '\x3f');
  };
  seed(
      "fuzz_safetensors", "overlap",
      raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
          4));
  seed("fuzz_safetensors", "out-of-range",
       raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4));
  seed("fuzz_safetensors", "terabyte-header", raw("{}", 0, 1ull << 40));
  seed("fuzz_safetensors", "huge-shape",
       raw(R"({"a":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]}})", 0));
}

void index_seeds() {
  const std::string shard1 = "model-00001-of-00002.safetensors",
                    shard2 = "model-00002-of-00002.safetensors";
  json index = {{"metadata", {{"total_size", 52}}},
                {"weight_map",
                 {{"embed.weight", shard1},
                  {"embed.bias", shard1},
                  {"head.weight", shard2},
                  {"head.position_ids", shard2}}}};
  seed("fuzz_checkpoint_index", "valid", index.dump(2));
  index["weight_map"]["head.broken"] = shard2;
  seed("fuzz_checkpoint_index", "nan-tensor", index.dump());
  seed("fuzz_checkpoint_index", "traversal",
       json({{"weight_map", {{"embed.weight", "../../etc/passwd"}}}}).dump());
  seed("fuzz_checkpoint_index", "not-a-shard",
       json({{"weight_map", {{"embed.weight", "notes.txt"}}}}).dump());
  seed("fuzz_checkpoint_index", "missing-tensor",
       json({{"weight_map", {{"nothing", shard1}}}}).dump());
}

// ---- configs
// -------------------------------------------------------------------------------------

void config_seeds() {
  for (const char* model : {"shapes-clip", "facts-gpt2", "shapes-llava"}) {
    seed_file("fuzz_config", std::string(model) + "-config",
              g_shared / "models" / model / "config.json");
    seed_file("fuzz_config", std::string(model) + "-preprocessor",
              g_shared / "models" / model / "preprocessor_config.json");
  }
  seed(
      "fuzz_config", "llama",
      R"({"model_type":"llama","vocab_size":64,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,)"
      R"("num_attention_heads":4,"num_key_value_heads":2,"rope_theta":10000.0,"max_position_embeddings":64,)"
      R"("eos_token_id":[2,3],"rope_scaling":null})");
  seed(
      "fuzz_config", "qwen2",
      R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":64,"hidden_size":32,"intermediate_size":64,)"
      R"("num_hidden_layers":2,"num_attention_heads":4,"head_dim":16,"tie_word_embeddings":true})");
  seed(
      "fuzz_config", "mistral",
      R"({"model_type":"mistral","vocab_size":64,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,)"
      R"("num_attention_heads":4,"rope_scaling":{"type":"linear","factor":2.0}})");
  seed(
      "fuzz_config", "clip-dict",
      R"({"model_type":"clip","text_config_dict":{"hidden_size":32.0},"vision_config_dict":{"image_size":30,"patch_size":7}})");
  seed(
      "fuzz_config", "preprocess-fixed",
      R"({"size":{"height":24,"width":20},"do_center_crop":false,"resample":1,"image_mean":0.5,"image_std":[0.5,0.5,0.5]})");
}

// ---- tokenizers
// ----------------------------------------------------------------------------------

// A vocabulary and merges cut down to the byte symbols, the first `merges` rules and the tokens
// they make (plus the specials), so the seed stays a few kB but keeps the real format.
std::pair<std::string, std::string> cut_tokenizer(const fs::path& dir, size_t merges, bool clip) {
  json vocab = json::parse(read(dir / "vocab.json"));
  std::istringstream lines(read(dir / "merges.txt"));
  std::string line, merges_out;
  std::set<std::string> keep;
  size_t taken = 0;
  while (std::getline(lines, line) && taken < merges) {
    if (line.rfind("#version", 0) == 0) {
      merges_out += line + "\n";
      continue;
    }
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    keep.insert(line.substr(0, space) + line.substr(space + 1));
    merges_out += line + "\n";
    ++taken;
  }
  json small = json::object();
  for (const auto& [token, id] : vocab.items()) {
    const bool byte_symbol =
        token.size() <= 2 || (clip && token.size() <= 6 && token.ends_with("</w>"));
    if (byte_symbol || keep.count(token) || token.starts_with("<|")) small[token] = id;
  }
  return {small.dump(), merges_out};
}

void tokenizer_seeds() {
  const std::string sep = "\n##\n";
  const auto models = g_shared / "models";
  try {
    auto [gpt2_vocab, gpt2_merges] = cut_tokenizer(models / "facts-gpt2", 300, false);
    seed("fuzz_tokenizer_files", "gpt2-cut",
         std::string(1, '\0') + gpt2_vocab + sep + gpt2_merges + sep + sep + sep +
             "The dog lives in Paris.");
    seed("fuzz_tokenizer_files", "llava-cut",
         std::string(1, '\0') + gpt2_vocab + sep + gpt2_merges + sep +
             read(models / "shapes-llava" / "added_tokens.json") + sep +
             read(models / "shapes-llava" / "tokenizer_config.json") + sep +
             "<image>\nQuestion: What is it? Answer:");
    auto [clip_vocab, clip_merges] = cut_tokenizer(models / "shapes-clip", 300, true);
    seed("fuzz_tokenizer_files", "clip-cut",
         std::string(1, '\0') + clip_vocab + sep + clip_merges + sep + sep + sep +
             "a photo of a blue square &amp; more");
  } catch (const std::exception& e) {
    std::cerr << "seeds: cannot cut the bundled tokenizers: " << e.what() << "\n";
  }
  // Byte alphabet supplied by the harness (flag bit 0), a few merges on top.
  seed(
      "fuzz_tokenizer_files", "alphabet-gpt2",
      std::string(1, '\x01') + R"("he":600,"hel":601,"hell":602,"hello":603,"Ġw":604)" + sep +
          "#version: 0.2\nh e\nhe l\nhel l\nhell o\nĠ w\n" + sep + R"({"<pad>": 605})" + sep +
          R"({"added_tokens_decoder":{"606":{"content":"<sep>","lstrip":true,"rstrip":true}},"eos_token":"<pad>"})" +
          sep + "hello world <sep> hello<pad>");
  seed("fuzz_tokenizer_files", "alphabet-clip",
       std::string(1, '\x03') + R"("he":600,"hello</w>":601,"hel":602,"hell":603)" + sep +
           "h e\nhe l\nhel l\nhell o</w>\n" + sep + sep + R"({"tokenizer_class":"CLIPTokenizer"})" +
           sep + "Hello HELLO &lt;hello&gt; <|endoftext|>");
}

void bpe_seeds() {
  std::istringstream facts(read(g_shared / "data" / "facts-eval" / "facts-eval.jsonl"));
  std::string line;
  for (int i = 0; i < 8 && std::getline(facts, line); ++i) {
    try {
      seed("fuzz_bpe_encode", "facts-" + std::to_string(i), json::parse(line).value("prompt", ""));
    } catch (const json::exception&) {
    }
  }
  seed_file("fuzz_bpe_encode", "labels-shapes", ATMAN_SOURCE_DIR "/resources/labels/shapes.txt");
  const char* texts[] = {
      "<image>\nQuestion: What is in the picture? Answer:",
      "<|endoftext|><|startoftext|>hello<|endoftext|>",
      "Caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x90\xBC emoji",
      "&amp;&lt;&#x1F43C;&#128060;&notin;&quot; tabs\tand\r\nnewlines   ",
      "I'm you're it'll they've 'S 'T 1234567890 3.14",
      "\xCD\x85\xC5\xBF'\xC5\xBF combining \xCC\x81 marks",
      "\xFF\xFE invalid utf-8 \xC0\xAF",
  };
  int i = 0;
  for (const char* t : texts) seed("fuzz_bpe_encode", "text-" + std::to_string(i++), t);
}

// ---- images
// --------------------------------------------------------------------------------------

void image_seeds() {
  cv::Mat photo =
      cv::imread((g_shared / "data" / "shapes-eval" / "000.png").string(), cv::IMREAD_COLOR);
  if (photo.empty()) photo = cv::Mat(24, 32, CV_8UC3, cv::Scalar(40, 120, 200));
  cv::Mat small;
  cv::resize(photo, small, cv::Size(20, 14), 0, 0, cv::INTER_AREA);
  auto encode = [&](const std::string& name, const std::string& ext, const cv::Mat& image,
                    const std::vector<int>& params = {}) {
    std::vector<uint8_t> bytes;
    try {
      if (!cv::imencode(ext, image, bytes, params)) return;
    } catch (const cv::Exception&) {
      return;  // this OpenCV has no encoder for the format
    }
    seed("fuzz_image", name, std::string(bytes.begin(), bytes.end()));
  };
  cv::Mat gray, rgba, deep;
  cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(small, rgba, cv::COLOR_BGR2BGRA);
  small.convertTo(deep, CV_16UC3, 257.0);
  encode("rgb.png", ".png", small);
  encode("gray.png", ".png", gray);
  encode("rgba.png", ".png", rgba);
  encode("deep16.png", ".png", deep);
  encode("baseline.jpg", ".jpg", small, {cv::IMWRITE_JPEG_QUALITY, 50});
  encode("progressive.jpg", ".jpg", small, {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  encode("gray.jpg", ".jpg", gray);
  encode("rgb.bmp", ".bmp", small);
  encode("rgba.tiff", ".tiff", rgba);
  encode("deep16.tiff", ".tiff", deep);
  encode("rgb.webp", ".webp", small, {cv::IMWRITE_WEBP_QUALITY, 101});
  encode("lossy.webp", ".webp", small, {cv::IMWRITE_WEBP_QUALITY, 40});
  encode("one-pixel.png", ".png", cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3)));
  encode("line.bmp", ".bmp", cv::Mat(1, 300, CV_8UC1, cv::Scalar(9)));
  seed("fuzz_image", "not-an-image", "GIF89a this is not supported");
}

// ---- explanations -------------------------------------------------------------------------------

void explanation_seeds() {
  atman::Explanation patches;
  patches.model = "shapes-clip";
  patches.architecture = "CLIP";
  patches.explained = atman::ExplainWhat::ImagePatches;
  patches.mode = atman::SuppressionMode::Correlated;
  patches.kappa = 0.7;
  patches.variant = atman::SuppressionVariant::Multiplicative;
  patches.target = "a photo of a blue square";
  patches.labels = {"a photo of a blue square", "a photo of a red circle"};
  patches.target_tokens = {"a photo of a blue square"};
  patches.baseline_loss = 0.25;
  patches.baseline_per_target = {0.25};
  patches.grid_rows = patches.grid_cols = 2;
  patches.image_width = 16;
  patches.image_height = 12;
  for (int i = 0; i < 4; ++i) {
    atman::Candidate c;
    c.index = i;
    c.kind = atman::CandidateKind::Patch;
    c.row = i / 2;
    c.col = i % 2;
    c.rect = {c.col * 6.0, c.row * 6.0, 6.0, 6.0};
    c.positions = {1 + i};
    c.value = 0.1 * i - 0.1;
    c.per_target = {c.value};
    c.suppressed = {{i, 1.0, 0.1}, {(i + 1) % 4, 0.8, 0.28}};
    patches.candidates.push_back(c);
  }
  seed("fuzz_explanation_json", "patches", atman::to_json(patches));
  atman::Explanation tokens;
  tokens.model = "facts-gpt2";
  tokens.architecture = "GPT-2";
  tokens.explained = atman::ExplainWhat::PromptTokens;
  tokens.mode = atman::SuppressionMode::Single;
  tokens.prompt = "The dog lives in Paris. Answer:";
  tokens.target = " Paris";
  tokens.target_tokens = {"\xC4\xA0Paris"};
  tokens.baseline_loss = 1.5;
  for (int i = 0; i < 3; ++i) {
    atman::Candidate c;
    c.index = i;
    c.text = i == 0 ? "The" : i == 1 ? " dog" : " caf\xC3\xA9";
    c.span = {i * 4, i * 4 + 4};
    c.positions = {i};
    c.value = i;
    c.per_target = {double(i)};
    tokens.candidates.push_back(c);
  }
  seed("fuzz_explanation_json", "tokens", atman::to_json(tokens, -1));
  seed("fuzz_explanation_json", "minimal", R"({"baseline_loss":0,"candidates":[]})");
}

// ---- tokenizer.json --------------------------------------------------------------------------

// GPT-2's tokenizer.json cut down to the byte symbols, the first `merges` rules and the tokens they
// make, with <|endoftext|> renumbered right after them: a few hundred ids, so that loading it takes
// well under a millisecond and the fuzzer spends its time on the pipeline.
json cut_tokenizer_json(const fs::path& path, size_t merges) {
  json j = json::parse(read(path));
  json& model = j["model"];
  json small = json::object(), kept = json::array();
  int64_t max_id = 0;
  std::set<std::string> made;
  for (size_t i = 0; i < merges && i < model["merges"].size(); ++i) {
    const std::string rule = model["merges"][i].get<std::string>();
    const auto space = rule.find(' ');
    made.insert(rule.substr(0, space) + rule.substr(space + 1));
    kept.push_back(rule);
  }
  for (const auto& [token, id] : model["vocab"].items()) {
    if (id.get<int64_t>() < 256 || made.count(token)) {
      small[token] = id;
      max_id = std::max(max_id, id.get<int64_t>());
    }
  }
  const int64_t eot = max_id + 1;
  small["<|endoftext|>"] = eot;
  model["vocab"] = small;
  model["merges"] = kept;
  for (json& added : j["added_tokens"])
    if (added["content"] == "<|endoftext|>") added["id"] = eot;
  if (j.contains("padding") && j["padding"].is_object()) j["padding"]["pad_id"] = eot;
  return j;
}

json added_token(int64_t id, const std::string& content, bool special = true) {
  return {{"id", id},        {"content", content},     {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", !special}, {"special", special}};
}

// A SentencePiece-style model as Llama-2 / Mistral files have it: <unk> <s> </s>, the 256 byte
// fallback tokens <0xNN>, then a few pieces and merges, a BOS template and added <image>.
json sentencepiece_style(bool metaspace) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  const std::string lowline = "\xE2\x96\x81";
  const std::vector<std::string> pieces = {lowline,
                                           "H",
                                           "e",
                                           "l",
                                           "o",
                                           "w",
                                           "r",
                                           "d",
                                           lowline + "w",
                                           "or",
                                           "ll",
                                           "ell",
                                           "Hell",
                                           "Hello",
                                           lowline + "Hello",
                                           lowline + "wor",
                                           lowline + "worl",
                                           lowline + "world"};
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 259 + int(i);
  const json merges = {lowline + " w",
                       "o r",
                       "l l",
                       "e ll",
                       "H ell",
                       "Hell o",
                       lowline + " Hello",
                       lowline + "w or",
                       lowline + "wor l",
                       lowline + "worl d"};
  const json bos = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  json j = {{"version", "1.0"},
            {"added_tokens",
             {added_token(0, "<unk>"), added_token(1, "<s>"), added_token(2, "</s>"),
              added_token(277, "<image>")}},
            {"post_processor", bos},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", "<unk>"},
              {"fuse_unk", true},
              {"byte_fallback", true},
              {"ignore_merges", false},
              {"vocab", vocab},
              {"merges", merges}}}};
  if (metaspace) {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"},
                          {"replacement", lowline},
                          {"prepend_scheme", "first"},
                          {"split", true}};
    j["decoder"] = {
        {"type", "Sequence"},
        {"decoders",
         {{{"type", "Metaspace"}, {"replacement", lowline}, {"prepend_scheme", "first"}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}}}}};
  } else {
    j["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", lowline}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", lowline}}}}};
    j["pre_tokenizer"] = nullptr;
    j["decoder"] = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", lowline}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  }
  return j;
}

void tokenizer_json_seeds() {
  const std::string sep = "\n##\n";
  const std::string text =
      "Hello world <image> hello\xC2\xBF caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x90\xBC "
      "2024's";
  auto emit = [&](const std::string& name, const json& j, const std::string& t) {
    seed("fuzz_tokenizer_json", name, j.dump() + sep + t);
  };
  emit("llama2-style", sentencepiece_style(false), text);
  emit("metaspace-style", sentencepiece_style(true), "<s>" + text + "</s>");
  json stripped = sentencepiece_style(false);
  stripped["added_tokens"][3]["lstrip"] = true;
  stripped["added_tokens"][3]["rstrip"] = true;
  stripped["added_tokens"].push_back(added_token(278, "world", false));
  stripped["added_tokens"].back()["single_word"] = true;
  emit("sentencepiece-strip-single-word", stripped, "a  <image>  world worlds");
  try {
    const json gpt2 = cut_tokenizer_json(g_shared / "tokenizers" / "gpt2" / "tokenizer.json", 300);
    emit("gpt2-cut", gpt2, "The dog lives in Paris. <|endoftext|> It's 3.14!\r\n\ttabs   ");
    // Qwen2's layout: NFC, a Split regex before a regex-less ByteLevel, [a, b] merges, ChatML.
    json qwen = gpt2;
    json pairs = json::array();
    for (const json& rule : qwen["model"]["merges"]) {
      const std::string s = rule.get<std::string>();
      pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
    }
    qwen["model"]["merges"] = pairs;
    qwen["model"]["ignore_merges"] = true;
    const int64_t eot = qwen["model"]["vocab"]["<|endoftext|>"].get<int64_t>();
    qwen["added_tokens"] = {added_token(eot, "<|endoftext|>"), added_token(eot + 1, "<|im_start|>"),
                            added_token(eot + 2, "<|im_end|>")};
    qwen["normalizer"] = {{"type", "NFC"}};
    const json byte_level = {{"type", "ByteLevel"},
                             {"add_prefix_space", false},
                             {"trim_offsets", false},
                             {"use_regex", false}};
    qwen["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern",
            {{"Regex",
              R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          byte_level}}};
    qwen["post_processor"] = byte_level;
    qwen["decoder"] = byte_level;
    emit("qwen2-style", qwen,
         "<|im_start|>user\nWhat's in it? 12345 caf\xC3\xA9<|im_end|>\n<|im_start|>assistant\n");
    // Other split behaviours and Digits, in the places real files use them.
    json digits = gpt2;
    digits["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Digits"}, {"individual_digits", true}},
          {{"type", "Split"},
           {"pattern", {{"String", "-"}}},
           {"behavior", "MergedWithNext"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}}}};
    digits["post_processor"] = {{"type", "RobertaProcessing"},
                                {"sep", {"<|endoftext|>", eot}},
                                {"cls", {"<|endoftext|>", eot}}};
    emit("gpt2-digits-roberta", digits, "well-known 2048-bit keys");
  } catch (const std::exception& e) {
    std::cerr << "seeds: cannot cut the GPT-2 tokenizer.json: " << e.what() << "\n";
  }
  emit("invalid-utf8-text", sentencepiece_style(true), "ok \xFF\xFE bad \xC0\xAF");
}

// ---- chat templates ----------------------------------------------------------------------------

// A chat_template seed: flags, the template, then "role\ncontent" per message (fuzz_chat_template).
std::string chat_seed(uint8_t flags, const std::string& tmpl,
                      const std::vector<std::pair<std::string, std::string>>& messages) {
  std::string out(1, char(flags));
  out += tmpl;
  for (const auto& [role, text] : messages) out += "\n##\n" + role + "\n" + text;
  return out;
}

void chat_template_seeds() {
  // One seed per distinct template of the golden cases (real model templates), with its chat.
  try {
    const json golden =
        json::parse(read(ATMAN_SOURCE_DIR "/tests/data/chat_templates/golden.json"));
    std::set<std::string> seen;
    for (const json& c : golden["cases"]) {
      const std::string tmpl = c["template"].get<std::string>();
      if (!seen.insert(tmpl).second) continue;
      uint8_t flags = 0;
      std::vector<std::pair<std::string, std::string>> messages;
      if (c.contains("chat")) {
        for (const json& m : c["chat"]["messages"]) {
          if (messages.size() == 4) break;
          if (m.value("with_image", false)) flags |= uint8_t(1u << messages.size());
          messages.emplace_back(m.value("role", "user"), m.value("text", ""));
        }
      }
      std::string name = c["name"].get<std::string>();
      std::replace(name.begin(), name.end(), '/', '-');
      seed("fuzz_chat_template", "golden-" + name, chat_seed(flags | 0x40, tmpl, messages));
    }
  } catch (const std::exception& e) {
    std::cerr << "seeds: cannot read the golden chat templates: " << e.what() << "\n";
  }
  const std::vector<std::pair<std::string, std::string>> chat = {{"system", "Be brief."},
                                                                 {"user", "What is it?"},
                                                                 {"assistant", "A square."},
                                                                 {"user", "Colour?"}};
  const std::pair<const char*, const char*> cases[] = {
      {"deep-nesting",
       "{% for a in messages %}{% for b in messages %}{% for c in messages %}{% if a.role == "
       "'user' %}"
       "{% if b.role != c.role %}{{ (((a.content ~ b.content) | length) * 2) }}{% endif %}{% endif "
       "%}"
       "{% endfor %}{% endfor %}{% endfor %}"},
      {"macros",
       "{% macro fmt(m, prefix='> ') %}{{ prefix }}{{ m.role | upper }}: {{ m.content | trim "
       "}}\n{% endmacro %}"
       "{% macro twice(m) %}{{ fmt(m) }}{{ fmt(m, prefix='>> ') }}{% endmacro %}"
       "{% for m in messages %}{{ twice(m) }}{% endfor %}"},
      {"recursive-macro",
       "{% macro r(n) %}{{ n }}{% if n > 0 %}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(30) }}"},
      {"loops-and-controls",
       "{% set ns = namespace(count=0, last='') %}{% for m in messages if m.role != 'system' %}"
       "{% if loop.first %}[{% endif %}{% if m.content == '' %}{% continue %}{% endif %}"
       "{% set ns.count = ns.count + 1 %}{% set ns.last = m.role %}{{ loop.index }}/{{ loop.length "
       "}}"
       "{% if loop.index > 10 %}{% break %}{% endif %}{% if not loop.last %},{% endif %}{% else "
       "%}empty"
       "{% endfor %}]{{ ns.count }} {{ ns.last }}{% for i in range(3, 12, 4) %}{{ i }}{% endfor "
       "%}"},
      {"filters",
       "{{ messages | map(attribute='content') | join(' | ') }}{{ messages | selectattr('role', "
       "'equalto', 'user') | list | length }}"
       "{{ messages | tojson }}{{ messages | tojson(indent=2) }}{{ 'a,b,,c'.split(',') | reverse | "
       "join('-') }}"
       "{{ messages[-1].content | replace('?', '!') | title }}{{ messages[1:3] | "
       "map(attribute='role') | unique | list }}"
       "{{ ('x' * 5)[::2] | center(9) }}{{ 3.7 | int }}{{ '%s-%d' | format('a', 2) if false else "
       "'no' }}"
       "{{ {'b': 1, 'a': 2} | dictsort | first }}{{ messages | default([]) | count }}"},
      {"set-block-and-whitespace",
       "{%- set sys -%}\n  {{- messages[0].content | default('none') -}}\n{%- endset %}\n"
       "  {%+ if sys %}<<{{ sys }}>>{% endif %}\n{# comment #}\n{{ bos_token }}{% generation %}x{% "
       "endgeneration %}{{ eos_token }}"},
      {"raise",
       "{% if messages | length > 1 %}{{ raise_exception('only one message: ' ~ messages | length) "
       "}}{% endif %}"},
      {"strings-and-tests",
       "{% for m in messages %}{% if m.content is string and m.content is not none %}{{ "
       "m.content.startswith('W') }}"
       "{{ m.content.lower().strip('?') }}{{ m['content'][0] }}{{ m.get('missing', 'dflt') }}{% "
       "endif %}"
       "{% if m is mapping and m.role in ['user', 'system'] %}{{ m.items() | list | length }}{% "
       "endif %}{% endfor %}"
       "{{ strftime_now('%Y') | length }}{{ (1 / 3) | round(2) }}{{ 2 ** 10 // 3 % 7 }}{{ -1 < 0 < "
       "1 }}"},
      {"growth",
       "{% set s = namespace(t='ab') %}{% for i in range(30) %}{% set s.t = s.t ~ s.t %}{% endfor "
       "%}{{ s.t | length }}"},
      {"big-loop",
       "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"},
      {"content-parts",
       "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{% for p in "
       "m.content %}"
       "{% if p.type == 'image' %}<image>{% elif p['type'] == 'text' %}{{ p.text }}{% endif %}{% "
       "endfor %}{% endif %}{% endfor %}"},
  };
  for (const auto& [name, tmpl] : cases)
    seed("fuzz_chat_template", name, chat_seed(0x01, tmpl, chat));
  seed("fuzz_chat_template", "odd-vars",
       chat_seed(0x30,
                 "{{ bos_token ~ eos_token }}{{ pad_token[1] + 1 }}{{ messages | length }}{{ "
                 "undefined_name.attr }}",
                 {}));
}
}  // namespace

// ---- SentencePiece models ------------------------------------------------------------------

// Written by the tests' protobuf writer: a T5/SigLIP-style Unigram vocabulary, with and without an
// nmt_nfkc-like charsmap, user-defined and unused pieces, and byte fallback.
void spiece_seeds() {
  using namespace atman::test;
  const std::string sep = "\n##\n", u = "\xE2\x96\x81";
  SpModel m;
  m.pieces = {{"<pad>", 0, kControl},
              {"</s>", 0, kControl},
              {"<unk>", 0, kUnknown},
              {u, -2},
              {u + "a", -1.5f},
              {u + "cat", -2},
              {"at", -2.5f},
              {"c", -3},
              {"<ud>", 0, kUserDefined},
              {u + "x", -0.5f, kUnused},
              {"<", -4},
              {">", -4},
              {"u", -4},
              {"n", -4},
              {"k", -4},
              {"fi", -1}};
  const std::string config = R"({"tokenizer_class":"SiglipTokenizer","do_lower_case":true})";
  seed("fuzz_spiece", "unigram",
       std::string(1, '\1') + write_model_proto(m) + sep + "A cat!  <ud> \xE5\xA4\x9A</s>" + sep +
           config);
  m.normalizer_name = "nmt_nfkc";
  m.charsmap = write_charsmap(
      {{u, " "}, {"\xEF\xAC\x81", "fi"}, {"\xEF\xBC\xA1", "A"}, {"\xE2\x80\x8B", ""}});
  seed("fuzz_spiece", "charsmap",
       std::string(1, '\1') + write_model_proto(m) + sep + "\xEF\xAC\x81 \xEF\xBC\xA1\xE2\x80\x8B" +
           u + "cat" + sep);
  m.add_dummy_prefix = false;
  m.remove_extra_whitespaces = false;
  m.byte_fallback = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    m.pieces.push_back({name, 0, kByte});
  }
  seed("fuzz_spiece", "byte-fallback",
       std::string(1, '\0') + write_model_proto(m) + sep + "a  \xE5\xA4\x9A\xFF cat");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: atman_fuzz_seeds OUT_DIR [SHARED_DIR]\n";
    return 2;
  }
  g_out = argv[1];
  g_shared = argc > 2 ? fs::path(argv[2]) : fs::path(ATMAN_SHARED_DIR);
  fs::create_directories(g_out);
  try {
    safetensors_seeds();
    index_seeds();
    config_seeds();
    tokenizer_seeds();
    bpe_seeds();
    tokenizer_json_seeds();
    spiece_seeds();
    chat_template_seeds();
    image_seeds();
    explanation_seeds();
  } catch (const std::exception& e) {
    std::cerr << "atman_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  std::cout << "atman_fuzz_seeds: wrote " << g_written << " seeds under " << g_out.string() << "\n";
  return 0;
}
