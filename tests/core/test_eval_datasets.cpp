// COCO128 and SQuAD for evaluation (atman/eval.h): the loaders, the SQuAD prompt format and
// answer-sentence ground truth on real dev-v1.1 questions (expected sentences read off the data),
// the COCO box-to-patch coverage through the CLIP crop (synthetic geometry by hand, and one real
// image with a single box), the context-length selection, and both pipelines end to end on a few
// items with the bundled models (a plumbing check: the numbers mean something only with real
// CLIP / GPT-2 checkpoints).
#include "atman/error.h"
#include "atman/eval.h"
#include "core/test_support.h"

using namespace atman;
using namespace atman::test;
namespace fs = std::filesystem;

namespace {

fs::path squad_file() {
  return shared_dir() / "data/squad/dev-v1.1.json";
}
fs::path coco_dir() {
  return shared_dir() / "data/coco128";
}

const std::vector<eval::SquadItem>& squad() {
  static const std::vector<eval::SquadItem> items = eval::load_squad(squad_file());
  return items;
}

const eval::SquadItem& squad_item(const std::string& id) {
  for (const auto& item : squad())
    if (item.id == id) return item;
  qFatal("no SQuAD question %s", id.c_str());
}

bool near(double a, double b, double tol = 1e-9) {
  return std::abs(a - b) <= tol;
}

// Code points of UTF-8 text, to index the prompt as spans do.
std::u32string u32(const std::string& s) {
  return QString::fromStdString(s).toStdU32String();
}
std::string utf8(const std::u32string& s) {
  return QString::fromStdU32String(s).toStdString();
}

}  // namespace

class TestEvalDatasets : public QObject {
  Q_OBJECT

 private slots:
  void squadLoads() {
    const auto& items = squad();
    QCOMPARE(items.size(), size_t(10570));
    QCOMPARE(eval::load_squad(squad_file(), 7).size(), size_t(7));
    for (const auto& item : items) {
      const std::u32string prompt = u32(item.prompt);
      // The first answer sits at answer_start, inside its sentence, inside the context.
      QCOMPARE(utf8(prompt.substr(item.answer_span.first,
                                  item.answer_span.second - item.answer_span.first)),
               item.answer);
      QVERIFY(item.sentence_span.first <= item.answer_span.first);
      QVERIFY(item.sentence_span.second >= item.answer_span.second);
      QCOMPARE(utf8(prompt.substr(item.sentence_span.first,
                                  item.sentence_span.second - item.sentence_span.first)),
               item.sentence);
      QCOMPARE(item.target, " " + item.answer);
    }
    QVERIFY_THROWS_EXCEPTION(InputError, eval::load_squad(shared_dir() / "no-such.json"));
  }

  void squadPromptFormat() {
    const auto& item = squad_item("56be4db0acb8001400a502ec");
    QCOMPARE(item.question, std::string("Which NFL team represented the AFC at Super Bowl 50?"));
    QCOMPARE(item.answer, std::string("Denver Broncos"));
    QCOMPARE(item.target, std::string(" Denver Broncos"));
    QVERIFY(item.prompt.rfind("Super Bowl 50 was an American football game", 0) == 0);
    const std::string tail =
        "Arabic numerals 50.\nQuestion: Which NFL team represented the AFC at Super Bowl "
        "50?\nAnswer:";
    QCOMPARE(item.prompt.substr(item.prompt.size() - tail.size()), tail);
    QCOMPARE(eval::squad_prompt("C.", "Q?"), std::string("C.\nQuestion: Q?\nAnswer:"));
  }

