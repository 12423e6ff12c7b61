// What the input dock does besides holding the input: asks the model what it says about the
// input (debounced while labels are typed), picks the model's own answer as the default target,
// and keeps the device and dtype chosen. The window decides when a new model or image calls for
// a fresh prediction.
#pragma once

#include <QObject>
#include <QTimer>

namespace atman::ui {

class ExplainSession;
class InputPanel;
class WindowSettings;

class InputController : public QObject {
  Q_OBJECT

 public:
  InputController(ExplainSession& session, InputPanel& input, WindowSettings& settings,
                  QObject* parent);

  // "What does the model say?" for the input as it is now; the panel says what is missing.
  void requestPrediction();

 signals:
  // The device or dtype changed: the model moves, or is converted, by loading it again.
  void reloadRequested(const QString& modelDir);

 private:
  ExplainSession& m_session;
  InputPanel& m_input;
  QTimer m_predictionTimer;  // debounces zero-shot runs while labels are typed
};

}  // namespace atman::ui
