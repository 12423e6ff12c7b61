// What atman-studio opens at start (the command line, or the last model used) and the sequence
// that opens it on a window: the model, then the image, prompt and target once it has loaded,
// then the prediction and the explanation. finished() reports the outcome once; a --screenshot
// run waits for it before it captures the window.
#pragma once

#include <QObject>
#include <QString>

#include <optional>

#include "main_window.h"

namespace atman::ui {

struct StartupOptions {
  QString model;  // folder, or a name under the model root
  QString image;
  QString prompt;
  QString target;
  std::optional<ViewMode> mode;
  std::optional<double> kappa;
  QString settingsFile;  // where the last model is remembered; empty: the user's settings
  bool screenshot = false;
  bool openLastModel = true;  // without a model: reopen the last one (else the bundled shapes-clip)
};

class Startup : public QObject {
  Q_OBJECT

 public:
  Startup(MainWindow& window, StartupOptions options, QObject* parent = nullptr);
  void run();

 signals:
  // The command-line start (model, image, explanation) is done, or failed with `message`.
  void finished(bool ok, const QString& message);

 private:
  void onModelLoaded();
  void explainOrFinish();
  void finish(bool ok, const QString& message = {});

  MainWindow& m_window;
  StartupOptions m_options;
  bool m_pending = false;  // a command-line start is under way: its steps follow each other
};

}  // namespace atman::ui
