// Circuit serialization: the public serializers and loaders of server programs, client
// specifications, key sets, encrypted tensors and run arguments (layouts in
// serialization_detail.h; shared encodings in serialization_encoding.cpp, server program payloads
// in serialization_program.cpp, consistency checks in serialization_validate.cpp).
#include "torusml/circuit/serialization/serialization.h"

#include <algorithm>

#include "torusml/circuit/serialization/serialization_detail.h"
#include "torusml/common/byte_io.h"
#include "torusml/tfhe/serialization.h"
#include "torusml/tfhe/validity.h"

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
  if (sdc::has_partitions(p)) {
    w.u64(keys.extra_pbs_keys.size());
    for (const tfhe::ClientKey& k : keys.extra_pbs_keys)
      sdc::write_blob(w, tfhe::serialize_client_key(k));
  }
  return sdc::seal(SerializedKind::CircuitClientKeys, p, w.take());
}

namespace {

// A list of embedded TFHE records, one per partition 1.. or per cross keyswitch: a count equal
// to `expected` (stated by the parameters), then the blobs.
template <class Load>
void read_key_blobs(ByteReader& r, std::size_t expected, const char* what, Load&& load) {
  // A blob takes 8 bytes for its length and a record of 56 bytes at least.
  const std::uint64_t count = tsd::read_count(r, what, 64);
  if (count != expected) {
    sdc::fail("the key set holds " + std::to_string(count) + " " + what + " but its parameters " +
              "need " + std::to_string(expected));
  }
  for (std::size_t k = 0; k < expected; ++k) load(k, sdc::read_blob(r, what));
}

}  // namespace

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
    if (sdc::has_partitions(k.parameters)) {
      read_key_blobs(r, k.parameters.extra_partitions.size(), "partition client keys",
                     [&](std::size_t i, const std::vector<std::uint8_t>& b) {
                       try {
                         k.extra_pbs_keys.push_back(
                             tfhe::deserialize_client_key(b, &k.parameters.extra_partitions[i]));
                       } catch (const ParameterMismatch& e) {
                         sdc::fail("the embedded client key of partition " + std::to_string(i + 1) +
                                   " does not match the key set's parameters: " + e.what());
                       }
                     });
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
  if (p.uses_pbs && (keys.extra_compressed.size() != p.extra_partitions.size() ||
                     keys.cross_compressed.size() != p.cross_keyswitches.size())) {
    throw InvalidArgument(
        "the evaluation keys hold no compressed keys of the circuit's partitions (server keys "
        "and cross keyswitching keys): only the compressed form is serialized; keep "
        "generate_evaluation_keys()'s keys (expand() keeps them)");
  }
  sdc::write_bool(w, p.uses_pbs);
  if (p.uses_pbs) {
    if (keys.compressed->parameters.fingerprint() != p.pbs.fingerprint())
      throw InvalidArgument("the evaluation key set's server key belongs to other parameters");
    sdc::write_blob(w, tfhe::serialize_compressed_server_key(*keys.compressed));
  }
  if (sdc::has_partitions(p)) {
    w.u64(keys.extra_compressed.size());
    for (const tfhe::CompressedServerKey& k : keys.extra_compressed)
      sdc::write_blob(w, tfhe::serialize_compressed_server_key(k));
    // Written without parameters (fingerprint 0): their shapes are the cross keyswitches'.
    w.u64(keys.cross_compressed.size());
    for (const tfhe::SeededLweKeyswitchKey& k : keys.cross_compressed)
      sdc::write_blob(w, tfhe::serialize_seeded_keyswitch_key(k));
  }
  return sdc::seal(SerializedKind::CircuitEvaluationKeys, p, w.take());
}

