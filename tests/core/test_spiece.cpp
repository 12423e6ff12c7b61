// SentencePiece model files and transformers' SiglipTokenizer. The models are written here in
// protobuf wire format (spiece_writer.h); expected encodings are worked out by hand from
// SentencePiece's algorithm (unigram_model.cc's Viterbi, normalizer.cc) and SiglipTokenizer's
// Python source. The same files gave the same ids in the sentencepiece library (0.1.97) when
// this test was written: set ATMAN_SPIECE_DUMP=<folder> to write them out for such a check.
#include <QTemporaryDir>
#include <QTest>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "core/spiece_writer.h"
#include "tokenizers/spiece.h"

using namespace atman;
using namespace atman::test;
using namespace atman::tokenizers::spiece;
namespace fs = std::filesystem;

namespace {

const std::string U = "\xE2\x96\x81";  // ▁

// A T5/SigLIP-style vocabulary: <pad> </s> <unk> first, scores chosen so that Viterbi and a
// greedy longest match disagree on "abc".
SpModel base_model() {
  SpModel m;
  m.pieces = {
      {"<pad>", 0, kControl},
      {"</s>", 0, kControl},
      {"<unk>", 0, kUnknown},  // 0-2
      {U, -2.0f},
      {U + "a", -1.5f},
      {U + "ab", -3.0f},  // 3-5
      {"bc", -2.0f},
      {"c", -3.0f},
      {U + "cat", -2.0f},  // 6-8
      {U + "c", -3.0f},
      {"at", -2.5f},
      {"a", -3.0f},  // 9-11
      {"t", -3.0f},
      {"b", -3.0f},
      {U + "dog", -2.0f},  // 12-14
      {U + "photo", -2.5f},
      {U + "of", -2.0f},
      {"<ud>", 0, kUserDefined},  // 15-17
      {U + "xyz", -0.5f, kUnused},
      {"x", -4.0f},
      {"y", -4.0f},  // 18-20
      {"z", -4.0f},
      {"<", -4.0f},
      {">", -4.0f},  // 21-23
      {"u", -4.0f},
      {"n", -4.0f},
      {"k", -4.0f},  // 24-26
      {"d", -4.0f},
      {"o", -4.0f},
      {"g", -4.0f},  // 27-29
      {"s", -4.0f},
      {"1", -4.0f},
      {"f", -4.0f},  // 30-32
      {"i", -4.0f},
      {"fi", -1.0f},
      {"A", -4.0f},  // 33-35
  };
  return m;
}

// Rules in the manner of nmt_nfkc (which maps U+2581 to a space, so SiglipTokenizer's "▁" prefix
// becomes the normalizer's whitespace), plus one two-character rule to check the longest match.
std::string test_charsmap() {
  return write_charsmap({{"\xEF\xBC\xA1", "A"},               // Ａ FULLWIDTH A
                         {"\xEF\xAC\x81", "fi"},              // ﬁ LIGATURE FI
                         {U, " "},                            // ▁
                         {"\xE2\x91\xA0", "1"},               // ①
                         {"\xE2\x91\xA0\xE2\x91\xA0", "fi"},  // ①①
                         {"\xE2\x80\x8B", ""}});              // ZERO WIDTH SPACE removed
}

void dump(const std::string& name, const std::string& bytes) {
  if (const char* dir = std::getenv("ATMAN_SPIECE_DUMP"))
    std::ofstream(fs::path(dir) / name, std::ios::binary) << bytes;
}

Processor processor(const SpModel& m, const std::string& name = "") {
  const std::string bytes = write_model_proto(m);
  if (!name.empty()) dump(name, bytes);
  return Processor(parse_model_proto(bytes, "test.model"), "test.model");
}

std::vector<int64_t> ids_of(const Processor& p, const std::string& text) {
  std::vector<int64_t> ids;
  for (const auto& piece : p.encode(text)) ids.push_back(piece.id);
  return ids;
}

using Ids = std::vector<int64_t>;

void write_siglip_folder(const fs::path& dir, const nlohmann::json& config,
                         bool remove_extra_whitespaces = true) {
  fs::create_directories(dir);
  SpModel m = base_model();
  m.remove_extra_whitespaces = remove_extra_whitespaces;
  m.normalizer_name = "nmt_nfkc";
  m.charsmap = test_charsmap();
  std::ofstream(dir / "spiece.model", std::ios::binary) << write_model_proto(m);
  std::ofstream(dir / "tokenizer_config.json") << config.dump();
  std::ofstream(dir / "special_tokens_map.json")
      << R"({"eos_token":"</s>","pad_token":"</s>","unk_token":"<unk>"})";
}

// Every way to damage a file must end in a ModelError that says what is wrong.
void expect_model_error(const std::string& bytes, const char* needle) {
  try {
    Processor(parse_model_proto(bytes, "bad.model"), "bad.model");
    QFAIL(("accepted a broken model; expected: " + std::string(needle)).c_str());
  } catch (const ModelError& e) {
    QVERIFY2(std::string(e.what()).find(needle) != std::string::npos, e.what());
    QVERIFY2(std::string(e.what()).find("bad.model") != std::string::npos, e.what());
  }
}

}  // namespace

