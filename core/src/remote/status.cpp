#include "remote/status.h"

#include <new>

#include "atman/error.h"
#include "atman/remote.h"

namespace atman::remote {

grpc::Status guarded_status(const std::function<grpc::Status()>& body) {
  try {
    return body();
  } catch (const Cancelled&) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  } catch (const InputError& e) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  } catch (const ModelError& e) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, e.what());
  } catch (const Error& e) {
    return grpc::Status(grpc::StatusCode::ABORTED, e.what());
  } catch (const std::bad_alloc&) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "out of memory on the server: try a smaller batch size or image");
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        std::string("unexpected error on the server: ") + e.what());
  } catch (...) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "unexpected error of unknown type on the server");
  }
}

void throw_if_failed(const grpc::Status& status, const std::string& address) {
  const std::string& text = status.error_message();
  const std::string server = "atman server " + address;
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return;
    case grpc::StatusCode::INVALID_ARGUMENT:
      throw InputError(text);
    case grpc::StatusCode::FAILED_PRECONDITION:
      throw ModelError(text);
    case grpc::StatusCode::CANCELLED:
      throw Cancelled();
    case grpc::StatusCode::ABORTED:
      throw Error(text);
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      throw RemoteError(server + " refused the call: " + text);
    case grpc::StatusCode::UNAVAILABLE:
      throw RemoteError("cannot reach " + server + ": " + text +
                        " (is `atman serve` running there, and do TLS and --ca match?)");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      throw RemoteError(server + " did not answer in time: " + text);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      throw RemoteError(server + ": " + text);
    default:
      throw RemoteError(server + ": " + text);
  }
}

}  // namespace atman::remote
