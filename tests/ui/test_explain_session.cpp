// ExplainSession without a single widget: it loads the shared tiny CLIP, explains, answers the same
// request from its cache, serves a κ held in the cache without a job, cancels, and reports a
// failure with the core's message for people.
#include <QCoreApplication>
#include <QSignalSpy>
#include <QtTest/QtTest>

#include "atman/image.h"
#include "explain_session.h"

using namespace atman;
using namespace atman::ui;

namespace {

constexpr int kTimeoutMs = 90'000;

QString shared(const char* path) {
  return QStringLiteral(ATMAN_SHARED_DIR "/") + QLatin1String(path);
}

ExplainRequest clipRequest(const std::string& target) {
  ExplainRequest r;
  r.labels = {"a photo of a red circle", "a photo of a blue square", "a photo of a green star"};
  r.target = target;
  return r;
}

}  // namespace

class TestExplainSession : public QObject {
  Q_OBJECT

  std::unique_ptr<ExplainSession> m_session;

  bool loadClip() {
    QSignalSpy loaded(m_session.get(), &ExplainSession::modelLoaded);
    m_session->loadModel(shared("models/shapes-clip"), QStringLiteral("cpu"));
    if (!loaded.wait(kTimeoutMs)) return false;
    m_session->setImage(std::make_shared<const RgbImage>(
                            load_image(shared("data/shapes-eval/000.png").toStdString())),
                        QStringLiteral("000.png"));
    return true;
  }

 private slots:
  void init() {
    m_session = std::make_unique<ExplainSession>();
    m_session->setPrefetchEnabled(false);
  }
  void cleanup() { m_session.reset(); }

  void explainsThenAnswersFromTheCache() {
    QVERIFY(loadClip());
    QSignalSpy explained(m_session.get(), &ExplainSession::explained);
    QVERIFY(m_session->explain(clipRequest("a photo of a blue square")));  // a job runs
    QVERIFY(m_session->isRunning(JobKind::Explain));
    QVERIFY(explained.wait(kTimeoutMs));
    const SharedExplanation single = m_session->result(Pane::Single);
    const SharedExplanation correlated = m_session->result(Pane::Correlated);
    QVERIFY(single && correlated);
    QCOMPARE(single->target, std::string("a photo of a blue square"));
    QVERIFY(correlated->mode == SuppressionMode::Correlated);
    QCOMPARE(correlated->kappa, 0.7);
    QVERIFY(!single->candidates.empty());
    QCOMPARE(m_session->explainJobsStarted(), 1);

    // The same request again: served from the cache, the very same objects, no job.
    QSignalSpy shown(m_session.get(), &ExplainSession::resultsChanged);
    QVERIFY(!m_session->explain(clipRequest("a photo of a blue square")));
    QCOMPARE(m_session->explainJobsStarted(), 1);
    QVERIFY(shown.count() > 0);
    QCOMPARE(m_session->result(Pane::Single), single);
    QCOMPARE(m_session->result(Pane::Correlated), correlated);
  }

  void kappaChangeServedFromTheCache() {
    QVERIFY(loadClip());
    m_session->setViewMode(ViewMode::Correlated);
    QSignalSpy explained(m_session.get(), &ExplainSession::explained);
    m_session->explain(clipRequest("a photo of a red circle"));
    QVERIFY(explained.wait(kTimeoutMs));
    const SharedExplanation at07 = m_session->result(Pane::Correlated);
    QVERIFY(at07);
    QVERIFY(!m_session->result(Pane::Single));  // correlated mode computes only what it shows

    // A κ not held: a job follows (after the slider's pause).
    QSignalSpy pending(m_session.get(), &ExplainSession::resultPending);
    m_session->setKappaStep(kappaStep(0.5));
    QCOMPARE(pending.count(), 1);
    QVERIFY(!m_session->result(Pane::Correlated));
    QVERIFY(explained.wait(kTimeoutMs));
    QCOMPARE(m_session->result(Pane::Correlated)->kappa, 0.5);
    QCOMPARE(m_session->explainJobsStarted(), 2);

    // Back to κ = 0.7: held, shown at once, no job.
    QSignalSpy fresh(m_session.get(), &ExplainSession::resultsChanged);
    m_session->setKappaStep(kappaStep(0.7));
    QCOMPARE(fresh.count(), 1);
    QCOMPARE(fresh.front().at(0).toBool(), true);
    QCOMPARE(m_session->result(Pane::Correlated), at07);
    QVERIFY(!m_session->isRunning(JobKind::Explain));
    QCOMPARE(m_session->explainJobsStarted(), 2);
  }

  void cancelEndsTheJob() {
    QVERIFY(loadClip());
    QSignalSpy cancelled(m_session.get(), &ExplainSession::jobCancelled);
    QSignalSpy explained(m_session.get(), &ExplainSession::explained);
    QVERIFY(m_session->explain(clipRequest("a photo of a green star")));
    QVERIFY(m_session->cancel());
    QVERIFY(cancelled.wait(kTimeoutMs));
    QCOMPARE(cancelled.front().at(0).value<JobKind>(), JobKind::Explain);
    QVERIFY(!m_session->isRunning(JobKind::Explain));
    QTest::qWait(200);  // anything late would arrive now
    QCOMPARE(explained.count(), 0);
    QVERIFY(!m_session->result(Pane::Single));
    QVERIFY(!m_session->cancel());  // nothing left to cancel
  }

  void failureCarriesTheMessage() {
    QVERIFY(loadClip());
    QSignalSpy failed(m_session.get(), &ExplainSession::jobFailed);
    m_session->explain(clipRequest("a photo of a purple hexagon"));  // not one of the labels
    QVERIFY(failed.wait(kTimeoutMs));
    QCOMPARE(failed.front().at(0).value<JobKind>(), JobKind::Explain);
    const QString message = failed.front().at(2).toString();
    QVERIFY2(message.contains(QStringLiteral("purple hexagon")), qPrintable(message));
    QCOMPARE(ExplainSession::failureTitle(JobKind::Explain), QStringLiteral("Cannot explain"));
    QVERIFY(!m_session->isRunning(JobKind::Explain));

    // A model that is not there: the load fails with a message naming it.
    m_session->loadModel(shared("models/no-such-model"), QStringLiteral("cpu"));
    QVERIFY(failed.wait(kTimeoutMs));
    QCOMPARE(failed.back().at(0).value<JobKind>(), JobKind::LoadModel);
    QVERIFY2(failed.back().at(2).toString().contains(QStringLiteral("no-such-model")),
             qPrintable(failed.back().at(2).toString()));
    QVERIFY(m_session->model());  // the model in use stays
  }
};

QTEST_GUILESS_MAIN(TestExplainSession)
#include "test_explain_session.moc"
