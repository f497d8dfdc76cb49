// Parameter optimizer: an exhaustive but pruned search of the KS-PBS parameter space.
//
// Constraints. With G = Var(glwe_noise) (fixed by k*N: the security curve's minimum), the error
// entering the blind rotation of a PBS requirement r has variance
//   V_r(n) = w_r * n * EP + f_r * G + KS(n) + MS(n)
// where EP is the variance of one external product (k, N, PBS decomposition), KS the keyswitch
// variance (decreasing in n: the small key's noise shrinks along the security curve) and MS the
// modulus switch (increasing in n). Each V_r is convex in n, so the n meeting all constraints form
// an interval, and the cost (increasing in n) is minimal at its left end. An output o only needs
// w_o * n * EP + f_o * G below its bound: an upper limit on n.
//
// Separability. The cost of a parameter set depends on (n, k, N, l_pbs, l_ks) but not on the two
// decomposition bases, so:
//  * for every (k, N) and PBS level count l, the best PBS base is the one minimising EP (it does
//    not depend on n): one scan per (k, N, l); level counts whose best EP is not below that of a
//    smaller count are dominated (costlier and noisier) and dropped;
//  * for a KS level count l, the base minimising KS(n) is, in closed form, near
//    log2(1 / (2 Var(lwe_noise(n)))) / (2 (l + 1)) (minimum of A x^-l + C l x, x = B^2), so only
//    the few bases optimal somewhere in the n range are tried;
//  * for each (k, N, l_pbs, l_ks, ks base) the smallest feasible n is found by binary searches
//    on the convex maximum of the constraints (argmin by the sign of its differences, then the
//    left end of the feasible interval).
// Requirements are merged and Pareto-reduced first (a constraint with a smaller weight, smaller
// fresh weight and a looser bound than another is implied by it), and the loops are pruned by
// cost: a branch whose cost at n = 450 already exceeds the best set found is cut, and n is only
// searched below the value where the cost would reach the best.
#include "torusml/circuit/optimizer/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {

using tfhe::DecompositionBaseLog;
using tfhe::DecompositionLevelCount;
using tfhe::DecompositionParameters;
using tfhe::GlweDimension;
using tfhe::LweDimension;
using tfhe::NoiseDistribution;
using tfhe::PbsParameters;
using tfhe::PolynomialSize;

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

double cmux_seconds(std::size_t k, std::size_t big_n, std::size_t l) {
  const double kp1 = static_cast<double>(k + 1), half = static_cast<double>(big_n) / 2.0;
  const double ll = static_cast<double>(l);
  return kFftSeconds * kp1 * (ll + 1.0) * half * std::log2(half) +
         kKeySeconds * kp1 * kp1 * ll * static_cast<double>(big_n) +
         (big_n >= kExtraLevelFromN
              ? kExtraLevelSeconds * kp1 * kp1 * (ll - 1.0) * static_cast<double>(big_n)
              : 0.0);
}

/// Seconds of one KS + PBS as an affine function of n: slope * n + offset.
struct AffineCost {
  double slope = 0, offset = 0;
  double at(std::size_t n) const { return slope * static_cast<double>(n) + offset; }
};

// `extra_slope`: seconds per unit of n of the modulus switch noise reduction (Drift kinds).
AffineCost affine_cost(std::size_t k, std::size_t big_n, std::size_t l_pbs, std::size_t l_ks,
                       double extra_slope = 0.0) {
  const double ks_row = kKeyswitchSeconds * static_cast<double>(k * big_n * l_ks);
  return {cmux_seconds(k, big_n, l_pbs) + ks_row + extra_slope, ks_row};
}

// ---- Search space -------------------------------------------------------------------------------

constexpr std::size_t kMinLweDimension = 450;  // the security curve's validity
// The small key's noise reaches the curve's floor 2^-62 near n = 2517; beyond, a larger n only
// adds noise and cost, so no optimum lies above this bound.
constexpr std::size_t kMaxLweDimension = 4096;
constexpr std::size_t kMaxBigDimension = std::size_t{1} << 17;
constexpr std::size_t kPbsBits = 53;  // base_log * level_count: the FFT's double precision
constexpr std::size_t kKsBits = tfhe::kKeyswitchModulusBits;  // the key is modulo 2^32
constexpr unsigned kMaxPrecision = 16;                        // PbsParameters::message_bits

/// Relative safety on variance bounds, so that the search's arithmetic (same formulas as the
/// noise model, possibly another rounding order) never accepts a set the model rejects.
constexpr double kBoundSafety = 1.0 - 1e-9;

