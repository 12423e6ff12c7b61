// Steering (the hosted API's controls): the person picks prompt tokens (click, shift-click for a
// range) and image regions (drag over the patches), gives each a factor (< 1 suppresses, > 1
// amplifies), and compares the model's original answer with the steered one, the tokens that
// differ highlighted. The panel only collects choices and shows results: the main window runs the
// job (generateRequested) and reports errors.
#pragma once

#include <QWidget>

#include <memory>
#include <optional>
#include <vector>

#include "atman/image.h"
#include "atman/inference.h"
#include "atman/model.h"
#include "jobs.h"
#include "steering.h"

class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QPushButton;
class QTableWidget;

namespace atman::ui {

class SteeringImageView;
class TokenView;

class SteeringPanel : public QWidget {
  Q_OBJECT

 public:
  explicit SteeringPanel(QWidget* parent = nullptr);

  // A new model clears everything (its grid and tokenizer differ); a new image keeps the choices
  // (regions are patch rows and columns) but drops the answers; a new prompt keeps the token
  // choices only while the prompt's tokens stay the same.
  // `layout`: where the prompt's input positions come from (LoadedModel::inputLayout).
  void setModel(std::shared_ptr<const Model> model, InputLayoutFn layout = {});
  void setImage(std::shared_ptr<const RgbImage> image, const QString& origin);
  void setPrompt(const QString& prompt);

  // The factor that new choices get (0..5; 0 = suppress completely).
  double newFactor() const;
  void setNewFactor(double factor);
  // A click on a prompt token toggles it; `extend` (shift-click) adds the tokens from the last
  // clicked one to this one as one choice.
  void clickToken(int position, bool extend = false);
  void addRegion(int row0, int row1, int col0, int col1);
  void setEntryFactor(int entry, double factor);
  void removeEntry(int entry);
  void clearAll();

  const std::vector<SteeringEntry>& entries() const { return m_entries; }
  const std::vector<InputPosition>& layout() const { return m_layout; }
  std::vector<SteeringFactor> steering() const { return steeringFactors(m_entries, m_layout); }

  // Results of the main window's steered job.
  void setBusy(bool busy);
  void showResult(const Prediction& prediction);
  void showFailure(const QString& message);
  const std::optional<SteeringReport>& report() const { return m_report; }

  TokenView* promptView() const { return m_promptView; }
  SteeringImageView* imageView() const { return m_imageView; }
  TokenView* originalView() const { return m_originalView; }
  TokenView* steeredView() const { return m_steeredView; }
  QTableWidget* entryTable() const { return m_table; }
  QPushButton* generateButton() const { return m_generate; }

 signals:
  void generateRequested();
  void exportRequested();
  void message(const QString& text);

 private:
  void rebuildLayout();
  void updatePatchCells();
  void rebuildTable();
  void updateMarks();
  void clearResult(const QString& why = {});

  std::shared_ptr<const Model> m_model;
  InputLayoutFn m_layoutFn;
  std::shared_ptr<const RgbImage> m_image;
  QString m_imageOrigin;
  QString m_prompt;
  std::vector<InputPosition> m_layout;
  std::vector<SteeringEntry> m_entries;
  int m_lastClicked = -1;
  std::optional<SteeringReport> m_report;

  QDoubleSpinBox* m_factor = nullptr;
  QLabel* m_factorHint = nullptr;
  TokenView* m_promptView = nullptr;
  QGroupBox* m_imageBox = nullptr;
  SteeringImageView* m_imageView = nullptr;
  QTableWidget* m_table = nullptr;
  QPushButton* m_clear = nullptr;
  QPushButton* m_generate = nullptr;
  QPushButton* m_export = nullptr;
  QLabel* m_status = nullptr;
  TokenView* m_originalView = nullptr;
  TokenView* m_steeredView = nullptr;
};

}  // namespace atman::ui
