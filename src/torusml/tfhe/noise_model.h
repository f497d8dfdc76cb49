// Closed-form noise variances of every TFHE operation, and the failure probability of a PBS.
//
// All variances are in torus units (fractions of q = 2^64, squared). Keys are binary and uniform:
// E[s] = 1/2, E[s^2] = 1/2. Derivations follow TFHE (Chillotti et al., JoC 2020, Thm. 3.13 and
// Lemma 4.3) and Bergerat et al., "Parameter Optimization and Larger Precision for (T)FHE",
// JoC 2023, Sec. 3; each function states its formula.
//
// A PBS fails when the error entering the blind rotation, in its input encoding,
//   e = e_in + e_ks + e_ms   (linear-combination noise, keyswitch, modulus switch)
// reaches half a message step, delta / 2 = 2^-(p+2): p_fail = P(|e| >= delta/2) = erfc(...).
#pragma once

#include <optional>

#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/multi_bit_bootstrap_key.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// Variance of a fresh encryption: the distribution's variance.
double variance_fresh(const NoiseDistribution& d);

/// Variance added to each keyswitching-key entry by rounding its noise to 2^-32 (the key lives
/// modulo 2^32, keyswitch_key.h): 2^-64 / 12.
inline constexpr double kKeyswitchKeyRoundingVariance = 0x1p-64 / 12.0;

/// Additive variance of an LWE keyswitch from dimension K with a key encrypted at noise d:
///   K/2 * B^(-2l)/12 (rounding of the decomposition, E[s^2] = 1/2)
/// + K * l * (B^2 + 2)/12 * (Var(d) + 2^-64/12) (key noise, rounded to the key's 32 bits, times
///   the digits, E[digit^2] = (B^2+2)/12).
double variance_keyswitch(LweDimension input, DecompositionParameters ks,
                          const NoiseDistribution& d);

/// Variance of the modulus switch to 2N of an LWE ciphertext of dimension n. Each rounding error
/// is uniform of width 1/(2N), variance 1/(48 N^2):
///   Standard:     (1 + n/2) / (48 N^2)   (body + sum of e_i s_i)
///   CenteredMean: (1 + n/4) / (48 N^2)   (body + sum of e_i (s_i - 1/2))
/// i.e. modulus_switch_error_steps2(n, kind) / (4 N^2). The Drift kinds (noise reduction,
/// modulus_switch_noise_reduction.h) with Z = r.zeros_count and R = r.max_rounds:
///   modulus_switch_error_steps2(n, kind, r) / (4 N^2)
///   + expected_noise_reduction_rounds(Z, R).applied * Var(r.zeros_noise)   (the zeros' noise);
/// with Z = 0 or R = 0 (no reduction, e.g. `r` left at its default) they equal Standard and
/// CenteredMean: callers with a parameter set should use the PbsParameters overload. The failure
/// probability uses this variance with a Gaussian tail, as for the other kinds (given the
/// ciphertext, the error is a sum of independent bounded terms with the measure as variance; the
/// selection narrows the spread of that variance).
double variance_modulus_switch(LweDimension n, PolynomialSize N, ModulusSwitchKind kind,
                               const ModulusSwitchNoiseReduction& r = {});
/// The same for p's n, N, kind and p.ms_noise_reduction.
double variance_modulus_switch(const PbsParameters& p);

/// Expected squared modulus-switch error in squared steps (a step is 1/(2N) of the torus),
/// averaged over uniform binary keys and ciphertexts: the mean of the measure M of
/// modulus_switch_noise_reduction.h after the reduction. It does not depend on N.
///   Standard 1/12 + n/24, CenteredMean 1/12 + n/48 (u_i = e_i uniform: E u^2 = 1/12).
/// Drift kinds: the greedy search picks, in each round, the smallest M among the current
/// ciphertext and 2Z candidates that are (to a good approximation, checked by
/// tests/tfhe/ms_noise_reduction_slow_test.cpp) independent draws of M. Since it only compares
/// draws, the final value's rank U = F(M_final) (F the CDF of one draw) has a distribution free of
/// F: with m = 2Z and the recursion a_0 = 1, a_r(v) = m (1-v)^(m-1) int_v^1 a_(r-1) (rounds that
/// improved; round r+1 fails with probability (1-u)^m), a_r(v) = C_r (1-v)^(r m) with
/// C_0 = 1, C_r = C_(r-1) m / ((r-1) m + 1), so that
///   P(U > v) = sum_{r<R} C_r (1-v)^((r+1)m+1) / ((r+1)m+1) + C_R (1-v)^(Rm+1) / (Rm+1),
/// and E[M_final] = int_0^inf P(U > F(y)) dy (one-dimensional quadrature). F per kind:
///  * DriftCenteredMean: M = e_b'^2 + sum_i e_i^2 / 4, a sum of n + 1 independent bounded terms:
///    mean 1/12 + n/48, variance (1 + n/16)/180, third cumulant (1 + n/64)/3780; F is the
///    Edgeworth (skewness) expansion around the normal distribution;
///  * Drift: M = (e_b - sum_i e_i / 2)^2 + sum_i e_i^2 / 4, the first term sigma_1^2 chi^2_1 with
///    sigma_1^2 = 1/12 + n/48 (a normal variable squared), the second normal with mean n/48 and
///    variance n/2880, nearly independent (uncorrelated); F is their convolution (quadrature).
/// Against Monte-Carlo simulations of the search (n = 918, Z = 64 ... 4096, R = 1 ... 4) the
/// model is within 0.2%. Typical values, n = 918 (CenteredMean 19.21): DriftCenteredMean with
/// Z = 1024 is 17.27 for R = 1 and 17.17 for R = 2 (-10.1%, -10.6%); Drift 17.65 and 17.52.
double modulus_switch_error_steps2(LweDimension n, ModulusSwitchKind kind,
                                   const ModulusSwitchNoiseReduction& r = {});

