// Cost model of the parameter optimizer: seconds of one KS + PBS on one core, as a function of the
// parameter set (and, for the partitioned optimizer, of the big keys its keyswitches read).
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/circuit/optimizer/search_detail.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"

namespace torusml::circuit {

namespace {

// ---- Cost model ---------------------------------------------------------------------------------
//
// Blind rotation: n CMuxes, each (k+1) l forward FFTs and (k+1) inverse FFTs of N/2 complex points
// plus one pass over a GGSW of (k+1)^2 l N doubles (the multiply-accumulate; the key is larger
// than the caches, so this pass streams it from memory):
//   cmux_seconds = fft (k+1)(l+1) (N/2) log2(N/2) + key (k+1)^2 l N.
// Keyswitch: k N l_ks rows of the keyswitching key, each an (n+1)-wide multiply-accumulate,
// streamed from memory: keyswitch k N l_ks (n + 1).
//
// Levels beyond the first: a fourth term, extra_level (k+1)^2 (l-1) N, from N = 8192 on.
// When levels were peeled one pass at a time, a second level at N >= 8192 measured 1.5-1.8x the
// two terms above (fitted 0.671e-9); since the decomposition computes every level in one pass
// (decompose_unrolled) and the CMuxes go in pairs, the refit puts it near zero (0.0056e-9), and
// 7-bit lookups now get N = 8192, l = 2 (62 ms) rather than N = 16384, l = 1 (72 ms).
//
// Calibration: bench/cost_model_fit (one core of this Zen 4 machine, AVX-512 FFT) times one
// KS + PBS for the 35 sets the optimizer weighs for 1 to 8 bits (its optimum at each N from 2^8
// to 2^14, the modulus switch noise reduction included where it wins) and fits the constants by
// least squares on relative errors.
constexpr std::size_t kExtraLevelFromN = 8192;

// Multi-bit blind rotation (multi_bit_bootstrap.h), grouping factor g: ceil(n/g) groups, each
// one external product's FFTs ((k+1) l forward and k+1 inverse, as a CMux) plus the combination
// of the group's (2^g - 1) GGSWs with the monomials X^(a_S) - 1 in the Fourier domain, fused with
// the multiply-accumulate into ACC's digits:
//   group_seconds = multi_bit_fft (k+1)(l+1) (N/2) log2(N/2)
//                 + multi_bit_key (2^g - 1) (k+1)^2 l N.
// The classic constants do not transfer: the combination does a complex multiply-add per key
// value and subset (not one pass of multiply-accumulate over one GGSW), reading the group's
// GGSWs chunk by chunk of frequencies.
//
// Calibration: with the classic constants, above (38 multi-bit sets: the optimizer's multi-bit
// optimum at each N = 2^8 .. 2^14, g = 2 and 3, 3 to 7 bits). The FFT and key terms are nearly
// collinear over these sets (k = 1 and l = 1 for most), so the split between them is loose; their
// sum per group, what the choices depend on, is stable. Since the twiddles of a chunk come from
// one table value (multi_bit_bootstrap.cpp), a lone 4-bit lookup with g = 2 costs 0.86 of the
// classic one (6.2 against 7.1 ms) and g = 3 about the same as classic.
//
// The lone constants: fft, key, keyswitch, extra level, multi-bit fft, multi-bit key, refitted
// 2026-11-30 from one run of `build/bench/cost_model_fit --max-bits 8 --runs 3` (73 candidates)
// and checked on two more: Spearman rank correlation 0.996-0.998 over all candidates (classic
// 0.996-0.999, multi-bit 0.995-0.998).
// The keyswitch constant was refitted again after the fused keyswitch kernel (keyswitch_key.cpp,
// 20-30% faster): 0.1345e-9 -> 0.1056e-9, from the joint refit of a later run (Spearman 0.995,
// the other constants kept).
constexpr CostModelConstants kLone{0.0785e-9, 0.518e-9, 0.1056e-9, 0.0056e-9, 0.0950e-9, 0.369e-9};

// Batches (estimate_batched_pbs_seconds, the optimizers' objective): the same terms fitted to
// batches of 32 per thread on every core (keyswitch_bootstrap_batch: lockstep walks of 16, classic
// CMuxes in pairs, the threads sharing the memory bandwidth as in circuits), in core-seconds per
// KS + PBS. Each key is read once per walk and the Fourier work dominates: a batch costs
// 0.47-0.77 of a lone KS + PBS for classic sets and 0.30-0.58 for multi-bit ones (more at
// N = 16384, where two cores contend for memory), lowest at small N and for k = 2 at N = 1024
// (less Fourier work than k = 1 at N = 2048, for a key of the same size), which one ratio per kind
// cannot rank (Spearman 0.975 with per-kind ratios). The keyswitch constant comes from the
// batches' keyswitches timed alone (in the joint fit its few level counts leave it unidentified:
// it came out at a third of its measured cost, and the sets got 8 levels where 5 are cheaper).
// Calibration: `build/bench/cost_model_fit --max-bits 8 --runs 3` (--batch 32, the default),
// 2026-11-30, 73 candidates, then checked on a second run whose candidates the batched objective
// chose: Spearman 0.994 (per-kind ratios of the lone model: 0.975). With these constants the
// batched optimum for the fit's lookup (of a sum of PBS outputs, squared 2-norm 4) is g = 2 at
// k = 2, N = 1024 for 4 bits (2.6 core-ms against 3.3 for the best classic set), g = 2 at
// N = 2048 for 5 bits (3.3 against 4.2), and classic from 6 bits on (10.0, 42.9 and 106 core-ms
// for 6, 7 and 8 bits).
// The keyswitch constant was refitted after the fused keyswitch kernel: the median over the 73
// candidates of their batches' keyswitches timed alone, 0.0431e-9 -> 0.0312e-9 (same command).
constexpr CostModelConstants kBatched{0.106e-9,  0.0570e-9, 0.0312e-9,
                                      0.1228e-9, 0.1561e-9, 0.05336e-9};

double cmux_seconds(const CostModelConstants& m, std::size_t k, std::size_t big_n, std::size_t l) {
  const double kp1 = static_cast<double>(k + 1), half = static_cast<double>(big_n) / 2.0;
  const double ll = static_cast<double>(l);
  return m.fft * kp1 * (ll + 1.0) * half * std::log2(half) +
         m.key * kp1 * kp1 * ll * static_cast<double>(big_n) +
         (big_n >= kExtraLevelFromN
              ? m.extra_level * kp1 * kp1 * (ll - 1.0) * static_cast<double>(big_n)
              : 0.0);
}

/// Seconds of one group of g bits of the multi-bit blind rotation.
double group_seconds(const CostModelConstants& m, std::size_t k, std::size_t big_n, std::size_t l,
                     std::size_t g) {
  const double kp1 = static_cast<double>(k + 1), half = static_cast<double>(big_n) / 2.0;
  const double ll = static_cast<double>(l);
  const double subsets = static_cast<double>((std::size_t{1} << g) - 1);
  return m.multi_bit_fft * kp1 * (ll + 1.0) * half * std::log2(half) +
         m.multi_bit_key * subsets * kp1 * kp1 * ll * static_cast<double>(big_n);
}

/// The blind rotation's part of the cost as AffineCost terms (slope, group) for grouping g.
void add_blind_rotation(const CostModelConstants& m, detail::AffineCost& c, std::size_t k,
                        std::size_t big_n, std::size_t l, std::size_t g) {
  if (g <= 1) {
    c.slope += cmux_seconds(m, k, big_n, l);
  } else {
    c.group = group_seconds(m, k, big_n, l, g);
    c.grouping = g;
  }
}

detail::AffineCost affine_cost_with(const CostModelConstants& m, std::size_t k, std::size_t big_n,
                                    std::size_t l_pbs, std::size_t l_ks, double extra_slope,
                                    const detail::CostShape& shape, std::size_t grouping) {
  detail::AffineCost c;
  if (shape.plain()) {
    const double ks_row = m.keyswitch * static_cast<double>(k * big_n * l_ks);
    // The classic slope in the historical order of the sum (cmux + ks_row + extra_slope).
    add_blind_rotation(m, c, k, big_n, l_pbs, grouping);
    c.slope = c.slope + ks_row + extra_slope;
    c.offset = ks_row;
    return c;
  }
  const double kn = static_cast<double>(k * big_n);
  const double ks_row =
      m.keyswitch * static_cast<double>(l_ks) * (shape.own * kn + shape.cross_dimension);
  add_blind_rotation(m, c, k, big_n, l_pbs, grouping);
  c.slope = c.slope + ks_row + extra_slope;
  c.offset = ks_row + m.keyswitch * kn * shape.outgoing;
  return c;
}

double estimate_with(const CostModelConstants& m, const tfhe::PbsParameters& p,
                     tfhe::LweDimension ks_input) {
  const std::size_t n = p.lwe_dimension.value();
  const double nd = static_cast<double>(n);
  const double ks_row = m.keyswitch * static_cast<double>(ks_input.value()) *
                        static_cast<double>(p.ks.level_count.value());
  detail::AffineCost rotation;
  add_blind_rotation(m, rotation, p.glwe_dimension.value(), p.polynomial_size.value(),
                     p.pbs.level_count.value(), p.grouping_factor.value());
  return rotation.at(n) + ks_row * (nd + 1.0) + tfhe::estimate_noise_reduction_seconds(p);
}

}  // namespace

namespace detail {

AffineCost affine_cost(std::size_t k, std::size_t big_n, std::size_t l_pbs, std::size_t l_ks,
                       double extra_slope, const CostShape& shape, std::size_t grouping) {
  return affine_cost_with(kLone, k, big_n, l_pbs, l_ks, extra_slope, shape, grouping);
}

AffineCost batched_affine_cost(std::size_t k, std::size_t big_n, std::size_t l_pbs,
                               std::size_t l_ks, double extra_slope, const CostShape& shape,
                               std::size_t grouping) {
  return affine_cost_with(kBatched, k, big_n, l_pbs, l_ks, extra_slope, shape, grouping);
}

}  // namespace detail

CostModelConstants cost_model_constants(bool batched) {
  return batched ? kBatched : kLone;
}

double estimate_pbs_seconds(const tfhe::PbsParameters& p) {
  return detail::affine_cost(p.glwe_dimension.value(), p.polynomial_size.value(),
                             p.pbs.level_count.value(), p.ks.level_count.value(), 0.0, {},
                             p.grouping_factor.value())
             .at(p.lwe_dimension.value()) +
         tfhe::estimate_noise_reduction_seconds(p);  // 0 unless a Drift kind
}

double estimate_pbs_seconds(const tfhe::PbsParameters& p, tfhe::LweDimension ks_input) {
  return estimate_with(kLone, p, ks_input);
}

double estimate_batched_pbs_seconds(const tfhe::PbsParameters& p) {
  return estimate_with(kBatched, p, p.big_lwe_dimension());
}

double estimate_batched_pbs_seconds(const tfhe::PbsParameters& p, tfhe::LweDimension ks_input) {
  return estimate_with(kBatched, p, ks_input);
}

// bench_tfhe encrypt/<preset> (median of 3, one core of this Zen 4 machine): 7.6 us for
// dimension 2048 (the 3- and 4-bit presets), 30.1 us for 8192: 3.7 ns per torus word.
constexpr double kEncryptSecondsPerWord = 3.7e-9;

double estimate_encryption_seconds(tfhe::LweDimension dimension) {
  return kEncryptSecondsPerWord * static_cast<double>(dimension.value() + 1);
}

// bench_tfhe encrypt_packed/<preset> (median of 3, one core of this Zen 4 machine): 30.9 us per
// GLWE of 2048 values for tfhe_4bit (k = 1, TUniform noise), 52.5 us per 1024 values for tfhe_3bit
// (k = 2, Gaussian), 1476 us per 32768 values for tfhe_8bit (k = 1, Gaussian): about 1.1 ns per
// k N log2(N) for the masks and the limb products, and per value 3 ns (TUniform noise) or 28 ns
// (Gaussian noise: Box-Muller).
constexpr double kPackedSecondsPerCoefficientLog = 1.1e-9;  // per k * N * log2(N)
constexpr double kPackedSecondsPerTUniformValue = 3e-9;
constexpr double kPackedSecondsPerGaussianValue = 28e-9;

// bench_tfhe encrypt_packed_small/<preset> (median of 3, one core of this Zen 4 machine): 175 ns
// per value for n = 896 (tfhe_4bit's noise), 259 ns for n = 1088 (tfhe_8bit's): per value about
// 0.19 ns per key coefficient (the rotated masks added per set key bit, and the mask words, n / 32
// per value) besides the noise sample.
constexpr double kSmallKeySecondsPerCoefficient = 0.19e-9;

double estimate_input_encryption_seconds(const CircuitParameters& parameters, double values,
                                         std::uint32_t partition) {
  if (!parameters.uses_pbs)
    return values * estimate_encryption_seconds(parameters.encryption_dimension(partition));
  if (parameters.small_key_inputs) {
    const tfhe::PbsParameters& p = parameters.pbs;
    const double noise = p.lwe_noise.kind == tfhe::NoiseDistribution::Kind::TUniform
                             ? kPackedSecondsPerTUniformValue
                             : kPackedSecondsPerGaussianValue;
    return values *
           (kSmallKeySecondsPerCoefficient * static_cast<double>(p.lwe_dimension.value()) + noise);
  }
  const tfhe::PbsParameters& p = parameters.partition(partition);
  const double big_n = static_cast<double>(p.polynomial_size.value());
  const double k = static_cast<double>(p.glwe_dimension.value());
  const double per_glwe = kPackedSecondsPerCoefficientLog * k * big_n * std::log2(big_n);
  const double per_value = p.glwe_noise.kind == tfhe::NoiseDistribution::Kind::TUniform
                               ? kPackedSecondsPerTUniformValue
                               : kPackedSecondsPerGaussianValue;
  return values / big_n * per_glwe + values * per_value;
}

}  // namespace torusml::circuit
