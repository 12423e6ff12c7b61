// The core's exceptions <-> gRPC statuses: the server sends the core's message with a code that
// says its type, and the client throws that type again with the same text.
#pragma once

#include <grpcpp/support/status.h>

#include <functional>
#include <string>

namespace atman::remote {

// Runs `body`; a core exception becomes its status (InputError: INVALID_ARGUMENT, ModelError:
// FAILED_PRECONDITION, Cancelled: CANCELLED, other Error: ABORTED, out of memory:
// RESOURCE_EXHAUSTED), anything else INTERNAL. Never lets an exception out.
grpc::Status guarded_status(const std::function<grpc::Status()>& body);

// Throws the exception a status stands for: the core's types with the server's text, RemoteError
// naming `address` for transport, credential and deadline failures. Returns for OK.
void throw_if_failed(const grpc::Status& status, const std::string& address);

}  // namespace atman::remote
