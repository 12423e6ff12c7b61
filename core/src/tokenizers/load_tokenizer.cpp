// Chooses the CLIP, tokenizer.json or GPT-2 tokenizer for a Hugging Face model folder.
#include <fstream>
#include <iterator>
#include <string>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "tokenizers/hf_tokenizer.h"
#include "tokenizers/model_files.h"

namespace atman {
namespace {

std::string string_field(const std::optional<nlohmann::json>& j, const char* key) {
  if (!j || !j->is_object() || !j->contains(key) || !(*j)[key].is_string()) return {};
  return (*j)[key].get<std::string>();
}

// A special token of tokenizer_config.json ("<s>" or {"content": "<s>", ...}), else of
// special_tokens_map.json; nullopt when neither names it or it is null.
std::optional<std::string> special_token(const std::optional<nlohmann::json>& config,
                                         const std::optional<nlohmann::json>& map,
                                         const char* key) {
  for (const auto* j : {&config, &map}) {
    if (!*j || !(*j)->is_object() || !(*j)->contains(key)) continue;
    const nlohmann::json& v = (**j)[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      return v["content"].get<std::string>();
    }
    return std::nullopt;  // null: the tokenizer has no such token
  }
  return std::nullopt;
}

bool flag(const std::optional<nlohmann::json>& config, const char* key, bool fallback) {
  if (!config || !config->is_object() || !config->contains(key)) return fallback;
  const nlohmann::json& v = (*config)[key];
  return v.is_boolean() ? v.get<bool>() : fallback;
}

// tokenizer.json, and for the tokenizer classes whose transformers constructor rebuilds the
// post-processor (LlamaTokenizerFast, GemmaTokenizerFast, CodeLlamaTokenizerFast call
// update_post_processor()), BOS/EOS as tokenizer_config.json's add_bos_token (default true) and
// add_eos_token (default false) say, even where tokenizer.json's template disagrees.
// PreTrainedTokenizerFast, GPT2TokenizerFast, Qwen2TokenizerFast... keep the file's
// post-processor.
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& model_dir,
                                               const std::filesystem::path& tokenizer_json,
                                               const std::optional<nlohmann::json>& config,
                                               std::string tokenizer_class) {
  auto spec = tokenizers::hf::parse_tokenizer_json(tokenizer_json);
  if (tokenizer_class.ends_with("Fast")) tokenizer_class.resize(tokenizer_class.size() - 4);
  // transformers' Siglip2Tokenizer (SigLIP 2 checkpoints that name it) is Gemma's tokenizer with a
  // Lowercase normalizer put in front of the file's: SigLIP 2 was trained on lower-cased text.
  if (tokenizer_class == "Siglip2Tokenizer")
    spec.normalizer.insert(spec.normalizer.begin(),
                           {tokenizers::hf::NormalizerStep::Kind::kLowercase, {}, {}});
  const bool gemma = tokenizer_class == "GemmaTokenizer";
  if (gemma || tokenizer_class == "LlamaTokenizer" || tokenizer_class == "CodeLlamaTokenizer") {
    const auto map = tokenizers::read_optional_json(model_dir / "special_tokens_map.json");
    const auto config_path = model_dir / "tokenizer_config.json";
    auto token = [&](const char* key, const char* class_default) {
      const bool named = (config && config->contains(key)) || (map && map->contains(key));
      auto t = special_token(config, map, key);
      return named ? t : std::optional<std::string>(class_default);
    };
    std::optional<std::string> bos, eos;
    if (flag(config, "add_bos_token", true)) {
      bos = token("bos_token", gemma ? "<bos>" : "<s>");
      if (!bos) {
        throw ModelError(config_path.string() + ": add_bos_token is true but bos_token is null.");
      }
    }
    if (flag(config, "add_eos_token", false)) {
      eos = token("eos_token", gemma ? "<eos>" : "</s>");
      if (!eos) {
        throw ModelError(config_path.string() + ": add_eos_token is true but eos_token is null.");
      }
    }
    tokenizers::hf::set_bos_eos(spec, bos, eos, config_path);
  }
  return tokenizers::hf::make_hf_tokenizer(std::move(spec));
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
  const auto config = tokenizers::read_optional_json(model_dir / "tokenizer_config.json");
  const std::string tokenizer_class = string_field(config, "tokenizer_class");
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
    return load_tokenizer_json(model_dir, tokenizer_json, config, tokenizer_class);
  }
  // SigLIP 1 repos ship only SentencePiece's spiece.model (SiglipTokenizer has no fast twin).
  if (!clip && !has_vocab && std::filesystem::is_regular_file(model_dir / "spiece.model", ec)) {
    if (tokenizer_class.empty() || tokenizer_class.starts_with("SiglipTokenizer") ||
        model_type == "siglip" || model_type == "siglip_text_model")
      return load_siglip_tokenizer(model_dir);
    throw ModelError("The model folder '" + model_dir.string() + "' has only a SentencePiece " +
                     "spiece.model for tokenizer_class '" + tokenizer_class +
                     "'; only SigLIP's (SiglipTokenizer) is read from spiece.model. Add the "
                     "model's tokenizer.json.");
  }
  // (Worded as before tokenizer.json was read: docs/RELIABILITY.md and tests quote it.)
  const char* why = "the tokenizer needs vocab.json and merges.txt";
  const auto vocab_path = tokenizers::require_file(model_dir, "vocab.json", why);
  const auto merges_path = tokenizers::require_file(model_dir, "merges.txt", why);
  if (clip) return load_clip_tokenizer(vocab_path, merges_path);
  return load_gpt2_tokenizer(model_dir);
}

}  // namespace atman
