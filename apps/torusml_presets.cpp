// Prints the parameter presets: dimensions, security margins, noise terms, failure probability
// per PBS (noise model) and key sizes.
#include <cmath>
#include <cstdio>

#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"

using namespace torusml::tfhe;

int main() {
  std::printf("%-10s %5s %2s %6s %8s %8s %7s %7s %9s %9s %9s %8s %9s %9s\n", "preset", "n", "k",
              "N", "pbs", "ks", "sec_lwe", "sec_glw", "var_ks", "var_ms", "var_pbs", "2-norm",
              "log2_pf", "bsk_MB");
  for (const auto& p : all_presets()) {
    const double out = variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size,
                                               p.pbs, p.glwe_noise);
    const PbsNoise noise = pbs_noise(p, out, p.max_two_norm);
    const double k = static_cast<double>(p.glwe_dimension.value());
    const double bsk_mb =
        static_cast<double>(p.lwe_dimension.value()) * (k + 1) * (k + 1) *
        static_cast<double>(p.pbs.level_count.value() * p.polynomial_size.value()) * 8.0 / 1e6;
    char pbs[16], ks[16];
    std::snprintf(pbs, sizeof pbs, "2^%zux%zu", p.pbs.base_log.value(), p.pbs.level_count.value());
    std::snprintf(ks, sizeof ks, "2^%zux%zu", p.ks.base_log.value(), p.ks.level_count.value());
    std::printf(
        "%-10s %5zu %2zu %6zu %8s %8s %7.2f %7.2f %9.2f %9.2f %9.2f %8.0f %9.1f %9.0f\n",
        p.name.c_str(), p.lwe_dimension.value(), p.glwe_dimension.value(),
        p.polynomial_size.value(), pbs, ks, security_margin_log2(p.lwe_dimension, p.lwe_noise),
        security_margin_log2(p.big_lwe_dimension(), p.glwe_noise), std::log2(noise.keyswitch),
        std::log2(noise.modulus_switch), std::log2(out), p.max_two_norm, noise.log2_p_fail, bsk_mb);
  }
  return 0;
}