/// Gaussian noise at the security curve's minimum for a key of this dimension (>= 450).
NoiseDistribution noise_at_curve(std::size_t dimension) {
  return NoiseDistribution::gaussian(
      std::exp2(tfhe::minimal_secure_log2_std(LweDimension(dimension))));
}

double gaussian_variance_at_curve(std::size_t dimension) {
  return noise_at_curve(dimension).variance();
}

/// The largest variance v with log2 P(|X| >= 2^log2_bound) <= log2_target for X ~ N(0, v), by
/// bisection on log2 v (the tail grows with v); the returned value always meets the target.
double max_variance(int log2_bound, double log2_target) {
  const double bound = std::ldexp(1.0, log2_bound);
  double lo = 2.0 * log2_bound - 40.0, hi = 2.0 * log2_bound + 10.0;  // feasible / infeasible
  while (tfhe::log2_gaussian_tail(bound, std::exp2(lo)) > log2_target) lo -= 40.0;
  for (int i = 0; i < 80; ++i) {
    const double mid = 0.5 * (lo + hi);
    (tfhe::log2_gaussian_tail(bound, std::exp2(mid)) <= log2_target ? lo : hi) = mid;
  }
  return std::exp2(lo) * kBoundSafety;
}

/// One constraint: w * Var(PBS out) + f * G (+ KS + MS for PBS inputs) <= vmax.
struct Constraint {
  double w = 0, f = 0, vmax = 0;
  std::size_t source = 0;  // index of the requirement it came from (diagnostics)
};

/// Drops every constraint implied by another one (larger or equal weights, tighter bound).
std::vector<Constraint> pareto_reduce(std::vector<Constraint> cs) {
  std::sort(cs.begin(), cs.end(), [](const Constraint& a, const Constraint& b) {
    if (a.vmax != b.vmax) return a.vmax < b.vmax;
    if (a.w != b.w) return a.w > b.w;
    return a.f > b.f;
  });
  std::vector<Constraint> kept;
  for (const Constraint& c : cs) {
    const bool implied = std::any_of(kept.begin(), kept.end(), [&](const Constraint& d) {
      return d.w >= c.w && d.f >= c.f && d.vmax <= c.vmax;
    });
    if (!implied) kept.push_back(c);
  }
  return kept;
}

struct Choice {
  std::size_t n = 0, k = 0, big_n = 0;
  std::size_t pbs_base = 0, pbs_levels = 0, ks_base = 0, ks_levels = 0;
  double seconds = std::numeric_limits<double>::infinity();
};

/// A constraint for fixed (k, N): w * n * EP + KS(n) + MS(n) <= u (PBS, ks_ms = 1) or
/// w * n * EP <= u (outputs, ks_ms = 0).
struct Bound {
  double w = 0, u = 0, ks_ms = 1;
};

class Search {
 public:
  Search(std::vector<Constraint> pbs, std::vector<Constraint> outputs, unsigned precision,
         const OptimizerOptions& options, const ModulusSwitchCandidate& ms = {},
         double cost_bound = std::numeric_limits<double>::infinity())
      : pbs_(std::move(pbs)),
        outputs_(std::move(outputs)),
        precision_(precision),
        options_(options) {
    lwe_variance_.resize(kMaxLweDimension + 1 - kMinLweDimension);
    for (std::size_t n = kMinLweDimension; n <= kMaxLweDimension; ++n)
      lwe_variance_[n - kMinLweDimension] = gaussian_variance_at_curve(n);
    set_modulus_switch(ms, cost_bound);
  }

  std::optional<Choice> run() {
    const unsigned min_log = std::max({options_.min_log2_polynomial_size, 8u, precision_ + 1});
    const unsigned max_log = std::min(options_.max_log2_polynomial_size, 17u);
    for (std::size_t k = 1; k <= options_.max_glwe_dimension; ++k) {
      for (unsigned log_n = min_log; log_n <= max_log; ++log_n) {
        const std::size_t big_n = std::size_t{1} << log_n;
        if (k * big_n > kMaxBigDimension) break;
        if (k * big_n < kMinLweDimension) continue;  // the big key must be on the curve too
        if (affine_cost(k, big_n, 1, 1, extra_slope_).at(kMinLweDimension) >= best_.seconds) break;
        search_glwe(k, big_n);
      }
    }
    if (!std::isfinite(best_.seconds) || best_.n == 0) return std::nullopt;  // n = 0: under bound
    return best_;
  }

 private:
  double ms(std::size_t n) const {
    // variance_modulus_switch, CenteredMean (same expression).
    if (ms_.kind == tfhe::ModulusSwitchKind::CenteredMean)
      return (1.0 + static_cast<double>(n) * 0.25) / (48.0 * big_n_d_ * big_n_d_);
    return drift_ms(n);
  }

