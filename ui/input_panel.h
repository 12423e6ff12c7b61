// The left-hand panel: which model, which image, and what to explain. For CLIP: the editable label
// set and the ranked labels with their probabilities (click one to make it the target). For
// language models: the prompt and the model's own continuation as clickable tokens (click one to
// make the continuation up to it the target).
#pragma once

#include <QWidget>

#include <memory>
#include <optional>

#include "atman/explainer.h"
#include "atman/model.h"
#include "jobs.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;
class QGroupBox;

namespace atman::ui {

class ModelPicker;
class TokenView;

class InputPanel : public QWidget {
  Q_OBJECT

 public:
  explicit InputPanel(QWidget* parent = nullptr);

  ModelPicker* modelPicker() const { return m_modelPicker; }
  TokenView* continuationView() const { return m_continuation; }
  QComboBox* deviceCombo() const { return m_device; }
  QString device() const;
  void setDevice(const QString& device);
  // The devices offered: a server's ("cpu", "cuda:0", …); empty: this computer's.
  void setDevices(const QStringList& devices);
  // The compute dtype: "auto", "float32", "bfloat16", "float16" (LoadOptions::dtype).
  QComboBox* dtypeCombo() const { return m_dtype; }
  QString dtype() const;
  void setDtype(const QString& dtype);

  // Shows the parts that fit the model (labels for CLIP, prompt for LMs) and picks the default
  // label preset (shapes for a folder named *shapes*, else common). nullptr: no model yet.
  void setModel(std::shared_ptr<const Model> model, const QString& defaultPrompt);
  void setImage(const QImage& image, const QString& origin);

  QStringList labels() const;
  void setLabels(const QStringList& labels);
  QString labelPreset() const;
  void setLabelPreset(const QString& preset);  // "shapes", "common", or "custom"
  QString prompt() const;
  void setPrompt(const QString& prompt);
  QString target() const;
  void setTarget(const QString& target);
  ExplainWhat explainWhat() const;
  void setExplainWhat(ExplainWhat what);

  void setPrediction(const Prediction& prediction);
  void clearPrediction(const QString& placeholder = {});
  void setPredictionBusy();

  // The labels of a preset, read from the bundled resources (resources/labels/*.txt).
  static QStringList presetLabels(const QString& preset);

 signals:
  void openImageRequested();
  void labelsEdited();
  void promptEdited();
  void targetEdited();
  void explainWhatChanged();
  void generateRequested();
  void explainRequested();

 private:
  void fillExplainChoices();
  void markTarget();

  std::shared_ptr<const Model> m_model;
  ModelPicker* m_modelPicker = nullptr;
  QComboBox* m_device = nullptr;
  QComboBox* m_dtype = nullptr;
  QLabel* m_thumbnail = nullptr;
  QLabel* m_imageOrigin = nullptr;
  QGroupBox* m_labelsBox = nullptr;
  QComboBox* m_preset = nullptr;
  QPlainTextEdit* m_labels = nullptr;
  QGroupBox* m_promptBox = nullptr;
  QPlainTextEdit* m_prompt = nullptr;
  QGroupBox* m_saysBox = nullptr;
  QTableWidget* m_ranking = nullptr;
  TokenView* m_continuation = nullptr;
  QPushButton* m_generate = nullptr;
  QLabel* m_saysStatus = nullptr;
  QLineEdit* m_target = nullptr;
  QComboBox* m_explainWhat = nullptr;
  Generation m_generation;
  bool m_settingLabels = false;
};

}  // namespace atman::ui
