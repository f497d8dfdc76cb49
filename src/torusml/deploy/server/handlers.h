// The inference server's endpoints as pure functions from a request (method, path, query,
// headers, body) to a response (status, content type, body): no socket, so they are unit-tested
// and fuzzed directly; http_server.h only moves bytes between cpp-httplib and handle_request().
//
//   GET    /health          {"status": "ok", "fingerprint": ..., "keys_stored": n}
//   GET    /metrics         Metrics::to_json()
//   GET    /model           describe_model_json()
//   GET    /model/client    the client artifact (application/octet-stream)
//   GET    /model/manifest  DIR/manifest.json (404 when the model has none)
//   POST   /keys            body: circuit::serialize_evaluation_keys bytes (seeded) ->
//                           201 {"key_id": ..., "created": true} (200 and false if already stored)
//   GET    /keys/<id>       200 {"key_id": ..., "stored": true}, or 404
//   DELETE /keys/<id>       200 {"key_id": ..., "deleted": true}, or 404
//   POST   /run             key id in the X-Key-Id header (or ?key_id=), body:
//                           circuit::serialize_run_arguments bytes -> 200, the
//                           circuit::serialize_encrypted_tensors bytes of run()'s outputs
//
// Every error is a JSON body {"error": "<what is wrong and what to do>"} with a 4xx status for
// the client's mistakes: 400 malformed, truncated or corrupted body, missing key id, a secret key
// uploaded; 404 unknown route or key id; 405 wrong method; 409 keys of another model; 413 body over
// the size limit; 422 ciphertexts of another model, arguments that do not fit the model, batch
// over the limit; 507 key store full. 5xx only for the server's own failures (500, 503 out of
// memory). handle_request() never throws.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "torusml/deploy/server/key_store.h"
#include "torusml/deploy/server/metrics.h"
#include "torusml/deploy/server/model_service.h"

namespace torusml::deploy::server {

inline constexpr const char* kJsonType = "application/json";
inline constexpr const char* kBinaryType = "application/octet-stream";
/// The request header carrying the key id of POST /run.
inline constexpr const char* kKeyIdHeader = "X-Key-Id";

struct Request {
  std::string method;  // "GET", "POST", ... (case-sensitive, as HTTP)
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string_view body;                       // not owned
};

struct Response {
  int status = 200;
  std::string content_type = kJsonType;
  std::string body;
};

/// What the handlers work on: the loaded model, the key store, the metrics and the limits.
struct Service {
  const ModelArtifacts& model;
  KeyStore& keys;
  Metrics& metrics;
  ServiceLimits limits;
};

/// Serves one request (and records it in service.metrics). Never throws.
Response handle_request(const Service& service, const Request& request);

/// The route label of a path for metrics ("/run", "/keys", "/keys/<id>", ..., "other").
std::string route_label(std::string_view path);

/// Splits a request target "path?a=b&c" into the path and the query parameters (percent-decoded;
/// the first value of a repeated name is kept). For tools and the fuzzer; never throws.
void parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query);

/// A JSON error response.
Response error_response(int status, std::string_view message);

}  // namespace torusml::deploy::server
