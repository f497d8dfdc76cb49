#include "torusml/deploy/server/handlers.h"

#include <chrono>
#include <new>
#include <span>
#include <variant>

#include "torusml/circuit/runtime/chunked_run.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/error.h"
#include "torusml/deploy/server/json.h"

namespace torusml::deploy::server {

namespace {

constexpr std::string_view kKeysPrefix = "/keys/";

std::span<const std::uint8_t> bytes_of(std::string_view body) {
  return {reinterpret_cast<const std::uint8_t*>(body.data()), body.size()};
}

Response json_response(int status, std::string body) {
  return Response{status, kJsonType, std::move(body)};
}

Response method_not_allowed(const Request& request, std::string_view allowed) {
  return error_response(405, "method " + request.method + " is not allowed on " + request.path +
                                 " (allowed: " + std::string(allowed) + ")");
}

Response handle_health(const Service& service) {
  return json_response(200, "{\"status\": \"ok\", \"fingerprint\": \"" +
                                fingerprint_hex(service.model.program.parameters) +
                                "\", \"keys_stored\": " + std::to_string(service.keys.size()) +
                                "}");
}

Response handle_upload_keys(const Service& service, const Request& request) {
  if (request.body.empty()) {
    return error_response(400,
                          "empty body: POST /keys takes the evaluation keys "
                          "(circuit::serialize_evaluation_keys bytes) as the body");
  }
  try {
    const StoredKey stored = service.keys.put(bytes_of(request.body));
    return json_response(stored.created ? 201 : 200,
                         "{\"key_id\": \"" + stored.key_id +
                             "\", \"created\": " + (stored.created ? "true" : "false") + "}");
  } catch (const SecretKeyRefused& e) {
    return error_response(400, e.what());
  } catch (const ParameterMismatch& e) {
    return error_response(409, std::string("these evaluation keys belong to another model: ") +
                                   e.what() +
                                   "; generate the keys from this model's client artifact "
                                   "(GET /model/client)");
  } catch (const SerializationError& e) {
    return error_response(400, std::string("the body is not valid evaluation keys: ") + e.what() +
                                   "; upload the serialized evaluation keys unmodified");
  } catch (const KeyStoreFull& e) {
    return error_response(507, e.what());
  } catch (const InvalidArgument& e) {
    return error_response(400, std::string("the evaluation keys are not valid: ") + e.what());
  }
}

Response handle_key(const Service& service, const Request& request) {
  const std::string id(std::string_view(request.path).substr(kKeysPrefix.size()));
  if (request.method != "GET" && request.method != "DELETE")
    return method_not_allowed(request, "GET, DELETE");
  if (!is_key_id(id)) {
    return error_response(404,
                          "malformed key id in the path (expected the 64 hexadecimal "
                          "characters returned by POST /keys)");
  }
  if (request.method == "GET") {
    if (!service.keys.contains(id))
      return error_response(404, "unknown key id " + id + ": upload the keys with POST /keys");
    return json_response(200, "{\"key_id\": \"" + id + "\", \"stored\": true}");
  }
  if (!service.keys.remove(id)) return error_response(404, "unknown key id " + id);
  return json_response(200, "{\"key_id\": \"" + id + "\", \"deleted\": true}");
}

Response handle_run(const Service& service, const Request& request) {
  std::string key_id;
  if (auto it = request.headers.find("x-key-id"); it != request.headers.end()) {
    key_id = it->second;
  } else if (auto q = request.query.find("key_id"); q != request.query.end()) {
    key_id = q->second;
  } else {
    return error_response(400, "missing key id: send the id returned by POST /keys in the " +
                                   std::string(kKeyIdHeader) + " header (or ?key_id=)");
  }
  if (request.body.empty()) {
    return error_response(400,
                          "empty body: POST /run takes the encrypted inputs "
                          "(circuit::serialize_run_arguments bytes) as the body");
  }
  const auto body = bytes_of(request.body);
  if (holds_secret_key_kind(body)) {
    return error_response(400,
                          "the body is a secret key: never send it; POST /run takes the "
                          "encrypted inputs (circuit::serialize_run_arguments bytes)");
  }
  const circuit::ServerProgram& program = service.model.program;
  std::shared_ptr<const circuit::EvaluationKeySet> keys;
  try {
    keys = service.keys.get(key_id);
  } catch (const UnknownKeyId& e) {
    return error_response(404, e.what());
  }
  std::variant<circuit::RunArguments, circuit::SeededRunArguments> arguments;
  try {
    // Seeded inputs stay seeded: run_in_chunks regenerates their masks chunk by chunk, so the
    // memory of a request follows the chunk size, not the batch.
    arguments = circuit::deserialize_run_arguments_as_sent(body, program.parameters);
  } catch (const ParameterMismatch& e) {
    return error_response(
        422, std::string("the ciphertexts were encrypted for another model: ") + e.what() +
                 "; encrypt with this model's client artifact (GET /model/client)");
  } catch (const SerializationError& e) {
    return error_response(400, std::string("the body is not valid encrypted inputs: ") + e.what() +
                                   "; send the serialized run arguments unmodified");
  }
  std::int64_t batch = -1;
  std::visit(
      [&](const auto& a) {
        for (const auto& t : a.encrypted)
          if (!t.shape.empty()) batch = std::max(batch, t.shape[0]);
        for (const auto& t : a.clear)
          if (!t.shape().empty()) batch = std::max(batch, t.shape()[0]);
      },
      arguments);
  if (batch == 0) return error_response(422, "empty batch: send at least one sample");
  if (batch > service.limits.max_batch) {
    return error_response(
        422, "batch of " + std::to_string(batch) + " samples is over the server's limit of " +
                 std::to_string(service.limits.max_batch) + ": split it into smaller requests");
  }
  try {
    const auto outputs = std::visit(
        [&](const auto& a) { return circuit::run_in_chunks(program, a, *keys); }, arguments);
    const auto bytes = circuit::serialize_encrypted_tensors(outputs, program.parameters);
    return Response{200, kBinaryType, std::string(bytes.begin(), bytes.end())};
  } catch (const ParameterMismatch& e) {
    return error_response(422, std::string("the arguments do not fit this model: ") + e.what());
  } catch (const InvalidArgument& e) {
    return error_response(422, std::string("the arguments do not fit this model: ") + e.what() +
                                   " (see GET /model for the inputs it takes)");
  }
}

Response dispatch(const Service& service, const Request& request) {
  if (request.body.size() > service.limits.max_body_bytes) {
    return error_response(413, "body of " + std::to_string(request.body.size()) +
                                   " bytes is over the server's limit of " +
                                   std::to_string(service.limits.max_body_bytes) +
                                   " bytes: send a smaller batch");
  }
  const std::string& p = request.path;
  const bool get = request.method == "GET";
  if (p == "/health") return get ? handle_health(service) : method_not_allowed(request, "GET");
  if (p == "/metrics") {
    return get ? json_response(200, service.metrics.to_json()) : method_not_allowed(request, "GET");
  }
  if (p == "/model") {
    return get ? json_response(200, service.model.info_json) : method_not_allowed(request, "GET");
  }
  if (p == "/model/client") {
    if (!get) return method_not_allowed(request, "GET");
    return Response{200, kBinaryType, service.model.client_artifact};
  }
  if (p == "/model/manifest") {
    if (!get) return method_not_allowed(request, "GET");
    if (!service.model.manifest) return error_response(404, "this model has no manifest.json");
    return json_response(200, *service.model.manifest);
  }
  if (p == "/keys") {
    return request.method == "POST" ? handle_upload_keys(service, request)
                                    : method_not_allowed(request, "POST");
  }
  if (p.starts_with(kKeysPrefix)) return handle_key(service, request);
  if (p == "/run") {
    return request.method == "POST" ? handle_run(service, request)
                                    : method_not_allowed(request, "POST");
  }
  return error_response(404, "no endpoint " + p +
                                 " (endpoints: GET /health, /metrics, /model, /model/client, "
                                 "POST /keys, POST /run)");
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

Response error_response(int status, std::string_view message) {
  return json_response(status, error_json(message));
}

std::string route_label(std::string_view path) {
  for (std::string_view r :
       {"/health", "/metrics", "/model", "/model/client", "/model/manifest", "/keys", "/run"}) {
    if (path == r) return std::string(r);
  }
  if (path.starts_with(kKeysPrefix)) return "/keys/<id>";
  return "other";
}

void parse_target(std::string_view target, std::string& path,
                  std::map<std::string, std::string>& query) {
  const std::size_t q = target.find('?');
  path = percent_decode(target.substr(0, q));
  query.clear();
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    const std::size_t eq = item.find('=');
    const std::string name = percent_decode(item.substr(0, eq));
    const std::string value =
        eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1));
    query.emplace(name, value);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

Response handle_request(const Service& service, const Request& request) {
  const auto start = std::chrono::steady_clock::now();
  service.metrics.begin_request();
  Response response;
  try {
    response = dispatch(service, request);
  } catch (const std::bad_alloc&) {
    response = error_response(503, "the server is out of memory: retry later with a smaller batch");
  } catch (const std::exception& e) {
    response = error_response(500, std::string("internal server error: ") + e.what());
  } catch (...) {
    response = error_response(500, "internal server error");
  }
  service.metrics.end_request();
  service.metrics.record(
      route_label(request.path), response.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return response;
}

}  // namespace torusml::deploy::server
