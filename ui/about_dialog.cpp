#include "about_dialog.h"

#include <QCoreApplication>
#include <QDir>
#include <QMessageBox>

#include "atman/model.h"
#include "atman/runtime.h"
#include "conversions.h"

namespace atman::ui {
namespace {

QString tr(const char* text) {
  return QCoreApplication::translate("atman::ui::MainWindow", text);
}

}  // namespace

void showAboutDialog(QWidget* parent, const Model* model, const QString& modelDir) {
  QString modelText = tr("No model loaded.");
  if (model)
    modelText = tr("<p><b>Model:</b> %1<br>%2<br><b>Folder:</b> %3</p>")
                    .arg(toQString(model->name()).toHtmlEscaped(),
                         toQString(model->description()).toHtmlEscaped(),
                         QDir::toNativeSeparators(modelDir).toHtmlEscaped());
  QMessageBox::about(
      parent, tr("About AtMan Studio"),
      tr("<h3>AtMan Studio %1</h3>"
         "<p>Explains transformer predictions with AtMan (Deiseroth et al., NeurIPS 2023): "
         "the relevance of a token or image patch is how much the target's loss rises when "
         "attention to it is suppressed.</p>%2<pre>%3</pre>")
          .arg(toQString(version()), modelText, toQString(runtime_report()).toHtmlEscaped()));
}

}  // namespace atman::ui
