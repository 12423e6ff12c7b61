// Language models in the window: the greedy continuation appears as clickable tokens, a click
// makes the continuation up to that token the target, and the prompt's tokens get coloured.
// LLaVA: the prompt comes from the folder's prompt_format.json and the image is explained too.
#include "atman/model.h"
#include "explanation_pane.h"
#include "gui_test_support.h"
#include "heatmap_view.h"
#include "input_panel.h"
#include "token_view.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

class TestGuiLm : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
  }

  void continuationPicksTarget() {
    QVERIFY(loadModel(*m_window, factsGpt2()));
    QCOMPARE(m_window->model()->kind(), ModelKind::CausalLM);
    const QString prompt = QStringLiteral("The cat is red. The dog lives in Paris. Question: Where does the dog live? Answer:");
    m_window->setPrompt(prompt);
    QSignalSpy predicted(m_window.get(), &MainWindow::predictionReady);
    m_window->generate();
    QVERIFY(predicted.wait(kJobTimeoutMs));
    TokenView* continuation = m_window->inputPanel()->continuationView();
    QVERIFY(!continuation->isEmpty());
    qInfo("continuation: %s", qPrintable([&] {
            QString text;
            for (const auto& s : continuation->segments()) text += s.text;
            return text;
          }()));
    // Clicking the first token makes it the target (the continuation up to and including it).
    QSignalSpy clicked(continuation, &TokenView::candidateClicked);
    emit continuation->candidateClicked(0);
    QCOMPARE(m_window->inputPanel()->target(), continuation->segments().front().text);
  }

  void promptTokensAreColoured() {
    m_window->setViewMode(ViewMode::SideBySide);
    m_window->setKappa(0.7);
    QVERIFY(explainAndWait(*m_window));
    const QString prompt = m_window->inputPanel()->prompt();
    for (Pane p : {Pane::Single, Pane::Correlated}) {
      ExplanationPane* pane = m_window->pane(p);
      QVERIFY(!pane->heatmapView()->isVisible());  // a text-only model: no image row
      const auto& segments = pane->tokenView()->segments();
      int tokens = 0;
      QString text;
      for (const auto& s : segments) tokens += s.candidate >= 0, text += s.text;
      QCOMPARE(text, prompt);  // the chips cover the prompt exactly, in order
      QCOMPARE(size_t(tokens), pane->explanation()->candidates.size());
      QVERIFY(pane->scales().tokens > 0);
    }
  }

  void llavaUsesPromptFormatAndImage() {
    QVERIFY(loadModel(*m_window, shapesLlava()));
    QCOMPARE(m_window->model()->kind(), ModelKind::Llava);
    QVERIFY(m_window->inputPanel()->prompt().startsWith(QStringLiteral("<image>")));
    QSignalSpy predicted(m_window.get(), &MainWindow::predictionReady);
    QVERIFY(m_window->openImage(demoImage()));  // LLaVA needs an image: opening one asks the model
    QVERIFY(predicted.wait(kJobTimeoutMs));
    QVERIFY(!m_window->inputPanel()->continuationView()->isEmpty());
    QVERIFY(!m_window->inputPanel()->target().isEmpty());
    m_window->setViewMode(ViewMode::Single);
    QVERIFY(explainAndWait(*m_window));
    ExplanationPane* pane = m_window->pane(Pane::Single);
    QVERIFY(pane->heatmapView()->hasHeatmap());  // image patches
    QVERIFY(!pane->tokenView()->isEmpty());      // and prompt tokens
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiLm)
#include "test_gui_lm.moc"
