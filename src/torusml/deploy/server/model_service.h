// What the inference server serves: a model artifact directory loaded once at start, and the
// limits it enforces on requests.
//
// A model directory DIR holds DIR/server.bin (circuit::serialize_server_program bytes, required),
// DIR/client.bin (the client artifact, served as opaque bytes for download, required) and
// DIR/manifest.json (optional, served as it is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "torusml/circuit/compile/compiled_circuit.h"

namespace torusml::deploy::server {

struct ModelArtifacts {
  circuit::ServerProgram program;
  std::string client_artifact;          // DIR/client.bin, opaque
  std::optional<std::string> manifest;  // DIR/manifest.json, if present
  std::size_t server_program_bytes = 0;
  std::string info_json;  // GET /model, computed once (describe_model_json)
};

/// Loads DIR/server.bin (checked by circuit::load_server_program), DIR/client.bin and
/// DIR/manifest.json. Throws Error naming the missing or unreadable file and SerializationError
/// for a damaged server program.
ModelArtifacts load_model_directory(const std::string& directory);

/// The JSON of GET /model: inputs and outputs (name, shape without the batch axis, encrypted or
/// clear, bit width and signedness, ciphertext bytes per sample), the parameters (kind, dimensions,
/// fingerprint as 16 hex digits), PBS count per sample and the artifact sizes (ciphertext_bytes:
/// the largest ciphertext of the circuit). Multi-parameter circuits also list their partitions'
/// parameter sets and cross keyswitches, and each encrypted value's partition (its ciphertexts
/// have that partition's encryption dimension); "encryption_dimension" is partition 0's.
std::string describe_model_json(const ModelArtifacts& model);

/// Limits on requests (the command line's --max-body-mb and --max-batch).
struct ServiceLimits {
  std::size_t max_body_bytes = std::size_t{256} << 20;
  std::int64_t max_batch = 1024;  // rows of one POST /run
};

/// The parameters' fingerprint as 16 lowercase hex digits.
std::string fingerprint_hex(const circuit::CircuitParameters& parameters);

}  // namespace torusml::deploy::server
