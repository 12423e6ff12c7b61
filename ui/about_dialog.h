// Help › About: the version, what AtMan does, the model loaded and the runtime.
#pragma once

#include <QString>

class QWidget;

namespace atman {
class Model;
}

namespace atman::ui {

void showAboutDialog(QWidget* parent, const Model* model, const QString& modelDir);

}  // namespace atman::ui
