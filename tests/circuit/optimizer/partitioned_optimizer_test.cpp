// Tests of the partitioned (multi-parameter) optimizer (circuit/optimizer.h): with one partition it
// is optimize_pbs_parameters; with lookups of different precisions each partition gets its own
// cheaper set, every requirement (cross keyswitches included) meets its target when recomputed
// here with the noise model, the total cost is below one set for all; invalid partitions are
// rejected; random requirement sets (with random grouping factors) never give a set under 128-bit
// security; multi-bit partitions (grouping factors) meet their requirements too.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "optimizer_test_util.h"
#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {
namespace {

using tfhe::PbsParameters;

/// The variance of a PBS output of `p`: classic or multi-bit by its grouping factor.
double blind_rotation_variance(const PbsParameters& p) {
  return tfhe::variance_pbs_output(p);
}

/// The keyswitch decomposition requirement `r` uses: its partition's own, or the cross key's.
tfhe::DecompositionParameters keyswitch_of(const PartitionedOptimizerResult& res,
                                           const PartitionedPbsRequirement& r) {
  if (r.source == r.partition) return res.partitions[r.partition].ks;
  for (const CrossKeyswitchParameters& c : res.cross)
    if (c.from == r.source && c.to == r.partition) return c.ks;
  ADD_FAILURE() << "no cross keyswitch " << r.source << " -> " << r.partition;
  return res.partitions[r.partition].ks;
}

/// log2 P(fail) of a PBS requirement, recomputed from the model's formula:
///   w Var_out(s) + f Var_fresh(s) + KS(k_s N_s, ks, lwe_noise_p) + MS(p).
double log2_p_fail(const PartitionedOptimizerResult& res, const PartitionedPbsRequirement& r) {
  const PbsParameters& s = res.partitions[r.source];
  const PbsParameters& p = res.partitions[r.partition];
  const double v =
      r.requirement.pbs_weight * blind_rotation_variance(s) +
      r.requirement.fresh_weight * tfhe::variance_fresh(s.glwe_noise) +
      tfhe::variance_keyswitch(s.big_lwe_dimension(), keyswitch_of(res, r), p.lwe_noise) +
      tfhe::variance_modulus_switch(p);
  return tfhe::log2_gaussian_tail(
      std::ldexp(1.0, -static_cast<int>(r.requirement.precision_bits) - 2), v);
}

double log2_p_fail(const PartitionedOptimizerResult& res, const PartitionedOutputRequirement& o) {
  const PbsParameters& p = res.partitions[o.partition];
  const double v = o.requirement.pbs_weight * blind_rotation_variance(p) +
                   o.requirement.fresh_weight * tfhe::variance_fresh(p.glwe_noise);
  return tfhe::log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(o.requirement.width_bits) - 2),
                                  v);
}

/// Sum over requirements of count * (KS from the source's big key + PBS).
double total_seconds(const PartitionedOptimizerResult& res,
                     std::span<const PartitionedPbsRequirement> pbs) {
  double total = 0;
  for (const PartitionedPbsRequirement& r : pbs) {
    PbsParameters p = res.partitions[r.partition];
    p.ks = keyswitch_of(res, r);
    total += static_cast<double>(r.requirement.count) *
             estimate_pbs_seconds(p, res.partitions[r.source].big_lwe_dimension());
  }
  return total;
}

