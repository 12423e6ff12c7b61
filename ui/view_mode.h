// Which explanations the window shows, and the two panes that show them.
#pragma once

#include <QString>

#include <optional>

namespace atman::ui {

enum class ViewMode { Single, Correlated, SideBySide };
enum class Pane { Single, Correlated };

// "single", "correlated", "side-by-side": the command line's and the settings' spelling.
inline QString viewModeName(ViewMode mode) {
  switch (mode) {
    case ViewMode::Single:
      return QStringLiteral("single");
    case ViewMode::Correlated:
      return QStringLiteral("correlated");
    case ViewMode::SideBySide:
      break;
  }
  return QStringLiteral("side-by-side");
}

inline std::optional<ViewMode> parseViewMode(const QString& name) {
  if (name == QLatin1String("single")) return ViewMode::Single;
  if (name == QLatin1String("correlated")) return ViewMode::Correlated;
  if (name == QLatin1String("side-by-side") || name == QLatin1String("both"))
    return ViewMode::SideBySide;
  return std::nullopt;
}

inline bool showsPane(ViewMode mode, Pane pane) {
  return mode == ViewMode::SideBySide || (pane == Pane::Single) == (mode == ViewMode::Single);
}

}  // namespace atman::ui
