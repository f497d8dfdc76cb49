#include "torusml/deploy/artifact_directory.h"

#include <sstream>
#include <system_error>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/circuit/serialization/validity.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/deploy/client_artifact_io.h"

namespace torusml::deploy {

namespace {

void shape_json(std::ostream& os, const circuit::Shape& shape) {
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
}

}  // namespace

std::string manifest_json(const ClientArtifact& a, std::size_t server_bytes,
                          std::size_t client_bytes) {
  std::ostringstream os;
  os << "{\n  \"format\": \"" << kArtifactFormatName
     << "\",\n  \"version\": " << kArtifactFormatVersion << ",\n  \"model_kind\": \""
     << to_string(a.kind) << "\",\n  \"input_shape\": [" << a.input.n_features
     << "],\n  \"program_input_shape\": ";
  shape_json(os, a.specification.inputs.at(0).shape);
  os << ",\n  \"output_shape\": ";
  shape_json(os, a.specification.outputs.at(0).shape);
  os << ",\n  \"output_columns\": " << a.output_columns() << ",\n  \"parameters_fingerprint\": \"0x"
     << std::hex << a.specification.parameters.fingerprint() << std::dec
     << "\",\n  \"uses_pbs\": " << (a.specification.parameters.uses_pbs ? "true" : "false")
     << ",\n  \"server_bytes\": " << server_bytes << ",\n  \"client_bytes\": " << client_bytes
     << "\n}\n";
  return os.str();
}

void save_artifacts(const std::filesystem::path& dir, const circuit::ServerProgram& program,
                    const ClientArtifact& artifact) {
  circuit::check_client_specification(program, artifact.specification);
  const auto server = circuit::serialize_server_program(program);
  const auto client = serialize_client_artifact(artifact);
  const std::string manifest = manifest_json(artifact, server.size(), client.size());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create the artifact directory " + dir.string() + ": " + ec.message());
  write_file_bytes((dir / kServerProgramFile).string(), server);
  write_file_bytes((dir / kClientArtifactFile).string(), client);
  write_file_bytes(
      (dir / kManifestFile).string(),
      std::span(reinterpret_cast<const std::uint8_t*>(manifest.data()), manifest.size()));
}

ClientArtifact load_client_artifact(const std::filesystem::path& dir) {
  return deserialize_client_artifact(read_file_bytes((dir / kClientArtifactFile).string()));
}

}  // namespace torusml::deploy
