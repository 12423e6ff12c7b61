// Tokenizer tests: every golden case of both tokenizers with exact ids, the spans that the GUI
// colours, decoding, added tokens, the clean-up steps of CLIP (html.unescape, whitespace, lower())
// and the errors for bad text and bad model folders.
#include <QtTest/QtTest>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "atman/error.h"
#include "atman/tokenizer.h"
#include "core/test_support.h"
#include "text/html_unescape.h"
#include "text/unicode.h"
#include "text/utf8.h"
#include "tokenizers/bpe.h"

using namespace atman;
using atman::test::error_of;

namespace {

struct Case {
  const char* text;
  std::vector<int64_t> ids;
};

// Extra cases beyond the golden files (HTML references, final sigma, İ, Unicode whitespace, added
// tokens, \x1c..\x1f), with ids produced by OpenAI's SimpleTokenizer and HF's GPT2Tokenizer
// algorithms in Python (`regex` module, CPython 3.11 str.lower / html.unescape).
const std::vector<Case> kClipExtra = {
    {"Tom &amp; Jerry", {49406, 2435, 261, 9164, 49407}},
    {"&lt;b&gt;bold&lt;/b&gt;", {49406, 283, 321, 285, 8911, 34308, 321, 285, 49407}},
    {"&amp;amp; double", {49406, 261, 3200, 49407}},
    {"&ampx &notit; &#65;&#x42; &#0; &#128;",
     {49406, 261, 343, 126, 361, 585, 282, 3937, 39802, 6309, 49407}},
    {"caf&eacute; &copy 2024", {49406, 15304, 5811, 273, 271, 273, 275, 49407}},
    {"&NotNestedGreaterGreater; &nbsp;x&NBSP;",
     {49406, 158, 103, 95, 136, 372, 343, 261, 6459, 4393, 282, 49407}},
    {"&#x1F600;&#128512", {49406, 34503, 49407}},
    {"&#55296; &#x110000; &#1;", {49406, 39802, 39802, 49407}},
    {"\316\237\316\224\316\237\316\243 \316\243\316\221\316\243. \316\243 a\316\243.b",
     {49406, 138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138,
      109,   139, 480, 269, 139, 481, 64,  139, 481, 269, 321, 49407}},
    {"\304\260stanbul", {49406, 328, 16384, 11231, 49407}},
    {"a\302\205b\034c\035", {49406, 320, 321, 472, 322, 49407}},
    {"x\343\200\200y\342\200\250z\342\200\213w", {49406, 343, 344, 345, 9844, 342, 49407}},
    {"'S IT'S", {49406, 568, 585, 568, 49407}},
    {"it'\305\277", {49406, 585, 6, 129, 379, 49407}},
    {"<|startoftext|>hi", {49406, 49406, 1883, 49407}},
    {"&lt;|endoftext|&gt;", {49406, 49407, 49407}},
    {"\307\205 \307\210 \307\261", {49406, 131, 484, 131, 487, 131, 367, 49407}},
    {"\342\205\253 \342\221\240 \302\275 \331\243",
     {49406, 158, 227, 375, 158, 239, 510, 33613, 149, 352, 49407}},
    {"na\303\257ve\314\201", {49406, 1097, 35689, 563, 136, 479, 49407}},
    {"Hello\011World\302\240!", {49406, 3306, 1002, 256, 49407}},
    {"\360\237\230\200\360\237\230\200\360\237\230\200", {49406, 12832, 34503, 49407}},
    {"\357\254\201 ligature", {49406, 171, 105, 479, 19915, 4490, 49407}},
    {"\342\204\252 Kelvin", {49406, 330, 32859, 49407}},
    {"\341\272\236 GROSS", {49406, 127, 509, 11541, 49407}},
    {"123abc456", {49406, 272, 273, 274, 5334, 275, 276, 277, 49407}},
    {"\316\206\316\210\316\211\316\212 "
     "\341\275\210\316\264\317\205\317\203\317\203\316\265\317\215\317\202",
     {49406, 138, 105, 138, 255, 138, 106, 138, 363, 157, 121, 222, 138,  112,
      139,   227, 139, 225, 139, 225, 138, 113, 139, 235, 139, 480, 49407}},
    {"\320\201\320\226\320\230\320\232 \320\201\320\273\320\272\320\260",
     {49406, 141, 239, 140, 114, 29503, 374, 141, 239, 47611, 27152, 27080, 49407}},
    {"\034\035 trimmed \036\037", {49406, 40657, 49407}},
    {"&", {49406, 261, 49407}},
    {"a\315\205b \315\205", {49406, 320, 321, 49407}},
    {"\341\276\263 \316\221\316\231\315\205", {49406, 157, 122, 367, 138, 109, 138, 373, 49407}},
};
const std::vector<Case> kGpt2Extra = {
    {" ", {220}},
    {"\012\012\012", {628, 198}},
    {"a  b", {64, 220, 275}},
    {"x \011 y", {87, 220, 197, 331}},
    {"hello  ", {31373, 220, 220}},
    {"<|endoftext|><|endoftext|>", {50256, 50256}},
    {"'S 'll", {6, 50, 705, 297}},
    {"1,000,000", {16, 11, 830, 11, 830}},
    {"\316\237\316\224\316\237\316\243", {138, 253, 138, 242, 138, 253, 138, 96}},
    {"\302\205x", {126, 227, 87}},
    {"a\342\200\250b", {64, 447, 101, 65}},
    {"\360\237\230\200 x", {47249, 222, 2124}},
    {"test<|endoftext", {9288, 27, 91, 437, 1659, 5239}},
    {"\303\234n\303\257c\303\266d\303\251", {127, 250, 77, 26884, 66, 9101, 67, 2634}},
    {"'''", {7061, 6}},
    {"  \011\012  x", {220, 220, 197, 198, 220, 2124}},
    {"a\034b", {64, 216, 65}},
    {"x\343\200\200 y", {87, 5099, 222, 331}},
    {"\342\205\253 \342\221\240 \302\275", {158, 227, 104, 2343, 239, 254, 25208}},
    {"3.14abc", {18, 13, 1415, 39305}},
    {"<image> not special here", {27, 9060, 29, 407, 2041, 994}},
    {"\015\012\015\012", {201, 198, 201, 198}},
};

std::string ids_text(const std::vector<int64_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// "" when equal, else where the first difference is, for the failure message.
std::string first_mismatch(const std::string& text, const std::vector<int64_t>& got,
                           const std::vector<int64_t>& want) {
  if (got == want) return {};
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return "text '" + text + "': first mismatch at token " + std::to_string(i) + "\n  got  " +
         ids_text(got) + "\n  want " + ids_text(want);
}

// The code points [begin, end) of UTF-8 `text`, as UTF-8.
std::string code_point_slice(const std::string& text, int64_t begin, int64_t end) {
  const std::u32string cps = text::decode_utf8(text);
  return text::encode_utf8(std::u32string_view(cps).substr(static_cast<size_t>(begin),
                                                           static_cast<size_t>(end - begin)));
}

void add_rows(const nlohmann::json& golden, const std::vector<Case>& extra) {
  QTest::addColumn<QByteArray>("text");
  QTest::addColumn<QList<qint64>>("ids");
  int n = 0;
  for (const auto& c : golden["cases"]) {
    const auto ids = c["ids"].get<std::vector<int64_t>>();
    QTest::addRow("golden %d", n++) << QByteArray::fromStdString(c["text"].get<std::string>())
                                    << QList<qint64>(ids.begin(), ids.end());
  }
  n = 0;
  for (const auto& c : extra) {
    QTest::addRow("extra %d", n++)
        << QByteArray(c.text) << QList<qint64>(c.ids.begin(), c.ids.end());
  }
}

// Spans are ordered, lie within the text, and no real token has an empty span.
void check_spans(const Encoding& enc, const std::string& text, bool clip) {
  const auto n = static_cast<int64_t>(text::decode_utf8(text).size());
  QCOMPARE(enc.spans.size(), enc.ids.size());
  QCOMPARE(enc.tokens.size(), enc.ids.size());
  for (size_t i = 0; i < enc.spans.size(); ++i) {
    const auto [b, e] = enc.spans[i];
    QVERIFY2(0 <= b && b <= e && e <= n,
             qPrintable(QString("span %1 [%2,%3) outside text of %4").arg(i).arg(b).arg(e).arg(n)));
    const bool sentinel = clip && (i == 0 || i + 1 == enc.spans.size());
    if (!sentinel) QVERIFY2(b < e, qPrintable(QString("token %1 has an empty span").arg(i)));
    if (i > 0) {
      QVERIFY2(enc.spans[i - 1].first <= b && enc.spans[i - 1].second <= e,
               qPrintable(QString("span %1 goes backwards").arg(i)));
    }
  }
  if (clip) {
    QCOMPARE(enc.spans.front(), std::make_pair(int64_t{0}, int64_t{0}));
    QCOMPARE(enc.spans.back(), std::make_pair(n, n));
  }
}

}  // namespace

class TestTokenizers : public QObject {
  Q_OBJECT

