#include "exporter.h"

#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>

#include <algorithm>

#include "atman/names.h"
#include "conversions.h"
#include "explanation_cache.h"
#include "explanation_pane.h"
#include "explanation_panes.h"
#include "export.h"
#include "export_dialog.h"
#include "heatmap_view.h"
#include "steering_panel.h"
#include "token_layout.h"
#include "window_settings.h"

namespace atman::ui {

Exporter::Exporter(const ExplanationPanes& panes, const SteeringPanel& steering,
                   WindowSettings& settings, QWidget* dialogParent)
    : QObject(dialogParent),
      m_panes(panes),
      m_steering(steering),
      m_settings(settings),
      m_dialogParent(dialogParent) {}

QString Exporter::defaultCaption(ViewMode layout) const {
  const Explanation* single = m_panes.explanation(Pane::Single);
  const Explanation* correlated = m_panes.explanation(Pane::Correlated);
  const Explanation* e = layout == ViewMode::Single ? single : correlated;
  if (!e) e = single ? single : correlated;
  if (!e) return {};
  QString caption =
      tr("AtMan explanation of “%1” by %2 (%3): ΔL (E) is the rise of the target's loss when "
         "attention to a %4 is suppressed with f = %5.")
          .arg(toQString(e->target), toQString(e->model), toQString(e->architecture),
               e->explained == ExplainWhat::ImagePatches ? tr("patch") : tr("token"))
          .arg(e->factor, 0, 'g', 3);
  if (layout != ViewMode::Single && correlated && correlated->mode == SuppressionMode::Correlated)
    caption += tr(" Correlated: neighbours with cosine similarity ≥ κ = %1 are suppressed too.")
                   .arg(kappaText(correlated->kappa));
  return caption;
}

Figure Exporter::figure(ViewMode layout, const QString& caption) const {
  Figure f;
  f.colormap = m_panes.viewOptions().colormap;
  f.smooth = m_panes.viewOptions().smooth;
  f.caption = caption.isNull() ? defaultCaption(layout) : caption;
  for (Pane p : {Pane::Single, Pane::Correlated}) {
    if (!showsPane(layout, p)) continue;
    const ExplanationPane* source = m_panes.pane(p);
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

bool Exporter::exportFigureTo(const QString& path, ViewMode layout, int dpi, QString* error) {
  const Figure f = figure(layout);
  if (f.panels.isEmpty()) {
    if (error) *error = tr("There is no explanation to export yet.");
    return false;
  }
  if (!exportFigure(f, path, dpi, error)) return false;
  m_unexported = false;
  return true;
}

bool Exporter::exportDataTo(const QString& path, Pane p, QString* error) {
  const Explanation* e = m_panes.explanation(p);
  if (!e) {
    if (error) *error = tr("There is no explanation to export yet.");
    return false;
  }
  if (!exportData(*e, path, error)) return false;
  m_unexported = false;
  return true;
}

bool Exporter::exportSteeringTo(const QString& path, QString* error) const {
  const auto& report = m_steering.report();
  if (!report) {
    if (error) *error = tr("There is no steered answer to export yet.");
    return false;
  }
  return exportSteering(*report, path, error);
}

void Exporter::exportFigureDialog() {
  const Explanation* any = m_panes.explanation(Pane::Correlated)
                               ? m_panes.explanation(Pane::Correlated)
                               : m_panes.explanation(Pane::Single);
  if (!any) return;
  const ViewMode mode = m_panes.viewMode();
  const QString name = QStringLiteral("%1-%2.png").arg(toQString(any->model), viewModeName(mode));
  ExportDialog dialog(mode, m_settings.exportDpi(), QDir(m_settings.exportFolder()).filePath(name),
                      defaultCaption(mode), m_dialogParent);
  if (dialog.exec() != QDialog::Accepted) return;
  const Figure f = figure(dialog.layout(), dialog.caption());
  if (f.panels.isEmpty()) {
    emit failed(tr("Cannot export"), tr("The chosen panes have no explanation yet."));
    return;
  }
  QString error;
  if (!exportFigure(f, dialog.path(), dialog.dpi(), &error)) {
    emit failed(tr("Cannot export the figure"), error);
    return;
  }
  m_unexported = false;
  m_settings.setExportFolder(QFileInfo(dialog.path()).absolutePath());
  m_settings.setExportDpi(dialog.dpi());
  emit message(tr("Saved %1").arg(QDir::toNativeSeparators(dialog.path())), 6000);
}

void Exporter::exportDataDialog() {
  const ViewMode mode = m_panes.viewMode();
  const Pane p = mode == ViewMode::Single || !m_panes.explanation(Pane::Correlated)
                     ? Pane::Single
                     : Pane::Correlated;
  const Explanation* e = m_panes.explanation(p);
  if (!e) return;
  const QString name =
      QStringLiteral("%1-%2.json").arg(toQString(e->model), toQString(to_string(e->mode)));
  QString path = QFileDialog::getSaveFileName(m_dialogParent, tr("Export Data"),
                                              QDir(m_settings.exportFolder()).filePath(name),
                                              tr("JSON (*.json);;CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportDataTo(path, p, &error)) {
    emit failed(tr("Cannot export the data"), error);
    return;
  }
  // Side by side: the other pane's data goes next to it, so both halves of the figure are saved.
  const Explanation* single = m_panes.explanation(Pane::Single);
  if (mode == ViewMode::SideBySide && p == Pane::Correlated && single) {
    const QFileInfo info(path);
    const QString other =
        info.dir().filePath(info.completeBaseName() + QStringLiteral("-single.") + info.suffix());
    if (!exportData(*single, other, &error)) emit failed(tr("Cannot export the data"), error);
  }
  m_settings.setExportFolder(QFileInfo(path).absolutePath());
  emit message(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 6000);
}

void Exporter::exportSteeringDialog() {
  if (!m_steering.report()) return;
  const QString name = QStringLiteral("%1-steering.json").arg(m_steering.report()->model);
  const QString path = QFileDialog::getSaveFileName(m_dialogParent, tr("Export Steering"),
                                                    QDir(m_settings.exportFolder()).filePath(name),
                                                    tr("JSON (*.json);;CSV (*.csv)"));
  if (path.isEmpty()) return;
  QString error;
  if (!exportSteeringTo(path, &error)) {
    emit failed(tr("Cannot export the steering result"), error);
    return;
  }
  m_settings.setExportFolder(QFileInfo(path).absolutePath());
  emit message(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 6000);
}

void Exporter::copyFigure() {
  const Figure f = figure(m_panes.viewMode());
  if (f.panels.isEmpty()) return;
  QApplication::clipboard()->setImage(renderFigure(f, 192));
  emit message(tr("Figure copied to the clipboard."), 4000);
}

bool Exporter::confirmDiscard() {
  if (!m_unexported) return true;
  const auto answer = QMessageBox::question(
      m_dialogParent, tr("Unsaved explanation"),
      tr("The explanation has not been exported. Save the figure before closing?"),
      QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
  if (answer == QMessageBox::Save) exportFigureDialog();  // clears m_unexported when it saves
  return answer == QMessageBox::Discard || (answer == QMessageBox::Save && !m_unexported);
}

}  // namespace atman::ui
