#include "jobs.h"

namespace atman::ui {

void registerJobTypes() {
  qRegisterMetaType<JobId>("atman::ui::JobId");
  qRegisterMetaType<LoadedModel>();
  qRegisterMetaType<PredictRequest>();
  qRegisterMetaType<Prediction>();
  qRegisterMetaType<ExplainJob>();
  qRegisterMetaType<ExplainResult>();
  qRegisterMetaType<NeighbourResult>();
  qRegisterMetaType<ExplainRequest>();
  qRegisterMetaType<Explanation>();
  qRegisterMetaType<std::vector<Explanation>>();
  qRegisterMetaType<std::vector<double>>();
}

}  // namespace atman::ui
