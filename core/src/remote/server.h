// `atman serve`: the core worker as a gRPC service (proto/atman/v1/atman.proto, docs/remote.md).
// Core-internal: the CLI's cmd_serve.cpp and the tests start it; clients use atman/remote.h.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace atman::remote {

struct ServerOptions {
  // Bare names resolve only below this folder; Hub repo ids only from hub_cache.
  std::filesystem::path models_dir;
  std::filesystem::path hub_cache;        // empty: hub::default_cache_dir()
  std::string listen = "127.0.0.1:7861";  // port 0: an ephemeral port (Server::port())
  std::string token;                      // required in `authorization: Bearer TOKEN`
  bool allow_no_token = false;            // --insecure-no-token: loopback only
  std::string tls_cert_pem, tls_key_pem;  // both or neither
  int max_concurrent_per_client = 4;      // calls at once per peer host and token
  int max_request_mb = 64;                // largest request message
  double timeout_s = 600;                 // longest explanation or sweep
};

// True for 127.0.0.0/8, ::1 and "localhost" (the host part of a HOST:PORT).
bool is_loopback_address(const std::string& listen);

class Server {
 public:
  // Checks the security rules (InputError with what to do: a token is required; a non-loopback
  // address needs TLS and a token), then listens. RemoteError when the address cannot be bound.
  explicit Server(ServerOptions options);
  ~Server();  // shuts down, cancelling calls in flight
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;  // the bound port
  void wait();       // until shutdown()
  void shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace atman::remote
