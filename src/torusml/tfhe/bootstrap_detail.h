// Internal pieces of the bootstrap shared by its variants (bootstrap.cpp, many_lut.cpp): the
// accumulator's initialisation and the batch driver that keyswitches a batch and walks the
// bootstrapping key in lockstep groups over the thread pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/lwe.h"

namespace torusml::tfhe::detail {

/// The multi-bit bootstrapping key of `key` if its parameters are multi-bit, null for a classic
/// set. Throws InvalidArgument if the key does not hold the kind its parameters select.
const FourierMultiBitBootstrapKey* multi_bit_key(const ServerKey& key);

/// acc = (0, ..., 0, X^(-body) v), v the table's test polynomial (TFHE, Alg. 4, line 2).
void init_accumulator(const LookupTable& lut, std::uint32_t body, const GgswShape& g,
                      std::span<Torus> acc);

/// Ciphertexts per lockstep walk of a batch of `count` on the default pool: the threads get equal
/// shares, each cut into walks of about `lockstep` ciphertexts (up to twice that when it balances
/// the rounds); at least 1.
std::size_t lockstep_walk_size(std::size_t count, std::size_t lockstep);

/// Called per ciphertext before the blind rotation: the keyswitched ciphertext `small` of batch
/// element `index`; fills `switched` (n + 1 values) and the initial accumulator `acc`.
using PrepareBlindRotation = std::function<void(
    std::size_t index, LweView small, std::span<std::uint32_t> switched, std::span<Torus> acc)>;
/// Called per ciphertext after the blind rotation with its final accumulator.
using FinishBlindRotation = std::function<void(std::size_t index, std::span<const Torus> acc)>;

/// Keyswitches every ciphertext of `in` (under key's big key) and blind-rotates them in groups
/// that walk the bootstrapping key in lockstep: each GGSW is loaded from memory once per group
/// instead of once per ciphertext (the key is larger than the caches; its streaming bounds a lone
/// PBS). Groups are sized so that the threads get equal shares: about 4 ciphertexts, up to twice
/// that when it balances the rounds. `prepare` and `finish` run on the pool's threads, each index
/// once; they must only touch their own index's outputs.
/// Classic keys only (callers dispatch multi-bit keys first, multi_bit_key).
/// `keyswitch_key`, when given, replaces key.keyswitch_key (a cross keyswitching key from another
/// parameter set's big key to key's small key: multi-parameter circuits). With `small_inputs`,
/// `in` is already under key's small key: no keyswitch (keyswitch_key is then ignored).
void lockstep_keyswitch_blind_rotate(const ServerKey& key, const LweCiphertextList& in,
                                     const PrepareBlindRotation& prepare,
                                     const FinishBlindRotation& finish,
                                     const LweKeyswitchKey* keyswitch_key = nullptr,
                                     bool small_inputs = false);

}  // namespace torusml::tfhe::detail
