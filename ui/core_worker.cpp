#include "core_worker.h"

#include <QDir>
#include <QFileInfo>

#include <chrono>
#include <exception>

#include "atman/error.h"
#include "atman/image.h"
#include "atman/prompt.h"
#include "atman/runtime.h"
#include "conversions.h"

namespace atman::ui {
namespace {

// The prompt the GUI pre-fills: the folder's prompt_format.json, else its chat template rendered
// around a question (LLaVA: the image question the bundled model was trained on; an LM: an empty
// user turn the person fills in). Shown in full so the person sees and may edit what the model
// reads. A broken template only costs the pre-fill: the model itself loaded fine.
QString readDefaultPrompt(const Model& model, const QString& dir) {
  if (!model.generates()) return {};        // CLIP: no prompt
  const bool llava = model.reads_images();  // LLaVA: the prompt has an image
  try {
    return toQString(default_prompt(toStd(dir), llava ? "What is in the picture?" : "", llava));
  } catch (const Error&) {  // also: a folder with neither prompt_format.json nor a template
    return {};
  }
}

}  // namespace

CoreWorker::CoreWorker(std::shared_ptr<const JobControl> control, QObject* parent)
    : QObject(parent),
      m_control(std::move(control)),
      m_explainer(std::make_unique<AtmanExplainer>()) {}

CoreWorker::~CoreWorker() = default;

template <typename Body>
void CoreWorker::guarded(JobId job, JobKind kind, Body&& body) {
  // A job superseded while it waited in the queue never starts.
  if (m_control->isCancelled(kind, job)) {
    emit cancelled(job);
    return;
  }
  try {
    body();
  } catch (const Cancelled&) {
    emit cancelled(job);
  } catch (const Error& e) {
    emit failed(job, toQString(e.what()));
  } catch (const std::bad_alloc&) {
    emit failed(job,
                tr("Out of memory. Try a smaller batch size, a smaller image or another device."));
  } catch (const std::exception& e) {
    emit failed(job, tr("Unexpected error: %1").arg(toQString(e.what())));
  } catch (...) {
    emit failed(job, tr("Unexpected error of unknown type."));
  }
}

ProgressFn CoreWorker::progressFor(JobId job, JobKind kind, int phase, int phases) {
  return [this, job, kind, phase, phases](int done, int total) {
    const double inPhase = total > 0 ? double(done) / total : 1.0;
    emit progress(job, (phase + inPhase) / phases);
    return !m_control->isCancelled(kind, job);
  };
}

void CoreWorker::loadModel(JobId job, const QString& dirOrName, const QString& device,
                           const QString& dtype) {
  guarded(job, JobKind::LoadModel, [&] {
    // Resolved here, not on the GUI thread: a name may go through the model root or a cache.
    const QString dir = QDir::cleanPath(
        QFileInfo(toQString(resolve_model_dir(toStd(dirOrName)).string())).absoluteFilePath());
    LoadedModel loaded;
    LoadOptions options;
    options.device = toStd(device);
    options.dtype = toStd(dtype);
    loaded.model = Model::load(toStd(dir), options);
    loaded.dir = dir;
    loaded.defaultPrompt = readDefaultPrompt(*loaded.model, dir);
    // Cached inputs keep their model alive; a new model makes them useless, so free the memory.
    m_explainer->clear_cache();
    emit modelLoaded(job, loaded);
  });
}

void CoreWorker::predict(JobId job, const PredictRequest& request) {
  const JobKind kind = request.steering.empty() ? JobKind::Predict : JobKind::Steer;
  guarded(job, kind, [&] {
    if (!request.model) throw InputError(tr("No model loaded.").toStdString());
    Prediction prediction;
    std::optional<PixelTensor> pixels;
    if (request.image) pixels = request.model->preprocess(*request.image);
    if (request.model->target_is_label()) {
      if (!request.steering.empty())
        throw InputError(tr("CLIP does not generate text: nothing to steer.").toStdString());
      if (!pixels) throw InputError(tr("Open an image to see what the model says.").toStdString());
      prediction.labels = zero_shot(*request.model, *pixels, request.labels);
      emit predicted(job, prediction);
      return;
    }
    using Clock = std::chrono::steady_clock;
    const PixelTensor* input = pixels ? &*pixels : nullptr;
    auto start = Clock::now();
    prediction.generation = generate(*request.model, request.prompt, request.maxNewTokens, input);
    prediction.plainSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!request.steering.empty()) {
      // A generation cannot stop half-way (the core takes no callback there), so a cancel or a
      // newer steered run is honoured between the two.
      emit progress(job, 0.5);
      if (m_control->isCancelled(kind, job)) throw Cancelled();
      start = Clock::now();
      prediction.steered =
          generate(*request.model, request.prompt, request.maxNewTokens, input, request.steering);
      prediction.steeredSeconds = std::chrono::duration<double>(Clock::now() - start).count();
      prediction.steering = request.steering;
      emit progress(job, 1.0);
    }
    emit predicted(job, prediction);
  });
}

void CoreWorker::explain(JobId job, const ExplainJob& request) {
  guarded(job, JobKind::Explain, [&] {
    ExplainResult result;
    const int phases = (request.single ? 1 : 0) + (request.correlated ? 1 : 0);
    int phase = 0;
    if (request.single)
      result.single = std::make_shared<const Explanation>(
          m_explainer->attribute(withImage(*request.single, request.image),
                                 progressFor(job, JobKind::Explain, phase++, phases)));
    if (request.correlated)
      result.correlated = std::make_shared<const Explanation>(
          m_explainer->attribute(withImage(*request.correlated, request.image),
                                 progressFor(job, JobKind::Explain, phase++, phases)));
    emit explained(job, result);
  });
}

void CoreWorker::prefetch(JobId job, const ExplainRequest& request,
                          const std::shared_ptr<const RgbImage>& image,
                          const std::vector<double>& kappas) {
  guarded(job, JobKind::Prefetch, [&] {
    // Work done before a cancel stays in the explainer's cache, so a restarted sweep resumes.
    ExplanationList sweep;
    for (Explanation& e : m_explainer->kappa_sweep(withImage(request, image), kappas,
                                                   progressFor(job, JobKind::Prefetch)))
      sweep.push_back(std::make_shared<const Explanation>(std::move(e)));
    emit prefetched(job, sweep);
  });
}

void CoreWorker::neighbours(JobId job, const ExplainRequest& request,
                            const std::shared_ptr<const RgbImage>& image, int candidate,
                            double kappa) {
  guarded(job, JobKind::Neighbours, [&] {
    NeighbourResult result;
    result.candidate = candidate;
    result.kappa = kappa;
    result.factors = m_explainer->neighbours(withImage(request, image), candidate, kappa);
    emit neighboursFound(job, result);
  });
}

}  // namespace atman::ui
