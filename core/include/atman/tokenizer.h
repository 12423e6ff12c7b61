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
  // text (CLIP's start/end) get an empty span at 0 or at the text's end. A byte-level token that
  // holds only part of a multi-byte character covers the whole character, so neighbouring spans
  // may overlap by that character; spans never go backwards. For CLIP the spans point into the
  // text as typed, before html.unescape / whitespace clean-up / lower-casing ("&amp;" -> "&"
  // covers all five characters, a run of spaces belongs to no token).
  std::vector<std::pair<int64_t, int64_t>> spans;
};

// Thread-safe: encode/decode may be called from several threads at once (the per-word BPE cache is
// locked internally).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Throws InputError for text that is not valid UTF-8.
  virtual Encoding encode(std::string_view text) const = 0;
  // Token ids back to UTF-8 text; bytes that do not form whole characters become U+FFFD (Python's
  // errors="replace"). GPT-2: exact inverse of encode(), added tokens written as they are (no
  // spaces inserted around them, unlike HF's default). CLIP: start/end skipped, "</w>" -> " ",
  // stripped. Throws InputError for an id outside the vocabulary.
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // Id of a special/added token such as "<|endoftext|>" or "<image>"; -1 when absent.
  virtual int64_t special_token_id(std::string_view token) const = 0;
};

// CLIP BPE (OpenAI SimpleTokenizer semantics, ftfy omitted): adds <|startoftext|> and
// <|endoftext|>; no padding or truncation. Throws ModelError naming the file for a missing or
// malformed vocab.json / merges.txt, or files that do not belong together.
std::unique_ptr<Tokenizer> load_clip_tokenizer(const std::filesystem::path& vocab_json,
                                               const std::filesystem::path& merges_txt);
// GPT-2 byte-level BPE (HF GPT2Tokenizer semantics): no BOS/EOS added; added tokens from
// added_tokens.json / tokenizer_config.json of the same folder are matched literally, as is
// <|endoftext|>. Needs vocab.json and merges.txt; throws ModelError naming the folder or file.
std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::filesystem::path& model_dir);

// A Hugging Face `tokenizers` file (tokenizer.json) with a BPE model, with HF's fast-tokenizer
// semantics: byte-level (GPT-2, Llama 3, Qwen2.5/3, Mistral-Nemo, SmolLM2, OLMo 2) or
// SentencePiece-style with byte fallback (Llama-2, Mistral, Gemma 2/3, Phi-3, LLaVA-1.5); added
// tokens, the normalizer, pre-tokenizer, post-processor
// (BOS/EOS, which get empty spans at 0 / at the text's end; a prefix the text already starts
// with, such as the bos_token a chat template writes, is not added twice) and decoder as the file
// says. A "▁"
// that stands for a space covers that space; one the tokenizer prepends covers nothing. Throws
// ModelError naming the file and the component it cannot reproduce exactly (docs/tokenizers.md
// lists what is supported). An NFC/NFKC normalizer composes characters: the composed character
// covers the spans of all its parts.
std::unique_ptr<Tokenizer> load_hf_tokenizer_json(const std::filesystem::path& tokenizer_json);

// SigLIP's SentencePiece Unigram tokenizer from a folder's spiece.model, with transformers'
// SiglipTokenizer semantics: lower-cased (tokenizer_config.json's do_lower_case, default true),
// ASCII punctuation removed and white space collapsed (canonicalize_text), SentencePiece's own
// normalizer (the file's precompiled charsmap, e.g. nmt_nfkc) and Unigram Viterbi encoding, eos
// appended. No padding: the model pads to its length. decode() skips special tokens. Throws
// ModelError naming the file for a malformed or unsupported model (docs/tokenizers.md).
std::unique_ptr<Tokenizer> load_siglip_tokenizer(const std::filesystem::path& model_dir);

// Picks the tokenizer a model folder uses from its files and config: CLIP for config.json
// model_type "clip", a CLIPTokenizer tokenizer_config.json, or a vocabulary with <|startoftext|>;
// otherwise the folder's tokenizer.json when it has one (as HF's fast tokenizers do; for a
// Llama/Gemma/CodeLlama tokenizer_class, BOS/EOS as tokenizer_config.json's add_bos_token /
// add_eos_token say, as transformers rebuilds the post-processor), else SigLIP's spiece.model
// (load_siglip_tokenizer), else GPT-2 style byte-level BPE from vocab.json + merges.txt (also for
// LLaVA folders).
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

}  // namespace atman