/// Validity, security, every requirement at the target, the cross keyswitch list, the costs.
void expect_sound(const PartitionedOptimizerResult& res,
                  std::span<const PartitionedPbsRequirement> pbs,
                  std::span<const PartitionedOutputRequirement> outputs, std::size_t partitions,
                  double log2_target) {
  ASSERT_EQ(res.partitions.size(), partitions);
  ASSERT_EQ(res.estimated_pbs_seconds.size(), partitions);
  std::vector<unsigned> widest(partitions, 0);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
  double worst = -INFINITY;
  for (const PartitionedPbsRequirement& r : pbs) {
    widest[r.partition] = std::max(widest[r.partition], r.requirement.precision_bits);
    if (r.source != r.partition) pairs.emplace_back(r.source, r.partition);
    const double lp = log2_p_fail(res, r);
    EXPECT_LE(lp, log2_target + 1e-9) << r.requirement.precision_bits << "-bit PBS in partition "
                                      << r.partition << " from " << r.source;
    worst = std::max(worst, lp);
  }
  for (const PartitionedOutputRequirement& o : outputs)
    EXPECT_LE(log2_p_fail(res, o), log2_target + 1e-9)
        << o.requirement.width_bits << "-bit output of partition " << o.partition;
  for (std::size_t p = 0; p < partitions; ++p) {
    const PbsParameters& q = res.partitions[p];
    EXPECT_NO_THROW(q.validate()) << q;
    EXPECT_TRUE(tfhe::is_128_bit_secure(q)) << q;
    EXPECT_EQ(q.message_bits, widest[p]);
    EXPECT_DOUBLE_EQ(res.estimated_pbs_seconds[p], estimate_pbs_seconds(q));
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  ASSERT_EQ(res.cross.size(), pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_EQ(res.cross[i].from, pairs[i].first);
    EXPECT_EQ(res.cross[i].to, pairs[i].second);
    EXPECT_LE(res.cross[i].ks.base_log.value() * res.cross[i].ks.level_count.value(), 32u);
  }
  EXPECT_NEAR(res.log2_worst_p_error, worst, 1e-9);
  EXPECT_LE(res.log2_global_p_error, 0.0);
  EXPECT_NEAR(res.estimated_total_seconds, total_seconds(res, pbs),
              1e-12 + 1e-9 * res.estimated_total_seconds);
  EXPECT_FALSE(res.summary.empty());
}

std::vector<PbsRequirement> merged(std::span<const PartitionedPbsRequirement> pbs) {
  std::vector<PbsRequirement> out;
  for (const PartitionedPbsRequirement& r : pbs) out.push_back(r.requirement);
  return out;
}
std::vector<OutputRequirement> merged(std::span<const PartitionedOutputRequirement> outputs) {
  std::vector<OutputRequirement> out;
  for (const PartitionedOutputRequirement& o : outputs) out.push_back(o.requirement);
  return out;
}
double merged_seconds(const OptimizerResult& single,
                      std::span<const PartitionedPbsRequirement> pbs) {
  double total = 0;
  for (const PartitionedPbsRequirement& r : pbs)
    total += static_cast<double>(r.requirement.count) * single.estimated_pbs_seconds;
  return total;
}

TEST(PartitionedOptimizer, OnePartitionIsOptimizePbsParameters) {
  const std::vector<std::vector<PbsRequirement>> cases = testing::requirement_cases();
  const std::vector<OutputRequirement> outputs = testing::output_cases();
  std::vector<OptimizerOptions> options(3);
  options[1].p_error = 0x1.0p-64;
  options[2].global_p_error = 0x1.0p-40;
  for (const OptimizerOptions& o : options) {
    for (const auto& pbs : cases) {
      for (const bool with_outputs : {false, true}) {
        const std::span<const OutputRequirement> outs =
            with_outputs ? std::span<const OutputRequirement>(outputs)
                         : std::span<const OutputRequirement>();
        const OptimizerResult single = optimize_pbs_parameters(pbs, outs, o);
        std::vector<PartitionedPbsRequirement> ppbs;
        for (const PbsRequirement& r : pbs) ppbs.push_back({r, 0, 0});
        std::vector<PartitionedOutputRequirement> pout;
        for (const OutputRequirement& r : outs) pout.push_back({r, 0});
        const PartitionedOptimizerResult res = optimize_partitioned_parameters(ppbs, pout, 1, o);
        ASSERT_EQ(res.partitions.size(), 1u);
        EXPECT_EQ(res.partitions[0], single.parameters) << res.partitions[0] << "\n"
                                                        << single.parameters;
        EXPECT_EQ(res.partitions[0].name, single.parameters.name);
        EXPECT_DOUBLE_EQ(res.partitions[0].max_two_norm, single.parameters.max_two_norm);
        EXPECT_TRUE(res.cross.empty());
        EXPECT_DOUBLE_EQ(res.estimated_pbs_seconds[0], single.estimated_pbs_seconds);
        EXPECT_NEAR(res.log2_worst_p_error, single.log2_worst_p_error, 1e-9);
        EXPECT_NEAR(res.log2_global_p_error, single.log2_global_p_error, 1e-9);
        EXPECT_NEAR(res.estimated_total_seconds, merged_seconds(single, ppbs),
                    1e-9 * res.estimated_total_seconds);
      }
    }
  }
}

// 3-bit lookups (partition 0) on fresh inputs and on partition 1's outputs, 7-bit lookups
// (partition 1) on partition 0's outputs and on their own: the 3-bit partition gets a much
// smaller polynomial, the keyswitches between the two keys meet their targets, and the total
// is below one set for all lookups.
TEST(PartitionedOptimizer, ThreeAndSevenBitLookupsGetTheirOwnParameters) {
  const std::vector<PartitionedPbsRequirement> pbs = {
      {{3, 0.0, 4.0, 2000}, 0, 0},   // comparisons of fresh inputs
      {{3, 16.0, 0.0, 2000}, 0, 0},  // 3-bit chains
      {{3, 9.0, 0.0, 500}, 0, 1},    // 3-bit lookups of 7-bit activations
      {{7, 4.0, 0.0, 200}, 1, 0},    // 7-bit activations of 3-bit results
      {{7, 1.0, 0.0, 200}, 1, 1},    // 7-bit chains
  };
  const std::vector<PartitionedOutputRequirement> outputs = {{{8, 1.0, 0.0, 10}, 1}};
  const auto t0 = std::chrono::steady_clock::now();
  const PartitionedOptimizerResult res = optimize_partitioned_parameters(pbs, outputs, 2);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  SCOPED_TRACE(res.summary);
  expect_sound(res, pbs, outputs, 2, -40.0);
  EXPECT_LE(4 * res.partitions[0].polynomial_size.value(),
            res.partitions[1].polynomial_size.value());
  EXPECT_LT(res.estimated_pbs_seconds[0], 0.5 * res.estimated_pbs_seconds[1]);

  const OptimizerResult single = optimize_pbs_parameters(merged(pbs), merged(outputs));
  const double single_seconds = merged_seconds(single, pbs);
  EXPECT_LT(res.estimated_total_seconds, 0.75 * single_seconds) << single.summary;
  EXPECT_LT(ms, 1000.0);
  std::printf("partitioned (%.1f ms):\n%s\nsingle: %s, total %.3f s\n", ms, res.summary.c_str(),
              single.summary.c_str(), single_seconds);
}

// The same requirements with multi-bit sets only (grouping factor 2): every partition multi-bit,
// its outputs' variance the multi-bit one (checked by expect_sound), named
// "optimized_<bits>bit_mb2_p<partition>".
TEST(PartitionedOptimizer, MultiBitPartitionsMeetTheirRequirements) {
  const std::vector<PartitionedPbsRequirement> pbs = {
      {{3, 0.0, 4.0, 2000}, 0, 0}, {{3, 16.0, 0.0, 2000}, 0, 0}, {{3, 9.0, 0.0, 500}, 0, 1},
      {{6, 4.0, 0.0, 200}, 1, 0},  {{6, 1.0, 0.0, 200}, 1, 1},
  };
  const std::vector<PartitionedOutputRequirement> outputs = {{{8, 1.0, 0.0, 10}, 1}};
  OptimizerOptions options;
  options.grouping_factors = {2};
  const PartitionedOptimizerResult res = optimize_partitioned_parameters(pbs, outputs, 2, options);
  SCOPED_TRACE(res.summary);
  expect_sound(res, pbs, outputs, 2, -40.0);
  for (const PbsParameters& q : res.partitions) {
    EXPECT_EQ(q.grouping_factor.value(), 2u) << q;
    EXPECT_FALSE(tfhe::uses_noise_reduction(q.modulus_switch)) << q;
    EXPECT_EQ(q.name, "optimized_" + std::to_string(q.message_bits) + "bit_mb2_p" +
                          std::to_string(&q - res.partitions.data()))
        << q.name;
  }
  EXPECT_NE(res.summary.find("multi-bit g=2"), std::string::npos);
  // The default factors never cost more than the classic ones alone (the search covers them).
  OptimizerOptions classic;
  classic.grouping_factors = {1};
  const PartitionedOptimizerResult c = optimize_partitioned_parameters(pbs, outputs, 2, classic);
  const PartitionedOptimizerResult d = optimize_partitioned_parameters(pbs, outputs, 2);
  expect_sound(d, pbs, outputs, 2, -40.0);
  EXPECT_LE(d.estimated_total_seconds, c.estimated_total_seconds * (1.0 + 1e-9))
      << d.summary << "\n"
      << c.summary;
}

TEST(PartitionedOptimizer, InvalidPartitionsAreRejected) {
  const PbsRequirement r{4, 1.0, 0.0, 1};
  const std::vector<PartitionedPbsRequirement> ok = {{r, 0, 0}, {r, 1, 0}};
  EXPECT_NO_THROW(optimize_partitioned_parameters(ok, {}, 2));
  // Index out of range: partition, source, output partition.
  EXPECT_THROW(optimize_partitioned_parameters(
                   std::vector<PartitionedPbsRequirement>{{r, 0, 0}, {r, 2, 0}}, {}, 2),
               InvalidArgument);
  EXPECT_THROW(optimize_partitioned_parameters(
                   std::vector<PartitionedPbsRequirement>{{r, 0, 0}, {r, 1, 5}}, {}, 2),
               InvalidArgument);
  EXPECT_THROW(optimize_partitioned_parameters(
                   ok, std::vector<PartitionedOutputRequirement>{{{8, 1.0, 1.0, 1}, 2}}, 2),
               InvalidArgument);
  // A partition without PBS requirement (only a source, or not used at all).
  EXPECT_THROW(
      optimize_partitioned_parameters(std::vector<PartitionedPbsRequirement>{{r, 0, 1}}, {}, 2),
      InvalidArgument);
  EXPECT_THROW(optimize_partitioned_parameters(ok, {}, 3), InvalidArgument);
  EXPECT_THROW(optimize_partitioned_parameters(ok, {}, 0), InvalidArgument);
  EXPECT_THROW(optimize_partitioned_parameters({}, {}, 1), InvalidArgument);
  // The single optimizer's argument checks hold too.
  EXPECT_THROW(optimize_partitioned_parameters(
                   std::vector<PartitionedPbsRequirement>{{{0, 1.0, 0.0, 1}, 0, 0}}, {}, 1),
               InvalidArgument);
  EXPECT_THROW(optimize_partitioned_parameters(
                   std::vector<PartitionedPbsRequirement>{{{4, -1.0, 0.0, 1}, 0, 0}}, {}, 1),
               InvalidArgument);
  // Too wide or infeasible: CompileError naming the partition.
  EXPECT_THROW(
      optimize_partitioned_parameters(
          std::vector<PartitionedPbsRequirement>{{r, 0, 0}, {{17, 1.0, 0.0, 1}, 1, 1}}, {}, 2),
      CompileError);
  try {
    optimize_partitioned_parameters(
        std::vector<PartitionedPbsRequirement>{{r, 0, 0}, {{16, 1.0, 0.0, 1}, 1, 1}}, {}, 2);
    ADD_FAILURE() << "no CompileError";
  } catch (const CompileError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("partition 1"), std::string::npos) << what;
    EXPECT_NE(what.find("16-bit table lookup"), std::string::npos) << what;
  }
}

