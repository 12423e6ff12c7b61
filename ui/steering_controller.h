// What the steering dock does (docs/steering.md): checks that a steered generation has what it
// needs, starts it, and shows its answer or why there is none. The prompt follows the input
// panel. The window hands it a new model or image through setModel() and setImage(), so the
// panel changes in step with the window's other parts.
#pragma once

#include <QObject>

#include <memory>

#include "jobs.h"

namespace atman {
class Model;
struct RgbImage;
}  // namespace atman

namespace atman::ui {

class ExplainSession;
class InputPanel;
class SteeringPanel;

class SteeringController : public QObject {
  Q_OBJECT

 public:
  SteeringController(ExplainSession& session, const InputPanel& input, SteeringPanel& panel,
                     QObject* parent);

  // The original and the steered answer for the panel's choices; the reason in failed() when
  // something is missing.
  void generate();
  // A model is loading: a steered answer in flight is lost with the old one, so say so.
  void modelLoading();
  // The loaded model, once the input panel has its default prompt (which the panel steers).
  void setModel(const std::shared_ptr<const Model>& model, const InputLayoutFn& layout = {});
  // A new image, before the session takes it (and drops the steered job about the old one).
  void setImage(const std::shared_ptr<const RgbImage>& image, const QString& origin);

 signals:
  void message(const QString& text, int timeoutMs);  // for the status bar
  void failed(const QString& title, const QString& message);

 private:
  ExplainSession& m_session;
  const InputPanel& m_input;
  SteeringPanel& m_panel;
};

}  // namespace atman::ui
