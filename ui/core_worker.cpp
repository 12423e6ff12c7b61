#include "core_worker.h"

#include <chrono>
#include <exception>

#include "atman/error.h"
#include "conversions.h"
#include "remote_backend.h"

namespace atman::ui {

CoreWorker::CoreWorker(std::shared_ptr<const JobControl> control, QObject* parent)
    : QObject(parent), m_control(std::move(control)), m_backend(std::make_shared<LocalBackend>()) {}

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
  } catch (const ConnectionLost& e) {
    emit failed(job, toQString(e.what()));
    emit connectionLost(toQString(e.what()));
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
    const LoadedModel loaded = m_backend->loadModel(dirOrName, device, dtype);
    emit modelLoaded(job, loaded);
  });
}

void CoreWorker::predict(JobId job, const PredictRequest& request) {
  const JobKind kind = request.steering.empty() ? JobKind::Predict : JobKind::Steer;
  guarded(job, kind, [&] {
    if (!request.model) throw InputError(tr("No model loaded.").toStdString());
    Prediction prediction;
    const Model& model = *request.model;
    if (model.target_is_label()) {
      if (!request.steering.empty())
        throw InputError(tr("CLIP does not generate text: nothing to steer.").toStdString());
      if (!request.image)
        throw InputError(tr("Open an image to see what the model says.").toStdString());
      prediction.labels = m_backend->zeroShot(model, *request.image, request.labels);
      emit predicted(job, prediction);
      return;
    }
    using Clock = std::chrono::steady_clock;
    const RgbImage* image = request.image.get();
    auto start = Clock::now();
    prediction.generation =
        m_backend->generate(model, request.prompt, request.maxNewTokens, image, {});
    prediction.plainSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!request.steering.empty()) {
      // A generation cannot stop half-way (the core takes no callback there), so a cancel or a
      // newer steered run is honoured between the two.
      emit progress(job, 0.5);
      if (m_control->isCancelled(kind, job)) throw Cancelled();
      start = Clock::now();
      prediction.steered =
          m_backend->generate(model, request.prompt, request.maxNewTokens, image, request.steering);
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
          m_backend->explain(withImage(*request.single, request.image),
                             progressFor(job, JobKind::Explain, phase++, phases)));
    if (request.correlated)
      result.correlated = std::make_shared<const Explanation>(
          m_backend->explain(withImage(*request.correlated, request.image),
                             progressFor(job, JobKind::Explain, phase++, phases)));
    emit explained(job, result);
  });
}

void CoreWorker::prefetch(JobId job, const ExplainRequest& request,
                          const std::shared_ptr<const RgbImage>& image,
                          const std::vector<double>& kappas) {
  guarded(job, JobKind::Prefetch, [&] {
    ExplanationList sweep;
    for (Explanation& e : m_backend->kappaSweep(withImage(request, image), kappas,
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
    result.factors = m_backend->neighbours(withImage(request, image), candidate, kappa);
    emit neighboursFound(job, result);
  });
}

void CoreWorker::connectServer(JobId job, const std::optional<ServerChoice>& server) {
  guarded(job, JobKind::Connect, [&] {
    BackendInfo info;
    std::shared_ptr<WorkerBackend> backend;
    if (server) {
      backend = connectRemote(*server, info);  // throws when the server cannot be reached
    } else {
      backend = std::make_shared<LocalBackend>();
      info.where = backend->where();
    }
    // Connecting takes a while: a model load or another connect asked for meanwhile supersedes
    // this one, and then the jobs stay where they were.
    if (m_control->isCancelled(JobKind::Connect, job)) throw Cancelled();
    // The old backend's models and caches go with it.
    m_backend = std::move(backend);
    emit backendChanged(job, info);
  });
}

}  // namespace atman::ui
