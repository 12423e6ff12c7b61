// A Hugging Face `tokenizers` pipeline (what tokenizer.json describes) for BPE models:
// added tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor, and the decoder chain.
// hf_tokenizer_json.cpp reads the file into a TokenizerSpec; hf_pipeline.cpp runs the text steps
// on MappedText so that every token keeps the code-point span it came from; hf_tokenizer.cpp is
// the Tokenizer.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "atman/tokenizer.h"
#include "text/unicode.h"
#include "tokenizers/bpe.h"
#include "tokenizers/pcre_regex.h"

namespace atman::tokenizers::hf {

// A tokenizer.json pattern: {"String": "..."} (literal) or {"Regex": "..."}.
struct Pattern {
  std::string literal;                 // used when `regex` is null
  std::shared_ptr<const Regex> regex;  // shared: steps are copied, compiled patterns are not

  // Non-overlapping matches [begin, end) in bytes of valid UTF-8 `text`, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
};

struct NormalizerStep {
  enum class Kind { kPrepend, kReplace, kNfc, kNfkc, kStrip, kLowercase };
  Kind kind;
  std::u32string text;  // kPrepend: what goes in front; kReplace: the replacement
  Pattern pattern;      // kReplace
  bool strip_left = false, strip_right = false;  // kStrip: white space at either end
};

// HF's SplitDelimiterBehavior: what becomes of the pattern's matches.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
enum class PrependScheme { kAlways, kFirst, kNever };

struct PreTokenizerStep {
  // kPrefixSpace is ByteLevel's add_prefix_space; ByteLevel's own regex is a kSplit step.
  enum class Kind { kSplit, kMetaspace, kPrefixSpace };
  Kind kind = Kind::kSplit;
  Pattern pattern;  // kSplit
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  char32_t replacement = U'\u2581';  // kMetaspace
  PrependScheme prepend = PrependScheme::kAlways;
  bool split = true;
};

struct DecoderStep {
  enum class Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip };
  Kind kind = Kind::kByteLevel;
  Pattern pattern;      // kReplace
  std::string content;  // kReplace: the replacement; kStrip: the character stripped
  std::string replacement = "\xE2\x96\x81";  // kMetaspace
  bool strip_first = true;  // kMetaspace: drop the first token's leading replacement
  int start = 0, stop = 0;  // kStrip: how many to strip at either end of each token
};

struct AddedToken {
  std::u32string content;  // as matched (normalized through the normalizer when `normalized`)
  std::string text;        // as written in tokenizer.json: the token string and its decoding
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;       // the whitespace before it belongs to no token
  bool rstrip = false;       // the whitespace after it belongs to no token
  bool single_word = false;  // only matched when no word character touches it
  bool normalized = false;   // matched in the normalized text rather than the original
};

struct TokenizerSpec {
  std::filesystem::path path;  // names the file in errors
  Vocab vocab;
  std::vector<MergeRule> merges;
  BpeOptions bpe;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  bool has_decoder = false;  // without one, HF joins the tokens with spaces
  std::vector<DecoderStep> decoder;
  std::vector<AddedToken> added;
  // What the post-processor adds around the text's tokens (e.g. Llama's BOS "<s>").
  std::vector<std::pair<int32_t, std::string>> prefix, suffix;
};

// tokenizer.json -> TokenizerSpec; ModelError naming the file and the component otherwise.
TokenizerSpec parse_tokenizer_json(const std::filesystem::path& path);
// What transformers' LlamaTokenizerFast / GemmaTokenizerFast do on loading: the post-processor
// becomes "[bos] $A [eos]" with each token only when given (add_bos_token / add_eos_token of
// tokenizer_config.json), whatever tokenizer.json says. A token must be an added token or in the
// vocabulary; ModelError naming `config` otherwise.
void set_bos_eos(TokenizerSpec& spec, const std::optional<std::string>& bos,
                 const std::optional<std::string>& eos, const std::filesystem::path& config);
std::unique_ptr<Tokenizer> make_hf_tokenizer(TokenizerSpec spec);

// text[begin, end) with its origins.
text::MappedText slice(const text::MappedText& t, size_t begin, size_t end);
// The text steps (hf_pipeline.cpp).
void normalize(const std::vector<NormalizerStep>& steps, text::MappedText& text);
std::vector<text::MappedText> pre_tokenize(const std::vector<PreTokenizerStep>& steps,
                                           text::MappedText text);
// Token strings (vocabulary and added tokens alike, as HF's decoders see them) -> UTF-8 bytes.
// The caller repairs the result's UTF-8.
std::string decode_tokens(const std::vector<DecoderStep>& steps, bool has_decoder,
                          std::vector<std::string> tokens);

// Oniguruma's `\s` / `\S` (Unicode White_Space, as in HF's Rust regexes) spelled out for PCRE2,
// whose own `\s` misses U+0085.
std::string onig_to_pcre(std::string_view pattern);

}  // namespace atman::tokenizers::hf
