#include "steering.h"

#include <QObject>

#include <algorithm>
#include <map>

#include "atman/conventions.h"
#include "conversions.h"

namespace atman::ui {
namespace {

bool steersPosition(const SteeringEntry& e, const InputPosition& p, int64_t position) {
  return !p.is_image && position >= e.first && position <= e.last;  // a Tokens entry
}

QString fromCodePoints(const QList<uint>& points, qsizetype begin, qsizetype end) {
  QString out;
  for (qsizetype i = begin; i < end; ++i)
    out += QString::fromUcs4(reinterpret_cast<const char32_t*>(&points[i]), 1);
  return out;
}

}  // namespace

std::vector<int64_t> entryPositions(const SteeringEntry& entry,
                                    const std::vector<InputPosition>& layout) {
  if (entry.kind == SteeringEntry::Kind::Region)
    return patch_region_positions(layout, entry.row0, entry.row1, entry.col0, entry.col1);
  std::vector<int64_t> out;
  for (size_t p = 0; p < layout.size(); ++p)
    if (steersPosition(entry, layout[p], static_cast<int64_t>(p)))
      out.push_back(static_cast<int64_t>(p));
  return out;
}

QString describeEntry(const SteeringEntry& entry, const std::vector<InputPosition>& layout) {
  if (entry.kind == SteeringEntry::Kind::Region) {
    auto range = [](int a, int b) {
      return a == b ? QString::number(a) : QStringLiteral("%1–%2").arg(a).arg(b);
    };
    return QObject::tr("patches rows %1, columns %2")
        .arg(range(entry.row0, entry.row1), range(entry.col0, entry.col1));
  }
  QString text;
  for (int64_t p : entryPositions(entry, layout)) text += toQString(layout[p].text);
  return QStringLiteral("“%1”").arg(text);
}

std::vector<SteeringFactor> steeringFactors(const std::vector<SteeringEntry>& entries,
                                            const std::vector<InputPosition>& layout) {
  std::map<int64_t, float> byPosition;  // ordered: the core gets positions in input order
  for (const SteeringEntry& e : entries)
    for (int64_t p : entryPositions(e, layout)) byPosition[p] = static_cast<float>(e.factor);
  std::vector<SteeringFactor> out;
  for (const auto& [position, factor] : byPosition) out.push_back({position, factor});
  return out;
}

QVector<TokenSegment> promptSegments(const QString& prompt,
                                     const std::vector<InputPosition>& layout) {
  const QList<uint> points = prompt.toUcs4();
  const qsizetype n = points.size();
  std::vector<int> text;  // text positions in span order
  for (size_t p = 0; p < layout.size(); ++p)
    if (!layout[p].is_image && layout[p].span.first >= 0) text.push_back(static_cast<int>(p));
  std::stable_sort(text.begin(), text.end(),
                   [&](int a, int b) { return layout[a].span.first < layout[b].span.first; });
  QVector<TokenSegment> segments;
  qsizetype at = 0;
  for (int p : text) {
    const auto [spanBegin, spanEnd] = layout[p].span;
    const qsizetype begin = std::clamp<qsizetype>(std::max<qsizetype>(spanBegin, at), 0, n);
    const qsizetype end = std::clamp<qsizetype>(spanEnd, begin, n);
    if (begin > at) segments.push_back({fromCodePoints(points, at, begin), -1, 0});
    segments.push_back(
        {end > begin ? fromCodePoints(points, begin, end) : toQString(layout[p].text), p, 0});
    at = std::max(at, end);
  }
  if (at < n) segments.push_back({fromCodePoints(points, at, n), -1, 0});
  return segments;
}

QVector<TokenSegment> answerSegments(const Generation& generation) {
  QVector<TokenSegment> segments;
  for (size_t i = 0; i < generation.tokens.size(); ++i)
    segments.push_back({toQString(generation.tokens[i]), static_cast<int>(i), 0});
  return segments;
}

bool TokenDiff::any() const {
  return std::find(a.begin(), a.end(), true) != a.end() ||
         std::find(b.begin(), b.end(), true) != b.end();
}

TokenDiff diffTokens(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  // Textbook LCS table; answers are a few dozen tokens, so quadratic is nothing.
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  TokenDiff diff{std::vector<bool>(n, true), std::vector<bool>(m, true)};
  for (size_t i = 0, j = 0; i < n && j < m;) {
    if (a[i] == b[j]) {
      diff.a[i++] = false;
      diff.b[j++] = false;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      ++i;
    } else {
      ++j;
    }
  }
  return diff;
}

QColor steeringColour(double factor) {
  if (factor < 1.0) return QColor(214, 39, 40);
  if (factor > 1.0) return QColor(44, 160, 44);
  return QColor(128, 128, 128);
}

QColor steeringChipColour(double factor) {
  if (factor < 1.0) return QColor(247, 182, 182);
  if (factor > 1.0) return QColor(178, 230, 178);
  return QColor(215, 215, 215);
}

QColor differenceColour() {
  return QColor(255, 214, 102);
}

}  // namespace atman::ui