  // Answer sentences of real dev-v1.1 questions, read off the contexts by hand.
  void squadAnswerSentences() {
    const std::vector<std::pair<std::string, std::string>> cases = {
        // Super Bowl 50, answer "Denver Broncos" (answer_start 177): the second sentence.
        {"56be4db0acb8001400a502ec",
         "The American Football Conference (AFC) champion Denver Broncos defeated the National "
         "Football Conference (NFC) champion Carolina Panthers 24–10 to earn their third Super "
         "Bowl title."},
        // "Santa Clara, California" (403): the answer ends the sentence.
        {"56be4db0acb8001400a502ee",
         "The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area "
         "at Santa Clara, California."},
        // "gold" (488) in the long last sentence with quotes and parentheses.
        {"56be4db0acb8001400a502f0",
         "As this was the 50th Super Bowl, the league emphasized the \"golden anniversary\" with "
         "various gold-themed initiatives, as well as temporarily suspending the tradition of "
         "naming each Super Bowl game with Roman numerals (under which the game would have been "
         "known as \"Super Bowl L\"), so that the logo could prominently feature the Arabic "
         "numerals 50."},
        // Warsaw: non-ASCII names before the answer ("Skłodowska", code points, not bytes).
        {"5733a5f54776f41900660f46",
         "Famous musicians include Władysław Szpilman and Frédéric Chopin."},
        {"5733a5f54776f41900660f48",
         "Casimir Pulaski, a Polish general and hero of the American Revolutionary War, was born "
         "here in 1745."},
        // The first sentence of a context.
        {"5733a5f54776f41900660f44",
         "One of the most famous people born in Warsaw was Maria Skłodowska-Curie, who achieved "
         "international recognition for her research on radioactivity and was the first female "
         "recipient of the Nobel Prize."},
    };
    for (const auto& [id, sentence] : cases) {
      const auto& item = squad_item(id);
      QCOMPARE(item.sentence, sentence);
    }
    QCOMPARE(squad_item("5733a5f54776f41900660f44").sentence_span.first, int64_t(0));
  }

  void sentenceSplitting() {
    const std::string text = "First one. Second: 3.5 km! Third?  Fourth\tends here.";
    //                        0         1         2         3         4         5
    //                        0123456789012345678901234567890123456789012345678901
    QCOMPARE(eval::sentence_span(text, 0, 5), (std::pair<int64_t, int64_t>{0, 10}));
    QCOMPARE(eval::sentence_span(text, 19, 22),
             (std::pair<int64_t, int64_t>{11, 26}));  // "3.5": no split
    QCOMPARE(eval::sentence_span(text, 27, 32), (std::pair<int64_t, int64_t>{27, 33}));
    // An answer in the whitespace between two sentences belongs to the next.
    QCOMPARE(eval::sentence_span(text, 34, 35), (std::pair<int64_t, int64_t>{35, 52}));
    // An answer crossing a sentence end covers both sentences.
    QCOMPARE(eval::sentence_span(text, 5, 17), (std::pair<int64_t, int64_t>{0, 26}));
    // No final mark: the rest of the text is the last sentence.
    QCOMPARE(eval::sentence_span("A b. C d", 6, 7), (std::pair<int64_t, int64_t>{5, 8}));
    // Code points, not bytes: "é" is one.
    QCOMPARE(eval::sentence_span("Été. Oui.", 5, 8), (std::pair<int64_t, int64_t>{5, 9}));
  }

  // The token ground truth of a SQuAD item: exactly the tokens of the answer sentence.
  void squadTokenTruth() {
    const auto model = shared_model("facts-gpt2");
    for (const char* id : {"56be4db0acb8001400a502ee", "5733a5f54776f41900660f46"}) {
      const auto& item = squad_item(id);
      // The candidates of an explanation of this prompt are its tokens, with their spans.
      Encoding enc = model->tokenizer().encode(item.prompt);
      Explanation e;
      const std::u32string prompt = u32(item.prompt);
      for (size_t i = 0; i < enc.ids.size(); ++i) {
        Candidate c;
        c.span = enc.spans[i];
        c.text = utf8(prompt.substr(c.span.first, c.span.second - c.span.first));
        e.candidates.push_back(c);
      }
      const auto y = eval::token_truth(e, item.sentence_span);
      std::string marked;
      for (size_t i = 0; i < y.size(); ++i)
        if (y[i] > 0) marked += e.candidates[i].text;
      QCOMPARE(marked, " " + item.sentence);  // the words with their leading spaces
    }
  }

  void squadSelection() {
    const auto model = shared_model("facts-gpt2");
    std::vector<eval::SquadItem> first(squad().begin(), squad().begin() + 400);
    auto all = eval::select_fitting(*model, first);
    QCOMPARE(int(all.items.size()) + all.skipped, 400);
    QVERIFY(!all.items.empty());
    QVERIFY(all.skipped > 0);
    for (const auto& item : all.items) {
      const size_t tokens = model->tokenizer().encode(item.prompt).ids.size() +
                            model->tokenizer().encode(item.target).ids.size() - 1;
      QVERIFY(int64_t(tokens) <= model->max_text_tokens());
    }
    auto tighter = eval::select_fitting(*model, first, 100);
    QVERIFY(tighter.items.size() < all.items.size());
    auto limited = eval::select_fitting(*model, first, 0, 2);
    QCOMPARE(limited.items.size(), size_t(2));
    QCOMPARE(limited.items[0].id, all.items[0].id);
    qInfo("facts-gpt2 (%lld positions): %zu of the first 400 questions fit, %zu within 100 tokens",
          static_cast<long long>(model->max_text_tokens()), all.items.size(), tighter.items.size());
  }

