// Fresh LWE encryptions packed in GLWE ciphertexts: how a client encrypts a circuit's inputs.
//
// A GLWE ciphertext (A_0, ..., A_{k-1}, B = sum_i A_i S_i + M + E) of polynomial size N encrypts N
// plaintexts, one per coefficient of M. Sample extraction of coefficient j (bootstrap.h) turns it
// into an LWE ciphertext of M_j under the big key (the GLWE key read as an LWE key of dimension
// k*N), whose noise is the coefficient E_j: the noise of a fresh LWE encryption under that key
// with the GLWE noise. So a list of `count` inputs costs ceil(count / N) masks of k*N uniform
// values instead of one mask of k*N values per input: the client's randomness, the receiver's mask
// regeneration and the full form's size (k + 1) * N values per N inputs instead of N (k*N + 1)
// all shrink about N-fold. Security is that of the GLWE samples the bootstrapping key already
// publishes under the same key and noise (GLWE, TFHE JoC 2020 Sec. 3.1; packing as in the
// "compact" ciphertext lists of TFHE-rs).
//
// Element i of a list is coefficient (offset + i) % N of GLWE (offset + i) / N. Body coefficients
// that hold no element are zero and never computed: (A S)_j alone, without noise, would be an
// exact linear equation in the secret key.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

/// Packed ciphertexts in full form (masks present): what a server computes on.
struct PackedLweCiphertextList {
  GlweCiphertextList glwes;
  std::size_t offset = 0;  // coefficient of element 0 in glwes[0], < N
  std::size_t count = 0;

  std::size_t size() const { return count; }
  /// The dimension of the extracted LWE ciphertexts, k*N.
  LweDimension dimension() const {
    return LweDimension(glwes.glwe_dimension().value() * glwes.polynomial_size().value());
  }
};

/// Packed ciphertexts in seeded form (what a client uploads): GLWE g's masks are the ChaCha20
/// stream (mask_seed, g + 1), k*N uniform values; one body coefficient per element (element i is
/// coefficient i % N of GLWE i / N). 8 bytes per element plus the seed.
struct SeededPackedLweCiphertextList {
  GlweDimension glwe_dimension;
  PolynomialSize polynomial_size;
  Seed mask_seed{};
  std::vector<Torus> bodies;
  std::size_t size() const { return bodies.size(); }
  LweDimension dimension() const {
    return LweDimension(glwe_dimension.value() * polynomial_size.value());
  }
  bool operator==(const SeededPackedLweCiphertextList&) const = default;
};

/// An LWE secret key of dimension d read as a GLWE key of polynomial size N and dimension d / N
/// (polynomial i = bits i*N .. i*N + N - 1), so that elements packed under it extract to LWE
/// ciphertexts under `key` itself: how inputs are packed under a small key (circuit/runtime.h).
/// Security rests on module-LWE of rank d / N over Z[X]/(X^N + 1), which the usual estimates
/// (the lattice estimator, as for every GLWE set of TFHE) rate as LWE of dimension d with the
/// same noise: no known attack gains from the module structure (N = 1 is LWE itself).
/// Precondition (checked): N a power of two dividing d.
GlweSecretKey lwe_key_as_glwe_key(const LweSecretKey& key, PolynomialSize polynomial_size);

/// Encrypts each plaintext (already encoded) under `key`, N per GLWE; masks from `mask_seed`
/// (never reuse one), noise from `noise_rng`. Parallel over the GLWEs.
SeededPackedLweCiphertextList encrypt_lwe_list_packed_seeded(const GlweSecretKey& key,
                                                             std::span<const Torus> plaintexts,
                                                             const NoiseDistribution& noise,
                                                             const Seed& mask_seed,
                                                             Csprng& noise_rng);
/// The same in full form (equal to decompressing the seeded form of the same seeds).
PackedLweCiphertextList encrypt_lwe_list_packed(const GlweSecretKey& key,
                                                std::span<const Torus> plaintexts,
                                                const NoiseDistribution& noise,
                                                const Seed& mask_seed, Csprng& noise_rng);

/// Elements first .. first + count - 1 in full form (masks regenerated; parallel). Precondition
/// (checked): first + count <= seeded.size().
PackedLweCiphertextList decompress_packed_lwe_list(const SeededPackedLweCiphertextList& seeded,
                                                   std::size_t first, std::size_t count);
PackedLweCiphertextList decompress_packed_lwe_list(const SeededPackedLweCiphertextList& seeded);

/// Elements first .. first + count - 1 of a full list (the GLWEs holding them are copied).
/// Precondition (checked): first + count <= list.size().
PackedLweCiphertextList slice_packed_lwe_list(const PackedLweCiphertextList& list,
                                              std::size_t first, std::size_t count);

/// Element i as an LWE ciphertext of dimension k*N (sample extraction). Preconditions (checked):
/// i < list.size(), out of dimension k*N.
void extract_lwe(const PackedLweCiphertextList& list, std::size_t i, LweMutView out);

/// acc += c * element i, without materializing it: the extraction's index reversal folded into the
/// multiply-accumulate (acc holds k*N + 1 values). Precondition (checked): i < list.size().
void add_scaled_extracted(std::span<Torus> acc, const PackedLweCiphertextList& list, std::size_t i,
                          Torus c);

/// Every element as an LWE ciphertext (parallel).
LweCiphertextList unpack_lwe_list(const PackedLweCiphertextList& list);

}  // namespace torusml::tfhe