class TestSpiece : public QObject {
  Q_OBJECT

 private slots:
  void reads_the_proto() {
    SpModel m = base_model();
    m.add_dummy_prefix = false;
    m.charsmap = test_charsmap();
    const ModelProto p = parse_model_proto(write_model_proto(m), "x");
    QCOMPARE(p.pieces.size(), m.pieces.size());
    QCOMPARE(p.pieces[8].text, U + "cat");
    QCOMPARE(p.pieces[8].score, -2.0f);
    QVERIFY(p.pieces[2].type == PieceType::Unknown);
    QVERIFY(p.pieces[17].type == PieceType::UserDefined);
    QVERIFY(p.pieces[3].type == PieceType::Normal);
    QCOMPARE(p.unk_id, 2);
    QCOMPARE(p.pad_id, 0);
    QCOMPARE(p.bos_id, -1);
    QVERIFY(p.model_type == ModelType::Unigram);
    QVERIFY(!p.add_dummy_prefix && p.remove_extra_whitespaces && p.escape_whitespaces);
    QCOMPARE(p.normalizer_name, std::string("identity"));
    QCOMPARE(p.precompiled_charsmap, m.charsmap);
    // Unknown fields (self_test_data, a field 200 extension, fixed64) are skipped.
    const std::string extra = pb_bytes(4, pb_bytes(1, pb_bytes(1, "x"))) + pb_int(200, 7) +
                              pb_key(201, 1) + std::string(8, '\0');
    QCOMPARE(parse_model_proto(write_model_proto(m) + extra, "x").pieces.size(), m.pieces.size());
  }

  // Hand-derived Viterbi results (scores in base_model()).
  void unigram_viterbi() {
    const Processor p = processor(base_model(), "base.model");
    QCOMPARE(ids_of(p, "a cat"), (Ids{4, 8}));  // ▁a ▁cat
    // "▁abc": ▁a + bc = -3.5 beats ▁ab + c = -6 (the greedy longest match) and ▁ + a + bc = -7.
    QCOMPARE(ids_of(p, "abc"), (Ids{4, 6}));
    // remove_extra_whitespaces: leading, trailing and repeated spaces go.
    QCOMPARE(ids_of(p, "   a    cat  "), (Ids{4, 8}));
    // A user-defined piece scores length * max(FLT_MIN, best normal score) - 0.1 ≈ -0.1, far
    // above "<" "u" "d" ">" (-16), and is never normalized away.
    QCOMPARE(ids_of(p, "a<ud>b"), (Ids{4, 17, 13}));
    // An UNUSED piece (▁xyz, the best score in the vocabulary) is never picked.
    QCOMPARE(ids_of(p, "xyz"), (Ids{3, 19, 20, 21}));
    QCOMPARE(ids_of(p, ""), Ids{});
    QCOMPARE(ids_of(p, "   "), Ids{});
  }

  void unknown_characters() {
    const Processor p = processor(base_model());
    // 多 has no piece: each gets the unknown piece (min score - 10), and the run is merged into
    // one unknown piece holding both characters.
    const auto pieces = p.encode("cat\xE5\xA4\x9A\xE5\xA4\x9A dog");
    QCOMPARE(pieces.size(), size_t(3));
    QCOMPARE(pieces[0].id, 8);
    QCOMPARE(pieces[1].id, 2);
    QCOMPARE(pieces[1].piece, std::string("\xE5\xA4\x9A\xE5\xA4\x9A"));
    QCOMPARE(pieces[1].begin, size_t(3));
    QCOMPARE(pieces[1].end, size_t(9));
    QCOMPARE(pieces[2].id, 14);
    // Decoding writes unk_surface " ⁇ " for it.
    QCOMPARE(p.decode({8, 2, 14}), std::string("cat \xE2\x81\x87  dog"));
    // "q" has no piece of its own: the unknown piece stands for it.
    QCOMPARE(ids_of(p, "xq"), (Ids{3, 19, 2}));
    // Malformed UTF-8 reads as U+FFFD one byte at a time (unknown, merged).
    QCOMPARE(ids_of(p, "a\xFF\xFE"), (Ids{4, 2}));
  }