  void cocoLoads() {
    const auto set = eval::load_coco(coco_dir());
    QCOMPARE(set.classes.size(), size_t(80));
    QCOMPARE(set.classes.front(), std::string("person"));
    QCOMPARE(set.classes.back(), std::string("toothbrush"));
    // One item per (image, class present): 362 pairs over the 126 annotated images.
    QCOMPARE(set.items.size(), size_t(362));
    QCOMPARE(set.items[0].id, std::string("000000000009:bowl"));
    QCOMPARE(set.items[0].boxes.size(), size_t(3));
    QCOMPARE(set.items[1].id, std::string("000000000009:orange"));  // category 55 before 56
    QCOMPARE(set.items[1].boxes.size(), size_t(4));
    QCOMPARE(set.items[2].id, std::string("000000000009:broccoli"));
    size_t boxes = 0;
    for (const auto& item : set.items) {
      boxes += item.boxes.size();
      QVERIFY(fs::exists(item.image));
    }
    QCOMPARE(boxes, size_t(939));  // every annotation, crowd boxes included
    QCOMPARE(eval::load_coco(coco_dir() / "instances_coco128.json", 5).items.size(), size_t(5));
    QCOMPARE(eval::coco_prompt("teddy bear"), std::string("a photo of a teddy bear"));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::load_coco(shared_dir() / "no-such-folder"));
  }

  void boxCoverageByHand() {
    // A 100x60 image resized by 0.5 (50x30), a 20x20 crop at (10, 5) of the resized image, 2x2
    // patches of 10 pixels.
    CropGeometry g;
    g.original_width = 100, g.original_height = 60, g.scale = 0.5, g.crop_x = 10, g.crop_y = 5;
    g.crop_size = 20;
    // Box (30, 20)-(50, 40) original -> (5, 5)-(15, 15) model: a quarter of each patch.
    auto c = eval::box_coverage({RectF{30, 20, 20, 20}}, g, 2);
    QCOMPARE(c.size(), size_t(4));
    for (double v : c) QVERIFY(near(v, 0.25));
    // Two overlapping boxes count their union once: (0,0)-(10,10) and (5,5)-(10,10) model.
    c = eval::box_coverage({RectF{20, 10, 20, 20}, RectF{30, 20, 10, 10}}, g, 2);
    QVERIFY(near(c[0], 1.0) && near(c[1], 0) && near(c[2], 0) && near(c[3], 0));
    // L-shaped union: (0,0)-(10,5) and (0,0)-(5,10) cover 50 + 50 - 25 = 75 of 100.
    c = eval::box_coverage({RectF{20, 10, 20, 10}, RectF{20, 10, 10, 20}}, g, 2);
    QVERIFY(near(c[0], 0.75));
    // Outside the crop: cut away. Original x < 20 is left of the crop; (0, 10)-(30, 30) original
    // = (-10, 0)-(5, 10) model -> (0, 0)-(5, 10): half of patch 0.
    c = eval::box_coverage({RectF{0, 10, 30, 20}}, g, 2);
    QVERIFY(near(c[0], 0.5) && near(c[1], 0));
    // Entirely outside.
    c = eval::box_coverage({RectF{0, 0, 10, 10}}, g, 2);
    for (double v : c) QCOMPARE(v, 0.0);
    // Different x and y scales.
    g.scale_y = 0.25;  // 60 -> 15 rows; box y 20..60 -> 5..15 -> model 0..10
    c = eval::box_coverage({RectF{20, 20, 20, 40}}, g, 2);
    QVERIFY(near(c[0], 1.0) && near(c[2], 0));
    QVERIFY_THROWS_EXCEPTION(InputError, eval::box_coverage({}, CropGeometry{}, 2));
  }

  // 000000000009.jpg (640x480) has one broccoli box, [249.6, 229.27, 316.24, 245.08]. shapes-clip
  // resizes the shortest side to 128 (640x480 -> 170x128, HF truncation) and centre-crops 128:
  // crop_x = 21. The box in model pixels: x 249.6·170/640 − 21 = 45.30 .. 129.30 (cut at 128),
  // y 229.27·128/480 = 61.14 .. 474.35·128/480 = 126.49; 16-pixel patches.
  void cocoGroundTruthOfOneImage() {
    const auto set = eval::load_coco(coco_dir(), 3);
    const auto& item = set.items[2];
    QCOMPARE(item.category, std::string("broccoli"));
    QCOMPARE(item.boxes.size(), size_t(1));
    QVERIFY(near(item.boxes[0].x, 249.6) && near(item.boxes[0].height, 245.08));
    QCOMPARE(item.width, 640);
    QCOMPARE(item.height, 480);
    const auto model = shared_model("shapes-clip");
    const PixelTensor pixels = preprocess_clip(load_image(item.image), model->preprocess_config());
    QCOMPARE(pixels.geometry.crop_x, 21);
    QCOMPARE(pixels.geometry.crop_y, 0);
    const auto y = eval::box_coverage(item.boxes, pixels.geometry, model->patch_grid());
    QCOMPARE(y.size(), size_t(64));
    const double x0 = 249.6 * 170 / 640 - 21, x1 = 128;
    const double y0 = 229.27 * 128 / 480, y1 = (229.27 + 245.08) * 128 / 480;
    // Total: the clipped box's area in patches.
    double total = 0;
    for (double v : y) total += v;
    QVERIFY(near(total, (x1 - x0) * (y1 - y0) / 256, 1e-6));
    // Locations: full inside, partial on the edges, empty outside.
    auto at = [&](int r, int c) { return y[r * 8 + c]; };
    for (int r = 4; r <= 6; ++r)
      for (int c = 3; c <= 7; ++c) QVERIFY(near(at(r, c), 1.0));
    QVERIFY(near(at(3, 2), (48 - x0) * (64 - y0) / 256, 1e-6));  // top-left corner patch
    QVERIFY(near(at(7, 7), (y1 - 112) / 16, 1e-6));              // bottom edge
    QVERIFY(near(at(5, 2), (48 - x0) / 16, 1e-6));               // left edge
    for (int c = 0; c < 8; ++c)
      for (int r = 0; r < 3; ++r) QCOMPARE(at(r, c), 0.0);
    for (int r = 0; r < 8; ++r) {
      QCOMPARE(at(r, 0), 0.0);
      QCOMPARE(at(r, 1), 0.0);
    }
  }

  // End to end with the bundled models: they were not trained on COCO or SQuAD, so this checks
  // only that everything runs and the report is well formed.
  void cocoPipelineOnFourItems() {
    const auto set = eval::load_coco(coco_dir(), 4);
    eval::RunOptions options;
    options.faithfulness_steps = 8;
    auto report =
        eval::evaluate_coco(shared_model("shapes-clip"), set,
                            eval::parse_methods("atman_single,atman_correlated"), options);
    QCOMPARE(report.dataset, std::string("coco128"));
    QCOMPARE(report.n, 4);
    QVERIFY(report.chance > 0 && report.chance < 1);
    for (const auto& m : report.methods) {
      QCOMPARE(m.n, 4);
      QVERIFY(m.deletion_auc >= 0 && m.insertion_auc <= 1);
      QVERIFY(m.forwards > 4 * 2 &&
              m.forwards <= 4 * 65);  // 64 patches + 1; fewer when masks repeat
    }
    qInfo("%s", eval::to_markdown(report).c_str());
    QVERIFY_THROWS_EXCEPTION(InputError, eval::evaluate_coco(shared_model("facts-gpt2"), set,
                                                             eval::parse_methods("atman_single")));
  }

  void squadPipelineOnFourItems() {
    const auto model = shared_model("facts-gpt2");
    auto selection = eval::select_fitting(*model, squad(), 0, 4);
    QCOMPARE(selection.items.size(), size_t(4));
    eval::RunOptions options;
    options.faithfulness_steps = 8;
    auto report = eval::evaluate_squad(
        model, selection.items, eval::parse_methods("atman_single,atman_correlated"), options);
    report.skipped = selection.skipped;
    QCOMPARE(report.dataset, std::string("squad"));
    QCOMPARE(report.n, 4);
    QVERIFY(report.chance > 0 && report.chance < 1);
    for (const auto& m : report.methods) {
      QCOMPARE(m.n, 4);
      QVERIFY(m.deletion_auc >= 0 && m.insertion_auc <= 1);
    }
    const std::string table = eval::to_markdown(report);
    QVERIFY(table.find(std::to_string(selection.skipped) + " skipped") != std::string::npos);
    QCOMPARE(nlohmann::json::parse(eval::to_json(report))["skipped"].get<int>(), selection.skipped);
    qInfo("%s", table.c_str());
  }
};

QTEST_APPLESS_MAIN(TestEvalDatasets)
#include "test_eval_datasets.moc"
