// Qwen2.5-VL and LLaVA-NeXT in the window, steered on their image tokens: tiny random checkpoints
// (core/tiny_qwen_vl.h, core/tiny_llava.h) and a 300 x 180 picture. The steering panel's cells must
// be the image rectangles of the model's tokens (Qwen2.5-VL: the 5 x 8 grid of merged tokens,
// worked out here from transformers' smart_resize; LLaVA-NeXT: the base view's 4 x 4 grid over the
// whole picture), they must be the rectangles of the explanation's candidates, a click on a cell
// must steer that cell's token (and, for anyres, the tile tokens inside it), the chosen cells are
// veiled pixel by pixel, and the steered answer is the core's own. Qwen2.5-VL's heatmap lies on the
// picture as the core renders it.
#include <QMouseEvent>
#include <QPushButton>

#include <cmath>
#include <filesystem>
#include <set>

#include "atman/heatmap.h"
#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "core/tiny_llava.h"
#include "core/tiny_qwen_vl.h"
#include "gui_test_support.h"
#include "heatmap_view.h"
#include "input_panel.h"
#include "steering.h"
#include "steering_image_view.h"
#include "steering_panel.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;
namespace fs = std::filesystem;
namespace tl = atman::test::llava;
namespace qv = atman::test::qwen_vl;

namespace {

constexpr int kWidth = 300, kHeight = 180;

// transformers' smart_resize (image_processing_qwen2_vl.py), in float64: (height, width).
std::pair<int, int> refSmartResize(int height, int width, int factor, double minPixels,
                                   double maxPixels) {
  // Python's round() rounds halves to even, as nearbyint does.
  double h = std::nearbyint(double(height) / factor) * factor;
  double w = std::nearbyint(double(width) / factor) * factor;
  if (h * w > maxPixels) {
    const double beta = std::sqrt(double(height) * width / maxPixels);
    h = std::max<double>(factor, std::floor(height / beta / factor) * factor);
    w = std::max<double>(factor, std::floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const double beta = std::sqrt(minPixels / (double(height) * width));
    h = std::ceil(height * beta / factor) * factor;
    w = std::ceil(width * beta / factor) * factor;
  }
  return {int(h), int(w)};
}

void sendMouse(QWidget* w, QEvent::Type type, const QPointF& at, Qt::MouseButtons buttons) {
  QMouseEvent event(type, at, w->mapToGlobal(at),
                    type == QEvent::MouseMove ? Qt::NoButton : Qt::LeftButton, buttons,
                    Qt::NoModifier);
  QApplication::sendEvent(w, &event);
}

// A drag from one cell to another, as a person does it.
void drag(SteeringImageView* view, std::pair<int, int> from, std::pair<int, int> to) {
  const QPointF a = view->patchRect(from.first, from.second).center();
  const QPointF b = view->patchRect(to.first, to.second).center();
  sendMouse(view, QEvent::MouseButtonPress, a, Qt::LeftButton);
  sendMouse(view, QEvent::MouseMove, (a + b) / 2, Qt::LeftButton);
  sendMouse(view, QEvent::MouseMove, b, Qt::LeftButton);
  sendMouse(view, QEvent::MouseButtonRelease, b, Qt::NoButton);
}

bool near(QRgb a, QColor b, int tolerance) {
  return std::abs(qRed(a) - b.red()) <= tolerance && std::abs(qGreen(a) - b.green()) <= tolerance &&
         std::abs(qBlue(a) - b.blue()) <= tolerance;
}

bool sameRect(const QRectF& a, double x, double y, double w, double h) {
  const double eps = 1e-9;
  return std::abs(a.x() - x) < eps && std::abs(a.y() - y) < eps && std::abs(a.width() - w) < eps &&
         std::abs(a.height() - h) < eps;
}

}  // namespace

class TestGuiVlm : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;
  SteeringPanel* m_panel = nullptr;
  RgbImage m_image = qv::test_image();  // 300 x 180: the left half red, the right a pattern
  QString m_png;

  bool openModelAndImage(const fs::path& folder) {
    if (!loadModel(*m_window, QString::fromStdString(folder.string()))) return false;
    m_panel = m_window->steeringPanel();
    m_panel->clearAll();
    QSignalSpy predicted(m_window->session(), &ExplainSession::predicted);
    return m_window->openImage(m_png) && predicted.wait(kJobTimeoutMs);
  }

