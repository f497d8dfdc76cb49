// Partitioned ("multi-parameter") optimizer: one KS-PBS parameter set per partition of a circuit,
// in the style of Concrete's multi-parameter optimizer.
//
// Coupling. Partition p's parameters enter other partitions' constraints only through the
// variances of its PBS outputs and fresh encryptions (read by PBS of other partitions whose
// source is p) and its big dimension k_p N_p (the input of their cross keyswitches). With every
// other partition fixed, the constraints on p are those of the single-set search (search.cpp)
// with two generalizations:
//  * a PBS of p reading partition s != p: w Var_out(s) + f Var_fresh(s) is a constant, and its
//    keyswitch reads dimension k_s N_s instead of k_p N_p (the cross keyswitching key uses p's KS
//    decomposition and noise during the search, so its variance is p's keyswitch variance scaled
//    by k_s N_s / (k_p N_p));
//  * a PBS of t != p reading p: w Var_out(p) + f Var_fresh(p) + a_t k_p N_p <= bound - MS_t, with
//    a_t t's keyswitch variance per unit of input dimension and MS_t its modulus switch.
// Objective: the total cost, sum over requirements of count * (KS from the source's big key +
// PBS) in batches (estimate_batched_pbs_seconds with the source's dimension; a count of 0 weighs
// as 1). The part that
// depends on p is affine in n_p (CostShape): p's PBS with their keyswitches' input dimensions,
// plus the cross keyswitches of other partitions that read p's big key.
//
// Algorithm: coordinate descent on the total cost. From a start, each round re-solves every
// partition in turn with the others fixed (the exact optimum of the search over p's parameters;
// skipped when no partition coupled with p changed since p's last search);
// when the current state meets every constraint touching p, only a strictly cheaper set is taken,
// so from a feasible state the total cost decreases strictly and the descent stops when a round
// changes nothing (at most kMaxRounds rounds). Coordinate descent stops at points where only a
// joint move helps (a partition whose outputs are read by others with large weights keeps a
// low-noise, costly set because each reader alone cannot absorb more noise), so:
//  * three starts: every partition at the single set optimize_pbs_parameters would choose for
//    all requirements merged (feasible whenever that set exists, so the partitioned result is
//    never costlier than one set for all); every partition solved alone with its cross reads
//    treated as own ones; every partition solved for its own reads only (the first round then
//    repairs the coupling constraints);
//  * a polish of each end state: partition p re-solved without its readers' constraints, then a
//    descent lets the readers adapt, kept if the total cost decreases (at most kMaxRounds passes).
// The cheapest end state wins (earlier starts on ties). Finally each cross keyswitch gets the
// fewest levels (then the base of least variance) that still meet its requirements (its cost is
// proportional to its level count), so does the own keyswitch of a partition with cross reads,
// every requirement is checked independently with the noise model, and the failure probabilities
// are computed. On 1000 random problems of 2-4 partitions (1-4 requirements each) the polish and
// the third start lowered the total cost in 4% of them, by up to 2.3x; the whole optimization
// took 8-19 ms (median), 120 ms at most. The searches share a SearchCache (the PBS bases and the
// drift modulus switch's error per n do not depend on the constraints). Each partition's search
// covers the grouping factors of the options (classic and multi-bit blind rotations, search.cpp):
// a partition's PBS output variance is tfhe::variance_pbs_output of its set, whichever kind.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/circuit/optimizer/search_detail.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {

using tfhe::DecompositionBaseLog;
using tfhe::DecompositionLevelCount;
using tfhe::DecompositionParameters;
using tfhe::LweDimension;
using tfhe::PbsParameters;

