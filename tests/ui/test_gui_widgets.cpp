// The pieces under the widgets, without a model: token segments from code-point spans, token
// layout, the colormap read-back, the κ steps and input keys of the GUI cache, typed settings.
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include "colormaps.h"
#include "explanation_cache.h"
#include "settings.h"
#include "token_layout.h"

using namespace atman;
using namespace atman::ui;

namespace {

Candidate token(int index, int64_t begin, int64_t end, double value) {
  Candidate c;
  c.index = index;
  c.kind = CandidateKind::Token;
  c.span = {begin, end};
  c.value = value;
  return c;
}

}  // namespace

class TestGuiWidgets : public QObject {
  Q_OBJECT

 private slots:
  void segmentsFollowCodePointSpans() {
    // "é" and the emoji are one code point each but not one UTF-16 unit each (the emoji is two).
    const QString text = QStringLiteral("a café 😀 ok");
    Explanation e;
    e.candidates = {token(0, 0, 1, 0.5), token(1, 2, 6, 1.0), token(2, 7, 8, 0.25),
                    token(3, 9, 11, -0.1)};
    const auto segments = tokenSegments(text, e);
    QStringList texts;
    QString joined;
    for (const auto& s : segments) texts << s.text, joined += s.text;
    QCOMPARE(joined, text);
    QCOMPARE(texts, (QStringList{"a", " ", "café", " ", "😀", " ", "ok"}));
    QCOMPARE(segments[2].candidate, 1);
    QCOMPARE(segments[4].candidate, 2);
    QCOMPARE(segments[6].value, -0.1);
  }

  void overlappingSpansKeepOrder() {
    // Byte-level tokens sharing one character: the character goes to the first.
    Explanation e;
    e.candidates = {token(0, 0, 2, 1), token(1, 1, 3, 1)};
    const auto segments = tokenSegments(QStringLiteral("abc"), e);
    QCOMPARE(segments.size(), 2);
    QCOMPARE(segments[0].text, QStringLiteral("ab"));
    QCOMPARE(segments[1].text, QStringLiteral("c"));
  }

  void layoutWrapsAndKeepsLineBreaks() {
    QVector<TokenSegment> segments;
    for (int i = 0; i < 40; ++i) segments.push_back({QStringLiteral(" word"), i, 0});
    segments.push_back({QStringLiteral("\nnext line"), -1, 0});
    QFont font;
    font.setPixelSize(13);
    double narrow = 0, wide = 0;
    const auto boxes = layoutTokens(segments, font, 200, &narrow);
    layoutTokens(segments, font, 4000, &wide);
    QVERIFY(narrow > 3 * wide / 2);  // more lines when narrower
    for (const auto& b : boxes) QVERIFY(b.rect.right() <= 200 + 1e-6 || b.rect.left() == 0);
    QCOMPARE(boxes.back().shown, QStringLiteral("line"));
    QVERIFY(boxes[boxes.size() - 2].rect.left() == 0);  // "next" starts a line
  }

  void colormapReadsBack_data() {
    QTest::addColumn<QString>("map");
    for (const QString& name : colormapNames()) QTest::newRow(qPrintable(name)) << name;
  }

  void colormapReadsBack() {
    QFETCH(QString, map);
    const Colormap m = colormapFromName(map);
    for (double t = 0; t <= 1.0; t += 0.05)
      QVERIFY(std::abs(colormapValue(m, colormapColour(m, t)) - t) < 0.02);
  }

  void kappaSteps() {
    QCOMPARE(kappaStep(0.7), 14);
    QCOMPARE(kappaStep(0.71), 14);
    QCOMPARE(kappaOfStep(14), 0.7);
    QCOMPARE(kappaStep(-1), 0);
    QCOMPARE(kappaStep(2), 20);
    QCOMPARE(allKappas().size(), size_t(21));
  }

  void inputKeysAndCache() {
    ExplainRequest a;
    a.target = "a photo of a cat";
    a.labels = {"a photo of a cat", "a photo of a dog"};
    ExplainRequest b = a;
    b.mode = SuppressionMode::Correlated;
    b.kappa = 0.3;
    QCOMPARE(inputKey(a, 1, 1), inputKey(b, 1, 1));  // mode and κ are not part of the input
    b.target = "a photo of a dog";
    QVERIFY(inputKey(a, 1, 1) != inputKey(b, 1, 1));
    QVERIFY(inputKey(a, 1, 1) != inputKey(a, 2, 1));

    ExplanationCache cache;
    QVERIFY(cache.setInput(inputKey(a, 1, 1)));
    Explanation e;
    e.mode = SuppressionMode::Correlated;
    e.kappa = 0.35;
    cache.store(std::make_shared<const Explanation>(e));
    QVERIFY(cache.correlated(7));
    QVERIFY(!cache.correlated(8));
    QVERIFY(!cache.single());
    QVERIFY(!cache.setInput(inputKey(a, 1, 1)));
    QVERIFY(cache.setInput(inputKey(b, 1, 1)));
    QVERIFY(!cache.correlated(7));
  }

  void settingsRoundTrip() {
    QTemporaryDir dir;
    const QString file = dir.filePath(QStringLiteral("s.ini"));
    {
      Settings s(file);
      QCOMPARE(s.kappa(), 0.7);
      QCOMPARE(s.factor(), 0.9);
      s.setKappa(0.35);
      s.setColormap(QStringLiteral("inferno"));
      s.setOpacity(0.8);
      for (int i = 0; i < 12; ++i) s.addRecentModel(QStringLiteral("/models/m%1").arg(i));
      s.addRecentModel(QStringLiteral("/models/m5"));
      s.sync();
    }
    Settings s(file);
    QCOMPARE(s.kappa(), 0.35);
    QCOMPARE(s.colormap(), QStringLiteral("inferno"));
    QCOMPARE(s.opacity(), 0.8);
    QCOMPARE(s.recentModels().size(), 8);
    QCOMPARE(s.recentModels().front(), QStringLiteral("/models/m5"));
  }
};

QTEST_MAIN(TestGuiWidgets)
#include "test_gui_widgets.moc"
