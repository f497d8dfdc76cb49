// Internals of the parameter optimizer, shared by optimizer.cpp (one parameter set for a circuit)
// and partitioned_optimizer.cpp (one per partition): the cost model's affine form
// (cost_model.cpp), the constraints and the pruned search over one KS-PBS parameter set
// (search.cpp), and the requirement helpers (optimizer.cpp). Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::circuit::detail {

// ---- Search space -------------------------------------------------------------------------------

inline constexpr std::size_t kMinLweDimension = 450;  // the security curve's validity
// The small key's noise reaches the curve's floor 2^-62 near n = 2517; beyond, a larger n only
// adds noise and cost, so no optimum lies above this bound.
inline constexpr std::size_t kMaxLweDimension = 4096;
inline constexpr unsigned kMaxPrecision = 16;  // PbsParameters::message_bits

/// Gaussian noise at the security curve's minimum for a key of this dimension (>= 450).
tfhe::NoiseDistribution noise_at_curve(std::size_t dimension);

/// The largest variance v with log2 P(|X| >= 2^log2_bound) <= log2_target for X ~ N(0, v), times
/// a relative safety of 1 - 1e-9 (the search's arithmetic never accepts a set the model rejects).
double max_variance(int log2_bound, double log2_target);

// ---- Cost model (cost_model.cpp) ----------------------------------------------------------------

/// Seconds of one KS + PBS as a function of n: slope * n + offset + group * ceil(n / grouping).
/// Classic sets (grouping 1) fold the blind rotation into the slope (group 0): affine in n.
/// Multi-bit sets of grouping factor g: group = the seconds of one group's external product,
/// grouping = g (ceil(n/g) groups). at() is non-decreasing in n and bounded below by the affine
/// lower_slope() * n + offset.
struct AffineCost {
  double slope = 0, offset = 0;
  double group = 0;
  std::size_t grouping = 1;
  double at(std::size_t n) const {
    const double affine = slope * static_cast<double>(n) + offset;
    if (group == 0) return affine;
    return affine + group * static_cast<double>((n + grouping - 1) / grouping);
  }
  /// The slope of the affine lower bound: slope + group / grouping.
  double lower_slope() const { return slope + group / static_cast<double>(grouping); }
};

/// How a partition's cost depends on its parameters beyond its own KS + PBS (the partitioned
/// optimizer's objective, per PBS of the partition): the keyswitches it runs read its own big key
/// (fraction `own`) or other partitions' big keys (`cross_dimension`: their count-weighted mean
/// dimension, the own reads counting 0), and other partitions' keyswitches read its big key
/// (`outgoing`: sum of their count * l_ks * (n + 1), per PBS of this partition). The default
/// (plain) is one KS + PBS with its own keyswitch, exactly as estimate_pbs_seconds.
struct CostShape {
  double own = 1.0, cross_dimension = 0.0, outgoing = 0.0;
  bool plain() const { return own == 1.0 && cross_dimension == 0.0 && outgoing == 0.0; }
};

/// The cost of (k, N, l_pbs, l_ks, grouping factor g) as a function of n. `extra_slope`: seconds
/// per unit of n of the modulus switch noise reduction (Drift kinds). Plain shape:
///   n (cmux + ks_row + extra_slope) + ks_row,  ks_row = keyswitch k N l_ks
/// for g = 1; for g > 1 the n CMuxes are replaced by ceil(n/g) multi-bit groups
/// (AffineCost::group, cost_model.cpp); otherwise ks_row = keyswitch l_ks (own k N +
/// cross_dimension) and the offset adds keyswitch k N outgoing.
AffineCost affine_cost(std::size_t k, std::size_t big_n, std::size_t l_pbs, std::size_t l_ks,
                       double extra_slope = 0.0, const CostShape& shape = {},
                       std::size_t grouping = 1);

/// The optimizers' objective: affine_cost with the batched constants
/// (estimate_batched_pbs_seconds), so that parameter sets rank as circuits run them.
AffineCost batched_affine_cost(std::size_t k, std::size_t big_n, std::size_t l_pbs,
                               std::size_t l_ks, double extra_slope, const CostShape& shape,
                               std::size_t grouping);

// ---- Constraints and the search (search.cpp) ----------------------------------------------------

/// One constraint on a parameter set, with G = Var(glwe_noise) (fixed by k N) and
/// Var_out = n EP (EP: one external product; for a multi-bit set of grouping factor g the
/// conservative per-bit EP' = max over h in 1..g of variance_multi_bit_external_product(h) / h,
/// so that floor(n/g) EP_g + EP_(n mod g) <= n EP'):
///  * in the PBS list: w Var_out + f G + ks_scale KS(n) + MS(n) <= vmax, where KS is the
///    keyswitch from the own big key (ks_scale = 1, ks_input = 0) or, for a cross keyswitch
///    reading a big key of dimension ks_input, ks_scale = ks_input / (k N) (the keyswitch
///    variance is linear in its input dimension); for small-key inputs (keyswitch false)
///    small Var(lwe_noise(n)) + MS(n) <= vmax, with no keyswitch;
///  * in the output list: w Var_out + f G + kn_coef k N <= vmax (kn_coef: another partition's
///    keyswitch reading this big key, its variance per unit of input dimension).
struct Constraint {
  double w = 0, f = 0, vmax = 0;
  std::size_t source = 0;  // index of the requirement it came from (diagnostics)
  double ks_input = 0;
  double kn_coef = 0;
  /// Small-key inputs (PbsRequirement::small_key_input): no keyswitch term, and `small` times the
  /// small key's fresh variance Var(lwe_noise(n)) instead (w = f = 0).
  bool keyswitch = true;
  double small = 0;
};

