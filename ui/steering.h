// The steering panel's model, without widgets: what the person chose to steer (prompt tokens and
// patch regions, each with a factor), how that becomes the core's per-position SteeringFactors,
// how two answers differ token by token, and the record the export writes.
#pragma once

#include <QColor>
#include <QString>
#include <QVector>

#include <vector>

#include "atman/inference.h"
#include "token_layout.h"

namespace atman::ui {

// One row of the steering list. Token entries name model input positions (a click, or a
// shift-click range); region entries name an inclusive patch rectangle, so they survive a prompt
// edit that moves the image tokens.
struct SteeringEntry {
  enum class Kind { Tokens, Region };
  Kind kind = Kind::Tokens;
  int first = -1, last = -1;                   // Tokens: input positions, inclusive
  int row0 = 0, row1 = 0, col0 = 0, col1 = 0;  // Region: patch rows and columns, inclusive
  double factor = 0.0;
};

inline constexpr double kMaxSteeringFactor = 5.0;

// The input positions an entry steers under `layout` (text tokens only for Tokens, image tokens
// with a patch position only for Region).
std::vector<int64_t> entryPositions(const SteeringEntry& entry,
                                    const std::vector<InputPosition>& layout);
// What an entry steers, for the list: “ red circle” or "patches rows 2–4, columns 5–7".
QString describeEntry(const SteeringEntry& entry, const std::vector<InputPosition>& layout);
// The factors the core runs with: one per position, sorted by position; where entries overlap,
// the later entry wins (the person's latest choice).
std::vector<SteeringFactor> steeringFactors(const std::vector<SteeringEntry>& entries,
                                            const std::vector<InputPosition>& layout);

// The prompt cut into chips, one per text position (candidate = input position); the <image>
// marker and other text between tokens stays plain.
QVector<TokenSegment> promptSegments(const QString& prompt,
                                     const std::vector<InputPosition>& layout);
// Chips of an answer, one per generated token (candidate = token index).
QVector<TokenSegment> answerSegments(const Generation& generation);

// Which tokens of `a` and of `b` lie outside a longest common subsequence of their ids: the
// tokens one answer has and the other lacks. Identical answers differ nowhere.
struct TokenDiff {
  std::vector<bool> a, b;
  bool any() const;
};
TokenDiff diffTokens(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// Colours: red suppresses, green amplifies, grey leaves attention as it is (factor 1).
QColor steeringColour(double factor);
// The lighter fill of a steered prompt chip, so its text stays readable.
QColor steeringChipColour(double factor);
// The fill of an answer token that differs from the other answer.
QColor differenceColour();

// One steered run as the export writes it (JSON or CSV).
struct SteeringReport {
  QString model;
  QString prompt;
  QString image;  // its origin (a path, "clipboard"); empty for text-only models
  std::vector<InputPosition> layout;
  std::vector<SteeringEntry> entries;
  std::vector<SteeringFactor> factors;
  Generation original, steered;
  double steeredSeconds = 0;
};

}  // namespace atman::ui
