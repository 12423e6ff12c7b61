// Tokenizers with exact Hugging Face / OpenAI semantics and the character span of every token in
// the original text (the GUI colours those spans).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atman {

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;  // vocabulary strings, e.g. "panda</w>" or "Ġpanda"
  // [begin, end) in Unicode code points of the original text; special tokens that stand for no
  // text (CLIP's start/end) get an empty span at 0 or at the text's end.
  std::vector<std::pair<int64_t, int64_t>> spans;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Throws InputError for text that is not valid UTF-8.
  virtual Encoding encode(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // Id of a special/added token such as "<|endoftext|>" or "<image>"; -1 when absent.
  virtual int64_t special_token_id(std::string_view token) const = 0;
};

// CLIP BPE (OpenAI SimpleTokenizer semantics): adds <|startoftext|> and <|endoftext|>; no padding.
std::unique_ptr<Tokenizer> load_clip_tokenizer(const std::filesystem::path& vocab_json,
                                               const std::filesystem::path& merges_txt);
// GPT-2 byte-level BPE (HF GPT2Tokenizer semantics): no BOS/EOS added; added tokens from
// added_tokens.json / tokenizer_config.json of the same folder are matched literally.
std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::filesystem::path& model_dir);

// Picks the tokenizer a model folder uses (CLIP vs byte-level BPE) from its files and config.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

}  // namespace atman