  void search_glwe(std::size_t k, std::size_t big_n) {
    const std::size_t kn = k * big_n;
    const NoiseDistribution glwe = noise_at_curve(kn);
    const double g = glwe.variance();
    big_n_d_ = static_cast<double>(big_n);
    kn_d_ = static_cast<double>(kn);

    // Constraints for this (k, N), Pareto-reduced on (w, u).
    std::vector<Bound> bounds;
    // A lower bound of MS(n) over n (the Drift kinds' zeros noise, decreasing in n, left out).
    const double ms_min = ms(kMinLweDimension) - applied_ * lwe_variance_[0];
    for (const Constraint& c : pbs_) {
      const double u = c.vmax - c.f * g;
      if (u <= ms_min) return;  // even n = 450 without keyswitch noise fails
      bounds.push_back({c.w, u, 1.0});
    }
    for (const Constraint& c : outputs_) {
      const double u = c.vmax - c.f * g;
      if (u <= 0) return;
      if (c.w > 0) bounds.push_back({c.w, u, 0.0});
    }
    reduce(bounds);
    bounds_ = std::move(bounds);

    // PBS decompositions: for each level count, the base minimising the external product's
    // variance; only level counts that lower it are kept.
    double best_ep = std::numeric_limits<double>::infinity();
    for (std::size_t l = 1; l <= kPbsBits; ++l) {
      double ep = std::numeric_limits<double>::infinity();
      std::size_t base = 0;
      for (std::size_t b = 1; b * l <= kPbsBits; ++b) {
        const double v = tfhe::variance_external_product(
            GlweDimension(k), PolynomialSize(big_n),
            {DecompositionBaseLog(b), DecompositionLevelCount(l)}, glwe);
        if (v < ep) ep = v, base = b;
      }
      if (ep >= best_ep) continue;
      best_ep = ep;
      if (affine_cost(k, big_n, l, 1, extra_slope_).at(kMinLweDimension) >= best_.seconds) break;
      search_pbs(k, big_n, l, base, ep);
    }
  }

  /// Keeps, among constraints of one kind, those not implied by another (larger w, smaller u).
  static void reduce(std::vector<Bound>& bounds) {
    std::sort(bounds.begin(), bounds.end(), [](const Bound& a, const Bound& b) {
      if (a.ks_ms != b.ks_ms) return a.ks_ms > b.ks_ms;
      if (a.w != b.w) return a.w > b.w;
      return a.u < b.u;
    });
    std::vector<Bound> kept;
    double min_u = std::numeric_limits<double>::infinity(), kind = -1;
    for (const Bound& b : bounds) {
      if (b.ks_ms != kind) kind = b.ks_ms, min_u = std::numeric_limits<double>::infinity();
      if (b.u < min_u) kept.push_back(b), min_u = b.u;
    }
    bounds = std::move(kept);
  }

  void search_pbs(std::size_t k, std::size_t big_n, std::size_t l_pbs, std::size_t pbs_base,
                  double ep) {
    ep_ = ep;
    // Upper limit on n from the blind rotation term alone.
    double n_limit = static_cast<double>(kMaxLweDimension);
    for (const Bound& b : bounds_)
      if (b.w > 0) n_limit = std::min(n_limit, std::floor(b.u / (b.w * ep)) + 1.0);
    if (n_limit < static_cast<double>(kMinLweDimension)) return;
    const auto n_hi_noise = static_cast<std::size_t>(n_limit);

    for (std::size_t l_ks = 1; l_ks <= kKsBits; ++l_ks) {
      const AffineCost cost = affine_cost(k, big_n, l_pbs, l_ks, extra_slope_);
      if (cost.at(kMinLweDimension) >= best_.seconds) break;
      std::size_t hi = n_hi_noise;
      if (std::isfinite(best_.seconds)) {
        // Largest n strictly cheaper than the best so far.
        const double n_budget = std::ceil((best_.seconds - cost.offset) / cost.slope) - 1.0;
        hi = std::min(hi, static_cast<std::size_t>(std::max(n_budget, 0.0)));
      }
      if (hi < kMinLweDimension) break;

      // Bases optimal somewhere in [450, hi] (closed form, widened by one each side).
      const double ll = static_cast<double>(l_ks);
      const auto b_star = [&](std::size_t n) {
        return std::log2(0.5 / lwe_variance_[n - kMinLweDimension]) / (2.0 * (ll + 1.0));
      };
      const std::size_t b_max_valid = kKsBits / l_ks;
      const std::size_t b_lo = std::min(
          b_max_valid,
          static_cast<std::size_t>(std::max(1.0, std::floor(b_star(kMinLweDimension)) - 1.0)));
      const std::size_t b_hi =
          std::min(b_max_valid, static_cast<std::size_t>(std::ceil(b_star(hi)) + 1.0));
      for (std::size_t b = b_lo; b <= b_hi; ++b) {
        const double base = std::exp2(static_cast<double>(b));
        // variance_keyswitch = ks_round_ + ks_key_ * (Var(lwe_noise) + key rounding) (same
        // expressions).
        ks_round_ = kn_d_ * 0.5 * std::pow(base, -2.0 * ll) / 12.0;
        ks_key_ = kn_d_ * ll * (base * base + 2.0) / 12.0;
        const std::optional<std::size_t> n = first_feasible(kMinLweDimension, hi);
        if (!n) continue;
        const double seconds = cost.at(*n);
        if (seconds < best_.seconds) {
          best_ = {*n, k, big_n, pbs_base, l_pbs, b, l_ks, seconds};
          hi = *n - 1;  // later bases must do strictly better
          if (hi < kMinLweDimension) break;
        }
      }
    }
  }

