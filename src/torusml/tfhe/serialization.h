// Versioned binary serialization of TFHE parameters, keys and ciphertexts.
//
// Every object is one self-contained, little-endian record:
//
//   offset  size  field
//   0       4     magic "TRML"
//   4       2     format version (u16, kSerializationFormatVersion = 2)
//   6       2     object kind (u16, SerializedKind)
//   8       8     parameter fingerprint (u64, PbsParameters::fingerprint() of the parameter set
//                 the object belongs to, 0 where none; CircuitParameters::fingerprint() for the
//                 circuit layer's objects, kinds 100 and up: torusml/circuit/serialization.h)
//   16      8     payload length L (u64)
//   24      L     payload (per kind, see serialization.cpp)
//   24 + L  32    BLAKE2b-256 (libsodium crypto_generichash, unkeyed) of bytes [0, 24 + L)
//
// The checksum detects damaged files and transfers; it is not a signature (anyone can recompute
// it), so a loader still treats the bytes as untrusted: every deserialize_* function checks the
// magic, version, kind, length, checksum, every dimension (against fixed limits, against each
// other and against the remaining bytes, before allocating), secret-key bits in {0, 1}, the
// parameters (PbsParameters::validate()) and that no byte is left over. It throws
// SerializationError for bytes that are not a valid object of the expected kind, and
// ParameterMismatch for a valid object that belongs to other parameters than the expected ones;
// it never reads out of bounds and never allocates more than a small multiple of its input.
//
// Ciphertexts are written with the parameter set they belong to and read against the expected
// one. Key components (secret keys, keyswitching and bootstrapping keys) take the parameter set
// optionally: with it, its fingerprint is stored and the shapes are checked against it.
// Changing any payload layout is a format change: it needs a new format version (the known-answer
// test in tests/tfhe/serialization_test.cpp pins the current one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/seeded_lwe.h"

