#include "input_requests.h"

#include <QCoreApplication>

#include <algorithm>

#include "atman/conventions.h"
#include "conversions.h"
#include "input_panel.h"

namespace atman::ui {
namespace {

QString tr(const char* text) {
  return QCoreApplication::translate("atman::ui::MainWindow", text);
}

}  // namespace

ExplainRequest explainRequest(const InputPanel& input, std::shared_ptr<const Model> model,
                              double factor) {
  ExplainRequest r;
  r.model = std::move(model);
  if (!r.model) return r;
  r.target = toStd(input.target());
  if (r.model->target_is_label()) {
    for (const QString& l : input.labels()) r.labels.push_back(toStd(l));
    // "blue square" is accepted for the label "a photo of a blue square", as on the command line.
    r.target = resolve_label_alias(r.target, r.labels);
  } else {
    r.prompt = toStd(input.prompt());
  }
  r.explain = input.explainWhat();
  r.factor = factor;
  return r;
}

QString missingForExplain(const InputPanel& input, const Model& model, bool haveImage) {
  if (model.reads_images() && !haveImage)
    return tr("Open an image first (File › Open, drag and drop, or paste).");
  if (input.target().trimmed().isEmpty())
    return model.target_is_label()
               ? tr("Choose a target: click a label in the ranking or type one.")
               : tr("Choose a target: click a token of the continuation or type one.");
  return {};
}

std::variant<PredictRequest, QString> predictRequest(const InputPanel& input,
                                                     std::shared_ptr<const Model> model,
                                                     std::shared_ptr<const RgbImage> image) {
  PredictRequest request;
  if (model->target_is_label()) {
    for (const QString& l : input.labels()) request.labels.push_back(toStd(l));
    if (!image || request.labels.empty())
      return !image ? tr("Open an image to see how the model ranks the labels.")
                    : tr("Type some labels, one per line.");
    request.image = std::move(image);
  } else {
    request.prompt = toStd(input.prompt());
    const bool needsImage = model->reads_images() && !image;
    if (request.prompt.empty() || needsImage)
      return needsImage ? tr("Open an image for the model to look at.")
                        : tr("Type a prompt and press Generate.");
    if (model->reads_images()) request.image = std::move(image);
  }
  request.model = std::move(model);
  return request;
}

QString missingForSteering(const InputPanel& input, const Model* model, bool haveImage) {
  if (!model || !model->generates())
    return tr("Steering needs a language model or LLaVA: open one first.");
  if (input.prompt().trimmed().isEmpty()) return tr("Type a prompt first.");
  if (model->reads_images() && !haveImage)
    return tr("Open an image for the model to look at (File › Open, drag and drop, or paste).");
  return {};
}

}  // namespace atman::ui
