// Export: the figure (PNG, SVG, PDF, clipboard), the data behind a pane (JSON, CSV) and the
// steering comparison, from the menus' dialogs or directly (exportFigureTo() and friends).
#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QStatusBar>

#include <algorithm>

#include "conversions.h"
#include "explanation_pane.h"
#include "export.h"
#include "export_dialog.h"
#include "heatmap_view.h"
#include "main_window.h"
#include "steering_panel.h"
#include "token_layout.h"

namespace atman::ui {

QString MainWindow::defaultCaption(ViewMode layout) const {
  const Explanation* e =
      layout == ViewMode::Single ? m_singlePane->explanation() : m_correlatedPane->explanation();
  if (!e)
    e = m_singlePane->explanation() ? m_singlePane->explanation() : m_correlatedPane->explanation();
  if (!e) return {};
  QString caption =
      tr("AtMan explanation of “%1” by %2 (%3): ΔL (E) is the rise of the target's loss when "
         "attention to a %4 is suppressed with f = %5.")
          .arg(toQString(e->target), toQString(e->model), toQString(e->architecture),
               e->explained == "patches" ? tr("patch") : tr("token"))
          .arg(e->factor, 0, 'g', 3);
  if (layout != ViewMode::Single) {
    const Explanation* c = m_correlatedPane->explanation();
    if (c && c->mode == "correlated")
      caption += tr(" Correlated: neighbours with cosine similarity ≥ κ = %1 are suppressed too.")
                     .arg(kappaText(c->kappa));
  }
  return caption;
}

Figure MainWindow::figure(ViewMode layout, const QString& caption) const {
  Figure f;
  f.colormap = m_viewOptions.colormap;
  f.smooth = m_viewOptions.smooth;
  f.caption = caption.isNull() ? defaultCaption(layout) : caption;
  for (Pane p : {Pane::Single, Pane::Correlated}) {
    if (!showsPane(layout, p)) continue;
    const ExplanationPane* source = pane(p);
    const Explanation* e = source->explanation();
    if (!e) continue;
    FigurePanel panel;
    panel.title = source->title();
    if (source->heatmapView()->hasHeatmap()) panel.image = source->heatmapView()->shownImage();
    panel.tokens = tokenSegments(source->tokenText(), *e);
    if (std::none_of(panel.tokens.begin(), panel.tokens.end(),
                     [](const TokenSegment& s) { return s.candidate >= 0; }))
      panel.tokens.clear();
    panel.scales = source->scales();
    f.panels.push_back(panel);
  }
  return f;
}

bool MainWindow::exportFigureTo(const QString& path, ViewMode layout, int dpi, QString* error) {
  const Figure f = figure(layout);
  if (f.panels.isEmpty()) {
    if (error) *error = tr("There is no explanation to export yet.");
    return false;
  }
  if (!exportFigure(f, path, dpi, error)) return false;
  m_unexported = false;
  return true;
}

bool MainWindow::exportDataTo(const QString& path, Pane p, QString* error) {
  const Explanation* e = pane(p)->explanation();
  if (!e) {
    if (error) *error = tr("There is no explanation to export yet.");
    return false;
  }
  if (!exportData(*e, path, error)) return false;
  m_unexported = false;
  return true;
}

void MainWindow::exportFigureDialog() {
  const Explanation* any = m_correlatedPane->explanation() ? m_correlatedPane->explanation()
                                                           : m_singlePane->explanation();
  if (!any) return;
  QString folder = m_settings.exportFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString name = QStringLiteral("%1-%2.png").arg(toQString(any->model), viewModeName(m_mode));
  ExportDialog dialog(m_mode, m_settings.exportDpi(), QDir(folder).filePath(name),
                      defaultCaption(m_mode), this);
  if (dialog.exec() != QDialog::Accepted) return;
  const Figure f = figure(dialog.layout(), dialog.caption());
  if (f.panels.isEmpty()) {
    showError(tr("Cannot export"), tr("The chosen panes have no explanation yet."));
    return;
  }
  QString error;
  if (!exportFigure(f, dialog.path(), dialog.dpi(), &error)) {
    showError(tr("Cannot export the figure"), error);
    return;
  }
  m_unexported = false;
  m_settings.setExportFolder(QFileInfo(dialog.path()).absolutePath());
  m_settings.setExportDpi(dialog.dpi());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(dialog.path())), 6000);
}

void MainWindow::exportDataDialog() {
  const Pane p = m_mode == ViewMode::Single || !m_correlatedPane->explanation() ? Pane::Single
                                                                                : Pane::Correlated;
  const Explanation* e = pane(p)->explanation();
  if (!e) return;
  QString folder = m_settings.exportFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString name = QStringLiteral("%1-%2.json").arg(toQString(e->model), toQString(e->mode));
  QString path = QFileDialog::getSaveFileName(this, tr("Export Data"), QDir(folder).filePath(name),
                                              tr("JSON (*.json);;CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportDataTo(path, p, &error)) {
    showError(tr("Cannot export the data"), error);
    return;
  }
  // Side by side: the other pane's data goes next to it, so both halves of the figure are saved.
  if (m_mode == ViewMode::SideBySide && p == Pane::Correlated && m_singlePane->explanation()) {
    const QFileInfo info(path);
    const QString other =
        info.dir().filePath(info.completeBaseName() + QStringLiteral("-single.") + info.suffix());
    if (!exportData(*m_singlePane->explanation(), other, &error))
      showError(tr("Cannot export the data"), error);
  }
  m_settings.setExportFolder(QFileInfo(path).absolutePath());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 6000);
}

bool MainWindow::exportSteeringTo(const QString& path, QString* error) {
  const auto& report = m_steering->report();
  if (!report) {
    if (error) *error = tr("There is no steered answer to export yet.");
    return false;
  }
  return exportSteering(*report, path, error);
}

void MainWindow::exportSteeringDialog() {
  if (!m_steering->report()) return;
  QString folder = m_settings.exportFolder();
  if (folder.isEmpty()) folder = QDir::homePath();
  const QString name = QStringLiteral("%1-steering.json").arg(m_steering->report()->model);
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export Steering"), QDir(folder).filePath(name), tr("JSON (*.json);;CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportSteeringTo(path, &error)) {
    showError(tr("Cannot export the steering result"), error);
    return;
  }
  m_settings.setExportFolder(QFileInfo(path).absolutePath());
  statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 6000);
}

void MainWindow::copyFigure() {
  const Figure f = figure(m_mode);
  if (f.panels.isEmpty()) return;
  QApplication::clipboard()->setImage(renderFigure(f, 192));
  statusBar()->showMessage(tr("Figure copied to the clipboard."), 4000);
}

}  // namespace atman::ui
