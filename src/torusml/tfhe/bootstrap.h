// Programmable bootstrapping (TFHE, JoC 2020, Alg. 4; Chillotti et al., CSCML 2021).
//
// keyswitch_bootstrap(in) = sample_extract(blind_rotate(lut, modulus_switch(keyswitch(in)))):
// from an LWE ciphertext under the big key (dimension k*N) encrypting m * delta + e, it returns a
// fresh LWE ciphertext under the big key of lut(m), with noise independent of e as long as
// |e + keyswitch and modulus-switch errors| < delta / 2 (the failure probability is in
// noise_model.h).
//
// The batch functions run independent bootstraps on every core of the default thread pool.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"

namespace torusml::tfhe {

/// Blind rotation: acc (a (k+1)*N GLWE) <- X^(-(b - sum a_i s_i)) * lut, from the modulus-switched
/// values `switched` (n mask values then the body, each in [0, 2N)).
void blind_rotate(const FourierBootstrapKey& bsk, std::span<const std::uint32_t> switched,
                  const LookupTable& lut, std::span<Torus> acc);

/// The LWE ciphertext (dimension k*N) of the constant coefficient of a GLWE ciphertext.
void sample_extract(std::span<const Torus> glwe, GlweDimension k, PolynomialSize n, LweMutView out);

/// The LWE ciphertext (dimension k*N) of coefficient `coefficient` (< N) of a GLWE ciphertext:
/// with (A S)_j = sum_{t <= j} a_(j-t) s_t - sum_{t > j} a_(N+j-t) s_t, mask entry t is a_(j-t)
/// for t <= j and -a_(N+j-t) above, the body b_j. Coefficient 0 is sample_extract.
void sample_extract(std::span<const Torus> glwe, GlweDimension k, PolynomialSize n,
                    std::size_t coefficient, LweMutView out);

/// Bootstrap of a ciphertext under the small key (dimension n) into one under the big key.
/// Throws ParameterMismatch on dimension mismatches, and InvalidArgument for the Drift kinds,
/// which need the encryptions of zero (the overload below, or keyswitch_bootstrap).
void bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
               const LookupTable& lut, LweMutView out);
/// The same for every kind: the Drift kinds improve the input with `reduction` (the ServerKey's
/// ms_noise_reduction_key) before the modulus switch (modulus_switch.h).
void bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind,
               const ModulusSwitchNoiseReductionKey* reduction, LweView in, const LookupTable& lut,
               LweMutView out);

/// Keyswitch then bootstrap: big key -> big key, with the key's modulus switch kind (for the
/// Drift kinds, its encryptions of zero). `out` may not alias `in`. For a multi-bit key
/// (key.parameters.grouping_factor > 1) the multi-bit bootstrap (keyswitch_multi_bit_bootstrap,
/// multi_bit_bootstrap.h) with key.multi_bit_bootstrap_key. Throws InvalidArgument if the key does
/// not hold the bootstrapping key its parameters select, ParameterMismatch on dimensions or a
/// table of another N.
void keyswitch_bootstrap(const ServerKey& key, LweView in, const LookupTable& lut, LweMutView out);
LweCiphertext keyswitch_bootstrap(const ServerKey& key, LweView in, const LookupTable& lut);

/// out[i] = keyswitch_bootstrap(in[i], *tables[i]) for every i, on all cores. `tables` has one
/// entry per input or a single entry used for all. With `keyswitch_key` (a cross keyswitching key
/// of a multi-parameter circuit: another set's big key -> key's small key), inputs are under that
/// key's input key and are keyswitched with it instead of key.keyswitch_key; outputs are under
/// key's big key. For a multi-bit key, keyswitch_multi_bit_bootstrap_batch (with `keyswitch_key`
/// when given). Throws InvalidArgument on a size mismatch or a key that does not hold the
/// bootstrapping key its parameters select, ParameterMismatch on dimensions or a table of
/// another N.
void keyswitch_bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                               std::span<const LookupTable* const> tables, LweCiphertextList& out,
                               const LweKeyswitchKey* keyswitch_key = nullptr);

/// out[i] = bootstrap of in[i] by *tables[i] for every i, inputs already under key's small key
/// (dimension n: e.g. fresh encryptions under it, combined linearly): no keyswitch, on all cores
/// as keyswitch_bootstrap_batch (classic or multi-bit by the key), bit-identical to its
/// bootstraps after the keyswitch. Throws as keyswitch_bootstrap_batch (ParameterMismatch unless
/// the inputs have dimension n).
void bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                     std::span<const LookupTable* const> tables, LweCiphertextList& out);

}  // namespace torusml::tfhe