  /// max over the constraints of (variance - bound) at n: feasible iff <= 0. Convex in n.
  double excess(std::size_t n) const {
    const double br = static_cast<double>(n) * ep_;
    const double ks_ms =
        ks_round_ +
        ks_key_ * (lwe_variance_[n - kMinLweDimension] + tfhe::kKeyswitchKeyRoundingVariance) +
        ms(n);
    double worst = -std::numeric_limits<double>::infinity();
    for (const Bound& b : bounds_) worst = std::max(worst, b.w * br + b.ks_ms * ks_ms - b.u);
    return worst;
  }

  /// The smallest n in [lo, hi] with excess(n) <= 0, if any (excess is convex).
  std::optional<std::size_t> first_feasible(std::size_t lo, std::size_t hi) const {
    if (excess(lo) <= 0) return lo;
    std::size_t right = hi;
    if (excess(hi) > 0) {
      // Argmin: the first n whose forward difference is non-negative.
      std::size_t a = lo, b = hi;
      while (a < b) {
        const std::size_t mid = a + (b - a) / 2;
        if (excess(mid + 1) - excess(mid) >= 0) {
          b = mid;
        } else {
          a = mid + 1;
        }
      }
      if (excess(a) > 0) return std::nullopt;
      right = a;
    }
    // excess(lo) > 0 >= excess(right): the left end of the feasible interval.
    std::size_t a = lo, b = right;
    while (b - a > 1) {
      const std::size_t mid = a + (b - a) / 2;
      (excess(mid) <= 0 ? b : a) = mid;
    }
    return b;
  }

  std::vector<Constraint> pbs_, outputs_;
  unsigned precision_;
  OptimizerOptions options_;
  std::vector<double> lwe_variance_;  // Var(lwe_noise) at the curve, by n - 450

  // State of the current branch.
  std::vector<Bound> bounds_;
  double big_n_d_ = 0, kn_d_ = 0, ep_ = 0, ks_round_ = 0, ks_key_ = 0;
  Choice best_;

  // ---- Modulus switch candidate (issue 12: the drift technique) ----
  // Other kinds than CenteredMean: the variance of tfhe::variance_modulus_switch with the zeros
  // at the small key's noise (noise_at_curve(n)), the N-independent part cached per n; the noise
  // reduction's cost (linear in n) in the cost model's slope. A cost bound (the best set of the
  // candidates searched before) prunes the search: it then finds only cheaper sets.
  void set_modulus_switch(const ModulusSwitchCandidate& ms, double cost_bound) {
    ms_ = ms;
    best_.seconds = cost_bound;
    if (tfhe::uses_noise_reduction(ms.kind)) {
      reduction_ = {ms.zeros_count, ms.max_rounds, NoiseDistribution{}};
      extra_slope_ = tfhe::estimate_noise_reduction_seconds(LweDimension(1), reduction_);
      applied_ = tfhe::expected_noise_reduction_rounds(ms.zeros_count, ms.max_rounds).applied;
    }
    steps2_.assign(kMaxLweDimension + 1 - kMinLweDimension, -1.0);
  }
  double drift_ms(std::size_t n) const {
    double& s = steps2_[n - kMinLweDimension];
    if (s < 0) s = tfhe::modulus_switch_error_steps2(LweDimension(n), ms_.kind, reduction_);
    return s / (4.0 * big_n_d_ * big_n_d_) + applied_ * lwe_variance_[n - kMinLweDimension];
  }
  ModulusSwitchCandidate ms_;
  tfhe::ModulusSwitchNoiseReduction reduction_;
  double extra_slope_ = 0, applied_ = 0;
  mutable std::vector<double> steps2_;  // modulus_switch_error_steps2 by n - 450 (-1: not yet)
};

