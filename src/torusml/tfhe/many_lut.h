// Several lookups on one input from one bootstrap: PBSmanyLUT (Chillotti, Ligier, Orfila, Tap,
// "Improved Programmable Bootstrapping with Larger Precision and Efficient Arithmetic Circuits
// for TFHE", ASIACRYPT 2021, Sec. 3).
//
// Packing. Let c tables f_0 ... f_(c-1) of p-bit inputs share one test polynomial, theta =
// ceil(log2 c), slots of 2^theta consecutive coefficients. The modulus switch rounds the input
// to a multiple of 2^theta in Z_2N (a switch to 2N / 2^theta, then times 2^theta: the low theta
// bits of every switched value are zero), so the blind rotation turns the test polynomial by
// whole slots, and coefficient j of the rotated accumulator is coefficient j of the first slot:
//   v[s 2^theta + j] = u_j[s],   s in [0, N / 2^theta),  j in [0, 2^theta),
// where u_j is the single table of f_j (lookup_table.h) for a polynomial of N / 2^theta: box m
// covers the slots [m S - S/2, m S + S/2), S = N / 2^(p + theta), and the half box below 0 holds
// -f_j(0). One blind rotation then gives all c outputs, sample-extracted at coefficients
// 0 ... c-1 (slots j >= c, when c is not a power of two, hold zeros and are never extracted).
// Each output is exactly a PBS of f_j with polynomial size N / 2^theta: the same negacyclic
// behaviour (an input with its padding bit set gives -f_j(m - 2^p)), and the output noise of the
// classic blind rotation with the full N (the same n external products by the same key; every
// coefficient of the accumulator has the variance of variance_blind_rotation).
//
// Inputs are p-bit messages with one bit of padding, m * 2^(63 - p): with a parameter set of P
// message bits and p = P - theta, the P-bit messages m * 2^theta, "the low theta bits free".
//
// Noise and failure. The read fails when the error entering the blind rotation reaches half a
// box, 2^-(p+2) of the torus. The modulus switch to 2N / 2^theta has 4^theta times the variance
// of the switch to 2N (the rounding step is 2^theta times wider), so, with E = e_in + e_ks:
//   p_fail = P(|E + e_ms(N / 2^theta)| >= 2^-(p+2))                       (exact, Gaussian)
//          = P(|2^-theta E + e_ms(N)| >= 2^-(p+theta+2))                   (scaled by 2^-theta)
//         <= P(|E + e_ms(N)| >= 2^-(p+theta+2)),
// the failure probability of an ordinary (p + theta)-bit read of the same ciphertext: equal when
// the modulus switch dominates, conservative by the factor 4^theta on Var(E) otherwise. So a
// many-LUT bootstrap is, for the noise budget, a read of p + theta bits (many_lut_pbs_noise gives
// the exact figure), and needs N >= 2^(p + theta + 1), as a (p + theta)-bit table.
// The Drift kinds (modulus_switch_noise_reduction.h) reduce the error of the switch actually
// made, to 2N / 2^theta: the encryptions of zero are expanded for that switch
// (many_lut_noise_reduction_key). Their rounding part scales by 4^theta as above and the zeros'
// noise does not, so the bound holds for them too.
// Multi-bit keys (PbsParameters::grouping_factor > 1): the multi-bit blind rotation
// (multi_bit_bootstrap.h) rotates by the same sum_i a_i s_i for any switched values in [0, 2N),
// so it takes the coarser switch's multiples of 2^theta unchanged; the failure analysis above
// holds as it is, and the outputs have the multi-bit rotation's variance (variance_pbs_output).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "torusml/tfhe/bootstrap_key.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/multi_bit_bootstrap_key.h"
#include "torusml/tfhe/noise_model.h"

