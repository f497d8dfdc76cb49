// Circuit serialization: the public serializers and loaders of server programs, client
// specifications, key sets, encrypted tensors and run arguments (layouts in
// serialization_detail.h; shared encodings in serialization_encoding.cpp, server program payloads
// in serialization_program.cpp, consistency checks in serialization_validate.cpp).
#include "torusml/circuit/serialization/serialization.h"

#include "torusml/circuit/serialization/serialization_detail.h"
#include "torusml/common/byte_io.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::circuit {

namespace sdc = serialization_detail;
namespace tsd = tfhe::serialization_detail;
using tfhe::SerializedKind;

// ---- Server program and client specification -----------------------------------------------

namespace {

constexpr const char* kProgramAdvice =
    "load the server program compiled for these parameters (a recompiled circuit may get other "
    "parameters), or pass the parameters it was compiled for";
constexpr const char* kKeyAdvice =
    "load the keys generated for this circuit's parameters, or generate keys for them "
    "(generate_client_keys / generate_evaluation_keys)";
constexpr const char* kCiphertextAdvice =
    "load it with the circuit it was encrypted for, or encrypt the inputs with this circuit's "
    "client keys and client specification";

}  // namespace

std::vector<std::uint8_t> serialize_server_program(const ServerProgram& program) {
  validate_server_program(program);
  ByteWriter w;
  sdc::write_server_program(w, program);
  return sdc::seal(SerializedKind::ServerProgram, program.parameters, w.take());
}

ServerProgram deserialize_server_program(std::span<const std::uint8_t> bytes,
                                         const CircuitParameters* expected) {
  constexpr auto kind = SerializedKind::ServerProgram;
  const auto [header, payload] = sdc::open(bytes, kind, expected, kProgramAdvice);
  ServerProgram sp = sdc::parse_payload(kind, payload, [](ByteReader& r) {
    ServerProgram loaded = sdc::read_server_program(r);
    sdc::check_loaded("server program", [&] { validate_server_program(loaded); });
    return loaded;
  });
  sdc::require_header_fingerprint(header, sp.parameters);
  return sp;
}

std::vector<std::uint8_t> serialize_client_specification(const ClientSpecification& spec) {
  validate_client_specification(spec);
  ByteWriter w;
  sdc::write_client_specification(w, spec);
  return sdc::seal(SerializedKind::ClientSpecification, spec.parameters, w.take());
}

ClientSpecification deserialize_client_specification(std::span<const std::uint8_t> bytes,
                                                     const CircuitParameters* expected) {
  constexpr auto kind = SerializedKind::ClientSpecification;
  const auto [header, payload] = sdc::open(bytes, kind, expected, kProgramAdvice);
  ClientSpecification spec = sdc::parse_payload(kind, payload, [](ByteReader& r) {
    ClientSpecification s = sdc::read_client_specification(r);
    sdc::check_loaded("client specification", [&] { validate_client_specification(s); });
    return s;
  });
  sdc::require_header_fingerprint(header, spec.parameters);
  return spec;
}

SerializedCircuit serialize_circuit(const CompiledCircuit& circuit) {
  return {serialize_server_program(circuit.server_program()),
          serialize_client_specification(circuit.client_specification())};
}

void save_circuit(const CompiledCircuit& circuit, const std::string& server_program_path,
                  const std::string& client_specification_path) {
  const SerializedCircuit parts = serialize_circuit(circuit);
  write_file_bytes(server_program_path, parts.server_program);
  write_file_bytes(client_specification_path, parts.client_specification);
}

ServerProgram load_server_program(const std::string& path, const CircuitParameters* expected) {
  return deserialize_server_program(read_file_bytes(path), expected);
}

ClientSpecification load_client_specification(const std::string& path,
                                              const CircuitParameters* expected) {
  return deserialize_client_specification(read_file_bytes(path), expected);
}

// ---- Keys ------------------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_client_keys(const ClientKeySet& keys) {
  const CircuitParameters& p = keys.parameters;
  validate_client_keys(keys);
  ByteWriter w;
  sdc::write_parameters(w, p);
  if (p.uses_pbs) {
    sdc::write_blob(w, tfhe::serialize_client_key(keys.pbs_key));
  } else {
    // Written without parameters (fingerprint 0): the key set's own record carries them.
    sdc::write_blob(w, tfhe::serialize_lwe_secret_key(keys.leveled_key));
  }
  return sdc::seal(SerializedKind::CircuitClientKeys, p, w.take());
}

