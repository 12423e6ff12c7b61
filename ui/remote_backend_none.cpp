// The GUI built without ATMAN_WITH_SERVER: jobs run in this process only.
#include <QObject>

#include "conversions.h"
#include "remote_backend.h"

namespace atman::ui {

bool serverSupport() {
  return false;
}

std::shared_ptr<WorkerBackend> connectRemote(const ServerChoice&, BackendInfo&) {
  throw InputError(
      toStd(QObject::tr("This AtMan Studio was built without server support (the CMake option "
                        "ATMAN_WITH_SERVER needs gRPC and protobuf).")));
}

}  // namespace atman::ui
