#include <QDir>
#include <QFileInfo>

#include "atman/error.h"
#include "atman/image.h"
#include "atman/prompt.h"
#include "atman/runtime.h"
#include "conversions.h"
#include "worker_backend.h"

namespace atman::ui {

// The prompt the GUI pre-fills: the folder's prompt_format.json, else its chat template rendered
// around a question (LLaVA: the image question the bundled model was trained on; an LM: an empty
// user turn the person fills in). Shown in full so the person sees and may edit what the model
// reads. A broken template only costs the pre-fill: the model itself loaded fine.
QString defaultPromptFor(const Model& model, const QString& dir) {
  if (!model.generates()) return {};        // CLIP: no prompt
  const bool llava = model.reads_images();  // LLaVA: the prompt has an image
  try {
    return toQString(default_prompt(toStd(dir), llava ? "What is in the picture?" : "", llava));
  } catch (const Error&) {  // also: a folder with neither prompt_format.json nor a template
    return {};
  }
}

LocalBackend::LocalBackend() : m_explainer(std::make_unique<AtmanExplainer>()) {}

LocalBackend::~LocalBackend() = default;

QString LocalBackend::where() const {
  return QObject::tr("this computer");
}

LoadedModel LocalBackend::loadModel(const QString& dirOrName, const QString& device,
                                    const QString& dtype) {
  // Resolved here, not on the GUI thread: a name may go through the model root or a cache.
  const QString dir = QDir::cleanPath(
      QFileInfo(toQString(resolve_model_dir(toStd(dirOrName)).string())).absoluteFilePath());
  LoadedModel loaded;
  LoadOptions options;
  options.device = toStd(device);
  options.dtype = toStd(dtype);
  loaded.model = Model::load(toStd(dir), options);
  loaded.dir = dir;
  loaded.defaultPrompt = defaultPromptFor(*loaded.model, dir);
  // Cached inputs keep their model alive; a new model makes them useless, so free the memory.
  m_explainer->clear_cache();
  return loaded;
}

std::vector<LabelScore> LocalBackend::zeroShot(const Model& model, const RgbImage& image,
                                               const std::vector<std::string>& labels) {
  return zero_shot(model, model.preprocess(image), labels);
}

Generation LocalBackend::generate(const Model& model, const std::string& prompt, int maxNewTokens,
                                  const RgbImage* image,
                                  const std::vector<SteeringFactor>& steering) {
  std::optional<PixelTensor> pixels;
  if (image) pixels = model.preprocess(*image);
  return atman::generate(model, prompt, maxNewTokens, pixels ? &*pixels : nullptr, steering);
}

Explanation LocalBackend::explain(const ExplainRequest& request, const ProgressFn& progress) {
  return m_explainer->attribute(request, progress);
}

std::vector<Explanation> LocalBackend::kappaSweep(const ExplainRequest& request,
                                                  const std::vector<double>& kappas,
                                                  const ProgressFn& progress) {
  // Work done before a cancel stays in the explainer's cache, so a restarted sweep resumes.
  return m_explainer->kappa_sweep(request, kappas, progress);
}

std::vector<NeighbourFactor> LocalBackend::neighbours(const ExplainRequest& request, int candidate,
                                                      double kappa) {
  return m_explainer->neighbours(request, candidate, kappa);
}

}  // namespace atman::ui
