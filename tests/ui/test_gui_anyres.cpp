// LLaVA-NeXT and LLaVA-OneVision in the window as a person would use them: a tiny random checkpoint
// (core/tiny_llava.h, the real config fields shrunk) is chosen in the model picker, a 300 x 180
// picture is opened, and AtMan explains. The heatmap must lie on the original picture: the view
// shows exactly the core's overlay (base view and tiles summed per pixel, or the view picked in
// the View tool bar), at the picture's own size. The steering panel lays out the image tokens.
#include <QImage>

#include <filesystem>

#include "atman/heatmap.h"
#include "atman/image.h"
#include "atman/model.h"
#include "core/tiny_llava.h"
#include "explanation_pane.h"
#include "gui_test_support.h"
#include "heatmap_view.h"
#include "input_panel.h"
#include "model_picker.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;
namespace fs = std::filesystem;
namespace tl = atman::test::llava;

namespace {

// The left half one colour, the right half a pattern.
RgbImage picture(int W, int H) {
  RgbImage image{W, H, {}};
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const bool left = x < W / 2;
      image.pixels.push_back(left ? 200 : static_cast<uint8_t>((x * 7 + y * 13) % 256));
      image.pixels.push_back(left ? 40 : static_cast<uint8_t>((x * 3 + y * 29) % 256));
      image.pixels.push_back(left ? 90 : static_cast<uint8_t>((x * 11 + y * 5) % 256));
    }
  return image;
}

}  // namespace

class TestGuiAnyres : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
  }

  void explainsAnyres_data() {
    QTest::addColumn<QString>("name");
    QTest::newRow("llava_next") << QStringLiteral("llava_next");
    QTest::newRow("llava_onevision") << QStringLiteral("llava_onevision");
  }

  void explainsAnyres() {
    QFETCH(QString, name);
    const tl::Spec spec = name == "llava_next" ? tl::next_spec(true) : tl::onevision_spec();
    const fs::path folder = tl::write_model(fs::path(m_dir.filePath(name).toStdString()), spec,
                                            tl::tensors_of(spec, 21));
    const RgbImage image = picture(300, 180);
    const QString png = m_dir.filePath(name + QStringLiteral(".png"));
    save_png(image, png.toStdString());

    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    QSignalSpy loaded(m_window->session(), &ExplainSession::modelLoaded);
    emit m_window->inputPanel()->modelPicker()->modelChosen(
        QString::fromStdString(folder.string()));
    QVERIFY2(loaded.wait(kJobTimeoutMs),
             qPrintable(errors.isEmpty() ? QString() : errors.last().at(0).toString()));
    QCOMPARE(m_window->session()->model()->kind(), ModelKind::Llava);
    QCOMPARE(
        QString::fromStdString(m_window->session()->model()->architecture()),
        name == "llava_next" ? QStringLiteral("LLaVA-NeXT") : QStringLiteral("LLaVA-OneVision"));
    // Opening the picture asks the model (the prompt comes from the folder's prompt_format.json).
    QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
    QVERIFY(m_window->openImage(png));
    QVERIFY(predicted.wait(kJobTimeoutMs));
    m_window->inputPanel()->setTarget(QStringLiteral(" a red square"));
    m_window->setViewMode(ViewMode::Single);
    QVERIFY(explainAndWait(*m_window));

    ExplanationPane* pane = m_window->pane(Pane::Single);
    const Explanation* e = pane->explanation();
    QVERIFY(e);
    QVERIFY(has_tile_view(*e));
    HeatmapView* view = pane->heatmapView();
    QVERIFY(view->hasHeatmap());
    for (OverlayView shown : {OverlayView::All, OverlayView::Tiles}) {
      ViewOptions options = m_window->viewOptions();
      options.overlayView = shown;
      m_window->setViewOptions(options);
      QCoreApplication::processEvents();
      const QImage got = view->shownImage().convertToFormat(QImage::Format_RGB888);
      QCOMPARE(got.width(), image.width);  // drawn on the original picture, at its size
      QCOMPARE(got.height(), image.height);
      OverlayOptions o;
      o.colormap = options.colormap;
      o.opacity = options.opacity;
      o.smooth = options.smooth;
      o.view = shown;
      o.scale_max = view->scaleMax();
      QVERIFY(o.scale_max > 0);
      const RgbImage want = render_overlay(image, *e, o);
      int differ = 0;
      for (int y = 0; y < image.height; ++y)
        for (int x = 0; x < image.width; ++x)
          for (int k = 0; k < 3; ++k)
            differ += got.constScanLine(y)[x * 3 + k] != want.pixels[(size_t(y) * 300 + x) * 3 + k];
      QCOMPARE(differ, 0);
    }
    QCOMPARE(errors.count(), 0);
    QCOMPARE(closeMessageBoxes(*m_window), 0);
    ViewOptions options = m_window->viewOptions();
    options.overlayView = OverlayView::All;
    m_window->setViewOptions(options);
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiAnyres)
#include "test_gui_anyres.moc"
