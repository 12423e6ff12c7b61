// The heatmap on screen: run the bundled shapes-clip on the demo image, grab the views' pixels and
// read them back through the colormap. The target shape's patches must be hotter than the rest,
// and every patch must show its own value (the pixels are the core's render_overlay).
#include <QMouseEvent>

#include "atman/names.h"
#include "colormaps.h"
#include "explanation_pane.h"
#include "gui_test_support.h"
#include "heatmap_view.h"
#include "input_panel.h"
#include "token_view.h"

using namespace atman;
using namespace atman::ui;
using namespace atman::test::gui;

class TestGuiHeatmap : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir m_dir;
  std::unique_ptr<MainWindow> m_window;

  // Heat (0..1) of each patch read from the view's pixels at the patch centre.
  static std::map<std::pair<int, int>, double> readHeat(HeatmapView* view, const Explanation& e,
                                                        Colormap map) {
    const QImage pixels = view->grab().toImage();
    std::map<std::pair<int, int>, double> heat;
    for (const auto& c : e.candidates) {
      if (c.kind != CandidateKind::Patch) continue;
      const QPointF centre =
          view->toWidget(QRectF(c.rect.x, c.rect.y, c.rect.width, c.rect.height)).center();
      heat[{c.row, c.col}] = colormapValue(map, QColor(pixels.pixel(centre.toPoint())));
    }
    return heat;
  }

  void sendMouse(QWidget* widget, QEvent::Type type, const QPointF& position) {
    QMouseEvent event(type, position, widget->mapToGlobal(position),
                      type == QEvent::MouseMove ? Qt::NoButton : Qt::LeftButton,
                      type == QEvent::MouseButtonRelease || type == QEvent::MouseMove
                          ? Qt::NoButton
                          : Qt::LeftButton,
                      Qt::NoModifier);
    QApplication::sendEvent(widget, &event);
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    m_window = makeWindow(m_dir);
    m_window->resize(1400, 900);
    // Opacity 1 and flat patches: each patch's pixels are exactly its colormap colour.
    ViewOptions options;
    options.colormap = Colormap::Jet;
    options.opacity = 1.0;
    options.smooth = false;
    options.showGrid = false;
    m_window->setViewOptions(options);
    QVERIFY(runDemo(*m_window));
    QVERIFY(m_window->pane(Pane::Single)->explanation());
    QVERIFY(m_window->pane(Pane::Correlated)->explanation());
  }

  void targetIsHotter_data() {
    QTest::addColumn<int>("pane");
    QTest::newRow("single") << int(Pane::Single);
    QTest::newRow("correlated") << int(Pane::Correlated);
  }

  void targetIsHotter() {
    QFETCH(int, pane);
    const Explanation& e = *m_window->pane(Pane(pane))->explanation();
    QCOMPARE(e.grid_rows, 8);
    const auto heat = readHeat(m_window->pane(Pane(pane))->heatmapView(), e, Colormap::Jet);
    QCOMPARE(heat.size(), size_t(64));
    const auto coverage = targetCoverage();
    double inside = 0, outside = 0;
    int nInside = 0, nOutside = 0;
    for (const auto& [cell, h] : heat) {
      if (coverage[cell.first][cell.second] > 0)
        inside += h, ++nInside;
      else
        outside += h, ++nOutside;
    }
    inside /= nInside;
    outside /= nOutside;
    qInfo("%s: mean heat on the target's %d patches %.3f, elsewhere %.3f",
          to_string(e.mode).c_str(), nInside, inside, outside);
    QVERIFY2(inside > 2 * outside && inside - outside > 0.08,
             "the target shape is not hotter than the rest");
  }

  void pixelsShowEachPatchValue_data() { targetIsHotter_data(); }

  void pixelsShowEachPatchValue() {
    // The view shows value / scale through the colormap: read back, every patch must agree.
    QFETCH(int, pane);
    ExplanationPane* p = m_window->pane(Pane(pane));
    const Explanation& e = *p->explanation();
    const double scale = p->scales().patches;
    QVERIFY(scale > 0);
    const auto heat = readHeat(p->heatmapView(), e, Colormap::Jet);
    double worst = 0;
    for (const auto& c : e.candidates) {
      const double want = std::clamp(c.value / scale, 0.0, 1.0);
      worst = std::max(worst, std::abs(heat.at({c.row, c.col}) - want));
    }
    qInfo("max |pixel heat - value/scale| = %.4f over 64 patches", worst);
    QVERIFY(worst < 0.03);
  }

  void hoverIsSynchronised() {
    HeatmapView* single = m_window->pane(Pane::Single)->heatmapView();
    HeatmapView* correlated = m_window->pane(Pane::Correlated)->heatmapView();
    const Explanation& e = *m_window->pane(Pane::Single)->explanation();
    const Candidate& target = e.candidates[5 * 8 + 4];
    QCOMPARE(target.row, 5);
    QSignalSpy messages(single, &HeatmapView::message);
    const QPointF at =
        single
            ->toWidget(QRectF(target.rect.x, target.rect.y, target.rect.width, target.rect.height))
            .center();
    sendMouse(single, QEvent::MouseMove, at);
    QCOMPARE(single->hoveredCandidate(), target.index);
    QCOMPARE(correlated->hoveredCandidate(), target.index);
    QVERIFY(!messages.isEmpty());
    QVERIFY(messages.last().at(0).toString().contains(QStringLiteral("row 5, column 4")));
  }

  void clickShowsNeighbourhood() {
    // At the cached κ the neighbourhood comes straight from the correlated explanation.
    HeatmapView* view = m_window->pane(Pane::Correlated)->heatmapView();
    const Explanation& e = *m_window->pane(Pane::Correlated)->explanation();
    const Candidate& c = e.candidates[2 * 8 + 0];
    const QPointF at =
        view->toWidget(QRectF(c.rect.x, c.rect.y, c.rect.width, c.rect.height)).center();
    sendMouse(view, QEvent::MouseButtonPress, at);
    sendMouse(view, QEvent::MouseButtonRelease, at);
    const Neighbourhood& shown = view->neighbourhood();
    QCOMPARE(shown.centre, c.index);
    QCOMPARE(shown.members.size(), c.suppressed.size());
    QVERIFY(shown.members.size() > 1);  // a background patch has look-alikes at κ = 0.7
    QCOMPARE(shown.members.front().candidate, c.index);
    QCOMPARE(m_window->pane(Pane::Single)->heatmapView()->neighbourhood().centre, c.index);
    // Clicking it again clears it.
    sendMouse(view, QEvent::MouseButtonPress, at);
    QCOMPARE(view->neighbourhood().centre, -1);
  }

  void neighbourhoodAtUncachedKappaUsesTheWorker() {
    // With κ moved to a value not computed yet (and its job not started), the neighbourhood comes
    // from AtmanExplainer::neighbours() on the worker.
    m_window->session()->setPrefetchEnabled(false);
    m_window->setViewMode(ViewMode::Single);  // κ changes start no job in single mode
    m_window->setKappa(0.95);
    HeatmapView* view = m_window->pane(Pane::Single)->heatmapView();
    const Explanation& e = *m_window->pane(Pane::Single)->explanation();
    const Candidate& c = e.candidates[5 * 8 + 5];
    const QPointF at =
        view->toWidget(QRectF(c.rect.x, c.rect.y, c.rect.width, c.rect.height)).center();
    sendMouse(view, QEvent::MouseButtonPress, at);
    QCOMPARE(view->neighbourhood().centre, c.index);
    QTRY_VERIFY_WITH_TIMEOUT(!view->neighbourhood().members.empty(), kJobTimeoutMs);
    QCOMPARE(view->neighbourhood().members.front().candidate, c.index);
    QCOMPARE(view->neighbourhood().kappa, 0.95);
    QCOMPARE(m_window->session()->explainJobsStarted(), 1);
  }

  void labelTokensOfClip() {
    // CLIP can also explain the target label's own tokens: they are coloured, the image is not.
    m_window->inputPanel()->setExplainWhat(ExplainWhat::PromptTokens);
    m_window->setViewMode(ViewMode::SideBySide);
    QVERIFY(explainAndWait(*m_window));
    for (Pane p : {Pane::Single, Pane::Correlated}) {
      ExplanationPane* pane = m_window->pane(p);
      QVERIFY(pane->explanation()->explained == ExplainWhat::PromptTokens);
      QVERIFY(!pane->heatmapView()->hasHeatmap());
      QString text;
      int tokens = 0;
      for (const auto& s : pane->tokenView()->segments())
        text += s.text, tokens += s.candidate >= 0;
      QCOMPARE(text, demoTarget());
      QCOMPARE(tokens, 6);  // a photo of a blue square
    }
    m_window->inputPanel()->setExplainWhat(ExplainWhat::ImagePatches);
  }

  void cleanupTestCase() {
    closeMessageBoxes(*m_window);
    m_window.reset();
  }
};

QTEST_MAIN(TestGuiHeatmap)
#include "test_gui_heatmap.moc"
