// What the input panel asks for, as the session's requests, or why it cannot ask yet (a sentence
// that tells the person what to do). The window decides whether that reason is a dialog or a line
// in the input panel.
#pragma once

#include <QString>

#include <memory>
#include <variant>

#include "atman/explainer.h"
#include "atman/image.h"
#include "atman/model.h"
#include "jobs.h"

namespace atman::ui {

class InputPanel;

// The request behind Explain; the pixels are left out (the session shares its image).
ExplainRequest explainRequest(const InputPanel& input, std::shared_ptr<const Model> model,
                              double factor);
// Empty when `model` can explain what the panel holds.
QString missingForExplain(const InputPanel& input, const Model& model, bool haveImage);

// The plain prediction ("what does the model say?"), or why there is none yet.
std::variant<PredictRequest, QString> predictRequest(const InputPanel& input,
                                                     std::shared_ptr<const Model> model,
                                                     std::shared_ptr<const RgbImage> image);
// Empty when a steered generation can start (the steering factors are checked by the caller).
QString missingForSteering(const InputPanel& input, const Model* model, bool haveImage);

}  // namespace atman::ui
