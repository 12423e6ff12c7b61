// What the steering dock does (docs/steering.md): checks that a steered generation has what it
// needs, starts it, and shows its answer or why there is none. The prompt follows the input
// panel. The window still hands the panel a new model or image, in step with the other parts.
#pragma once

#include <QObject>

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

 signals:
  void message(const QString& text, int timeoutMs);  // for the status bar
  void failed(const QString& title, const QString& message);

 private:
  ExplainSession& m_session;
  const InputPanel& m_input;
  SteeringPanel& m_panel;
};

}  // namespace atman::ui
