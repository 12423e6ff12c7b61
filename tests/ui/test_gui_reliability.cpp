// Reliability of the GUI's worker and error reporting (docs/RELIABILITY.md):
//   - explanations posted back to back on JobRunner: every job ends exactly once (explained or
//     cancelled), a superseded job never delivers, and no result carries another job's input;
//   - core errors of every path (model loading, image files, pasted bytes, explaining) become a
//     dialog showing the core's message as is;
//   - closing with an unexported result asks first; Cancel keeps the window, Discard closes it,
//     and nothing is asked once the result is exported.
#include <QAbstractButton>
#include <QTimer>

#include <map>

#include "gui_test_support.h"
#include "job_runner.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

namespace {

// Records every terminal signal of a JobRunner, by job.
struct JobLog {
  std::map<JobId, int> endings;  // how many terminal signals each job got (must be 1)
  std::map<JobId, std::string> explainedTarget;
  std::map<JobId, QString> failed;
  std::vector<JobId> cancelled;

  explicit JobLog(JobRunner& runner) {
    QObject::connect(runner.worker(), &CoreWorker::explained,
                     [this](JobId job, const ExplainResult& r) {
                       ++endings[job];
                       explainedTarget[job] = (r.correlated ? *r.correlated : *r.single).target;
                     });
    QObject::connect(runner.worker(), &CoreWorker::cancelled, [this](JobId job) {
      ++endings[job];
      cancelled.push_back(job);
    });
    QObject::connect(runner.worker(), &CoreWorker::failed,
                     [this](JobId job, const QString& message) {
                       ++endings[job];
                       failed[job] = message;
                     });
  }
  bool ended(JobId job) const { return endings.count(job) != 0; }
};

bool waitFor(const std::function<bool()>& done, int ms = kJobTimeoutMs) {
  QElapsedTimer timer;
  timer.start();
  while (!done()) {
    if (timer.elapsed() > ms) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QTest::qWait(5);
  }
  return true;
}

std::vector<QMessageBox*> visibleBoxes(QWidget& window) {
  std::vector<QMessageBox*> boxes;
  for (QMessageBox* box : window.findChildren<QMessageBox*>())
    if (box->isVisible()) boxes.push_back(box);
  return boxes;
}

bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile file(path);
  return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

// A PNG signature and IHDR chunk claiming 30000 x 30000 pixels, nothing else.
QByteArray hugePngHeader() {
  return QByteArray::fromHex(
      "89504e470d0a1a0a0000000d49484452000075300000753008020000000000000000");
}

}  // namespace

class TestGuiReliability : public QObject {
  Q_OBJECT

  QTemporaryDir m_dir;
  std::shared_ptr<const Model> m_clip;

  ExplainJob clipJob(const std::string& target) const {
    ExplainRequest r;
    r.model = m_clip;
    r.image = std::make_shared<const RgbImage>(load_image(demoImage().toStdString()));
    r.labels = {"a photo of a blue square", "a photo of a red circle", "a photo of a green star"};
    r.target = target;
    r.explain = ExplainWhat::ImagePatches;
    ExplainJob job;
    job.single = r;
    return job;
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    JobRunner runner;
    QSignalSpy loaded(runner.worker(), &CoreWorker::modelLoaded);
    runner.loadModel(shapesClip(), QStringLiteral("cpu"));
    QVERIFY(loaded.wait(kJobTimeoutMs));
    m_clip = loaded.front().at(1).value<LoadedModel>().model;
    QVERIFY(m_clip);
  }

  void backToBackOnTheWorker() {
    JobRunner runner;
    JobLog log(runner);
    const JobId first = runner.explain(clipJob("a photo of a red circle"));
    const JobId second = runner.explain(clipJob("a photo of a blue square"));
    QVERIFY(waitFor([&] { return log.ended(first) && log.ended(second); }));
    QTest::qWait(200);  // anything late would arrive now
    QCOMPARE(log.endings[first], 1);
    QCOMPARE(log.endings[second], 1);
    QVERIFY(log.failed.empty());
    // The older job was superseded: cancelled (queued or mid-run), never delivered.
    QCOMPARE(log.cancelled, std::vector<JobId>{first});
    QCOMPARE(log.explainedTarget[second], std::string("a photo of a blue square"));
  }

  void burstOfRequests() {
    JobRunner runner;
    JobLog log(runner);
    const std::vector<std::string> targets = {"a photo of a red circle", "a photo of a blue square",
                                              "a photo of a green star"};
    std::vector<JobId> jobs;
    std::map<JobId, std::string> asked;
    for (int i = 0; i < 12; ++i) {
      const std::string& target = targets[size_t(i) % targets.size()];
      jobs.push_back(runner.explain(clipJob(target)));
      asked[jobs.back()] = target;
      if (i % 4 == 3) QTest::qWait(30);  // some start running before they are superseded
    }
    QVERIFY(waitFor([&] {
      return std::all_of(jobs.begin(), jobs.end(), [&](JobId j) { return log.ended(j); });
    }));
    QTest::qWait(200);
    for (JobId j : jobs) QCOMPARE(log.endings[j], 1);
    QVERIFY(log.failed.empty());
    QCOMPARE(log.explainedTarget.size(), size_t(1));  // only the newest one delivers
    QCOMPARE(log.explainedTarget.begin()->first, jobs.back());
    for (const auto& [job, target] : log.explainedTarget) QCOMPARE(target, asked[job]);
  }

