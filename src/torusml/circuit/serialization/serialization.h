// Versioned binary serialization of the circuit layer's objects: what a compiled circuit ships to
// a server (ServerProgram: program, lowered instructions and parameters, no key) and to a client
// (ClientSpecification), the circuit key sets, and encrypted tensors and run arguments.
//
//   const CompiledCircuit c = compile(program, inputset);
//   save_circuit(c, "model.server", "model.client");              // the deployment split
//   // client: spec + keys; encrypt; ship the evaluation keys and the arguments
//   const ClientSpecification spec = load_client_specification("model.client");
//   const ClientKeySet ck = generate_client_keys(spec.parameters, tfhe::random_seed());
//   const auto ek_bytes = serialize_evaluation_keys(generate_evaluation_keys(ck, seed));
//   const auto arg_bytes = serialize_run_arguments(encrypt_inputs(ck, spec, x), spec.parameters);
//   // server: no secret
//   const ServerProgram sp = load_server_program("model.server");
//   const EvaluationKeySet ek =
//       deserialize_evaluation_keys(ek_bytes, &sp.parameters, /*expand=*/true);
//   const auto out = run(sp, deserialize_run_arguments(arg_bytes, sp.parameters), ek);
//   const auto out_bytes = serialize_encrypted_tensors(out, sp.parameters);
//   // client
//   const auto y = decrypt_outputs(ck, spec, deserialize_encrypted_tensors(out_bytes,
//                                                                         spec.parameters));
//
// Framing. Every object is one record of the TFHE layer's format (tfhe/serialization.h): the
// 24-byte header (magic "TRML", format version, kind 100..106, fingerprint, payload length), the
// payload and a BLAKE2b-256 checksum. The header's fingerprint is CircuitParameters::fingerprint()
// of the circuit the object belongs to. The TFHE parts (PbsParameters, client keys, compressed
// server keys, secret LWE keys) are embedded as complete TFHE records ("blobs": a u64 length and
// the record, checked by the TFHE loaders).
//
// Payload encodings (little-endian; see serialization_detail.h for the whole layout):
//   bool u8 (0 or 1) | string u32 length + UTF-8 bytes (<= 4096) | list u64 count + items |
//   shape u64 rank (<= 64) + i64 extents | Tensor shape + i64 values | Encoding u8 width, bool
//   (and u32 partition in the objects of multi-parameter circuits) |
//   CircuitParameters u8 tag: 1 a PbsParameters blob; 0 u64 leveled dimension and the noise
//   (u8 kind, i32 bound_log2, f64 std_dev); 2 (multi-parameter circuits) the PbsParameters blob of
//   partition 0, list<blob> of partitions 1.. (at least one) and the cross keyswitches (list of
//   u32 from, u32 to, u64 base_log, u64 level_count).
//
// Multi-parameter circuits (CircuitParameters::extra_partitions, issue 12) were added to format
// version 2 without changing a byte of the single-parameter objects (tag 0 or 1: they load and
// save as before, and their known-answer digests are unchanged): their objects are recognised by
// the parameters' tag 2, which older builds refuse ("not a bool"). In them every Encoding carries
// its partition, client key sets hold one TFHE client key per partition, evaluation key sets one
// compressed server key per partition and one seeded keyswitching key per cross keyswitch
// (written without parameters, checked against the cross keyswitch's shape), and ciphertexts
// have the big key dimension of their value's partition (a loader accepts any partition's).
//
// Untrusted bytes. Every deserialize_* function checks the framing (magic, version, kind, size,
// checksum), bounds every count and dimension by fixed limits and by the remaining bytes before
// allocating (memory stays within a bounded multiple of the input: a few tens of times its size
// at worst, for programs of tiny nodes; expanding an evaluation key is bounded separately, and so
// is expanding seeded run arguments, (n + 1) times their size: a server keeps them seeded with
// deserialize_run_arguments_as_sent() and expands them chunk by chunk with run_in_chunks()),
// validates variant tags and enumerations, and checks the loaded object as a whole
// (validate_server_program(), validate_client_specification(), key and ciphertext shapes against
// the parameters). It throws SerializationError naming what is wrong for bytes that are not a valid
// object of the expected kind, and ParameterMismatch, saying what to do, for a valid object of
// another circuit than the expected one. It never reads out of bounds. A loaded server program
// satisfies everything the runtime and the interpreter index by, so running it cannot read out of
// bounds either.
//
// Fingerprints identify parameters, not programs: circuits compiled to the same parameters accept
// each other's keys and ciphertexts (as in memory); check_client_specification() tells whether a
// client specification describes a given server program.
//
// What is not serialized: the functions of table lookups (TableAttr::tables[i].fn). Only their
// names and the per-element table indices are stored; a loaded program's functions throw
// InvalidArgument("table functions are not serialized; ...") when called. The runtime and the
// interpreter only use the tables materialized in the instructions, so a loaded ServerProgram
// runs (run()) and interprets (interpret()) like the original, but cannot be recompiled.
// Expanded server keys are not serialized either (only the compressed, seeded form).
//
// Changing any payload layout is a format change: it needs a new format version (the known-answer
// test in tests/circuit/serialization_test.cpp pins the current one).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/compiler.h"
#include "torusml/circuit/runtime/runtime.h"
#include "torusml/circuit/runtime/seeded_arguments.h"
#include "torusml/circuit/serialization/validity.h"

