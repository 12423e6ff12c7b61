// `atman serve`: the core worker as a gRPC service for `--server` clients and the GUI
// (docs/remote.md). Runs until SIGINT or SIGTERM.
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "atman/error.h"
#include "atman/runtime.h"
#include "backend.h"
#include "commands.h"
#include "common.h"
#include "remote/server.h"

namespace atman::cli {
namespace {

std::string read_pem(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(std::string("--") + option + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) {
  g_stop = 1;
}

}  // namespace

int run_serve(int argc, char** argv) {
  Args args(
      argc, argv, 2,
      common_options({"listen", "token-file", "tls-cert", "tls-key", "max-concurrent-per-client",
                      "max-request-mb", "timeout-s", "hub-cache"}),
      {"insecure-no-token"});
  apply_common(args);
  remote::ServerOptions options;
  options.models_dir =
      args.has("models-dir") ? std::filesystem::path(args.get("models-dir")) : model_root();
  options.listen = args.get("listen", "127.0.0.1:7861");
  if (args.has("token-file")) {
    options.token = read_token_file(args.get("token-file"));
    if (options.token.empty())
      throw InputError("--token-file " + args.get("token-file") + " holds no token");
  }
  options.allow_no_token = args.has("insecure-no-token");
  if (options.allow_no_token && args.has("token-file"))
    throw InputError("give --token-file or --insecure-no-token, not both");
  if (args.has("tls-cert")) options.tls_cert_pem = read_pem(args.get("tls-cert"), "tls-cert");
  if (args.has("tls-key")) options.tls_key_pem = read_pem(args.get("tls-key"), "tls-key");
  options.max_concurrent_per_client = args.integer("max-concurrent-per-client", 4);
  options.max_request_mb = args.integer("max-request-mb", 64);
  options.timeout_s = args.number("timeout-s", 600);
  options.hub_cache = args.get("hub-cache", "");
  if (options.max_concurrent_per_client < 1 || options.max_request_mb < 1 ||
      !(options.timeout_s > 0))
    throw InputError(
        "--max-concurrent-per-client, --max-request-mb and --timeout-s must be positive");

  remote::Server server(options);
  const bool tls = !options.tls_cert_pem.empty();
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  // One line on stdout with the bound port (a test or script started with port 0 reads it).
  std::cout << "atman serve: listening on " << host << ":" << server.port() << std::endl;
  std::cerr << "models: " << options.models_dir.string() << "; "
            << (tls ? "TLS" : "plain TCP (loopback)") << ", "
            << (options.token.empty() ? "no token" : "bearer token required") << "\n";
  // The handler only raises a flag: shutting gRPC down is not allowed inside a signal handler, and
  // the signal may arrive on any of the process's threads (LibTorch's and OpenMP's included).
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::thread waiter([&] {
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::cerr << "atman serve: shutting down\n";
    server.shutdown();
  });
  server.wait();
  waiter.join();
  return 0;
}

}  // namespace atman::cli
