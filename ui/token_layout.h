// Text with relevance-coloured tokens: splitting a text into token segments (from the core's
// code-point spans), flowing them into lines, and painting them. Shared by TokenView (on screen)
// and the exported figure, so both look the same.
#pragma once

#include <QColor>
#include <QFont>
#include <QHash>
#include <QRectF>
#include <QString>
#include <QVector>

#include "atman/explanation.h"
#include "view_options.h"

class QPainter;

namespace atman::ui {

struct TokenSegment {
  QString text;
  int candidate = -1;  // -1: text between candidates (spaces, the <image> marker)
  double value = 0;
};

// The text cut at the spans of the explanation's token candidates. Spans count code points of
// `text` (the prompt, or the CLIP target label); overlapping spans (a multi-byte character split
// between byte-level tokens) give the shared character to the first token.
QVector<TokenSegment> tokenSegments(const QString& text, const Explanation& explanation);

struct TokenStyle {
  QFont font;
  Colormap colormap = Colormap::Jet;
  double scaleMax = 0;     // colour scale of values; 0: no value colouring
  bool showValues = true;  // false: neutral chips (a continuation to pick the target from)
  int hovered = -1;
  int selectedUpTo = -1;  // chips 0..selectedUpTo are marked (the chosen target)
  const Neighbourhood* neighbourhood = nullptr;
  const QHash<int, QColor>* marks =
      nullptr;  // fills that override the above (steering, answer diffs)
};

struct TokenBox {
  int segment = 0;
  QRectF rect;    // the chip
  QString shown;  // what is drawn: whitespace-only tokens show as ␣ or ↵
};

// Flows the segments into lines no wider than `width` (a chip wider than a line gets a line of
// its own). Returns the boxes; `height` receives the height used.
QVector<TokenBox> layoutTokens(const QVector<TokenSegment>& segments, const QFont& font,
                               double width, double* height);
void paintTokens(QPainter& painter, const QVector<TokenSegment>& segments,
                 const QVector<TokenBox>& boxes, const TokenStyle& style);

}  // namespace atman::ui
