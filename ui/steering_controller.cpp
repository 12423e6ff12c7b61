#include "steering_controller.h"

#include "conversions.h"
#include "explain_session.h"
#include "input_panel.h"
#include "input_requests.h"
#include "steering_panel.h"

namespace atman::ui {

SteeringController::SteeringController(ExplainSession& session, const InputPanel& input,
                                       SteeringPanel& panel, QObject* parent)
    : QObject(parent), m_session(session), m_input(input), m_panel(panel) {
  connect(&input, &InputPanel::promptEdited, this, [this] {
    // A steered answer in flight is about the old prompt (and its positions).
    if (m_session.isRunning(JobKind::Steer)) {
      m_session.drop(JobKind::Steer);
      m_panel.setBusy(false);
    }
    m_panel.setPrompt(m_input.prompt());
  });
  connect(&panel, &SteeringPanel::generateRequested, this, &SteeringController::generate);
  connect(&session, &ExplainSession::steered, this, [this](const Prediction& prediction) {
    m_panel.showResult(prediction);
    emit message(tr("Steered answer ready (%1 s)").arg(prediction.steeredSeconds, 0, 'f', 2), 6000);
  });
  // The choices stay: fix the input and press again.
  connect(&session, &ExplainSession::jobCancelled, this, [this](JobKind kind) {
    if (kind == JobKind::Steer) m_panel.showFailure(tr("Cancelled."));
  });
  connect(&session, &ExplainSession::jobFailed, this,
          [this](JobKind kind, JobId, const QString& failure) {
            if (kind == JobKind::Steer) m_panel.showFailure(failure);
          });
}

void SteeringController::generate() {
  const auto& model = m_session.model();
  QString missing;
  if (m_session.isRunning(JobKind::LoadModel))
    missing = tr("The model is still loading; press Generate Steered again when it is ready.");
  else
    missing = missingForSteering(m_input, model.get(), m_session.image() != nullptr);
  if (missing.isEmpty() && m_panel.steering().empty())
    missing =
        tr("Choose what to steer: click prompt tokens or drag over image patches in the Steering "
           "panel.");
  if (!missing.isEmpty()) {
    emit failed(tr("Nothing to steer"), missing);
    return;
  }
  PredictRequest request;
  request.prompt = toStd(m_input.prompt());
  if (model->reads_images()) request.image = m_session.image();
  request.steering = m_panel.steering();
  const size_t positions = request.steering.size();
  m_session.predict(std::move(request));  // supersedes a steered run still waiting or running
  m_panel.setBusy(true);
  emit message(tr("Generating with %1 steered positions…").arg(positions), 0);
}

void SteeringController::modelLoading() {
  if (m_session.isRunning(JobKind::Steer))
    m_panel.showFailure(tr("Cancelled: another model is loading."));
}

void SteeringController::setModel(const std::shared_ptr<const Model>& model,
                                  const InputLayoutFn& layout) {
  m_panel.setModel(model, layout);
  m_panel.setImage(m_session.image(), m_session.imageOrigin());
  m_panel.setPrompt(m_input.prompt());
}

void SteeringController::setImage(const std::shared_ptr<const RgbImage>& image,
                                  const QString& origin) {
  // The session is about to drop the steered job with the rest of the old image's: stop waiting.
  if (m_session.isRunning(JobKind::Steer)) m_panel.setBusy(false);
  m_panel.setImage(image, origin);
}

}  // namespace atman::ui