  void coreErrorsBecomeDialogs_data() {
    QTest::addColumn<int>("what");
    QTest::addColumn<QString>("title");
    QTest::addColumn<QString>("messageStart");
    const QString huge = m_dir.filePath(QStringLiteral("huge.png"));
    QTest::newRow("model folder missing")
        << 0 << "Cannot load the model"
        << QStringLiteral("model folder '%1' does not exist or is not a folder")
               .arg(m_dir.filePath(QStringLiteral("no-such-model")));
    QTest::newRow("image too large")
        << 1 << "Cannot open the image"
        << QStringLiteral("image %1 is 30000\u00D730000 pixels; the limit is").arg(huge);
    QTest::newRow("pasted bytes not an image") << 2 << "Cannot use the image"
                                               << "clipboard is not an image OpenCV can read";
    QTest::newRow("prompt over the context length") << 3 << "Cannot explain"
                                                    << "prompt and target are ";
    QTest::newRow("target not among the labels")
        << 4 << "Cannot explain"
        << "the target 'a photo of a purple hexagon' is not one of the";
  }

  void coreErrorsBecomeDialogs() {
    QFETCH(int, what);
    QFETCH(QString, title);
    QFETCH(QString, messageStart);
    auto window = makeWindow(m_dir);
    QSignalSpy errors(window.get(), &MainWindow::errorShown);
    switch (what) {
      case 0:
        window->openModel(m_dir.filePath(QStringLiteral("no-such-model")));
        QVERIFY(errors.wait(kJobTimeoutMs));
        break;
      case 1:
        QVERIFY(writeFile(m_dir.filePath(QStringLiteral("huge.png")), hugePngHeader()));
        QVERIFY(!window->openImage(m_dir.filePath(QStringLiteral("huge.png"))));
        break;
      case 2:
        QVERIFY(!window->setImageBytes({'n', 'o', 'p', 'e'}, QStringLiteral("clipboard")));
        break;
      case 3: {
        QVERIFY(loadModel(*window, factsGpt2()));
        QString prompt;
        for (int i = 0; i < 400; ++i) prompt += QStringLiteral(" word");
        window->inputPanel()->setPrompt(prompt);
        window->inputPanel()->setTarget(QStringLiteral(" Paris"));
        window->explain();
        QVERIFY(errors.wait(kJobTimeoutMs));
        break;
      }
      case 4:
        QVERIFY(loadModel(*window, shapesClip()));
        QVERIFY(window->openImage(demoImage()));
        window->inputPanel()->setTarget(QStringLiteral("a photo of a purple hexagon"));
        window->explain();
        QVERIFY(errors.wait(kJobTimeoutMs));
        break;
    }
    QCOMPARE(errors.count(), 1);
    const QString shown = errors.front().at(0).toString();
    qInfo("dialog: %s", qPrintable(shown));
    const auto boxes = visibleBoxes(*window);
    QCOMPARE(boxes.size(), size_t(1));
    QCOMPARE(boxes.front()->windowTitle(), title);
    QCOMPARE(boxes.front()->text(), shown);  // the core's message, as is
    QVERIFY2(shown.startsWith(messageStart), qPrintable(shown));
    closeMessageBoxes(*window);
  }

  void closingAsksBeforeDiscarding() {
    auto window = makeWindow(m_dir);
    window->setConfirmClose(true);
    QVERIFY(runDemo(*window));
    QVERIFY(window->exporter()->hasUnexportedResult());

    // Answers the question QMessageBox::question shows (modal, in a nested event loop).
    QString asked;
    auto answer = [&asked](QMessageBox::StandardButton button) {
      QTimer::singleShot(50, [&asked, button] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) return;
        asked = box->text();
        box->button(button)->click();
      });
    };
    answer(QMessageBox::Cancel);
    QVERIFY(!window->close());
    QVERIFY(asked.contains(QStringLiteral("has not been exported")));
    QVERIFY(window->isVisible());

    // Exported: closing asks nothing.
    QString error;
    QVERIFY2(window->exporter()->exportDataTo(m_dir.filePath(QStringLiteral("e.json")),
                                              Pane::Correlated, &error),
             qPrintable(error));
    QVERIFY(!window->exporter()->hasUnexportedResult());
    asked.clear();
    answer(QMessageBox::Cancel);  // would keep it open, if anything were asked
    QVERIFY(window->close());
    QVERIFY(asked.isEmpty());
    QTest::qWait(100);

    // A new result, discarded on purpose.
    auto second = makeWindow(m_dir);
    second->setConfirmClose(true);
    QVERIFY(runDemo(*second));
    answer(QMessageBox::Discard);
    QVERIFY(second->close());
    QVERIFY(!asked.isEmpty());
  }
};

QTEST_MAIN(TestGuiReliability)
#include "test_gui_reliability.moc"
