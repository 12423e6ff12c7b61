// A side panel (input, steering) as a dock: scrollable when the window is short, movable,
// floatable and closable, with its toggle in the View menu.
#pragma once

#include <QDockWidget>

class QMenu;

namespace atman::ui {

class PanelDock : public QDockWidget {
  Q_OBJECT

 public:
  // `objectName` restores the dock's place from the saved window state (and finds it in tests).
  PanelDock(const QString& title, const QString& objectName, QWidget* panel, int minimumWidth,
            QMenu* viewMenu, QWidget* parent);
};

}  // namespace atman::ui
