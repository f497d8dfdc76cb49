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
// with C_G formed chunk by chunk of frequencies inside the multiply-accumulate, never stored,
// i.e. ceil(n/g) external products instead of n CMuxes. The Fourier transform of X^a is the
// evaluation of X^a at the FFT's roots, w_m^a: a table of the 2N powers of exp(i pi / N) and the
// exponent of each root, read from the FFT plan once per N (no transform per monomial).
// The combination reads (2^g - 1) GGSWs per group, so the key streamed per bootstrap is
// (2^g - 1)/g times the classic one (see multi_bit_bootstrap_key.h for its size); the batch
// functions read it once per lockstep walk of several ciphertexts. Per group and ciphertext the
// work is (k+1) l forward and k+1 inverse FFTs plus 4 (2^g) (k+1)^2 l real multiply-adds per
// frequency (the combination and the product).
//
// Output noise: variance_multi_bit_blind_rotation (noise_model.h); the modulus switch and hence
// the failure probability of a PBS at a given input noise are those of the classic bootstrap.
// The modulus switch kinds are Standard and CenteredMean: the Drift kinds (which need the server
// key's encryptions of zero, modulus_switch_noise_reduction.h) throw InvalidArgument here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/multi_bit_bootstrap_key.h"

namespace torusml::tfhe {

/// Tuning of the batch functions (the defaults are measured, see bench/bench_tfhe.cpp
/// pbs_multibit_batch; any values give the same results).
struct MultiBitBatchOptions {
  /// Bytes of one group's key read per tile: each tile is applied to every ciphertext of a
  /// lockstep walk while it is in cache. At least one chunk of kPackedChunk frequencies is used.
  std::size_t tile_bytes = std::size_t{64} << 10;
  /// Ciphertexts per lockstep walk (about; the batch is split evenly over the threads). 16 as
  /// for the classic batches: XGBClassifier with g = 2 went from 0.135 (4) to 0.128 s per sample.
  std::size_t lockstep = 16;
};

/// Multi-bit blind rotation: acc (a (k+1)*N GLWE) <- X^(-(b - sum a_i s_i)) * lut (plus noise),
/// from the modulus-switched values `switched` (n mask values then the body, each in [0, 2N)).
/// Per group, the combination C_G is never stored: for each chunk of frequencies it is formed in
/// registers and multiplied into the Fourier digits of ACC (one decomposition and (k+1) l forward
/// plus k+1 inverse FFTs per group). `threads` > 1 splits each group's FFTs (by polynomial) and
/// multiply-accumulate (by frequency) over the caller and threads - 1 helper threads; the result
/// is bit-identical for every thread count.
/// Throws ParameterMismatch if the table's N is not the key's.
void multi_bit_blind_rotate(const FourierMultiBitBootstrapKey& bsk,
                            std::span<const std::uint32_t> switched, const LookupTable& lut,
                            std::span<Torus> acc, std::size_t threads = 1);

/// Multi-bit blind rotations of several inputs in one lockstep walk, on the calling thread (run it
/// from a thread-pool task): accs[t] <- X^(-(b_t - sum a_ti s_i)) * (*tables[t]) from switched[t]
/// (n + 1 values in [0, 2N) each, e.g. a many-LUT switch's multiples of 2^theta), each group's
/// GGSWs read from memory once for all of them, in tiles of about tile_bytes of key
/// (MultiBitBatchOptions). Bit-identical to multi_bit_blind_rotate on each input. For batch
/// variants that prepare their own switched values (many_lut.h). Throws ParameterMismatch if a
/// table's N is not the key's; preconditions (checked): equal counts of switched, tables and
/// accs, switched[t].size() == n + 1, accs[t].size() == (k+1) N.
void multi_bit_blind_rotate_lockstep(const FourierMultiBitBootstrapKey& bsk,
                                     std::span<const std::span<const std::uint32_t>> switched,
                                     std::span<const LookupTable* const> tables,
                                     std::span<const std::span<Torus>> accs,
                                     std::size_t tile_bytes = MultiBitBatchOptions{}.tile_bytes);

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

/// out[i] = multi_bit_bootstrap(in[i], *tables[i]) for every i (inputs under the small key), on
/// all cores of the default thread pool. The batch is cut into lockstep walks of about
/// options.lockstep ciphertexts, one per pool task; a walk reads each group's (2^g - 1) GGSWs from
/// memory once for all its ciphertexts (tile by tile, see MultiBitBatchOptions). The outputs are
/// bit-identical to multi_bit_bootstrap's. `tables` has one entry per input or a single entry used
/// for all. Throws InvalidArgument on a table count mismatch, ParameterMismatch on a dimension or
/// polynomial-size mismatch.
void multi_bit_bootstrap_batch(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind,
                               const LweCiphertextList& in,
                               std::span<const LookupTable* const> tables, LweCiphertextList& out,
                               const MultiBitBatchOptions& options = {});

/// out[i] = keyswitch_multi_bit_bootstrap(in[i], *tables[i]) for every i (inputs under the big
/// key), as multi_bit_bootstrap_batch; the keyswitches of a walk share one pass over the
/// keyswitching key. Bit-identical to keyswitch_multi_bit_bootstrap. Throws as
/// multi_bit_bootstrap_batch.
void keyswitch_multi_bit_bootstrap_batch(const LweKeyswitchKey& ksk,
                                         const FourierMultiBitBootstrapKey& bsk,
                                         ModulusSwitchKind kind, const LweCiphertextList& in,
                                         std::span<const LookupTable* const> tables,
                                         LweCiphertextList& out,
                                         const MultiBitBatchOptions& options = {});

}  // namespace torusml::tfhe
