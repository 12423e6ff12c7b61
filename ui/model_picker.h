// Choosing a model: the folders under the model root (atman::model_root()) and the recently used
// ones in a combo box, plus "Browse…" for any Hugging Face folder on disk.
#pragma once

#include <QComboBox>
#include <QString>
#include <QStringList>
#include <QWidget>

namespace atman::ui {

class ModelPicker : public QWidget {
  Q_OBJECT

 public:
  explicit ModelPicker(QWidget* parent = nullptr);

  // Rebuilds the list: the model root's folders first, then recent folders from elsewhere.
  void setRecent(const QStringList& recent);
  void refresh();
  // Shows `dir` as the current model (adding it when new) without emitting modelChosen.
  void setCurrentModel(const QString& dir);
  QString currentModel() const;
  // The folders found under the model root that look like models (they hold a config.json).
  static QStringList bundledModels();

 signals:
  void modelChosen(const QString& dir);

 public slots:
  void browse();

 private:
  QComboBox* m_combo = nullptr;
  QStringList m_recent;
};

}  // namespace atman::ui
