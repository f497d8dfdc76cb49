// Modulus switch noise reduction: the "drift" technique (Bernard, Joye, Smart, Walter, "Drifting
// Towards Better Error Probabilities in Fully Homomorphic Encryption Schemes", eprint 2024/1718;
// TFHE-rs's ModulusSwitchNoiseReduction), for ModulusSwitchKind::Drift and DriftCenteredMean.
//
// The modulus switch's error (modulus_switch.h) is known to the server except for the key. In
// steps of the switch (1/(2N) of the torus), with e_i the rounding errors of the mask (rounded
// minus exact, in [-1/2, 1/2]) and e_b that of the body (after the half-step offset), the phase
// error is E = e_b - sum_i e_i s_i. Over a uniform binary key its expected square is
//   Standard switch:      M = (e_b - sum_i e_i / 2)^2 + sum_i e_i^2 / 4,
//   CenteredMean switch:  M = e_b'^2 + sum_i e_i^2 / 4   (e_b' the body's rounding error after the
//                                                       mean sum_i e_i / 2 is added),
// a key-independent measure the server can compute. Adding an encryption of zero (or its
// negation) to the ciphertext keeps its message, adds the zero's noise, and redraws every e_i:
// among Z encryptions of zero there are 2Z candidates, and the best one is likely to have a
// smaller M than the ciphertext.
//
// Algorithm (improve_modulus_switch_noise), on the keyswitched ciphertext c (dimension n):
//   repeat at most R rounds:
//     for each zero z_j (j < Z) and sign +-: M_j+- = M(c +- z_j)    (a scan: O(Z n))
//     if min M_j+- < M(c): c <- c +- z_j (the minimising one); else stop
// Drift minimises the Standard measure and then switches with Standard; DriftCenteredMean
// minimises the CenteredMean measure and then switches with CenteredMean. The scan reads, for
// each zero, the 16 bits of each mask element just below the switch's cut (precomputed when the
// key is expanded: 2 Z n bytes); the rounding errors of c +- z_j come from the sums of these
// windows (the carry from the lower bits is neglected: at most 2^-16 of a step). The zero to add
// is regenerated from its seed (ChaCha20, n words) and added exactly. Cost per ciphertext: per
// round a scan of 2 Z n window sums (about 2 Z n additions and multiply-adds, vectorised), plus
// n words of ChaCha20 per applied zero; the expected number of scans and of applied zeros is
// expected_noise_reduction_rounds (noise_model.h): round r is reached and improves with
// probability about 1/r!, so about 1 + sum_{r<R} 1/r! scans (2 for R = 2) and sum_{r<=R} 1/r!
// applied zeros (1.5 for R = 2, at most e - 1). Measured (bench_tfhe ms_noise_reduction/..., one
// core): about 0.1 ns per zero and mask element of a scan, i.e. 0.09 ms per round for Z = 1024
// and n = 918, against 6-7 ms for the 4-bit PBS; the cost model is
// estimate_noise_reduction_seconds.
//
// Noise: the residual modulus-switch variance and the zeros' noise (Var(zeros_noise) per applied
// zero) are in noise_model.h (variance_modulus_switch). The zeros are Z more LWE samples under
// the small key: their noise must meet the security curve at dimension n (PbsParameters::
// validate). In the seeded form (what the client sends) they cost 8 Z bytes plus a seed; the
// server holds 2 Z n bytes of windows (1.9 MB for Z = 1024, n = 918).
//
// Weighing (tests/tfhe/ms_noise_reduction_slow_test.cpp MeasuredTableAtPresets and
// ms_noise_reduction_optimizer_test.cpp): against the plain Standard switch, CenteredMean halves
// the key-dependent variance for free; the drift technique alone (Drift) gets about the same
// (it mostly cancels the same known mean) and a little more. What drift adds on top of
// CenteredMean (DriftCenteredMean) is the selection of a ciphertext with small sum e_i^2: about
// -11% of the switch's variance with Z = 1024, R = 2 (n ~ 1000), for ~0.1-0.2 ms per bootstrap.
// That is decisive only where the switch nearly exhausts the noise budget at some N: the
// optimizer then fits the precision into half the polynomial size (6 bits at p_fail 2^-40:
// N = 4096 instead of 8192, measured 17.3 instead of 32.2 ms per KS-PBS on one core; 8 bits:
// N = 16384 instead of 32768, 226 instead of 412 ms); elsewhere it gains a few % or nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/parameters.h"
#include "torusml/tfhe/random.h"
#include "torusml/tfhe/seeded_lwe.h"

