// Seeded LWE ciphertexts: fresh encryptions shipped as a 32-byte mask seed plus their bodies, so
// a list of c ciphertexts of dimension n costs c + 4 words instead of c (n + 1). Ciphertext i
// takes its mask from the ChaCha20 stream (mask_seed, i + 1); the receiver regenerates it.
// A mask seed must never be reused for another list (use random_seed()).
#pragma once

#include <span>
#include <vector>

#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

struct SeededLweCiphertextList {
  LweDimension dimension;
  Seed mask_seed{};
  std::vector<Torus> bodies;
  std::size_t size() const { return bodies.size(); }
  bool operator==(const SeededLweCiphertextList&) const = default;
};

/// Encrypts each plaintext (already encoded) under `key`; noise from `noise_rng`.
SeededLweCiphertextList encrypt_lwe_list_seeded(const LweSecretKey& key,
                                                std::span<const Torus> plaintexts,
                                                const NoiseDistribution& noise,
                                                const Seed& mask_seed, Csprng& noise_rng);

/// Regenerates the masks: the full ciphertexts. Parallel.
LweCiphertextList decompress_lwe_list(const SeededLweCiphertextList& seeded);
/// Ciphertexts first .. first + count - 1 only (a slice of the list, e.g. some rows of a batch).
/// Precondition (checked): first + count <= seeded.size().
LweCiphertextList decompress_lwe_list(const SeededLweCiphertextList& seeded, std::size_t first,
                                      std::size_t count);

}  // namespace torusml::tfhe
