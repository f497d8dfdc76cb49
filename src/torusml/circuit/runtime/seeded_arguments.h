// Run arguments in seeded (compressed) form: what a client uploads. Each encrypted tensor is a
// fresh 32-byte mask seed (random_seed(), never reused) and one body per element, so a ciphertext
// of dimension n costs 8 bytes instead of (n + 1) * 8: a tfhe::SeededPackedLweCiphertextList for
// PBS circuits (N elements per GLWE mask), a tfhe::SeededLweCiphertextList (a mask per element)
// for leveled ones. The receiver regenerates the masks (decompress_run_arguments) before run().
//
//   client:  const SeededRunArguments a = encrypt_inputs_seeded(ck, spec, inputs);
//            bytes = serialize_seeded_run_arguments(a, spec.parameters);   // serialization.h
//   server:  const RunArguments args = deserialize_run_arguments(bytes, sp.parameters);
//            // accepts the seeded and the full kind alike
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "torusml/circuit/runtime/runtime.h"
#include "torusml/tfhe/packed_lwe.h"
#include "torusml/tfhe/seeded_lwe.h"

namespace torusml::circuit {

/// A batch of one encrypted program input in seeded form: shape (batch, *value_shape), one body
/// per element, row-major. PBS circuits' inputs are packed (tfhe/packed_lwe.h): `packed` holds
/// them and `ciphertexts` is empty; leveled circuits' are one seeded LWE ciphertext per element.
struct SeededEncryptedTensor {
  Shape shape;
  tfhe::SeededLweCiphertextList ciphertexts;
  std::optional<tfhe::SeededPackedLweCiphertextList> packed;

  std::size_t size() const { return packed ? packed->size() : ciphertexts.size(); }
  tfhe::LweDimension dimension() const {
    return packed ? packed->dimension() : ciphertexts.dimension;
  }
};

/// Encrypted inputs in seeded form and clear inputs, each in program-input order.
struct SeededRunArguments {
  std::vector<SeededEncryptedTensor> encrypted;
  std::vector<Tensor> clear;
};

/// As encrypt_inputs(), in seeded form: every encrypted tensor gets its own mask seed from
/// tfhe::random_seed() and noise from another. Throws ParameterMismatch if the keys belong to other
/// parameters than the specification, InvalidArgument for wrong shapes or values outside their
/// encoding (require_encodable).
SeededRunArguments encrypt_inputs_seeded(const ClientKeySet& keys, const ClientSpecification& spec,
                                         std::span<const Tensor> batched_inputs);

/// The full ciphertexts (masks regenerated from the seeds; parallel); packed tensors stay packed.
RunArguments decompress_run_arguments(const SeededRunArguments& arguments);

}  // namespace torusml::circuit