namespace {

std::uint64_t add_bytes(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  return __builtin_add_overflow(a, b, &out) ? ~std::uint64_t{0} : out;
}

// The bytes that expanding the evaluation keys of `p` takes: per partition what
// tfhe::load_server_key() bounds (tfhe::expanded_server_key_bytes: the full keyswitching key at 8
// bytes a value, the standard-domain bootstrapping key, classic or multi-bit, and its Fourier
// form, the noise reduction windows), plus the full cross keyswitching keys. Saturates.
std::uint64_t expanded_key_bytes(const CircuitParameters& p) {
  std::uint64_t total = 0;
  for (std::size_t q = 0; q < p.partition_count(); ++q)
    total = add_bytes(total, tfhe::expanded_server_key_bytes(p.partition(q)));
  for (const CrossKeyswitchParameters& c : p.cross_keyswitches) {
    const tfhe::KeyswitchKeyShape ks{p.encryption_dimension(c.from),
                                     p.partition(c.to).lwe_dimension, c.ks};
    total = add_bytes(total, tsd::checked_mul(tsd::checked_mul(ks.ciphertexts(),
                                                               ks.output_lwe_dimension.value() + 1,
                                                               "evaluation keys"),
                                              sizeof(tfhe::KeyswitchTorus), "evaluation keys"));
  }
  return total;
}

}  // namespace

