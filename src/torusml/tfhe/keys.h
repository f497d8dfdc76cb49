// Key sets of one KS-PBS parameter set.
//
//  * ClientKey: the secret keys (small LWE key, GLWE key whose flattening is the big LWE key).
//  * CompressedServerKey: the evaluation keys in seeded form (keyswitching and bootstrapping key
//    bodies + mask seeds, and for the Drift modulus switch kinds the encryptions of zero): what a
//    client sends to a server. No secret inside.
//  * ServerKey: the evaluation keys expanded for computing (bootstrapping key in the Fourier
//    domain). No secret inside.
// The bootstrapping key is the classic one (bootstrap_key.h) for grouping factor 1, the
// multi-bit one (multi_bit_bootstrap_key.h) of the parameters' grouping factor otherwise: one of
// the two, never both (the other member is left empty).
// Ciphertexts between operations are LWE ciphertexts under the big key (dimension k*N), encrypted
// with the GLWE noise (secure for dimension k*N by construction of the presets).
#pragma once

#include <cstdint>
#include <optional>

#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/multi_bit_bootstrap_key.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"

namespace torusml::tfhe {

struct ClientKey {
  PbsParameters parameters;
  LweSecretKey small_key;
  GlweSecretKey big_key;
};

struct CompressedServerKey {
  PbsParameters parameters;
  SeededLweKeyswitchKey keyswitch_key;
  /// Classic sets (parameters.grouping_factor 1) only; empty (default shape, no bodies) for
  /// multi-bit sets.
  SeededLweBootstrapKey bootstrap_key;
  /// Drift kinds only (uses_noise_reduction): the ms_noise_reduction.zeros_count encryptions of
  /// zero under the small key (modulus_switch_noise_reduction.h); empty otherwise.
  SeededLweCiphertextList ms_noise_reduction_zeros{};
  /// Multi-bit sets (parameters.is_multi_bit()) only: the seeded multi-bit bootstrapping key of
  /// grouping factor parameters.grouping_factor; nullopt for classic sets.
  std::optional<SeededLweMultiBitBootstrapKey> multi_bit_bootstrap_key{};
};

struct ServerKey {
  PbsParameters parameters;
  LweKeyswitchKey keyswitch_key;
  /// Classic sets only; empty (default shape, no data) for multi-bit sets.
  FourierBootstrapKey bootstrap_key;
  /// Drift kinds only: the expanded encryptions of zero; empty otherwise. The bootstraps of
  /// bootstrap.h that take a ServerKey use it.
  ModulusSwitchNoiseReductionKey ms_noise_reduction_key{};
  /// Multi-bit sets only: the Fourier multi-bit bootstrapping key; nullopt for classic sets. The
  /// bootstraps of bootstrap.h and many_lut.h that take a ServerKey dispatch on it.
  std::optional<FourierMultiBitBootstrapKey> multi_bit_bootstrap_key{};
};

/// Secret keys for `params` from `seed`. Throws InvalidArgument unless params.validate() passes
/// (InsecureParameters below 128-bit security).
ClientKey generate_client_key(const PbsParameters& params, const Seed& seed);
/// Evaluation keys in seeded form; `seed` drives masks and noise (use a fresh random_seed()).
/// For a multi-bit set, the multi-bit bootstrapping key instead of the classic one.
/// Throws InvalidArgument unless validate_client_key(client) passes (validity.h).
CompressedServerKey generate_compressed_server_key(const ClientKey& client, const Seed& seed);
/// Expands seeded evaluation keys: masks regenerated, bootstrapping key (classic or multi-bit)
/// to the Fourier domain.
/// Throws InvalidArgument unless validate_compressed_server_key(compressed) passes.
ServerKey decompress_server_key(const CompressedServerKey& compressed);
/// Shorthand for decompress_server_key(generate_compressed_server_key(client, seed)).
ServerKey generate_server_key(const ClientKey& client, const Seed& seed);

/// Encrypts a p-bit message (taken mod 2^p) under the big key. Signed values are two's complement.
LweCiphertext encrypt(const ClientKey& key, std::int64_t message, EncryptionGenerator& gen);
/// Decrypts to the unsigned p-bit message. Throws ParameterMismatch on a dimension mismatch.
std::uint64_t decrypt(const ClientKey& key, LweView ct);
/// Decrypts to a signed p-bit message in [-2^(p-1), 2^(p-1)).
std::int64_t decrypt_signed(const ClientKey& key, LweView ct);

}  // namespace torusml::tfhe
