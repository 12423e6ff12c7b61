// The GUI-side cache of finished explanations for the current input: the single-token result and
// the correlated result per κ step. Moving the κ slider to a step held here redraws at once,
// without a job. A new input (model, image, prompt, target, labels, options) empties it.
#pragma once

#include <QString>

#include <map>
#include <vector>

#include "atman/explainer.h"
#include "atman/explanation.h"
#include "jobs.h"

namespace atman::ui {

// κ on the slider: 0..1 in steps of 0.05, stored as the step number so lookups are exact.
inline constexpr int kKappaSteps = 20;
int kappaStep(double kappa);
double kappaOfStep(int step);
std::vector<double> allKappas();          // the 21 slider values, for the prefetch sweep
inline QString kappaText(double kappa) {  // as the slider shows it
  return QString::number(kappa, 'f', 2);
}

// Identifies "the same input" in the GUI: every request field except mode and κ. Models and images
// are named by serial numbers the session hands out on loading (a freed model's address may be
// reused by the next one; a serial never is). GUI requests carry no pixels (withImage()): pass
// imageSerial 0 for a model that reads no image.
QString inputKey(const ExplainRequest& request, quint64 modelSerial, quint64 imageSerial);

class ExplanationCache {
 public:
  // Switches to `key`, dropping everything held for another input. Returns true when it changed.
  bool setInput(const QString& key);
  const QString& input() const { return m_key; }
  void clear();

  void store(SharedExplanation e);  // by its mode and κ
  const SharedExplanation& single() const { return m_single; }
  SharedExplanation correlated(int step) const;
  bool hasAllKappas() const { return static_cast<int>(m_correlated.size()) == kKappaSteps + 1; }
  int correlatedCount() const { return static_cast<int>(m_correlated.size()); }

 private:
  QString m_key;
  SharedExplanation m_single;
  std::map<int, SharedExplanation> m_correlated;
};

}  // namespace atman::ui
