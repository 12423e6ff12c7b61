// tokenizer.json files with the STRUCTURE of today's LM families (their normalizer, pre-tokenizer,
// post-processor, decoder and added-token flags, written as the real files write them) over tiny
// vocabularies, and the BOS/EOS flags of tokenizer_config.json that transformers applies on
// loading (LlamaTokenizerFast / GemmaTokenizerFast rebuild the post-processor from them).
//
// No Python `tokenizers` is available here: every expected encoding is worked out by hand in the
// comment next to it, from the family's regex and the merges below (lower rank merges first).
#include <QtTest/QtTest>

#include <fstream>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "core/test_support.h"
#include "text/nfc.h"
#include "text/utf8.h"
#include "tokenizers/bpe.h"

using namespace atman;
using atman::test::error_of;
using nlohmann::json;
using Ids = std::vector<int64_t>;
using Spans = std::vector<std::pair<int64_t, int64_t>>;

namespace {

// ---- byte-level vocabulary: ids 0..255 are the bytes, merges make 256.. in rank order ----

// "o W" comes first so that a split between "Hello" and "World" (Mistral-Nemo's regex) is visible:
// in one piece "HelloWorld" it would take the "o" that "Hello" needs.
const std::vector<std::pair<std::string, std::string>> kByteMerges = {
    {"o", "W"},                // 256 "oW"
    {"H", "e"},                // 257
    {"l", "l"},                // 258
    {"He", "ll"},              // 259 "Hell"
    {"Hell", "o"},             // 260 "Hello"
    {"\xC4\xA0", "w"},         // 261 "Ġw"
    {"o", "r"},                // 262 "or"
    {"\xC4\xA0w", "or"},       // 263 "Ġwor"
    {"\xC4\xA0wor", "l"},      // 264
    {"\xC4\xA0worl", "d"},     // 265 "Ġworld"
    {"1", "2"},                // 266
    {"12", "3"},               // 267 "123"
    {"\xC4\x8A", "\xC4\x8A"},  // 268 "ĊĊ" (two newlines)
};
constexpr int64_t kHelloB = 260, kWorldB = 265, k123 = 267, kTwoNewlines = 268, kXyz = 269;

json byte_level_model(bool ignore_merges) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[tokenizers::alphabet_string(std::string(1, char(b)))] = b;
  json merges = json::array();
  int id = 256;
  for (const auto& [a, b] : kByteMerges) {
    vocab[a + b] = id++;
    merges.push_back({a, b});
  }
  vocab["\xC4\xA0xyz"] = kXyz;  // "Ġxyz": in the vocabulary, but no merge makes it
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", ignore_merges},
          {"vocab", vocab},
          {"merges", merges}};
}

json byte_level(bool add_prefix_space, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}

json split_then_byte_level(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", regex}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            byte_level(false, false)}}};
}