namespace torusml::tfhe {

/// The format version this build writes, and the newest it reads.
inline constexpr std::uint16_t kSerializationFormatVersion = 2;
/// Version 1 differs only in the keyswitching key (64-bit then, 32-bit now): this build reads
/// version 1 objects of every kind that holds none (kinds 8, 9, 12 and 103 do).
inline constexpr std::uint16_t kFirstKeyswitch32FormatVersion = 2;
/// Bytes of the fixed header (magic, version, kind, fingerprint, payload length).
inline constexpr std::size_t kSerializedHeaderBytes = 24;
/// Bytes of the trailing BLAKE2b checksum.
inline constexpr std::size_t kSerializedChecksumBytes = 32;

/// Object kinds. The values are part of the format: never renumber or reuse one.
enum class SerializedKind : std::uint16_t {
  PbsParameters = 1,
  LweSecretKey = 2,
  GlweSecretKey = 3,
  ClientKey = 4,
  LweCiphertext = 5,
  LweCiphertextList = 6,
  SeededLweCiphertextList = 7,
  LweKeyswitchKey = 8,
  SeededLweKeyswitchKey = 9,
  LweBootstrapKey = 10,
  SeededLweBootstrapKey = 11,
  CompressedServerKey = 12,
  // The circuit layer's objects (torusml/circuit/serialization.h).
  ServerProgram = 100,
  ClientSpecification = 101,
  CircuitClientKeys = 102,
  CircuitEvaluationKeys = 103,
  EncryptedTensor = 104,
  EncryptedTensorList = 105,
  RunArguments = 106,
  SeededRunArguments = 107,  // run arguments with seeded input ciphertexts (clients' uploads)
  PackedRunArguments = 108,  // the same with packed inputs (GLWE masks; clients' uploads)
  // The deploy layer's objects (torusml/deploy/client_artifact_serialization.h).
  ClientArtifact = 110,
};

/// The name of a kind ("ClientKey", ...), or "unknown" for a value outside the enum.
std::string_view serialized_kind_name(SerializedKind kind);

/// The header fields of a serialized object.
struct SerializedHeader {
  std::uint16_t version = 0;
  SerializedKind kind = SerializedKind::PbsParameters;
  std::uint64_t parameters_fingerprint = 0;
  std::uint64_t payload_bytes = 0;
};

/// The header of one complete, intact object of any kind: checks the magic, the version, that
/// the kind is known, that the bytes hold exactly one object and its checksum (the payload is not
/// parsed). For tools that dispatch on the kind. Throws SerializationError.
SerializedHeader read_serialized_header(std::span<const std::uint8_t> bytes);

/// A one-line human-readable summary of the header: kind, version, parameter set, payload and
/// total sizes, and whether the size and checksum are right (damaged objects are described, not
/// rejected). Throws SerializationError only if the bytes do not start with a TorusML header.
std::string describe_serialized(std::span<const std::uint8_t> bytes);

// ---- Parameters ----------------------------------------------------------------------------

/// Every field of `params`, name and source included. Throws InvalidArgument if the parameters
/// do not validate().
std::vector<std::uint8_t> serialize_parameters(const PbsParameters& params);
/// Throws SerializationError (invalid bytes or parameters that do not validate()).
PbsParameters deserialize_parameters(std::span<const std::uint8_t> bytes);

// ---- Secret keys ---------------------------------------------------------------------------

/// The key bits, one byte each. With `params`, the key must be its small (n) or big (k*N) key
/// (else ParameterMismatch) and its fingerprint is stored. Throws InvalidArgument for an empty
/// key or bits other than 0 and 1.
std::vector<std::uint8_t> serialize_lwe_secret_key(const LweSecretKey& key,
                                                   const PbsParameters* params = nullptr);
/// With `expected`, the key must belong to it (stored fingerprint, and dimension n or k*N):
/// ParameterMismatch otherwise. Throws SerializationError on invalid bytes.
LweSecretKey deserialize_lwe_secret_key(std::span<const std::uint8_t> bytes,
                                        const PbsParameters* expected = nullptr);

/// k, N and the k*N key bits. With `params`, k and N must be its own (else ParameterMismatch).
/// Throws InvalidArgument for an inconsistent key or bits other than 0 and 1.
std::vector<std::uint8_t> serialize_glwe_secret_key(const GlweSecretKey& key,
                                                    const PbsParameters* params = nullptr);
/// With `expected`, the key must belong to it (ParameterMismatch otherwise). Throws
/// SerializationError on invalid bytes.
GlweSecretKey deserialize_glwe_secret_key(std::span<const std::uint8_t> bytes,
                                          const PbsParameters* expected = nullptr);

/// The parameters and both secret keys. Throws InvalidArgument if the keys do not match the
/// parameters or hold bits other than 0 and 1.
std::vector<std::uint8_t> serialize_client_key(const ClientKey& key);
/// With `expected`, the key's parameters must have its fingerprint (ParameterMismatch
/// otherwise). Throws SerializationError on invalid bytes.
ClientKey deserialize_client_key(std::span<const std::uint8_t> bytes,
                                 const PbsParameters* expected = nullptr);

// ---- Ciphertexts ---------------------------------------------------------------------------
// A ciphertext is written with the parameter set it belongs to: its dimension must be that set's
// big LWE dimension k*N (ciphertexts between operations) or its small dimension n (after a
// keyswitch), else ParameterMismatch; InvalidArgument for a malformed object. It is read against
// the expected set: ParameterMismatch if it was written for another set, SerializationError on
// invalid bytes or a dimension that is neither k*N nor n of that set.

std::vector<std::uint8_t> serialize_lwe_ciphertext(const LweCiphertext& ct,
                                                   const PbsParameters& params);
LweCiphertext deserialize_lwe_ciphertext(std::span<const std::uint8_t> bytes,
                                         const PbsParameters& expected);

std::vector<std::uint8_t> serialize_lwe_ciphertext_list(const LweCiphertextList& list,
                                                        const PbsParameters& params);
LweCiphertextList deserialize_lwe_ciphertext_list(std::span<const std::uint8_t> bytes,
                                                  const PbsParameters& expected);

/// The dimension, mask seed and bodies (8 bytes per ciphertext plus 32 for the seed).
std::vector<std::uint8_t> serialize_seeded_lwe_ciphertext_list(const SeededLweCiphertextList& list,
                                                               const PbsParameters& params);
SeededLweCiphertextList deserialize_seeded_lwe_ciphertext_list(std::span<const std::uint8_t> bytes,
                                                               const PbsParameters& expected);

// ---- Evaluation keys -----------------------------------------------------------------------
// With `params`, the key's shape must be the one `params` gives it (keyswitching: k*N -> n with
// the ks decomposition; bootstrapping: n GGSWs of (k, N) with the pbs decomposition), else
// ParameterMismatch, and its fingerprint is stored. Serializing throws InvalidArgument if the
// data size does not match the shape. Loading with `expected` checks the stored fingerprint (if
// any) and the shape against it (ParameterMismatch); SerializationError on invalid bytes.

/// The shape and the full ciphertexts (standard domain).
std::vector<std::uint8_t> serialize_keyswitch_key(const LweKeyswitchKey& key,
                                                  const PbsParameters* params = nullptr);
LweKeyswitchKey deserialize_keyswitch_key(std::span<const std::uint8_t> bytes,
                                          const PbsParameters* expected = nullptr);

/// The shape, mask seed and bodies.
std::vector<std::uint8_t> serialize_seeded_keyswitch_key(const SeededLweKeyswitchKey& key,
                                                         const PbsParameters* params = nullptr);
SeededLweKeyswitchKey deserialize_seeded_keyswitch_key(std::span<const std::uint8_t> bytes,
                                                       const PbsParameters* expected = nullptr);

/// The shape and the GGSWs in the standard domain (the Fourier form is never serialized).
std::vector<std::uint8_t> serialize_bootstrap_key(const LweBootstrapKey& key,
                                                  const PbsParameters* params = nullptr);
LweBootstrapKey deserialize_bootstrap_key(std::span<const std::uint8_t> bytes,
                                          const PbsParameters* expected = nullptr);

/// The shape, mask seed and GLWE bodies.
std::vector<std::uint8_t> serialize_seeded_bootstrap_key(const SeededLweBootstrapKey& key,
                                                         const PbsParameters* params = nullptr);
SeededLweBootstrapKey deserialize_seeded_bootstrap_key(std::span<const std::uint8_t> bytes,
                                                       const PbsParameters* expected = nullptr);

/// The parameters, the seeded keyswitching key and the seeded bootstrapping key (the multi-bit
/// one for multi-bit parameters, grouping_factor > 1): what a client sends to a server. Throws
/// InvalidArgument if the keys do not have the parameters' shapes or kinds
/// (validate_compressed_server_key).
std::vector<std::uint8_t> serialize_compressed_server_key(const CompressedServerKey& key);
/// With `expected`, the key's parameters must have its fingerprint (ParameterMismatch
/// otherwise). Throws SerializationError on invalid bytes.
CompressedServerKey deserialize_compressed_server_key(std::span<const std::uint8_t> bytes,
                                                      const PbsParameters* expected = nullptr);

/// Loads a serialized CompressedServerKey and expands it for computing (decompress_server_key:
/// masks regenerated, bootstrapping key to the Fourier domain). Throws like
/// deserialize_compressed_server_key, and SerializationError if the expanded key would exceed
/// kMaxExpandedServerKeyBytes. Without `expected`, the size of the expanded key is set by the
/// parameters inside the bytes: pass the parameters you expect to bound it.
ServerKey load_server_key(std::span<const std::uint8_t> bytes,
                          const PbsParameters* expected = nullptr);

/// The largest expanded server key load_server_key builds (64 GiB): a sanity bound against
/// crafted parameters, far above every preset (tfhe_8bit: about 5.5 GiB).
inline constexpr std::uint64_t kMaxExpandedServerKeyBytes = std::uint64_t{1} << 36;

/// The peak bytes of expanding a server key of `p` (what load_server_key bounds by
/// kMaxExpandedServerKeyBytes): the full keyswitching key, k*N*l_ks ciphertexts of n + 1 values at
/// 8 bytes; the bootstrapping key's G GGSWs of (k+1)^2 l N values at 16 bytes (its standard and
/// Fourier forms are alive together), G = n for a classic set and the multi-bit key's
/// ggsw_count() = (n div g)(2^g - 1) + 2^(n mod g) - 1 for grouping factor g > 1; for the Drift
/// kinds the noise reduction's windows, 2 bytes per zero and mask element. Precondition: p is well
/// formed (p.validate() would pass but for security); the result saturates at 2^64 - 1.
std::uint64_t expanded_server_key_bytes(const PbsParameters& p);

}  // namespace torusml::tfhe
