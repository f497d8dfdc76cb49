// Keys and encrypted execution of compiled circuits.
//
//  * ClientKeySet: the secret key(s): a TFHE client key for circuits with bootstraps, or one LWE
//    key for leveled circuits. Never leaves the client.
//  * EvaluationKeySet: keyswitching + bootstrapping keys (seeded for transport, expanded for
//    computing); empty for leveled circuits. Holds no secret.
//  * encrypt_inputs / run / decrypt_outputs: the client-server split; run() sees only
//    ciphertexts, clear inputs and evaluation keys.
// Every function checks that keys, programs and ciphertexts belong to the same parameters and
// throws ParameterMismatch otherwise; values that do not fit their encoding throw InvalidArgument.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/packed_lwe.h"
#include "torusml/tfhe/random.h"

namespace torusml::circuit {

struct ClientKeySet {
  CircuitParameters parameters;
  tfhe::ClientKey pbs_key;         // uses_pbs: partition 0
  tfhe::LweSecretKey leveled_key;  // !uses_pbs
  /// Multi-parameter circuits: the client keys of partitions 1.. (parameters.extra_partitions).
  std::vector<tfhe::ClientKey> extra_pbs_keys;
  /// The TFHE client key of partition p (< parameters.partition_count(); PBS circuits).
  const tfhe::ClientKey& partition_key(std::size_t p) const {
    return p == 0 ? pbs_key : extra_pbs_keys.at(p - 1);
  }
  /// The key that encrypts values of partition p (its big key; the LWE key of leveled circuits).
  const tfhe::LweSecretKey& encryption_key(std::size_t p = 0) const {
    return parameters.uses_pbs ? partition_key(p).big_key.as_lwe_key() : leveled_key;
  }
  /// PBS circuits: partition p's big key as the GLWE key that packed inputs are encrypted under.
  const tfhe::GlweSecretKey& glwe_encryption_key(std::size_t p = 0) const {
    return partition_key(p).big_key;
  }
  /// PBS circuits: the GLWE key packed inputs of partition p are encrypted under: the big key, or
  /// with small-key inputs the small key read as a GLWE key (CircuitParameters::
  /// input_glwe_dimension, input_polynomial_size).
  tfhe::GlweSecretKey input_encryption_key(std::size_t p = 0) const;
};

struct EvaluationKeySet {
  CircuitParameters parameters;
  std::optional<tfhe::CompressedServerKey> compressed;  // for transport (uses_pbs): partition 0
  std::optional<tfhe::ServerKey> server_key;            // expanded, for computing (uses_pbs)
  /// Multi-parameter circuits: the server keys of partitions 1.. (seeded, and once expanded), and
  /// the cross keyswitching keys, one per parameters.cross_keyswitches entry, in its order.
  std::vector<tfhe::CompressedServerKey> extra_compressed;
  std::vector<tfhe::ServerKey> extra_server_keys;
  std::vector<tfhe::SeededLweKeyswitchKey> cross_compressed;
  std::vector<tfhe::LweKeyswitchKey> cross_keys;
  /// Expands every compressed key (server keys and cross keyswitching keys) if not done yet.
  void expand();
  /// Whether every key run() needs is expanded.
  bool is_expanded() const;
  /// The expanded server key of partition p (precondition: is_expanded()).
  const tfhe::ServerKey& partition_server_key(std::size_t p) const {
    return p == 0 ? *server_key : extra_server_keys.at(p - 1);
  }
};

struct KeySet {
  ClientKeySet client;
  EvaluationKeySet evaluation;
};

/// Secret keys for `parameters`. Throws InvalidArgument unless parameters.validate() passes
/// (InsecureParameters below 128-bit security).
ClientKeySet generate_client_keys(const CircuitParameters& parameters, const tfhe::Seed& seed);
/// Seeded evaluation keys (expand() before running).
EvaluationKeySet generate_evaluation_keys(const ClientKeySet& client, const tfhe::Seed& seed);

/// Ciphertexts of one program value for a batch: shape (batch, *value_shape), one LWE ciphertext
/// per element, row-major. Inputs that encrypt_inputs() encrypts under a GLWE key come packed
/// (tfhe/packed_lwe.h: element i extracted from the GLWEs on use): then `packed` holds the
/// elements and `ciphertexts` is empty. Outputs are never packed.
struct EncryptedTensor {
  Shape shape;
  tfhe::LweCiphertextList ciphertexts;
  std::optional<tfhe::PackedLweCiphertextList> packed;

  /// The number of element ciphertexts, and their dimension, in either form.
  std::size_t size() const { return packed ? packed->size() : ciphertexts.size(); }
  tfhe::LweDimension dimension() const {
    return packed ? packed->dimension() : ciphertexts.dimension();
  }
};

/// Arguments of run(): encrypted inputs and clear inputs, each in program-input order.
struct RunArguments {
  std::vector<EncryptedTensor> encrypted;
  std::vector<Tensor> clear;  // batched clear inputs (batch, *shape)
};

/// Encrypts the encrypted inputs among `batched_inputs` (one tensor per program input; clear
/// inputs are copied into RunArguments::clear). PBS circuits pack each tensor's values in GLWE
/// ciphertexts of its partition's big key (tfhe/packed_lwe.h; N values per mask), or with
/// small-key inputs of the small key (ClientKeySet::input_encryption_key), leveled ones encrypt
/// one LWE ciphertext per value. Parallel.
RunArguments encrypt_inputs(const ClientKeySet& keys, const ClientSpecification& spec,
                            std::span<const Tensor> batched_inputs);

/// Throws InvalidArgument (naming the input and saying what to do) unless every value of
/// `values` fits the input's encoding: [0, 2^width) unsigned, [-2^(width-1), 2^(width-1)) signed.
void require_encodable(const ClientSpecification::Argument& input, const Tensor& values);

/// Runs the server program on encrypted arguments: one EncryptedTensor per program output
/// (clear outputs are trivially encrypted). Table lookups of all samples and elements run in
/// parallel on every core.
std::vector<EncryptedTensor> run(const ServerProgram& program, const RunArguments& arguments,
                                 const EvaluationKeySet& keys);

/// Decrypts outputs with the client keys.
std::vector<Tensor> decrypt_outputs(const ClientKeySet& keys, const ClientSpecification& spec,
                                    std::span<const EncryptedTensor> outputs);

/// The torus encoding of integer v: (v mod 2^(width+1)) * 2^(63 - width).
tfhe::Torus encode_value(std::int64_t v, unsigned width);
/// The integer nearest to phase / 2^(63 - width), read as a (width+1)-bit two's complement value.
std::int64_t decode_value(tfhe::Torus phase, unsigned width);

}  // namespace torusml::circuit