json template_processing(const std::string& bos, int id) {
  return {{"type", "TemplateProcessing"},
          {"single",
           {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
          {"pair",
           {{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
            {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
            {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
          {"special_tokens", {{bos, {{"id", bos}, {"ids", {id}}, {"tokens", {bos}}}}}}};
}

// The regexes as the real tokenizer.json files spell them.
const std::string kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwenRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kTekkenRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Llama 3.x: tiktoken-style Split + ByteLevel without regex, ignore_merges, BOS through a
// Sequence[ByteLevel, TemplateProcessing] post-processor, ByteLevel decoder.
json llama3() {
  return {
      {"version", "1.0"},
      {"added_tokens",
       {test::added_token(300, "<|begin_of_text|>"), test::added_token(301, "<|eot_id|>"),
        test::added_token(302, "<|start_header_id|>"),
        test::added_token(303, "<|end_header_id|>")}},
      {"normalizer", nullptr},
      {"pre_tokenizer", split_then_byte_level(kLlama3Regex)},
      {"post_processor",
       {{"type", "Sequence"},
        {"processors", {byte_level(true, true), template_processing("<|begin_of_text|>", 300)}}}},
      {"decoder", byte_level(true, true)},
      {"model", byte_level_model(true)}};
}

// Qwen2.5 / Qwen3: NFC, Qwen's regex (single digits), no BOS, <think> as a non-special added token.
json qwen() {
  return {{"version", "1.0"},
          {"added_tokens",
           {test::added_token(300, "<|im_start|>"), test::added_token(301, "<|im_end|>"),
            test::added_token(302, "<think>", false), test::added_token(303, "</think>", false)}},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer", split_then_byte_level(kQwenRegex)},
          {"post_processor", byte_level(false, false)},
          {"decoder", byte_level(false, false)},
          {"model", byte_level_model(false)}};
}

// Mistral-Nemo (Tekken converted to tokenizer.json): the case-splitting regex, BOS <s>.
json mistral_nemo() {
  json j = llama3();
  j["added_tokens"] = {test::added_token(300, "<s>"), test::added_token(301, "</s>"),
                       test::added_token(302, "[INST]"), test::added_token(303, "[/INST]")};
  j["pre_tokenizer"] = split_then_byte_level(kTekkenRegex);
  j["post_processor"] = template_processing("<s>", 300);
  j["model"] = byte_level_model(true);  // transformers' MistralConverter sets ignore_merges
  return j;
}

// SmolLM2: Digits(individual_digits) before a GPT-2 ByteLevel with its own regex.
json smollm2() {
  return {{"version", "1.0"},
          {"added_tokens",
           {test::added_token(300, "<|endoftext|>"), test::added_token(301, "<|im_start|>"),
            test::added_token(302, "<|im_end|>")}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(false, true)}}}},
          {"post_processor", byte_level(true, false)},
          {"decoder", byte_level(true, true)},
          {"model", byte_level_model(false)}};
}

// ---- SentencePiece-style BPE (Gemma, Phi-3): specials, 256 "<0xNN>" tokens (0x100..), pieces
// (0x200..), added chat tokens from 1000 ----

const std::vector<std::string> kPieces = {
    "\xE2\x96\x81", "H", "e", "l", "o", "w", "r", "d", "a", "b",  // single characters
};
const std::vector<std::pair<std::string, std::string>> kPieceMerges = {
    {"H", "e"},                        // He
    {"l", "l"},                        // ll
    {"He", "ll"},                      // Hell
    {"Hell", "o"},                     // Hello
    {"\xE2\x96\x81", "w"},             // ▁w
    {"o", "r"},                        // or
    {"\xE2\x96\x81w", "or"},           // ▁wor
    {"\xE2\x96\x81wor", "l"},          // ▁worl
    {"\xE2\x96\x81worl", "d"},         // ▁world
    {"\xE2\x96\x81", "\xE2\x96\x81"},  // ▁▁
    {"\xE2\x96\x81", "Hello"},         // ▁Hello
};

struct SpVocab {
  json model;
  std::map<std::string, int64_t> id;               // piece -> id
  int64_t byte(int b) const { return 0x100 + b; }  // "<0xNN>"
};

// ids: `specials` first, then (from 0x100) the 256 byte tokens, then pieces and merge results.
SpVocab sp_vocab(const std::vector<std::string>& specials) {
  SpVocab v;
  json vocab = json::object();
  for (size_t i = 0; i < specials.size(); ++i) vocab[specials[i]] = static_cast<int>(i);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = 0x100 + b;
  }
  int next = 0x200;
  auto add = [&](const std::string& piece) {
    if (vocab.contains(piece)) return;
    v.id[piece] = next;
    vocab[piece] = next++;
  };
  for (const auto& p : kPieces) add(p);
  json merges = json::array();
  for (const auto& [a, b] : kPieceMerges) {
    add(a + b);
    merges.push_back(a + " " + b);  // the older "a b" spelling, as Gemma's files have it
  }
  v.model = {{"type", "BPE"},
             {"dropout", nullptr},
             {"unk_token", specials.size() > 3 ? specials[3] : specials[0]},
             {"continuing_subword_prefix", nullptr},
             {"end_of_word_suffix", nullptr},
             {"fuse_unk", true},
             {"byte_fallback", true},
             {"ignore_merges", false},
             {"vocab", vocab},
             {"merges", merges}};
  return v;
}

json replace_space_with_lowline() {
  return {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}};
}

// Gemma 2 / 3 (transformers' GemmaConverter): spaces become "▁" (no prefix "▁"); the pre-tokenizer
// splits on " " merged with the previous piece, which finds no space left after the normalizer;
// byte fallback; <bos> template; decoder Replace + ByteFallback + Fuse (no Strip: decoding is an
// exact inverse).
json gemma(const SpVocab& v) {
  return {{"version", "1.0"},
          {"added_tokens",
           {test::added_token(0, "<pad>"), test::added_token(1, "<eos>"),
            test::added_token(2, "<bos>"), test::added_token(3, "<unk>"),
            test::added_token(1000, "<start_of_turn>"), test::added_token(1001, "<end_of_turn>")}},
          {"normalizer", replace_space_with_lowline()},
          {"pre_tokenizer",
           {{"type", "Split"},
            {"pattern", {{"String", " "}}},
            {"behavior", "MergedWithPrevious"},
            {"invert", false}}},
          {"post_processor", template_processing("<bos>", 2)},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}}}}}},
          {"model", v.model}};
}

