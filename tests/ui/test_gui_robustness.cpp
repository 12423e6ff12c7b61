// The application survives: cancelling mid-run leaves it usable, broken model folders and images
// give an error (a non-blocking dialog and errorShown) instead of a crash, and closing waits for
// the worker.
#include <QClipboard>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>

#include "gui_test_support.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

namespace {

bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile file(path);
  return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

}  // namespace

class TestGuiRobustness : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
  }

  void explainWithoutModelIsAnError() {
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    QVERIFY(!m_window->session()->model());
    m_window->explain();
    QCOMPARE(errors.count(), 1);
    QCOMPARE(closeMessageBoxes(*m_window), 1);
  }

  void cancelMidRunLeavesAppUsable() {
    QVERIFY(loadModel(*m_window, shapesClip()));
    QVERIFY(m_window->openImage(demoImage()));
    m_window->inputPanel()->setTarget(demoTarget());
    m_window->setViewMode(ViewMode::SideBySide);
    QSignalSpy progress(m_window->session(), &ExplainSession::explainProgress);
    QSignalSpy cancelled(m_window->session(), &ExplainSession::jobCancelled);
    QSignalSpy finished(m_window->session(), &ExplainSession::explained);
    m_window->explain();
    QVERIFY(m_window->session()->isRunning(ui::JobKind::Explain));
    QVERIFY(progress.wait(kJobTimeoutMs));  // running: the baseline is done
    m_window->cancel();
    QVERIFY(waitForJobOfKind(cancelled, ui::JobKind::Explain));
    QCOMPARE(finished.count(), 0);
    QVERIFY(!m_window->session()->isRunning(ui::JobKind::Explain));
    // Usable: the same request runs to the end, reusing what the cancelled run computed.
    QVERIFY(explainAndWait(*m_window));
    QVERIFY(m_window->pane(Pane::Single)->explanation());
    QVERIFY(m_window->pane(Pane::Correlated)->explanation());
    QCOMPARE(m_window->pane(Pane::Correlated)->explanation()->target, demoTarget().toStdString());
  }

  void cancelBeforeStart() {
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a green square"));
    QSignalSpy cancelled(m_window->session(), &ExplainSession::jobCancelled);
    m_window->explain();
    m_window->cancel();
    QVERIFY(waitForJobOfKind(cancelled, ui::JobKind::Explain));
    QVERIFY(explainAndWait(*m_window));
  }

  void corruptModelGivesError_data() {
    QTest::addColumn<QByteArray>("config");
    QTest::addColumn<int>("weightBytes");  // -1: garbage; n: the first n bytes of the real file
    QTest::newRow("garbage config") << QByteArray("{ this is not json") << -1;
    QTest::newRow("truncated weights")
        << readAll(shapesClip() + QStringLiteral("/config.json")) << 4096;
    QTest::newRow("empty weights") << readAll(shapesClip() + QStringLiteral("/config.json")) << 0;
  }

  void corruptModelGivesError() {
    QFETCH(QByteArray, config);
    QFETCH(int, weightBytes);
    QTemporaryDir broken;
    QVERIFY(broken.isValid());
    QVERIFY(writeFile(broken.filePath(QStringLiteral("config.json")), config));
    const QByteArray weights =
        weightBytes < 0
            ? QByteArray("\x01\x02garbage\xff", 10)
            : readAll(shapesClip() + QStringLiteral("/model.safetensors")).left(weightBytes);
    QVERIFY(writeFile(broken.filePath(QStringLiteral("model.safetensors")), weights));
    for (const char* name :
         {"vocab.json", "merges.txt", "tokenizer_config.json", "preprocessor_config.json"})
      QFile::copy(shapesClip() + QLatin1Char('/') + QLatin1String(name),
                  broken.filePath(QLatin1String(name)));

    const auto before = m_window->session()->model();
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    m_window->openModel(broken.path());
    QVERIFY(errors.wait(kJobTimeoutMs));
    const QString message = errors.front().at(0).toString();
    qInfo("error shown: %s", qPrintable(message));
    QVERIFY(!message.isEmpty());
    QCOMPARE(closeMessageBoxes(*m_window), 1);       // a dialog, and it did not block the test
    QCOMPARE(m_window->session()->model(), before);  // the model in use stays
    QVERIFY(m_window->isVisible());
  }

  void appLivesAfterBrokenModel() {
    QVERIFY(loadModel(*m_window, shapesClip()));
    QVERIFY(m_window->openImage(demoImage()));
    m_window->inputPanel()->setTarget(demoTarget());
    QVERIFY(explainAndWait(*m_window));
  }

  void badImageGivesError() {
    const QString notAnImage = m_dir.filePath(QStringLiteral("notes.png"));
    QVERIFY(writeFile(notAnImage, "this is text, not a PNG"));
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    QVERIFY(!m_window->openImage(notAnImage));
    QCOMPARE(errors.count(), 1);
    QVERIFY(!m_window->openImage(m_dir.filePath(QStringLiteral("missing.png"))));
    QCOMPARE(errors.count(), 2);
    QCOMPARE(closeMessageBoxes(*m_window), 2);
    QVERIFY(m_window->pane(Pane::Single)->explanation());  // the last good result is still shown
  }

  void dropAndPasteImages() {
    // A file dropped on the window, and pixels pasted from the clipboard, become the image.
    QMimeData files;
    files.setUrls({QUrl::fromLocalFile(sharedDir() + QStringLiteral("/data/shapes-eval/001.png"))});
    QDragEnterEvent enter(QPoint(300, 300), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(m_window.get(), &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(300, 300), Qt::CopyAction, &files, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(m_window.get(), &drop);
    QVERIFY(m_window->session()->imageOrigin().endsWith(QStringLiteral("001.png")));
    QVERIFY(!m_window->pane(Pane::Single)->explanation());  // a new image clears the old result

    QImage pasted(64, 48, QImage::Format_RGB32);
    pasted.fill(QColor(200, 30, 30));
    QApplication::clipboard()->setImage(pasted);
    if (QApplication::clipboard()->image().isNull()) QSKIP("this platform has no clipboard");
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    m_window->pasteImage();
    QCOMPARE(errors.count(), 0);
    QCOMPARE(m_window->session()->imageOrigin(), QStringLiteral("clipboard"));
    m_window->inputPanel()->setTarget(demoTarget());
    QVERIFY(explainAndWait(*m_window));  // the pasted picture is explained like a file
    QCOMPARE(m_window->pane(Pane::Single)->explanation()->image_width, 64);
    QCOMPARE(m_window->pane(Pane::Single)->explanation()->image_height, 48);
  }

  void targetNotAmongLabelsIsAnError() {
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a purple hexagon"));
    m_window->explain();
    QVERIFY(errors.wait(kJobTimeoutMs));
    QVERIFY(errors.front().at(0).toString().contains(QStringLiteral("purple hexagon")));
    closeMessageBoxes(*m_window);
  }

  void closeWhileRunning() {
    // Closing with a job in flight cancels it and waits for the worker: no crash, no hang.
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a red cross"));
    m_window->explain();
    QVERIFY(m_window->session()->isRunning(ui::JobKind::Explain));
    QElapsedTimer timer;
    timer.start();
    m_window->close();
    m_window.reset();
    qInfo("closed with a job running in %lld ms", timer.elapsed());
  }
};

QTEST_MAIN(TestGuiRobustness)
#include "test_gui_robustness.moc"