/// Drops every constraint implied by another one of the same shape (ks_input, kn_coef): larger or
/// equal weights, tighter bound.
std::vector<Constraint> pareto_reduce(std::vector<Constraint> cs);

/// A point of the search space and its cost (the shape's objective).
struct Choice {
  std::size_t n = 0, k = 0, big_n = 0;
  std::size_t pbs_base = 0, pbs_levels = 0, ks_base = 0, ks_levels = 0;
  std::size_t grouping = 1;  // the blind rotation's grouping factor (1: classic)
  double seconds = std::numeric_limits<double>::infinity();
};

/// A choice with its modulus switch.
struct Solution {
  Choice choice;
  ModulusSwitchCandidate ms;
};

/// Values of the search that depend neither on the constraints nor on the cost bound, shared by
/// the searches of one optimization (one object per call: not thread-safe).
class SearchCache {
 public:
  /// tfhe::modulus_switch_error_steps2 of `ms` (its zeros count and rounds) by n - 450, n in
  /// [450, 4096]; -1 where not computed yet. The reference stays valid.
  std::vector<double>& modulus_switch_steps2(const ModulusSwitchCandidate& ms);
  /// The base log minimising the per-bit external product variance with the noise at the curve
  /// for k N, and that variance: variance_external_product(k, N, (base, l), noise) for
  /// grouping 1, max over h in 1..g of variance_multi_bit_external_product(..., h) / h for
  /// grouping g > 1.
  std::pair<double, std::size_t> best_pbs_base(std::size_t k, std::size_t big_n, std::size_t l,
                                               std::size_t grouping = 1);

 private:
  std::map<std::tuple<int, std::size_t, std::size_t>, std::vector<double>> steps2_;
  std::map<std::tuple<std::size_t, std::size_t, std::size_t, std::size_t>,
           std::pair<double, std::size_t>>
      pbs_;
};

/// Seconds per unit of n of the modulus switch noise reduction of `ms` (0 for the other kinds).
double extra_slope(const ModulusSwitchCandidate& ms);

/// The modulus switch candidates of `options` (the defaults if empty); InvalidArgument if one is
/// invalid.
std::vector<ModulusSwitchCandidate> modulus_switch_candidates(const OptimizerOptions& options);

/// The grouping factors of `options` (default_grouping_factors() if empty); InvalidArgument if
/// one is outside [1, 4].
std::vector<std::size_t> grouping_factors(const OptimizerOptions& options);

/// Whether a blind rotation of grouping factor g may use the modulus switch `ms` (multi-bit sets:
/// Standard and CenteredMean only).
bool compatible(std::size_t grouping, const ModulusSwitchCandidate& ms);

/// The cheapest parameter set (over the modulus switch candidates crossed with the grouping
/// factors of `options`, compatible pairs only, by the shape's cost) meeting every constraint,
/// with N >= 2^(precision + 1), strictly cheaper than cost_bound; nullopt if none. `cache`:
/// shared by the searches of one optimization (a fresh one if null).
std::optional<Solution> solve(const std::vector<Constraint>& pbs,
                              const std::vector<Constraint>& outputs, unsigned precision,
                              const OptimizerOptions& options,
                              std::span<const ModulusSwitchCandidate> candidates,
                              const CostShape& shape = {},
                              double cost_bound = std::numeric_limits<double>::infinity(),
                              SearchCache* cache = nullptr);

// ---- Requirements (optimizer.cpp) ---------------------------------------------------------------

void check_weights(double w, double f, const char* what);
/// InvalidArgument unless the options are valid (p_error, bounds, modulus switch candidates,
/// grouping factors, at least one compatible pair of them).
void check_options(const OptimizerOptions& o);
/// log2 of the failure target of each PBS and output decryption.
double log2_item_target(const OptimizerOptions& o, std::uint64_t total_count);
std::string pow2_string(double log2_value);

/// The parameter set of a solution: message_bits = precision, max_two_norm =
/// max(1, sqrt(max_pbs_weight)), grouping_factor = the choice's (the name then gets "_mb<g>"
/// appended when > 1); validated and checked 128-bit secure.
tfhe::PbsParameters make_parameters(const Solution& s, unsigned precision, double max_pbs_weight,
                                    double log2_target, std::string name);

/// Throws the CompileError of optimize_pbs_parameters for requirements no set meets: a single
/// requirement that fails alone (widest precision first), else all of them together.
[[noreturn]] void throw_infeasible(std::span<const PbsRequirement> pbs,
                                   std::span<const OutputRequirement> outputs,
                                   const std::vector<Constraint>& pbs_constraints,
                                   const std::vector<Constraint>& output_constraints,
                                   unsigned precision, double log2_target,
                                   const OptimizerOptions& options);

/// log2(sum_i 2^x_i), robust to terms far below the double range.
class Log2Sum {
 public:
  void add(double log2_term);
  double value() const;

 private:
  double max_ = -std::numeric_limits<double>::infinity(), sum_ = 0;
};

/// The variance bound of a p-bit PBS input or output (half a step 2^-(bits+2)) at the target.
class BoundTable {
 public:
  explicit BoundTable(double log2_target) : log2_target_(log2_target) {}
  double operator()(unsigned bits);

 private:
  double log2_target_;
  std::vector<double> cache_ = std::vector<double>(64, -1.0);
};

}  // namespace torusml::circuit::detail
