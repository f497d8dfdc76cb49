// LWE keyswitching (TFHE, JoC 2020, Alg. 1 "TFHE keyswitching", here without the trivial
// "public functional" part): from a ciphertext under the big key s (dimension kN) to one under the
// small key s' (dimension n). The key holds, for every input coefficient t and level j, an LWE
// encryption under s' of s_t * q / B^j; keyswitching computes (0, b) - sum_{t,j} dec_j(a_t)
// KSK[t][j].
//
// The key lives modulo 2^32 (the top 32 bits of the torus; "KS32", as in TFHE-rs's KS32
// parameter sets): its masks are uniform modulo 2^32 and its bodies carry the noise rounded to
// 2^-32, which adds 2^-64/12 to each entry's variance (noise_model.h). Keyswitching is bound by
// streaming the key (kN * l ciphertexts), so this halves its time and the key's size. The output
// is exact modulo 2^32 in the top bits of the mask; the body keeps the input body's 64 bits.
// Requires base_log * level_count <= 32 (the gadget values must be multiples of 2^-32).
//
// Forms: LweKeyswitchKey (full) and SeededLweKeyswitchKey (bodies + mask seed, 1/(n+1) of the
// size). Row t takes its masks from the ChaCha20 stream (mask_seed, t + 1), the top 32 bits of
// each 64-bit draw, and its noise from (noise_seed, t + 1).
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

/// The key's modulus 2^32, as the torus' top 32 bits.
using KeyswitchTorus = std::uint32_t;

struct LweKeyswitchKey {
  KeyswitchKeyShape shape;
  // ciphertexts() LWE ciphertexts (mod 2^32) of dimension output + 1, row-major
  std::vector<KeyswitchTorus> data;
  bool operator==(const LweKeyswitchKey&) const = default;
};

struct SeededLweKeyswitchKey {
  KeyswitchKeyShape shape;
  Seed mask_seed{};
  std::vector<KeyswitchTorus> bodies;  // one per ciphertext
  bool operator==(const SeededLweKeyswitchKey&) const = default;
};

/// Encryptions under `output_key` of input_key's bits times q / B^j (mod 2^32). Parallel.
/// Throws InvalidArgument if base_log * level_count > 32.
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

/// keyswitch_group of in[begin, begin + out.size()) into `out` (a list of the key's output
/// dimension).
void keyswitch_range(const LweKeyswitchKey& key, const LweCiphertextList& in, std::size_t begin,
                     LweCiphertextList& out);

}  // namespace torusml::tfhe