namespace torusml::tfhe {

/// c tables of p-bit inputs packed into one test polynomial (layout above).
struct ManyLookupTable {
  unsigned input_bits = 0;  // p
  unsigned log2_slots = 0;  // theta = ceil(log2 count): the period of the interleaving
  std::size_t count = 0;    // c tables, outputs 0 ... c-1 (1 <= c <= 2^theta)
  LookupTable packed;       // the test polynomial v (packed.input_bits = p)
  PolynomialSize polynomial_size() const { return packed.polynomial_size(); }
};

/// Packs c = outputs.size() tables: outputs[j][m] is f_j(m) (already encoded), for m in
/// [0, 2^input_bits). Throws InvalidArgument if c == 0, a table does not have 2^input_bits
/// values, or N < 2^(input_bits + ceil(log2 c) + 1).
ManyLookupTable make_many_lookup_table(PolynomialSize n, unsigned input_bits,
                                       std::span<const std::vector<Torus>> outputs);

/// Tables for the functions fs on p = P - theta bit inputs, P = params.message_bits, theta =
/// ceil(log2 fs.size()), outputs encoded as P-bit messages (taken mod 2^P). Inputs are
/// encrypted as the P-bit messages m * 2^theta (encode_message(m, p)). Throws InvalidArgument
/// if theta >= P, or as above.
ManyLookupTable make_many_lookup_table(
    const PbsParameters& params, std::span<const std::function<std::int64_t(std::uint64_t)>> fs);

/// The modulus switch of a many-LUT bootstrap: modulus_switch to 2N / 2^log2_slots (with
/// `reduction`, expanded for that switch, for the Drift kinds), each value then multiplied by
/// 2^log2_slots (n + 1 values in [0, 2N), multiples of 2^log2_slots). With log2_slots = 0,
/// modulus_switch itself. Precondition: N >= 2^log2_slots. Throws as modulus_switch
/// (InvalidArgument for a Drift kind without zeros, ParameterMismatch for zeros expanded for
/// another N).
void many_lut_modulus_switch(LweView in, PolynomialSize n, unsigned log2_slots,
                             ModulusSwitchKind kind,
                             const ModulusSwitchNoiseReductionKey* reduction,
                             std::span<std::uint32_t> out);

/// The encryptions of zero of a Drift-kind server key expanded for the switch to
/// 2N / 2^log2_slots (its windows recomputed: about zeros_count * n words of ChaCha20); empty for
/// the other kinds.
ModulusSwitchNoiseReductionKey many_lut_noise_reduction_key(const ServerKey& key,
                                                            unsigned log2_slots);

/// Many-LUT bootstrap of a ciphertext under the small key (dimension n): out[j] (dimension k*N)
/// encrypts f_j(m) for j < lut.count. `reduction`: for the Drift kinds, the zeros expanded for
/// the table's slots (many_lut_noise_reduction_key), ignored by the others (may be null). Throws
/// ParameterMismatch on a dimension or polynomial-size mismatch, InvalidArgument if
/// out.size() != lut.count, and as many_lut_modulus_switch.
void many_lut_bootstrap(const FourierBootstrapKey& bsk, ModulusSwitchKind kind,
                        const ModulusSwitchNoiseReductionKey* reduction, LweView in,
                        const ManyLookupTable& lut, std::span<const LweMutView> out);

/// The same with a multi-bit key: many_lut_modulus_switch then multi_bit_blind_rotate. Standard
/// and CenteredMean only (InvalidArgument for the Drift kinds). Throws as above.
void many_lut_bootstrap(const FourierMultiBitBootstrapKey& bsk, ModulusSwitchKind kind, LweView in,
                        const ManyLookupTable& lut, std::span<const LweMutView> out);

/// Keyswitch (big key -> small key) then many-LUT bootstrap, with the key's modulus switch kind
/// (for the Drift kinds, its zeros expanded for the switch at every call: prefer the batch form,
/// which expands them once); `out` may not alias `in`. With a multi-bit key
/// (key.parameters.grouping_factor > 1), the multi-bit overload above with
/// key.multi_bit_bootstrap_key. Throws as many_lut_bootstrap, and InvalidArgument if the key does
/// not hold the bootstrapping key its parameters select.
void keyswitch_many_lut_bootstrap(const ServerKey& key, LweView in, const ManyLookupTable& lut,
                                  std::span<const LweMutView> out);
std::vector<LweCiphertext> keyswitch_many_lut_bootstrap(const ServerKey& key, LweView in,
                                                        const ManyLookupTable& lut);

/// out[j][i] = output j of keyswitch_many_lut_bootstrap(in[i], *tables[i]) for every i, on all
/// cores, bootstraps walking the key in lockstep as keyswitch_bootstrap_batch does; bit-identical
/// to the single form (the Drift kinds' zeros expanded once per call). `tables` has one entry per
/// input or a single entry used for all; all have the same count c, and `out` is resized to c lists
/// of in.size() ciphertexts. With a multi-bit key, the walks are those of
/// keyswitch_multi_bit_bootstrap_batch (multi_bit_blind_rotate_lockstep), bit-identical to the
/// single form. Throws InvalidArgument on a size or count mismatch (or a key without the
/// bootstrapping key its parameters select), ParameterMismatch on a dimension or polynomial-size
/// mismatch.
void keyswitch_many_lut_bootstrap_batch(const ServerKey& key, const LweCiphertextList& in,
                                        std::span<const ManyLookupTable* const> tables,
                                        std::vector<LweCiphertextList>& out);

/// The exact noise of a many-LUT KS-PBS reading p = input_bits bits with 2^log2_slots slots on
/// parameters `p` (p.message_bits is not used): pbs_noise's terms with the modulus switch to
/// 2N / 2^log2_slots (variance_modulus_switch for N / 2^log2_slots: 4^log2_slots times the
/// rounding variance for N) and the failure probability
/// P(|e| >= 2^-(input_bits + 2)); the output variance is variance_pbs_output(p)'s (classic or
/// multi-bit by p.grouping_factor). It is at most
/// pbs_noise's for a (input_bits + log2_slots)-bit read (header comment).
PbsNoise many_lut_pbs_noise(const PbsParameters& p, unsigned input_bits, unsigned log2_slots,
                            double input_variance, double two_norm);

}  // namespace torusml::tfhe
