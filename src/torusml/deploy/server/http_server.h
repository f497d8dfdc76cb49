// The inference server: cpp-httplib (HTTP, or HTTPS through its OpenSSL support when given a
// certificate and a key) in front of handle_request().
//
//   InferenceServer server(options);          // loads the model, opens the key store
//   const int port = server.bind();           // options.port, or an ephemeral one for port 0
//   std::thread t([&] { server.serve(); });   // blocks until stop()
//   server.stop();                            // e.g. from a SIGTERM handler thread
//
// A fixed pool of `threads` workers serves connections (keep-alive); bodies over max_body_bytes
// are refused with 413 before being buffered. stop() stops accepting connections; serve() returns
// once every request in flight has been answered (key uploads are written atomically, so nothing
// is ever half-written on disk).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "torusml/deploy/server/handlers.h"
#include "torusml/deploy/server/key_store.h"
#include "torusml/deploy/server/metrics.h"
#include "torusml/deploy/server/model_service.h"

namespace httplib {
class Server;
}

namespace torusml::deploy::server {

struct ServerOptions {
  std::string model_directory;
  std::string keys_directory;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: an ephemeral port (bind() returns it)
  std::size_t threads = 8;
  ServiceLimits limits;
  KeyStoreLimits key_limits;
  std::string certificate_file;  // both set: HTTPS
  std::string private_key_file;
  double read_timeout_seconds = 60;
};

class InferenceServer {
 public:
  /// Loads the model directory and opens the key store. Throws Error (missing files, unreadable
  /// directory, a certificate without its key or one that does not load), SerializationError
  /// (damaged server program) and InvalidArgument (threads or limits of 0).
  explicit InferenceServer(ServerOptions options);
  ~InferenceServer();
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  /// Binds host:port; returns the port (the actual one for port 0). Throws Error if it cannot.
  int bind();
  /// Accepts and serves connections until stop(); returns when every request in flight is done.
  void serve();
  /// Stops accepting connections (thread-safe; serve() then drains and returns).
  void stop();

  bool uses_tls() const { return tls_; }
  const ModelArtifacts& model() const { return model_; }
  KeyStore& keys() { return keys_; }
  Metrics& metrics() { return metrics_; }

 private:
  ServerOptions options_;
  ModelArtifacts model_;
  KeyStore keys_;
  Metrics metrics_;
  bool tls_ = false;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> stop_requested_{false}, serve_called_{false}, serve_finished_{false};
};

}  // namespace torusml::deploy::server
