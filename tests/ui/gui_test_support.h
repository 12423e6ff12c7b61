// Helpers shared by the GUI tests: the bundled model and image, a window with throw-away settings,
// and waits on its session's signals (generous timeouts: the test machine may be busy). The window
// connects to its session first, so when a session signal arrives here the window has drawn it.
#pragma once

#include <QApplication>
#include <QDockWidget>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <QDeadlineTimer>

#include <algorithm>
#include <memory>

#include "atman/runtime.h"
#include "explain_session.h"
#include "explanation_pane.h"
#include "exporter.h"
#include "input_panel.h"
#include "main_window.h"

namespace atman::test::gui {

inline QString sharedDir() {
  return QStringLiteral(ATMAN_SHARED_DIR);
}
inline QString shapesClip() {
  return sharedDir() + QStringLiteral("/models/shapes-clip");
}
inline QString factsGpt2() {
  return sharedDir() + QStringLiteral("/models/facts-gpt2");
}
inline QString shapesLlava() {
  return sharedDir() + QStringLiteral("/models/shapes-llava");
}
inline QString demoImage() {
  return sharedDir() + QStringLiteral("/data/shapes-eval/000.png");
}
inline QString demoTarget() {
  return QStringLiteral("a photo of a blue square");
}
inline constexpr int kJobTimeoutMs = 90'000;

// A window whose settings live in `dir` and that never asks before closing.
inline std::unique_ptr<ui::MainWindow> makeWindow(const QTemporaryDir& dir, bool prefetch = false) {
  ui::StudioOptions options;
  options.settingsFile = dir.filePath(QStringLiteral("settings.ini"));
  options.confirmClose = false;
  options.prefetch = prefetch;
  auto window = std::make_unique<ui::MainWindow>(options);
  window->show();
  return window;
}

inline bool loadModel(ui::MainWindow& window, const QString& dir) {
  QSignalSpy loaded(window.session(), &ui::ExplainSession::modelLoaded);
  window.openModel(dir);
  return loaded.wait(kJobTimeoutMs);
}

// Starts an explanation and waits until its result is shown.
inline bool explainAndWait(ui::MainWindow& window) {
  const ui::ExplainSession* session = window.session();
  QSignalSpy finished(session, &ui::ExplainSession::explained);
  window.explain();
  if (!session->isRunning(ui::JobKind::Explain))  // answered from the cache
    return session->result(ui::Pane::Single) || session->result(ui::Pane::Correlated);
  return finished.wait(kJobTimeoutMs);
}

// Waits until `spy`, on ExplainSession::jobCancelled or jobFailed, has recorded a job of `kind`
// (the session reports every kind; a test usually means one).
inline bool waitForJobOfKind(QSignalSpy& spy, ui::JobKind kind, int timeoutMs = kJobTimeoutMs) {
  QDeadlineTimer deadline(timeoutMs);
  for (;;) {
    for (const QList<QVariant>& args : spy)
      if (args.at(0).value<ui::JobKind>() == kind) return true;
    if (deadline.hasExpired() || !spy.wait(int(std::max<qint64>(1, deadline.remainingTime()))))
      return false;
  }
}

// The bundled shapes-clip with the demo image and target, explained side by side at κ = 0.7.
inline bool runDemo(ui::MainWindow& window) {
  if (!window.session()->model() && !loadModel(window, shapesClip())) return false;
  if (!window.openImage(demoImage())) return false;
  window.inputPanel()->setTarget(demoTarget());
  window.setViewMode(ui::ViewMode::SideBySide);
  window.setKappa(0.7);
  return explainAndWait(window);
}

// The bytes of the file at `path`; empty when it cannot be read.
inline QByteArray readAll(const QString& path) {
  QFile file(path);
  return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

// Closes the (non-blocking) message boxes the window opened; returns how many there were.
inline int closeMessageBoxes(QWidget& window) {
  int closed = 0;
  for (QMessageBox* box : window.findChildren<QMessageBox*>()) {
    if (!box->isVisible()) continue;
    box->close();
    ++closed;
  }
  QCoreApplication::processEvents();
  return closed;
}

// patch_coverage of the target shape of shapes-eval/000.png: grid rows x cols fractions.
inline std::vector<std::vector<double>> targetCoverage() {
  QFile file(sharedDir() + QStringLiteral("/data/shapes-eval/000.json"));
  if (!file.open(QIODevice::ReadOnly)) qFatal("cannot read 000.json");
  const QJsonObject doc = QJsonDocument::fromJson(file.readAll()).object();
  const QJsonObject shape =
      doc.value("shapes").toArray().at(doc.value("target_shape").toInt()).toObject();
  std::vector<std::vector<double>> coverage;
  for (const QJsonValue& row : shape.value("patch_coverage").toArray()) {
    coverage.emplace_back();
    for (const QJsonValue& v : row.toArray()) coverage.back().push_back(v.toDouble());
  }
  return coverage;
}

}  // namespace atman::test::gui
