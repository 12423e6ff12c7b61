// Language models in the window: the greedy continuation appears as clickable tokens, a click
// makes the continuation up to that token the target, and the prompt's tokens get coloured.
// LLaVA: the prompt comes from the folder's prompt_format.json (or its chat template) and the
// image is explained too.
#include "atman/model.h"
#include "explanation_pane.h"
#include "gui_test_support.h"
#include "heatmap_view.h"
#include "input_panel.h"
#include "token_view.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

// ../shared/models/shapes-llava/prompt_format.json
const QString kShapesLlavaPrompt =
    QStringLiteral("<image>\nQuestion: What is in the picture? Answer:");

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
    QCOMPARE(m_window->session()->model()->kind(), ModelKind::CausalLM);
    const QString prompt = QStringLiteral(
        "The cat is red. The dog lives in Paris. Question: Where does the dog live? Answer:");
    m_window->inputPanel()->setPrompt(prompt);
    QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
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
    QCOMPARE(m_window->session()->model()->kind(), ModelKind::Llava);
    QCOMPARE(m_window->inputPanel()->prompt(), kShapesLlavaPrompt);
    QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
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

  // A folder with a Hugging Face chat template instead of prompt_format.json: the GUI pre-fills the
  // rendered template, and the model reads it. This template renders the bundled model's prompt,
  // so the answer must be the one the bundled folder gives.
  void llavaChatTemplatePrompt() {
    const QDir bundled(shapesLlava());
    const QString chat = m_dir.filePath(QStringLiteral("llava-chat"));
    QVERIFY(QDir().mkpath(chat));
    for (const QString& name : bundled.entryList(QDir::Files))
      if (name != QLatin1String("prompt_format.json"))
        QVERIFY(QFile::link(bundled.filePath(name), chat + QLatin1Char('/') + name));
    QFile jinja(chat + QStringLiteral("/chat_template.jinja"));
    QVERIFY(jinja.open(QIODevice::WriteOnly));
    jinja.write(
        "{% for message in messages %}{{ message['content'] | replace('\\n', '\\nQuestion: ') }}"
        "{% endfor %}{% if add_generation_prompt %} Answer:{% endif %}");
    jinja.close();

    auto answerFor = [&](const QString& dir) -> QString {
      if (!loadModel(*m_window, dir)) return QStringLiteral("(load failed)");
      QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
      if (!m_window->openImage(demoImage()) || !predicted.wait(kJobTimeoutMs))
        return QStringLiteral("(no answer)");
      return m_window->inputPanel()->target();
    };
    const QString bundledAnswer = answerFor(shapesLlava());
    m_window->inputPanel()->setPrompt(QString());  // so only the chat template can fill it in again
    const QString chatAnswer = answerFor(chat);
    QCOMPARE(m_window->inputPanel()->prompt(), kShapesLlavaPrompt);
    QVERIFY(!chatAnswer.isEmpty());
    QCOMPARE(chatAnswer, bundledAnswer);
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiLm)
#include "test_gui_lm.moc"