namespace torusml::tfhe {

/// The server's form of the encryptions of zero: the seeded list (masks regenerated on demand)
/// and, for each zero, the 16-bit windows of its mask below the switch's cut (Z x n, row-major).
/// Empty (no zeros) for the kinds without noise reduction.
struct ModulusSwitchNoiseReductionKey {
  SeededLweCiphertextList zeros;
  PolynomialSize polynomial_size;  // the switch goes to 2N
  std::size_t max_rounds = 0;
  std::vector<std::uint16_t> windows;
  bool empty() const { return zeros.size() == 0; }
  bool operator==(const ModulusSwitchNoiseReductionKey&) const = default;
};

/// The seeded encryptions of zero of `params.ms_noise_reduction` under the small key: zeros_count
/// ciphertexts, masks from `mask_seed` (stream i + 1 for ciphertext i, as every seeded list),
/// noise zeros_noise from `noise_seed`. Precondition: uses_noise_reduction(params.modulus_switch).
SeededLweCiphertextList generate_modulus_switch_zeros(const LweSecretKey& small_key,
                                                      const PbsParameters& params,
                                                      const Seed& mask_seed,
                                                      const Seed& noise_seed);

/// Expands the seeded zeros for the server (the windows for a switch to 2N; parallel).
ModulusSwitchNoiseReductionKey expand_noise_reduction_key(const SeededLweCiphertextList& zeros,
                                                          PolynomialSize polynomial_size,
                                                          std::size_t max_rounds);

/// The measure M (above) of `ct` for a switch to 2N followed by `kind` (Standard or Drift: the
/// Standard measure; CenteredMean or DriftCenteredMean: the CenteredMean one), exact (64-bit
/// rounding errors), in squared steps: the expected squared switch error over uniform binary keys.
double modulus_switch_error_measure(LweView ct, PolynomialSize polynomial_size,
                                    ModulusSwitchKind kind);

struct NoiseReductionOutcome {
  std::size_t scans = 0;    // rounds scanned
  std::size_t applied = 0;  // encryptions of zero added
};

/// The noise reduction (algorithm above) of `ct` (dimension n, under the small key), in place:
/// the Drift kind's measure for Drift, the DriftCenteredMean one for DriftCenteredMean. Throws
/// InvalidArgument for the other kinds, ParameterMismatch if the key's dimension is not ct's.
NoiseReductionOutcome improve_modulus_switch_noise(LweMutView ct,
                                                   const ModulusSwitchNoiseReductionKey& key,
                                                   ModulusSwitchKind kind);

/// Cost model of improve_modulus_switch_noise (seconds on one core, cold caches as inside a
/// bootstrap): E[scans] Z n 0.1 ns (a scan, per zero and mask element) + n 12 ns (per call) +
/// E[applied] n 2 ns (per applied zero), E from expected_noise_reduction_rounds; constants
/// measured on this machine (modulus_switch_noise_reduction.cpp). 0 for the kinds without noise
/// reduction. At n = 918: 0.11 ms for Z = 1024, R = 1, 0.20 ms for R = 2.
double estimate_noise_reduction_seconds(const PbsParameters& params);
/// The same for dimension n and reduction r (linear in n).
double estimate_noise_reduction_seconds(LweDimension n, const ModulusSwitchNoiseReduction& r);

}  // namespace torusml::tfhe
