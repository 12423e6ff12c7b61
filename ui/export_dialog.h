// Asks how to export the figure: which panes, the file (its suffix picks PNG, SVG or PDF), the PNG
// resolution and the caption.
#pragma once

#include <QDialog>

#include "view_mode.h"

class QComboBox;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace atman::ui {

class ExportDialog : public QDialog {
  Q_OBJECT

 public:
  ExportDialog(ViewMode layout, int dpi, const QString& path, const QString& caption,
               QWidget* parent = nullptr);

  ViewMode layout() const;
  int dpi() const;
  QString path() const;
  QString caption() const;

 private:
  void browse();
  void updateState();

  QComboBox* m_layout = nullptr;
  QSpinBox* m_dpi = nullptr;
  QLineEdit* m_path = nullptr;
  QLineEdit* m_caption = nullptr;
  QPushButton* m_ok = nullptr;
};

}  // namespace atman::ui
