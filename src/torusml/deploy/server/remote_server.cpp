#include "torusml/deploy/server/remote_server.h"

#include <httplib.h>

#include "torusml/deploy/server/handlers.h"
#include "torusml/deploy/server/json.h"

namespace torusml::deploy::server {

namespace {

std::vector<std::uint8_t> to_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

// The RemoteError of an error response: the server's {"error": ...} message.
[[noreturn]] void throw_status(const std::string& what, const RemoteServer::RawResponse& r) {
  const auto message = json_string_field(r.body, "error");
  throw RemoteError(r.status, what + " failed with HTTP " + std::to_string(r.status) + ": " +
                                  (message ? *message : r.body.substr(0, 200)));
}

}  // namespace

RemoteServer::RemoteServer(const std::string& url, const RemoteOptions& options) : url_(url) {
  const bool http = url.starts_with("http://"), https = url.starts_with("https://");
  if (!http && !https)
    throw InvalidArgument("server URL '" + url + "' must start with http:// or https://");
  client_ = std::make_unique<httplib::Client>(url);
  if (!client_->is_valid())
    throw InvalidArgument("server URL '" + url + "' is not of the form http(s)://host:port");
  const auto seconds = static_cast<time_t>(options.timeout_seconds);
  client_->set_connection_timeout(seconds, 0);
  client_->set_read_timeout(seconds, 0);
  client_->set_write_timeout(seconds, 0);
  client_->set_keep_alive(true);
  if (https) {
    if (!options.ca_certificate_file.empty())
      client_->set_ca_cert_path(options.ca_certificate_file.c_str());
    client_->enable_server_certificate_verification(options.verify_certificate);
  }
}

RemoteServer::~RemoteServer() = default;

RemoteServer::RawResponse RemoteServer::request(const std::string& method, const std::string& path,
                                                std::span<const std::uint8_t> body,
                                                const std::string& key_id_header) {
  httplib::Headers headers;
  if (!key_id_header.empty()) headers.emplace(kKeyIdHeader, key_id_header);
  const char* data = reinterpret_cast<const char*>(body.data());
  const auto send = [&]() -> httplib::Result {
    if (method == "GET") return client_->Get(path, headers);
    if (method == "POST") return client_->Post(path, headers, data, body.size(), kBinaryType);
    if (method == "PUT") return client_->Put(path, headers, data, body.size(), kBinaryType);
    if (method == "DELETE") return client_->Delete(path, headers, data, body.size(), kBinaryType);
    throw InvalidArgument("unsupported method " + method);
  };
  httplib::Result result = send();
  if (!result) {
    throw RemoteError(0, "cannot reach the server at " + url_ + " (" + method + " " + path +
                             "): " + httplib::to_string(result.error()));
  }
  return RawResponse{result->status, result->get_header_value("Content-Type"),
                     std::move(result->body)};
}

bool RemoteServer::health() {
  try {
    return request("GET", "/health").status == 200;
  } catch (const RemoteError&) {
    return false;
  }
}

std::string RemoteServer::model_info() {
  RawResponse r = request("GET", "/model");
  if (r.status != 200) throw_status("GET /model", r);
  return std::move(r.body);
}

std::vector<std::uint8_t> RemoteServer::download_client_artifact() {
  const RawResponse r = request("GET", "/model/client");
  if (r.status != 200) throw_status("GET /model/client", r);
  return to_bytes(r.body);
}

std::string RemoteServer::metrics() {
  RawResponse r = request("GET", "/metrics");
  if (r.status != 200) throw_status("GET /metrics", r);
  return std::move(r.body);
}

std::string RemoteServer::upload_keys(std::span<const std::uint8_t> evaluation_keys) {
  const RawResponse r = request("POST", "/keys", evaluation_keys);
  if (r.status != 200 && r.status != 201) throw_status("POST /keys", r);
  const auto id = json_string_field(r.body, "key_id");
  if (!id) throw RemoteError(r.status, "POST /keys: the response holds no key_id: " + r.body);
  return *id;
}

std::vector<std::uint8_t> RemoteServer::run(const std::string& key_id,
                                            std::span<const std::uint8_t> run_arguments) {
  const RawResponse r = request("POST", "/run", run_arguments, key_id);
  if (r.status != 200) throw_status("POST /run", r);
  return to_bytes(r.body);
}

bool RemoteServer::delete_keys(const std::string& key_id) {
  const RawResponse r = request("DELETE", "/keys/" + key_id);
  if (r.status == 404) return false;
  if (r.status != 200) throw_status("DELETE /keys", r);
  return true;
}

}  // namespace torusml::deploy::server
