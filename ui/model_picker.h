// Choosing a model: the folders under the model root (atman::model_root()) and the recently used
// ones in a combo box, plus "Browse…" for any Hugging Face folder on disk. Connected to a server,
// it lists the server's model names instead (the server loads only those).
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
  // Lists `names`, the models of the server at `where`; an empty `where`: this computer's again.
  void setServerModels(const QStringList& names, const QString& where);
  // The folders found under the model root that look like models (they hold a config.json).
  static QStringList bundledModels();

 signals:
  void modelChosen(const QString& dir);

 public slots:
  void browse();

 private:
  QComboBox* m_combo = nullptr;
  QWidget* m_browse = nullptr;
  QStringList m_recent;
  QString m_server;  // empty: local folders
  QStringList m_serverModels;
};

}  // namespace atman::ui