 private:
  std::unique_ptr<Tokenizer> clip_, gpt2_, llava_;
  nlohmann::json clip_golden_, gpt2_golden_;

 private slots:
  void initTestCase() {
    using clock = std::chrono::steady_clock;
    const auto models = test::models_dir();
    auto t0 = clock::now();
    clip_ = load_clip_tokenizer(models / "shapes-clip" / "vocab.json",
                                models / "shapes-clip" / "merges.txt");
    auto t1 = clock::now();
    gpt2_ = load_gpt2_tokenizer(models / "facts-gpt2");
    auto t2 = clock::now();
    llava_ = load_tokenizer(models / "shapes-llava");
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    qInfo("load: CLIP %.1f ms, GPT-2 %.1f ms", ms(t1 - t0), ms(t2 - t1));
    clip_golden_ = test::read_json(test::golden_dir() / "tokenizer_clip.json");
    gpt2_golden_ = test::read_json(test::golden_dir() / "tokenizer_gpt2.json");
  }

  void clip_ids_data() { add_rows(clip_golden_, kClipExtra); }
  void clip_ids() {
    QFETCH(QByteArray, text);
    QFETCH(QList<qint64>, ids);
    const std::string t = text.toStdString();
    const Encoding enc = clip_->encode(t);
    const std::string diff =
        first_mismatch(t, enc.ids, std::vector<int64_t>(ids.begin(), ids.end()));
    QVERIFY2(diff.empty(), diff.c_str());
    check_spans(enc, t, /*clip=*/true);
  }

