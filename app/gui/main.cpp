// atman-studio: the AtMan Studio desktop application.
//
//   atman-studio [--model DIR] [--image PATH] [--prompt TEXT] [--target TEXT]
//                [--mode single|correlated|side-by-side] [--kappa K] [--screenshot OUT.png]
//
// --screenshot opens the window, runs the explanation, saves the window with its result as a PNG
// and exits (0 on success); it works without a display (QT_QPA_PLATFORM=offscreen).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QPixmap>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>

#include "atman/runtime.h"
#include "main_window.h"
#include "startup.h"

namespace {

void fail(const QString& message) {
  std::fprintf(stderr, "atman-studio: %s\n", qPrintable(message));
}

// The offscreen platform (screenshots, CI) warns about window features it does not have; those
// lines say nothing about the run, so they are dropped. Everything else goes to Qt's handler.
QtMessageHandler qtHandler = nullptr;
void quietOffscreen(QtMsgType type, const QMessageLogContext& context, const QString& message) {
  if (message.contains(QLatin1String("This plugin does not support"))) return;
  if (qtHandler)
    qtHandler(type, context, message);
  else
    std::fprintf(stderr, "%s\n", qPrintable(qFormatLogMessage(type, context, message)));
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  if (QGuiApplication::platformName() == QLatin1String("offscreen"))
    qtHandler = qInstallMessageHandler(quietOffscreen);
  QApplication::setOrganizationName(QStringLiteral("AtMan"));
  QApplication::setApplicationName(QStringLiteral("AtMan Studio"));
  QApplication::setApplicationVersion(QString::fromStdString(atman::version()));

  QCommandLineParser parser;
  parser.setApplicationDescription(QApplication::translate(
      "main", "Explains transformer predictions with AtMan (attention suppression)."));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption model(
      "model", QApplication::translate("main", "Model folder, or a name under the model root."),
      "DIR");
  const QCommandLineOption image("image", QApplication::translate("main", "Image to explain."),
                                 "PATH");
  const QCommandLineOption prompt(
      "prompt", QApplication::translate("main", "Prompt (language models, LLaVA)."), "TEXT");
  const QCommandLineOption target(
      "target",
      QApplication::translate("main", "Target to explain: a label (CLIP) or a continuation."),
      "TEXT");
  const QCommandLineOption mode(
      "mode", QApplication::translate("main", "single, correlated or side-by-side."), "MODE");
  const QCommandLineOption kappa(
      "kappa", QApplication::translate("main", "κ of correlated suppression, 0..1."), "K");
  const QCommandLineOption screenshot(
      "screenshot",
      QApplication::translate("main", "Run the explanation, save the window to OUT.png and exit."),
      "OUT.png");
  parser.addOptions({model, image, prompt, target, mode, kappa, screenshot});
  parser.process(app);

  atman::ui::StartupOptions options;
  options.model = parser.value(model);
  options.image = parser.value(image);
  options.prompt = parser.value(prompt);
  options.target = parser.value(target);
  if (parser.isSet(mode)) {
    options.mode = atman::ui::parseViewMode(parser.value(mode));
    if (!options.mode) {
      fail(QApplication::translate("main",
                                   "--mode must be single, correlated or side-by-side, not '%1'")
               .arg(parser.value(mode)));
      return 2;
    }
  }
  if (parser.isSet(kappa)) {
    bool ok = false;
    const double k = parser.value(kappa).toDouble(&ok);
    if (!ok || k < 0 || k > 1) {
      fail(QApplication::translate("main", "--kappa must be a number from 0 to 1, not '%1'")
               .arg(parser.value(kappa)));
      return 2;
    }
    options.kappa = k;
  }
  const QString shotPath = parser.value(screenshot);
  QTemporaryDir scratch;  // screenshot runs keep their settings here, away from the user's
  atman::ui::StudioOptions windowOptions;
  if (!shotPath.isEmpty()) {
    options.screenshot = windowOptions.screenshot = true;
    windowOptions.confirmClose = false;
    options.settingsFile = windowOptions.settingsFile =
        scratch.filePath(QStringLiteral("settings.ini"));
  }

  atman::configure_memory_allocator();
  // Links the start-up hook that makes idle OpenMP workers sleep, so that the compute threads do
  // not spin between operations and the GUI thread keeps a core (runtime.h).
  static_cast<void>(atman::passive_thread_waiting());
  atman::set_compute_threads(0);  // every core: explanations are many forward passes
  atman::ui::MainWindow window(windowOptions);
  atman::ui::Startup startup(window, options);
  startup.run();
  window.show();
  if (shotPath.isEmpty()) return app.exec();

  int exitCode = 1;
  QObject::connect(&startup, &atman::ui::Startup::finished, &app,
                   [&](bool ok, const QString& message) {
                     if (!ok) {
                       fail(message);
                       exitCode = 1;
                       app.quit();
                       return;
                     }
                     // Let layouts settle and the plots replot before the window is captured.
                     QTimer::singleShot(300, &app, [&] {
                       const QPixmap shot = window.grab();
                       if (shot.isNull() || !shot.save(shotPath, "PNG")) {
                         fail(QApplication::translate("main", "cannot write %1").arg(shotPath));
                         exitCode = 1;
                       } else {
                         std::fprintf(stderr, "atman-studio: wrote %s (%dx%d)\n",
                                      qPrintable(QDir::toNativeSeparators(shotPath)), shot.width(),
                                      shot.height());
                         exitCode = 0;
                       }
                       app.quit();
                     });
                   });
  // A job that never ends must not hang a script.
  QTimer::singleShot(10 * 60 * 1000, &app, [&] {
    fail(QApplication::translate("main", "timed out"));
    app.exit(1);
  });
  app.exec();
  return exitCode;
}
