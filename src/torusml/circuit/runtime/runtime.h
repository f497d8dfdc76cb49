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
#include "torusml/tfhe/random.h"

namespace torusml::circuit {

struct ClientKeySet {
  CircuitParameters parameters;
  tfhe::ClientKey pbs_key;         // uses_pbs
  tfhe::LweSecretKey leveled_key;  // !uses_pbs
  const tfhe::LweSecretKey& encryption_key() const {
    return parameters.uses_pbs ? pbs_key.big_key.as_lwe_key() : leveled_key;
  }
};

struct EvaluationKeySet {
  CircuitParameters parameters;
  std::optional<tfhe::CompressedServerKey> compressed;  // for transport (uses_pbs)
  std::optional<tfhe::ServerKey> server_key;            // expanded, for computing (uses_pbs)
  /// Expands `compressed` into `server_key` if not done yet.
  void expand();
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
/// per element, row-major.
struct EncryptedTensor {
  Shape shape;
  tfhe::LweCiphertextList ciphertexts;
};

/// Arguments of run(): encrypted inputs and clear inputs, each in program-input order.
struct RunArguments {
  std::vector<EncryptedTensor> encrypted;
  std::vector<Tensor> clear;  // batched clear inputs (batch, *shape)
};

/// Encrypts the encrypted inputs among `batched_inputs` (one tensor per program input; clear
/// inputs are copied into RunArguments::clear). Parallel.
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
