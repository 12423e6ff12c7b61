// Exports: the figure as PNG (size follows the DPI), SVG and PDF; the data as CSV and JSON in the
// core's formats (the JSON loads back with explanation_from_json).
#include <QClipboard>
#include <QImageReader>

#include "atman/explanation.h"
#include "gui_test_support.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

class TestGuiExport : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;
  QString path(const QString& name) const { return m_dir.filePath(name); }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    // ATMAN_GUI_TEST_KEEP=1 keeps the exported files, to look at them.
    if (qEnvironmentVariableIsSet("ATMAN_GUI_TEST_KEEP")) {
      m_dir.setAutoRemove(false);
      qInfo("exports in %s", qPrintable(m_dir.path()));
    }
    m_window = makeWindow(m_dir);
    QVERIFY(runDemo(*m_window));
    QVERIFY(m_window->exporter()->hasUnexportedResult());
  }

  void pngSizeFollowsDpi_data() {
    QTest::addColumn<int>("layout");
    QTest::newRow("single") << int(ViewMode::Single);
    QTest::newRow("correlated") << int(ViewMode::Correlated);
    QTest::newRow("side-by-side") << int(ViewMode::SideBySide);
  }

  void pngSizeFollowsDpi() {
    QFETCH(int, layout);
    QString error;
    const QString low = path(QStringLiteral("figure-%1-96.png").arg(layout));
    const QString high = path(QStringLiteral("figure-%1-288.png").arg(layout));
    QVERIFY2(m_window->exporter()->exportFigureTo(low, ViewMode(layout), 96, &error),
             qPrintable(error));
    QVERIFY2(m_window->exporter()->exportFigureTo(high, ViewMode(layout), 288, &error),
             qPrintable(error));
    QVERIFY(readAll(low).startsWith("\x89PNG\r\n\x1a\n"));
    const QImage a(low), b(high);
    QVERIFY(!a.isNull() && !b.isNull());
    qInfo("96 DPI: %dx%d, 288 DPI: %dx%d", a.width(), a.height(), b.width(), b.height());
    QVERIFY(std::abs(b.width() - 3 * a.width()) <= 3);
    QVERIFY(std::abs(b.height() - 3 * a.height()) <= 3);
    QVERIFY(std::abs(b.dotsPerMeterX() - 288 / 0.0254) < 2);  // the DPI is recorded in the file
    // Side by side holds two panels: wider than one.
    if (ViewMode(layout) == ViewMode::SideBySide) {
      const QImage single(path(QStringLiteral("figure-%1-96.png").arg(int(ViewMode::Single))));
      QVERIFY(a.width() > single.width() * 1.5);
    }
    QVERIFY(!m_window->exporter()->hasUnexportedResult());
  }

  void figureHasHeatmapColours() {
    // The figure shows the overlay: some pixel is close to the colormap's hot end.
    const QImage image(path(QStringLiteral("figure-%1-96.png").arg(int(ViewMode::Correlated))));
    int hot = 0;
    for (int y = 0; y < image.height(); ++y)
      for (int x = 0; x < image.width(); ++x) {
        const QColor c = image.pixelColor(x, y);
        if (c.red() > 150 && c.green() < 90 && c.blue() < 90) ++hot;
      }
    QVERIFY(hot > 50);
  }

  void svgAndPdf() {
    QString error;
    const QString svg = path(QStringLiteral("figure.svg")),
                  pdf = path(QStringLiteral("figure.pdf"));
    QVERIFY2(m_window->exporter()->exportFigureTo(svg, ViewMode::SideBySide, 300, &error),
             qPrintable(error));
    QVERIFY2(m_window->exporter()->exportFigureTo(pdf, ViewMode::SideBySide, 300, &error),
             qPrintable(error));
    const QByteArray svgBytes = readAll(svg);
    QVERIFY(svgBytes.startsWith("<?xml"));
    QVERIFY(svgBytes.contains("<svg"));
    QVERIFY(svgBytes.contains("<image"));  // the heatmap travels as an embedded picture
    QVERIFY(svgBytes.trimmed().endsWith("</svg>"));
    QVERIFY(readAll(pdf).startsWith("%PDF"));
    QVERIFY(readAll(pdf).size() > 1000);
  }

  void unwritablePathIsAnError() {
    QString error;
    QVERIFY(!m_window->exporter()->exportFigureTo(path(QStringLiteral("missing/dir/figure.png")),
                                                  ViewMode::Single, 96, &error));
    QVERIFY(!error.isEmpty());
    QVERIFY(!m_window->exporter()->exportDataTo(path(QStringLiteral("missing/dir/e.json")),
                                                Pane::Single, &error));
  }

  void csvAndJson_data() {
    QTest::addColumn<int>("pane");
    QTest::newRow("single") << int(Pane::Single);
    QTest::newRow("correlated") << int(Pane::Correlated);
  }

  void csvAndJson() {
    QFETCH(int, pane);
    const Explanation& shown = *m_window->pane(Pane(pane))->explanation();
    QString error;
    const QString csv = path(QStringLiteral("e%1.csv").arg(pane)),
                  json = path(QStringLiteral("e%1.json").arg(pane));
    QVERIFY2(m_window->exporter()->exportDataTo(csv, Pane(pane), &error), qPrintable(error));
    QVERIFY2(m_window->exporter()->exportDataTo(json, Pane(pane), &error), qPrintable(error));

    const QList<QByteArray> lines = readAll(csv).trimmed().split('\n');
    QVERIFY(lines.front().startsWith("index,kind,text"));
    QCOMPARE(lines.size(), int(shown.candidates.size()) + 1);

    const Explanation loaded = explanation_from_json(readAll(json).toStdString());
    QVERIFY(loaded.mode == shown.mode);
    QCOMPARE(loaded.target, shown.target);
    QCOMPARE(loaded.candidates.size(), shown.candidates.size());
    for (size_t i = 0; i < shown.candidates.size(); ++i)
      QVERIFY(std::abs(loaded.candidates[i].value - shown.candidates[i].value) < 1e-9);
  }

  void copyToClipboard() {
    m_window->exporter()->copyFigure();
    const QImage copied = QApplication::clipboard()->image();
    if (copied.isNull()) QSKIP("this platform has no clipboard");
    QVERIFY(copied.width() > 400);
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiExport)
#include "test_gui_export.moc"