namespace {

using namespace detail;

constexpr int kMaxRounds = 8;

/// A partition's parameters and what other partitions' constraints read of them.
struct PartitionState {
  Solution solution;
  PbsParameters params;
  double out_variance = 0, fresh_variance = 0;
  std::size_t big_dimension = 0;
  double ks_per_dimension = 0;  // its keyswitch's variance per unit of input dimension
  double ms_variance = 0;
};
using State = std::vector<PartitionState>;
/// Cross keyswitch decompositions by (from, to); a pair not present uses `to`'s own.
using CrossMap = std::map<std::pair<std::uint32_t, std::uint32_t>, DecompositionParameters>;

bool same_point(const Solution& a, const Solution& b) {
  const Choice &x = a.choice, &y = b.choice;
  return x.n == y.n && x.k == y.k && x.big_n == y.big_n && x.pbs_base == y.pbs_base &&
         x.pbs_levels == y.pbs_levels && x.ks_base == y.ks_base && x.ks_levels == y.ks_levels &&
         x.grouping == y.grouping && a.ms.kind == b.ms.kind &&
         a.ms.zeros_count == b.ms.zeros_count && a.ms.max_rounds == b.ms.max_rounds;
}

std::string seconds_string(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  return buf;
}

double weight(std::uint64_t count) {
  return static_cast<double>(std::max<std::uint64_t>(count, 1));
}

class PartitionedProblem {
 public:
  PartitionedProblem(std::span<const PartitionedPbsRequirement> pbs,
                     std::span<const PartitionedOutputRequirement> outputs,
                     std::size_t partition_count, const OptimizerOptions& options)
      : pbs_(pbs), outputs_(outputs), count_(partition_count), options_(options) {
    check_options(options);
    if (partition_count == 0)
      throw InvalidArgument("optimize_partitioned_parameters: partition_count must be >= 1");
    precision_.assign(count_, 0);
    max_weight_.assign(count_, 0.0);
    std::uint64_t total_count = 0;
    for (const PartitionedPbsRequirement& r : pbs) {
      if (r.partition >= count_ || r.source >= count_)
        throw InvalidArgument("optimize_partitioned_parameters: PBS requirement in partition " +
                              std::to_string(r.partition) + " from partition " +
                              std::to_string(r.source) + " (only " + std::to_string(count_) +
                              " partitions)");
      if (r.requirement.precision_bits == 0)
        throw InvalidArgument("PBS requirement: precision_bits must be >= 1");
      check_weights(r.requirement.pbs_weight, r.requirement.fresh_weight, "PBS requirement");
      if (r.requirement.small_key_input)
        throw InvalidArgument(
            "optimize_partitioned_parameters: small-key inputs are for single-parameter circuits "
            "(optimize_pbs_parameters)");
      precision_[r.partition] = std::max(precision_[r.partition], r.requirement.precision_bits);
      max_weight_[r.partition] = std::max(max_weight_[r.partition], r.requirement.pbs_weight);
      total_count += r.requirement.count;
    }
    for (const PartitionedOutputRequirement& o : outputs) {
      if (o.partition >= count_)
        throw InvalidArgument("optimize_partitioned_parameters: output requirement in partition " +
                              std::to_string(o.partition) + " (only " + std::to_string(count_) +
                              " partitions)");
      if (o.requirement.width_bits == 0)
        throw InvalidArgument("output requirement: width_bits must be >= 1");
      check_weights(o.requirement.pbs_weight, o.requirement.fresh_weight, "output requirement");
      total_count += o.requirement.count;
    }
    for (std::size_t p = 0; p < count_; ++p) {
      if (precision_[p] == 0)
        throw InvalidArgument("optimize_partitioned_parameters: partition " + std::to_string(p) +
                              " runs no PBS requirement");
      if (precision_[p] > kMaxPrecision)
        throw CompileError("a " + std::to_string(precision_[p]) +
                           "-bit table lookup is wider than the " + std::to_string(kMaxPrecision) +
                           " bits a PBS supports: use fewer bits (round the table input before "
                           "the lookup)");
    }
    coupled_.resize(count_);
    has_readers_.assign(count_, false);
    for (const PartitionedPbsRequirement& r : pbs) {
      if (r.source == r.partition) continue;
      has_readers_[r.source] = true;
      for (const auto& [a, b] :
           {std::pair{r.source, r.partition}, std::pair{r.partition, r.source}})
        if (std::find(coupled_[a].begin(), coupled_[a].end(), b) == coupled_[a].end())
          coupled_[a].push_back(b);
    }
    log2_target_ = log2_item_target(options, total_count);
    candidates_ = modulus_switch_candidates(options);
    BoundTable bound(log2_target_);
    for (const PartitionedPbsRequirement& r : pbs)
      pbs_bound_.push_back(bound(r.requirement.precision_bits));
    for (const PartitionedOutputRequirement& o : outputs)
      output_bound_.push_back(bound(o.requirement.width_bits));
  }