  void gpt2_ids_data() { add_rows(gpt2_golden_, kGpt2Extra); }
  void gpt2_ids() {
    QFETCH(QByteArray, text);
    QFETCH(QList<qint64>, ids);
    const std::string t = text.toStdString();
    const Encoding enc = gpt2_->encode(t);
    const std::string diff =
        first_mismatch(t, enc.ids, std::vector<int64_t>(ids.begin(), ids.end()));
    QVERIFY2(diff.empty(), diff.c_str());
    check_spans(enc, t, /*clip=*/false);
    // Byte-level BPE loses nothing: the tokens' bytes are the text, and each token's bytes lie
    // within the characters its span covers.
    std::string joined;
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      const std::string bytes = tokenizers::token_bytes(enc.tokens[i]);
      joined += bytes;
      const std::string covered = code_point_slice(t, enc.spans[i].first, enc.spans[i].second);
      QVERIFY2(covered.find(bytes) != std::string::npos,
               qPrintable(QString("token %1 '%2' is not inside its span text '%3'")
                              .arg(i)
                              .arg(QString::fromStdString(enc.tokens[i]))
                              .arg(QString::fromStdString(covered))));
    }
    QCOMPARE(joined, t);
    QCOMPARE(gpt2_->decode(enc.ids), t);
  }

  void clip_spans_cover_token_letters() {
    // For plain ASCII text a token's letters (without "</w>") appear in the lower-cased span text.
    for (const auto& c : clip_golden_["cases"]) {
      const auto text = c["text"].get<std::string>();
      if (std::any_of(text.begin(), text.end(), [](char ch) { return ch & 0x80 || ch == '&'; })) {
        continue;
      }
      const Encoding enc = clip_->encode(text);
      for (size_t i = 1; i + 1 < enc.ids.size(); ++i) {
        std::string letters = enc.tokens[i];
        if (letters.ends_with("</w>")) letters.resize(letters.size() - 4);
        if (letters == "<|endoftext|>") continue;
        const QString covered =
            QString::fromStdString(code_point_slice(text, enc.spans[i].first, enc.spans[i].second))
                .toLower();
        QVERIFY2(covered.contains(QString::fromStdString(letters)),
                 qPrintable(QString("'%1': token '%2' not in span text '%3'")
                                .arg(QString::fromStdString(text))
                                .arg(QString::fromStdString(letters))
                                .arg(covered)));
      }
    }
  }

