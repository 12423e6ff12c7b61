// The GUI's side of `atman serve` (docs/remote.md): a WorkerBackend whose jobs run on a server,
// through the client of atman/remote.h. Built with ATMAN_WITH_SERVER (remote_backend.cpp); without
// it (remote_backend_none.cpp) serverSupport() is false and connecting says why.
#pragma once

#include <memory>

#include "atman/error.h"
#include "jobs.h"
#include "worker_backend.h"

namespace atman::ui {

// A job failed because the server could not be reached or did not answer in time (the client's
// RemoteError). Not the job's fault: the worker reports it as a failure and as connectionLost().
class ConnectionLost : public Error {
 public:
  using Error::Error;
};

// Whether this build can connect to a server at all.
bool serverSupport();

// Connects to `server` (token, CA), asks it what it offers and fills `info`. Throws the client's
// RemoteError (the address and the cause) or InputError (an unreadable CA file).
std::shared_ptr<WorkerBackend> connectRemote(const ServerChoice& server, BackendInfo& info);

}  // namespace atman::ui
