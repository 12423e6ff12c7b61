#include "jobs.h"

namespace atman::ui {

ExplainRequest withImage(ExplainRequest request, const std::shared_ptr<const RgbImage>& image) {
  if (image) request.image = image;
  return request;
}

void registerJobTypes() {
  qRegisterMetaType<JobId>("atman::ui::JobId");
  qRegisterMetaType<LoadedModel>();
  qRegisterMetaType<ServerChoice>();
  qRegisterMetaType<BackendInfo>();
  qRegisterMetaType<PredictRequest>();
  qRegisterMetaType<Prediction>();
  qRegisterMetaType<ExplainJob>();
  qRegisterMetaType<ExplainResult>();
  qRegisterMetaType<NeighbourResult>();
  qRegisterMetaType<ExplainRequest>();
  qRegisterMetaType<SharedExplanation>();
  qRegisterMetaType<ExplanationList>();
  qRegisterMetaType<std::vector<double>>();
}

}  // namespace atman::ui