  PartitionedOptimizerResult run() {
    std::vector<State> starts;
    // Every partition at the set of all requirements merged.
    if (const std::optional<Solution> merged = solve_merged()) {
      State start;
      for (std::uint32_t p = 0; p < count_; ++p) start.push_back(make_state(*merged, p));
      starts.push_back(std::move(start));
    }
    // Every partition alone, its cross reads treated as own ones, then without them.
    for (const bool with_cross : {true, false}) {
      if (count_ == 1) break;
      State start;
      for (std::uint32_t p = 0; p < count_; ++p) {
        const std::optional<Solution> alone = solve_alone(p, with_cross);
        if (!alone) break;
        start.push_back(make_state(*alone, p));
      }
      if (start.size() == count_) starts.push_back(std::move(start));
    }

    std::optional<State> best;
    CrossMap best_cross;
    double best_cost = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < starts.size(); ++i) {
      const auto same_start = [&](const State& other) {
        for (std::uint32_t p = 0; p < count_; ++p)
          if (!same_point(other[p].solution, starts[i][p].solution)) return false;
        return true;
      };
      if (std::any_of(starts.begin(), starts.begin() + i, same_start)) continue;
      std::optional<State> s = descend(starts[i]);
      if (!s) continue;
      if (count_ > 1) s = polish(std::move(*s));
      CrossMap cross = refine_keyswitches(*s);
      const double cost = total_seconds(*s, cross, true);
      if (cost < best_cost) best = std::move(s), best_cross = std::move(cross), best_cost = cost;
    }
    if (!best) throw_infeasible_partitions();
    return result(*best, best_cross);
  }

 private:
  PartitionState make_state(const Solution& s, std::uint32_t p) const {
    PartitionState st;
    st.solution = s;
    // "optimized_<bits>bit[_mb<g>]", then "_p<p>" with several partitions.
    st.params = make_parameters(s, precision_[p], max_weight_[p], log2_target_,
                                "optimized_" + std::to_string(precision_[p]) + "bit");
    if (count_ > 1) st.params.name += "_p" + std::to_string(p);
    const PbsParameters& q = st.params;
    st.out_variance = tfhe::variance_pbs_output(q);
    st.fresh_variance = tfhe::variance_fresh(q.glwe_noise);
    st.big_dimension = q.big_lwe_dimension().value();
    st.ks_per_dimension = tfhe::variance_keyswitch(LweDimension(1), q.ks, q.lwe_noise);
    st.ms_variance = tfhe::variance_modulus_switch(q);
    return st;
  }

  /// Every requirement as if its source were its partition, in one set.
  std::optional<Solution> solve_merged() const {
    std::vector<Constraint> pc, oc;
    unsigned precision = 0;
    for (std::size_t i = 0; i < pbs_.size(); ++i) {
      const PbsRequirement& q = pbs_[i].requirement;
      pc.push_back({q.pbs_weight, q.fresh_weight, pbs_bound_[i], i});
      precision = std::max(precision, q.precision_bits);
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      const OutputRequirement& o = outputs_[j].requirement;
      oc.push_back({o.pbs_weight, o.fresh_weight, output_bound_[j], j});
    }
    return solve(pareto_reduce(std::move(pc)), pareto_reduce(std::move(oc)), precision, options_,
                 candidates_, {}, std::numeric_limits<double>::infinity(), &cache_);
  }

  /// Partition p's requirements alone: its cross reads treated as own ones, or left out.
  std::optional<Solution> solve_alone(std::uint32_t p, bool with_cross = true) const {
    std::vector<Constraint> pc, oc;
    for (std::size_t i = 0; i < pbs_.size(); ++i) {
      if (pbs_[i].partition != p || (!with_cross && pbs_[i].source != p)) continue;
      const PbsRequirement& q = pbs_[i].requirement;
      pc.push_back({q.pbs_weight, q.fresh_weight, pbs_bound_[i], i});
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      if (outputs_[j].partition != p) continue;
      const OutputRequirement& o = outputs_[j].requirement;
      oc.push_back({o.pbs_weight, o.fresh_weight, output_bound_[j], j});
    }
    return solve(pareto_reduce(std::move(pc)), pareto_reduce(std::move(oc)), precision_[p],
                 options_, candidates_, {}, std::numeric_limits<double>::infinity(), &cache_);
  }

