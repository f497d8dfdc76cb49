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
//
// Multi-bit blind rotations (grouping factor g > 1, tfhe/multi_bit_bootstrap.h) are searched the
// same way, one search per grouping factor: the blind rotation's variance is not n EP but
// sum over the ceil(n/g) groups of variance_multi_bit_external_product(group size), bounded by
// n EP' with the per-bit EP' = max over h in 1..g of EP_h / h (floor(n/g) EP_g + EP_(n mod g)
// <= n EP'), so the constraints keep their form with EP' for EP (the final check uses the exact
// variance, tfhe::variance_pbs_output). The cost is ceil(n/g) groups (AffineCost::group):
// non-decreasing in n, so the smallest feasible n is still the cheapest, and the cost budget
// on n uses its affine lower bound. Multi-bit sets only use the Standard and CenteredMean
// modulus switches.
//
// Generalized constraints (search_detail.h) serve the partitioned optimizer: a cross keyswitch's
// variance is the own keyswitch's scaled by its input dimension over k N (so the same KS base
// argument holds), and another partition's keyswitch reading this big key adds a term linear in
// k N to an output-like constraint. Neither changes the convexity in n nor the separability.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torusml/circuit/optimizer/search_detail.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {

using tfhe::DecompositionBaseLog;
using tfhe::DecompositionLevelCount;
using tfhe::GlweDimension;
using tfhe::LweDimension;
using tfhe::NoiseDistribution;
using tfhe::PolynomialSize;

namespace detail {

namespace {

constexpr std::size_t kMaxBigDimension = std::size_t{1} << 17;
constexpr std::size_t kPbsBits = 53;  // base_log * level_count: the FFT's double precision
constexpr std::size_t kKsBits = tfhe::kKeyswitchModulusBits;  // the key is modulo 2^32

/// Relative safety on variance bounds, so that the search's arithmetic (same formulas as the
/// noise model, possibly another rounding order) never accepts a set the model rejects.
constexpr double kBoundSafety = 1.0 - 1e-9;

/// Var(lwe_noise) at the curve for n = 450 ... 4096, by n - 450 (computed once).
const std::vector<double>& lwe_variance_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kMaxLweDimension + 1 - kMinLweDimension);
    for (std::size_t n = kMinLweDimension; n <= kMaxLweDimension; ++n)
      t[n - kMinLweDimension] = noise_at_curve(n).variance();
    return t;
  }();
  return table;
}

/// A constraint for fixed (k, N): w * n * EP + ks * KS(n) + ms * MS(n) + small * L(n) <= u, L the
/// small key's fresh variance (PBS inputs: ms = 1, ks = 1 for the own keyswitch, its input
/// dimension over k N for a cross one, 0 for small-key inputs, which have small > 0; outputs:
/// ks = ms = 0).
struct Bound {
  double w = 0, u = 0, ks = 1, ms = 1, small = 0;
};

class Search {
 public:
  Search(const std::vector<Constraint>& pbs, const std::vector<Constraint>& outputs,
         unsigned precision, const OptimizerOptions& options, const ModulusSwitchCandidate& ms,
         std::size_t grouping, double cost_bound, const CostShape& shape, SearchCache& cache)
      : pbs_(pbs),
        outputs_(outputs),
        precision_(precision),
        options_(options),
        grouping_(grouping),
        shape_(shape),
        cache_(cache),
        lwe_variance_(lwe_variance_table()),
        multiple_(std::max<std::size_t>(options.lwe_dimension_multiple, 1)) {
    set_modulus_switch(ms, cost_bound);
    keyswitch_free_ =
        shape.own == 0 && shape.cross_dimension == 0 && shape.outgoing == 0 &&
        std::none_of(pbs.begin(), pbs.end(), [](const Constraint& c) { return c.keyswitch; });
  }

