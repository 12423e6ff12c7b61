// AtMan Studio as a client of `atman serve` (docs/remote.md): a server started here on 127.0.0.1
// with a token, reached through File → Connect to Server…'s dialog. The bundled shapes-clip is
// explained here first, then on the server, and the heatmaps on screen must be the same pixels
// (and the explanations the same numbers, bit for bit). Stopping the server makes the next job fail
// with the error shown and the last result left on screen; starting it again and reconnecting
// brings the model back and explains again. The token never reaches the settings file.
#include <QCheckBox>
#include <QLabel>

#include "atman/explanation.h"
#include "connect_dialog.h"
#include "conversions.h"
#include "gui_test_support.h"
#include "heatmap_view.h"
#include "model_picker.h"
#include "remote/server.h"
#include "studio_status_bar.h"
#include "token_store.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

namespace {

const QString kToken = QStringLiteral("gui-test-token-7f3a9c");

// The numbers of an explanation, without its timings (which differ from run to run).
std::string valuesOf(const Explanation& e) {
  Explanation copy = e;
  copy.timings = {};
  return to_json(copy, 0);
}

}  // namespace

class TestGuiRemote : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<remote::Server> m_server;
  int m_port = 0;
  std::unique_ptr<MainWindow> m_window;
  // The local run: each pane's heatmap pixels and explanation.
  QImage m_localPixels[2];
  std::string m_localValues[2];

  QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_port); }

  void startServer(int port) {
    remote::ServerOptions options;
    options.models_dir = toStd(sharedDir() + QStringLiteral("/models"));
    options.listen = "127.0.0.1:" + std::to_string(port);
    options.token = toStd(kToken);
    m_server = std::make_unique<remote::Server>(options);
    m_port = m_server->port();
  }

  QImage heatmapPixels(Pane p) const { return m_window->pane(p)->heatmapView()->grab().toImage(); }

  // Explains the demo input (side by side, κ = 0.7) with whatever model is loaded.
  bool explainDemo() {
    m_window->inputPanel()->setTarget(demoTarget());
    m_window->setKappa(0.7);
    return explainAndWait(*m_window);
  }

  void checkSameAsLocal() {
    for (Pane p : {Pane::Single, Pane::Correlated}) {
      const Explanation* e = m_window->pane(p)->explanation();
      QVERIFY(e);
      QCOMPARE(valuesOf(*e), m_localValues[int(p)]);
      const QImage pixels = heatmapPixels(p);
      QCOMPARE(pixels.size(), m_localPixels[int(p)].size());
      QVERIFY2(pixels == m_localPixels[int(p)],
               "the remote heatmap's pixels differ from the local");
    }
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    startServer(0);
    QVERIFY(m_port > 0);
    StudioOptions options;
    options.settingsFile = m_dir.filePath(QStringLiteral("settings.ini"));
    options.confirmClose = false;
    options.prefetch = false;
    options.keychainService = QStringLiteral("AtMan Studio test_gui_remote");
    m_window = std::make_unique<MainWindow>(options);
    m_window->resize(1200, 800);
    m_window->show();
    ViewOptions view;  // flat patches at full opacity: the pixels are the values' colours
    view.opacity = 1.0;
    view.smooth = false;
    m_window->setViewOptions(view);
    // The views keep one size, whatever the docks and the status bar's labels take, so that the
    // pixels of two runs are comparable.
    for (Pane p : {Pane::Single, Pane::Correlated})
      m_window->pane(p)->heatmapView()->setFixedSize(320, 320);

    // The reference: the same explanation computed in this process.
    QVERIFY(runDemo(*m_window));
    QVERIFY(!m_window->session()->backend().remote);
    QVERIFY(!m_window->session()->model()->remote());
    for (Pane p : {Pane::Single, Pane::Correlated}) {
      QVERIFY(m_window->pane(p)->explanation());
      m_localValues[int(p)] = valuesOf(*m_window->pane(p)->explanation());
      m_localPixels[int(p)] = heatmapPixels(p);
      // A heatmap, not a blank: the comparisons below could not tell otherwise.
      QSet<QRgb> colours;
      const QImage& image = m_localPixels[int(p)];
      for (int y = 0; y < image.height(); y += 8)
        for (int x = 0; x < image.width(); x += 8) colours.insert(image.pixel(x, y));
      QVERIFY2(colours.size() > 5, qPrintable(QString::number(colours.size())));
    }
  }

  void cleanupTestCase() {
    // Where a keychain works, leave no entry of this test behind.
    TokenStore(QStringLiteral("AtMan Studio test_gui_remote")).forget(address());
    m_window.reset();
    m_server.reset();
  }

  void connectThroughTheDialog() {
    ExplainSession* session = m_window->session();
    QSignalSpy changed(session, &ExplainSession::backendChanged);
    QSignalSpy loaded(session, &ExplainSession::modelLoaded);
    ConnectDialog* dialog = m_window->openConnectDialog();
    QVERIFY(dialog->isVisible());
    // A wrong token is refused, with the reason in the dialog, and nothing changes.
    QSignalSpy failed(session, &ExplainSession::jobFailed);
    dialog->setChoice({address(), QStringLiteral("not-the-token"), {}}, true);
    dialog->submit();
    QVERIFY(waitForJobOfKind(failed, JobKind::Connect));
    QVERIFY(dialog->isVisible());
    QVERIFY2(dialog->statusText().contains(address()), qPrintable(dialog->statusText()));
    QVERIFY(!session->backend().remote);
    QCOMPARE(changed.count(), 0);

    dialog->setChoice({address(), kToken, {}}, true);
    dialog->submit();
    QVERIFY(changed.count() > 0 || changed.wait(kJobTimeoutMs));
    QVERIFY(session->backend().remote);
    QCOMPARE(session->backend().where, address());
    QVERIFY(!dialog->isVisible());  // connected: the dialog closed
    // The model loaded before is loaded again, on the server.
    QVERIFY(loaded.count() > 0 || loaded.wait(kJobTimeoutMs));
    QVERIFY(session->model());
    QVERIFY(session->model()->remote());
    QCOMPARE(toQString(session->model()->remote()->address), address());
    QCOMPARE(toQString(session->model()->name()), QStringLiteral("shapes-clip"));

    // The device selector offers the server's devices; the model picker its models.
    QComboBox* devices = m_window->inputPanel()->deviceCombo();
    QStringList offered;
    for (int i = 0; i < devices->count(); ++i) offered << devices->itemData(i).toString();
    QCOMPARE(offered, session->backend().devices);
    QVERIFY(offered.contains(QStringLiteral("cpu")));
    QCOMPARE(m_window->inputPanel()->modelPicker()->currentModel(), QStringLiteral("shapes-clip"));
    // The status bar says where the jobs run.
    QVERIFY2(m_window->studioStatusBar()->runtimeText().contains(address()),
             qPrintable(m_window->studioStatusBar()->runtimeText()));
  }

  void remoteEqualsLocal() {
    QVERIFY(m_window->session()->backend().remote);
    QVERIFY(explainDemo());
    checkSameAsLocal();
  }

  void tokenNeverInSettings() {
    // The token is in the keychain or in memory; the settings file has the address, not it.
    QTest::qWait(10);
    const QByteArray settings = readAll(m_dir.filePath(QStringLiteral("settings.ini")));
    QVERIFY2(settings.contains(address().toUtf8()), settings.constData());
    QVERIFY(!settings.contains(kToken.toUtf8()));
    QVERIFY(!settings.contains(QByteArrayLiteral("not-the-token")));
    // With no keychain (a headless machine), the dialog says the token lives for the session only
    // and does not offer to remember it.
    ConnectDialog* dialog = m_window->openConnectDialog();
    const QLabel* tokenStatus = dialog->findChild<QLabel*>(QStringLiteral("tokenStatus"));
    const QString status = tokenStatus->text();
    qInfo("token storage: %s (%s)", qPrintable(status), qPrintable(tokenStatus->toolTip()));
    TokenStore probe(QStringLiteral("AtMan Studio test_gui_remote"));
    probe.token(address());
    if (!probe.keychainWorks()) {
      QVERIFY2(status.contains(QStringLiteral("session only")), qPrintable(status));
      QVERIFY(!dialog->findChild<QCheckBox*>()->isEnabled());
    }
    // Either way the dialog offers the token again for the same server (memory or keychain).
    QCOMPARE(dialog->choice().token, kToken);
    dialog->reject();
  }

  void droppedConnectionKeepsTheResult() {
    ExplainSession* session = m_window->session();
    const QImage before[2] = {heatmapPixels(Pane::Single), heatmapPixels(Pane::Correlated)};
    m_server.reset();  // the server goes away
    QSignalSpy failed(session, &ExplainSession::jobFailed);
    QSignalSpy lost(session, &ExplainSession::connectionLost);
    QSignalSpy shown(m_window.get(), &MainWindow::errorShown);
    m_window->setKappa(0.5);  // a κ not computed yet: a job for the server
    QVERIFY(waitForJobOfKind(failed, JobKind::Explain));
    QVERIFY(lost.count() > 0 || lost.wait(5000));
    QVERIFY(session->serverUnreachable());
    // The error is shown: a dialog, the status bar's line and its "where" label.
    QVERIFY(shown.count() > 0);
    QVERIFY2(shown.first().at(0).toString().contains(address()),
             qPrintable(shown.first().at(0).toString()));
    QVERIFY(closeMessageBoxes(*m_window) > 0);
    QVERIFY2(m_window->studioStatusBar()->runtimeText().contains(QStringLiteral("unreachable")),
             qPrintable(m_window->studioStatusBar()->runtimeText()));
    // And the last result stays on screen, pixel for pixel.
    QCoreApplication::processEvents();
    for (Pane p : {Pane::Single, Pane::Correlated}) {
      QVERIFY(m_window->pane(p)->explanation());
      QVERIFY(heatmapPixels(p) == before[int(p)]);
    }
  }

  void reconnectAfterRestart() {
    ExplainSession* session = m_window->session();
    startServer(m_port);  // the same address again
    QSignalSpy changed(session, &ExplainSession::backendChanged);
    QSignalSpy loaded(session, &ExplainSession::modelLoaded);
    m_window->reconnect();  // File → Reconnect: the kept address and token
    QVERIFY(changed.count() > 0 || changed.wait(kJobTimeoutMs));
    QVERIFY(session->backend().remote);
    QVERIFY(!session->serverUnreachable());
    QVERIFY(loaded.count() > 0 || loaded.wait(kJobTimeoutMs));
    QVERIFY(session->model() && session->model()->remote());
    QVERIFY(!m_window->studioStatusBar()->runtimeText().contains(QStringLiteral("unreachable")));
    QVERIFY(explainDemo());
    checkSameAsLocal();
  }

  void settingsRemembered() {
    // A new window on the same settings offers the same server; the token comes back only from
    // a keychain, never from the settings.
    StudioOptions options;
    options.settingsFile = m_dir.filePath(QStringLiteral("settings.ini"));
    options.confirmClose = false;
    options.keychainService = QStringLiteral("AtMan Studio test_gui_remote");
    MainWindow second(options);
    ConnectDialog* dialog = second.openConnectDialog();
    QCOMPARE(dialog->choice().address, address());
    TokenStore probe(options.keychainService);
    QCOMPARE(dialog->choice().token, probe.token(address()));
    if (!probe.keychainWorks()) QVERIFY(dialog->choice().token.isEmpty());
    dialog->reject();
  }

  void runHereAgain() {
    ExplainSession* session = m_window->session();
    QSignalSpy changed(session, &ExplainSession::backendChanged);
    QSignalSpy loaded(session, &ExplainSession::modelLoaded);
    m_window->runHere();
    QVERIFY(changed.count() > 0 || changed.wait(kJobTimeoutMs));
    QVERIFY(!session->backend().remote);
    // shapes-clip is loaded again from this computer's folder.
    QVERIFY(loaded.count() > 0 || loaded.wait(kJobTimeoutMs));
    QVERIFY(session->model() && !session->model()->remote());
    QVERIFY(m_window->studioStatusBar()->runtimeText().contains(QStringLiteral("threads")));
  }
};

QTEST_MAIN(TestGuiRemote)
#include "test_gui_remote.moc"