  /// The cost shape of p's search with the other partitions at `s` (cross keyswitches with the
  /// reading partition's own decomposition, as during the descent).
  CostShape shape(std::uint32_t p, const State& s) const {
    double total = 0, own = 0, cross = 0, outgoing = 0;
    for (const PartitionedPbsRequirement& r : pbs_) {
      const double wt = weight(r.requirement.count);
      if (r.partition == p) {
        total += wt;
        if (r.source == p) {
          own += wt;
        } else {
          cross += wt * static_cast<double>(s[r.source].big_dimension);
        }
      } else if (r.source == p) {
        const Choice& t = s[r.partition].solution.choice;
        outgoing += wt * static_cast<double>(t.ks_levels) * static_cast<double>(t.n + 1);
      }
    }
    if (own == total && cross == 0 && outgoing == 0) return {};  // plain, exactly
    return {own / total, cross / total, outgoing / total};
  }

  /// p's objective at its current point (the same expression as the search's).
  double objective(std::uint32_t p, const State& s) const {
    const Choice& c = s[p].solution.choice;
    return batched_affine_cost(c.k, c.big_n, c.pbs_levels, c.ks_levels,
                               extra_slope(s[p].solution.ms), shape(p, s), c.grouping)
        .at(c.n);
  }

  /// The cheapest set for p with the other partitions fixed, strictly cheaper than cost_bound.
  std::optional<Solution> resolve(std::uint32_t p, const State& s, double cost_bound,
                                  bool consumers = true) const {
    std::vector<Constraint> pc, oc;
    for (std::size_t i = 0; i < pbs_.size(); ++i) {
      const PartitionedPbsRequirement& r = pbs_[i];
      const PbsRequirement& q = r.requirement;
      if (r.partition == p && r.source == p) {
        pc.push_back({q.pbs_weight, q.fresh_weight, pbs_bound_[i], i});
      } else if (r.partition == p) {
        const PartitionState& src = s[r.source];
        const double input = q.pbs_weight * src.out_variance + q.fresh_weight * src.fresh_variance;
        pc.push_back({0.0, 0.0, pbs_bound_[i] - input, i, static_cast<double>(src.big_dimension)});
      } else if (r.source == p && consumers) {
        const PartitionState& t = s[r.partition];
        oc.push_back({q.pbs_weight, q.fresh_weight, pbs_bound_[i] - t.ms_variance, i, 0.0,
                      t.ks_per_dimension});
      }
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      if (outputs_[j].partition != p) continue;
      const OutputRequirement& o = outputs_[j].requirement;
      oc.push_back({o.pbs_weight, o.fresh_weight, output_bound_[j], pbs_.size() + j});
    }
    return solve(pareto_reduce(std::move(pc)), pareto_reduce(std::move(oc)), precision_[p],
                 options_, candidates_, shape(p, s), cost_bound, &cache_);
  }

  DecompositionParameters keyswitch(std::uint32_t from, std::uint32_t to, const State& s,
                                    const CrossMap& cross) const {
    if (from != to) {
      const auto it = cross.find({from, to});
      if (it != cross.end()) return it->second;
    }
    return s[to].params.ks;
  }

  double log2_p_fail(std::size_t i, const State& s, const DecompositionParameters& ks) const {
    const PartitionedPbsRequirement& r = pbs_[i];
    const PartitionState &src = s[r.source], &t = s[r.partition];
    const double v =
        r.requirement.pbs_weight * src.out_variance +
        r.requirement.fresh_weight * src.fresh_variance +
        tfhe::variance_keyswitch(LweDimension(src.big_dimension), ks, t.params.lwe_noise) +
        t.ms_variance;
    return tfhe::log2_gaussian_tail(
        std::ldexp(1.0, -static_cast<int>(r.requirement.precision_bits) - 2), v);
  }

  double log2_output_p_fail(std::size_t j, const State& s) const {
    const PartitionedOutputRequirement& o = outputs_[j];
    const PartitionState& st = s[o.partition];
    return tfhe::log2_gaussian_tail(
        std::ldexp(1.0, -static_cast<int>(o.requirement.width_bits) - 2),
        o.requirement.pbs_weight * st.out_variance +
            o.requirement.fresh_weight * st.fresh_variance);
  }

