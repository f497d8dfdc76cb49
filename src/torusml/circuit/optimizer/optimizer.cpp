// Parameter optimizer: one KS-PBS parameter set for a circuit (optimize_pbs_parameters), one LWE
// key for a leveled circuit (optimize_leveled_parameters), and the requirement helpers shared with
// the partitioned optimizer (partitioned_optimizer.cpp).
//
// The search over the KS-PBS parameter space (search.cpp) is exhaustive but pruned, in the style
// of Concrete's optimizer; its constraints and separability arguments are described there, the
// cost model in cost_model.cpp.
#include "torusml/circuit/optimizer/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torusml/circuit/optimizer/search_detail.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {

using tfhe::DecompositionBaseLog;
using tfhe::DecompositionLevelCount;
using tfhe::GlweDimension;
using tfhe::LweDimension;
using tfhe::PbsParameters;
using tfhe::PolynomialSize;

namespace detail {

namespace {

std::string weights_string(double w, double f) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "variance %g x PBS output + %g x fresh encryption", w, f);
  return buf;
}

}  // namespace

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
  if (o.lwe_dimension_multiple < 1 || o.lwe_dimension_multiple > 256)
    throw InvalidArgument("optimizer: lwe_dimension_multiple must be in [1, 256]");
  if (o.max_glwe_dimension < 1 || o.max_glwe_dimension > 16)
    throw InvalidArgument("optimizer: max_glwe_dimension must be in [1, 16]");
  if (o.min_log2_polynomial_size > o.max_log2_polynomial_size || o.max_log2_polynomial_size < 8 ||
      o.min_log2_polynomial_size > 17)
    throw InvalidArgument(
        "optimizer: the polynomial size range must meet [2^8, 2^17] (min <= max log2)");
  const std::vector<ModulusSwitchCandidate> ms = modulus_switch_candidates(o);
  const std::vector<std::size_t> factors = grouping_factors(o);
  const bool any = std::any_of(factors.begin(), factors.end(), [&](std::size_t g) {
    return std::any_of(ms.begin(), ms.end(),
                       [&](const ModulusSwitchCandidate& c) { return compatible(g, c); });
  });
  if (!any)
    throw InvalidArgument(
        "optimizer: no grouping factor is compatible with a modulus switch candidate (multi-bit "
        "sets use the Standard or CenteredMean modulus switch)");
}

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

void Log2Sum::add(double log2_term) {
  if (log2_term == -std::numeric_limits<double>::infinity()) return;
  if (log2_term > max_) {
    sum_ = sum_ * std::exp2(max_ - log2_term) + 1.0;
    max_ = log2_term;
  } else {
    sum_ += std::exp2(log2_term - max_);
  }
}

double Log2Sum::value() const {
  return sum_ == 0 ? -std::numeric_limits<double>::infinity() : max_ + std::log2(sum_);
}

double BoundTable::operator()(unsigned bits) {
  if (bits >= cache_.size())
    return max_variance(-static_cast<int>(std::min(bits, 1000u)) - 2, log2_target_);
  if (cache_[bits] < 0) cache_[bits] = max_variance(-static_cast<int>(bits) - 2, log2_target_);
  return cache_[bits];
}

[[noreturn]] void throw_infeasible(std::span<const PbsRequirement> pbs,
                                   std::span<const OutputRequirement> outputs,
                                   const std::vector<Constraint>& pbs_constraints,
                                   const std::vector<Constraint>& output_constraints,
                                   unsigned precision, double log2_target,
                                   const OptimizerOptions& options) {
  const std::string target = pow2_string(log2_target);
  const ModulusSwitchCandidate centered[] = {ModulusSwitchCandidate{}};
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
    if (!solve({c}, {}, r.precision_bits, options, centered))
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
    if (!solve({trivial}, {c}, 1, options, centered))
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

PbsParameters make_parameters(const Solution& s, unsigned precision, double max_pbs_weight,
                              double log2_target, std::string name) {
  const Choice& c = s.choice;
  PbsParameters p;
  p.name = std::move(name);
  p.message_bits = precision;
  p.lwe_dimension = LweDimension(c.n);
  p.glwe_dimension = GlweDimension(c.k);
  p.polynomial_size = PolynomialSize(c.big_n);
  p.lwe_noise = noise_at_curve(c.n);
  p.glwe_noise = noise_at_curve(c.k * c.big_n);
  p.pbs = {DecompositionBaseLog(c.pbs_base), DecompositionLevelCount(c.pbs_levels)};
  p.ks = {DecompositionBaseLog(c.ks_base), DecompositionLevelCount(c.ks_levels)};
  p.modulus_switch = s.ms.kind;
  if (tfhe::uses_noise_reduction(s.ms.kind))
    p.ms_noise_reduction = {s.ms.zeros_count, s.ms.max_rounds, p.lwe_noise};
  p.grouping_factor = tfhe::GroupingFactor(c.grouping);
  if (c.grouping > 1) p.name += "_mb" + std::to_string(c.grouping);
  p.max_two_norm = std::max(1.0, std::sqrt(max_pbs_weight));
  p.source =
      "TorusML optimizer: Concrete security curve (128-bit), noise model of "
      "tfhe/noise_model.h (Gaussian noise at the curve's minimum, " +
      std::string(s.ms.kind == tfhe::ModulusSwitchKind::CenteredMean ? "centered"
                  : s.ms.kind == tfhe::ModulusSwitchKind::Standard   ? "standard"
                                                                     : "drift-reduced") +
      " modulus switch" +
      (c.grouping > 1
           ? ", multi-bit blind rotation of grouping factor " + std::to_string(c.grouping)
           : std::string()) +
      "), p_fail <= " + pow2_string(log2_target) + " per PBS and output";
  p.validate();
  TORUSML_CHECK(tfhe::is_128_bit_secure(p), "optimizer chose an insecure set: " << p);
  return p;
}

}  // namespace detail