  void clip_spans_point_into_original_text() {
    // Clean-up steps must not shift spans: entities, whitespace runs and İ map back whole.
    const std::string text = "  Tom &amp;amp;\t\u00a0 J\u0130rry ";
    const Encoding enc = clip_->encode(text);
    QStringList covered;
    for (size_t i = 1; i + 1 < enc.ids.size(); ++i) {
      covered << QString::fromStdString(
          code_point_slice(text, enc.spans[i].first, enc.spans[i].second));
    }
    // "jİrry" lower-cases to "ji\u0307rry", which splits at the combining dot: both pieces that
    // hold part of İ colour it.
    QCOMPARE(covered, (QStringList{"Tom", "&amp;amp;", "J\u0130", "\u0130", "r", "ry"}));
    QCOMPARE(enc.tokens.at(2), std::string("&</w>"));
    QCOMPARE(enc.spans.back().first, static_cast<int64_t>(text::decode_utf8(text).size()));
  }

  void gpt2_partial_characters_share_a_span() {
    // "😀" is split into two byte-level tokens; both colour the whole emoji.
    const Encoding enc = gpt2_->encode("emoji \xF0\x9F\x98\x80");
    QCOMPARE(enc.tokens,
             (std::vector<std::string>{"em", "oji", "\u0120\u00f0\u0141\u013a", "\u0122"}));
    QCOMPARE(enc.ids, (std::vector<int64_t>{368, 31370, 30325, 222}));
    QCOMPARE(enc.spans[2], std::make_pair(int64_t{5}, int64_t{7}));
    QCOMPARE(enc.spans[3], std::make_pair(int64_t{6}, int64_t{7}));
  }

  void llava_image_token() {
    const Encoding enc = llava_->encode("<image>\nQuestion: What is in the picture? Answer:");
    QCOMPARE(enc.ids, (std::vector<int64_t>{50257, 198, 24361, 25, 1867, 318, 287, 262, 4286, 30,
                                            23998, 25}));
    QCOMPARE(enc.tokens.front(), std::string("<image>"));
    QCOMPARE(enc.spans.front(), std::make_pair(int64_t{0}, int64_t{7}));
    QCOMPARE(llava_->special_token_id("<image>"), int64_t{50257});
    QCOMPARE(llava_->special_token_id("<|endoftext|>"), int64_t{50256});
    QCOMPARE(llava_->special_token_id("<nope>"), int64_t{-1});
    QCOMPARE(llava_->vocab_size(), int64_t{50258});
    QCOMPARE(llava_->decode(enc.ids),
             std::string("<image>\nQuestion: What is in the picture? Answer:"));
    // The facts model has no added tokens: "<image>" is ordinary text there.
    QCOMPARE(gpt2_->encode("<image>").ids, (std::vector<int64_t>{27, 9060, 29}));
    QCOMPARE(gpt2_->special_token_id("<image>"), int64_t{-1});
    QCOMPARE(gpt2_->vocab_size(), int64_t{50257});
  }

  void load_tokenizer_picks_the_kind() {
    const auto models = test::models_dir();
    auto clip = load_tokenizer(models / "shapes-clip");
    QCOMPARE(clip->special_token_id("<|startoftext|>"), int64_t{49406});
    QCOMPARE(clip->vocab_size(), int64_t{49408});
    QCOMPARE(clip->encode("a photo of a red circle").ids,
             (std::vector<int64_t>{49406, 320, 1125, 539, 320, 736, 7117, 49407}));
    auto gpt2 = load_tokenizer(test::shared_dir() / "tokenizers" / "gpt2");  // no config.json
    QCOMPARE(gpt2->special_token_id("<|endoftext|>"), int64_t{50256});
    QCOMPARE(gpt2->encode("Hello world").ids, (std::vector<int64_t>{15496, 995}));
    QCOMPARE(load_tokenizer(models / "facts-gpt2")->vocab_size(), int64_t{50257});
  }