ClientKeySet deserialize_client_keys(std::span<const std::uint8_t> bytes,
                                     const CircuitParameters* expected) {
  constexpr auto kind = SerializedKind::CircuitClientKeys;
  const auto [header, payload] = sdc::open(bytes, kind, expected, kKeyAdvice);
  ClientKeySet keys = sdc::parse_payload(kind, payload, [](ByteReader& r) {
    ClientKeySet k;
    k.parameters = sdc::read_parameters(r);
    const std::vector<std::uint8_t> blob = sdc::read_blob(r, "secret key");
    if (k.parameters.uses_pbs) {
      try {
        k.pbs_key = tfhe::deserialize_client_key(blob, &k.parameters.pbs);
      } catch (const ParameterMismatch& e) {
        sdc::fail(std::string("the embedded client key does not match the key set's "
                              "parameters: ") +
                  e.what());
      }
    } else {
      // Canonical form: the embedded key is written without parameters (fingerprint 0), so
      // that loading and saving again gives the same bytes.
      const std::uint64_t inner = tfhe::read_serialized_header(blob).parameters_fingerprint;
      if (inner != 0) {
        sdc::fail("the embedded LWE key carries parameter fingerprint " + sdc::hex64(inner) +
                  " (required: 0, the key set's record holds the parameters)");
      }
      k.leveled_key = tfhe::deserialize_lwe_secret_key(blob);
      if (k.leveled_key.dimension() != k.parameters.leveled_dimension) {
        sdc::fail("the embedded LWE key has dimension " +
                  std::to_string(k.leveled_key.dimension().value()) + ", not the leveled " +
                  std::to_string(k.parameters.leveled_dimension.value()));
      }
    }
    return k;
  });
  sdc::require_header_fingerprint(header, keys.parameters);
  sdc::check_loaded("client key set", [&] { validate_client_keys(keys); });
  return keys;
}

std::vector<std::uint8_t> serialize_evaluation_keys(const EvaluationKeySet& keys) {
  const CircuitParameters& p = keys.parameters;
  validate_evaluation_keys(keys);
  ByteWriter w;
  sdc::write_parameters(w, p);
  if (p.uses_pbs != keys.compressed.has_value()) {
    throw InvalidArgument(
        p.uses_pbs ? "the evaluation keys hold no compressed server key: only the compressed "
                     "form is serialized; keep generate_evaluation_keys()'s key (expand() keeps it)"
                   : "leveled circuits have no evaluation key, but the key set holds one");
  }
  sdc::write_bool(w, p.uses_pbs);
  if (p.uses_pbs) {
    if (keys.compressed->parameters.fingerprint() != p.pbs.fingerprint())
      throw InvalidArgument("the evaluation key set's server key belongs to other parameters");
    sdc::write_blob(w, tfhe::serialize_compressed_server_key(*keys.compressed));
  }
  return sdc::seal(SerializedKind::CircuitEvaluationKeys, p, w.take());
}

EvaluationKeySet deserialize_evaluation_keys(std::span<const std::uint8_t> bytes,
                                             const CircuitParameters* expected, bool expand) {
  constexpr auto kind = SerializedKind::CircuitEvaluationKeys;
  const auto [header, payload] = sdc::open(bytes, kind, expected, kKeyAdvice);
  struct Loaded {
    EvaluationKeySet keys;
    std::vector<std::uint8_t> blob;
  };
  Loaded loaded = sdc::parse_payload(kind, payload, [](ByteReader& r) {
    Loaded l;
    l.keys.parameters = sdc::read_parameters(r);
    const bool has_key = sdc::read_bool(r, "has server key");
    if (has_key != l.keys.parameters.uses_pbs)
      sdc::fail(has_key ? "a leveled circuit's key set holds a server key"
                        : "a PBS circuit's key set holds no server key");
    if (has_key) {
      l.blob = sdc::read_blob(r, "compressed server key");
      try {
        l.keys.compressed = tfhe::deserialize_compressed_server_key(l.blob, &l.keys.parameters.pbs);
      } catch (const ParameterMismatch& e) {
        sdc::fail(std::string("the embedded server key does not match the key set's "
                              "parameters: ") +
                  e.what());
      }
    }
    return l;
  });
  sdc::require_header_fingerprint(header, loaded.keys.parameters);
  if (expand && loaded.keys.parameters.uses_pbs)
    loaded.keys.server_key = tfhe::load_server_key(loaded.blob, &loaded.keys.parameters.pbs);
  sdc::check_loaded("evaluation key set", [&] { validate_evaluation_keys(loaded.keys); });
  return std::move(loaded.keys);
}