/// Expected rounds of the noise reduction with Z zeros and at most R rounds (above): scans
/// performed, 1 + sum_{1<=r<R} C_r / (r m + 1), and zeros applied, sum_{1<=r<=R} C_r / (r m + 1)
/// (each round after the first improves with probability about 1/round). Both 0 if Z or R is 0.
struct NoiseReductionRounds {
  double scans = 0, applied = 0;
};
NoiseReductionRounds expected_noise_reduction_rounds(std::size_t zeros_count,
                                                     std::size_t max_rounds);

/// Additive variance of one external product with a GGSW of a bit (averaged over bit = 0 or 1):
///   (k+1) l N (B^2+2)/12 Var(bsk)        (GGSW noise times the digits)
/// + 1/2 (1 + k N / 2) B^(-2l) / 12       (decomposition rounding, only when the bit is 1)
/// + variance_fft_external_product(...)   (double-precision FFT error)
/// `backend`: the FFT whose error to count; by default the least accurate one (conservative:
/// parameters chosen with it hold on every machine).
double variance_external_product(GlweDimension k, PolynomialSize N, DecompositionParameters pbs,
                                 const NoiseDistribution& bsk_noise,
                                 std::optional<FftBackendKind> backend = std::nullopt);

/// Phase error of the double-precision FFT in one external product, fitted on this engine's
/// FFT (tests/tfhe/noise_test.cpp re-measures it). Products of digits (|d| <= B/2) and key
/// coefficients (|x| < 2^63) lose their bits below 2^(64-53) of their magnitude; the rounding
/// accumulates over the (k+1) l rows and the log2(N) butterfly stages, and the errors of the k
/// mask polynomials reach the phase multiplied by the key (factor 1 + kN/2):
///   2^c (k+1) l N B^2 2^(2 (64 - 53)) / q^2 log2(N) (1 + k N / 2),
/// with c fitted per backend (fft_error_log2_constant); by default the largest (conservative).
double variance_fft_external_product(GlweDimension k, PolynomialSize N, DecompositionParameters pbs,
                                     std::optional<FftBackendKind> backend = std::nullopt);

/// The fitted constant c of the FFT error of `backend` (log2), rounded up from measurements
/// over N = 256 ... 16384: scalar -6.1 (measured -6.36 ... -5.95), AVX2 -6.85 (-7.29 ... -6.79),
/// AVX-512 -6.55 (-7.11 ... -6.57).
double fft_error_log2_constant(FftBackendKind backend);

/// Variance of a PBS output: n external products (one CMux per small-key bit).
double variance_blind_rotation(LweDimension n, GlweDimension k, PolynomialSize N,
                               DecompositionParameters pbs, const NoiseDistribution& bsk_noise,
                               std::optional<FftBackendKind> backend = std::nullopt);

/// Variance of the output of a PBS of `p`, by its blind rotation: variance_blind_rotation for a
/// classic set (p.grouping_factor 1), variance_multi_bit_blind_rotation with g =
/// p.grouping_factor for a multi-bit one. The variance of every ciphertext a KS-PBS of `p`
/// returns (pbs_noise(...).output); use it rather than variance_blind_rotation whenever a
/// parameter set is at hand.
double variance_pbs_output(const PbsParameters& p,
                           std::optional<FftBackendKind> backend = std::nullopt);

