// tokenizer.json (Hugging Face `tokenizers` format) tests:
// 1. the real GPT-2 tokenizer.json gives exactly the ids, tokens and spans of the vocab.json +
//    merges.txt path (golden cases, random text), and the bundled folders still match;
// 2. a Qwen2-style file (GPT-2 vocabulary, Qwen2's Split regex, NFC, ignore_merges, ChatML added
//    tokens) against pre-tokenizations worked out by hand;
// 3. hand-written SentencePiece-style files (Llama-2 legacy normalizer, Metaspace) against
//    encodings worked out by hand: BOS, "▁" spans, byte fallback, unk, <image>, decoding;
// 4. hostile files: clear ModelErrors naming the file and the component, never a crash.
// No Python `tokenizers` is available here, so every expectation that is not the GPT-2 path's
// output is derived in the comments next to it.
#include <QtTest/QtTest>

#include <fstream>
#include <functional>
#include <random>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "core/test_support.h"
#include "text/utf8.h"
#include "tokenizers/bpe.h"

using namespace atman;
using atman::test::error_of;
using nlohmann::json;
using Spans = std::vector<std::pair<int64_t, int64_t>>;

namespace {

std::filesystem::path gpt2_dir() {
  return test::shared_dir() / "tokenizers" / "gpt2";
}

std::string show(const Encoding& e) {
  std::string s;
  for (size_t i = 0; i < e.ids.size(); ++i) {
    s += std::to_string(e.ids[i]) + " '" + e.tokens[i] + "' [" + std::to_string(e.spans[i].first) +
         "," + std::to_string(e.spans[i].second) + ") ";
  }
  return s;
}

// Equal ids, tokens and spans, with both encodings in the failure message.
void expect_same(const Encoding& got, const Encoding& want, const std::string& text) {
  const bool same = got.ids == want.ids && got.tokens == want.tokens && got.spans == want.spans;
  QVERIFY2(same, qPrintable(QString::fromStdString("text '" + text + "'\n  got  " + show(got) +
                                                   "\n  want " + show(want))));
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// A random text from pieces that stress the pre-tokenizers: letters, digits, contractions, all
// kinds of white space, Latin-1, CJK, emoji, combining marks, added-token look-alikes.
std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  "hello",
                                                  " world",
                                                  "'s",
                                                  "'LL",
                                                  "123",
                                                  "4",
                                                  " ",
                                                  "  ",
                                                  "\t",
                                                  "\n",
                                                  "\r\n",
                                                  "\xC2\xA0",
                                                  "\xC2\x85",
                                                  "!",
                                                  "?!.",
                                                  "(",
                                                  "\xC3\xA9",
                                                  "caf\xC3\xA9",
                                                  "\xE4\xB8\xAD\xE6\x96\x87",
                                                  "\xF0\x9F\x98\x80",
                                                  "e\xCC\x81",
                                                  "\xE2\x80\xA8",
                                                  "<|endoftext|>",
                                                  "<|endoftext",
                                                  "<image>",
                                                  "\x1C",
                                                  "_",
                                                  "\xD0\x9F\xD1\x80\xD0\xB8",
                                                  "\xE2\x85\xAB",
                                                  "x\xE3\x80\x80y"};
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1), len(0, 12);
  std::string s;
  for (size_t n = len(rng); n > 0; --n) s += pieces[pick(rng)];
  return s;
}

// Random bytes, valid UTF-8 or not.
std::string random_bytes(std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255), len(0, 16), ascii(0, 3);
  std::string s;
  for (int n = len(rng); n > 0; --n) {
    // Mostly ASCII so that some strings are valid UTF-8 and get past the check.
    s.push_back(static_cast<char>(ascii(rng) ? byte(rng) & 0x7F : byte(rng)));
  }
  return s;
}

// The GPT-2 BPE itself (bpe.h, checked against golden ids in test_tokenizers): encodes each piece
// of a pre-tokenization worked out by hand. A piece is text, or an added token with its id.
struct Piece {
  std::string text;
  int32_t added_id = -1;
};
class Gpt2Reference {
 public:
  Gpt2Reference()
      : vocab_(tokenizers::load_vocab_json(gpt2_dir() / "vocab.json")),
        merges_(tokenizers::load_merges_txt(gpt2_dir() / "merges.txt")),
        bpe_(vocab_, merges_, "", gpt2_dir() / "vocab.json", gpt2_dir() / "merges.txt") {}

