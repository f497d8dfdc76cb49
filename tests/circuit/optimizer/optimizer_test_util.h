// Shared by the optimizers' tests (optimizer_test.cpp, partitioned_optimizer_test.cpp): a set of
// representative requirements, and the random draws of the property tests (requirement weights,
// failure targets and search bounds).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "torusml/circuit/optimizer/optimizer.h"

namespace torusml::circuit::testing {

/// PBS requirement sets from 1 to 8 bits, with PBS-output and fresh weights from 0 to 1000.
inline std::vector<std::vector<PbsRequirement>> requirement_cases() {
  return {
      {{1, 1.0, 0.0, 1}},
      {{3, 4.0, 1.0, 10}},
      {{4, 25.0, 0.0, 100}, {2, 100.0, 50.0, 7}},
      {{6, 1.0, 1.0, 1}, {5, 9.0, 0.0, 3}, {1, 400.0, 1000.0, 2}},
      {{8, 2.0, 0.0, 1}},
  };
}
/// Two decrypted outputs, 12 and 20 bits wide.
inline std::vector<OutputRequirement> output_cases() {
  return {{12, 3.0, 100.0, 4}, {20, 0.0, 1e4, 1}};
}

class RandomDraws {
 public:
  explicit RandomDraws(std::uint64_t seed) : rng_(seed) {}
  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  unsigned pick(unsigned lo, unsigned hi) {
    return std::uniform_int_distribution<unsigned>(lo, hi)(rng_);
  }
  /// PBS-output and fresh weights of a lookup input: each zero sometimes, never both.
  void weights(PbsRequirement& r) {
    r.pbs_weight = pick(0, 3) == 0 ? 0.0 : std::exp2(uniform(0.0, 14.0));
    r.fresh_weight = pick(0, 2) == 0 ? 0.0 : std::exp2(uniform(0.0, 12.0));
    if (r.pbs_weight == 0.0 && r.fresh_weight == 0.0) r.fresh_weight = 1.0;
  }
  /// A failure target in [2^-80, 2^-20], per item or global over `total` items, and polynomial
  /// size bounds and a largest k up to `max_k`. Returns log2 of the per-item target.
  double target_and_bounds(OptimizerOptions& options, std::uint64_t total, unsigned max_k) {
    double log2_target = -uniform(20.0, 80.0);
    if (pick(0, 1) == 0) {
      options.global_p_error = std::exp2(log2_target);
      log2_target -= std::log2(static_cast<double>(total));
    } else {
      options.p_error = std::exp2(log2_target);
    }
    options.max_glwe_dimension = pick(1, max_k);
    options.min_log2_polynomial_size = pick(8, 10);
    options.max_log2_polynomial_size = pick(options.min_log2_polynomial_size + 2, 17);
    return log2_target;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace torusml::circuit::testing