// ---- Requirements -------------------------------------------------------------------------------

void check_weights(double w, double f, const char* what) {
  if (!std::isfinite(w) || w < 0 || !std::isfinite(f) || f < 0)
    throw InvalidArgument(std::string(what) +
                          ": pbs_weight and fresh_weight must be finite and non-negative");
}

void check_options(const OptimizerOptions& o) {
  const auto valid_p = [](double p) { return std::isfinite(p) && p > 0 && p < 1; };
  if (!valid_p(o.p_error)) throw InvalidArgument("optimizer: p_error must be in (0, 1)");
  if (o.global_p_error && !valid_p(*o.global_p_error))
    throw InvalidArgument("optimizer: global_p_error must be in (0, 1)");
  if (o.max_glwe_dimension < 1 || o.max_glwe_dimension > 16)
    throw InvalidArgument("optimizer: max_glwe_dimension must be in [1, 16]");
  if (o.min_log2_polynomial_size > o.max_log2_polynomial_size || o.max_log2_polynomial_size < 8 ||
      o.min_log2_polynomial_size > 17)
    throw InvalidArgument(
        "optimizer: the polynomial size range must meet [2^8, 2^17] (min <= max log2)");
}

/// log2 of the failure target of each PBS and output decryption.
double log2_item_target(const OptimizerOptions& o, std::uint64_t total_count) {
  if (!o.global_p_error) return std::log2(o.p_error);
  return std::log2(*o.global_p_error) -
         std::log2(static_cast<double>(std::max<std::uint64_t>(total_count, 1)));
}

std::string pow2_string(double log2_value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2^%.1f", log2_value);
  return buf;
}

/// log2(sum_i 2^x_i), robust to terms far below the double range.
class Log2Sum {
 public:
  void add(double log2_term) {
    if (log2_term == -std::numeric_limits<double>::infinity()) return;
    if (log2_term > max_) {
      sum_ = sum_ * std::exp2(max_ - log2_term) + 1.0;
      max_ = log2_term;
    } else {
      sum_ += std::exp2(log2_term - max_);
    }
  }
  double value() const {
    return sum_ == 0 ? -std::numeric_limits<double>::infinity() : max_ + std::log2(sum_);
  }

 private:
  double max_ = -std::numeric_limits<double>::infinity(), sum_ = 0;
};

/// The variance bound of a p-bit PBS input or output (half a step 2^-(bits+2)) at the target.
class BoundTable {
 public:
  explicit BoundTable(double log2_target) : log2_target_(log2_target) {}
  double operator()(unsigned bits) {
    if (bits >= cache_.size())
      return max_variance(-static_cast<int>(std::min(bits, 1000u)) - 2, log2_target_);
    if (cache_[bits] < 0) cache_[bits] = max_variance(-static_cast<int>(bits) - 2, log2_target_);
    return cache_[bits];
  }

 private:
  double log2_target_;
  std::vector<double> cache_ = std::vector<double>(64, -1.0);
};

std::string weights_string(double w, double f) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "variance %g x PBS output + %g x fresh encryption", w, f);
  return buf;
}

[[noreturn]] void throw_infeasible(std::span<const PbsRequirement> pbs,
                                   std::span<const OutputRequirement> outputs,
                                   const std::vector<Constraint>& pbs_constraints,
                                   const std::vector<Constraint>& output_constraints,
                                   unsigned precision, double log2_target,
                                   const OptimizerOptions& options) {
  const std::string target = pow2_string(log2_target);
  const std::string what_to_do =
      options.global_p_error ? "allow a larger global_p_error" : "allow a larger p_error";
  // A single requirement that no parameter set can meet, widest precision first.
  std::vector<Constraint> by_precision = pbs_constraints;
  std::sort(by_precision.begin(), by_precision.end(),
            [&](const Constraint& a, const Constraint& b) {
              return pbs[a.source].precision_bits > pbs[b.source].precision_bits;
            });
  for (const Constraint& c : by_precision) {
    const PbsRequirement& r = pbs[c.source];
    if (!Search({c}, {}, r.precision_bits, options).run())
      throw CompileError("no 128-bit-secure parameters let a " + std::to_string(r.precision_bits) +
                         "-bit table lookup (input " +
                         weights_string(r.pbs_weight, r.fresh_weight) +
                         ") fail with probability at most " + target +
                         ": use fewer bits (round the table input before the lookup), lower the "
                         "2-norm of the linear combination feeding it, or " +
                         what_to_do);
  }
  const Constraint trivial{0.0, 0.0, 1.0, 0};
  for (const Constraint& c : output_constraints) {
    const OutputRequirement& o = outputs[c.source];
    if (!Search({trivial}, {c}, 1, options).run())
      throw CompileError("no 128-bit-secure parameters let a " + std::to_string(o.width_bits) +
                         "-bit output (" + weights_string(o.pbs_weight, o.fresh_weight) +
                         ") decrypt with failure probability at most " + target +
                         ": narrow the output (rescale or round it before decryption), lower its "
                         "noise weights, or " +
                         what_to_do);
  }
  throw CompileError("no 128-bit-secure parameters meet all " + std::to_string(pbs.size()) +
                     " PBS and " + std::to_string(outputs.size()) +
                     " output requirements together (widest table lookup: " +
                     std::to_string(precision) + " bits) with failure probability at most " +
                     target + " each: use fewer bits, lower the weights, or " + what_to_do);
}

}  // namespace

