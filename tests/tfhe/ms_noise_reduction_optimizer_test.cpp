// The optimizer (circuit/optimizer) with the modulus switch kinds as candidates: for each
// precision 1..8 at p_fail 2^-40 (one PBS whose input is a PBS output), the parameters and the
// cost model's time it chooses when restricted to each kind (Standard, CenteredMean, Drift and
// DriftCenteredMean with Z = 1024, R = 2), the smallest polynomial size each kind makes feasible,
// and what it chooses among all default candidates. Checks: every choice is 128-bit secure and
// meets the target; an explicitly selected kind is the one returned; the default choice is never
// costlier than a restricted one and picks a Drift kind only where it is strictly cheaper than
// CenteredMean. Classic blind rotations only (grouping factor 1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"

namespace torusml::tfhe {
namespace {

using circuit::ModulusSwitchCandidate;
using circuit::OptimizerOptions;
using circuit::OptimizerResult;

std::optional<OptimizerResult> optimize(unsigned bits, std::vector<ModulusSwitchCandidate> kinds,
                                        unsigned max_log2_n = 17) {
  OptimizerOptions options;
  options.p_error = 0x1p-40;
  options.modulus_switch_candidates = std::move(kinds);
  options.max_log2_polynomial_size = max_log2_n;
  // The modulus switch kinds compared on the classic blind rotation (the Drift kinds have no
  // multi-bit sets; circuit/optimizer tests weigh the multi-bit ones).
  options.grouping_factors = {1};
  const std::vector<circuit::PbsRequirement> req = {{bits, 1.0, 0.0, 1}};
  try {
    return circuit::optimize_pbs_parameters(req, {}, options);
  } catch (const CompileError&) {
    return std::nullopt;
  }
}

void check_result(const OptimizerResult& r, unsigned bits) {
  const PbsParameters& p = r.parameters;
  EXPECT_NO_THROW(p.validate());
  EXPECT_TRUE(is_128_bit_secure(p));
  EXPECT_LE(r.log2_worst_p_error, -40.0 + 1e-9);
  // The reported failure probability is the noise model's, with the kind's switch.
  const double out = variance_pbs_output(p);
  const double lp = log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(bits) - 2),
                                       pbs_noise(p, out, 1.0).total);
  EXPECT_NEAR(lp, r.log2_worst_p_error, 1e-9);
  EXPECT_NEAR(r.estimated_pbs_seconds, circuit::estimate_pbs_seconds(p), 1e-15);
}

TEST(MsNoiseReductionOptimizer, TableAndChoices) {
  const std::vector<ModulusSwitchCandidate> kinds = {
      {ModulusSwitchKind::Standard, 0, 0},
      {ModulusSwitchKind::CenteredMean, 0, 0},
      {ModulusSwitchKind::Drift, 1024, 2},
      {ModulusSwitchKind::DriftCenteredMean, 1024, 2},
  };
  std::printf(
      "optimizer at p_fail 2^-40 per PBS (input: one PBS output), cost model times on one core "
      "(Drift kinds: Z = 1024, R = 2, their cost included)\n");
  std::printf("%4s %-18s %5s %2s %6s %8s %8s %8s %9s %9s %6s\n", "bits", "kind", "n", "k", "N",
              "pbs", "ks", "log2_pf", "ms/PBS", "drift_ms", "min_N");
  for (unsigned bits = 1; bits <= 8; ++bits) {
    std::optional<OptimizerResult> cm;
    double cheapest = 1e9;
    for (const ModulusSwitchCandidate& c : kinds) {
      const std::optional<OptimizerResult> r = optimize(bits, {c});
      ASSERT_TRUE(r) << bits << " bits, " << to_string(c.kind);
      check_result(*r, bits);
      const PbsParameters& p = r->parameters;
      EXPECT_EQ(p.modulus_switch, c.kind);
      if (uses_noise_reduction(c.kind)) {
        EXPECT_EQ(p.ms_noise_reduction.zeros_count, c.zeros_count);
        EXPECT_EQ(p.ms_noise_reduction.max_rounds, c.max_rounds);
        EXPECT_EQ(p.ms_noise_reduction.zeros_noise, p.lwe_noise);
      }
      if (c.kind == ModulusSwitchKind::CenteredMean) cm = r;
      cheapest = std::min(cheapest, r->estimated_pbs_seconds);
      // The smallest polynomial size with which this kind meets the target.
      unsigned min_log = 8;
      while (min_log < 17 && !optimize(bits, {c}, min_log)) ++min_log;
      char pbs[16], ks[16];
      std::snprintf(pbs, sizeof pbs, "2^%zux%zu", p.pbs.base_log.value(),
                    p.pbs.level_count.value());
      std::snprintf(ks, sizeof ks, "2^%zux%zu", p.ks.base_log.value(), p.ks.level_count.value());
      std::printf("%4u %-18s %5zu %2zu %6zu %8s %8s %8.1f %9.3f %9.3f %6u\n", bits,
                  to_string(c.kind), p.lwe_dimension.value(), p.glwe_dimension.value(),
                  p.polynomial_size.value(), pbs, ks, r->log2_worst_p_error,
                  r->estimated_pbs_seconds * 1e3, estimate_noise_reduction_seconds(p) * 1e3,
                  1u << min_log);
    }
    // All default candidates: never costlier than CenteredMean alone; a Drift kind only if it is
    // strictly cheaper.
    const std::optional<OptimizerResult> best = optimize(bits, {});
    ASSERT_TRUE(best && cm);
    check_result(*best, bits);
    EXPECT_LE(best->estimated_pbs_seconds, cm->estimated_pbs_seconds * (1 + 1e-12));
    if (uses_noise_reduction(best->parameters.modulus_switch))
      EXPECT_LT(best->estimated_pbs_seconds, cm->estimated_pbs_seconds);
    else
      EXPECT_EQ(best->parameters.fingerprint(), cm->parameters.fingerprint());
    const PbsParameters& p = best->parameters;
    std::printf(
        "%4u %-18s %5zu %2zu %6zu  -> default choice (Z=%zu, R=%zu): %.3f ms, %.1f%% vs "
        "CenteredMean\n",
        bits, to_string(p.modulus_switch), p.lwe_dimension.value(), p.glwe_dimension.value(),
        p.polynomial_size.value(), p.ms_noise_reduction.zeros_count,
        p.ms_noise_reduction.max_rounds, best->estimated_pbs_seconds * 1e3,
        100.0 * (best->estimated_pbs_seconds / cm->estimated_pbs_seconds - 1.0));
  }
}

TEST(MsNoiseReductionOptimizer, RejectsInvalidCandidates) {
  EXPECT_THROW(optimize(4, {{ModulusSwitchKind::Drift, 0, 2}}), InvalidArgument);
  EXPECT_THROW(optimize(4, {{ModulusSwitchKind::DriftCenteredMean, 64, 0}}), InvalidArgument);
  EXPECT_THROW(optimize(4, {{static_cast<ModulusSwitchKind>(9), 0, 0}}), InvalidArgument);
}

}  // namespace
}  // namespace torusml::tfhe
