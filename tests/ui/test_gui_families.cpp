// Every RoPE decoder family explained in the window as a person would: a tiny random checkpoint of
// the family (the shrunk public config of core/family_configs.h, GPT-2 tokenizer) is written into a
// temporary folder and chosen in the model picker, a prompt and a target are entered, and AtMan
// runs on the worker. The prompt's tokens must all get chips, and the chips' pixels must show the
// colormap colour of their values: coloured, not background, and not all the same.
#include <QColor>
#include <QImage>
#include <QSet>

#include <cmath>
#include <filesystem>

#include "atman/model.h"
#include "colormaps.h"
#include "core/family_configs.h"
#include "core/tiny_models.h"
#include "explanation_pane.h"
#include "gui_test_support.h"
#include "input_panel.h"
#include "model_picker.h"
#include "token_view.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test;
using namespace atman::test::gui;
namespace fs = std::filesystem;

namespace {

const QString kPrompt =
    QStringLiteral("The cat is red. The dog lives in Paris. Where does the dog live?");
const QString kTarget = QStringLiteral(" Paris");

bool near(QRgb a, const QColor& b, int tolerance) {
  return std::abs(qRed(a) - b.red()) <= tolerance && std::abs(qGreen(a) - b.green()) <= tolerance &&
         std::abs(qBlue(a) - b.blue()) <= tolerance;
}

const Family& family(const std::string& name) {
  for (const Family& f : families())
    if (f.name == name) return f;
  qFatal("no family %s", name.c_str());
}

}  // namespace

class TestGuiFamilies : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
  }

  void explainsFamily_data() {
    QTest::addColumn<QString>("name");
    for (const char* name : {"llama3.2", "qwen2.5", "qwen3", "mistral-7b", "gemma2", "gemma3",
                             "phi3", "phi4-mini", "olmo2"})
      QTest::newRow(name) << QString::fromLatin1(name);
  }

  void explainsFamily() {
    QFETCH(QString, name);
    const Family& f = family(name.toStdString());
    TinyDecoder spec;
    spec.config = f.config;
    spec.seed = 3;
    const fs::path written = write_tiny_decoder(fs::path(m_dir.filePath(name).toStdString()), spec);
    const QString folder = QString::fromStdString(written.string());

    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    // Browse… ends in modelChosen with the folder the person picked.
    QSignalSpy loaded(m_window->session(), &ExplainSession::modelLoaded);
    emit m_window->inputPanel()->modelPicker()->modelChosen(folder);
    QVERIFY2(loaded.wait(kJobTimeoutMs),
             qPrintable(errors.isEmpty() ? QString() : errors.last().at(0).toString()));
    QCOMPARE(m_window->session()->model()->kind(), ModelKind::CausalLM);
    QCOMPARE(QString::fromStdString(m_window->session()->model()->architecture()),
             QString::fromStdString(f.architecture));

    m_window->inputPanel()->setPrompt(kPrompt);
    m_window->inputPanel()->setTarget(kTarget);
    m_window->setViewMode(ViewMode::Single);
    QVERIFY(explainAndWait(*m_window));
    QCOMPARE(errors.count(), 0);
    QCOMPARE(closeMessageBoxes(*m_window), 0);

    ExplanationPane* pane = m_window->pane(Pane::Single);
    const Explanation* explanation = pane->explanation();
    QVERIFY(explanation);
    QCOMPARE(m_window->inputPanel()->target(), kTarget);
    QCOMPARE(explanation->target_tokens.size(), size_t(1));  // " Paris" is one GPT-2 token
    TokenView* view = pane->tokenView();
    int chips = 0;
    QString text;
    for (const TokenSegment& s : view->segments()) chips += s.candidate >= 0, text += s.text;
    QCOMPARE(text, kPrompt);  // the chips cover the prompt exactly, in order
    QCOMPARE(size_t(chips), explanation->candidates.size());
    QVERIFY(chips >= 10);
    const double scale = pane->scales().tokens;
    QVERIFY(std::isfinite(scale) && scale > 0);

    // Each chip is filled with its value's colour (sampled in the chip's padding, left of its
    // text).
    m_window->resize(1400, 900);
    QCoreApplication::processEvents();
    QVERIFY(view->isVisible());
    const QImage shot = view->grab().toImage();
    const QColor background = shot.pixelColor(1, 1);
    QSet<QRgb> fills;
    int coloured = 0;
    for (const TokenSegment& seg : view->segments()) {
      if (seg.candidate < 0) continue;
      const QRectF r = view->candidateRect(seg.candidate);
      QVERIFY(!r.isEmpty());
      const QRgb pixel = shot.pixel(QPoint(int(r.left() + 2), int(r.center().y())));
      const QColor expected = tokenBackground(m_window->viewOptions().colormap,
                                              std::isfinite(seg.value) ? seg.value / scale : 0.0);
      QVERIFY2(near(pixel, expected, 6),
               qPrintable(QStringLiteral("token %1 “%2”: %3 instead of %4")
                              .arg(seg.candidate)
                              .arg(seg.text, QColor(pixel).name(), expected.name())));
      fills.insert(pixel);
      coloured += !near(pixel, background, 6) && !near(pixel, QColor(Qt::white), 6);
    }
    qInfo("%s: %d chips, %d coloured, %lld distinct fills, token scale %.4g", qPrintable(name),
          chips, coloured, qlonglong(fills.size()), scale);
    QVERIFY(coloured > 0);       // not all background
    QVERIFY(fills.size() >= 3);  // the colouring differs between tokens
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiFamilies)
#include "test_gui_families.moc"
