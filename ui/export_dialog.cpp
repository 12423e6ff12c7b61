#include "export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>

#include "export.h"

namespace atman::ui {

ExportDialog::ExportDialog(ViewMode layout, int dpi, const QString& path, const QString& caption,
                           QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Export Figure"));
  m_layout = new QComboBox(this);
  m_layout->addItem(tr("Single-token suppression"), int(ViewMode::Single));
  m_layout->addItem(tr("Correlated suppression"), int(ViewMode::Correlated));
  m_layout->addItem(tr("Side by side"), int(ViewMode::SideBySide));
  m_layout->setCurrentIndex(m_layout->findData(int(layout)));
  m_dpi = new QSpinBox(this);
  m_dpi->setRange(36, 2400);
  m_dpi->setSingleStep(50);
  m_dpi->setSuffix(tr(" DPI"));
  m_dpi->setValue(dpi);
  m_path = new QLineEdit(path, this);
  auto* browseButton = new QToolButton(this);
  browseButton->setText(tr("…"));
  auto* pathRow = new QHBoxLayout;
  pathRow->addWidget(m_path, 1);
  pathRow->addWidget(browseButton);
  m_caption = new QLineEdit(caption, this);
  m_caption->setMinimumWidth(420);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
  m_ok = buttons->button(QDialogButtonBox::Save);
  auto* form = new QFormLayout(this);
  form->addRow(tr("&Content:"), m_layout);
  form->addRow(tr("&File:"), pathRow);
  form->addRow(tr("&Resolution:"), m_dpi);
  form->addRow(tr("C&aption:"), m_caption);
  form->addRow(buttons);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(browseButton, &QToolButton::clicked, this, &ExportDialog::browse);
  connect(m_path, &QLineEdit::textChanged, this, &ExportDialog::updateState);
  updateState();
}

ViewMode ExportDialog::layout() const {
  return static_cast<ViewMode>(m_layout->currentData().toInt());
}
int ExportDialog::dpi() const {
  return m_dpi->value();
}
QString ExportDialog::path() const {
  return m_path->text();
}
QString ExportDialog::caption() const {
  return m_caption->text();
}

void ExportDialog::browse() {
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export Figure"), m_path->text(),
      tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"));
  if (!path.isEmpty()) m_path->setText(path);
}

void ExportDialog::updateState() {
  // The resolution only matters for PNG; SVG and PDF are vector formats.
  m_dpi->setEnabled(figureFormatFor(m_path->text()) == FigureFormat::Png);
  m_ok->setEnabled(!m_path->text().trimmed().isEmpty());
}

}  // namespace atman::ui
