#include "torusml/tfhe/security.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "torusml/common/error.h"

namespace torusml::tfhe {

namespace {
constexpr double kSlope = -0.025696778711484593;
constexpr double kBias = 2.675931372549016;
constexpr std::size_t kMinimalDimension = 450;
// Tolerance in bits: the floor 2^-62 is met exactly by a std of 2^-62.
constexpr double kToleranceBits = 1e-9;
std::atomic<int> insecure_allowed{0};
}  // namespace

double minimal_secure_log2_std(LweDimension n) {
  if (n.value() < kMinimalDimension) return std::numeric_limits<double>::infinity();
  return std::max(kSlope * static_cast<double>(n.value()) + kBias, 2.0 - 64.0);
}

double security_margin_log2(LweDimension n, const NoiseDistribution& d) {
  return 0.5 * std::log2(d.variance()) - minimal_secure_log2_std(n);
}

bool is_128_bit_secure(const PbsParameters& p) {
  return security_margin_log2(p.lwe_dimension, p.lwe_noise) >= -kToleranceBits &&
         security_margin_log2(p.big_lwe_dimension(), p.glwe_noise) >= -kToleranceBits &&
         (!uses_noise_reduction(p.modulus_switch) ||
          security_margin_log2(p.lwe_dimension, p.ms_noise_reduction.zeros_noise) >=
              -kToleranceBits);
}

void require_128_bit_security(LweDimension n, const NoiseDistribution& d, std::string_view field) {
  if (insecure_allowed.load(std::memory_order_relaxed) > 0) return;
  if (n.value() < kMinimalDimension) {
    throw InsecureParameters("insecure parameters: " + std::string(field) + " key dimension " +
                             std::to_string(n.value()) + " is below 128-bit security (allowed: " +
                             std::to_string(kMinimalDimension) +
                             " and up, with the noise of the security curve); use a preset or "
                             "the compiler's parameters");
  }
  const double margin = security_margin_log2(n, d);
  if (!(margin >= -kToleranceBits)) {
    std::ostringstream os;
    os << "insecure parameters: " << field << " noise " << d << " at key dimension " << n.value()
       << " is below 128-bit security (allowed: std >= 2^" << minimal_secure_log2_std(n)
       << " by Concrete's security curve, " << -margin
       << " bits short); use a preset or the compiler's parameters";
    throw InsecureParameters(os.str());
  }
}

void require_128_bit_security(const PbsParameters& p) {
  require_128_bit_security(p.lwe_dimension, p.lwe_noise, "lwe_noise (small key, n)");
  require_128_bit_security(p.big_lwe_dimension(), p.glwe_noise, "glwe_noise (big key, k*N)");
  // The modulus switch noise reduction's encryptions of zero are more samples under the small key.
  if (uses_noise_reduction(p.modulus_switch)) {
    require_128_bit_security(p.lwe_dimension, p.ms_noise_reduction.zeros_noise,
                             "ms_noise_reduction zeros_noise (small key, n)");
  }
}

ScopedInsecureParametersForTesting::ScopedInsecureParametersForTesting() {
  insecure_allowed.fetch_add(1);
}
ScopedInsecureParametersForTesting::~ScopedInsecureParametersForTesting() {
  insecure_allowed.fetch_sub(1);
}

}  // namespace torusml::tfhe
