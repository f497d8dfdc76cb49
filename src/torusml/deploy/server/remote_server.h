// The client side of the inference server's endpoints (handlers.h), over cpp-httplib: what the
// torusml-client executable and the tests use to talk to a torusml-server.
//
//   RemoteServer server("http://127.0.0.1:8080");
//   const std::string key_id = server.upload_keys(circuit::serialize_evaluation_keys(ek));
//   const auto out = server.run(key_id, circuit::serialize_run_arguments(args, parameters));
//
// One RemoteServer keeps one connection (keep-alive); use one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "torusml/common/error.h"

namespace httplib {
class Client;
}

namespace torusml::deploy::server {

/// A request the server answered with an error status, or that did not reach it (status 0).
class RemoteError : public Error {
 public:
  RemoteError(int status, const std::string& message) : Error(message), status_(status) {}
  /// The HTTP status, or 0 when the server could not be reached (connection, TLS, timeout).
  int status() const noexcept { return status_; }

 private:
  int status_;
};

struct RemoteOptions {
  double timeout_seconds = 600;     // connection, read and write timeouts
  std::string ca_certificate_file;  // HTTPS: trust this PEM certificate (e.g. a self-signed one)
  bool verify_certificate = true;   // HTTPS: verify the server's certificate and host name
};

class RemoteServer {
 public:
  /// `url`: "http://host:port" or "https://host:port" (no path). Throws InvalidArgument for
  /// another form.
  explicit RemoteServer(const std::string& url, const RemoteOptions& options = {});
  ~RemoteServer();
  RemoteServer(const RemoteServer&) = delete;
  RemoteServer& operator=(const RemoteServer&) = delete;

  /// GET /health: true if the server answers 200 (false when unreachable; never throws).
  bool health();
  /// GET /model: the model's JSON description.
  std::string model_info();
  /// GET /model/client: the client artifact's bytes.
  std::vector<std::uint8_t> download_client_artifact();
  /// GET /metrics: the metrics' JSON.
  std::string metrics();
  /// POST /keys: uploads serialized evaluation keys; returns the key id.
  std::string upload_keys(std::span<const std::uint8_t> evaluation_keys);
  /// POST /run with X-Key-Id: the serialized encrypted outputs.
  std::vector<std::uint8_t> run(const std::string& key_id,
                                std::span<const std::uint8_t> run_arguments);
  /// DELETE /keys/<id>: false if the server did not hold it.
  bool delete_keys(const std::string& key_id);

  /// A raw request, for tests and tools: the status and the body. Throws RemoteError only when
  /// the server cannot be reached.
  struct RawResponse {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  RawResponse request(const std::string& method, const std::string& path,
                      std::span<const std::uint8_t> body = {},
                      const std::string& key_id_header = "");

 private:
  std::string url_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace torusml::deploy::server
