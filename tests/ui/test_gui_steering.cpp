// The steering panel on shapes-llava and shapes-eval/001.png ("a blue square and a green cross"):
// dragging over the cross's patches marks them on the image (checked pixel by pixel), generating
// with them suppressed drops the cross from the answer exactly as the core's own generate() does,
// the differing tokens are highlighted, a factor of 1 changes nothing, errors are messages, and
// the export holds the factors and both answers.
#include <QDockWidget>
#include <QElapsedTimer>
#include <QMouseEvent>
#include <QPushButton>
#include <QTableWidget>

#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "gui_test_support.h"
#include "input_panel.h"
#include "steering.h"
#include "steering_image_view.h"
#include "steering_panel.h"
#include "token_view.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

namespace {

QString itemImage() {
  return sharedDir() + QStringLiteral("/data/shapes-eval/001.png");
}

// The inclusive patch rectangle covering every patch the named shape of item 001 touches.
struct Region {
  int row0 = 99, row1 = -1, col0 = 99, col1 = -1;
};
Region shapeRegion(const QString& colour, const QString& shape) {
  QFile file(sharedDir() + QStringLiteral("/data/shapes-eval/001.json"));
  if (!file.open(QIODevice::ReadOnly)) qFatal("cannot read 001.json");
  Region r;
  for (const QJsonValue& s :
       QJsonDocument::fromJson(file.readAll()).object().value("shapes").toArray()) {
    const QJsonObject o = s.toObject();
    if (o.value("color").toString() != colour || o.value("shape").toString() != shape) continue;
    const QJsonArray rows = o.value("patch_coverage").toArray();
    for (int row = 0; row < rows.size(); ++row)
      for (int col = 0; col < rows[row].toArray().size(); ++col)
        if (rows[row].toArray()[col].toDouble() > 0) {
          r.row0 = std::min(r.row0, row), r.row1 = std::max(r.row1, row);
          r.col0 = std::min(r.col0, col), r.col1 = std::max(r.col1, col);
        }
  }
  return r;
}

void sendMouse(QWidget* w, QEvent::Type type, const QPointF& at, Qt::MouseButtons buttons) {
  QMouseEvent event(type, at, w->mapToGlobal(at),
                    type == QEvent::MouseMove ? Qt::NoButton : Qt::LeftButton, buttons,
                    Qt::NoModifier);
  QApplication::sendEvent(w, &event);
}

bool near(QRgb a, QColor b, int tolerance) {
  return std::abs(qRed(a) - b.red()) <= tolerance && std::abs(qGreen(a) - b.green()) <= tolerance &&
         std::abs(qBlue(a) - b.blue()) <= tolerance;
}

QString joined(const std::vector<std::string>& tokens, const std::vector<bool>* skip = nullptr,
               bool keep = false) {
  QString out;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!skip || (*skip)[i] == keep) out += QString::fromStdString(tokens[i]);
  return out;
}

}  // namespace