  // Every cell of the steered set is veiled in the colour of `factor`, every other cell is not.
  void checkVeil(const QImage& before, const std::set<std::pair<int, int>>& steered,
                 double factor) {
    SteeringImageView* view = m_panel->imageView();
    const QImage after = view->grab().toImage();
    QCOMPARE(after.size(), before.size());
    const QColor veil = steeringColour(factor);
    const double a = SteeringImageView::kOverlayAlpha;
    for (const PatchCell& cell : view->cells()) {
      const QRectF r = view->patchRect(cell.row, cell.col);
      const QPoint at(int(r.center().x()), int(r.center().y()));
      const QColor base = before.pixelColor(at);
      const QRgb shown = after.pixel(at);
      const QColor want = steered.count({cell.row, cell.col})
                              ? QColor(int(std::lround(base.red() * (1 - a) + veil.red() * a)),
                                       int(std::lround(base.green() * (1 - a) + veil.green() * a)),
                                       int(std::lround(base.blue() * (1 - a) + veil.blue() * a)))
                              : base;
      QVERIFY2(near(shown, want, 3), qPrintable(QStringLiteral("cell %1,%2: %3, expected %4")
                                                    .arg(cell.row)
                                                    .arg(cell.col)
                                                    .arg(QColor(shown).name(), want.name())));
    }
  }

  // Generates steered in the window; the answers must be the core's own for the same input.
  void checkSteeredAnswer() {
    QSignalSpy ready(m_window->session(), &ExplainSession::steered);
    QTest::mouseClick(m_panel->generateButton(), Qt::LeftButton);
    QVERIFY(m_window->session()->isRunning(ui::JobKind::Steer));
    QVERIFY(ready.wait(kJobTimeoutMs));
    const auto& report = m_panel->report();
    QVERIFY(report.has_value());
    const auto model = m_window->session()->model();
    const PixelTensor pixels = model->preprocess(m_image);
    const std::string prompt = m_window->inputPanel()->prompt().toStdString();
    const Generation plain = generate(*model, prompt, 16, &pixels);
    const Generation steered = generate(*model, prompt, 16, &pixels, m_panel->steering());
    QVERIFY(report->original.ids == plain.ids);
    QVERIFY(report->steered.ids == steered.ids);
    QCOMPARE(report->factors.size(), m_panel->steering().size());
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
    m_png = m_dir.filePath(QStringLiteral("picture.png"));
    save_png(m_image, m_png.toStdString());
    QCOMPARE(m_image.width, kWidth);
    QCOMPARE(m_image.height, kHeight);
  }