double small_key_pbs_variance(const tfhe::PbsParameters& p, double fresh_weight) {
  return fresh_weight * tfhe::variance_fresh(p.lwe_noise) + tfhe::variance_modulus_switch(p);
}

using namespace detail;

OptimizerResult optimize_pbs_parameters(std::span<const PbsRequirement> pbs,
                                        std::span<const OutputRequirement> outputs,
                                        const OptimizerOptions& options) {
  check_options(options);
  if (pbs.empty())
    throw InvalidArgument(
        "optimize_pbs_parameters: no PBS requirement (use optimize_leveled_parameters for "
        "circuits without table lookups)");
  unsigned precision = 0;
  std::uint64_t total_count = 0, pbs_count = 0, keyswitched = 0;
  double max_pbs_weight = 0;
  for (const PbsRequirement& r : pbs) {
    if (r.precision_bits == 0)
      throw InvalidArgument("PBS requirement: precision_bits must be >= 1");
    check_weights(r.pbs_weight, r.fresh_weight, "PBS requirement");
    if (r.small_key_input && r.pbs_weight != 0)
      throw InvalidArgument(
          "PBS requirement: a small-key input combines fresh encryptions only (pbs_weight 0)");
    precision = std::max(precision, r.precision_bits);
    max_pbs_weight = std::max(max_pbs_weight, r.pbs_weight);
    total_count += r.count;
    pbs_count += r.count;
    if (!r.small_key_input) keyswitched += r.count;
  }
  const bool small_inputs = std::any_of(pbs.begin(), pbs.end(),
                                        [](const PbsRequirement& r) { return r.small_key_input; });
  OptimizerOptions search_options = options;
  CostShape shape;
  if (small_inputs) {
    // Small-key inputs pack under the small key (n a multiple of the packing size); only the
    // other lookups keyswitch, and only they cost one.
    search_options.lwe_dimension_multiple =
        std::lcm(std::max<std::size_t>(options.lwe_dimension_multiple, 1), kSmallKeyPackingSize);
    shape.own =
        pbs_count == 0 ? 0.0 : static_cast<double>(keyswitched) / static_cast<double>(pbs_count);
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
  for (std::size_t i = 0; i < pbs.size(); ++i) {
    if (pbs[i].small_key_input)
      pbs_constraints.push_back(
          {0.0, 0.0, bound(pbs[i].precision_bits), i, 0.0, 0.0, false, pbs[i].fresh_weight});
    else
      pbs_constraints.push_back(
          {pbs[i].pbs_weight, pbs[i].fresh_weight, bound(pbs[i].precision_bits), i});
  }
  for (std::size_t i = 0; i < outputs.size(); ++i)
    output_constraints.push_back(
        {outputs[i].pbs_weight, outputs[i].fresh_weight, bound(outputs[i].width_bits), i});
  pbs_constraints = pareto_reduce(std::move(pbs_constraints));
  output_constraints = pareto_reduce(std::move(output_constraints));

  const std::optional<Solution> solution =
      solve(pbs_constraints, output_constraints, precision, search_options,
            modulus_switch_candidates(options), shape);
  if (!solution)
    throw_infeasible(pbs, outputs, pbs_constraints, output_constraints, precision, log2_target,
                     search_options);
  const Choice* const choice = &solution->choice;

  OptimizerResult result;
  result.parameters = make_parameters(*solution, precision, max_pbs_weight, log2_target,
                                      "optimized_" + std::to_string(precision) + "bit");
  const PbsParameters& p = result.parameters;

  // Independent check of every requirement with the noise model, and the failure probabilities.
  const double out = tfhe::variance_pbs_output(p);
  const double fresh = tfhe::variance_fresh(p.glwe_noise);
  Log2Sum global;
  result.log2_worst_p_error = -std::numeric_limits<double>::infinity();
  for (const PbsRequirement& r : pbs) {
    const double variance =
        r.small_key_input
            ? small_key_pbs_variance(p, r.fresh_weight)
            : tfhe::pbs_noise(p, r.pbs_weight * out + r.fresh_weight * fresh, 1.0).total;
    const double log2_p = tfhe::log2_gaussian_tail(
        std::ldexp(1.0, -static_cast<int>(r.precision_bits) - 2), variance);
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
  // With small-key inputs only the other lookups keyswitch: the mean cost per lookup.
  const double own = shape.own;
  result.estimated_pbs_seconds =
      own * estimate_pbs_seconds(p) + (1.0 - own) * estimate_pbs_seconds(p, LweDimension(0));

  char line[320];
  const std::string grouping =
      p.is_multi_bit() ? " multi-bit g=" + std::to_string(choice->grouping) : std::string();
  std::snprintf(line, sizeof line,
                "%s: n=%zu k=%zu N=%zu pbs=2^%zux%zu ks=2^%zux%zu%s, %.3f ms per PBS (%llu PBS: "
                "%.3f s), worst p_fail %s, global %s",
                p.name.c_str(), choice->n, choice->k, choice->big_n, choice->pbs_base,
                choice->pbs_levels, choice->ks_base, choice->ks_levels, grouping.c_str(),
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
    const double v = noise_at_curve(n).variance();
    return std::all_of(outputs.begin(), outputs.end(), [&](const OutputRequirement& o) {
      return o.fresh_weight * v <= bound(o.width_bits);
    });
  };
  if (!feasible(kLast)) {
    // The first output that fails even at the noise floor, and the widest width that would pass.
    const double floor_variance = noise_at_curve(kLast).variance();
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

}  // namespace torusml::circuit
