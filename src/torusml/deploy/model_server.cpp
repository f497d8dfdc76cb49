#include "torusml/deploy/model_server.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "torusml/circuit/runtime/chunked_run.h"
#include "torusml/common/error.h"
#include "torusml/deploy/artifact_directory.h"

namespace torusml::deploy {

ModelServer::ModelServer(circuit::ServerProgram program)
    : program_(std::make_shared<const circuit::ServerProgram>(std::move(program))),
      cache_(std::make_shared<KeyCache>()) {
  circuit::validate_server_program(*program_);
}

ModelServer ModelServer::load(const std::filesystem::path& artifact_dir) {
  return ModelServer(circuit::load_server_program((artifact_dir / kServerProgramFile).string()));
}

circuit::EvaluationKeySet ModelServer::load_evaluation_keys(
    std::span<const std::uint8_t> bytes) const {
  try {
    return circuit::deserialize_evaluation_keys(bytes, &program_->parameters, /*expand=*/true);
  } catch (const ParameterMismatch& e) {
    throw ParameterMismatch(std::string(e.what()) +
                            " (these evaluation keys belong to another model: generate keys with "
                            "this model's client.bin)");
  }
}

std::vector<std::uint8_t> ModelServer::run(std::span<const std::uint8_t> inputs,
                                           const circuit::EvaluationKeySet& keys) const {
  // Seeded inputs stay seeded: run_in_chunks regenerates their masks chunk by chunk.
  const auto args = circuit::deserialize_run_arguments_as_sent(inputs, program_->parameters);
  const auto outputs =
      std::visit([&](const auto& a) { return circuit::run_in_chunks(*program_, a, keys); }, args);
  return circuit::serialize_encrypted_tensors(outputs, program_->parameters);
}

std::vector<std::uint8_t> ModelServer::run(std::span<const std::uint8_t> inputs,
                                           std::span<const std::uint8_t> evaluation_keys) const {
  std::shared_ptr<const circuit::EvaluationKeySet> keys;
  {
    std::lock_guard lock(cache_->mutex);
    if (cache_->keys && std::ranges::equal(cache_->bytes, evaluation_keys)) keys = cache_->keys;
  }
  if (!keys) {
    keys = std::make_shared<const circuit::EvaluationKeySet>(load_evaluation_keys(evaluation_keys));
    std::lock_guard lock(cache_->mutex);
    cache_->bytes.assign(evaluation_keys.begin(), evaluation_keys.end());
    cache_->keys = keys;
  }
  return run(inputs, *keys);
}

}  // namespace torusml::deploy