  std::optional<Choice> run() {
    const unsigned min_log = std::max({options_.min_log2_polynomial_size, 8u, precision_ + 1});
    const unsigned max_log = std::min(options_.max_log2_polynomial_size, 17u);
    for (std::size_t k = 1; k <= options_.max_glwe_dimension; ++k) {
      for (unsigned log_n = min_log; log_n <= max_log; ++log_n) {
        const std::size_t big_n = std::size_t{1} << log_n;
        if (k * big_n > kMaxBigDimension) break;
        if (k * big_n < kMinLweDimension) continue;  // the big key must be on the curve too
        if (cost(k, big_n, 1, 1).at(kMinLweDimension) >= best_.seconds) break;
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
      const double ks = !c.keyswitch ? 0.0 : c.ks_input > 0 ? c.ks_input / kn_d_ : 1.0;
      bounds.push_back({c.w, u, ks, 1.0, c.small});
    }
    for (const Constraint& c : outputs_) {
      double u = c.vmax - c.f * g;
      if (c.kn_coef != 0) u -= c.kn_coef * kn_d_;
      if (u <= 0) return;
      if (c.w > 0) bounds.push_back({c.w, u, 0.0, 0.0});
    }
    reduce(bounds);
    bounds_ = std::move(bounds);
    // The constraints whose keyswitch and modulus switch weigh alike (all but cross reads).
    uniform_.clear();
    general_.clear();
    for (const Bound& b : bounds_)
      (b.ks == b.ms && b.small == 0 ? uniform_ : general_).push_back(b);

    // PBS decompositions: for each level count, the base minimising the external product's
    // variance (per bit for multi-bit: EP'); only level counts that lower it are kept.
    double best_ep = std::numeric_limits<double>::infinity();
    for (std::size_t l = 1; l <= kPbsBits; ++l) {
      const auto [ep, base] = cache_.best_pbs_base(k, big_n, l, grouping_);
      if (ep >= best_ep) continue;
      best_ep = ep;
      if (cost(k, big_n, l, 1).at(kMinLweDimension) >= best_.seconds) break;
      search_pbs(k, big_n, l, base, ep);
    }
  }

  /// Keeps, among constraints of one kind (ks, ms), those not implied by another (larger w,
  /// smaller u).
  static void reduce(std::vector<Bound>& bounds) {
    std::sort(bounds.begin(), bounds.end(), [](const Bound& a, const Bound& b) {
      if (a.ks != b.ks) return a.ks > b.ks;
      if (a.ms != b.ms) return a.ms > b.ms;
      if (a.small != b.small) return a.small > b.small;
      if (a.w != b.w) return a.w > b.w;
      return a.u < b.u;
    });
    std::vector<Bound> kept;
    double min_u = std::numeric_limits<double>::infinity(), ks = -1, ms = -1, small = -1;
    for (const Bound& b : bounds) {
      if (b.ks != ks || b.ms != ms || b.small != small)
        ks = b.ks, ms = b.ms, small = b.small, min_u = std::numeric_limits<double>::infinity();
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
      const AffineCost cost = this->cost(k, big_n, l_pbs, l_ks);
      if (cost.at(kMinLweDimension) >= best_.seconds) break;
      std::size_t hi = n_hi_noise;
      if (std::isfinite(best_.seconds)) {
        // Largest n strictly cheaper than the best so far (by the affine lower bound of the cost:
        // for multi-bit sets a few more n are searched, the exact cost decides below).
        const double n_budget = std::ceil((best_.seconds - cost.offset) / cost.lower_slope()) - 1.0;
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
        std::optional<std::size_t> n = first_feasible(kMinLweDimension, hi);
        if (!n) continue;
        if (multiple_ > 1) {
          // The next multiple (the feasible n form an interval: if it is not feasible, no larger
          // one is).
          const std::size_t up = (*n + multiple_ - 1) / multiple_ * multiple_;
          if (up > hi || up > kMaxLweDimension || excess(up) > 0) continue;
          n = up;
        }
        const double seconds = cost.at(*n);
        if (seconds < best_.seconds) {
          best_ = {*n, k, big_n, pbs_base, l_pbs, b, l_ks, grouping_, seconds};
          hi = *n - 1;  // later bases must do strictly better
          if (hi < kMinLweDimension) break;
        }
      }
      // No constraint keyswitches and none costs: the keyswitch is unused, one level is enough.
      if (keyswitch_free_) break;
    }
  }

  /// max over the constraints of (variance - bound) at n: feasible iff <= 0. Convex in n.
  double excess(std::size_t n) const {
    const double br = static_cast<double>(n) * ep_;
    const double ks = ks_round_ + ks_key_ * (lwe_variance_[n - kMinLweDimension] +
                                             tfhe::kKeyswitchKeyRoundingVariance);
    const double ms_n = ms(n);
    const double ks_ms = ks + ms_n;
    double worst = -std::numeric_limits<double>::infinity();
    for (const Bound& b : uniform_) worst = std::max(worst, b.w * br + b.ms * ks_ms - b.u);
    const double small = lwe_variance_[n - kMinLweDimension];
    for (const Bound& b : general_)
      worst = std::max(worst, b.w * br + b.ks * ks + b.ms * ms_n + b.small * small - b.u);
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

  AffineCost cost(std::size_t k, std::size_t big_n, std::size_t l_pbs, std::size_t l_ks) const {
    return batched_affine_cost(k, big_n, l_pbs, l_ks, extra_slope_, shape_, grouping_);
  }

  const std::vector<Constraint>& pbs_;
  const std::vector<Constraint>& outputs_;
  unsigned precision_;
  const OptimizerOptions& options_;
  std::size_t grouping_;  // 1: classic blind rotation; g > 1: multi-bit (ep_ is EP' per bit)
  CostShape shape_;
  SearchCache& cache_;
  const std::vector<double>& lwe_variance_;  // Var(lwe_noise) at the curve, by n - 450
  std::size_t multiple_;                     // n is a multiple of it
  bool keyswitch_free_ = false;              // no constraint keyswitches, none costs

  // State of the current branch.
  std::vector<Bound> bounds_, uniform_, general_;
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
      extra_slope_ = extra_slope(ms);
      applied_ = tfhe::expected_noise_reduction_rounds(ms.zeros_count, ms.max_rounds).applied;
    }
    steps2_ = &cache_.modulus_switch_steps2(ms);
  }
  double drift_ms(std::size_t n) const {
    double& s = (*steps2_)[n - kMinLweDimension];
    if (s < 0) s = tfhe::modulus_switch_error_steps2(LweDimension(n), ms_.kind, reduction_);
    return s / (4.0 * big_n_d_ * big_n_d_) + applied_ * lwe_variance_[n - kMinLweDimension];
  }
  ModulusSwitchCandidate ms_;
  tfhe::ModulusSwitchNoiseReduction reduction_;
  double extra_slope_ = 0, applied_ = 0;
  std::vector<double>* steps2_ = nullptr;  // modulus_switch_error_steps2 by n - 450 (cache_)
};

}  // namespace

