// Chooses the CLIP, tokenizer.json or GPT-2 tokenizer for a Hugging Face model folder.
#include <fstream>
#include <iterator>
#include <string>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "tokenizers/model_files.h"

namespace atman {
namespace {

std::string string_field(const std::optional<nlohmann::json>& j, const char* key) {
  if (!j || !j->is_object() || !j->contains(key) || !(*j)[key].is_string()) return {};
  return (*j)[key].get<std::string>();
}

// A CLIP vocabulary has a start-of-text token; byte-level GPT-2 style ones do not.
bool vocab_has_start_of_text(const std::filesystem::path& vocab_path) {
  std::ifstream in(vocab_path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.find("\"<|startoftext|>\"") != std::string::npos;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir) {
  tokenizers::require_folder(model_dir);
  const std::string model_type =
      string_field(tokenizers::read_optional_json(model_dir / "config.json"), "model_type");
  const std::string tokenizer_class = string_field(
      tokenizers::read_optional_json(model_dir / "tokenizer_config.json"), "tokenizer_class");
  std::error_code ec;
  const auto tokenizer_json = model_dir / "tokenizer.json";
  const bool has_tokenizer_json = std::filesystem::is_regular_file(tokenizer_json, ec);
  const bool has_vocab = std::filesystem::is_regular_file(model_dir / "vocab.json", ec);
  // A LLaVA folder says "llava" but tokenizes with its language model's tokenizer; only a CLIP
  // model itself, or a folder holding a CLIP tokenizer, uses CLIP's.
  const bool clip = model_type == "clip" || model_type == "clip_text_model" ||
                    tokenizer_class.starts_with("CLIPTokenizer") ||
                    (!tokenizer_class.starts_with("GPT2Tokenizer") && has_vocab &&
                     vocab_has_start_of_text(model_dir / "vocab.json"));
  if (!clip && has_tokenizer_json) {
    // tokenizer.json describes the whole pipeline (Qwen2's pre-tokenizer regex, Llama's
    // SentencePiece-style BPE); for plain GPT-2 files it gives the same tokens as the files below.
    return load_hf_tokenizer_json(tokenizer_json);
  }
  // (Worded as before tokenizer.json was read: docs/RELIABILITY.md and tests quote it.)
  const char* why = "the tokenizer needs vocab.json and merges.txt";
  const auto vocab_path = tokenizers::require_file(model_dir, "vocab.json", why);
  const auto merges_path = tokenizers::require_file(model_dir, "merges.txt", why);
  if (clip) return load_clip_tokenizer(vocab_path, merges_path);
  return load_gpt2_tokenizer(model_dir);
}

}  // namespace atman