// Phi-3: Llama-2 "legacy" SentencePiece (Prepend "▁" + Replace), chat tokens with rstrip.
json phi3(const SpVocab& v) {
  json rstripped = json::array();
  for (const auto& [id, text] : std::vector<std::pair<int, std::string>>{
           {1001, "<|assistant|>"}, {1002, "<|end|>"}, {1003, "<|user|>"}}) {
    json t = test::added_token(id, text);
    t["rstrip"] = true;
    rstripped.push_back(t);
  }
  json tokens = {test::added_token(0, "<unk>"), test::added_token(1, "<s>"),
                 test::added_token(2, "</s>"), test::added_token(1000, "<|endoftext|>")};
  for (const auto& t : rstripped) tokens.push_back(t);
  return {{"version", "1.0"},
          {"added_tokens", tokens},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}}, replace_space_with_lowline()}}}},
          {"pre_tokenizer", nullptr},
          {"post_processor", template_processing("<s>", 1)},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
          {"model", v.model}};
}

}  // namespace

class TestTokenizerFamilies : public QObject {
  Q_OBJECT

  QTemporaryDir tmp_;

  std::filesystem::path path(const std::string& name) const {
    return std::filesystem::path(tmp_.path().toStdString()) / name;
  }
  std::unique_ptr<Tokenizer> load(const std::string& name, const json& j) {
    std::ofstream(path(name), std::ios::binary) << j.dump();
    return load_hf_tokenizer_json(path(name));
  }
  // A model folder with tokenizer.json and, when not null, tokenizer_config.json.
  std::unique_ptr<Tokenizer> load_folder(const std::string& name, const json& tokenizer,
                                         const json& config) {
    const auto dir = path(name);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "tokenizer.json", std::ios::binary) << tokenizer.dump();
    if (!config.is_null()) std::ofstream(dir / "tokenizer_config.json") << config.dump();
    return load_tokenizer(dir);
  }
  static Ids without_first(const Encoding& e) { return {e.ids.begin() + 1, e.ids.end()}; }

 private slots:
  void llama3_family() {
    const auto tok = load("llama3.json", llama3());
    // "Hello", " world" ([^\r\n\p{L}\p{N}]?\p{L}+ takes the space); BOS with an empty span.
    Encoding e = tok->encode("Hello world");
    QCOMPARE(e.ids, (Ids{300, kHelloB, kWorldB}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 11}}));
    QCOMPARE(tok->decode(without_first(e)), std::string("Hello world"));
    QCOMPARE(tok->decode(e.ids), std::string("<|begin_of_text|>Hello world"));
    // \p{N}{1,3}: "123" then "45"; "123" merges to one token, "45" stays two bytes.
    QCOMPARE(without_first(tok->encode("12345")), (Ids{k123, '4', '5'}));
    // \s*[\r\n]+ takes both newlines as one piece: "ĊĊ".
    QCOMPARE(without_first(tok->encode("\n\nHello")), (Ids{kTwoNewlines, kHelloB}));
    // ignore_merges: the piece " xyz" is itself in the vocabulary, so it is that one token.
    QCOMPARE(without_first(tok->encode("say xyz")), (Ids{'s', 'a', 'y', kXyz}));
    // The chat header tokens are cut out first; a text that starts with BOS gets no second one.
    e = tok->encode("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    QCOMPARE(e.ids, (Ids{300, 302, 'u', 's', 'e', 'r', 303, kTwoNewlines, 'H', 'i', 301}));
    QCOMPARE(e.spans.front(), std::make_pair(int64_t{0}, int64_t{17}));
    QCOMPARE(tok->decode(e.ids),
             std::string("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi"
                         "<|eot_id|>"));
    // Characters outside the merges are their UTF-8 bytes; each covers the whole character.
    e = tok->encode("\xC3\xA9");
    QCOMPARE(without_first(e), (Ids{0xC3, 0xA9}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 1}, {0, 1}}));
    QCOMPARE(tok->decode(without_first(e)), std::string("\xC3\xA9"));
  }

  void qwen_family() {
    const auto tok = load("qwen.json", qwen());
    // No BOS; \p{N} splits every digit, so "123" never merges.
    QCOMPARE(tok->encode("12345").ids, (Ids{'1', '2', '3', '4', '5'}));
    QCOMPARE(tok->encode("Hello world").ids, (Ids{kHelloB, kWorldB}));
    // <think> is an added token with special=false: still matched as one token and decoded
    // as written. "\n" alone is \s*[\r\n]+; "\n\n" is "ĊĊ".
    const std::string text = "<think>\nhmm\n</think>\n\nHello";
    Encoding e = tok->encode(text);
    QCOMPARE(e.ids, (Ids{302, '\n', 'h', 'm', 'm', '\n', 303, kTwoNewlines, kHelloB}));
    QCOMPARE(e.spans[0], std::make_pair(int64_t{0}, int64_t{7}));
    QCOMPARE(tok->special_token_id("<think>"), int64_t{302});
    QCOMPARE(tok->decode(e.ids), text);
    // NFC text passes through the NFC normalizer unchanged: precomposed é is two bytes.
    e = tok->encode("caf\xC3\xA9");
    QCOMPARE(e.ids, (Ids{'c', 'a', 'f', 0xC3, 0xA9}));
    QCOMPARE(e.spans, (Spans{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {3, 4}}));
    // Text NFC changes is composed: e + U+0301 is é, whose bytes cover both code points.
    e = tok->encode("cafe\xCC\x81");
    QCOMPARE(e.ids, (Ids{'c', 'a', 'f', 0xC3, 0xA9}));
    QCOMPARE(e.spans, (Spans{{0, 1}, {1, 2}, {2, 3}, {3, 5}, {3, 5}}));
    // An NFKC normalizer also folds compatibility characters: the ligature U+FB01 is "fi".
    json nfkc = qwen();
    nfkc["normalizer"] = {{"type", "NFKC"}};
    e = load("nfkc.json", nfkc)->encode("\xEF\xAC\x81");
    QCOMPARE(e.ids, (Ids{'f', 'i'}));
    QCOMPARE(e.spans, (Spans{{0, 1}, {0, 1}}));
  }

  void mistral_nemo_family() {
    const auto tok = load("nemo.json", mistral_nemo());
    // Tekken's regex splits at a lower->upper case change: "Hello" | "World". Hello merges as
    // usual, and "World" is W, "or", l, d. (As one piece, the first-ranked "o W" would take the
    // "o" of Hello, giving Hell + oW + ...)
    Encoding e = tok->encode("HelloWorld");
    QCOMPARE(e.ids, (Ids{300, kHelloB, 'W', 262, 'l', 'd'}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 8}, {8, 9}, {9, 10}}));
    // Upper case then lower case is one piece ([Lu]*[Ll]+): nothing of "Hello" forms.
    QCOMPARE(without_first(tok->encode("HELLOworld")),
             (Ids{'H', 'E', 'L', 'L', 'O', 'w', 262, 'l', 'd'}));
    QCOMPARE(without_first(tok->encode("[INST]Hello world[/INST]")),
             (Ids{302, kHelloB, kWorldB, 303}));
    QCOMPARE(tok->decode(without_first(tok->encode("HelloWorld 12"))),
             std::string("HelloWorld 12"));
    // The same text as one piece (Llama 3's regex has no case split) does take "o W" first:
    // H e l l oW o r l d -> He, ll, Hell; "Hell o" finds no "o" left before "W".
    const auto l3 = load("llama3-camel.json", llama3());
    QCOMPARE(without_first(l3->encode("HelloWorld")), (Ids{259, 256, 262, 'l', 'd'}));
  }

  void smollm2_family() {
    const auto tok = load("smollm2.json", smollm2());
    // Digits(individual_digits) isolates every digit before GPT-2's regex runs: "abc", "1", "2",
    // "3", " x" (the space joins the letter as "Ġx", byte 32 then 'x').
    QCOMPARE(tok->encode("abc123 x").ids, (Ids{'a', 'b', 'c', '1', '2', '3', ' ', 'x'}));
    // Without the Digits step GPT-2's " ?\p{N}+" keeps "123" whole, which merges.
    json plain = smollm2();
    plain["pre_tokenizer"] = byte_level(false, true);
    QCOMPARE(load("gpt2-digits.json", plain)->encode("abc123").ids, (Ids{'a', 'b', 'c', k123}));
    QCOMPARE(tok->encode("<|im_start|>Hello world<|im_end|>").ids,
             (Ids{301, kHelloB, kWorldB, 302}));
    QCOMPARE(tok->decode(tok->encode("Hello  world 2024\n").ids),
             std::string("Hello  world 2024\n"));
  }

  void olmo2_folder() {
    // OLMo 2 tokenizes with Llama 3's (cl100k's) regex; its tokenizer_config.json says
    // GPT2Tokenizer with add_bos_token false, and GPT2TokenizerFast keeps the file's
    // post-processor (here ByteLevel: no BOS).
    json j = llama3();
    j["added_tokens"] = {test::added_token(300, "<|endoftext|>"),
                         test::added_token(301, "<|pad|>")};
    j["post_processor"] = byte_level(true, false);
    const auto tok = load_folder("olmo2", j,
                                 {{"tokenizer_class", "GPT2Tokenizer"},
                                  {"add_bos_token", false},
                                  {"bos_token", "<|endoftext|>"},
                                  {"eos_token", "<|endoftext|>"}});
    QCOMPARE(tok->encode("12345").ids, (Ids{k123, '4', '5'}));
    QCOMPARE(tok->encode("<|endoftext|>Hello world").ids, (Ids{300, kHelloB, kWorldB}));
  }

  void gemma_family() {
    const SpVocab v = sp_vocab({"<pad>", "<eos>", "<bos>", "<unk>"});
    const auto tok = load("gemma.json", gemma(v));
    const int64_t hello = v.id.at("Hello"), world = v.id.at("\xE2\x96\x81world");
    // No prefix "▁": "Hello world" -> "Hello▁world", one BPE word -> Hello, ▁world.
    Encoding e = tok->encode("Hello world");
    QCOMPARE(e.ids, (Ids{2, hello, world}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 11}}));
    QCOMPARE(tok->decode(without_first(e)), std::string("Hello world"));
    QCOMPARE(tok->decode(e.ids), std::string("<bos>Hello world"));
    // A leading space is a real "▁" that merges with Hello; two spaces are the "▁▁" piece.
    e = tok->encode(" Hello");
    QCOMPARE(without_first(e), (Ids{v.id.at("\xE2\x96\x81Hello")}));
    QCOMPARE(e.spans[1], std::make_pair(int64_t{0}, int64_t{6}));
    e = tok->encode("a  b");
    QCOMPARE(without_first(e),
             (Ids{v.id.at("a"), v.id.at("\xE2\x96\x81\xE2\x96\x81"), v.id.at("b")}));
    // Byte fallback: é (C3 A9) and "!" are no pieces.
    e = tok->encode("\xC3\xA9!");
    QCOMPARE(without_first(e), (Ids{v.byte(0xC3), v.byte(0xA9), v.byte('!')}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 1}, {0, 1}, {1, 2}}));
    QCOMPARE(tok->decode(without_first(e)), std::string("\xC3\xA9!"));
    // Decoding is the exact inverse (no Strip), spaces and fallback bytes included.
    for (const char* text : {" Hello  world ", "\xC3\xA9 \xE2\x82\xAC  a", "Hello\n\nworld"}) {
      QCOMPARE(tok->decode(without_first(tok->encode(text))), std::string(text));
    }
    // Turn markers are added tokens.
    QCOMPARE(tok->encode("<start_of_turn>Hello<end_of_turn>").ids, (Ids{2, 1000, hello, 1001}));
  }

  void gemma_bos_eos_flags() {
    const SpVocab v = sp_vocab({"<pad>", "<eos>", "<bos>", "<unk>"});
    const int64_t hello = v.id.at("Hello");
    // GemmaTokenizerFast rebuilds the post-processor: add_bos_token (default true) and
    // add_eos_token (default false) with the config's bos/eos tokens.
    auto tok = load_folder("gemma-eos", gemma(v),
                           {{"tokenizer_class", "GemmaTokenizer"},
                            {"add_bos_token", true},
                            {"add_eos_token", true},
                            {"bos_token", "<bos>"},
                            {"eos_token", {{"content", "<eos>"}, {"special", true}}}});
    Encoding e = tok->encode("Hello");
    QCOMPARE(e.ids, (Ids{2, hello, 1}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 5}}));
    tok = load_folder("gemma-nobos", gemma(v),
                      {{"tokenizer_class", "GemmaTokenizerFast"}, {"add_bos_token", false}});
    QCOMPARE(tok->encode("Hello").ids, (Ids{hello}));
    // Without the flags the class defaults apply: BOS only.
    tok = load_folder("gemma-default", gemma(v), {{"tokenizer_class", "GemmaTokenizer"}});
    QCOMPARE(tok->encode("Hello").ids, (Ids{2, hello}));
    // A class that keeps the file's post-processor ignores the flags.
    tok = load_folder("gemma-fast-base", gemma(v),
                      {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"add_bos_token", false}});
    QCOMPARE(tok->encode("Hello").ids, (Ids{2, hello}));
    // add_eos_token with a token the vocabulary lacks is refused, naming the config.
    const QString msg = error_of<ModelError>([&] {
      load_folder("gemma-bad-eos", gemma(v),
                  {{"tokenizer_class", "GemmaTokenizer"},
                   {"add_eos_token", true},
                   {"eos_token", "<nope>"}});
    });
    QVERIFY2(msg.contains("tokenizer_config.json") && msg.contains("<nope>"), qPrintable(msg));
  }

  void phi3_family() {
    const SpVocab v = sp_vocab({"<unk>", "<s>", "</s>"});
    const int64_t hello = v.id.at("\xE2\x96\x81Hello"), world = v.id.at("\xE2\x96\x81world");
    // tokenizer.json alone: the legacy layout prepends "▁" and its template adds <s>.
    const auto file_only = load("phi3.json", phi3(v));
    QCOMPARE(file_only->encode("Hello world").ids, (Ids{1, hello, world}));
    // Phi-3's tokenizer_config.json says LlamaTokenizer with add_bos_token false:
    // LlamaTokenizerFast drops the template's <s>.
    const auto tok = load_folder("phi3", phi3(v),
                                 {{"tokenizer_class", "LlamaTokenizer"},
                                  {"add_bos_token", false},
                                  {"add_eos_token", false},
                                  {"bos_token", "<s>"},
                                  {"eos_token", "<|endoftext|>"}});
    Encoding e = tok->encode("Hello world");
    QCOMPARE(e.ids, (Ids{hello, world}));
    QCOMPARE(e.spans, (Spans{{0, 5}, {5, 11}}));
    // The Strip decoder removes the prepended space: an exact inverse here.
    QCOMPARE(tok->decode(e.ids), std::string("Hello world"));
    // rstrip: the white space after <|user|>, <|end|>, <|assistant|> belongs to no token, so the
    // text between them is just "Hello" (its prepended "▁" covers nothing).
    e = tok->encode("<|user|>\nHello<|end|>\n<|assistant|>\n");
    QCOMPARE(e.ids, (Ids{1003, hello, 1002, 1001}));
    QCOMPARE(e.spans, (Spans{{0, 8}, {9, 14}, {14, 21}, {22, 35}}));
    QCOMPARE(tok->decode(e.ids), std::string("<|user|> Hello<|end|><|assistant|>"));
    // Both flags on: <s> ... </s> (LlamaTokenizerFast's defaults name "<s>" / "</s>" when the
    // config does not).
    const auto both = load_folder(
        "phi3-both", phi3(v), {{"tokenizer_class", "LlamaTokenizerFast"}, {"add_eos_token", true}});
    QCOMPARE(both->encode("Hello").ids, (Ids{1, hello, 2}));
    // Byte fallback after the prepended "▁": "▁" then <0xC3> <0xA9>.
    e = tok->encode("\xC3\xA9");
    QCOMPARE(e.ids, (Ids{v.id.at("\xE2\x96\x81"), v.byte(0xC3), v.byte(0xA9)}));
    QCOMPARE(tok->decode(e.ids), std::string("\xC3\xA9"));
  }

  void nfc_and_nfkc_match_python() {
    // tests/data/tokenizers/nfc_golden.json (make_nfc_golden.py there, Python's unicodedata):
    // every code point NFC or NFKC changes, and random strings with out-of-order marks, Hangul
    // jamo, singletons and compatibility characters.
    const json golden = test::read_json(std::filesystem::path(ATMAN_TEST_DATA_DIR) / "tokenizers" /
                                        "nfc_golden.json");
    int checked = 0, wrong = 0;
    auto check = [&](const std::u32string& input, const std::string& nfc, const std::string& nfkc) {
      for (const bool compat : {false, true}) {
        text::MappedText t = text::MappedText::identity(input);
        compat ? text::to_nfkc(t) : text::to_nfc(t);
        ++checked;
        const std::string got = text::encode_utf8(t.text), want = compat ? nfkc : nfc;
        if (got != want && ++wrong <= 5) {
          qWarning("%s of U+%04X...: got '%s', want '%s'", compat ? "NFKC" : "NFC",
                   static_cast<unsigned>(input[0]), got.c_str(), want.c_str());
        }
        // Spans: one per code point, inside the input, never going backwards.
        QCOMPARE(t.origin.size(), t.text.size());
        for (size_t k = 0; k < t.origin.size(); ++k) {
          QVERIFY(t.origin[k].first >= 0 && t.origin[k].second <= int64_t(input.size()));
          QVERIFY(t.origin[k].first < t.origin[k].second);
        }
      }
    };
    for (const auto& c : golden["single"]) {
      check(std::u32string(1, c[0].get<char32_t>()), c[1].get<std::string>(),
            c[2].get<std::string>());
    }
    for (const auto& c : golden["strings"]) {
      check(text::decode_utf8(c[0].get<std::string>()), c[1].get<std::string>(),
            c[2].get<std::string>());
    }
    qInfo("NFC/NFKC: %d of %d normalizations differ from Python's unicodedata", wrong, checked);
    QCOMPARE(wrong, 0);
    // All 11,172 Hangul syllables: NFC keeps them, and their jamo compose back to them.
    for (char32_t s = 0xAC00; s <= 0xD7A3; ++s) {
      const char32_t i = s - 0xAC00, l = 0x1100 + i / 588, v = 0x1161 + (i % 588) / 28,
                     t = i % 28 ? 0x11A7 + i % 28 : 0;
      std::u32string jamo{l, v};
      if (t) jamo.push_back(t);
      text::MappedText m = text::MappedText::identity(jamo);
      text::to_nfc(m);
      QCOMPARE(m.text, std::u32string(1, s));
      QCOMPARE(m.origin[0], std::make_pair(int64_t{0}, int64_t(jamo.size())));
    }
  }

  void metaspace_prepend_schemes() {
    // Mistral 7B v0.3 / Llama-2 with legacy=false (transformers' LlamaConverter): no normalizer, a
    // Metaspace pre-tokenizer with split=false, and the Metaspace decoder, with each
    // prepend_scheme. "first" prepends "▁" only to the stretch at the start of the text (HF
    // compares the stretch's original offset with 0), "always" to every stretch, "never" to none.
    const SpVocab v = sp_vocab({"<unk>", "<s>", "</s>"});
    const int64_t hello = v.id.at("Hello"), lowline_hello = v.id.at("\xE2\x96\x81Hello"),
                  world = v.id.at("\xE2\x96\x81world");
    struct Case {
      const char* scheme;
      Ids hello_world, around_image;
      const char* decoded;  // of around_image
    };
    const Case cases[] = {
        {"first", {lowline_hello, world}, {lowline_hello, 1000, hello}, "Hello<image>Hello"},
        // The decoder drops every "▁" of the first token only: the second "▁Hello" keeps its space.
        {"always",
         {lowline_hello, world},
         {lowline_hello, 1000, lowline_hello},
         "Hello<image> Hello"},
        {"never", {hello, world}, {hello, 1000, hello}, "Hello<image>Hello"},
    };
    for (const auto& c : cases) {
      const json metaspace = {{"type", "Metaspace"},
                              {"replacement", "\xE2\x96\x81"},
                              {"prepend_scheme", c.scheme},
                              {"split", false}};
      const json j = {{"version", "1.0"},
                      {"added_tokens",
                       {test::added_token(0, "<unk>"), test::added_token(1, "<s>"),
                        test::added_token(2, "</s>"), test::added_token(1000, "<image>")}},
                      {"normalizer", nullptr},
                      {"pre_tokenizer", metaspace},
                      {"post_processor", nullptr},
                      {"decoder", metaspace},
                      {"model", v.model}};
      const auto tok = load(std::string("metaspace-") + c.scheme + ".json", j);
      QCOMPARE(tok->encode("Hello world").ids, c.hello_world);
      const Encoding e = tok->encode("Hello<image>Hello");
      QCOMPARE(e.ids, c.around_image);
      QCOMPARE(e.spans.back(), std::make_pair(int64_t{12}, int64_t{17}));
      QCOMPARE(tok->decode(e.ids), std::string(c.decoded));
    }
  }

  void single_word_match_is_dropped_whole() {
    // HF finds added tokens leftmost-longest and then drops a single_word match that a word
    // character touches; the search resumes after it, so the shorter "<im" is not tried inside.
    json j = qwen();
    json image = test::added_token(304, "<image>");
    image["single_word"] = true;
    j["added_tokens"].push_back(image);
    j["added_tokens"].push_back(test::added_token(305, "<im", false));
    const auto tok = load("single-word.json", j);
    QCOMPARE(tok->encode("a<image>").ids, (Ids{'a', '<', 'i', 'm', 'a', 'g', 'e', '>'}));
    QCOMPARE(tok->encode("x <image> y").ids, (Ids{'x', ' ', 304, ' ', 'y'}));
    QCOMPARE(tok->encode("a<im").ids, (Ids{'a', 305}));
  }

  void strip_normalizer_and_byte_level_decoding() {
    // Strip (strip_left/strip_right) drops white space at the ends of each stretch of text; the
    // dropped characters belong to no token.
    json j = qwen();
    j["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers",
         {{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, {{"type", "NFC"}}}}};
    auto tok = load("strip.json", j);
    Encoding e = tok->encode(" \tHello world \n");
    QCOMPARE(e.ids, (Ids{kHelloB, kWorldB}));
    QCOMPARE(e.spans, (Spans{{2, 7}, {7, 13}}));
    j["normalizer"] = {{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}};
    tok = load("rstrip.json", j);
    QCOMPARE(tok->encode(" Hello ").ids, (Ids{' ', kHelloB}));  // " Hello": Ġ, Hello
    // The ByteLevel decoder maps a token to bytes only when every character is in the byte
    // alphabet; an added token with a space is written as it is, and one made of alphabet
    // characters ("Ġhi") is decoded like any other token.
    j = qwen();
    j["added_tokens"].push_back(test::added_token(304, "<|im sep|>"));
    j["added_tokens"].push_back(test::added_token(305, "\xC4\xA0hi", false));
    tok = load("bytelevel-added.json", j);
    QCOMPARE(tok->decode({kHelloB, 304, 305}), std::string("Hello<|im sep|> hi"));
  }
};

QTEST_GUILESS_MAIN(TestTokenizerFamilies)
#include "test_tokenizer_families.moc"
