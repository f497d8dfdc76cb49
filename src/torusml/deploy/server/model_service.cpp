#include "torusml/deploy/server/model_service.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/deploy/server/json.h"

namespace torusml::deploy::server {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path.string());
  return std::string(bytes.begin(), bytes.end());
}

void write_shape(std::ostringstream& os, const circuit::Shape& shape) {
  os << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
}

}  // namespace

std::string fingerprint_hex(const circuit::CircuitParameters& parameters) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(parameters.fingerprint()));
  return buf;
}

ModelArtifacts load_model_directory(const std::string& directory) {
  const fs::path dir(directory);
  if (!fs::is_directory(dir))
    throw Error("model directory '" + directory +
                "' does not exist: pass the directory written by FHEModelDev.save() (or "
                "circuit::save_circuit) with --model");
  for (const char* name : {"server.bin", "client.bin"}) {
    if (!fs::is_regular_file(dir / name))
      throw Error("model directory '" + directory + "' has no " + name +
                  ": it must hold server.bin and client.bin");
  }
  ModelArtifacts model;
  const std::vector<std::uint8_t> server = read_file_bytes((dir / "server.bin").string());
  model.server_program_bytes = server.size();
  model.program = circuit::deserialize_server_program(server);
  model.client_artifact = read_text(dir / "client.bin");
  if (fs::is_regular_file(dir / "manifest.json")) model.manifest = read_text(dir / "manifest.json");
  model.info_json = describe_model_json(model);
  return model;
}

std::string describe_model_json(const ModelArtifacts& model) {
  const circuit::ServerProgram& sp = model.program;
  const circuit::CircuitParameters& params = sp.parameters;
  // One ciphertext of a value of partition q (multi-parameter circuits: under q's big key), and
  // the largest of the circuit's.
  const auto ciphertext_bytes_of = [&](std::uint32_t q) -> std::uint64_t {
    return 8 * (params.encryption_dimension(q).value() + 1);
  };
  std::uint64_t ciphertext_bytes = 0;
  for (std::size_t q = 0; q < params.partition_count(); ++q)
    ciphertext_bytes =
        std::max(ciphertext_bytes, ciphertext_bytes_of(static_cast<std::uint32_t>(q)));
  std::ostringstream os;
  auto write_value = [&](circuit::NodeId id, const std::string& name) {
    const circuit::Node& node = sp.program.node(id);
    const circuit::Encoding& enc = sp.encodings.at(static_cast<std::size_t>(id));
    os << "{\"name\": " << json_quote(name) << ", \"shape\": ";
    write_shape(os, node.shape);
    os << ", \"encrypted\": " << (node.encrypted ? "true" : "false");
    if (node.encrypted) {
      os << ", \"bits\": " << enc.width << ", \"signed\": " << (enc.is_signed ? "true" : "false")
         << ", \"ciphertext_bytes_per_sample\": "
         << ciphertext_bytes_of(enc.partition) *
                static_cast<std::uint64_t>(circuit::element_count(node.shape));
      if (params.partition_count() > 1) os << ", \"partition\": " << enc.partition;
    }
    os << "}";
  };
  os << "{\"inputs\": [";
  for (std::size_t i = 0; i < sp.program.inputs.size(); ++i) {
    const circuit::NodeId id = sp.program.inputs[i];
    const auto* attr = std::get_if<circuit::InputAttr>(&sp.program.node(id).attributes);
    os << (i ? ", " : "");
    write_value(id, attr ? attr->name : sp.program.node(id).label);
  }
  os << "], \"outputs\": [";
  for (std::size_t i = 0; i < sp.program.outputs.size(); ++i) {
    os << (i ? ", " : "");
    write_value(sp.program.outputs[i], "output_" + std::to_string(i));
  }
  std::uint64_t pbs = 0;
  for (const circuit::Instruction& ins : sp.instructions) {
    pbs += circuit::bootstraps_per_element(ins) *
           static_cast<std::uint64_t>(circuit::element_count(sp.program.node(ins.node).shape));
  }
  os << "], \"parameters\": {\"uses_pbs\": " << (params.uses_pbs ? "true" : "false")
     << ", \"fingerprint\": \"" << fingerprint_hex(params) << "\""
     << ", \"encryption_dimension\": " << params.encryption_dimension().value();
  const auto write_pbs = [&](const tfhe::PbsParameters& p) {
    os << "\"name\": " << json_quote(p.name) << ", \"message_bits\": " << p.message_bits
       << ", \"lwe_dimension\": " << p.lwe_dimension.value()
       << ", \"glwe_dimension\": " << p.glwe_dimension.value()
       << ", \"polynomial_size\": " << p.polynomial_size.value();
  };
  if (params.uses_pbs) {
    os << ", ";
    write_pbs(params.pbs);  // partition 0
  }
  if (params.partition_count() > 1) {
    // Multi-parameter circuits: every partition's set (0 first, as above) and the keyswitches
    // between them.
    os << ", \"partitions\": [";
    for (std::size_t q = 0; q < params.partition_count(); ++q) {
      os << (q ? ", {" : "{");
      write_pbs(params.partition(q));
      os << ", \"encryption_dimension\": "
         << params.encryption_dimension(static_cast<std::uint32_t>(q)).value() << "}";
    }
    os << "], \"cross_keyswitches\": [";
    for (std::size_t i = 0; i < params.cross_keyswitches.size(); ++i) {
      const circuit::CrossKeyswitchParameters& c = params.cross_keyswitches[i];
      os << (i ? ", " : "") << "{\"from\": " << c.from << ", \"to\": " << c.to
         << ", \"base_log\": " << c.ks.base_log.value()
         << ", \"level_count\": " << c.ks.level_count.value() << "}";
    }
    os << "]";
  }
  os << "}, \"fingerprint\": \"" << fingerprint_hex(params) << "\""
     << ", \"pbs_per_sample\": " << pbs
     << ", \"sizes\": {\"server_program_bytes\": " << model.server_program_bytes
     << ", \"client_artifact_bytes\": " << model.client_artifact.size()
     << ", \"ciphertext_bytes\": " << ciphertext_bytes
     << "}, \"has_manifest\": " << (model.manifest ? "true" : "false") << "}";
  return os.str();
}

}  // namespace torusml::deploy::server