// ---- Ciphertexts ---------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_encrypted_tensor(const EncryptedTensor& tensor,
                                                     const CircuitParameters& parameters) {
  sdc::validate_parameters(parameters);
  sdc::check_writable_tensor(tensor, parameters);
  ByteWriter w;
  sdc::write_encrypted_tensor(w, tensor);
  return sdc::seal(SerializedKind::EncryptedTensor, parameters, w.take());
}

EncryptedTensor deserialize_encrypted_tensor(std::span<const std::uint8_t> bytes,
                                             const CircuitParameters& expected) {
  constexpr auto kind = SerializedKind::EncryptedTensor;
  const auto payload = sdc::open(bytes, kind, &expected, kCiphertextAdvice).second;
  return sdc::parse_payload(kind, payload,
                            [&](ByteReader& r) { return sdc::read_encrypted_tensor(r, expected); });
}

namespace {

void write_tensor_list(ByteWriter& w, std::span<const EncryptedTensor> tensors,
                       const CircuitParameters& p) {
  for (const auto& t : tensors) sdc::check_writable_tensor(t, p);
  w.u64(tensors.size());
  for (const auto& t : tensors) sdc::write_encrypted_tensor(w, t);
}

std::vector<EncryptedTensor> read_tensor_list(ByteReader& r, const CircuitParameters& p) {
  // rank, dimension and count: 24 bytes at least per tensor
  const std::uint64_t count = tsd::read_count(r, "encrypted tensor count", 24);
  std::vector<EncryptedTensor> out;
  for (std::uint64_t k = 0; k < count; ++k) out.push_back(sdc::read_encrypted_tensor(r, p));
  return out;
}

}  // namespace

std::vector<std::uint8_t> serialize_encrypted_tensors(std::span<const EncryptedTensor> tensors,
                                                      const CircuitParameters& parameters) {
  sdc::validate_parameters(parameters);
  ByteWriter w;
  write_tensor_list(w, tensors, parameters);
  return sdc::seal(SerializedKind::EncryptedTensorList, parameters, w.take());
}

std::vector<EncryptedTensor> deserialize_encrypted_tensors(std::span<const std::uint8_t> bytes,
                                                           const CircuitParameters& expected) {
  constexpr auto kind = SerializedKind::EncryptedTensorList;
  const auto payload = sdc::open(bytes, kind, &expected, kCiphertextAdvice).second;
  return sdc::parse_payload(kind, payload,
                            [&](ByteReader& r) { return read_tensor_list(r, expected); });
}

namespace {

void check_writable_clear(std::span<const Tensor> clear) {
  for (const Tensor& t : clear) {
    if (t.rank() > sdc::kMaxRank || element_count(t.shape()) > kMaxSerializedElements)
      throw InvalidArgument("cannot serialize a clear argument of shape " +
                            shape_to_string(t.shape()) + " (rank <= 64, at most 2^48 elements)");
  }
}

void write_clear_list(ByteWriter& w, std::span<const Tensor> clear) {
  w.u64(clear.size());
  for (const Tensor& t : clear) sdc::write_tensor(w, t);
}

std::vector<Tensor> read_clear_list(ByteReader& r) {
  const std::uint64_t count = tsd::read_count(r, "clear argument count", 16);  // rank + count
  std::vector<Tensor> clear;
  for (std::uint64_t k = 0; k < count; ++k) clear.push_back(sdc::read_tensor(r, "clear argument"));
  return clear;
}

// The kind field of a header, if the bytes are long enough to hold one (open() checks the rest).
SerializedKind peek_kind(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < tfhe::kSerializedHeaderBytes) return SerializedKind::RunArguments;
  return static_cast<SerializedKind>(static_cast<std::uint16_t>(bytes[6]) |
                                     static_cast<std::uint16_t>(bytes[7]) << 8);
}

}  // namespace

std::vector<std::uint8_t> serialize_run_arguments(const RunArguments& arguments,
                                                  const CircuitParameters& parameters) {
  sdc::validate_parameters(parameters);
  check_writable_clear(arguments.clear);
  ByteWriter w;
  write_tensor_list(w, arguments.encrypted, parameters);
  write_clear_list(w, arguments.clear);
  return sdc::seal(SerializedKind::RunArguments, parameters, w.take());
}

