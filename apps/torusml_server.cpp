// torusml-server: serves one model artifact directory over HTTP (or HTTPS) to clients that hold
// their secret keys; the server stores only evaluation keys (see
// src/torusml/deploy/server/handlers.h for the endpoints).
//
//   torusml-server --model DIR --keys DIR --port P [--host 127.0.0.1] [--threads N]
//                  [--max-body-mb M] [--max-batch B] [--max-keys K] [--key-cache C]
//                  [--cert FILE --key FILE]
//
// Prints "torusml-server listening on http://HOST:PORT" (the actual port for --port 0) on stdout
// once it accepts connections. SIGTERM or SIGINT: stops accepting, lets the requests in flight
// finish and exits 0.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "torusml/common/error.h"
#include "torusml/deploy/server/http_server.h"

using namespace torusml;
using namespace torusml::deploy::server;

namespace {

constexpr const char* kUsage =
    "usage: torusml-server --model DIR --keys DIR --port P [--host 127.0.0.1] [--threads N]\n"
    "                      [--max-body-mb M] [--max-batch B] [--max-keys K] [--key-cache C]\n"
    "                      [--cert FILE --key FILE]\n"
    "  --model DIR      model artifacts (server.bin, client.bin, manifest.json)\n"
    "  --keys DIR       where uploaded evaluation keys are kept (created if missing)\n"
    "  --port P         TCP port; 0 picks a free one (printed)\n"
    "  --host H         address to listen on (default 127.0.0.1)\n"
    "  --threads N      worker threads serving connections (default 8)\n"
    "  --max-body-mb M  largest request body in MiB (default 256)\n"
    "  --max-batch B    most samples per inference request (default 1024)\n"
    "  --max-keys K     most evaluation key sets stored (default 1000)\n"
    "  --key-cache C    expanded key sets kept in memory (default 8)\n"
    "  --cert, --key    PEM certificate and private key: serve HTTPS\n";

long long parse_number(const std::string& flag, const std::string& value, long long lo,
                       long long hi) {
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < lo || v > hi) {
    throw InvalidArgument(flag + " takes an integer in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got '" + value + "'");
  }
  return v;
}

ServerOptions parse_options(int argc, char** argv) {
  ServerOptions o;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) throw InvalidArgument("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--model")
      o.model_directory = value;
    else if (flag == "--keys")
      o.keys_directory = value;
    else if (flag == "--host")
      o.host = value;
    else if (flag == "--port") {
      o.port = static_cast<int>(parse_number(flag, value, 0, 65535));
      have_port = true;
    } else if (flag == "--threads") {
      o.threads = static_cast<std::size_t>(parse_number(flag, value, 1, 1024));
    } else if (flag == "--max-body-mb") {
      o.limits.max_body_bytes = static_cast<std::size_t>(parse_number(flag, value, 1, 1 << 20))
                                << 20;
    } else if (flag == "--max-batch") {
      o.limits.max_batch = parse_number(flag, value, 1, 1 << 30);
    } else if (flag == "--max-keys") {
      o.key_limits.max_keys = static_cast<std::size_t>(parse_number(flag, value, 1, 1 << 30));
    } else if (flag == "--key-cache") {
      o.key_limits.cache_capacity = static_cast<std::size_t>(parse_number(flag, value, 1, 4096));
    } else if (flag == "--cert") {
      o.certificate_file = value;
    } else if (flag == "--key") {
      o.private_key_file = value;
    } else {
      throw InvalidArgument("unknown option " + flag);
    }
  }
  if (o.model_directory.empty() || o.keys_directory.empty() || !have_port)
    throw InvalidArgument("--model, --keys and --port are required");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM and SIGINT are taken by a dedicated thread (sigwait), so that stopping the server
  // runs as ordinary code; blocked before any other thread starts, so that every thread inherits
  // the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client closing its connection must not kill the server

  ServerOptions options;
  try {
    options = parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torusml-server: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    InferenceServer server(options);
    const int port = server.bind();
    std::fprintf(stderr,
                 "torusml-server: model %s (%zu bytes of server program), %zu key sets in %s\n",
                 options.model_directory.c_str(), server.model().server_program_bytes,
                 server.keys().size(), options.keys_directory.c_str());
    if (server.keys().skipped_files() > 0) {
      std::fprintf(stderr, "torusml-server: %zu files of %s ignored (keys of another model)\n",
                   server.keys().skipped_files(), options.keys_directory.c_str());
    }
    std::printf("torusml-server listening on %s://%s:%d\n", server.uses_tls() ? "https" : "http",
                options.host.c_str(), port);
    std::fflush(stdout);

    std::thread waiter([&] {
      int signal_number = 0;
      sigwait(&signals, &signal_number);
      std::fprintf(stderr, "torusml-server: %s received, finishing the requests in flight\n",
                   signal_number == SIGINT ? "SIGINT" : "SIGTERM");
      server.stop();
    });
    server.serve();
    // serve() returned without a signal (e.g. a listening error): wake the waiter.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    std::fprintf(stderr, "torusml-server: stopped (%llu requests served)\n",
                 static_cast<unsigned long long>(server.metrics().requests()));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torusml-server: %s\n", e.what());
    return 1;
  }
}