OptimizerResult optimize_pbs_parameters(std::span<const PbsRequirement> pbs,
                                        std::span<const OutputRequirement> outputs,
                                        const OptimizerOptions& options) {
  check_options(options);
  if (pbs.empty())
    throw InvalidArgument(
        "optimize_pbs_parameters: no PBS requirement (use optimize_leveled_parameters for "
        "circuits without table lookups)");
  unsigned precision = 0;
  std::uint64_t total_count = 0, pbs_count = 0;
  double max_pbs_weight = 0;
  for (const PbsRequirement& r : pbs) {
    if (r.precision_bits == 0)
      throw InvalidArgument("PBS requirement: precision_bits must be >= 1");
    check_weights(r.pbs_weight, r.fresh_weight, "PBS requirement");
    precision = std::max(precision, r.precision_bits);
    max_pbs_weight = std::max(max_pbs_weight, r.pbs_weight);
    total_count += r.count;
    pbs_count += r.count;
  }
  for (const OutputRequirement& o : outputs) {
    if (o.width_bits == 0) throw InvalidArgument("output requirement: width_bits must be >= 1");
    check_weights(o.pbs_weight, o.fresh_weight, "output requirement");
    total_count += o.count;
  }
  const double log2_target = log2_item_target(options, total_count);
  if (precision > kMaxPrecision)
    throw CompileError("a " + std::to_string(precision) + "-bit table lookup is wider than the " +
                       std::to_string(kMaxPrecision) +
                       " bits a PBS supports: use fewer bits (round the table input before the "
                       "lookup)");

  BoundTable bound(log2_target);
  std::vector<Constraint> pbs_constraints, output_constraints;
  for (std::size_t i = 0; i < pbs.size(); ++i)
    pbs_constraints.push_back(
        {pbs[i].pbs_weight, pbs[i].fresh_weight, bound(pbs[i].precision_bits), i});
  for (std::size_t i = 0; i < outputs.size(); ++i)
    output_constraints.push_back(
        {outputs[i].pbs_weight, outputs[i].fresh_weight, bound(outputs[i].width_bits), i});
  pbs_constraints = pareto_reduce(std::move(pbs_constraints));
  output_constraints = pareto_reduce(std::move(output_constraints));

  // Modulus switch candidates: each search only looks for sets cheaper than the best so far.
  const std::vector<ModulusSwitchCandidate> candidates = options.modulus_switch_candidates.empty()
                                                             ? default_modulus_switch_candidates()
                                                             : options.modulus_switch_candidates;
  std::optional<Choice> choice;
  ModulusSwitchCandidate chosen_ms;
  for (const ModulusSwitchCandidate& ms : candidates) {
    const bool drift = tfhe::uses_noise_reduction(ms.kind);
    if ((drift && (ms.zeros_count < 1 || ms.zeros_count > tfhe::kMaxModulusSwitchZeros ||
                   ms.max_rounds < 1 || ms.max_rounds > tfhe::kMaxModulusSwitchRounds)) ||
        (!drift && ms.kind != tfhe::ModulusSwitchKind::Standard &&
         ms.kind != tfhe::ModulusSwitchKind::CenteredMean))
      throw InvalidArgument("optimizer: invalid modulus switch candidate");
    const std::optional<Choice> c =
        Search(pbs_constraints, output_constraints, precision, options, ms,
               choice ? choice->seconds : std::numeric_limits<double>::infinity())
            .run();
    if (c) choice = c, chosen_ms = ms;
  }
  if (!choice)
    throw_infeasible(pbs, outputs, pbs_constraints, output_constraints, precision, log2_target,
                     options);

  OptimizerResult result;
  PbsParameters& p = result.parameters;
  p.name = "optimized_" + std::to_string(precision) + "bit";
  p.message_bits = precision;
  p.lwe_dimension = LweDimension(choice->n);
  p.glwe_dimension = GlweDimension(choice->k);
  p.polynomial_size = PolynomialSize(choice->big_n);
  p.lwe_noise = noise_at_curve(choice->n);
  p.glwe_noise = noise_at_curve(choice->k * choice->big_n);
  p.pbs = {DecompositionBaseLog(choice->pbs_base), DecompositionLevelCount(choice->pbs_levels)};
  p.ks = {DecompositionBaseLog(choice->ks_base), DecompositionLevelCount(choice->ks_levels)};
  p.modulus_switch = chosen_ms.kind;
  if (tfhe::uses_noise_reduction(chosen_ms.kind))
    p.ms_noise_reduction = {chosen_ms.zeros_count, chosen_ms.max_rounds, p.lwe_noise};
  p.max_two_norm = std::max(1.0, std::sqrt(max_pbs_weight));
  p.source =
      "TorusML optimizer: Concrete security curve (128-bit), noise model of "
      "tfhe/noise_model.h (Gaussian noise at the curve's minimum, " +
      std::string(chosen_ms.kind == tfhe::ModulusSwitchKind::CenteredMean ? "centered"
                  : chosen_ms.kind == tfhe::ModulusSwitchKind::Standard   ? "standard"
                                                                          : "drift-reduced") +
      " modulus switch), p_fail <= " + pow2_string(log2_target) + " per PBS and output";
  p.validate();
  TORUSML_CHECK(tfhe::is_128_bit_secure(p), "optimizer chose an insecure set: " << p);

  // Independent check of every requirement with the noise model, and the failure probabilities.
  const double out = tfhe::variance_blind_rotation(p.lwe_dimension, p.glwe_dimension,
                                                   p.polynomial_size, p.pbs, p.glwe_noise);
  const double fresh = tfhe::variance_fresh(p.glwe_noise);
  Log2Sum global;
  result.log2_worst_p_error = -std::numeric_limits<double>::infinity();
  for (const PbsRequirement& r : pbs) {
    const tfhe::PbsNoise noise =
        tfhe::pbs_noise(p, r.pbs_weight * out + r.fresh_weight * fresh, 1.0);
    const double log2_p = tfhe::log2_gaussian_tail(
        std::ldexp(1.0, -static_cast<int>(r.precision_bits) - 2), noise.total);
    TORUSML_CHECK(log2_p <= log2_target + 1e-9,
                  "optimizer: PBS requirement missed: 2^" << log2_p << " for " << p);
    result.log2_worst_p_error = std::max(result.log2_worst_p_error, log2_p);
    if (r.count > 0) global.add(log2_p + std::log2(static_cast<double>(r.count)));
  }
  for (const OutputRequirement& o : outputs) {
    const double log2_p =
        tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(o.width_bits) - 2),
                                 o.pbs_weight * out + o.fresh_weight * fresh);
    TORUSML_CHECK(log2_p <= log2_target + 1e-9,
                  "optimizer: output requirement missed: 2^" << log2_p << " for " << p);
    if (o.count > 0) global.add(log2_p + std::log2(static_cast<double>(o.count)));
  }
  result.log2_global_p_error = global.value();
  result.estimated_pbs_seconds = estimate_pbs_seconds(p);

  char line[256];
  std::snprintf(line, sizeof line,
                "%s: n=%zu k=%zu N=%zu pbs=2^%zux%zu ks=2^%zux%zu, %.3f ms per PBS (%llu PBS: "
                "%.3f s), worst p_fail %s, global %s",
                p.name.c_str(), choice->n, choice->k, choice->big_n, choice->pbs_base,
                choice->pbs_levels, choice->ks_base, choice->ks_levels,
                result.estimated_pbs_seconds * 1e3, static_cast<unsigned long long>(pbs_count),
                result.estimated_pbs_seconds * static_cast<double>(pbs_count),
                pow2_string(result.log2_worst_p_error).c_str(),
                pow2_string(result.log2_global_p_error).c_str());
  result.summary = line;
  return result;
}