std::vector<std::uint8_t> serialize_seeded_run_arguments(const SeededRunArguments& arguments,
                                                         const CircuitParameters& parameters) {
  sdc::validate_parameters(parameters);
  check_writable_clear(arguments.clear);
  const std::uint64_t dimension = parameters.encryption_dimension().value();
  for (const SeededEncryptedTensor& t : arguments.encrypted) {
    if (t.ciphertexts.dimension.value() != dimension)
      throw ParameterMismatch("cannot serialize: a seeded encrypted tensor has dimension " +
                              std::to_string(t.ciphertexts.dimension.value()) + " but " +
                              sdc::describe_parameters(parameters) + " encrypts with dimension " +
                              std::to_string(dimension) + "; " + kCiphertextAdvice);
    if (t.shape.size() > sdc::kMaxRank || element_count(t.shape) > kMaxSerializedElements ||
        static_cast<std::uint64_t>(element_count(t.shape)) != t.ciphertexts.size())
      throw InvalidArgument("cannot serialize: a seeded encrypted tensor of shape " +
                            shape_to_string(t.shape) + " holds " +
                            std::to_string(t.ciphertexts.size()) +
                            " ciphertexts instead of one per element");
  }
  ByteWriter w;
  w.u64(arguments.encrypted.size());
  for (const SeededEncryptedTensor& t : arguments.encrypted) {
    sdc::write_shape(w, t.shape);
    w.u64(dimension);
    tsd::write_seed(w, t.ciphertexts.mask_seed);
    w.u64(t.ciphertexts.size());
    tsd::write_torus_values(w, t.ciphertexts.bodies);
  }
  write_clear_list(w, arguments.clear);
  return sdc::seal(SerializedKind::SeededRunArguments, parameters, w.take());
}

namespace {

SeededRunArguments parse_seeded_run_arguments(std::span<const std::uint8_t> payload,
                                              const CircuitParameters& expected) {
  return sdc::parse_payload(SerializedKind::SeededRunArguments, payload, [&](ByteReader& r) {
    SeededRunArguments args;
    // rank, dimension, seed and count: 56 bytes at least per tensor
    const std::uint64_t count = tsd::read_count(r, "seeded encrypted tensor count", 56);
    const std::uint64_t dimension = expected.encryption_dimension().value();
    for (std::uint64_t k = 0; k < count; ++k) {
      SeededEncryptedTensor t;
      t.shape = sdc::read_shape(r, "seeded encrypted tensor shape");
      const std::uint64_t n = r.u64("ciphertext dimension");
      if (n != dimension)
        sdc::fail("a seeded encrypted tensor's ciphertext dimension is " + std::to_string(n) +
                  " but " + sdc::describe_parameters(expected) + " encrypts with dimension " +
                  std::to_string(dimension) + " (corrupted, or written by a faulty tool)");
      t.ciphertexts.dimension = tfhe::LweDimension(n);
      t.ciphertexts.mask_seed = tsd::read_seed(r, "mask seed");
      const std::uint64_t bodies = tsd::read_count(r, "body count", 8);
      if (bodies != sdc::elements_of(t.shape))
        sdc::fail("a seeded encrypted tensor of shape " + shape_to_string(t.shape) + " holds " +
                  std::to_string(bodies) + " ciphertexts instead of one per element");
      t.ciphertexts.bodies = tsd::read_torus_values(r, bodies, "ciphertext bodies");
      args.encrypted.push_back(std::move(t));
    }
    args.clear = read_clear_list(r);
    return args;
  });
}

}  // namespace

std::variant<RunArguments, SeededRunArguments> deserialize_run_arguments_as_sent(
    std::span<const std::uint8_t> bytes, const CircuitParameters& expected) {
  // The kind decides the layout; open() checks the whole framing against it.
  const bool seeded = peek_kind(bytes) == SerializedKind::SeededRunArguments;
  const SerializedKind kind =
      seeded ? SerializedKind::SeededRunArguments : SerializedKind::RunArguments;
  const auto payload = sdc::open(bytes, kind, &expected, kCiphertextAdvice).second;
  if (seeded) return parse_seeded_run_arguments(payload, expected);
  return sdc::parse_payload(kind, payload, [&](ByteReader& r) {
    RunArguments args;
    args.encrypted = read_tensor_list(r, expected);
    args.clear = read_clear_list(r);
    return args;
  });
}

RunArguments deserialize_run_arguments(std::span<const std::uint8_t> bytes,
                                       const CircuitParameters& expected) {
  auto any = deserialize_run_arguments_as_sent(bytes, expected);
  if (auto* seeded = std::get_if<SeededRunArguments>(&any))
    return decompress_run_arguments(*seeded);
  return std::move(std::get<RunArguments>(any));
}

}  // namespace torusml::circuit
