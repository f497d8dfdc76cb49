#include "torusml/deploy/server/http_server.h"

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "torusml/common/error.h"
#include "torusml/deploy/server/json.h"

namespace torusml::deploy::server {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The message of an error that cpp-httplib produced itself (no handler ran: 413, 400, ...).
std::string transport_error_message(int status, std::size_t max_body_bytes) {
  switch (status) {
    case 413:
      return "body over the server's limit of " + std::to_string(max_body_bytes) +
             " bytes: send a smaller batch";
    case 414:
      return "request target too long";
    case 400:
      return "malformed HTTP request";
    case 404:
      return "no such endpoint";
    case 405:
      return "method not allowed";
    default:
      return "request failed with HTTP status " + std::to_string(status);
  }
}

}  // namespace

InferenceServer::InferenceServer(ServerOptions options)
    : options_(std::move(options)),
      model_(load_model_directory(options_.model_directory)),
      keys_(options_.keys_directory, model_.program.parameters, options_.key_limits) {
  if (options_.threads == 0) throw InvalidArgument("server: at least one worker thread is needed");
  if (options_.limits.max_body_bytes == 0 || options_.limits.max_batch <= 0)
    throw InvalidArgument("server: the body-size and batch limits must be positive");
  const bool cert = !options_.certificate_file.empty(), key = !options_.private_key_file.empty();
  if (cert != key) throw Error("HTTPS needs both --cert FILE and --key FILE");
  if (cert) {
    for (const std::string& f : {options_.certificate_file, options_.private_key_file}) {
      if (!std::filesystem::is_regular_file(f))
        throw Error("cannot read '" + f + "': pass a PEM certificate and its private key");
    }
    auto ssl = std::make_unique<httplib::SSLServer>(options_.certificate_file.c_str(),
                                                    options_.private_key_file.c_str());
    if (!ssl->is_valid())
      throw Error("cannot load the certificate '" + options_.certificate_file + "' and key '" +
                  options_.private_key_file + "': check that they are PEM files and match");
    http_ = std::move(ssl);
    tls_ = true;
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  const std::size_t threads = options_.threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.limits.max_body_bytes);
  const auto timeout = static_cast<time_t>(options_.read_timeout_seconds);
  http_->set_read_timeout(timeout, 0);
  http_->set_write_timeout(timeout, 0);

  const auto serve_one = [this](const httplib::Request& req, httplib::Response& res) {
    Request request;
    request.method = req.method;
    request.path = req.path;
    for (const auto& [name, value] : req.params) request.query.emplace(name, value);
    for (const auto& [name, value] : req.headers) request.headers.emplace(lower(name), value);
    request.body = req.body;
    const Service service{model_, keys_, metrics_, options_.limits};
    Response response = handle_request(service, request);
    res.status = response.status;
    res.body = std::move(response.body);
    res.set_header("Content-Type", response.content_type);
  };
  for (const char* pattern : {R"(/.*)"}) {
    http_->Get(pattern, serve_one);
    http_->Post(pattern, serve_one);
    http_->Put(pattern, serve_one);
    http_->Delete(pattern, serve_one);
    http_->Patch(pattern, serve_one);
    http_->Options(pattern, serve_one);
  }
  // Errors produced by cpp-httplib itself (oversized or malformed requests) get a JSON body too,
  // and are counted.
  const httplib::Server::HandlerWithResponse on_error = [this](const httplib::Request& req,
                                                               httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    res.body = error_json(transport_error_message(res.status, options_.limits.max_body_bytes));
    res.set_header("Content-Type", kJsonType);
    metrics_.record(route_label(req.path), res.status, 0.0);
    return httplib::Server::HandlerResponse::Handled;
  };
  http_->set_error_handler(on_error);
}

InferenceServer::~InferenceServer() = default;

int InferenceServer::bind() {
  const int port =
      options_.port == 0
          ? http_->bind_to_any_port(options_.host.c_str())
          : (http_->bind_to_port(options_.host.c_str(), options_.port) ? options_.port : -1);
  if (port <= 0) {
    throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                ": the port is in use or the address is not local; choose another --port/--host");
  }
  return port;
}

void InferenceServer::serve() {
  serve_called_ = true;
  if (!stop_requested_) http_->listen_after_bind();
  serve_finished_ = true;
}

void InferenceServer::stop() {
  stop_requested_ = true;
  // cpp-httplib's stop() only acts on a running server: retry while serve() is starting.
  while (serve_called_ && !serve_finished_) {
    http_->stop();
    if (http_->is_running() || serve_finished_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace torusml::deploy::server
