// Cost model of the parameter optimizer: seconds of one KS + PBS on one core, as a function of the
// parameter set (and, for the partitioned optimizer, of the big keys its keyswitches read).
#include <algorithm>
#include <cmath>
#include <cstddef>

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
//   cmux_seconds = kFftSeconds (k+1)(l+1) (N/2) log2(N/2) + kKeySeconds (k+1)^2 l N.
// Keyswitch: k N l_ks rows of the keyswitching key, each an (n+1)-wide multiply-accumulate,
// streamed from memory: kKeyswitchSeconds k N l_ks (n + 1).
//
// Levels beyond the first cost more than their FFTs and key pass: at N >= 8192 a second level
// measured 1.5-1.8x the two terms above (the doubled GGSW no longer streams at the rate of one),
// so the model has a fourth term, kExtraLevelSeconds (k+1)^2 (l-1) N, from N = 8192 on (below,
// e.g. N = 4096 with l = 3 in the digits CNN, the three terms match the measured latency).
//
// Calibration: bench/cost_model_fit (one core of this Zen 4 machine, AVX-512 FFT) times one
// KS + PBS for the 35 sets the optimizer weighs for 1 to 8 bits (its optimum at each N from 2^8
// to 2^14, the modulus switch noise reduction included where it wins) and fits the four constants
// by least squares on relative errors. With three terms (the previous model) the Spearman rank
// correlation was 0.993 but every l = 2 set was underestimated 1.2-1.8x, so 7-bit lookups got
// N = 8192, l = 2 (87 ms) instead of N = 16384, l = 1 (75 ms). With four, refitted idle:
// Spearman 0.994 (`build/bench/cost_model_fit --max-bits 8 --runs 3`).
constexpr double kFftSeconds = 0.0702e-9;
constexpr double kKeySeconds = 0.535e-9;
constexpr double kKeyswitchSeconds = 0.130e-9;
constexpr double kExtraLevelSeconds = 0.671e-9;
constexpr std::size_t kExtraLevelFromN = 8192;

// Multi-bit blind rotation (multi_bit_bootstrap.h), grouping factor g: ceil(n/g) groups, each
// one external product's FFTs ((k+1) l forward and k+1 inverse, as a CMux) plus the combination
// of the group's (2^g - 1) GGSWs with the monomials X^(a_S) - 1 in the Fourier domain, fused with
// the multiply-accumulate into ACC's digits:
//   group_seconds = kMultiBitFftSeconds (k+1)(l+1) (N/2) log2(N/2)
//                 + kMultiBitKeySeconds (2^g - 1) (k+1)^2 l N.
// The classic constants do not transfer: the combination does a complex multiply-add per key
// value and subset (not one pass of multiply-accumulate over one GGSW), reading the group's
// GGSWs chunk by chunk of frequencies.
//
// Calibration (2026-11-29, 2-core AMD EPYC Zen 4, shared with other jobs; AVX-512 FFT):
// `build/bench/cost_model_fit --max-bits 8 --runs 3` (and `--runs 5`) time one lone KS + PBS on
// one thread, as for the classic sets, for the optimizer's multi-bit optimum at each
// N = 2^8 .. 2^14, g = 2 and 3, 3 to 7 bits (38 sets), next to the 35 classic ones. The two
// multi-bit constants are least squares on relative errors over two runs (76 measurements), the
// classic constants above kept; a third run (`--runs 3`) checked them: Spearman rank correlation
// between model and measurement 0.997 over all 73 candidates, classic and multi-bit (0.998 over
// the multi-bit ones). RMS relative error 8.5%, with a bias in N: g = 2 at N = 2048 is
// overestimated by about 15% (measured 5.4 ms for 4 bits against 6.5 classic, 6.4 for 5 bits
// against 7.3, where the model puts g = 2 3% ahead and 1% behind), g = 3 at N = 8192 is
// underestimated by up to 18% (it is never the cheapest). The FFT and key terms are nearly
// collinear over these sets (k = 1 and l = 1 for most), so the split between them is loose
// (single-run refits: fft -0.4e-11 .. 3.3e-11 with key 5.6e-10 .. 5.2e-10); their sum per group,
// what the choices depend on, is stable. Measured while the external product and multi-bit code
// were being optimized: refit (`cost_model_fit` prints both refits) once those changes land.
constexpr double kMultiBitFftSeconds = 0.0187e-9;
constexpr double kMultiBitKeySeconds = 0.538e-9;