  /// Whether every requirement touching `p` (every one if p == count_) meets the target.
  bool feasible(const State& s, const CrossMap& cross, std::size_t p) const {
    const double limit = log2_target_ + 1e-9;
    for (std::size_t i = 0; i < pbs_.size(); ++i) {
      const PartitionedPbsRequirement& r = pbs_[i];
      if (p != count_ && r.partition != p && r.source != p) continue;
      if (log2_p_fail(i, s, keyswitch(r.source, r.partition, s, cross)) > limit) return false;
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      if (p != count_ && outputs_[j].partition != p) continue;
      if (log2_output_p_fail(j, s) > limit) return false;
    }
    return true;
  }

  /// Sum over requirements of count * (KS from the source's big key + PBS), lone or in a batch
  /// (estimate_batched_pbs_seconds); weighted: the descent's objective (a count of 0 as 1, in a
  /// batch).
  double total_seconds(const State& s, const CrossMap& cross, bool weighted,
                       bool batched = true) const {
    double total = 0;
    for (const PartitionedPbsRequirement& r : pbs_) {
      PbsParameters p = s[r.partition].params;
      p.ks = keyswitch(r.source, r.partition, s, cross);
      const LweDimension input(s[r.source].big_dimension);
      const double c =
          weighted ? weight(r.requirement.count) : static_cast<double>(r.requirement.count);
      total +=
          c * (batched ? estimate_batched_pbs_seconds(p, input) : estimate_pbs_seconds(p, input));
    }
    return total;
  }

  /// Coordinate descent from `s`: the cheapest feasible state reached, if any.
  std::optional<State> descend(State s) const {
    const CrossMap own;
    // A partition is re-solved only if a partition it is coupled with changed since its last
    // search (the search is deterministic: with the same neighbours it finds nothing cheaper).
    std::vector<bool> dirty(count_, true);
    for (int round = 0; round < kMaxRounds; ++round) {
      bool changed = false;
      for (std::uint32_t p = 0; p < count_; ++p) {
        if (!dirty[p]) continue;
        dirty[p] = false;
        const double bound =
            feasible(s, own, p) ? objective(p, s) : std::numeric_limits<double>::infinity();
        const std::optional<Solution> next = resolve(p, s, bound);
        if (!next || same_point(*next, s[p].solution)) continue;
        s[p] = make_state(*next, p);
        for (const std::uint32_t q : coupled_[p]) dirty[q] = true;
        changed = true;
      }
      if (!changed) break;
    }
    if (!feasible(s, own, count_)) return std::nullopt;
    return s;
  }

  /// The total cost of a state once its keyswitches are refined.
  double final_cost(State s) const {
    const CrossMap cross = refine_keyswitches(s);
    return total_seconds(s, cross, true);
  }

  /// Joint moves out of the descent's local optimum: partition p re-solved without the
  /// constraints of the PBS reading its outputs (typically a cheaper, noisier set), then the
  /// descent lets the readers adapt; kept if the total cost decreases.
  State polish(State s) const {
    double cost = final_cost(s);
    for (int iteration = 0; iteration < kMaxRounds; ++iteration) {
      bool improved = false;
      for (std::uint32_t p = 0; p < count_; ++p) {
        if (!has_readers_[p]) continue;  // releasing changes nothing
        const std::optional<Solution> released =
            resolve(p, s, std::numeric_limits<double>::infinity(), false);
        if (!released || same_point(*released, s[p].solution)) continue;
        State t = s;
        t[p] = make_state(*released, p);
        std::optional<State> next = descend(std::move(t));
        if (!next) continue;
        const double c = final_cost(*next);
        if (c < cost) s = std::move(*next), cost = c, improved = true;
      }
      if (!improved) break;
    }
    return s;
  }

  /// The decomposition with the fewest levels below `current`'s (then the base of least
  /// variance) with which requirements `reqs` (reading `from`'s big key into `to`'s small key)
  /// meet the target; `current` if none.
  DecompositionParameters fewest_levels(std::uint32_t from, std::uint32_t to,
                                        const std::vector<std::size_t>& reqs, const State& s,
                                        DecompositionParameters current) const {
    for (std::size_t l = 1; l < current.level_count.value(); ++l) {
      DecompositionParameters best{};
      double best_variance = std::numeric_limits<double>::infinity();
      for (std::size_t b = 1; b * l <= tfhe::kKeyswitchModulusBits; ++b) {
        const DecompositionParameters d{DecompositionBaseLog(b), DecompositionLevelCount(l)};
        const double v = tfhe::variance_keyswitch(LweDimension(s[from].big_dimension), d,
                                                  s[to].params.lwe_noise);
        if (v < best_variance) best_variance = v, best = d;
      }
      if (std::all_of(reqs.begin(), reqs.end(),
                      [&](std::size_t i) { return log2_p_fail(i, s, best) <= log2_target_; }))
        return best;
    }
    return current;
  }

