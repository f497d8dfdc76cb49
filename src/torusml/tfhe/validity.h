// What a valid key of the TFHE engine is: the one place that states it for the key kinds (the
// parameter sets' own rule is PbsParameters::validate(), which includes 128-bit security).
// Serializers check a key before writing it, loaders after parsing it, and the key generators
// produce nothing else; the engine's hot paths (keyswitch, blind rotation) index keys without
// further checks, so a key that passes here is safe to use with ciphertexts of its parameters.
//
// Each function throws InvalidArgument naming the field, its value and the allowed value, and
// InsecureParameters (security.h) for parameters below 128-bit security.
#pragma once

#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/multi_bit_bootstrap_key.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// The keyswitching key's shape for `p`: big key (k*N) to small key (n), p.ks.
KeyswitchKeyShape keyswitch_key_shape(const PbsParameters& p);
/// The bootstrapping key's shape for `p`: n GGSWs of (k, N, p.pbs).
BootstrapKeyShape bootstrap_key_shape(const PbsParameters& p);
/// The multi-bit bootstrapping key's shape for a multi-bit `p` (p.grouping_factor in [2, 4]):
/// n, g = p.grouping_factor, GGSWs of (k, N, p.pbs). Throws InvalidArgument for another factor.
MultiBitBootstrapKeyShape multi_bit_bootstrap_key_shape(const PbsParameters& p);

/// A secret key of dimension n: n coefficients, each 0 or 1.
void validate_lwe_secret_key(const LweSecretKey& key, LweDimension n, const char* field);

/// p valid; small key of dimension n and big key of (k, N) with k*N coefficients, all binary.
void validate_client_key(const ClientKey& key);

/// p valid; seeded keyswitching and bootstrapping keys of the shapes p gives them, with one body
/// per ciphertext (keyswitch) and per GGSW row coefficient (bootstrap); for the Drift modulus
/// switch kinds ms_noise_reduction.zeros_count encryptions of zero of dimension n (none for the
/// other kinds). The bootstrapping key is of the kind p's grouping factor selects: the classic
/// key and no multi-bit key for 1, the multi-bit key (multi_bit_bootstrap_key_shape(p)) and an
/// empty classic key (default shape, no bodies) above.
void validate_compressed_server_key(const CompressedServerKey& key);

/// p valid; keyswitching key and Fourier bootstrapping key (classic or multi-bit, as for the
/// compressed key) of the shapes p gives them, with the data sizes those shapes imply; the noise
/// reduction key as for the compressed key, expanded for p's N and max_rounds with Z x n windows
/// (empty for the other kinds).
void validate_server_key(const ServerKey& key);

}  // namespace torusml::tfhe