NoiseDistribution noise_at_curve(std::size_t dimension) {
  return NoiseDistribution::gaussian(
      std::exp2(tfhe::minimal_secure_log2_std(LweDimension(dimension))));
}

/// By bisection on log2 v (the tail grows with v); the returned value always meets the target.
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

std::vector<Constraint> pareto_reduce(std::vector<Constraint> cs) {
  std::sort(cs.begin(), cs.end(), [](const Constraint& a, const Constraint& b) {
    if (a.vmax != b.vmax) return a.vmax < b.vmax;
    if (a.w != b.w) return a.w > b.w;
    return a.f > b.f;
  });
  std::vector<Constraint> kept;
  for (const Constraint& c : cs) {
    const bool implied = std::any_of(kept.begin(), kept.end(), [&](const Constraint& d) {
      return d.ks_input == c.ks_input && d.kn_coef == c.kn_coef && d.keyswitch == c.keyswitch &&
             d.w >= c.w && d.f >= c.f && d.small >= c.small && d.vmax <= c.vmax;
    });
    if (!implied) kept.push_back(c);
  }
  return kept;
}

std::vector<double>& SearchCache::modulus_switch_steps2(const ModulusSwitchCandidate& ms) {
  std::vector<double>& v = steps2_[{static_cast<int>(ms.kind), ms.zeros_count, ms.max_rounds}];
  if (v.empty()) v.assign(kMaxLweDimension + 1 - kMinLweDimension, -1.0);
  return v;
}