  /// The keyswitches of a final state (the cost of a keyswitch is proportional to its level
  /// count): each cross keyswitch gets the fewest levels meeting its requirements (at most those
  /// of the reading partition's own keyswitch, which the search chose for them); then a partition
  /// with cross reads, whose own keyswitch was chosen for both kinds of reads, gets the fewest
  /// levels for its own reads. Returns the cross decompositions; own ones are updated in `s`.
  CrossMap refine_keyswitches(State& s) const {
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::size_t>> pairs;
    for (std::size_t i = 0; i < pbs_.size(); ++i)
      pairs[{pbs_[i].source, pbs_[i].partition}].push_back(i);
    CrossMap cross;
    std::vector<bool> reads_across(count_, false);
    for (const auto& [pair, reqs] : pairs) {
      if (pair.first == pair.second) continue;
      cross[pair] = fewest_levels(pair.first, pair.second, reqs, s, s[pair.second].params.ks);
      reads_across[pair.second] = true;
    }
    for (const auto& [pair, reqs] : pairs) {
      const std::uint32_t p = pair.first;
      if (pair.second != p || !reads_across[p]) continue;
      const DecompositionParameters own = fewest_levels(p, p, reqs, s, s[p].params.ks);
      s[p].params.ks = own;
      s[p].solution.choice.ks_base = own.base_log.value();
      s[p].solution.choice.ks_levels = own.level_count.value();
    }
    return cross;
  }

  [[noreturn]] void throw_infeasible_partitions() const {
    for (std::uint32_t p = 0; p < count_; ++p) {
      if (solve_alone(p, true)) continue;
      // The partition alone (its cross reads as own ones): optimize_pbs_parameters' diagnosis.
      std::vector<PbsRequirement> pbs;
      std::vector<OutputRequirement> outputs;
      std::vector<Constraint> pc, oc;
      for (const PartitionedPbsRequirement& r : pbs_) {
        if (r.partition != p) continue;
        pc.push_back({r.requirement.pbs_weight, r.requirement.fresh_weight,
                      BoundTable(log2_target_)(r.requirement.precision_bits), pbs.size()});
        pbs.push_back(r.requirement);
      }
      for (const PartitionedOutputRequirement& o : outputs_) {
        if (o.partition != p) continue;
        oc.push_back({o.requirement.pbs_weight, o.requirement.fresh_weight,
                      BoundTable(log2_target_)(o.requirement.width_bits), outputs.size()});
        outputs.push_back(o.requirement);
      }
      try {
        throw_infeasible(pbs, outputs, pc, oc, precision_[p], log2_target_, options_);
      } catch (const CompileError& e) {
        if (count_ == 1) throw;
        throw CompileError("partition " + std::to_string(p) + ": " + e.what());
      }
    }
    throw CompileError(
        "no 128-bit-secure parameters meet the requirements of the " + std::to_string(count_) +
        " partitions together with failure probability at most " + pow2_string(log2_target_) +
        " each (each partition alone is feasible; the PBS outputs read by wider lookups of "
        "other partitions, and the keyswitches between partitions, must fit too): use fewer "
        "bits, lower the weights, or allow a larger " +
        (options_.global_p_error ? "global_p_error" : "p_error"));
  }

