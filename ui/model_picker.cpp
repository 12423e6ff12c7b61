#include "model_picker.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QSignalBlocker>
#include <QToolButton>

#include "atman/runtime.h"
#include "conversions.h"

namespace atman::ui {
namespace {

QString normalised(const QString& dir) {
  return QDir::cleanPath(QFileInfo(dir).absoluteFilePath());
}

}  // namespace

ModelPicker::ModelPicker(QWidget* parent) : QWidget(parent), m_combo(new QComboBox(this)) {
  m_combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_combo->setMinimumContentsLength(14);
  m_combo->setToolTip(
      tr("Models under %1 and recently used folders").arg(toQString(model_root().string())));
  auto* browseButton = new QToolButton(this);
  m_browse = browseButton;
  browseButton->setText(tr("…"));
  browseButton->setToolTip(tr("Open a Hugging Face model folder"));
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_combo, 1);
  layout->addWidget(browseButton);
  connect(browseButton, &QToolButton::clicked, this, &ModelPicker::browse);
  connect(m_combo, &QComboBox::activated, this, [this](int index) {
    const QString dir = m_combo->itemData(index).toString();
    if (!dir.isEmpty()) emit modelChosen(dir);
  });
  refresh();
}

QStringList ModelPicker::bundledModels() {
  QStringList models;
  const QDir root(toQString(model_root().string()));
  for (const QFileInfo& info : root.entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
    if (QFileInfo::exists(info.absoluteFilePath() + QStringLiteral("/config.json")))
      models << normalised(info.absoluteFilePath());
  return models;
}

void ModelPicker::setRecent(const QStringList& recent) {
  m_recent = recent;
  refresh();
}

void ModelPicker::setServerModels(const QStringList& names, const QString& where) {
  m_server = where;
  m_serverModels = names;
  m_browse->setEnabled(where.isEmpty());
  m_combo->setToolTip(
      where.isEmpty()
          ? tr("Models under %1 and recently used folders").arg(toQString(model_root().string()))
          : tr("The models the server at %1 offers").arg(where));
  const QSignalBlocker blocker(m_combo);
  m_combo->clear();  // the current model belonged to the other place
  refresh();
}

void ModelPicker::refresh() {
  const QString current = currentModel();
  const QSignalBlocker blocker(m_combo);
  m_combo->clear();
  if (!m_server.isEmpty()) {
    for (const QString& name : m_serverModels) m_combo->addItem(name, name);
    if (!current.isEmpty()) setCurrentModel(current);
    return;
  }
  const QStringList bundled = bundledModels();
  for (const QString& dir : bundled) m_combo->addItem(QFileInfo(dir).fileName(), dir);
  bool separated = false;
  for (const QString& dir : m_recent) {
    const QString clean = normalised(dir);
    if (bundled.contains(clean) || m_combo->findData(clean) >= 0) continue;
    if (!separated && m_combo->count() > 0) m_combo->insertSeparator(m_combo->count());
    separated = true;
    m_combo->addItem(QFileInfo(clean).fileName(), clean);
    m_combo->setItemData(m_combo->count() - 1, clean, Qt::ToolTipRole);
  }
  if (!current.isEmpty()) setCurrentModel(current);
}

void ModelPicker::setCurrentModel(const QString& dir) {
  // A server's model is a name, not a folder here.
  const QString clean = m_server.isEmpty() ? normalised(dir) : dir;
  const QSignalBlocker blocker(m_combo);
  int index = m_combo->findData(clean);
  if (index < 0) {
    m_combo->addItem(m_server.isEmpty() ? QFileInfo(clean).fileName() : clean, clean);
    m_combo->setItemData(m_combo->count() - 1, clean, Qt::ToolTipRole);
    index = m_combo->count() - 1;
  }
  m_combo->setCurrentIndex(index);
}

QString ModelPicker::currentModel() const {
  return m_combo->currentData().toString();
}

void ModelPicker::browse() {
  if (!m_server.isEmpty()) return;  // the server loads only what it offers
  const QString start =
      currentModel().isEmpty() ? toQString(model_root().string()) : currentModel();
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"), start);
  if (!dir.isEmpty()) emit modelChosen(normalised(dir));
}

}  // namespace atman::ui
