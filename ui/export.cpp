#include "export.h"

#include <QFile>
#include <QFileInfo>
#include <QImageWriter>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>

#include <cmath>
#include <tuple>

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

QString suffixOf(const QString& path) {
  return QFileInfo(path).suffix().toLower();
}

QJsonObject answerJson(const Generation& g, const std::vector<bool>& differs) {
  QJsonArray ids, tokens, flags;
  for (size_t i = 0; i < g.ids.size(); ++i) {
    ids.append(qint64(g.ids[i]));
    tokens.append(i < g.tokens.size() ? toQString(g.tokens[i]) : QString());
    flags.append(i < differs.size() && differs[i]);
  }
  return {{"text", toQString(g.text)}, {"ids", ids}, {"tokens", tokens}, {"differs", flags}};
}

// RFC 4180 quoting: tokens may hold commas, quotes and line breaks.
QString csvField(const QString& text) {
  if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) &&
      !text.contains(QLatin1Char('\n')) && !text.contains(QLatin1Char('\r')))
    return text;
  return QLatin1Char('"') + QString(text).replace(QLatin1String("\""), QLatin1String("\"\"")) +
         QLatin1Char('"');
}

}  // namespace

FigureFormat figureFormatFor(const QString& path) {
  const QString suffix = suffixOf(path);
  if (suffix == QLatin1String("svg")) return FigureFormat::Svg;
  if (suffix == QLatin1String("pdf")) return FigureFormat::Pdf;
  return FigureFormat::Png;
}

bool exportFigurePng(const Figure& figure, const QString& path, int dpi, QString* error) {
  if (dpi < 36 || dpi > 2400)
    return fail(error, QObject::tr("The resolution must be 36 to 2400 DPI, not %1.").arg(dpi));
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
    if (!probe.open(QIODevice::WriteOnly))
      return fail(error, QObject::tr("Cannot write %1: %2").arg(path, probe.errorString()));
  }
  QPdfWriter writer(path);
  writer.setResolution(kResolution);
  writer.setCreator(QObject::tr("AtMan Studio"));
  writer.setTitle(QObject::tr("AtMan explanation"));
  writer.setPageMargins(QMarginsF(0, 0, 0, 0));
  writer.setPageSize(QPageSize(
      QSizeF(size.width() * 72 / kFigureUnitsPerInch, size.height() * 72 / kFigureUnitsPerInch),
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
    case FigureFormat::Svg:
      return exportFigureSvg(figure, path, error);
    case FigureFormat::Pdf:
      return exportFigurePdf(figure, path, error);
    case FigureFormat::Png:
      break;
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

QByteArray steeringJson(const SteeringReport& report) {
  const TokenDiff diff = diffTokens(report.original.ids, report.steered.ids);
  QJsonArray entries;
  for (const SteeringEntry& e : report.entries) {
    QJsonObject entry{{"what", describeEntry(e, report.layout)}, {"factor", e.factor}};
    if (e.kind == SteeringEntry::Kind::Region)
      entry.insert("patches", QJsonObject{{"rows", QJsonArray{e.row0, e.row1}},
                                          {"columns", QJsonArray{e.col0, e.col1}}});
    else
      entry.insert("tokens", QJsonArray{e.first, e.last});
    entries.append(entry);
  }
  QJsonArray factors;
  for (const SteeringFactor& f : report.factors) {
    QJsonObject position{{"position", qint64(f.position)}, {"factor", double(f.factor)}};
    if (f.position >= 0 && f.position < static_cast<int64_t>(report.layout.size())) {
      const InputPosition& p = report.layout[f.position];
      if (p.is_image) {
        position.insert("row", p.row);
        position.insert("col", p.col);
      } else {
        position.insert("text", toQString(p.text));
      }
    }
    factors.append(position);
  }
  QJsonObject root{{"model", report.model},
                   {"prompt", report.prompt},
                   {"entries", entries},
                   {"steering", factors},
                   {"original", answerJson(report.original, diff.a)},
                   {"steered", answerJson(report.steered, diff.b)},
                   {"changed", diff.any()},
                   {"steered_seconds", report.steeredSeconds}};
  if (!report.image.isEmpty()) root.insert("image", report.image);
  return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

QByteArray steeringCsv(const SteeringReport& report) {
  const TokenDiff diff = diffTokens(report.original.ids, report.steered.ids);
  QStringList lines{QStringLiteral("record,position,text,row,col,factor,differs")};
  for (const SteeringFactor& f : report.factors) {
    QString text, row, col;
    if (f.position >= 0 && f.position < static_cast<int64_t>(report.layout.size())) {
      const InputPosition& p = report.layout[f.position];
      if (p.is_image)
        row = QString::number(p.row), col = QString::number(p.col);
      else
        text = toQString(p.text);
    }
    lines << QStringLiteral("steer,%1,%2,%3,%4,%5,")
                 .arg(f.position)
                 .arg(csvField(text), row, col)
                 .arg(f.factor);
  }
  for (auto [name, g, differs] : {std::tuple{"original", &report.original, &diff.a},
                                  std::tuple{"steered", &report.steered, &diff.b}})
    for (size_t i = 0; i < g->tokens.size(); ++i)
      lines << QStringLiteral("%1,%2,%3,,,,%4")
                   .arg(QLatin1String(name))
                   .arg(i)
                   .arg(csvField(toQString(g->tokens[i])))
                   .arg(i < differs->size() && (*differs)[i] ? 1 : 0);
  return (lines.join(QLatin1Char('\n')) + QLatin1Char('\n')).toUtf8();
}

bool exportSteering(const SteeringReport& report, const QString& path, QString* error) {
  return writeBytes(
      path, suffixOf(path) == QLatin1String("csv") ? steeringCsv(report) : steeringJson(report),
      error);
}

}  // namespace atman::ui
