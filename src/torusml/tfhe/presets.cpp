#include "torusml/tfhe/presets.h"

#include <array>
#include <string>

#include "torusml/common/error.h"

namespace torusml::tfhe {

namespace {

using DBL = DecompositionBaseLog;
using DLC = DecompositionLevelCount;

PbsParameters make(const char* name, unsigned bits, std::size_t n, std::size_t k, std::size_t big_n,
                   NoiseDistribution lwe, NoiseDistribution glwe, std::size_t pbs_log,
                   std::size_t pbs_l, std::size_t ks_log, std::size_t ks_l, double two_norm,
                   const char* source) {
  PbsParameters p;
  p.name = name;
  p.message_bits = bits;
  p.lwe_dimension = LweDimension(n);
  p.glwe_dimension = GlweDimension(k);
  p.polynomial_size = PolynomialSize(big_n);
  p.lwe_noise = lwe;
  p.glwe_noise = glwe;
  p.pbs = {DBL(pbs_log), DLC(pbs_l)};
  p.ks = {DBL(ks_log), DLC(ks_l)};
  p.modulus_switch = ModulusSwitchKind::CenteredMean;
  p.max_two_norm = two_norm;
  p.source = source;
  return p;
}

NoiseDistribution gauss(double s) {
  return NoiseDistribution::gaussian(s);
}
NoiseDistribution tuni(int b) {
  return NoiseDistribution::tuniform(b);
}

// 1-3 and 5-8 bits: TFHE-rs v0.10 PARAM_MESSAGE_p_CARRY_0_KS_PBS_GAUSSIAN_2M64 (zama-ai/tfhe-rs,
// tfhe/src/shortint/parameters/v0_10/classic/gaussian/p_fail_2_minus_64/ks_pbs.rs): 128-bit
// security by the lattice estimator, p_fail <= 2^-64 at 2-norm 1 under TFHE-rs's noise model with
// the plain modulus switch; the centered modulus switch used here only lowers it.
// 4 bits: TFHE-rs v1.4 default V1_4_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128 (TFHE-rs's
// PARAM_MESSAGE_2_CARRY_2 class: 128-bit security, p_fail 2^-129.58 at 2-norm 5 with the
// centered mean modulus switch).
const std::array<PbsParameters, 8>& table() {
  static const std::array<PbsParameters, 8> presets = {
      make("tfhe_1bit", 1, 720, 6, 256, gauss(2.540544392252957e-05), gauss(1.9524392655548086e-11),
           17, 1, 4, 3, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_1_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
      make("tfhe_2bit", 2, 775, 3, 512, gauss(9.83575402535913e-06), gauss(1.9524392655548086e-11),
           17, 1, 4, 3, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_2_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
      make("tfhe_3bit", 3, 857, 2, 1024, gauss(2.389876747499049e-06), gauss(2.845267479601915e-15),
           23, 1, 5, 3, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_3_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
      make("tfhe_4bit", 4, 918, 1, 2048, tuni(45), tuni(17), 23, 1, 4, 4, 5.0,
           "TFHE-rs v1.4 PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128; 128-bit (lattice "
           "estimator)"),
      make("tfhe_5bit", 5, 946, 1, 4096, gauss(5.146261171730886e-07), gauss(2.168404344971009e-19),
           22, 1, 4, 4, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_5_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
      make("tfhe_6bit", 6, 1005, 1, 8192, gauss(1.859518030726978e-07),
           gauss(2.168404344971009e-19), 22, 1, 3, 7, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_6_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
      make("tfhe_7bit", 7, 1051, 1, 16384, gauss(8.40850798120231e-08),
           gauss(2.168404344971009e-19), 16, 2, 3, 7, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_7_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
      make("tfhe_8bit", 8, 1110, 1, 32768, gauss(3.038278019865525e-08),
           gauss(2.168404344971009e-19), 15, 2, 2, 11, 1.0,
           "TFHE-rs v0.10 PARAM_MESSAGE_8_CARRY_0_KS_PBS_GAUSSIAN_2M64; 128-bit (lattice "
           "estimator)"),
  };
  return presets;
}

}  // namespace

const PbsParameters& preset_for_bits(unsigned bits) {
  if (bits < 1 || bits > 8)
    throw InvalidArgument("no preset for " + std::to_string(bits) +
                          "-bit messages: presets cover 1 to 8 bits");
  return table()[bits - 1];
}

const PbsParameters& preset_by_name(std::string_view name) {
  for (const auto& p : table())
    if (p.name == name) return p;
  throw InvalidArgument("unknown preset '" + std::string(name) +
                        "': the presets are tfhe_1bit ... tfhe_8bit");
}

std::span<const PbsParameters> all_presets() {
  return table();
}

}  // namespace torusml::tfhe