  void clip_decode() {
    QCOMPARE(clip_->decode(clip_->encode("A PHOTO of a Red Circle").ids),
             std::string("a photo of a red circle"));
    QCOMPARE(clip_->decode(clip_->encode("caf\u00e9 \u00dcber  &amp;!!").ids),
             std::string("caf\u00e9 \u00fcber &!!"));
    QCOMPARE(clip_->decode({49406, 49407}), std::string());
    QCOMPARE(clip_->decode({}), std::string());
    // Re-encoding the decoded text gives the same ids for text without odd spacing.
    for (const auto& c : clip_golden_["cases"]) {
      if (c["text"].get<std::string>().find("<|") != std::string::npos) continue;  // specials
      const auto ids = clip_->encode(c["text"].get<std::string>()).ids;
      const std::string text = clip_->decode(ids);
      if (text.find_first_of("!?.;:-@/=$#'\"`_") != std::string::npos) continue;
      QCOMPARE(clip_->encode(text).ids, ids);
    }
    QVERIFY(error_of<InputError>([&] { clip_->decode({49408}); }).contains("49408"));
    QVERIFY(error_of<InputError>([&] { clip_->decode({-1}); }).contains("-1"));
  }

  void gpt2_decode_repairs_split_characters() {
    // The first byte of "é" alone is not UTF-8: decoding replaces it like errors="replace".
    QCOMPARE(gpt2_->decode({66, 1878, 127}), std::string("caf\xEF\xBF\xBD"));
    QCOMPARE(gpt2_->decode({50256, 15496}), std::string("<|endoftext|>Hello"));
    QVERIFY(error_of<InputError>([&] { gpt2_->decode({50257}); }).contains("50257"));
  }

  void empty_text() {
    const Encoding clip = clip_->encode("");
    QCOMPARE(clip.ids, (std::vector<int64_t>{49406, 49407}));
    QCOMPARE(clip.tokens, (std::vector<std::string>{"<|startoftext|>", "<|endoftext|>"}));
    QCOMPARE(clip.spans.back(), std::make_pair(int64_t{0}, int64_t{0}));
    QCOMPARE(clip_->encode(" \t&nbsp; ").ids, (std::vector<int64_t>{49406, 49407}));
    QVERIFY(gpt2_->encode("").ids.empty());
    QCOMPARE(gpt2_->decode({}), std::string());
  }

  void invalid_utf8_data() {
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("lone continuation") << QByteArray("abc\x80");
    QTest::newRow("bad lead byte") << QByteArray("\xFF");
    QTest::newRow("truncated") << QByteArray("caf\xC3");
    QTest::newRow("overlong") << QByteArray("\xC0\xAF");
    QTest::newRow("surrogate") << QByteArray("\xED\xA0\x80");
    QTest::newRow("above U+10FFFF") << QByteArray("\xF4\x90\x80\x80");
    QTest::newRow("bad continuation") << QByteArray("\xE2\x28\xA1");
  }
  void invalid_utf8() {
    QFETCH(QByteArray, text);
    const std::string t = text.toStdString();
    for (const Tokenizer* tok : {clip_.get(), gpt2_.get(), llava_.get()}) {
      const QString msg = error_of<InputError>([&] { tok->encode(t); });
      QVERIFY2(msg.contains("UTF-8"), qPrintable(msg));
    }
  }