  void qwenCellsAreMergedTokens() {
    const fs::path folder =
        qv::write_model(fs::path(m_dir.filePath(QStringLiteral("qwen")).toStdString()),
                        qv::tiny_config(), qv::tiny_tensors());
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    QVERIFY(openModelAndImage(folder));
    QCOMPARE(QString::fromStdString(m_window->session()->model()->architecture()),
             QStringLiteral("Qwen2.5-VL"));
    QCOMPARE(m_window->session()->model()->patch_grid(), 0);  // no square grid to fall back on

    // The processor's grid: 28-pixel merged tokens of the smart-resized picture, each scaled back
    // to the picture per axis. 300 x 180 has more than max_pixels: 224 x 140, 8 x 5 tokens.
    const int unit = qv::kPatch * qv::kMerge;
    const auto [rh, rw] =
        refSmartResize(kHeight, kWidth, unit, double(qv::kMinPixels), double(qv::kMaxPixels));
    const int rows = rh / unit, cols = rw / unit;
    QCOMPARE(rows * cols, 40);
    QVERIFY(rows != cols);
    SteeringImageView* view = m_panel->imageView();
    QVERIFY(view->hasImage());
    QCOMPARE(view->rows(), rows);
    QCOMPARE(view->cols(), cols);
    QCOMPARE(int(view->cells().size()), rows * cols);
    const double cw = unit * double(kWidth) / rw, ch = unit * double(kHeight) / rh;
    double area = 0;
    for (const PatchCell& c : view->cells()) {
      QVERIFY2(sameRect(c.rect, c.col * cw, c.row * ch, cw, ch),
               qPrintable(QStringLiteral("cell %1,%2").arg(c.row).arg(c.col)));
      area += c.rect.width() * c.rect.height();
    }
    QVERIFY(std::abs(area - kWidth * kHeight) < 1e-6);  // the cells tile the whole picture
    // On screen: the cells fill the drawn picture from corner to corner.
    const QRectF shown = view->imageRect();
    const QRectF first = view->patchRect(0, 0), last = view->patchRect(rows - 1, cols - 1);
    QVERIFY(std::abs(first.left() - shown.left()) < 1e-6 &&
            std::abs(first.top() - shown.top()) < 1e-6);
    QVERIFY(std::abs(last.right() - shown.right()) < 1e-6 &&
            std::abs(last.bottom() - shown.bottom()) < 1e-6);

    // The explanation's candidates are the same rectangles, each one token.
    m_window->inputPanel()->setTarget(QStringLiteral(" A red"));
    m_window->setViewMode(ViewMode::Single);
    QVERIFY(explainAndWait(*m_window));
    const Explanation* e = m_window->pane(Pane::Single)->explanation();
    QVERIFY(e);
    std::map<std::pair<int, int>, int> tokenOf;  // (row, col) -> model position
    for (const Candidate& c : e->candidates) {
      if (c.kind != CandidateKind::Patch) continue;  // the prompt's tokens are explained too
      QCOMPARE(c.positions.size(), size_t(1));
      const QRectF cell = view->patchRect(c.row, c.col);
      QVERIFY(!cell.isEmpty());
      const auto found =
          std::find_if(view->cells().begin(), view->cells().end(),
                       [&](const PatchCell& p) { return p.row == c.row && p.col == c.col; });
      QVERIFY(found != view->cells().end());
      QVERIFY(sameRect(found->rect, c.rect.x, c.rect.y, c.rect.width, c.rect.height));
      tokenOf[{c.row, c.col}] = c.positions[0];
    }
    QCOMPARE(int(tokenOf.size()), rows * cols);

    // The heatmap lies on the picture exactly as the core renders it.
    HeatmapView* heatmap = m_window->pane(Pane::Single)->heatmapView();
    QVERIFY(heatmap->hasHeatmap());
    const QImage got = heatmap->shownImage().convertToFormat(QImage::Format_RGB888);
    QCOMPARE(got.width(), kWidth);
    QCOMPARE(got.height(), kHeight);
    const ViewOptions options = m_window->viewOptions();
    OverlayOptions o;
    o.colormap = options.colormap;
    o.opacity = options.opacity;
    o.smooth = options.smooth;
    o.scale_max = heatmap->scaleMax();
    const RgbImage want = render_overlay(m_image, *e, o);
    int differ = 0;
    for (int y = 0; y < kHeight; ++y)
      for (int x = 0; x < kWidth; ++x)
        for (int k = 0; k < 3; ++k)
          differ +=
              got.constScanLine(y)[x * 3 + k] != want.pixels[(size_t(y) * kWidth + x) * 3 + k];
    QCOMPARE(differ, 0);

    // A click on one cell steers that cell's token and nothing else: the position after
    // <|vision_start|> in row-major order, the explanation's position for it.
    const std::string prompt = m_window->inputPanel()->prompt().toStdString();
    const Encoding enc = m_window->session()->model()->tokenizer().encode(prompt);
    const auto start = std::find(enc.ids.begin(), enc.ids.end(), int64_t{qv::kVisionStart});
    QVERIFY(start != enc.ids.end());
    const int64_t firstImage = (start - enc.ids.begin()) + 1;
    m_panel->setNewFactor(0.0);
    const QImage before = view->grab().toImage();
    drag(view, {2, 5}, {2, 5});
    QCOMPARE(m_panel->entries().size(), size_t(1));
    auto steering = m_panel->steering();
    QCOMPARE(steering.size(), size_t(1));
    QCOMPARE(steering[0].position, firstImage + 2 * cols + 5);
    QCOMPARE(steering[0].position, int64_t(tokenOf.at({2, 5})));
    checkVeil(before, {{2, 5}}, 0.0);

    // A drag over rows 1..3 and columns 1..6 steers those 18 tokens (the cell above among them).
    drag(view, {1, 1}, {3, 6});
    QCOMPARE(m_panel->entries().size(), size_t(2));
    steering = m_panel->steering();
    QCOMPARE(steering.size(), size_t(18));
    std::set<std::pair<int, int>> chosen;
    for (int r = 1; r <= 3; ++r)
      for (int c = 1; c <= 6; ++c) chosen.insert({r, c});
    for (const SteeringFactor& s : steering) {
      const auto k = s.position - firstImage;
      QVERIFY(k >= 0 && k < rows * cols);
      QVERIFY(chosen.count({int(k / cols), int(k % cols)}));
    }
    checkVeil(before, chosen, 0.0);
    checkSteeredAnswer();
    QCOMPARE(errors.count(), 0);
    QCOMPARE(closeMessageBoxes(*m_window), 0);
  }