  PartitionedOptimizerResult result(const State& s, const CrossMap& cross) const {
    PartitionedOptimizerResult res;
    // Independent check of every requirement with the noise model, and the failure
    // probabilities.
    Log2Sum global;
    res.log2_worst_p_error = -std::numeric_limits<double>::infinity();
    std::vector<std::uint64_t> count(count_, 0), cross_count(count_, 0);
    for (std::size_t i = 0; i < pbs_.size(); ++i) {
      const PartitionedPbsRequirement& r = pbs_[i];
      const double log2_p = log2_p_fail(i, s, keyswitch(r.source, r.partition, s, cross));
      TORUSML_CHECK(log2_p <= log2_target_ + 1e-9, "partitioned optimizer: PBS requirement "
                                                       << i << " missed: 2^" << log2_p << " for "
                                                       << s[r.partition].params);
      res.log2_worst_p_error = std::max(res.log2_worst_p_error, log2_p);
      if (r.requirement.count > 0)
        global.add(log2_p + std::log2(static_cast<double>(r.requirement.count)));
      count[r.partition] += r.requirement.count;
      if (r.source != r.partition) cross_count[r.partition] += r.requirement.count;
    }
    for (std::size_t j = 0; j < outputs_.size(); ++j) {
      const double log2_p = log2_output_p_fail(j, s);
      TORUSML_CHECK(log2_p <= log2_target_ + 1e-9,
                    "partitioned optimizer: output requirement " << j << " missed: 2^" << log2_p);
      if (outputs_[j].requirement.count > 0)
        global.add(log2_p + std::log2(static_cast<double>(outputs_[j].requirement.count)));
    }
    res.log2_global_p_error = global.value();
    res.estimated_total_seconds = total_seconds(s, cross, false, false);
    res.estimated_batched_total_seconds = total_seconds(s, cross, false, true);
    for (const auto& [pair, ks] : cross) res.cross.push_back({pair.first, pair.second, ks});

    for (std::uint32_t p = 0; p < count_; ++p) {
      const PbsParameters& q = s[p].params;
      TORUSML_CHECK(tfhe::is_128_bit_secure(q), "partitioned optimizer: insecure set " << q);
      res.partitions.push_back(q);
      res.estimated_pbs_seconds.push_back(estimate_pbs_seconds(q));
      char line[360];
      const std::string grouping = q.is_multi_bit()
                                       ? " multi-bit g=" + std::to_string(q.grouping_factor.value())
                                       : std::string();
      std::snprintf(line, sizeof line,
                    "partition %u: %s: n=%zu k=%zu N=%zu pbs=2^%zux%zu ks=2^%zux%zu %s%s, %.3f ms "
                    "per PBS (%llu PBS, %llu through cross keyswitches)\n",
                    p, q.name.c_str(), q.lwe_dimension.value(), q.glwe_dimension.value(),
                    q.polynomial_size.value(), q.pbs.base_log.value(), q.pbs.level_count.value(),
                    q.ks.base_log.value(), q.ks.level_count.value(),
                    tfhe::to_string(q.modulus_switch), grouping.c_str(),
                    res.estimated_pbs_seconds.back() * 1e3,
                    static_cast<unsigned long long>(count[p]),
                    static_cast<unsigned long long>(cross_count[p]));
      res.summary += line;
    }
    res.summary += "total " + seconds_string(res.estimated_total_seconds) +
                   " s (one core), cross keyswitches:";
    for (const CrossKeyswitchParameters& c : res.cross) {
      char item[80];
      std::snprintf(item, sizeof item, " %u->%u 2^%zux%zu", c.from, c.to, c.ks.base_log.value(),
                    c.ks.level_count.value());
      res.summary += item;
    }
    if (res.cross.empty()) res.summary += " none";
    res.summary += "; worst p_fail " + pow2_string(res.log2_worst_p_error) + ", global " +
                   pow2_string(res.log2_global_p_error);
    return res;
  }

  std::span<const PartitionedPbsRequirement> pbs_;
  std::span<const PartitionedOutputRequirement> outputs_;
  std::size_t count_;
  const OptimizerOptions& options_;
  std::vector<unsigned> precision_;                  // widest PBS precision per partition
  std::vector<double> max_weight_;                   // largest pbs_weight per partition
  std::vector<std::vector<std::uint32_t>> coupled_;  // partitions with requirements between them
  std::vector<bool> has_readers_;  // whether other partitions' PBS read the partition's outputs
  double log2_target_ = 0;
  std::vector<ModulusSwitchCandidate> candidates_;
  std::vector<double> pbs_bound_, output_bound_;  // variance bounds per requirement
  mutable SearchCache cache_;                     // shared by all searches
};

}  // namespace

PartitionedOptimizerResult optimize_partitioned_parameters(
    std::span<const PartitionedPbsRequirement> pbs,
    std::span<const PartitionedOutputRequirement> outputs, std::size_t partition_count,
    const OptimizerOptions& options) {
  return PartitionedProblem(pbs, outputs, partition_count, options).run();
}

}  // namespace torusml::circuit