  Encoding encode(const std::vector<Piece>& pieces) const {
    std::string text;
    for (const auto& p : pieces) text += p.text;
    const auto indexed = text::encode_utf8_indexed(text::decode_utf8(text));
    Encoding e;
    size_t at = 0;
    for (const auto& p : pieces) {
      auto span = [&](size_t b, size_t end) {
        return std::make_pair(int64_t{indexed.cp_of_byte[b]},
                              int64_t{indexed.cp_of_byte[end - 1]} + 1);
      };
      if (p.added_id >= 0) {
        e.ids.push_back(p.added_id);
        e.tokens.push_back(p.text);
        e.spans.push_back(span(at, at + p.text.size()));
        at += p.text.size();
        continue;
      }
      std::vector<tokenizers::BpeModel::Symbol> symbols;
      bpe_.encode_word(p.text, symbols);
      for (const auto& s : symbols) {
        e.ids.push_back(s.id);
        e.tokens.push_back(vocab_.tokens[static_cast<size_t>(s.id)]);
        e.spans.push_back(span(at, at + static_cast<size_t>(s.bytes)));
        at += static_cast<size_t>(s.bytes);
      }
    }
    return e;
  }
  const tokenizers::Vocab& vocab() const { return vocab_; }
  const std::vector<tokenizers::MergeRule>& merges() const { return merges_; }

 private:
  tokenizers::Vocab vocab_;
  std::vector<tokenizers::MergeRule> merges_;
  tokenizers::BpeModel bpe_;
};

// Qwen2's pre-tokenizer pattern (from its tokenizer.json).
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// ---- the hand-written SentencePiece-style tokenizer ----
//
// ids: 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then the pieces below from 259; <image>
// is an added token with id 277. The merges are in rank order; each merged piece comes after the
// merges that make its parts, as in a trained file.
const std::vector<std::string> kSpPieces = {"\xE2\x96\x81",  // 259 "▁"
                                            "H",
                                            "e",
                                            "l",
                                            "o",
                                            "w",
                                            "r",
                                            "d",              // 260..266
                                            "\xE2\x96\x81w",  // 267 "▁w"
                                            "or",
                                            "ll",
                                            "ell",
                                            "Hell",
                                            "Hello",  // 268..272
                                            "\xE2\x96\x81Hello",
                                            "\xE2\x96\x81wor",
                                            "\xE2\x96\x81worl",
                                            "\xE2\x96\x81world"};  // 273..276
const std::vector<std::string> kSpMerges = {"\xE2\x96\x81 w",
                                            "o r",
                                            "l l",
                                            "e ll",
                                            "H ell",
                                            "Hell o",
                                            "\xE2\x96\x81 Hello",
                                            "\xE2\x96\x81w or",
                                            "\xE2\x96\x81wor l",
                                            "\xE2\x96\x81worl d"};
constexpr int64_t kLowline = 259, kHello = 273, kWorld = 276, kImage = 277;
int64_t byte_id(int b) {
  return 3 + b;
}

json sp_model(bool byte_fallback, bool unk, bool fuse_unk) {
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab[name] = byte_id(b);
  }
  for (size_t i = 0; i < kSpPieces.size(); ++i) vocab[kSpPieces[i]] = 259 + static_cast<int>(i);
  return {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", unk ? json("<unk>") : json(nullptr)},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", fuse_unk},
          {"byte_fallback", byte_fallback},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", kSpMerges}};
}

json bos_template() {
  return {{"type", "TemplateProcessing"},
          {"single",
           {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
          {"pair",
           {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
            {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
            {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
            {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
          {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
}

json sp_added() {
  return json::array({test::added_token(0, "<unk>"), test::added_token(1, "<s>"),
                      test::added_token(2, "</s>"), test::added_token(277, "<image>")});
}

// Llama-2 / Mistral / llava-1.5 "legacy" layout: the normalizer turns spaces into "▁" and
// prepends one; no pre-tokenizer, so each stretch between added tokens is one BPE word.
json llama2_style(bool byte_fallback = true, bool unk = true, bool fuse_unk = true) {
  return {
      {"version", "1.0"},
      {"added_tokens", sp_added()},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", bos_template()},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model", sp_model(byte_fallback, unk, fuse_unk)}};
}

// The newer layout (transformers' legacy=False): a Metaspace pre-tokenizer that prepends "▁"
// only to the piece at the start of the text.
json metaspace_style(bool split) {
  return {{"version", "1.0"},
          {"added_tokens", sp_added()},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Metaspace"},
            {"replacement", "\xE2\x96\x81"},
            {"prepend_scheme", "first"},
            {"split", split}}},
          {"post_processor", bos_template()},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}}}}}},
          {"model", sp_model(true, true, true)}};
}

}  // namespace