LeveledParameters optimize_leveled_parameters(std::span<const OutputRequirement> outputs,
                                              const OptimizerOptions& options) {
  check_options(options);
  std::uint64_t total_count = 0;
  for (const OutputRequirement& o : outputs) {
    if (o.width_bits == 0) throw InvalidArgument("output requirement: width_bits must be >= 1");
    check_weights(o.pbs_weight, o.fresh_weight, "output requirement");
    if (o.pbs_weight != 0)
      throw InvalidArgument(
          "optimize_leveled_parameters: an output has pbs_weight != 0 but a leveled circuit has "
          "no PBS (use optimize_pbs_parameters)");
    total_count += o.count;
  }
  const double log2_target = log2_item_target(options, total_count);
  BoundTable bound(log2_target);

  // Fresh variance is non-increasing in n: binary search over multiples of 8 in [456, 2^16].
  constexpr std::size_t kStep = 8, kFirst = 456, kLast = std::size_t{1} << 16;
  const auto feasible = [&](std::size_t n) {
    const double v = gaussian_variance_at_curve(n);
    return std::all_of(outputs.begin(), outputs.end(), [&](const OutputRequirement& o) {
      return o.fresh_weight * v <= bound(o.width_bits);
    });
  };
  if (!feasible(kLast)) {
    // The first output that fails even at the noise floor, and the widest width that would pass.
    const double floor_variance = gaussian_variance_at_curve(kLast);
    for (const OutputRequirement& o : outputs) {
      if (o.fresh_weight * floor_variance <= bound(o.width_bits)) continue;
      unsigned widest = 0;
      while (widest < 62 && o.fresh_weight * floor_variance <= bound(widest + 1)) ++widest;
      throw CompileError(
          "no 128-bit-secure LWE key lets a " + std::to_string(o.width_bits) + "-bit output (" +
          weights_string(0.0, o.fresh_weight) + ") decrypt with failure probability at most " +
          pow2_string(log2_target) +
          " (even n = 65536, noise at the 2^-62 floor): the widest such output is " +
          std::to_string(widest) +
          " bits; narrow it (rescale or round before the output), lower its weight, or allow a "
          "larger p_error");
    }
  }
  std::size_t lo = 0, hi = (kLast - kFirst) / kStep;  // indices; hi is feasible
  if (feasible(kFirst)) hi = 0;
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (feasible(kFirst + mid * kStep) ? hi : lo) = mid;
  }
  const std::size_t n = kFirst + hi * kStep;

  LeveledParameters result;
  result.lwe_dimension = LweDimension(n);
  result.noise = noise_at_curve(n);
  Log2Sum global;
  for (const OutputRequirement& o : outputs) {
    const double log2_p =
        tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(o.width_bits) - 2),
                                 o.fresh_weight * result.noise.variance());
    TORUSML_CHECK(log2_p <= log2_target + 1e-9, "leveled optimizer: output missed: 2^" << log2_p);
    if (o.count > 0) global.add(log2_p + std::log2(static_cast<double>(o.count)));
  }
  result.log2_global_p_error = global.value();
  char line[160];
  std::snprintf(line, sizeof line, "leveled: n=%zu, noise std 2^%.2f, global p_fail %s", n,
                std::log2(result.noise.std_dev), pow2_string(result.log2_global_p_error).c_str());
  result.summary = line;
  return result;
}