EvaluationKeySet deserialize_evaluation_keys(std::span<const std::uint8_t> bytes,
                                             const CircuitParameters* expected, bool expand) {
  constexpr auto kind = SerializedKind::CircuitEvaluationKeys;
  const auto [header, payload] = sdc::open(bytes, kind, expected, kKeyAdvice);
  EvaluationKeySet keys = sdc::parse_payload(kind, payload, [](ByteReader& r) {
    EvaluationKeySet k;
    k.parameters = sdc::read_parameters(r);
    const CircuitParameters& p = k.parameters;
    const bool has_key = sdc::read_bool(r, "has server key");
    if (has_key != p.uses_pbs)
      sdc::fail(has_key ? "a leveled circuit's key set holds a server key"
                        : "a PBS circuit's key set holds no server key");
    if (has_key) {
      try {
        k.compressed = tfhe::deserialize_compressed_server_key(
            sdc::read_blob(r, "compressed server key"), &p.pbs);
      } catch (const ParameterMismatch& e) {
        sdc::fail(std::string("the embedded server key does not match the key set's "
                              "parameters: ") +
                  e.what());
      }
    }
    if (!sdc::has_partitions(p)) return k;
    read_key_blobs(r, p.extra_partitions.size(), "partition server keys",
                   [&](std::size_t i, const std::vector<std::uint8_t>& b) {
                     try {
                       k.extra_compressed.push_back(
                           tfhe::deserialize_compressed_server_key(b, &p.extra_partitions[i]));
                     } catch (const ParameterMismatch& e) {
                       sdc::fail("the embedded server key of partition " + std::to_string(i + 1) +
                                 " does not match the key set's parameters: " + e.what());
                     }
                   });
    read_key_blobs(r, p.cross_keyswitches.size(), "cross keyswitching keys",
                   [&](std::size_t i, const std::vector<std::uint8_t>& b) {
                     k.cross_compressed.push_back(tfhe::deserialize_seeded_keyswitch_key(b));
                     // Canonical form: written without parameters (fingerprint 0).
                     const std::uint64_t inner =
                         tfhe::read_serialized_header(b).parameters_fingerprint;
                     if (inner != 0) {
                       sdc::fail("the embedded cross keyswitching key " + std::to_string(i) +
                                 " carries parameter fingerprint " + sdc::hex64(inner) +
                                 " (required: 0, the key set's record holds the parameters)");
                     }
                   });
    return k;
  });
  sdc::require_header_fingerprint(header, keys.parameters);
  sdc::check_loaded("evaluation key set", [&] { validate_evaluation_keys(keys); });
  if (expand && keys.parameters.uses_pbs) {
    // Bounded before allocating: all the expanded keys together stay within the bound that
    // tfhe::load_server_key() sets for one server key.
    const std::uint64_t total = expanded_key_bytes(keys.parameters);
    if (total > tfhe::kMaxExpandedServerKeyBytes) {
      sdc::fail("the evaluation keys for " + sdc::describe_parameters(keys.parameters) +
                " would expand to " + std::to_string(total >> 20) + " MiB, above the " +
                std::to_string(tfhe::kMaxExpandedServerKeyBytes >> 30) +
                " GiB sanity limit for all keys together: check that these are the parameters "
                "you expect");
    }
    keys.expand();
    sdc::check_loaded("evaluation key set", [&] { validate_evaluation_keys(keys); });
  }
  return keys;
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

// The form tag of a tensor in PackedRunArguments.
constexpr std::uint8_t kSeededLweForm = 0, kPackedForm = 1;

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

namespace {

// Whether packed inputs of p have GLWE shape (k, n).
bool is_packing_shape(const CircuitParameters& p, std::uint64_t k, std::uint64_t n) {
  return p.is_input_packing_shape(tfhe::GlweDimension(k), tfhe::PolynomialSize(n));
}

void check_writable_seeded(const SeededEncryptedTensor& t, const CircuitParameters& parameters) {
  const bool shape_ok = t.packed ? is_packing_shape(parameters, t.packed->glwe_dimension.value(),
                                                    t.packed->polynomial_size.value())
                                 : parameters.is_encryption_dimension(t.ciphertexts.dimension);
  if (!shape_ok)
    throw ParameterMismatch(
        "cannot serialize: a seeded encrypted tensor has dimension " +
        std::to_string(t.dimension().value()) +
        (t.packed ? " (packed GLWEs of k = " + std::to_string(t.packed->glwe_dimension.value()) +
                        ", N = " + std::to_string(t.packed->polynomial_size.value()) + ")"
                  : std::string()) +
        " but " + sdc::describe_parameters(parameters) + " encrypts with dimension " +
        sdc::describe_encryption_dimensions(parameters) + "; " + kCiphertextAdvice);
  if (t.shape.size() > sdc::kMaxRank || element_count(t.shape) > kMaxSerializedElements ||
      static_cast<std::uint64_t>(element_count(t.shape)) != t.size())
    throw InvalidArgument("cannot serialize: a seeded encrypted tensor of shape " +
                          shape_to_string(t.shape) + " holds " + std::to_string(t.size()) +
                          " ciphertexts instead of one per element");
}

// The fields after the shape: [u64 dimension | u64 k, u64 N], seed, u64 count, bodies.
void write_seeded_list(ByteWriter& w, const SeededEncryptedTensor& t) {
  if (t.packed) {
    w.u64(t.packed->glwe_dimension.value());
    w.u64(t.packed->polynomial_size.value());
    tsd::write_seed(w, t.packed->mask_seed);
    w.u64(t.packed->size());
    tsd::write_torus_values(w, t.packed->bodies);
  } else {
    w.u64(t.ciphertexts.dimension.value());
    tsd::write_seed(w, t.ciphertexts.mask_seed);
    w.u64(t.ciphertexts.size());
    tsd::write_torus_values(w, t.ciphertexts.bodies);
  }
}

}  // namespace

std::vector<std::uint8_t> serialize_seeded_run_arguments(const SeededRunArguments& arguments,
                                                         const CircuitParameters& parameters) {
  sdc::validate_parameters(parameters);
  check_writable_clear(arguments.clear);
  bool any_packed = false;
  for (const SeededEncryptedTensor& t : arguments.encrypted) {
    check_writable_seeded(t, parameters);
    any_packed = any_packed || t.packed.has_value();
  }
  ByteWriter w;
  w.u64(arguments.encrypted.size());
  for (const SeededEncryptedTensor& t : arguments.encrypted) {
    sdc::write_shape(w, t.shape);
    if (any_packed) w.u8(t.packed ? kPackedForm : kSeededLweForm);
    write_seeded_list(w, t);
  }
  write_clear_list(w, arguments.clear);
  return sdc::seal(
      any_packed ? SerializedKind::PackedRunArguments : SerializedKind::SeededRunArguments,
      parameters, w.take());
}

namespace {

SeededRunArguments parse_seeded_run_arguments(SerializedKind kind,
                                              std::span<const std::uint8_t> payload,
                                              const CircuitParameters& expected) {
  const bool tagged = kind == SerializedKind::PackedRunArguments;
  return sdc::parse_payload(kind, payload, [&](ByteReader& r) {
    SeededRunArguments args;
    // rank, dimension, seed and count: 56 bytes at least per tensor
    const std::uint64_t count = tsd::read_count(r, "seeded encrypted tensor count", 56);
    for (std::uint64_t k = 0; k < count; ++k) {
      SeededEncryptedTensor t;
      t.shape = sdc::read_shape(r, "seeded encrypted tensor shape");
      const std::uint8_t form = tagged ? r.u8("seeded tensor form") : kSeededLweForm;
      if (form != kSeededLweForm && form != kPackedForm)
        sdc::fail("unknown seeded tensor form " + std::to_string(form) +
                  " (0: seeded LWE, 1: packed)");
      std::vector<tfhe::Torus>* bodies = nullptr;
      if (form == kPackedForm) {
        const std::uint64_t glwe_k = r.u64("packed GLWE dimension");
        const std::uint64_t big_n = r.u64("packed polynomial size");
        if (!is_packing_shape(expected, glwe_k, big_n))
          sdc::fail("packed ciphertexts of GLWE dimension " + std::to_string(glwe_k) +
                    " and polynomial size " + std::to_string(big_n) + " but " +
                    sdc::describe_parameters(expected) +
                    " has no such key (corrupted, or written by a faulty tool)");
        t.packed = tfhe::SeededPackedLweCiphertextList{tfhe::GlweDimension(glwe_k),
                                                       tfhe::PolynomialSize(big_n),
                                                       tsd::read_seed(r, "mask seed"),
                                                       {}};
        bodies = &t.packed->bodies;
      } else {
        const std::uint64_t n =
            sdc::read_encryption_dimension(r, expected, "a seeded encrypted tensor");
        t.ciphertexts.dimension = tfhe::LweDimension(n);
        t.ciphertexts.mask_seed = tsd::read_seed(r, "mask seed");
        bodies = &t.ciphertexts.bodies;
      }
      const std::uint64_t body_count = tsd::read_count(r, "body count", 8);
      if (body_count != sdc::elements_of(t.shape))
        sdc::fail("a seeded encrypted tensor of shape " + shape_to_string(t.shape) + " holds " +
                  std::to_string(body_count) + " ciphertexts instead of one per element");
      *bodies = tsd::read_torus_values(r, body_count, "ciphertext bodies");
      args.encrypted.push_back(std::move(t));
    }
    // One encoding per object: without a packed tensor the writer uses SeededRunArguments.
    if (tagged && std::none_of(args.encrypted.begin(), args.encrypted.end(),
                               [](const SeededEncryptedTensor& t) { return t.packed.has_value(); }))
      sdc::fail(
          "PackedRunArguments without a packed tensor (corrupted, or written by a faulty "
          "tool)");
    args.clear = read_clear_list(r);
    return args;
  });
}

}  // namespace

std::variant<RunArguments, SeededRunArguments> deserialize_run_arguments_as_sent(
    std::span<const std::uint8_t> bytes, const CircuitParameters& expected) {
  // The kind decides the layout; open() checks the whole framing against it.
  const SerializedKind peeked = peek_kind(bytes);
  const SerializedKind kind =
      peeked == SerializedKind::SeededRunArguments || peeked == SerializedKind::PackedRunArguments
          ? peeked
          : SerializedKind::RunArguments;
  const auto payload = sdc::open(bytes, kind, &expected, kCiphertextAdvice).second;
  if (kind != SerializedKind::RunArguments)
    return parse_seeded_run_arguments(kind, payload, expected);
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
