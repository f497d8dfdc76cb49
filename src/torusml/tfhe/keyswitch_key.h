// LWE keyswitching (TFHE, JoC 2020, Alg. 1 "TFHE keyswitching", here without the trivial
// "public functional" part): from a ciphertext under the big key s (dimension kN) to one under the
// small key s' (dimension n). The key holds, for every input coefficient t and level j, an LWE
// encryption under s' of s_t * q / B^j; keyswitching computes (0, b) - sum_{t,j} dec_j(a_t)
// KSK[t][j].
//
// Forms: LweKeyswitchKey (full) and SeededLweKeyswitchKey (bodies + mask seed, 1/(n+1) of the
// size). Row t takes its masks from the ChaCha20 stream (mask_seed, t + 1) and its noise from
// (noise_seed, t + 1).
#pragma once

#include <span>
#include <vector>

#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

struct KeyswitchKeyShape {
  LweDimension input_lwe_dimension;
  LweDimension output_lwe_dimension;
  DecompositionParameters decomposition;
  /// Ciphertexts in the key: input dimension * levels.
  std::size_t ciphertexts() const {
    return input_lwe_dimension.value() * decomposition.level_count.value();
  }
  bool operator==(const KeyswitchKeyShape&) const = default;
};

struct LweKeyswitchKey {
  KeyswitchKeyShape shape;
  std::vector<Torus> data;  // ciphertexts() LWE ciphertexts of dimension output + 1, row-major
  bool operator==(const LweKeyswitchKey&) const = default;
};

struct SeededLweKeyswitchKey {
  KeyswitchKeyShape shape;
  Seed mask_seed{};
  std::vector<Torus> bodies;  // one per ciphertext
  bool operator==(const SeededLweKeyswitchKey&) const = default;
};

/// Encryptions under `output_key` of input_key's bits times q / B^j. Parallel.
SeededLweKeyswitchKey generate_seeded_keyswitch_key(const LweSecretKey& input_key,
                                                    const LweSecretKey& output_key,
                                                    DecompositionParameters decomposition,
                                                    const NoiseDistribution& noise,
                                                    const Seed& mask_seed, const Seed& noise_seed);

/// Regenerates the masks of a seeded key. Parallel.
LweKeyswitchKey decompress_keyswitch_key(const SeededLweKeyswitchKey& seeded);

/// out = keyswitch of `in` (dimension input) to the output key (dimension output).
/// Throws ParameterMismatch if the dimensions do not match the key.
void keyswitch(const LweKeyswitchKey& key, LweView in, LweMutView out);

/// out[g] = keyswitch of in[g] for a small group, reading each row of the key once for the whole
/// group (the key is larger than the caches: its streaming bounds a lone keyswitch).
void keyswitch_group(const LweKeyswitchKey& key, std::span<const LweView> in,
                     std::span<const LweMutView> out);

}  // namespace torusml::tfhe
