#include "torusml/tfhe/security.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace torusml::tfhe {

namespace {
constexpr double kSlope = -0.025696778711484593;
constexpr double kBias = 2.675931372549016;
constexpr std::size_t kMinimalDimension = 450;
}  // namespace

double minimal_secure_log2_std(LweDimension n) {
  if (n.value() < kMinimalDimension) return std::numeric_limits<double>::infinity();
  return std::max(kSlope * static_cast<double>(n.value()) + kBias, 2.0 - 64.0);
}

double security_margin_log2(LweDimension n, const NoiseDistribution& d) {
  return 0.5 * std::log2(d.variance()) - minimal_secure_log2_std(n);
}

bool is_128_bit_secure(const PbsParameters& p) {
  // A tolerance of 1e-9 bits: the floor 2^-62 is met exactly by a std of 2^-62.
  return security_margin_log2(p.lwe_dimension, p.lwe_noise) >= -1e-9 &&
         security_margin_log2(p.big_lwe_dimension(), p.glwe_noise) >= -1e-9;
}

}  // namespace torusml::tfhe