class TestGuiSteering : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;
  SteeringPanel* m_panel = nullptr;

  bool generateSteered(qint64* ms = nullptr) {
    QSignalSpy ready(m_window->session(), &ExplainSession::steered);
    QElapsedTimer timer;
    timer.start();
    QTest::mouseClick(m_panel->generateButton(), Qt::LeftButton);
    if (!m_window->session()->isRunning(ui::JobKind::Steer) || !ready.wait(kJobTimeoutMs))
      return false;
    if (ms) *ms = timer.elapsed();
    return true;
  }

  // Every answer chip is filled with the difference colour exactly when it is marked (the
  // pixel sampled is in the chip's padding, left of its text).
  void checkAnswerPixels(TokenView* view) {
    const QImage shot = view->grab().toImage();
    for (const TokenSegment& seg : view->segments()) {
      const QRectF r = view->candidateRect(seg.candidate);
      QVERIFY(!r.isEmpty());
      const QRgb pixel = shot.pixel(QPoint(int(r.left() + 2), int(r.center().y())));
      const QColor expected =
          view->marks().contains(seg.candidate) ? differenceColour() : QColor(236, 236, 236);
      QVERIFY2(near(pixel, expected, 6),
               qPrintable(QStringLiteral("token %1 “%2”: %3 instead of %4")
                              .arg(seg.candidate)
                              .arg(seg.text, QColor(pixel).name(), expected.name())));
    }
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
    QVERIFY(loadModel(*m_window, shapesLlava()));
    m_panel = m_window->steeringPanel();
    QVERIFY(m_window->findChild<QDockWidget*>(QStringLiteral("steeringDock"))
                ->isVisible());  // a generating model: the dock opens
    QVERIFY(m_panel->imageView()->isVisible());
  }

  void errorsAreMessages() {
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    m_window->generateSteered();  // no image yet
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("image")));
    QVERIFY(!m_window->session()->isRunning(ui::JobKind::Steer));
    QCOMPARE(closeMessageBoxes(*m_window), 1);

    QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
    QVERIFY(m_window->openImage(itemImage()));
    QVERIFY(predicted.wait(kJobTimeoutMs));
    QVERIFY(m_panel->imageView()->hasImage());
    QCOMPARE(m_panel->imageView()->rows(), 8);
    QCOMPARE(m_panel->imageView()->cols(), 8);

    m_window->generateSteered();  // nothing chosen
    QCOMPARE(errors.count(), 2);
    QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("Choose what to steer")));
    QCOMPARE(closeMessageBoxes(*m_window), 1);

    const QString prompt = m_window->inputPanel()->prompt();
    m_window->inputPanel()->setPrompt(QString());
    m_window->generateSteered();
    QCOMPARE(errors.count(), 3);
    QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("prompt")));
    QCOMPARE(closeMessageBoxes(*m_window), 1);
    m_window->inputPanel()->setPrompt(prompt);
    QVERIFY(!m_window->session()->isRunning(ui::JobKind::Steer));
  }

  void dragMarksPatches() {
    SteeringImageView* view = m_panel->imageView();
    const Region cross = shapeRegion(QStringLiteral("green"), QStringLiteral("cross"));
    QCOMPARE(cross.row1 - cross.row0, 2);  // 2..4 x 5..7: the cross, nothing else
    m_panel->setNewFactor(0.0);
    const QImage before = view->grab().toImage();

    // A real drag: press on one corner patch, move across, release on the opposite one.
    const QPointF from = view->patchRect(cross.row0, cross.col0).center();
    const QPointF to = view->patchRect(cross.row1, cross.col1).center();
    sendMouse(view, QEvent::MouseButtonPress, from, Qt::LeftButton);
    sendMouse(view, QEvent::MouseMove, (from + to) / 2, Qt::LeftButton);
    sendMouse(view, QEvent::MouseMove, to, Qt::LeftButton);
    sendMouse(view, QEvent::MouseButtonRelease, to, Qt::NoButton);

    QCOMPARE(m_panel->entries().size(), size_t(1));
    const SteeringEntry& e = m_panel->entries().front();
    QVERIFY(e.kind == SteeringEntry::Kind::Region);
    QVERIFY2(std::tuple(e.row0, e.row1, e.col0, e.col1) ==
                 std::tuple(cross.row0, cross.row1, cross.col0, cross.col1),
             qPrintable(QStringLiteral("selected rows %1-%2, cols %3-%4 of a view of %5x%6")
                            .arg(e.row0)
                            .arg(e.row1)
                            .arg(e.col0)
                            .arg(e.col1)
                            .arg(view->width())
                            .arg(view->height())));
    const auto steering = m_panel->steering();
    QCOMPARE(steering.size(), size_t(9));
    for (const SteeringFactor& s : steering) {
      const InputPosition& p = m_panel->layout()[s.position];
      QVERIFY(p.is_image);
      QVERIFY(p.row >= cross.row0 && p.row <= cross.row1 && p.col >= cross.col0 &&
              p.col <= cross.col1);
      QCOMPARE(s.factor, 0.0f);
    }
    QCOMPARE(m_panel->entryTable()->rowCount(), 1);

    // Pixels: inside the rectangle the image under a red veil, outside the image untouched.
    const QImage after = view->grab().toImage();
    QCOMPARE(after.size(), before.size());
    const QColor red = steeringColour(0.0);
    const double a = SteeringImageView::kOverlayAlpha;
    int inside = 0, outside = 0;
    for (int row = 0; row < 8; ++row)
      for (int col = 0; col < 8; ++col) {
        const QRectF cell = view->patchRect(row, col);
        const bool selected =
            row >= cross.row0 && row <= cross.row1 && col >= cross.col0 && col <= cross.col1;
        for (const QPointF& f : {QPointF(0.5, 0.5), QPointF(0.25, 0.3), QPointF(0.75, 0.7)}) {
          const QPoint at(int(cell.x() + f.x() * cell.width()),
                          int(cell.y() + f.y() * cell.height()));
          const QColor base = before.pixelColor(at);
          const QRgb shown = after.pixel(at);
          if (selected) {
            const QColor expected(int(std::lround(base.red() * (1 - a) + red.red() * a)),
                                  int(std::lround(base.green() * (1 - a) + red.green() * a)),
                                  int(std::lround(base.blue() * (1 - a) + red.blue() * a)));
            QVERIFY2(near(shown, expected, 3),
                     qPrintable(QStringLiteral("patch %1,%2: %3, expected %4")
                                    .arg(row)
                                    .arg(col)
                                    .arg(QColor(shown).name(), expected.name())));
            QVERIFY(qRed(shown) - qGreen(shown) >
                    base.red() - base.green());  // redder than the image
            ++inside;
          } else {
            QVERIFY2(near(shown, base, 1),
                     qPrintable(QStringLiteral("patch %1,%2 changed").arg(row).arg(col)));
            ++outside;
          }
        }
      }
    QCOMPARE(inside, 27);
    QCOMPARE(outside, 165);
  }

  void suppressingTheCrossChangesTheAnswer() {
    qint64 ms = 0;
    QVERIFY(generateSteered(&ms));
    const auto& report = m_panel->report();
    QVERIFY(report.has_value());
    const QString original = QString::fromStdString(report->original.text);
    const QString steered = QString::fromStdString(report->steered.text);
    qInfo("original: %s | steered: %s | steered generation %.2f s (click to result %lld ms)",
          qPrintable(original), qPrintable(steered), report->steeredSeconds, ms);
    QCOMPARE(original, QStringLiteral(" a blue square and a green cross."));
    QCOMPARE(steered, QStringLiteral(" a blue square."));

    // The GUI shows exactly what the core produces with the same input and factors.
    const auto model = m_window->session()->model();
    const PixelTensor pixels =
        preprocess_clip(load_image(itemImage().toStdString()), model->preprocess_config());
    const std::string prompt = m_window->inputPanel()->prompt().toStdString();
    const Generation corePlain = generate(*model, prompt, 16, &pixels);
    const Generation coreSteered = generate(*model, prompt, 16, &pixels, m_panel->steering());
    QVERIFY(report->original.ids == corePlain.ids);
    QVERIFY(report->steered.ids == coreSteered.ids);
    QCOMPARE(report->factors.size(), size_t(9));

    // Highlighted: what one answer has and the other lacks; the rest reads the same in both.
    const TokenDiff diff = diffTokens(report->original.ids, report->steered.ids);
    QVERIFY(diff.any());
    QCOMPARE(joined(report->original.tokens, &diff.a, false),
             joined(report->steered.tokens, &diff.b, false));
    const QString dropped = joined(report->original.tokens, &diff.a, true);
    QVERIFY2(dropped.contains(QStringLiteral("green cross")), qPrintable(dropped));
    TokenView* views[2] = {m_panel->originalView(), m_panel->steeredView()};
    const std::vector<bool>* flags[2] = {&diff.a, &diff.b};
    for (int v = 0; v < 2; ++v) {
      QCOMPARE(views[v]->segments().size(), qsizetype(flags[v]->size()));
      for (size_t i = 0; i < flags[v]->size(); ++i)
        QCOMPARE(views[v]->marks().contains(int(i)), bool((*flags[v])[i]));
      checkAnswerPixels(views[v]);
    }
    QVERIFY(!m_panel->originalView()->marks().isEmpty());

    // The export holds the factors and both answers.
    const QString json = m_dir.filePath(QStringLiteral("steering.json"));
    QString error;
    QVERIFY2(m_window->exporter()->exportSteeringTo(json, &error), qPrintable(error));
    QFile file(json);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QJsonObject doc = QJsonDocument::fromJson(file.readAll()).object();
    QCOMPARE(doc.value("original").toObject().value("text").toString(), original);
    QCOMPARE(doc.value("steered").toObject().value("text").toString(), steered);
    QCOMPARE(doc.value("changed").toBool(), true);
    QCOMPARE(doc.value("steering").toArray().size(), 9);
    for (const QJsonValue& s : doc.value("steering").toArray()) {
      QCOMPARE(s.toObject().value("factor").toDouble(), 0.0);
      QVERIFY(s.toObject().contains("row"));
    }
    const QString csv = m_dir.filePath(QStringLiteral("steering.csv"));
    QVERIFY2(m_window->exporter()->exportSteeringTo(csv, &error), qPrintable(error));
    QFile csvFile(csv);
    QVERIFY(csvFile.open(QIODevice::ReadOnly));
    const QStringList lines =
        QString::fromUtf8(csvFile.readAll()).trimmed().split(QLatin1Char('\n'));
    QCOMPARE(lines.size(),
             1 + 9 + int(report->original.tokens.size() + report->steered.tokens.size()));

    if (const QString shot = qEnvironmentVariable("ATMAN_STEERING_SCREENSHOT"); !shot.isEmpty()) {
      QTest::qWait(200);
      QVERIFY(
          m_panel->grab().save(shot, "PNG"));  // the whole panel, also what its dock scrolls away
    }
  }

  void promptTokensAreMarked() {
    int question = -1, answer = -1;
    for (size_t p = 0; p < m_panel->layout().size(); ++p) {
      const QString text = QString::fromStdString(m_panel->layout()[p].text).trimmed();
      if (text == QLatin1String("Question") && question < 0) question = int(p);
      if (text == QLatin1String("Answer")) answer = int(p);
    }
    QVERIFY(question >= 0 && answer > question);
    TokenView* prompt = m_panel->promptView();
    m_panel->setNewFactor(2.5);
    // A click on a chip, then a shift-click: the first token alone, then the range between them.
    QTest::mouseClick(prompt, Qt::LeftButton, Qt::NoModifier,
                      prompt->candidateRect(question).center().toPoint());
    QCOMPARE(m_panel->entries().size(), size_t(2));
    QCOMPARE(prompt->marks().value(question), steeringChipColour(2.5));
    QTest::mouseClick(prompt, Qt::LeftButton, Qt::ShiftModifier,
                      prompt->candidateRect(answer).center().toPoint());
    QCOMPARE(m_panel->entries().size(), size_t(3));
    for (int p = question; p <= answer; ++p)
      if (!m_panel->layout()[p].is_image)
        QCOMPARE(prompt->marks().value(p), steeringChipColour(2.5));
    QVERIFY(!prompt->marks().contains(answer + 1));  // the ":" after "Answer" was not chosen
    // Removing the choices unmarks the tokens; the patches stay chosen.
    m_panel->removeEntry(2);
    m_panel->removeEntry(1);
    QVERIFY(prompt->marks().isEmpty());
    QCOMPARE(m_panel->steering().size(), size_t(9));
  }

  void factorOneChangesNothing() {
    // Amplify a prompt token too, then set every factor to 1: the answers must be identical.
    int firstText = 0;
    while (m_panel->layout()[firstText].is_image) ++firstText;
    m_panel->clickToken(firstText);
    QCOMPARE(m_panel->entries().size(), size_t(2));
    for (int e = 0; e < int(m_panel->entries().size()); ++e) m_panel->setEntryFactor(e, 1.0);
    for (const SteeringFactor& s : m_panel->steering()) QCOMPARE(s.factor, 1.0f);
    QVERIFY(generateSteered());
    const auto& report = m_panel->report();
    QVERIFY(report.has_value());
    QVERIFY(report->steered.ids == report->original.ids);
    QVERIFY(m_panel->originalView()->marks().isEmpty());
    QVERIFY(m_panel->steeredView()->marks().isEmpty());
    checkAnswerPixels(m_panel->originalView());
    checkAnswerPixels(m_panel->steeredView());
  }

  void newImageKeepsChoicesDropsAnswers() {
    const size_t entries = m_panel->entries().size();
    QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
    QVERIFY(m_window->openImage(demoImage()));
    QVERIFY(!m_panel->report().has_value());
    QCOMPARE(m_panel->entries().size(), entries);
    QVERIFY(predicted.wait(kJobTimeoutMs));
    m_panel->clearAll();
    QVERIFY(m_panel->steering().empty());
    QVERIFY(m_panel->promptView()->marks().isEmpty());
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiSteering)
#include "test_gui_steering.moc"