CostModelConstants cost_model_constants() {
  return {kFftSeconds, kKeySeconds, kKeyswitchSeconds, kExtraLevelSeconds};
}

double estimate_pbs_seconds(const tfhe::PbsParameters& p) {
  return affine_cost(p.glwe_dimension.value(), p.polynomial_size.value(), p.pbs.level_count.value(),
                     p.ks.level_count.value())
             .at(p.lwe_dimension.value()) +
         tfhe::estimate_noise_reduction_seconds(p);  // 0 unless a Drift kind
}

std::vector<ModulusSwitchCandidate> default_modulus_switch_candidates() {
  using tfhe::ModulusSwitchKind;
  return {{ModulusSwitchKind::CenteredMean, 0, 0},
          {ModulusSwitchKind::DriftCenteredMean, 256, 1},
          {ModulusSwitchKind::DriftCenteredMean, 1024, 1},
          {ModulusSwitchKind::DriftCenteredMean, 1024, 2},
          {ModulusSwitchKind::DriftCenteredMean, 4096, 2}};
}

// bench_tfhe encrypt/<preset> (median of 3, one core of this Zen 4 machine): 7.6 us for
// dimension 2048 (the 3- and 4-bit presets), 30.1 us for 8192: 3.7 ns per torus word.
constexpr double kEncryptSecondsPerWord = 3.7e-9;

double estimate_encryption_seconds(tfhe::LweDimension dimension) {
  return kEncryptSecondsPerWord * static_cast<double>(dimension.value() + 1);
}

}  // namespace torusml::circuit
