#include "export.h"

#include <QFile>
#include <QFileInfo>
#include <QImageWriter>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>

#include <cmath>

#include "conversions.h"

namespace atman::ui {
namespace {

bool fail(QString* error, const QString& message) {
  if (error) *error = message;
  return false;
}

// Writes through QSaveFile so that a failed export never leaves half a file behind.
bool writeBytes(const QString& path, const QByteArray& bytes, QString* error) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
    return fail(error, QObject::tr("Cannot write %1: %2").arg(path, file.errorString()));
  return true;
}

QString suffixOf(const QString& path) { return QFileInfo(path).suffix().toLower(); }

}  // namespace

FigureFormat figureFormatFor(const QString& path) {
  const QString suffix = suffixOf(path);
  if (suffix == QLatin1String("svg")) return FigureFormat::Svg;
  if (suffix == QLatin1String("pdf")) return FigureFormat::Pdf;
  return FigureFormat::Png;
}

bool exportFigurePng(const Figure& figure, const QString& path, int dpi, QString* error) {
  if (dpi < 36 || dpi > 2400) return fail(error, QObject::tr("The resolution must be 36 to 2400 DPI, not %1.").arg(dpi));
  const QImage image = renderFigure(figure, dpi);
  QImageWriter writer(path, "png");
  if (!writer.write(image))
    return fail(error, QObject::tr("Cannot write %1: %2").arg(path, writer.errorString()));
  return true;
}

bool exportFigureSvg(const Figure& figure, const QString& path, QString* error) {
  const QSizeF size = figureSize(figure);
  QSvgGenerator generator;
  generator.setFileName(path);
  generator.setSize(size.toSize());
  generator.setViewBox(QRectF(QPointF(0, 0), size));
  generator.setResolution(static_cast<int>(kFigureUnitsPerInch));
  generator.setTitle(QObject::tr("AtMan explanation"));
  generator.setDescription(figure.caption);
  QPainter painter;
  if (!painter.begin(&generator)) return fail(error, QObject::tr("Cannot write %1.").arg(path));
  paintFigure(painter, figure);
  if (!painter.end() || !QFileInfo(path).isFile() || QFileInfo(path).size() == 0)
    return fail(error, QObject::tr("Cannot write %1.").arg(path));
  return true;
}

bool exportFigurePdf(const Figure& figure, const QString& path, QString* error) {
  // Fine device units, so vector coordinates are not rounded to the figure's own 1/96 inch.
  constexpr int kResolution = 1200;
  const QSizeF size = figureSize(figure);
  {
    QFile probe(path);  // QPdfWriter reports no error of its own when it cannot open the file
    if (!probe.open(QIODevice::WriteOnly)) return fail(error, QObject::tr("Cannot write %1: %2").arg(path, probe.errorString()));
  }
  QPdfWriter writer(path);
  writer.setResolution(kResolution);
  writer.setCreator(QObject::tr("AtMan Studio"));
  writer.setTitle(QObject::tr("AtMan explanation"));
  writer.setPageMargins(QMarginsF(0, 0, 0, 0));
  writer.setPageSize(QPageSize(QSizeF(size.width() * 72 / kFigureUnitsPerInch, size.height() * 72 / kFigureUnitsPerInch),
                               QPageSize::Point, QString(), QPageSize::ExactMatch));
  QPainter painter;
  if (!painter.begin(&writer)) return fail(error, QObject::tr("Cannot write %1.").arg(path));
  const double scale = kResolution / kFigureUnitsPerInch;
  painter.scale(scale, scale);
  paintFigure(painter, figure);
  if (!painter.end()) return fail(error, QObject::tr("Cannot write %1.").arg(path));
  return true;
}

bool exportFigure(const Figure& figure, const QString& path, int dpi, QString* error) {
  switch (figureFormatFor(path)) {
    case FigureFormat::Svg: return exportFigureSvg(figure, path, error);
    case FigureFormat::Pdf: return exportFigurePdf(figure, path, error);
    case FigureFormat::Png: break;
  }
  return exportFigurePng(figure, path, dpi, error);
}

bool exportCsv(const Explanation& explanation, const QString& path, QString* error) {
  return writeBytes(path, QByteArray::fromStdString(to_csv(explanation)), error);
}

bool exportJson(const Explanation& explanation, const QString& path, QString* error) {
  return writeBytes(path, QByteArray::fromStdString(to_json(explanation)), error);
}

bool exportData(const Explanation& explanation, const QString& path, QString* error) {
  return suffixOf(path) == QLatin1String("csv") ? exportCsv(explanation, path, error)
                                                : exportJson(explanation, path, error);
}

}  // namespace atman::ui