  void missing_files_name_the_path() {
    const auto models = test::models_dir();
    const auto missing = std::filesystem::path("/nonexistent/atman/vocab.json");
    QString msg = error_of<ModelError>(
        [&] { load_clip_tokenizer(missing, models / "shapes-clip" / "merges.txt"); });
    QVERIFY2(msg.contains(QString::fromStdString(missing.string())), qPrintable(msg));

    QTemporaryDir dir;
    const std::filesystem::path d = dir.path().toStdString();
    std::filesystem::copy_file(models / "facts-gpt2" / "merges.txt", d / "merges.txt");
    msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains(QString::fromStdString(d.string())) && msg.contains("vocab.json"),
             qPrintable(msg));
    msg = error_of<ModelError>([&] { load_tokenizer(d); });
    QVERIFY2(msg.contains("vocab.json"), qPrintable(msg));
    msg = error_of<ModelError>([&] { load_tokenizer(d / "nope"); });
    QVERIFY2(msg.contains(QString::fromStdString((d / "nope").string())), qPrintable(msg));
  }

  void malformed_files_are_model_errors() {
    QTemporaryDir dir;
    const std::filesystem::path d = dir.path().toStdString();
    auto write = [&](const char* name, const std::string& content) {
      std::ofstream(d / name, std::ios::binary) << content;
    };
    write("merges.txt", "#version: 0.2\na b\n");
    write("vocab.json", "{\"a\": 0, ");
    QString msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains("vocab.json") && msg.contains("JSON"), qPrintable(msg));
    write("vocab.json", "{\"a\": \"zero\"}");
    msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains("vocab.json") && msg.contains("'a'"), qPrintable(msg));
    // Not byte-level: the byte symbols are missing.
    write("vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
    msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains("byte"), qPrintable(msg));
    // A merges line that is not two symbols names the line.
    std::filesystem::copy_file(test::models_dir() / "facts-gpt2" / "vocab.json", d / "vocab.json",
                               std::filesystem::copy_options::overwrite_existing);
    write("merges.txt", "#version: 0.2\n\xC4\xA0 t\nthree parts here\n");
    msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains("merges.txt") && msg.contains("line 3"), qPrintable(msg));
    // "ĠtheĠthe" is no token of the vocabulary.
    write("merges.txt", "#version: 0.2\n\xC4\xA0the \xC4\xA0the\n");
    msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains("line 2") && msg.contains("\xC4\xA0the\xC4\xA0the"), qPrintable(msg));
    write("merges.txt", "#version: 0.2\n\xC4\xA0 t\n");
    write("added_tokens.json", "[1, 2]");
    msg = error_of<ModelError>([&] { load_gpt2_tokenizer(d); });
    QVERIFY2(msg.contains("added_tokens.json"), qPrintable(msg));
  }

  void added_token_strip_flags() {
    // An added token with lstrip/rstrip swallows the whitespace around it, as in HF.
    QTemporaryDir dir;
    const std::filesystem::path d = dir.path().toStdString();
    const auto models = test::models_dir();
    std::filesystem::copy_file(models / "facts-gpt2" / "vocab.json", d / "vocab.json");
    std::filesystem::copy_file(models / "facts-gpt2" / "merges.txt", d / "merges.txt");
    std::ofstream(d / "tokenizer_config.json")
        << R"({"added_tokens_decoder": {"50257": {"content": "<mask>", "lstrip": true,
              "rstrip": false}, "50258": {"content": "<sep>", "rstrip": true}}})";
    auto tok = load_gpt2_tokenizer(d);
    QCOMPARE(tok->vocab_size(), int64_t{50259});
    const Encoding enc = tok->encode("Hello  <mask> world<sep>  again");
    QCOMPARE(enc.ids,
             (std::vector<int64_t>{15496, 50257, 995, 50258, 17776}));  // "again", no space
    QCOMPARE(enc.spans[1], std::make_pair(int64_t{7}, int64_t{13}));
  }

  void html_unescape_matches_python_data() {
    QTest::addColumn<QString>("in");
    QTest::addColumn<QString>("want");
    // Expected values from CPython 3.11 html.unescape.
    QTest::newRow("named") << "&lt;&gt;&amp;&quot;&apos;&nbsp;"
                           << "<>&\"'\u00a0";
    QTest::newRow("legacy without ;") << "&ampx &lt3 &copy"
                                      << "&x <3 \u00a9";
    QTest::newRow("longest prefix") << "&notit; &notin;"
                                    << "\u00acit; \u2209";
    QTest::newRow("unknown") << "&bogus; & &# &#x; &;"
                             << "&bogus; & &# &#x; &;";
    QTest::newRow("numeric") << "&#65;&#x42;&#X43&#0068;"
                             << "ABCD";
    QTest::newRow("invalid numbers") << "[&#0;][&#128;][&#1;][&#xD800;][&#x110000;]"
                                     << "[\ufffd][\u20ac][][\ufffd][\ufffd]";
    QTest::newRow("two code points") << "&NotNestedGreaterGreater;"
                                     << "\u2aa2\u0338";
    QTest::newRow("case matters") << "&AMP; &Amp;"
                                  << "& &Amp;";
  }
  void html_unescape_matches_python() {
    QFETCH(QString, in);
    QFETCH(QString, want);
    auto t = text::MappedText::identity(text::decode_utf8(in.toStdString()));
    const auto out = text::html_unescape(t);
    QCOMPARE(QString::fromStdString(text::encode_utf8(out.text)), want);
    QCOMPARE(out.origin.size(), out.text.size());
  }

  void lower_matches_python() {
    auto lower = [](const char* s) {
      auto t = text::MappedText::identity(text::decode_utf8(s));
      return text::encode_utf8(text::python_lower(t).text);
    };
    QCOMPARE(lower("\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3. \u03a3 A\u03a3.B"),
             std::string("\u03bf\u03b4\u03bf\u03c2 \u03c3\u03b1\u03c2. \u03c3 a\u03c3.b"));
    QCOMPARE(lower("\u0130I"), std::string("i\u0307i"));
    QCOMPARE(lower("\u00c9COLE \u041f\u0420\u0418\u0412\u0415\u0422 \u1e9e \u01c5 \u212a"),
             std::string("\u00e9cole \u043f\u0440\u0438\u0432\u0435\u0442 \u00df \u01c6 k"));
  }

  void utf8_repair() {
    QCOMPARE(text::repair_utf8("a\xF0\x9F\x98"), std::string("a\xEF\xBF\xBD"));
    QCOMPARE(text::repair_utf8("\xC3\x28"), std::string("\xEF\xBF\xBD("));
    QCOMPARE(text::repair_utf8("\xED\xA0\x80"),
             std::string("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  }

  void encode_is_thread_safe() {
    std::vector<std::string> texts;
    for (const auto& c : clip_golden_["cases"]) texts.push_back(c["text"].get<std::string>());
    for (const auto& c : gpt2_golden_["cases"]) texts.push_back(c["text"].get<std::string>());
    std::vector<std::vector<int64_t>> want_clip, want_gpt2;
    for (const auto& t : texts) {
      want_clip.push_back(clip_->encode(t).ids);
      want_gpt2.push_back(gpt2_->encode(t).ids);
    }
    // Fresh tokenizers so that the threads fill the word caches concurrently.
    const auto models = test::models_dir();
    auto clip = load_tokenizer(models / "shapes-clip");
    auto gpt2 = load_tokenizer(models / "facts-gpt2");
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) {
      threads.emplace_back([&, k] {
        for (int round = 0; round < 20; ++round) {
          for (size_t i = 0; i < texts.size(); ++i) {
            const size_t j = (i + static_cast<size_t>(k) * 7) % texts.size();
            if (clip->encode(texts[j]).ids != want_clip[j]) ++failures;
            if (gpt2->encode(texts[j]).ids != want_gpt2[j]) ++failures;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    QCOMPARE(failures.load(), 0);
  }

  void long_inputs() {
    // A long word without spaces and a long text: no quadratic blow-up in practice, exact results.
    const std::string word(20000, 'x');
    const Encoding enc = gpt2_->encode(word);
    QCOMPARE(gpt2_->decode(enc.ids), word);
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "The cat is red. The dog lives in New York. ";
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const Encoding e2 = gpt2_->encode(text);
    const auto t1 = clock::now();
    const Encoding e3 = clip_->encode(text);
    const auto t2 = clock::now();
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    qInfo("encode %zu chars: GPT-2 %.1f ms (%zu tokens), CLIP %.1f ms (%zu tokens)", text.size(),
          ms(t1 - t0), e2.ids.size(), ms(t2 - t1), e3.ids.size());
    QCOMPARE(gpt2_->decode(e2.ids), text);
    QCOMPARE(e2.ids.size(), size_t{2000 * 12 + 1});  // + the final space
  }
};

QTEST_APPLESS_MAIN(TestTokenizers)
#include "test_tokenizers.moc"
