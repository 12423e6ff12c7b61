#include "token_layout.h"

#include <QFontMetricsF>
#include <QPainter>

#include <algorithm>
#include <cmath>

#include "colormaps.h"

namespace atman::ui {
namespace {

constexpr double kPadX = 3, kPadY = 2, kLineGap = 4;

QString fromCodePoints(const QList<uint>& points, qsizetype begin, qsizetype end) {
  QString out;
  for (qsizetype i = begin; i < end; ++i)
    out += QString::fromUcs4(reinterpret_cast<const char32_t*>(&points[i]), 1);
  return out;
}

// How a chip shows a token: leading spaces become a gap before it; a token of only whitespace
// gets a visible symbol so it can still be hovered and coloured.
QString chipText(const QString& text) {
  const QString trimmed = text.trimmed();
  if (!trimmed.isEmpty()) return trimmed;
  return text.contains(QLatin1Char('\n')) ? QStringLiteral("↵") : QStringLiteral("␣");
}

}  // namespace

QVector<TokenSegment> tokenSegments(const QString& text, const Explanation& explanation) {
  const QList<uint> points = text.toUcs4();
  const qsizetype n = points.size();
  std::vector<const Candidate*> tokens;
  for (const auto& c : explanation.candidates)
    if (c.kind == CandidateKind::Token) tokens.push_back(&c);
  std::stable_sort(tokens.begin(), tokens.end(),
                   [](auto* a, auto* b) { return a->span.first < b->span.first; });

  QVector<TokenSegment> segments;
  qsizetype at = 0;
  for (const Candidate* c : tokens) {
    const qsizetype begin = std::clamp<qsizetype>(std::max<qsizetype>(c->span.first, at), 0, n);
    const qsizetype end = std::clamp<qsizetype>(c->span.second, begin, n);
    if (begin > at) segments.push_back({fromCodePoints(points, at, begin), -1, 0});
    // A token with no characters of its own (fully overlapped) still gets a chip: it was explained.
    segments.push_back(
        {end > begin ? fromCodePoints(points, begin, end) : QString::fromStdString(c->text),
         c->index, c->value});
    at = std::max(at, end);
  }
  if (at < n) segments.push_back({fromCodePoints(points, at, n), -1, 0});
  return segments;
}

QVector<TokenBox> layoutTokens(const QVector<TokenSegment>& segments, const QFont& font,
                               double width, double* height) {
  const QFontMetricsF fm(font);
  const double lineHeight = fm.height() + 2 * kPadY + kLineGap;
  const double space = fm.horizontalAdvance(QLatin1Char(' '));
  QVector<TokenBox> boxes;
  double x = 0, y = 0, gap = 0;  // gap: spaces waiting to separate the next box from the last
  auto newLine = [&] {
    x = 0;
    y += lineHeight;
    gap = 0;
  };
  auto place = [&](int segment, const QString& shown) {
    const double w = fm.horizontalAdvance(shown) + 2 * kPadX;
    if (x > 0 && x + gap + w > width)
      newLine();
    else if (x > 0)
      x += gap;
    boxes.push_back({segment, QRectF(x, y, w, fm.height() + 2 * kPadY), shown});
    x += w;
    gap = 0;
  };
  for (int s = 0; s < segments.size(); ++s) {
    const TokenSegment& seg = segments[s];
    if (seg.candidate >= 0) {
      for (int i = 0; i < seg.text.size() && seg.text[i] == QLatin1Char(' '); ++i) gap += space;
      place(s, chipText(seg.text));
      if (seg.text.trimmed().isEmpty() && seg.text.contains(QLatin1Char('\n'))) newLine();
      continue;
    }
    // Text between candidates flows word by word and keeps its line breaks.
    QString word;
    for (const QChar ch : seg.text + QLatin1Char(' ')) {
      if (ch != QLatin1Char(' ') && ch != QLatin1Char('\n')) {
        word += ch;
        continue;
      }
      if (!word.isEmpty()) place(s, word), word.clear();
      if (ch == QLatin1Char('\n'))
        newLine();
      else
        gap += space;
    }
    gap -= space;  // the sentinel space added above
  }
  if (height) *height = boxes.isEmpty() ? 0 : y + fm.height() + 2 * kPadY;
  return boxes;
}

void paintTokens(QPainter& painter, const QVector<TokenSegment>& segments,
                 const QVector<TokenBox>& boxes, const TokenStyle& style) {
  painter.save();
  painter.setFont(style.font);
  painter.setRenderHint(QPainter::Antialiasing);
  const Neighbourhood* nb =
      style.neighbourhood && style.neighbourhood->centre >= 0 ? style.neighbourhood : nullptr;
  for (const TokenBox& box : boxes) {
    const TokenSegment& seg = segments[box.segment];
    QColor text(30, 30, 30);
    if (seg.candidate >= 0) {
      QColor fill(236, 236, 236);
      if (style.showValues && style.scaleMax > 0)
        fill = tokenBackground(style.colormap,
                               std::isfinite(seg.value) ? seg.value / style.scaleMax : 0.0);
      else if (style.showValues)
        fill = QColor(255, 255, 255);
      else if (seg.candidate <= style.selectedUpTo)
        fill = QColor(190, 215, 250);
      if (style.marks && style.marks->contains(seg.candidate))
        fill = style.marks->value(seg.candidate);
      if (fill.lightnessF() < 0.45) text = Qt::white;  // the hot end of most maps is dark
      if (nb && !nb->find(seg.candidate))
        text = QColor(150, 150, 150);  // outside the neighbourhood
      painter.setPen(QPen(QColor(0, 0, 0, 40), 0.8));
      painter.setBrush(fill);
      painter.drawRoundedRect(box.rect, 3, 3);
      if (nb) {
        if (const NeighbourFactor* m = nb->find(seg.candidate)) {
          const bool centre = m->candidate == nb->centre;
          painter.setPen(
              QPen(centre ? QColor(20, 20, 20) : QColor(230, 160, 0), centre ? 2.2 : 1.6));
          painter.setBrush(Qt::NoBrush);
          painter.drawRoundedRect(box.rect.adjusted(-1, -1, 1, 1), 3, 3);
        }
      }
      if (seg.candidate == style.hovered) {
        painter.setPen(QPen(QColor(0, 90, 200), 1.6));
        painter.setBrush(Qt::NoBrush);
        painter.drawRoundedRect(box.rect.adjusted(-1, -1, 1, 1), 3, 3);
      }
    } else {
      text = QColor(110, 110, 110);
    }
    painter.setPen(text);
    painter.drawText(box.rect, Qt::AlignCenter, box.shown);
  }
  painter.restore();
}

}  // namespace atman::ui
