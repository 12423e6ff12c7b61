#include "input_controller.h"

#include <QComboBox>

#include <variant>

#include "conversions.h"
#include "explain_session.h"
#include "input_panel.h"
#include "input_requests.h"
#include "window_settings.h"

namespace atman::ui {

InputController::InputController(ExplainSession& session, InputPanel& input,
                                 WindowSettings& settings, QObject* parent)
    : QObject(parent), m_session(session), m_input(input) {
  m_predictionTimer.setSingleShot(true);
  m_predictionTimer.setInterval(400);
  connect(&input, &InputPanel::labelsEdited, this, [this] { m_predictionTimer.start(); });
  connect(&m_predictionTimer, &QTimer::timeout, this, &InputController::requestPrediction);

  connect(input.deviceCombo(), &QComboBox::activated, this, [this, &settings] {
    settings.setDevice(m_input.device());
    if (!m_session.modelDir().isEmpty()) emit reloadRequested(m_session.modelDir());
  });
  connect(input.dtypeCombo(), &QComboBox::activated, this, [this, &settings] {
    settings.setDtype(m_input.dtype());
    if (!m_session.modelDir().isEmpty()) emit reloadRequested(m_session.modelDir());
  });

  connect(&session, &ExplainSession::predicted, this, [this](const Prediction& prediction) {
    m_input.setPrediction(prediction);
    // With no target yet, the model's own answer is the natural thing to explain.
    if (!m_input.target().isEmpty()) return;
    if (!prediction.labels.empty())
      m_input.setTarget(toQString(prediction.labels.front().label));
    else if (!prediction.generation.ids.empty() && m_session.model())
      m_input.setTarget(
          toQString(m_session.model()->tokenizer().decode({prediction.generation.ids.front()})));
  });
  connect(&session, &ExplainSession::jobFailed, this,
          [this](JobKind kind, JobId, const QString& failure) {
            if (kind == JobKind::Predict) m_input.clearPrediction(failure);
          });
}

void InputController::requestPrediction() {
  if (!m_session.model()) return;
  auto request = predictRequest(m_input, m_session.model(), m_session.image());
  if (const QString* missing = std::get_if<QString>(&request)) {
    m_input.clearPrediction(*missing);
    return;
  }
  m_input.setPredictionBusy();
  m_session.predict(std::get<PredictRequest>(std::move(request)));
}

}  // namespace atman::ui
