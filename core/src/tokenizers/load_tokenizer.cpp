// Chooses between the CLIP and the GPT-2 tokenizer for a Hugging Face model folder.
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
  const char* why = "the tokenizer needs vocab.json and merges.txt";
  const auto vocab_path = tokenizers::require_file(model_dir, "vocab.json", why);
  const auto merges_path = tokenizers::require_file(model_dir, "merges.txt", why);
  // A LLaVA folder says "llava" but tokenizes with its language model's (GPT-2 style) tokenizer;
  // only a CLIP model itself, or a folder holding a CLIP tokenizer, uses CLIP's.
  const bool clip =
      model_type == "clip" || model_type == "clip_text_model" ||
      tokenizer_class.starts_with("CLIPTokenizer") ||
      (!tokenizer_class.starts_with("GPT2Tokenizer") && vocab_has_start_of_text(vocab_path));
  if (clip) return load_clip_tokenizer(vocab_path, merges_path);
  return load_gpt2_tokenizer(model_dir);
}

}  // namespace atman