// Property test: over random partitioned requirements (1 to 3 partitions, random sources,
// precisions, weights, counts, outputs, targets), the optimizer either throws CompileError or
// returns valid, 128-bit-secure sets meeting every requirement when recomputed with the noise
// model, never costlier than one set for all requirements.
TEST(PartitionedOptimizer, RandomRequirementsNeverGiveParametersUnder128BitSecurity) {
  testing::RandomDraws draw(20261201);
  const auto uniform = [&](double lo, double hi) { return draw.uniform(lo, hi); };
  const auto pick = [&](unsigned lo, unsigned hi) { return draw.pick(lo, hi); };
  unsigned solved = 0, impossible = 0, cheaper = 0;
  double slowest_ms = 0;
  for (int trial = 0; trial < 30; ++trial) {
    const unsigned partitions = pick(1, 3);
    std::vector<unsigned> bits(partitions);
    for (unsigned& b : bits) b = pick(1, 10);
    std::vector<PartitionedPbsRequirement> pbs;
    std::uint64_t total = 0;
    for (unsigned p = 0; p < partitions; ++p) {
      const unsigned n = pick(1, 3);
      for (unsigned i = 0; i < n; ++i) {
        PartitionedPbsRequirement r;
        r.partition = p;
        r.source = pick(0, partitions - 1);
        r.requirement.precision_bits = i == 0 ? bits[p] : pick(1, bits[p]);
        draw.weights(r.requirement);
        r.requirement.count = 1 + pick(0, 10'000);
        total += r.requirement.count;
        pbs.push_back(r);
      }
    }
    std::vector<PartitionedOutputRequirement> outputs(pick(0, 2));
    for (PartitionedOutputRequirement& o : outputs) {
      o.partition = pick(0, partitions - 1);
      o.requirement = {pick(1, 16), std::exp2(uniform(0.0, 8.0)), std::exp2(uniform(0.0, 8.0)),
                       1 + pick(0, 100)};
      total += o.requirement.count;
    }
    OptimizerOptions options;
    const double log2_target = draw.target_and_bounds(options, total, 4);
    if (pick(0, 2) == 0)
      options.grouping_factors = {pick(1, 3)};
    else if (pick(0, 1) == 0)
      options.grouping_factors = {1, 2, 3};  // else the default, classic only
    try {
      const auto t0 = std::chrono::steady_clock::now();
      const PartitionedOptimizerResult res =
          optimize_partitioned_parameters(pbs, outputs, partitions, options);
      slowest_ms = std::max(
          slowest_ms,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      SCOPED_TRACE("trial " + std::to_string(trial) + ":\n" + res.summary);
      expect_sound(res, pbs, outputs, partitions, log2_target + 1e-6);
      for (const PbsParameters& q : res.partitions) {
        EXPECT_LE(q.glwe_dimension.value(), options.max_glwe_dimension);
        EXPECT_GE(q.polynomial_size.value(), std::size_t{1} << options.min_log2_polynomial_size);
        EXPECT_LE(q.polynomial_size.value(), std::size_t{1} << options.max_log2_polynomial_size);
      }
      try {
        const OptimizerResult single =
            optimize_pbs_parameters(merged(pbs), merged(outputs), options);
        const double single_seconds = merged_seconds(single, pbs);
        EXPECT_LE(res.estimated_total_seconds, single_seconds * (1.0 + 1e-9)) << single.summary;
        if (res.estimated_total_seconds < 0.99 * single_seconds) ++cheaper;
      } catch (const CompileError&) {
      }
      ++solved;
    } catch (const CompileError&) {
      ++impossible;
    }
  }
  // The generator reaches both outcomes, and partitions pay off in some draws.
  EXPECT_GT(solved, 15u);
  EXPECT_GT(impossible, 0u);
  EXPECT_GT(cheaper, 3u);
  EXPECT_LT(slowest_ms, 2000.0);
  std::printf("random: %u solved (%u cheaper than one set), %u impossible, slowest %.1f ms\n",
              solved, cheaper, impossible, slowest_ms);
}

}  // namespace
}  // namespace torusml::circuit
