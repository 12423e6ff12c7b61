#include "panel_dock.h"

#include <QMenu>
#include <QScrollArea>

namespace atman::ui {

PanelDock::PanelDock(const QString& title, const QString& objectName, QWidget* panel,
                     int minimumWidth, QMenu* viewMenu, QWidget* parent)
    : QDockWidget(title, parent) {
  setObjectName(objectName);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(panel);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  setFeatures(DockWidgetMovable | DockWidgetFloatable | DockWidgetClosable);
  setWidget(scroll);
  setMinimumWidth(minimumWidth);
  viewMenu->addAction(toggleViewAction());
}

}  // namespace atman::ui
