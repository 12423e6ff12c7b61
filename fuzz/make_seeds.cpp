// Writes the seed corpora of the fuzz harnesses: atman_fuzz_seeds OUT_DIR [SHARED_DIR]
//
// Seeds are made at run time from ../shared (model configs, cut-down tokenizer files, images
// re-encoded small, prompts) plus small hand-written cases, so the repository holds no copies of
// shared files. One folder per harness: OUT_DIR/<harness>/<name>.
#include <ATen/ATen.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "atman/error.h"
#include "atman/explanation.h"
#include "atman/safetensors.h"

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
  emit("all-dtypes", {{"f32", at::arange(4, at::kFloat)},
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
  emit("empty-and-scalar", {{"empty", at::zeros({0, 5}, at::kFloat)}, {"scalar", at::ones({}, at::kFloat)}});
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
  seed("fuzz_safetensors", "overlap",
       raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  seed("fuzz_safetensors", "out-of-range", raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4));
  seed("fuzz_safetensors", "terabyte-header", raw("{}", 0, 1ull << 40));
  seed("fuzz_safetensors", "huge-shape",
       raw(R"({"a":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]}})", 0));
}

void index_seeds() {
  const std::string shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors";
  json index = {{"metadata", {{"total_size", 52}}},
                {"weight_map",
                 {{"embed.weight", shard1}, {"embed.bias", shard1}, {"head.weight", shard2},
                  {"head.position_ids", shard2}}}};
  seed("fuzz_checkpoint_index", "valid", index.dump(2));
  index["weight_map"]["head.broken"] = shard2;
  seed("fuzz_checkpoint_index", "nan-tensor", index.dump());
  seed("fuzz_checkpoint_index", "traversal", json({{"weight_map", {{"embed.weight", "../../etc/passwd"}}}}).dump());
  seed("fuzz_checkpoint_index", "not-a-shard", json({{"weight_map", {{"embed.weight", "notes.txt"}}}}).dump());
  seed("fuzz_checkpoint_index", "missing-tensor", json({{"weight_map", {{"nothing", shard1}}}}).dump());
}

// ---- configs -------------------------------------------------------------------------------------

void config_seeds() {
  for (const char* model : {"shapes-clip", "facts-gpt2", "shapes-llava"}) {
    seed_file("fuzz_config", std::string(model) + "-config", g_shared / "models" / model / "config.json");
    seed_file("fuzz_config", std::string(model) + "-preprocessor",
              g_shared / "models" / model / "preprocessor_config.json");
  }
  seed("fuzz_config", "llama",
       R"({"model_type":"llama","vocab_size":64,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":2,)"
       R"("num_attention_heads":4,"num_key_value_heads":2,"rope_theta":10000.0,"max_position_embeddings":64,)"
       R"("eos_token_id":[2,3],"rope_scaling":null})");
  seed("fuzz_config", "qwen2",
       R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":64,"hidden_size":32,"intermediate_size":64,)"
       R"("num_hidden_layers":2,"num_attention_heads":4,"head_dim":16,"tie_word_embeddings":true})");
  seed("fuzz_config", "mistral",
       R"({"model_type":"mistral","vocab_size":64,"hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,)"
       R"("num_attention_heads":4,"rope_scaling":{"type":"linear","factor":2.0}})");
  seed("fuzz_config", "clip-dict",
       R"({"model_type":"clip","text_config_dict":{"hidden_size":32.0},"vision_config_dict":{"image_size":30,"patch_size":7}})");
  seed("fuzz_config", "preprocess-fixed",
       R"({"size":{"height":24,"width":20},"do_center_crop":false,"resample":1,"image_mean":0.5,"image_std":[0.5,0.5,0.5]})");
}

// ---- tokenizers ----------------------------------------------------------------------------------

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
    const bool byte_symbol = token.size() <= 2 || (clip && token.size() <= 6 && token.ends_with("</w>"));
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
         std::string(1, '\0') + gpt2_vocab + sep + gpt2_merges + sep + sep + sep + "The dog lives in Paris.");
    seed("fuzz_tokenizer_files", "llava-cut",
         std::string(1, '\0') + gpt2_vocab + sep + gpt2_merges + sep + read(models / "shapes-llava" / "added_tokens.json") +
             sep + read(models / "shapes-llava" / "tokenizer_config.json") + sep + "<image>\nQuestion: What is it? Answer:");
    auto [clip_vocab, clip_merges] = cut_tokenizer(models / "shapes-clip", 300, true);
    seed("fuzz_tokenizer_files", "clip-cut",
         std::string(1, '\0') + clip_vocab + sep + clip_merges + sep + sep + sep + "a photo of a blue square &amp; more");
  } catch (const std::exception& e) {
    std::cerr << "seeds: cannot cut the bundled tokenizers: " << e.what() << "\n";
  }
  // Byte alphabet supplied by the harness (flag bit 0), a few merges on top.
  seed("fuzz_tokenizer_files", "alphabet-gpt2",
       std::string(1, '\x01') + R"("he":600,"hel":601,"hell":602,"hello":603,"Ġw":604)" + sep + "#version: 0.2\nh e\nhe l\nhel l\nhell o\nĠ w\n" +
           sep + R"({"<pad>": 605})" + sep +
           R"({"added_tokens_decoder":{"606":{"content":"<sep>","lstrip":true,"rstrip":true}},"eos_token":"<pad>"})" + sep +
           "hello world <sep> hello<pad>");
  seed("fuzz_tokenizer_files", "alphabet-clip",
       std::string(1, '\x03') + R"("he":600,"hello</w>":601,"hel":602,"hell":603)" + sep + "h e\nhe l\nhel l\nhell o</w>\n" + sep + sep +
           R"({"tokenizer_class":"CLIPTokenizer"})" + sep + "Hello HELLO &lt;hello&gt; <|endoftext|>");
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

// ---- images --------------------------------------------------------------------------------------

void image_seeds() {
  cv::Mat photo = cv::imread((g_shared / "data" / "shapes-eval" / "000.png").string(), cv::IMREAD_COLOR);
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
  patches.explained = "patches";
  patches.mode = "correlated";
  patches.kappa = 0.7;
  patches.variant = "multiplicative";
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
  tokens.explained = "tokens";
  tokens.mode = "single";
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

}  // namespace

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
    image_seeds();
    explanation_seeds();
  } catch (const std::exception& e) {
    std::cerr << "atman_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  std::cout << "atman_fuzz_seeds: wrote " << g_written << " seeds under " << g_out.string() << "\n";
  return 0;
}