double cmux_seconds(std::size_t k, std::size_t big_n, std::size_t l) {
  const double kp1 = static_cast<double>(k + 1), half = static_cast<double>(big_n) / 2.0;
  const double ll = static_cast<double>(l);
  return kFftSeconds * kp1 * (ll + 1.0) * half * std::log2(half) +
         kKeySeconds * kp1 * kp1 * ll * static_cast<double>(big_n) +
         (big_n >= kExtraLevelFromN
              ? kExtraLevelSeconds * kp1 * kp1 * (ll - 1.0) * static_cast<double>(big_n)
              : 0.0);
}

/// Seconds of one group of g bits of the multi-bit blind rotation.
double group_seconds(std::size_t k, std::size_t big_n, std::size_t l, std::size_t g) {
  const double kp1 = static_cast<double>(k + 1), half = static_cast<double>(big_n) / 2.0;
  const double ll = static_cast<double>(l);
  const double subsets = static_cast<double>((std::size_t{1} << g) - 1);
  return kMultiBitFftSeconds * kp1 * (ll + 1.0) * half * std::log2(half) +
         kMultiBitKeySeconds * subsets * kp1 * kp1 * ll * static_cast<double>(big_n);
}

/// The blind rotation's part of the cost as AffineCost terms (slope, group) for grouping g.
void add_blind_rotation(detail::AffineCost& c, std::size_t k, std::size_t big_n, std::size_t l,
                        std::size_t g) {
  if (g <= 1) {
    c.slope += cmux_seconds(k, big_n, l);
  } else {
    c.group = group_seconds(k, big_n, l, g);
    c.grouping = g;
  }
}

}  // namespace

namespace detail {

AffineCost affine_cost(std::size_t k, std::size_t big_n, std::size_t l_pbs, std::size_t l_ks,
                       double extra_slope, const CostShape& shape, std::size_t grouping) {
  AffineCost c;
  if (shape.plain()) {
    const double ks_row = kKeyswitchSeconds * static_cast<double>(k * big_n * l_ks);
    // The classic slope in the historical order of the sum (cmux + ks_row + extra_slope).
    add_blind_rotation(c, k, big_n, l_pbs, grouping);
    c.slope = c.slope + ks_row + extra_slope;
    c.offset = ks_row;
    return c;
  }
  const double kn = static_cast<double>(k * big_n);
  const double ks_row =
      kKeyswitchSeconds * static_cast<double>(l_ks) * (shape.own * kn + shape.cross_dimension);
  add_blind_rotation(c, k, big_n, l_pbs, grouping);
  c.slope = c.slope + ks_row + extra_slope;
  c.offset = ks_row + kKeyswitchSeconds * kn * shape.outgoing;
  return c;
}

}  // namespace detail

CostModelConstants cost_model_constants() {
  return {kFftSeconds,        kKeySeconds,         kKeyswitchSeconds,
          kExtraLevelSeconds, kMultiBitFftSeconds, kMultiBitKeySeconds};
}

double estimate_pbs_seconds(const tfhe::PbsParameters& p) {
  return detail::affine_cost(p.glwe_dimension.value(), p.polynomial_size.value(),
                             p.pbs.level_count.value(), p.ks.level_count.value(), 0.0, {},
                             p.grouping_factor.value())
             .at(p.lwe_dimension.value()) +
         tfhe::estimate_noise_reduction_seconds(p);  // 0 unless a Drift kind
}

double estimate_pbs_seconds(const tfhe::PbsParameters& p, tfhe::LweDimension ks_input) {
  const std::size_t n = p.lwe_dimension.value();
  const double nd = static_cast<double>(n);
  const double ks_row = kKeyswitchSeconds * static_cast<double>(ks_input.value()) *
                        static_cast<double>(p.ks.level_count.value());
  detail::AffineCost rotation;
  add_blind_rotation(rotation, p.glwe_dimension.value(), p.polynomial_size.value(),
                     p.pbs.level_count.value(), p.grouping_factor.value());
  return rotation.at(n) + ks_row * (nd + 1.0) + tfhe::estimate_noise_reduction_seconds(p);
}

// bench_tfhe encrypt/<preset> (median of 3, one core of this Zen 4 machine): 7.6 us for
// dimension 2048 (the 3- and 4-bit presets), 30.1 us for 8192: 3.7 ns per torus word.
constexpr double kEncryptSecondsPerWord = 3.7e-9;

double estimate_encryption_seconds(tfhe::LweDimension dimension) {
  return kEncryptSecondsPerWord * static_cast<double>(dimension.value() + 1);
}

}  // namespace torusml::circuit