std::pair<double, std::size_t> SearchCache::best_pbs_base(std::size_t k, std::size_t big_n,
                                                          std::size_t l, std::size_t grouping) {
  const auto [it, inserted] = pbs_.try_emplace({k, big_n, l, grouping});
  if (inserted) {
    const NoiseDistribution glwe = noise_at_curve(k * big_n);
    double ep = std::numeric_limits<double>::infinity();
    std::size_t base = 0;
    for (std::size_t b = 1; b * l <= kPbsBits; ++b) {
      const tfhe::DecompositionParameters d{DecompositionBaseLog(b), DecompositionLevelCount(l)};
      double v = 0;
      if (grouping <= 1) {
        v = tfhe::variance_external_product(GlweDimension(k), PolynomialSize(big_n), d, glwe);
      } else {
        // EP' = max over h of EP_h / h: the groups of a blind rotation (g bits each, the last
        // n mod g) then add at most n EP'.
        for (std::size_t h = 1; h <= grouping; ++h)
          v = std::max(v, tfhe::variance_multi_bit_external_product(
                              GlweDimension(k), PolynomialSize(big_n), d, glwe, h) /
                              static_cast<double>(h));
      }
      if (v < ep) ep = v, base = b;
    }
    it->second = {ep, base};
  }
  return it->second;
}

double extra_slope(const ModulusSwitchCandidate& ms) {
  if (!tfhe::uses_noise_reduction(ms.kind)) return 0.0;
  return tfhe::estimate_noise_reduction_seconds(
      LweDimension(1), {ms.zeros_count, ms.max_rounds, NoiseDistribution{}});
}

std::vector<ModulusSwitchCandidate> modulus_switch_candidates(const OptimizerOptions& options) {
  std::vector<ModulusSwitchCandidate> candidates = options.modulus_switch_candidates.empty()
                                                       ? default_modulus_switch_candidates()
                                                       : options.modulus_switch_candidates;
  for (const ModulusSwitchCandidate& ms : candidates) {
    const bool drift = tfhe::uses_noise_reduction(ms.kind);
    if ((drift && (ms.zeros_count < 1 || ms.zeros_count > tfhe::kMaxModulusSwitchZeros ||
                   ms.max_rounds < 1 || ms.max_rounds > tfhe::kMaxModulusSwitchRounds)) ||
        (!drift && ms.kind != tfhe::ModulusSwitchKind::Standard &&
         ms.kind != tfhe::ModulusSwitchKind::CenteredMean))
      throw InvalidArgument("optimizer: invalid modulus switch candidate");
  }
  return candidates;
}

std::vector<std::size_t> grouping_factors(const OptimizerOptions& options) {
  std::vector<std::size_t> factors =
      options.grouping_factors.empty() ? default_grouping_factors() : options.grouping_factors;
  for (const std::size_t g : factors)
    if (g < 1 || g > tfhe::kMaxGroupingFactor)
      throw InvalidArgument("optimizer: grouping factor " + std::to_string(g) + " is not in [1, " +
                            std::to_string(tfhe::kMaxGroupingFactor) + "]");
  return factors;
}

bool compatible(std::size_t grouping, const ModulusSwitchCandidate& ms) {
  return grouping <= 1 || !tfhe::uses_noise_reduction(ms.kind);
}

std::optional<Solution> solve(const std::vector<Constraint>& pbs,
                              const std::vector<Constraint>& outputs, unsigned precision,
                              const OptimizerOptions& options,
                              std::span<const ModulusSwitchCandidate> candidates,
                              const CostShape& shape, double cost_bound, SearchCache* cache) {
  SearchCache local;
  if (cache == nullptr) cache = &local;
  // Each candidate's search only looks for sets cheaper than the best so far (earlier candidates
  // win ties): the modulus switches in order, each with every compatible grouping factor.
  std::optional<Solution> best;
  const std::vector<std::size_t> factors = grouping_factors(options);
  for (const ModulusSwitchCandidate& ms : candidates) {
    for (const std::size_t g : factors) {
      if (!compatible(g, ms)) continue;
      const std::optional<Choice> c =
          Search(pbs, outputs, precision, options, ms, g, best ? best->choice.seconds : cost_bound,
                 shape, *cache)
              .run();
      if (c) best = Solution{*c, ms};
    }
  }
  return best;
}

}  // namespace detail

std::vector<std::size_t> default_grouping_factors() {
  return {1, 2};
}

std::vector<ModulusSwitchCandidate> default_modulus_switch_candidates() {
  using tfhe::ModulusSwitchKind;
  return {{ModulusSwitchKind::CenteredMean, 0, 0},
          {ModulusSwitchKind::DriftCenteredMean, 256, 1},
          {ModulusSwitchKind::DriftCenteredMean, 1024, 1},
          {ModulusSwitchKind::DriftCenteredMean, 1024, 2},
          {ModulusSwitchKind::DriftCenteredMean, 4096, 2}};
}

}  // namespace torusml::circuit
