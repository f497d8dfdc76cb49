// Multi-bit programmable bootstrapping (Joye & Paillier, CSCML 2022; TFHE-rs core_crypto
// multi_bit_blind_rotate), over the key of multi_bit_bootstrap_key.h.
//
// For a group G of h small-key bits with modulus-switched mask values a_i, the group's rotation is
// X^(sum_{i in G} a_i s_i) = sum_{S subset of G} ind_S X^(a_S), a_S = sum_{i in S} a_i, and since
// the indicators sum to 1:
//   X^(sum a_i s_i) - 1 = sum_{S non-empty} ind_S (X^(a_S) - 1).
// The blind rotation therefore does, per group, ONE external product:
//   C_G = sum_{S non-empty} (X^(a_S) - 1) * GGSW(ind_S)      (combined in the Fourier domain)
//   ACC <- ACC + C_G [x] ACC,
// i.e. ceil(n/g) external products instead of n CMuxes. The Fourier transform of X^a is the
// evaluation of X^a at the FFT's roots, w_m^a: a table of the 2N powers of exp(i pi / N) and the
// exponent of each root, read from the FFT plan once per N (no transform per monomial).
// The combination reads (2^g - 1) GGSWs per group, so the key streamed per bootstrap is
// (2^g - 1)/g times the classic one; see multi_bit_bootstrap_key.h for its size.
//
// Output noise: variance_multi_bit_blind_rotation (noise_model.h); the modulus switch and hence
// the failure probability of a PBS at a given input noise are those of the classic bootstrap.
#pragma once

#include <cstdint>
#include <span>

#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/multi_bit_bootstrap_key.h"

namespace torusml::tfhe {

/// Multi-bit blind rotation: acc (a (k+1)*N GLWE) <- X^(-(b - sum a_i s_i)) * lut (plus noise),
/// from the modulus-switched values `switched` (n mask values then the body, each in [0, 2N)).
/// `threads` > 1 computes the combined GGSWs of the coming groups on threads - 1 helper threads
/// while the calling thread runs the external products (a pipeline: the result is the same).
/// Throws ParameterMismatch if the table's N is not the key's.
void multi_bit_blind_rotate(const FourierMultiBitBootstrapKey& bsk,
                            std::span<const std::uint32_t> switched, const LookupTable& lut,
                            std::span<Torus> acc, std::size_t threads = 1);

/// Multi-bit bootstrap of a ciphertext under the small key (dimension n) into one under the big
/// key (dimension k*N): modulus switch, multi-bit blind rotation, sample extraction. Throws
/// ParameterMismatch on dimension mismatches.
void multi_bit_bootstrap(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
                         const LookupTable& lut, LweMutView out, std::size_t threads = 1);

/// Keyswitch (big key -> small key) then multi-bit bootstrap. `out` may not alias `in`.
void keyswitch_multi_bit_bootstrap(const LweKeyswitchKey& ksk,
                                   const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind,
                                   LweView in, const LookupTable& lut, LweMutView out,
                                   std::size_t threads = 1);

}  // namespace torusml::tfhe
