// The server side of a deployed model, in process: the server program of DIR/server.bin and
// encrypted inference on serialized arguments with a client's serialized evaluation keys. It
// holds no secret. (The HTTP server in server/ serves the same over the network.)
//
//   const ModelServer server = ModelServer::load("model_dir");
//   const auto result = server.run(serialized_inputs, serialized_evaluation_keys);
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "torusml/circuit/runtime/runtime.h"
#include "torusml/circuit/serialization/serialization.h"

namespace torusml::deploy {

class ModelServer {
 public:
  explicit ModelServer(circuit::ServerProgram program);
  /// DIR/server.bin (circuit::load_server_program; SerializationError for damaged bytes).
  static ModelServer load(const std::filesystem::path& artifact_dir);

  const circuit::ServerProgram& program() const { return *program_; }

  /// Deserializes (expanded, ready for run) a client's evaluation keys. ParameterMismatch
  /// ("...generate keys with this model's client.bin") for keys of another circuit,
  /// SerializationError for damaged bytes.
  circuit::EvaluationKeySet load_evaluation_keys(std::span<const std::uint8_t> bytes) const;

  /// Runs the model on serialized run arguments (seeded or not) and returns the serialized
  /// encrypted outputs (circuit::serialize_encrypted_tensors). ParameterMismatch for arguments
  /// of another circuit, SerializationError for damaged bytes, InvalidArgument for arguments of
  /// the wrong shape.
  std::vector<std::uint8_t> run(std::span<const std::uint8_t> inputs,
                                const circuit::EvaluationKeySet& keys) const;
  /// The same with serialized evaluation keys; the last key set's expansion is cached (the bytes
  /// are compared in full), so repeated calls with one client's keys expand them once.
  /// Thread-safe.
  std::vector<std::uint8_t> run(std::span<const std::uint8_t> inputs,
                                std::span<const std::uint8_t> evaluation_keys) const;

 private:
  struct KeyCache {
    std::mutex mutex;
    std::vector<std::uint8_t> bytes;
    std::shared_ptr<const circuit::EvaluationKeySet> keys;
  };
  std::shared_ptr<const circuit::ServerProgram> program_;
  std::shared_ptr<KeyCache> cache_;
};

}  // namespace torusml::deploy