class TestTokenizerJson : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir tmp_;
  std::unique_ptr<Tokenizer> reference_,
      from_json_;  // GPT-2: vocab.json+merges.txt / tokenizer.json
  std::unique_ptr<Gpt2Reference> bpe_;
  std::unique_ptr<Tokenizer> qwen_;

  std::filesystem::path write_json(const std::string& name, const json& j) {
    const auto path = std::filesystem::path(tmp_.path().toStdString()) / name;
    write_file(path, j.dump());
    return path;
  }
  std::unique_ptr<Tokenizer> load(const std::string& name, const json& j) {
    return load_hf_tokenizer_json(write_json(name, j));
  }

  // A Qwen2-style tokenizer.json: GPT-2's vocabulary and merges (as [a, b] pairs, the newer form),
  // Qwen2's NFC normalizer and Split regex before a regex-less ByteLevel, ChatML added tokens, and
  // one extra vocabulary entry "Ġxyzzy" (id 50300) that no merge produces.
  json qwen2_style(bool ignore_merges) const {
    json vocab = json::object();
    const auto& v = bpe_->vocab();
    for (size_t id = 0; id < v.tokens.size(); ++id) {
      if (!v.tokens[id].empty()) vocab[v.tokens[id]] = id;
    }
    vocab["\xC4\xA0xyzzy"] = 50300;
    json merges = json::array();
    for (const auto& m : bpe_->merges()) merges.push_back({m.first, m.second});
    return {{"version", "1.0"},
            {"added_tokens",
             {test::added_token(50256, "<|endoftext|>"), test::added_token(50257, "<|im_start|>"),
              test::added_token(50258, "<|im_end|>")}},
            {"normalizer", {{"type", "NFC"}}},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", kQwen2Regex}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "ByteLevel"},
                 {"add_prefix_space", false},
                 {"trim_offsets", false},
                 {"use_regex", false}}}}}},
            {"post_processor",
             {{"type", "ByteLevel"},
              {"add_prefix_space", false},
              {"trim_offsets", false},
              {"use_regex", false}}},
            {"decoder",
             {{"type", "ByteLevel"},
              {"add_prefix_space", false},
              {"trim_offsets", false},
              {"use_regex", false}}},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", ""},
              {"end_of_word_suffix", ""},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"ignore_merges", ignore_merges},
              {"vocab", vocab},
              {"merges", merges}}}};
  }

 private slots:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    using clock = std::chrono::steady_clock;
    reference_ = load_gpt2_tokenizer(gpt2_dir());
    const auto t0 = clock::now();
    from_json_ = load_hf_tokenizer_json(gpt2_dir() / "tokenizer.json");
    qInfo("GPT-2 tokenizer.json load: %.1f ms",
          std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    bpe_ = std::make_unique<Gpt2Reference>();
    qwen_ = load("qwen2.json", qwen2_style(/*ignore_merges=*/true));
  }

  // ---- 1. GPT-2: tokenizer.json == vocab.json + merges.txt ----

  void gpt2_golden_cases_match() {
    const json golden = test::read_json(test::golden_dir() / "tokenizer_gpt2.json");
    for (const auto& c : golden["cases"]) {
      const auto text = c["text"].get<std::string>();
      const Encoding enc = from_json_->encode(text);
      QCOMPARE(enc.ids, c["ids"].get<std::vector<int64_t>>());
      expect_same(enc, reference_->encode(text), text);
      QCOMPARE(from_json_->decode(enc.ids), text);
    }
  }

  void gpt2_random_text_matches() {
    std::mt19937 rng(20240601);
    int invalid = 0;
    for (int i = 0; i < 3000; ++i) {
      const std::string text = i % 3 == 2 ? random_bytes(rng) : random_text(rng);
      Encoding want;
      try {
        want = reference_->encode(text);
      } catch (const InputError&) {
        ++invalid;  // both must refuse bad UTF-8
        QVERIFY(error_of<InputError>([&] { from_json_->encode(text); }).contains("UTF-8"));
        continue;
      }
      const Encoding got = from_json_->encode(text);
      expect_same(got, want, text);
      QCOMPARE(from_json_->decode(got.ids), reference_->decode(want.ids));
    }
    qInfo("%d of 3000 random strings were invalid UTF-8", invalid);
    QCOMPARE(from_json_->vocab_size(), reference_->vocab_size());
    QCOMPARE(from_json_->special_token_id("<|endoftext|>"), int64_t{50256});
  }

  void bundled_folders_match_the_vocab_merges_path() {
    // load_tokenizer() now reads tokenizer.json; the bundled folders must tokenize as before.
    const json golden = test::read_json(test::golden_dir() / "tokenizer_gpt2.json");
    for (const char* model : {"facts-gpt2", "shapes-llava"}) {
      const auto dir = test::models_dir() / model;
      const auto via_folder = load_tokenizer(dir);
      const auto via_files = load_gpt2_tokenizer(dir);
      std::vector<std::string> texts = {
          "<image>\nQuestion: What is in the picture? Answer:", "a<image>b <|endoftext|> c", ""};
      for (const auto& c : golden["cases"]) texts.push_back(c["text"].get<std::string>());
      for (const auto& t : texts) expect_same(via_folder->encode(t), via_files->encode(t), t);
      QCOMPARE(via_folder->vocab_size(), via_files->vocab_size());
    }
    const auto llava = load_tokenizer(test::models_dir() / "shapes-llava");
    QCOMPARE(llava->special_token_id("<image>"), int64_t{50257});
    // llava_forward.json's prompt ids: <image> is one token.
    const json fwd = test::read_json(test::golden_dir() / "llava_forward.json");
    const auto& img = fwd["images"][0];
    QCOMPARE(llava->encode(img["prompt"].get<std::string>()).ids,
             img["prompt_ids"].get<std::vector<int64_t>>());
  }

  // ---- 2. Qwen2 / Llama-3 style ----

  void qwen2_pre_tokenization_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QStringList>("pieces");  // "\x01id" marks an added token
    // Each split follows the regex alternatives in order (PCRE and Oniguruma agree):
    // letters take at most one leading non-letter/digit/newline; digits are single; punctuation
    // takes an optional space before and newlines after; white space before a newline goes with
    // it; other white space is left alone when it precedes a non-space.
    QTest::newRow("digits singly")
        << QByteArray("abc123") << QStringList{"abc", "1", "2", "3"};  // GPT-2: "abc", "123"
    QTest::newRow("plain words") << QByteArray("Hello world") << QStringList{"Hello", " world"};
    // "(" joins the letters after it ([^\r\n\p{L}\p{N}]?\p{L}+); ")" is punctuation; " x" again a
    // letter run with its space. GPT-2 gives "(", "hello", ")", " x".
    QTest::newRow("bracket joins word")
        << QByteArray("(hello) x") << QStringList{"(hello", ")", " x"};
    // "'M" by the case-insensitive contraction; the space before "2" matches none of the earlier
    // alternatives (it precedes a digit, and \s+(?!\S) cannot end before "2"), so \s+ takes it
    // alone; "!!\n\n" is punctuation plus its trailing newlines.
    QTest::newRow("contraction, lone space, punctuation+newlines")
        << QByteArray("I'M 2024!!\n\nok")
        << QStringList{"I", "'M", " ", "2", "0", "2", "4", "!!\n\n", "ok"};
    // \s*[\r\n]+ takes the spaces and the newline; " b" is a letter run.
    QTest::newRow("spaces before newline")
        << QByteArray("a  \n b") << QStringList{"a", "  \n", " b"};
    // Two trailing spaces before a letter: \s+(?!\S) takes one, the second joins " w".
    QTest::newRow("space runs") << QByteArray("x   world") << QStringList{"x", "  ", " world"};
    // é is a letter (already NFC); the byte-level tokens of "é" cover the whole character.
    QTest::newRow("non-ASCII") << QByteArray("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 7")
                               << QStringList{"caf\xC3\xA9", " \xE4\xB8\xAD\xE6\x96\x87", " ", "7"};
    // Added tokens are cut out first; "\n" on its own is \s*[\r\n]+.
    QTest::newRow("ChatML") << QByteArray("<|im_start|>user\nhi there<|im_end|>\n")
                            << QStringList{
                                   "\x01"
                                   "50257<|im_start|>",
                                   "user",
                                   "\n",
                                   "hi",
                                   " there",
                                   "\x01"
                                   "50258<|im_end|>",
                                   "\n"};
  }
  void qwen2_pre_tokenization() {
    QFETCH(QByteArray, text);
    QFETCH(QStringList, pieces);
    std::vector<Piece> expected;
    for (const QString& p : pieces) {
      const std::string s = p.toStdString();
      if (s[0] == '\x01') {
        const size_t name = s.find('<');
        expected.push_back({s.substr(name), std::stoi(s.substr(1, name - 1))});
      } else {
        expected.push_back({s});
      }
    }
    const std::string t = text.toStdString();
    expect_same(qwen_->encode(t), bpe_->encode(expected), t);
    QCOMPARE(qwen_->decode(qwen_->encode(t).ids), t);
  }

  void qwen2_ignore_merges() {
    // " xyzzy" is one piece. With ignore_merges its vocabulary entry is used whole; without, BPE
    // builds it from bytes and never reaches id 50300 (no merge makes it).
    const std::string text = "say xyzzy";
    Encoding e = qwen_->encode(text);
    QCOMPARE(e.ids, (std::vector<int64_t>{bpe_->encode({{"say"}}).ids[0], 50300}));
    QCOMPARE(e.spans, (Spans{{0, 3}, {3, 9}}));
    QCOMPARE(qwen_->decode(e.ids), text);
    const auto merging = load("qwen2-merging.json", qwen2_style(/*ignore_merges=*/false));
    e = merging->encode(text);
    expect_same(e, bpe_->encode({{"say"}, {" xyzzy"}}), text);
    QVERIFY(std::find(e.ids.begin(), e.ids.end(), 50300) == e.ids.end());
  }

  void qwen2_added_tokens_and_nfc() {
    QCOMPARE(qwen_->special_token_id("<|im_start|>"), int64_t{50257});
    QCOMPARE(qwen_->special_token_id("<|im_end|>"), int64_t{50258});
    QCOMPARE(qwen_->special_token_id("<image>"), int64_t{-1});
    QCOMPARE(qwen_->vocab_size(), int64_t{50301});
    // Text already in NFC (precomposed é, Hangul syllables, Devanagari with a virama) passes
    // unchanged.
    for (const char* ok : {"caf\xC3\xA9", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
                           "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\x82\xE0\xA4\xA6\xE0\xA5\x80"}) {
      QCOMPARE(qwen_->decode(qwen_->encode(ok).ids), std::string(ok));
    }
    // Text NFC changes is composed first (Unicode's tables, as Python's unicodedata gives them):
    // e + U+0301 -> é, the Angstrom sign U+212B -> Å (U+00C5), カ + U+3099 -> ガ (U+30AC). The
    // composed character's tokens cover every code point that went into it.
    struct Composed {
      std::string text, nfc;
      std::pair<int64_t, int64_t> last_span;  // of the composed character's last token
    };
    const std::vector<Composed> composed = {{"cafe\xCC\x81", "caf\xC3\xA9", {3, 5}},
                                            {"\xE2\x84\xAB", "\xC3\x85", {0, 1}},
                                            {"\xE3\x82\xAB\xE3\x82\x99", "\xE3\x82\xAC", {0, 2}}};
    for (const auto& [text, nfc, last_span] : composed) {
      const Encoding got = qwen_->encode(text), want = qwen_->encode(nfc);
      QCOMPARE(got.ids, want.ids);
      QCOMPARE(got.spans.back(), last_span);
      QCOMPARE(qwen_->decode(got.ids), nfc);
    }
    // Random NFC text round-trips through decode.
    std::mt19937 rng(7);
    for (int i = 0; i < 500; ++i) {
      const std::string t = random_text(rng);
      if (t.find("e\xCC\x81") != std::string::npos) continue;  // NFC changes it
      const Encoding e = qwen_->encode(t);
      QCOMPARE(qwen_->decode(e.ids), t);
      for (size_t k = 1; k < e.spans.size(); ++k)
        QVERIFY(e.spans[k - 1].second <= e.spans[k].second);
    }
  }

  // ---- 3. SentencePiece style ----

  void llama2_style_encodings() {
    const auto tok = load("llama2.json", llama2_style());
    QCOMPARE(tok->vocab_size(), int64_t{278});
    QCOMPARE(tok->special_token_id("<image>"), kImage);
    // "Hello world" -> normalizer -> "▁Hello▁world", one BPE word: the merges build "▁Hello"
    // (l l, e ll, H ell, Hell o, ▁ Hello) and "▁world" (▁ w, o r, ▁w or, ▁wor l, ▁worl d). The
    // template adds <s> with an empty span at 0; the prepended "▁" covers nothing, the "▁" from
    // the space covers the space.
    Encoding e = tok->encode("Hello world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kWorld}));
    QCOMPARE(e.tokens, (std::vector<std::string>{"<s>", "\xE2\x96\x81Hello", "\xE2\x96\x81world"}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 11}}));
    // decode: Replace "▁" -> " " gives "<s>", " Hello", " world"; Fuse; Strip removes one leading
    // space, but the fused text starts with "<s>" (HF prints "<s> Hello world" too).
    QCOMPARE(tok->decode(e.ids), std::string("<s> Hello world"));
    QCOMPARE(tok->decode({kHello, kWorld}), std::string("Hello world"));

    // "Hello é": é is no piece, so byte fallback gives <0xC3> <0xA9>, both covering é; the "▁"
    // before it stands for the space at 5.
    e = tok->encode("Hello \xC3\xA9");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kLowline, byte_id(0xC3), byte_id(0xA9)}));
    QCOMPARE(e.tokens[3], std::string("<0xC3>"));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 7}, {6, 7}}));
    // ByteFallback joins <0xC3><0xA9> into "é"; Strip drops the first space.
    QCOMPARE(tok->decode({e.ids.begin() + 1, e.ids.end()}), std::string("Hello \xC3\xA9"));
    // Bytes that do not form a character decode to one U+FFFD each.
    QCOMPARE(tok->decode({kHello, byte_id(0xC3)}), std::string("Hello\xEF\xBF\xBD"));

    // <image> in the middle is one token. The normalizer runs on each stretch between added
    // tokens, so " world" becomes "▁▁world": "▁ w" (rank 0) merges the second "▁" with "w", which
    // leaves a lone "▁" (HF's "legacy" behaviour); that prepended "▁" covers nothing.
    e = tok->encode("Hello <image> world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kLowline, kImage, kLowline, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 13}, {13, 13}, {13, 19}}));
    // " Hello" " " "<image>" " " " world" fused, one leading space stripped.
    QCOMPARE(tok->decode({e.ids.begin() + 1, e.ids.end()}), std::string("Hello <image>  world"));

    // Empty text: just <s>.
    e = tok->encode("");
    QCOMPARE(e.ids, (std::vector<int64_t>{1}));
    QCOMPARE(e.spans, (Spans{{0, 0}}));
  }

  void bos_written_in_the_text_is_not_doubled() {
    // A rendered Llama-2 chat template starts with bos_token itself; the template's <s> is then not
    // added again, and the <s> typed in the text keeps its span.
    const auto tok = load("llama2.json", llama2_style());
    Encoding e = tok->encode("<s>Hello world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 3}, {3, 8}, {8, 14}}));
    // A <s> later in the text is text like any other added token; the prefix stays.
    e = tok->encode("Hello <s>");
    QCOMPARE(e.ids.front(), int64_t{1});
    QCOMPARE(e.ids.back(), int64_t{1});
    QCOMPARE(std::count(e.ids.begin(), e.ids.end(), int64_t{1}), std::ptrdiff_t{2});
  }

  void unknown_characters() {
    // Without byte fallback "¿" is <unk>; fuse_unk makes one <unk> of "¿¿" covering both.
    auto tok = load("unk-fused.json", llama2_style(false, true, true));
    Encoding e = tok->encode("Hello \xC2\xBF\xC2\xBF");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kLowline, 0}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 8}}));
    tok = load("unk.json", llama2_style(false, true, false));
    e = tok->encode("Hello \xC2\xBF\xC2\xBF");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kLowline, 0, 0}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 7}, {7, 8}}));
    // With neither, HF drops the character, and its neighbours still merge: "▁w¿orld" is
    // "▁world" covering all of "w¿orld".
    tok = load("drop.json", llama2_style(false, false, false));
    e = tok->encode("w\xC2\xBForld");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 6}}));
  }

  void added_token_flags() {
    json j = llama2_style();
    j["added_tokens"][3]["lstrip"] = true;
    j["added_tokens"][3]["rstrip"] = true;
    auto tok = load("strip.json", j);
    // The spaces around <image> belong to no token, so the stretches are "Hello" and "world",
    // each with its prepended "▁" that covers nothing.
    Encoding e = tok->encode("Hello <image> world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kImage, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {6, 13}, {14, 19}}));
    // single_word: not matched when a word character (Rust's \w) touches it.
    j = llama2_style();
    j["added_tokens"][3]["single_word"] = true;
    tok = load("single-word.json", j);
    e = tok->encode("a<image>b");
    QVERIFY(std::find(e.ids.begin(), e.ids.end(), kImage) == e.ids.end());
    e = tok->encode("a <image>\n");
    QVERIFY(std::find(e.ids.begin(), e.ids.end(), kImage) != e.ids.end());
  }

  void metaspace_style_encodings() {
    const auto tok = load("metaspace.json", metaspace_style(false));
    Encoding e = tok->encode("Hello world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 11}}));
    // prepend_scheme "first": only the stretch at the start of the text gets a "▁", so " world"
    // after <image> is just "▁world" (unlike the legacy layout above).
    e = tok->encode("Hello <image> world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kLowline, kImage, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 13}, {13, 19}}));
    // The Metaspace decoder drops the first token's leading "▁": an exact inverse here.
    QCOMPARE(tok->decode({e.ids.begin() + 1, e.ids.end()}), std::string("Hello <image> world"));
    QCOMPARE(tok->decode(e.ids), std::string("<s> Hello <image> world"));

    // split=true cuts "▁Hello▁▁world" before each "▁" (MergedWithNext): "▁Hello", "▁", "▁world".
    const auto split = load("metaspace-split.json", metaspace_style(true));
    e = split->encode("Hello  world");
    QCOMPARE(e.ids, (std::vector<int64_t>{1, kHello, kLowline, kWorld}));
    QCOMPARE(e.spans, (Spans{{0, 0}, {0, 5}, {5, 6}, {6, 12}}));
    QCOMPARE(split->decode({e.ids.begin() + 1, e.ids.end()}), std::string("Hello  world"));
  }

  void queue_merge_equals_openai_loop() {
    // Long words merge through a priority queue (bpe.h); with GPT-2's trained merges it must give
    // exactly what OpenAI's loop gives. Both run on the same words here, whole texts as one word.
    tokenizers::BpeOptions loop, queue;
    loop.queue_from_symbols = SIZE_MAX;
    queue.queue_from_symbols = 0;
    const auto vocab_path = gpt2_dir() / "vocab.json", merges_path = gpt2_dir() / "merges.txt";
    const tokenizers::BpeModel a(bpe_->vocab(), bpe_->merges(), loop, vocab_path, merges_path);
    const tokenizers::BpeModel b(bpe_->vocab(), bpe_->merges(), queue, vocab_path, merges_path);
    std::mt19937 rng(99);
    std::vector<std::string> words = {"a", "aaaaaaaaaaaaaaaaaaaaaaaaa", " the the the the"};
    for (int i = 0; i < 400; ++i) {
      std::string w = random_text(rng) + random_text(rng);
      if (!w.empty()) words.push_back(w);
    }
    const json golden = test::read_json(test::golden_dir() / "tokenizer_gpt2.json");
    for (const auto& c : golden["cases"]) {
      if (!c["text"].get<std::string>().empty()) words.push_back(c["text"].get<std::string>());
    }
    for (const auto& w : words) {
      std::vector<tokenizers::BpeModel::Symbol> x, y;
      a.encode_word(w, x);
      b.encode_word(w, y);
      QCOMPARE(x.size(), y.size());
      for (size_t k = 0; k < x.size(); ++k) {
        QCOMPARE(x[k].id, y[k].id);
        QCOMPARE(x[k].bytes, y[k].bytes);
      }
    }
  }

  void long_sentencepiece_text() {
    // Without a pre-tokenizer the whole text is one BPE word: 36,000 characters must still encode
    // quickly and as the short case does.
    const auto tok = load("llama2-long.json", llama2_style());
    std::string text;
    for (int i = 0; i < 3000; ++i) text += "Hello world ";
    text.pop_back();
    QElapsedTimer timer;
    timer.start();
    const Encoding e = tok->encode(text);
    qInfo("36k-character SentencePiece-style word: %lld ms",
          static_cast<long long>(timer.elapsed()));
    QCOMPARE(e.ids.size(), size_t{6001});
    // Repetition r starts at 12r; its "▁Hello" covers the space before it (none for r = 0) and
    // "▁world" the space after "Hello".
    for (size_t k = 1; k < e.ids.size(); ++k) {
      const auto base = static_cast<int64_t>((k - 1) / 2 * 12);
      QCOMPARE(e.ids[k], k % 2 ? kHello : kWorld);
      QCOMPARE(e.spans[k], k % 2 ? std::make_pair(base == 0 ? 0 : base - 1, base + 5)
                                 : std::make_pair(base + 5, base + 11));
    }
    QCOMPARE(tok->decode({e.ids.begin() + 1, e.ids.end()}), text);
  }

  void model_folder_with_only_tokenizer_json() {
    // A Llama-style folder has no vocab.json / merges.txt: load_tokenizer uses tokenizer.json.
    const auto dir = std::filesystem::path(tmp_.path().toStdString()) / "llama-folder";
    std::filesystem::create_directories(dir);
    write_file(dir / "tokenizer.json", llama2_style().dump());
    write_file(dir / "config.json", R"({"model_type": "llava"})");
    const auto tok = load_tokenizer(dir);
    QCOMPARE(tok->encode("Hello world").ids, (std::vector<int64_t>{1, kHello, kWorld}));
  }

  // ---- 4. hostile files ----

  void hostile_files_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QStringList>("words");  // the message must name these
    const json good = llama2_style();
    auto with = [&](const std::function<void(json&)>& change) {
      json j = good;
      change(j);
      return QByteArray::fromStdString(j.dump());
    };
    QTest::newRow("not JSON") << QByteArray("{\"model\": ") << QStringList{"JSON"};
    QTest::newRow("not an object") << QByteArray("[1, 2]") << QStringList{"object"};
    QTest::newRow("no model") << with([](json& j) { j.erase("model"); }) << QStringList{"model"};
    QTest::newRow("Unigram") << with([](json& j) { j["model"]["type"] = "Unigram"; })
                             << QStringList{"model type 'Unigram'", "BPE only"};
    QTest::newRow("WordPiece") << with([](json& j) { j["model"]["type"] = "WordPiece"; })
                               << QStringList{"WordPiece", "BPE only"};
    QTest::newRow("normalizer") << with([](json& j) {
      j["normalizer"] = {{"type", "BertNormalizer"}};
    }) << QStringList{"normalizer type 'BertNormalizer'"};
    QTest::newRow("nested normalizer") << with([](json& j) {
      j["normalizer"]["normalizers"][1] = {{"type", "NFD"}};
    }) << QStringList{"normalizer.normalizers[1]", "NFD"};
    QTest::newRow("pre-tokenizer") << with([](json& j) {
      j["pre_tokenizer"] = {{"type", "Whitespace"}};
    }) << QStringList{"pre_tokenizer", "Whitespace"};
    QTest::newRow("decoder") << with([](json& j) {
      j["decoder"] = {{"type", "WordPiece"}};
    }) << QStringList{"decoder", "WordPiece"};
    QTest::newRow("post-processor") << with([](json& j) {
      j["post_processor"] = {{"type", "Mystery"}};
    }) << QStringList{"post_processor", "Mystery"};
    QTest::newRow("merge of unknown token")
        << with([](json& j) { j["model"]["merges"].push_back("H zz"); })
        << QStringList{"model.merges[10]", "'zz'"};
    QTest::newRow("merge result not in vocab")
        << with([](json& j) { j["model"]["merges"].push_back("H H"); })
        << QStringList{"model.merges[10]", "'HH'"};
    QTest::newRow("bad merge form") << with([](json& j) { j["model"]["merges"].push_back(7); })
                                    << QStringList{"model.merges[10]"};
    QTest::newRow("negative id") << with([](json& j) { j["model"]["vocab"]["H"] = -4; })
                                 << QStringList{"model.vocab['H']"};
    QTest::newRow("huge id") << with([](json& j) { j["model"]["vocab"]["H"] = 1LL << 40; })
                             << QStringList{"model.vocab['H']"};
    QTest::newRow("id as text") << with([](json& j) { j["model"]["vocab"]["H"] = "260"; })
                                << QStringList{"model.vocab['H']"};
    QTest::newRow("unk not in vocab") << with([](json& j) { j["model"]["unk_token"] = "<?>"; })
                                      << QStringList{"unk_token", "<?>"};
    QTest::newRow("dropout") << with([](json& j) { j["model"]["dropout"] = 0.1; })
                             << QStringList{"dropout"};
    QTest::newRow("bad regex") << with([](json& j) {
      j["pre_tokenizer"] = {
          {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
    }) << QStringList{"pre_tokenizer.pattern", "(unclosed"};
    QTest::newRow("bad behavior") << with([](json& j) {
      j["pre_tokenizer"] = {
          {"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
    }) << QStringList{"Sideways"};
    QTest::newRow("template names unknown token")
        << with([](json& j) { j["post_processor"]["special_tokens"].erase("<s>"); })
        << QStringList{"post_processor.single[0]", "<s>"};
    QTest::newRow("added token without id")
        << with([](json& j) { j["added_tokens"][0].erase("id"); })
        << QStringList{"added_tokens[0]"};
    QTest::newRow("added token empty")
        << with([](json& j) { j["added_tokens"][1]["content"] = ""; })
        << QStringList{"added_tokens[1].content"};
    QTest::newRow("byte-level without byte symbols") << with([](json& j) {
      j["pre_tokenizer"] = {{"type", "ByteLevel"}};
    }) << QStringList{"byte symbol"};
    QTest::newRow("step after ByteLevel") << with([](json& j) {
      j["pre_tokenizer"] = {{"type", "Sequence"},
                            {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Digits"}}}}};
    }) << QStringList{"after ByteLevel"};
    json deep = {{"type", "NFC"}};
    for (int i = 0; i < 30; ++i) deep = {{"type", "Sequence"}, {"normalizers", {deep}}};
    QTest::newRow("deep Sequence")
        << with([&](json& j) { j["normalizer"] = deep; }) << QStringList{"nests"};
    // 200k nested arrays: the JSON parser must not recurse into a stack overflow.
    QTest::newRow("deep JSON") << QByteArray(200000, '[') + QByteArray(200000, ']')
                               << QStringList{"object"};
  }
  void hostile_files() {
    QFETCH(QByteArray, content);
    QFETCH(QStringList, words);
    const auto path = std::filesystem::path(tmp_.path().toStdString()) / "hostile.json";
    write_file(path, content.toStdString());
    const QString msg = error_of<ModelError>([&] { load_hf_tokenizer_json(path); });
    QVERIFY2(msg.contains(QString::fromStdString(path.string())), qPrintable(msg));
    for (const QString& w : words) QVERIFY2(msg.contains(w), qPrintable(msg));
  }

  void huge_and_missing_files() {
    const auto path = std::filesystem::path(tmp_.path().toStdString()) / "huge.json";
    write_file(path, "{");
    std::filesystem::resize_file(path, uintmax_t{300} << 20);  // sparse: no disk used
    QString msg = error_of<ModelError>([&] { load_hf_tokenizer_json(path); });
    QVERIFY2(msg.contains("MiB") && msg.contains(QString::fromStdString(path.string())),
             qPrintable(msg));
    const auto missing = path.parent_path() / "nope" / "tokenizer.json";
    msg = error_of<ModelError>([&] { load_hf_tokenizer_json(missing); });
    QVERIFY2(msg.contains(QString::fromStdString(missing.string())), qPrintable(msg));
  }

  void truncated_files_never_crash() {
    // Every prefix of a valid file is either refused with a ModelError or (never, here) loads.
    const std::string full = llama2_style().dump();
    const auto path = std::filesystem::path(tmp_.path().toStdString()) / "cut.json";
    for (size_t n = 0; n < full.size(); n += 97) {
      write_file(path, full.substr(0, n));
      const QString msg = error_of<ModelError>([&] { load_hf_tokenizer_json(path); });
      QVERIFY2(!msg.startsWith("NO EXCEPTION") && !msg.startsWith("WRONG"), qPrintable(msg));
    }
  }
};

QTEST_GUILESS_MAIN(TestTokenizerJson)
#include "test_tokenizer_json.moc"