/// The terms of one KS-PBS, for printing and for tests.
struct PbsNoise {
  double input = 0;           // nu^2 * (variance of the ciphertexts combined before the PBS)
  double keyswitch = 0;       // additive
  double modulus_switch = 0;  // additive (with the Drift kinds' zeros noise)
  double total = 0;           // input + keyswitch + modulus_switch: the error at decoding
  double output = 0;          // variance of the PBS result (blind rotation)
  double log2_p_fail = 0;     // log2 P(|error| >= delta / 2)
};

/// Noise of a KS-PBS whose input is a linear combination of 2-norm `two_norm` of ciphertexts of
/// variance `input_variance` (e.g. variance_pbs_output(p) for PBS outputs). The output term is
/// variance_pbs_output(p): classic or multi-bit by p.grouping_factor (the input, keyswitch and
/// modulus switch terms, hence the failure probability, do not depend on it).
PbsNoise pbs_noise(const PbsParameters& p, double input_variance, double two_norm);

/// log2 of the failure probability of one PBS of `p` on a combination of PBS outputs of `p`
/// (variance_pbs_output) with 2-norm p.max_two_norm: the figure each preset is published with.
double log2_pbs_failure_probability(const PbsParameters& p);

/// Additive variance of the multi-bit blind rotation's step for one group of h bits
/// (multi_bit_bootstrap.h): ACC <- ACC + C [x] ACC with C = sum_{S != {}} (X^(a_S) - 1)
/// GGSW(ind_S). Derivation, a_S uniform in [0, 2N) (a coefficient of (X^a - 1) e has variance 2
/// Var(e) for a != 0, 0 for a = 0; the O(1/N) cases a_S = 0 and a_S = N are neglected):
///  * key noise: C's noise is sum_S (X^(a_S) - 1) E_S, of variance 2 (2^h - 1) Var(bsk) per
///    coefficient, times the digits of ACC as in the classic product:
///      2 (2^h - 1) (k+1) l N (B^2+2)/12 Var(bsk);
///  * decomposition rounding: the rounding error of ACC (phase variance (1 + kN/2) B^(-2l)/12)
///    is multiplied by C's message X^phi - 1, phi = sum_{i in G} a_i s_i, which is 0 with
///    probability 2^-h (all bits of the group 0):
///      2 (1 - 2^-h) (1 + kN/2) B^(-2l)/12;
///  * FFT: C's coefficients have 2 (2^h - 1) times the variance of one GGSW's, and the FFT error
///    scales with the key's squared magnitude (variance_fft_external_product's derivation):
///      2 (2^h - 1) variance_fft_external_product(...).
/// Against g CMuxes (g (key + rounding/2 + fft)), the key and FFT terms grow by 2 (2^g - 1) / g
/// (3, 4.7, 7.5 for g = 2, 3, 4). TFHE-rs stores the empty subset's GGSW too (2^g GGSWs per
/// group, ACC <- C' [x] ACC): factor 2^g instead of 2 (2^g - 1), for a key 2^g / (2^g - 1) larger.
double variance_multi_bit_external_product(GlweDimension k, PolynomialSize N,
                                           DecompositionParameters pbs,
                                           const NoiseDistribution& bsk_noise,
                                           std::size_t group_size,
                                           std::optional<FftBackendKind> backend = std::nullopt);

/// Variance of a multi-bit PBS output: the sum of variance_multi_bit_external_product over the
/// ceil(n/g) groups (the last one of n mod g bits when g does not divide n). The modulus switch
/// (variance_modulus_switch) is the classic one.
double variance_multi_bit_blind_rotation(LweDimension n, GroupingFactor g, GlweDimension k,
                                         PolynomialSize N, DecompositionParameters pbs,
                                         const NoiseDistribution& bsk_noise,
                                         std::optional<FftBackendKind> backend = std::nullopt);

/// pbs_noise for a multi-bit PBS of grouping factor g (whatever p.grouping_factor is): the same
/// input, keyswitch and modulus switch terms (hence the same failure probability at a given input
/// variance), and the output variance of variance_multi_bit_blind_rotation. With
/// g = p.grouping_factor it is pbs_noise(p, ...).
PbsNoise multi_bit_pbs_noise(const PbsParameters& p, GroupingFactor g, double input_variance,
                             double two_norm);

/// log2 of the failure probability of one multi-bit PBS of `p` on a combination of multi-bit
/// PBS outputs with 2-norm p.max_two_norm.
double log2_multi_bit_pbs_failure_probability(const PbsParameters& p, GroupingFactor g);

/// log2 P(|X| >= bound) for X ~ N(0, variance); accurate far in the tail (down to 2^-10000).
double log2_gaussian_tail(double bound, double variance);

}  // namespace torusml::tfhe
