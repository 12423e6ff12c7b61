// Writing results out: the figure as PNG (at a chosen DPI), SVG or PDF, and the explanation's data
// as CSV or JSON in the core's formats (what `atman explain --csv/--json` writes). Each returns
// false and fills `error` with a message for people when the file cannot be written.
#pragma once

#include <QString>

#include "atman/explanation.h"
#include "figure.h"
#include "steering.h"

namespace atman::ui {

enum class FigureFormat { Png, Svg, Pdf };

// The format a file name asks for by its suffix; PNG when the suffix is none of them.
FigureFormat figureFormatFor(const QString& path);

bool exportFigurePng(const Figure& figure, const QString& path, int dpi, QString* error = nullptr);
bool exportFigureSvg(const Figure& figure, const QString& path, QString* error = nullptr);
bool exportFigurePdf(const Figure& figure, const QString& path, QString* error = nullptr);
// By suffix: .png (at `dpi`), .svg, .pdf.
bool exportFigure(const Figure& figure, const QString& path, int dpi, QString* error = nullptr);

bool exportCsv(const Explanation& explanation, const QString& path, QString* error = nullptr);
bool exportJson(const Explanation& explanation, const QString& path, QString* error = nullptr);
// By suffix: .csv or .json (the default).
bool exportData(const Explanation& explanation, const QString& path, QString* error = nullptr);

// A steered generation: the choices, the factor of every steered position, and both answers
// with the tokens that differ. JSON keeps it all; CSV has one row per steered position and per
// answer token (column `record` says which). By suffix: .csv, else JSON.
QByteArray steeringJson(const SteeringReport& report);
QByteArray steeringCsv(const SteeringReport& report);
bool exportSteering(const SteeringReport& report, const QString& path, QString* error = nullptr);

}  // namespace atman::ui
