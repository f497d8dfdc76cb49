// Shared by the inference server's tests: two small compiled models written as artifact
// directories, clients with real keys (fixed seeds), temporary directories, and a real
// torusml-server process on 127.0.0.1 (--port 0).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "torusml/circuit/compiler.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"

namespace torusml::deploy::server::testing {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

inline tfhe::Seed seed_of(std::uint8_t v) {
  tfhe::Seed s{};
  s.fill(v);
  return s;
}

inline std::string as_string(const Bytes& b) {
  return std::string(b.begin(), b.end());
}
inline Bytes as_bytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

/// A fresh directory under the system's temporary directory, removed with its content.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "torusml_server_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

/// A compiled model and its artifact directory (server.bin, client.bin, manifest.json).
struct Model {
  circuit::CompiledCircuit circuit;
  std::unique_ptr<TempDir> dir;
  std::int64_t features = 4;
  const circuit::CircuitParameters& parameters() const { return circuit.parameters(); }
};

inline std::unique_ptr<Model> write_model(circuit::CompiledCircuit c) {
  auto m = std::make_unique<Model>();
  m->circuit = std::move(c);
  m->dir = std::make_unique<TempDir>();
  circuit::save_circuit(m->circuit, *m->dir / "server.bin", *m->dir / "client.bin");
  std::ofstream(*m->dir / "manifest.json") << "{\"name\": \"test model\"}";
  return m;
}

/// (x + 1)^2 mod 5 per element of a 4-vector in [0, 3]: 3-bit lookups, small keys (13.6 MB
/// seeded).
inline const Model& tiny_model() {
  static const std::unique_ptr<Model> m = [] {
    circuit::Builder b;
    circuit::Value x = b.input("x", {4});
    b.output(circuit::apply_table(
        x + 1, [](std::int64_t v) { return (v * v) % 5; }, "square_mod5"));
    std::vector<std::vector<circuit::Tensor>> set;
    for (std::int64_t i = 0; i < 16; ++i)
      set.push_back({circuit::Tensor::vector({i % 4, (i / 4) % 4, (i * 3) % 4, (i * 5) % 4})});
    return write_model(circuit::compile(b.build(), set));
  }();
  return *m;
}

/// Another model (a 4-bit lookup after a matrix product: other parameters).
inline const Model& other_model() {
  static const std::unique_ptr<Model> m = [] {
    circuit::Builder b;
    circuit::Value x = b.input("x", {4});
    const circuit::Tensor w({4, 2}, {1, 1, 1, 0, 0, 1, 1, 1});
    b.output(circuit::apply_table(
        circuit::matmul(x, w), [](std::int64_t v) { return (v * v) % 7; }, "square_mod7"));
    std::vector<std::vector<circuit::Tensor>> set;
    for (std::int64_t i = 0; i < 16; ++i)
      set.push_back({circuit::Tensor::vector({i % 4, (i / 4) % 4, (i * 3) % 4, (i * 5) % 4})});
    return write_model(circuit::compile(b.build(), set));
  }();
  return *m;
}

/// A client of a model: secret keys, and the serialized evaluation keys it uploads.
struct Client {
  circuit::ClientKeySet secret;
  Bytes evaluation_keys;
};

inline Client make_client(const Model& m, std::uint8_t seed) {
  Client c;
  c.secret = circuit::generate_client_keys(m.parameters(), seed_of(seed));
  c.evaluation_keys = circuit::serialize_evaluation_keys(
      circuit::generate_evaluation_keys(c.secret, seed_of(static_cast<std::uint8_t>(seed + 1))));
  return c;
}

/// A batch of `rows` random samples of the model's input, values in [0, 3].
inline circuit::Tensor random_batch(std::mt19937_64& rng, std::int64_t rows,
                                    std::int64_t features = 4) {
  std::uniform_int_distribution<std::int64_t> d(0, 3);
  std::vector<std::int64_t> v(static_cast<std::size_t>(rows * features));
  for (auto& x : v) x = d(rng);
  return circuit::Tensor({rows, features}, std::move(v));
}

inline Bytes encrypt(const Model& m, const Client& c, const circuit::Tensor& batch) {
  const std::vector<circuit::Tensor> inputs = {batch};
  return circuit::serialize_run_arguments(
      circuit::encrypt_inputs(c.secret, m.circuit.client_specification(), inputs), m.parameters());
}

inline std::vector<circuit::Tensor> decrypt(const Model& m, const Client& c, const Bytes& out) {
  return circuit::decrypt_outputs(c.secret, m.circuit.client_specification(),
                                  circuit::deserialize_encrypted_tensors(out, m.parameters()));
}

/// What the model computes in the clear.
inline std::vector<circuit::Tensor> expected(const Model& m, const circuit::Tensor& batch) {
  const std::vector<circuit::Tensor> inputs = {batch};
  return m.circuit.evaluate(inputs, circuit::Mode::Clear);
}

/// The values of the first (only) output, decrypted / in the clear.
inline std::vector<std::int64_t> decrypted_values(const Model& m, const Client& c,
                                                  const Bytes& out) {
  const std::vector<circuit::Tensor> outputs = decrypt(m, c, out);
  const auto v = outputs.at(0).values();
  return {v.begin(), v.end()};
}
inline std::vector<std::int64_t> expected_values(const Model& m, const circuit::Tensor& batch) {
  const std::vector<circuit::Tensor> outputs = expected(m, batch);
  const auto v = outputs.at(0).values();
  return {v.begin(), v.end()};
}

/// The serialized outputs of an in-process circuit::run on the same bytes and keys.
inline Bytes run_in_process(const Model& m, const Client& c, const Bytes& arguments) {
  const circuit::EvaluationKeySet keys =
      circuit::deserialize_evaluation_keys(c.evaluation_keys, &m.parameters(), true);
  const auto outputs =
      circuit::run(m.circuit.server_program(),
                   circuit::deserialize_run_arguments(arguments, m.parameters()), keys);
  return circuit::serialize_encrypted_tensors(outputs, m.parameters());
}

/// The kB value of a "VmHWM:" (peak RSS) or "VmRSS:" line of /proc/PID/status; -1 if absent.
inline long proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

/// A torusml-server child process on 127.0.0.1 with --port 0; its stderr goes to a log file.
class ServerProcess {
 public:
  ServerProcess(const std::string& model_dir, const std::string& keys_dir,
                std::vector<std::string> extra = {}) {
    log_path_ = keys_dir + ".log";
    std::vector<std::string> args = {TORUSML_SERVER_EXECUTABLE,
                                     "--model",
                                     model_dir,
                                     "--keys",
                                     keys_dir,
                                     "--port",
                                     "0",
                                     "--host",
                                     "127.0.0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (log >= 0) ::dup2(log, STDERR_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    ::close(out[1]);
    stdout_fd_ = out[0];
    // Wait for "torusml-server listening on http(s)://127.0.0.1:PORT".
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    const std::size_t colon = text.rfind(':');
    if (text.find("listening on") == std::string::npos || colon == std::string::npos) {
      stop();
      throw std::runtime_error("torusml-server did not start; its output: " + text + "\nlog:\n" +
                               log());
    }
    port_ = std::atoi(text.c_str() + colon + 1);
    url_ = text.substr(text.find("http"), text.find('\n') - text.find("http"));
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  /// Whether the process still runs (signal 0 reaches it and it is no zombie).
  bool alive() const {
    if (pid_ <= 0 || ::kill(pid_, 0) != 0) return false;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string pid, name, state;
    in >> pid >> name >> state;
    return state != "Z";
  }
  std::string log() const {
    std::ifstream in(log_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  /// Sends SIGTERM and waits: the exit status (-1 if it did not exit normally within 60 s).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r < 0) {
        pid_ = -1;
        return -1;
      }
      if (r == pid_) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      ::usleep(10000);
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string url_, log_path_;
};

}  // namespace torusml::deploy::server::testing
