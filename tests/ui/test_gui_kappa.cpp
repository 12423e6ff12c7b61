// The κ slider: a κ already computed redraws at once from the GUI cache without a job; a new κ
// starts one; the background sweep makes every κ instant; a newer request supersedes an older one.
#include <QSlider>

#include "explanation_pane.h"
#include "gui_test_support.h"
#include "heatmap_view.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

class TestGuiKappa : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;

  double shownKappa() const { return m_window->pane(Pane::Correlated)->explanation()->kappa; }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir, /*prefetch=*/false);
    QVERIFY(runDemo(*m_window));
    QCOMPARE(m_window->session()->explainJobsStarted(), 1);
    QCOMPARE(shownKappa(), 0.7);
  }

  void uncachedKappaStartsAJob() {
    QSignalSpy started(m_window->session(), &ExplainSession::explainStarted);
    QSignalSpy finished(m_window->session(), &ExplainSession::explained);
    m_window->findChild<QSlider*>(QStringLiteral("kappaSlider"))
        ->setValue(10);  // κ = 0.5: not computed yet
    QVERIFY(started.wait(10'000));
    QCOMPARE(started.count(), 1);
    QVERIFY(finished.wait(kJobTimeoutMs));
    QCOMPARE(shownKappa(), 0.5);
    QCOMPARE(m_window->session()->explainJobsStarted(), 2);
  }

  void cachedKappaRedrawsWithoutAJob() {
    const QImage at05 = m_window->pane(Pane::Correlated)->heatmapView()->shownImage();
    QSignalSpy started(m_window->session(), &ExplainSession::explainStarted);
    QSignalSpy shown(m_window->session(), &ExplainSession::resultsChanged);
    m_window->findChild<QSlider*>(QStringLiteral("kappaSlider"))
        ->setValue(14);  // κ = 0.7: computed by the first run
    // Synchronously: the views changed before any event was processed.
    QCOMPARE(shownKappa(), 0.7);
    QCOMPARE(shown.count(), 1);
    QCOMPARE(shown.at(0).at(0).toBool(), true);  // fresh: a result that was missing
    QVERIFY(m_window->pane(Pane::Correlated)->heatmapView()->shownImage() != at05);
    QVERIFY(m_window->pane(Pane::Correlated)->title().contains(QStringLiteral("0.70")));
    QTest::qWait(500);  // longer than the slider's debounce: still no job
    QCOMPARE(started.count(), 0);
    QVERIFY(!m_window->session()->isRunning(ui::JobKind::Explain));
    QCOMPARE(m_window->session()->explainJobsStarted(), 2);
  }

  void newerRequestSupersedesOlder() {
    QSignalSpy started(m_window->session(), &ExplainSession::explainStarted);
    QSignalSpy finished(m_window->session(), &ExplainSession::explained);
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a green circle"));
    m_window->explain();
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a green square"));
    m_window->explain();
    QCOMPARE(started.count(), 2);
    const JobId newer = started.at(1).at(0).value<JobId>();
    QVERIFY(finished.wait(kJobTimeoutMs));
    QTest::qWait(300);  // a late result of the older job would arrive now; it must be dropped
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).value<JobId>(), newer);
    for (Pane p : {Pane::Single, Pane::Correlated})
      QCOMPARE(m_window->pane(p)->explanation()->target, std::string("a photo of a green square"));
  }

  void prefetchMakesEveryKappaInstant() {
    m_window->session()->setPrefetchEnabled(true);
    QSignalSpy prefetched(m_window->session(), &ExplainSession::prefetchFinished);
    QSignalSpy prefetchStarted(m_window->session(), &ExplainSession::prefetchStarted);
    // A new input: its first correlated result starts the sweep in the background.
    m_window->inputPanel()->setTarget(demoTarget());
    QVERIFY(explainAndWait(*m_window));
    QVERIFY(prefetchStarted.count() == 1 || prefetchStarted.wait(10'000));
    QVERIFY(prefetched.wait(kJobTimeoutMs));
    QSignalSpy started(m_window->session(), &ExplainSession::explainStarted);
    for (int step = 0; step <= 20; ++step) {
      m_window->findChild<QSlider*>(QStringLiteral("kappaSlider"))->setValue(step);
      QCOMPARE(shownKappa(), step / 20.0);
    }
    QTest::qWait(400);
    QCOMPARE(started.count(), 0);
  }

  void prefetchYieldsToUserJobs() {
    // A user request while the sweep runs: the sweep steps aside, the user job finishes first.
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a blue circle"));
    QSignalSpy prefetchStarted(m_window->session(), &ExplainSession::prefetchStarted);
    QVERIFY(explainAndWait(*m_window));
    QVERIFY(prefetchStarted.count() == 1 || prefetchStarted.wait(10'000));
    QVERIFY(m_window->session()->isRunning(ui::JobKind::Prefetch));
    QSignalSpy finished(m_window->session(), &ExplainSession::explained);
    QSignalSpy prefetched(m_window->session(), &ExplainSession::prefetchFinished);
    m_window->inputPanel()->setTarget(QStringLiteral("a photo of a red star"));
    m_window->explain();
    QVERIFY(finished.wait(kJobTimeoutMs));
    QCOMPARE(prefetched.count(), 0);  // the sweep of the old input never finished first
    QCOMPARE(m_window->pane(Pane::Correlated)->explanation()->target,
             std::string("a photo of a red star"));
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiKappa)
#include "test_gui_kappa.moc"