namespace torusml::circuit {

/// The message of the InvalidArgument thrown by a loaded program's table functions.
inline constexpr const char* kTableFunctionsNotSerialized =
    "table functions are not serialized; the server program uses its materialized tables";

/// Largest element count of one node, argument or tensor shape accepted (a sanity bound, 2^48).
inline constexpr std::int64_t kMaxSerializedElements = std::int64_t{1} << 48;

// ---- Server program and client specification -----------------------------------------------

/// Throws InvalidArgument if validate_server_program() fails (e.g. a hand-edited program), or if
/// a name or label exceeds 4096 bytes.
std::vector<std::uint8_t> serialize_server_program(const ServerProgram& program);
/// With `expected`, the program must be compiled for those parameters (ParameterMismatch
/// otherwise). Throws SerializationError on invalid bytes or an inconsistent program.
ServerProgram deserialize_server_program(std::span<const std::uint8_t> bytes,
                                         const CircuitParameters* expected = nullptr);

/// Throws InvalidArgument if validate_client_specification() fails.
std::vector<std::uint8_t> serialize_client_specification(const ClientSpecification& spec);
/// With `expected`: ParameterMismatch for another circuit's specification. SerializationError on
/// invalid bytes. (check_client_specification() checks it against a server program.)
ClientSpecification deserialize_client_specification(std::span<const std::uint8_t> bytes,
                                                     const CircuitParameters* expected = nullptr);

/// The two deployment parts of a compiled circuit (the analysis and statistics stay behind).
struct SerializedCircuit {
  std::vector<std::uint8_t> server_program;        // for the server: no secret, no key
  std::vector<std::uint8_t> client_specification;  // for the client
};
SerializedCircuit serialize_circuit(const CompiledCircuit& circuit);
/// Writes both parts (each file atomically); throws like the serializers and Error on I/O failure.
void save_circuit(const CompiledCircuit& circuit, const std::string& server_program_path,
                  const std::string& client_specification_path);
/// Reads and deserializes one part; throws Error if the file cannot be read.
ServerProgram load_server_program(const std::string& path,
                                  const CircuitParameters* expected = nullptr);
ClientSpecification load_client_specification(const std::string& path,
                                              const CircuitParameters* expected = nullptr);

// ---- Keys ------------------------------------------------------------------------------------

/// The parameters and the secret key they use: the TFHE client key (PBS circuits; one per
/// partition for multi-parameter circuits) or the LWE key (leveled circuits); the other key field
/// is not stored. SECRET: never send it to a server. Throws InvalidArgument if the keys do not
/// belong to the parameters (validate_client_keys()) or are malformed.
std::vector<std::uint8_t> serialize_client_keys(const ClientKeySet& keys);
/// With `expected`: ParameterMismatch for the keys of another circuit. SerializationError on
/// invalid bytes.
ClientKeySet deserialize_client_keys(std::span<const std::uint8_t> bytes,
                                     const CircuitParameters* expected = nullptr);

/// The parameters and, for PBS circuits, the compressed (seeded) server key only (multi-parameter
/// circuits: one per partition, and the seeded cross keyswitching keys); leveled circuits have no
/// evaluation key. Throws InvalidArgument for a PBS key set without its compressed keys (keep
/// generate_evaluation_keys()'s result: expanded keys are not serialized) or one of other
/// parameters.
std::vector<std::uint8_t> serialize_evaluation_keys(const EvaluationKeySet& keys);
/// With `expected`: ParameterMismatch for the keys of another circuit. With `expand`, every key is
/// also expanded for run() (EvaluationKeySet::expand()), after checking that all the expanded keys
/// together stay within tfhe::kMaxExpandedServerKeyBytes (the bound tfhe::load_server_key() sets
/// for one server key). SerializationError on invalid bytes.
EvaluationKeySet deserialize_evaluation_keys(std::span<const std::uint8_t> bytes,
                                             const CircuitParameters* expected = nullptr,
                                             bool expand = false);

// ---- Ciphertexts ---------------------------------------------------------------------------
// An encrypted tensor is written with the parameters of its circuit: its ciphertexts must have
// one of their encryption dimensions (CircuitParameters::is_encryption_dimension(): the big key
// dimension of some partition; else ParameterMismatch) and one ciphertext per element of its shape
// (else InvalidArgument). Payload: shape, u64 dimension, u64 count, count * (dimension + 1) torus
// values (the LweCiphertextList layout; not a nested TFHE record, since leveled circuits have no
// PbsParameters). It is read against the expected parameters: ParameterMismatch if it belongs to
// another circuit, SerializationError on invalid bytes.

std::vector<std::uint8_t> serialize_encrypted_tensor(const EncryptedTensor& tensor,
                                                     const CircuitParameters& parameters);
EncryptedTensor deserialize_encrypted_tensor(std::span<const std::uint8_t> bytes,
                                             const CircuitParameters& expected);

/// A list of encrypted tensors (run()'s outputs): u64 count, then each tensor's payload.
std::vector<std::uint8_t> serialize_encrypted_tensors(std::span<const EncryptedTensor> tensors,
                                                      const CircuitParameters& parameters);
std::vector<EncryptedTensor> deserialize_encrypted_tensors(std::span<const std::uint8_t> bytes,
                                                           const CircuitParameters& expected);

/// The encrypted tensors (as in a list) and the clear tensors (u64 count, Tensors).
std::vector<std::uint8_t> serialize_run_arguments(const RunArguments& arguments,
                                                  const CircuitParameters& parameters);
/// Seeded run arguments: u64 count, then per encrypted tensor its shape, u64 dimension, the
/// 32-byte mask seed, u64 count and one u64 body per ciphertext; then the clear tensors as in
/// RunArguments (kind SeededRunArguments). With packed tensors (PBS circuits' inputs) the kind is
/// PackedRunArguments and each tensor's shape is followed by a form byte, and a packed tensor
/// stores u64 glwe_dimension and u64 polynomial_size instead of the dimension. About 8 bytes per
/// input ciphertext instead of (n + 1) * 8. Throws ParameterMismatch for ciphertexts of a
/// dimension (or GLWE shape) that none of the parameters' partitions encrypts with and
/// InvalidArgument for a body count other than the shape's element count.
std::vector<std::uint8_t> serialize_seeded_run_arguments(const SeededRunArguments& arguments,
                                                         const CircuitParameters& parameters);
/// Reads any kind, RunArguments, SeededRunArguments or PackedRunArguments (the masks of seeded ones
/// are regenerated here: the result is ready for run()). The same untrusted-input checks for both:
/// framing, dimensions against `expected`, counts against the shapes and the remaining bytes
/// before allocating. ParameterMismatch for the arguments of another circuit, SerializationError
/// on invalid bytes or another kind.
RunArguments deserialize_run_arguments(std::span<const std::uint8_t> bytes,
                                       const CircuitParameters& expected);
/// As deserialize_run_arguments(), with seeded arguments kept seeded (a server regenerates their
/// masks chunk by chunk with run_in_chunks(), so its memory follows the chunk, not the batch).
std::variant<RunArguments, SeededRunArguments> deserialize_run_arguments_as_sent(
    std::span<const std::uint8_t> bytes, const CircuitParameters& expected);

}  // namespace torusml::circuit