  void byte_fallback() {
    SpModel m = base_model();
    m.byte_fallback = true;
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      m.pieces.push_back({name, 0, kByte});
    }
    const Processor p = processor(m, "byte_fallback.model");
    const int64_t base = 36;
    const auto pieces = p.encode("a\xE5\xA4\x9A");
    QCOMPARE(pieces.size(), size_t(4));
    QCOMPARE(pieces[0].id, 4);
    QCOMPARE(pieces[1].id, base + 0xE5);
    QCOMPARE(pieces[2].id, base + 0xA4);
    QCOMPARE(pieces[3].id, base + 0x9A);
    QCOMPARE(pieces[1].piece, std::string("<0xE5>"));
    // The last byte holds the character's input bytes, the others none.
    QCOMPARE(pieces[1].begin, pieces[1].end);
    QCOMPARE(pieces[3].begin, size_t(1));
    QCOMPARE(pieces[3].end, size_t(4));
    QCOMPARE(p.decode(ids_of(p, "a\xE5\xA4\x9A cat")), std::string("a\xE5\xA4\x9A cat"));
    // A cut character decodes to U+FFFD per byte.
    QCOMPARE(p.decode({base + 0xE5, base + 0xA4}), std::string("\xEF\xBF\xBD\xEF\xBF\xBD"));
  }

  void whitespace_options() {
    SpModel m = base_model();
    m.add_dummy_prefix = false;
    QCOMPARE(ids_of(processor(m), "a cat"), (Ids{11, 8}));  // a ▁cat: no ▁ in front
    m = base_model();
    m.remove_extra_whitespaces = false;
    QCOMPARE(ids_of(processor(m), "a  cat"), (Ids{4, 3, 8}));  // ▁a ▁ ▁cat
    const auto pieces = processor(m).encode("a  cat");
    QCOMPARE(pieces[0].begin, size_t(0));  // the dummy prefix and "a"
    QCOMPARE(pieces[0].end, size_t(1));
    QCOMPARE(pieces[2].begin, size_t(2));  // the second space and "cat"
    QCOMPARE(pieces[2].end, size_t(6));
  }

  void precompiled_charsmap() {
    SpModel m = base_model();
    m.normalizer_name = "nmt_nfkc";
    m.charsmap = test_charsmap();
    const Processor p = processor(m, "charsmap.model");
    const std::string text = "\xEF\xAC\x81 \xEF\xBC\xA1";  // "ﬁ Ａ"
    QCOMPARE(p.normalize(text).text, U + "fi" + U + "A");
    const auto pieces = p.encode(text);
    QCOMPARE(ids_of(p, text), (Ids{3, 34, 3, 35}));  // ▁ fi ▁ A
    // Input byte ranges: ﬁ is bytes 0-3, the space 3, Ａ 4-7; the dummy ▁ covers nothing.
    QCOMPARE(pieces[0].begin, pieces[0].end);
    QCOMPARE(pieces[1].begin, size_t(0));
    QCOMPARE(pieces[1].end, size_t(3));
    QCOMPARE(pieces[3].begin, size_t(4));
    QCOMPARE(pieces[3].end, size_t(7));
    // The longest rule wins: ①① -> "fi", then ① -> "1".
    QCOMPARE(p.normalize("\xE2\x91\xA0\xE2\x91\xA0\xE2\x91\xA0").text, U + "fi1");
    QCOMPARE(ids_of(p, "\xE2\x91\xA0\xE2\x91\xA0\xE2\x91\xA0"), (Ids{3, 34, 31}));
    // A rule may delete: a ZERO WIDTH SPACE inside "ab" leaves ▁ab (one piece, -3 > ▁a b).
    QCOMPARE(ids_of(p,
                    "a\xE2\x80\x8B"
                    "b"),
             (Ids{5}));
    // U+2581 typed by the user becomes a space, so a leading one is removed like a space.
    QCOMPARE(ids_of(p, U + "cat"), (Ids{8}));
    // Characters without a rule are copied.
    QCOMPARE(p.normalize("cat").text, U + "cat");
    QCOMPARE(p.decode(ids_of(p, text)), std::string("fi A"));
  }

  // BPE (Gemma / Llama tokenizer.model): adjacent symbols merge, best piece score first, the
  // leftmost among equals; an UNUSED piece merges but is split back.
  void bpe() {
    SpModel m;
    m.model_type = 2;
    m.unk_id = 0;
    m.bos_id = 1;
    m.eos_id = 2;
    m.pad_id = -1;
    m.pieces = {{"<unk>", 0, kUnknown},
                {"<s>", 0, kControl},
                {"</s>", 0, kControl},
                {U, -100},
                {"a", -100},
                {"b", -100},
                {"c", -100},
                {"x", -100},
                {"y", -100},
                {"z", -100},  // 3-9
                {"ab", -1},
                {"bc", -0.5f},
                {U + "a", -2},
                {"abc", -3},
                {"aa", -1},  // 10-14
                {"xy", 5, kUnused},
                {"xyz", -1}};  // 15-16
    const Processor p = processor(m, "bpe.model");
    // ▁ a b c: bc (-0.5) first, then ▁a (-2) beats a+bc = abc (-3); ▁a+bc is no piece.
    QCOMPARE(ids_of(p, "abc"), (Ids{12, 11}));
    // ▁ a a a a: the leftmost aa first, then the next free aa.
    QCOMPARE(ids_of(p, "aaaa"), (Ids{3, 14, 14}));
    // xy merges (score 5) but is UNUSED, so it is split back; xyz is reached through it.
    QCOMPARE(ids_of(p, "xy"), (Ids{3, 7, 8}));
    QCOMPARE(ids_of(p, "xyz"), (Ids{3, 16}));
    QCOMPARE(ids_of(p, "aq"), (Ids{12, 0}));  // no piece for q
    QCOMPARE(p.decode(ids_of(p, "abc aaaa xyz")), std::string("abc aaaa xyz"));
  }

  void decodes() {
    const Processor p = processor(base_model());
    for (const char* text : {"a cat", "abc", "a<ud>b", "xyz a photo of a dog"})
      QCOMPARE(p.decode(ids_of(p, text)), std::string(text));
    QCOMPARE(p.decode({1, 4, 0, 8, 1}), std::string("a cat"));  // control pieces vanish
    QVERIFY_THROWS_EXCEPTION(InputError, p.decode({int64_t(p.size())}));
    QVERIFY_THROWS_EXCEPTION(InputError, p.decode({-1}));
  }

  void hostile_files() {
    const std::string good = write_model_proto(base_model());
    // Every truncation is a ModelError or a smaller valid model, never a crash.
    for (size_t n = 0; n < good.size(); ++n) {
      try {
        Processor(parse_model_proto(good.substr(0, n), "cut.model"), "cut.model");
      } catch (const ModelError&) {
      }
    }
    expect_model_error(good.substr(0, good.size() - 1), "bytes where only");
    expect_model_error(pb_int(1, 5), "wire type 0 where the format has wire type 2");
    expect_model_error(pb_key(1, 2) + pb_varint(1ull << 40), "a length of 1099511627776 bytes");
    expect_model_error(std::string(11, '\xFF'), "longer than 10 bytes");
    expect_model_error(pb_key(5, 3), "wire type 3");
    expect_model_error(pb_bytes(1, pb_bytes(1, "x") + pb_int(3, 9)), "piece type 9");
    expect_model_error(pb_bytes(1, pb_bytes(1, "x") + pb_int(2, 1)), "field 2 with wire type 0");
    expect_model_error(pb_bytes(2, pb_int(3, 7)), "model_type 7");
    expect_model_error("", "no pieces");
    SpModel m = base_model();
    m.pieces.push_back({"a", -1.0f});
    expect_model_error(write_model_proto(m), "'a' is defined twice");
    m = base_model();
    m.pieces[2].type = kNormal;
    expect_model_error(write_model_proto(m), "no unknown piece");
    m = base_model();
    m.pieces.push_back({"<0x41>", 0, kByte});
    expect_model_error(write_model_proto(m), "byte_fallback is false");
    m.byte_fallback = true;
    expect_model_error(write_model_proto(m), "256 byte pieces");
    m = base_model();
    m.pieces.push_back({"", -1.0f});
    expect_model_error(write_model_proto(m), "is empty");
    m = base_model();
    m.model_type = 3;
    expect_model_error(write_model_proto(m), "WORD model");
    // Broken charsmaps: a trie size past the blob, a value outside the strings.
    m = base_model();
    m.charsmap = std::string("\xFF\xFF\x00\x00", 4) + "abcd";
    expect_model_error(write_model_proto(m), "charsmap is broken");
    m.charsmap = test_charsmap();
    const size_t strings = m.charsmap.size() - (std::string("A") + '\0' + "fi" + '\0' + " " + '\0' +
                                                "1" + '\0' + "fi" + '\0' + '\0')
                                                   .size();
    m.charsmap.resize(strings);  // the replacement strings cut off
    try {
      const Processor p = processor(m);
      (void)p.encode("\xEF\xBC\xA1");
      QFAIL("used a charsmap without its strings");
    } catch (const ModelError& e) {
      QVERIFY2(std::string(e.what()).find("charsmap is broken") != std::string::npos, e.what());
    }
    // A file on disk: too short to be a model, or missing.
    QTemporaryDir tmp;
    const fs::path path = fs::path(tmp.path().toStdString()) / "spiece.model";
    std::ofstream(path) << "not a model";
    QVERIFY_THROWS_EXCEPTION(ModelError, read_model_proto(path));
    QVERIFY_THROWS_EXCEPTION(ModelError, read_model_proto(path.parent_path() / "none.model"));
  }

  // transformers' SiglipTokenizer over the same vocabulary with nmt_nfkc-like rules.
  void siglip_tokenizer() {
    QTemporaryDir tmp;
    const fs::path dir = fs::path(tmp.path().toStdString()) / "siglip";
    write_siglip_folder(dir, {{"tokenizer_class", "SiglipTokenizer"},
                              {"do_lower_case", true},
                              {"model_max_length", 64}});
    const auto tok = load_tokenizer(dir);
    auto ids = [&](const std::string& text) { return tok->encode(text).ids; };
    // Lower-cased, punctuation removed, eos appended (no dummy prefix: SiglipTokenizer turns it
    // off and writes "▁" itself).
    QCOMPARE(ids("A photo of a CAT!!"), (Ids{4, 15, 16, 4, 8, 1}));
    // White space runs collapse, ends are stripped.
    QCOMPARE(ids("  a\t\ncat,  "), (Ids{4, 8, 1}));
    // "cat's" -> "cats": the apostrophe is string.punctuation.
    QCOMPARE(ids("cat's"), (Ids{8, 30, 1}));
    // Special tokens split the text; the piece after one has no "▁" in front.
    QCOMPARE(ids("a</s>cat"), (Ids{4, 1, 7, 10, 1}));
    // Lower-casing makes "</S>" the eos token; eos is not appended twice.
    QCOMPARE(ids("A</S>"), (Ids{4, 1}));
    QCOMPARE(ids("</s>"), (Ids{1}));
    // The text's own U+2581 is a space; ﬁ goes through the charsmap.
    QCOMPARE(ids(U + "cat \xEF\xAC\x81"), (Ids{8, 3, 34, 1}));
    QCOMPARE(ids(""), (Ids{1}));
    QCOMPARE(ids("!!!"), (Ids{1}));
    // Spans in code points of the text as typed.
    const Encoding e = tok->encode("A photo of a CAT!!");
    QCOMPARE(e.tokens[1], U + "photo");
    QCOMPARE(e.spans[0], (std::pair<int64_t, int64_t>{0, 1}));
    QCOMPARE(e.spans[1], (std::pair<int64_t, int64_t>{1, 7}));
    QCOMPARE(e.spans[4], (std::pair<int64_t, int64_t>{12, 16}));
    QCOMPARE(e.spans[5], (std::pair<int64_t, int64_t>{18, 18}));  // eos at the end
    QCOMPARE(tok->decode(e.ids), std::string("a photo of a cat"));
    QCOMPARE(tok->decode({4, 8, 1, 1, 1, 1}), std::string("a cat"));  // padding skipped
    QCOMPARE(tok->special_token_id("</s>"), int64_t(1));
    QCOMPARE(tok->special_token_id("<unk>"), int64_t(2));
    QCOMPARE(tok->vocab_size(), int64_t(36));
    QVERIFY_THROWS_EXCEPTION(InputError, tok->encode("\xFF"));
    QVERIFY_THROWS_EXCEPTION(InputError, tok->decode({36}));

    // A special token missing from the vocabulary gets the next id and is matched whole.
    const fs::path extra = fs::path(tmp.path().toStdString()) / "extra";
    write_siglip_folder(extra, {{"tokenizer_class", "SiglipTokenizer"},
                                {"additional_special_tokens", {"<sep>"}},
                                {"added_tokens_decoder",
                                 {{"1", {{"content", "</s>"}, {"special", "not a bool"}}}}}});
    const auto with_sep = load_tokenizer(extra);
    QCOMPARE(with_sep->encode("a<sep>cat").ids, (Ids{4, 36, 7, 10, 1}));
    QCOMPARE(with_sep->vocab_size(), int64_t(37));
    QCOMPARE(with_sep->special_token_id("<sep>"), int64_t(36));

    // do_lower_case false keeps the case: "A" is its own piece, with a lone "▁" before it.
    const fs::path cased = fs::path(tmp.path().toStdString()) / "cased";
    write_siglip_folder(cased, {{"tokenizer_class", "SiglipTokenizer"}, {"do_lower_case", false}});
    QCOMPARE(load_tokenizer(cased)->encode("A cat").ids, (Ids{3, 35, 8, 1}));

    // Punctuation goes before white space is collapsed, so the spaces around it make one run
    // (seen with a model that keeps repeated spaces: "▁▁" would be two pieces).
    const fs::path spaces = fs::path(tmp.path().toStdString()) / "spaces";
    write_siglip_folder(spaces, {{"tokenizer_class", "SiglipTokenizer"}}, false);
    QCOMPARE(load_tokenizer(spaces)->encode("a , cat").ids, (Ids{4, 8, 1}));
    QCOMPARE(load_tokenizer(spaces)->encode("a  cat").ids, (Ids{4, 8, 1}));

    // spiece.model of another class is refused with a message, not read as SigLIP's.
    const fs::path t5 = fs::path(tmp.path().toStdString()) / "t5";
    write_siglip_folder(t5, {{"tokenizer_class", "T5Tokenizer"}});
    try {
      load_tokenizer(t5);
      QFAIL("read a T5 spiece.model as SigLIP's");
    } catch (const ModelError& e) {
      QVERIFY2(std::string(e.what()).find("T5Tokenizer") != std::string::npos, e.what());
    }
  }

  // SigLIP 2 ships Gemma's tokenizer.json. transformers' Siglip2Tokenizer (named by a folder's
  // tokenizer_config.json) puts a Lowercase normalizer in front of the file's; GemmaTokenizer (the
  // FixRes checkpoints' tokenizer_config) does not lower-case.
  void siglip2_lowercases() {
    QTemporaryDir tmp;
    const nlohmann::json tokenizer = {
        {"version", "1.0"},
        {"added_tokens",
         {{{"id", 1}, {"content", "<eos>"}, {"special", true}, {"normalized", false}}}},
        {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", U}}},
        {"pre_tokenizer", nullptr},
        {"post_processor", nullptr},
        {"decoder", nullptr},
        {"model",
         {{"type", "BPE"},
          {"unk_token", "<unk>"},
          {"byte_fallback", false},
          {"fuse_unk", true},
          {"vocab",
           {{"<pad>", 0},
            {"<eos>", 1},
            {"<bos>", 2},
            {"<unk>", 3},
            {U, 4},
            {"c", 5},
            {"a", 6},
            {"t", 7},
            {"ca", 8},
            {"cat", 9},
            {U + "cat", 10},
            {"C", 11},
            {"A", 12},
            {"T", 13}}},
          {"merges", {"c a", "ca t", U + " cat"}}}}};
    auto folder = [&](const char* name, const char* tokenizer_class) {
      const fs::path dir = fs::path(tmp.path().toStdString()) / name;
      fs::create_directories(dir);
      std::ofstream(dir / "tokenizer.json") << tokenizer.dump();
      std::ofstream(dir / "tokenizer_config.json") << nlohmann::json{
          {"tokenizer_class", tokenizer_class},
          {"do_lower_case", true},
          {"add_bos_token", false}}.dump();
      return load_tokenizer(dir);
    };
    const auto siglip2 = folder("siglip2", "Siglip2Tokenizer");
    QCOMPARE(siglip2->encode("a CAT<eos>").ids, (Ids{6, 10, 1}));
    const Encoding e = siglip2->encode("a CAT");
    QCOMPARE(e.spans[1], (std::pair<int64_t, int64_t>{1, 5}));  // "▁cat" covers " CAT"
    const auto gemma = folder("gemma", "GemmaTokenizer");
    QCOMPARE(gemma->encode("a CAT").ids, (Ids{6, 4, 11, 12, 13}));
  }
};

QTEST_GUILESS_MAIN(TestSpiece)
#include "test_spiece.moc"
