// The artifact directory a developer ships: DIR/server.bin for the server (exactly
// circuit::serialize_server_program() of the compiled circuit: circuit::load_server_program()
// reads it), DIR/client.bin for clients (the ClientArtifact record, client_artifact_io.h, with
// the circuit's client specification inside) and DIR/manifest.json (what the directory holds):
//
//   {"format": "torusml-model", "version": 1, "model_kind": "linear",
//    "input_shape": [30], "program_input_shape": [30], "output_shape": [1],
//    "parameters_fingerprint": "0x...", "server_bytes": N, "client_bytes": M}
//
// Every file is written atomically (a temporary file, then a rename): a reader sees the old or
// the new file, never a partial one.
#pragma once

#include <filesystem>
#include <string>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/deploy/client_artifact.h"

namespace torusml::deploy {

inline constexpr const char* kServerProgramFile = "server.bin";
inline constexpr const char* kClientArtifactFile = "client.bin";
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kArtifactFormatName = "torusml-model";
inline constexpr int kArtifactFormatVersion = 1;

/// Writes the three files into `dir` (created if missing). Throws ParameterMismatch unless the
/// artifact's specification describes `program` (circuit::check_client_specification),
/// InvalidArgument for an invalid artifact or program, Error if a file cannot be written.
void save_artifacts(const std::filesystem::path& dir, const circuit::ServerProgram& program,
                    const ClientArtifact& artifact);

/// The manifest's text for these parts (sizes of the serialized files given).
std::string manifest_json(const ClientArtifact& artifact, std::size_t server_bytes,
                          std::size_t client_bytes);

/// DIR/client.bin, validated (SerializationError; Error if it cannot be read: the message names
/// the path).
ClientArtifact load_client_artifact(const std::filesystem::path& dir);

}  // namespace torusml::deploy