  // A prompt that places the image the model's own way stays when the model is opened again; one
  // that another model cannot read gives way to that model's prompt.
  void promptKeptOnlyWhereItPlacesTheImage() {
    const fs::path qwen =
        qv::write_model(fs::path(m_dir.filePath(QStringLiteral("qwen_prompt")).toStdString()),
                        qv::tiny_config(), qv::tiny_tensors());
    InputPanel* input = m_window->inputPanel();
    QVERIFY(loadModel(*m_window, QString::fromStdString(qwen.string())));
    const QString own = QStringLiteral(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Which shape is red?"
        "<|im_end|>\n<|im_start|>assistant\n");
    input->setPrompt(own);
    QVERIFY(loadModel(*m_window, QString::fromStdString(qwen.string())));
    QCOMPARE(input->prompt(), own);

    const tl::Spec spec = tl::next_spec(true);
    const fs::path next =
        tl::write_model(fs::path(m_dir.filePath(QStringLiteral("llava_next_prompt")).toStdString()),
                        spec, tl::tensors_of(spec, 21));
    QVERIFY(loadModel(*m_window, QString::fromStdString(next.string())));
    QVERIFY(input->prompt() != own);
    QVERIFY(input->prompt().contains(QStringLiteral("<image>")));
    QVERIFY(m_window->session()->model()->prompt_places_image(input->prompt().toStdString()));
  }

  void llavaNextCellsAreTheBaseView() {
    const tl::Spec spec = tl::next_spec(true);
    const fs::path folder =
        tl::write_model(fs::path(m_dir.filePath(QStringLiteral("llava_next")).toStdString()), spec,
                        tl::tensors_of(spec, 21));
    QSignalSpy errors(m_window.get(), &MainWindow::errorShown);
    QVERIFY(openModelAndImage(folder));
    QCOMPARE(QString::fromStdString(m_window->session()->model()->architecture()),
             QStringLiteral("LLaVA-NeXT"));

    // The base view is the whole picture resized to the tower's square: its g x g patches each
    // cover a g-th of the width and of the height.
    SteeringImageView* view = m_panel->imageView();
    const int g = tl::kGrid;
    QVERIFY(view->hasImage());
    QCOMPARE(view->rows(), g);
    QCOMPARE(view->cols(), g);
    QCOMPARE(int(view->cells().size()), g * g);
    const double cw = double(kWidth) / g, ch = double(kHeight) / g;
    for (const PatchCell& c : view->cells())
      QVERIFY2(sameRect(c.rect, c.col * cw, c.row * ch, cw, ch),
               qPrintable(QStringLiteral("cell %1,%2").arg(c.row).arg(c.col)));

    // A click on cell (1, 2) steers its base-view token and the tile tokens whose centre lies in
    // that part of the picture; nothing else.
    m_panel->setNewFactor(2.0);
    const QImage before = view->grab().toImage();
    drag(view, {1, 2}, {1, 2});
    const QRectF cell(2 * cw, 1 * ch, cw, ch);
    const std::vector<InputPosition>& layout = m_panel->layout();
    std::set<int64_t> want;
    int tiles = 0;
    for (size_t p = 0; p < layout.size(); ++p) {
      const InputPosition& x = layout[p];
      if (!x.is_image || x.row < 0) continue;
      const QPointF centre(x.rect.x + x.rect.width / 2, x.rect.y + x.rect.height / 2);
      const bool inCell = centre.x() >= cell.left() && centre.x() < cell.right() &&
                          centre.y() >= cell.top() && centre.y() < cell.bottom();
      if ((x.view == 0 && x.row == 1 && x.col == 2) || (x.view == 1 && inCell)) {
        want.insert(int64_t(p));
        tiles += x.view == 1;
      }
    }
    QVERIFY(tiles > 0);
    std::set<int64_t> got;
    for (const SteeringFactor& s : m_panel->steering()) {
      QCOMPARE(s.factor, 2.0f);
      got.insert(s.position);
    }
    QVERIFY(got == want);
    checkVeil(before, {{1, 2}}, 2.0);
    checkSteeredAnswer();
    QCOMPARE(errors.count(), 0);
    QCOMPARE(closeMessageBoxes(*m_window), 0);
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiVlm)
#include "test_gui_vlm.moc"
