#include "torusml/circuit/compile/compiled_circuit.h"

#include <cmath>
#include <string>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {

std::uint64_t CircuitParameters::fingerprint() const {
  ByteWriter w;
  w.u8(uses_pbs ? 1 : 0);
  if (uses_pbs) {
    w.u64(pbs.fingerprint());
  } else {
    w.u64(leveled_dimension.value());
    w.u8(static_cast<std::uint8_t>(leveled_noise.kind));
    w.u32(static_cast<std::uint32_t>(leveled_noise.bound_log2));
    w.f64(leveled_noise.std_dev);
  }
  return fnv1a64(w.data());
}

void CircuitParameters::validate() const {
  if (uses_pbs) {
    pbs.validate();
    return;
  }
  const std::size_t n = leveled_dimension.value();
  if (n < 1 || n > kMaxLeveledDimension) {
    throw InvalidArgument("invalid circuit parameters: leveled_dimension = " + std::to_string(n) +
                          " is out of range (allowed: [1, " + std::to_string(kMaxLeveledDimension) +
                          "])");
  }
  const tfhe::NoiseDistribution& d = leveled_noise;
  using Kind = tfhe::NoiseDistribution::Kind;
  if (d.kind == Kind::TUniform) {
    if (d.bound_log2 < 0 || d.bound_log2 > 62 || d.std_dev != 0.0) {
      throw InvalidArgument("invalid circuit parameters: leveled_noise TUniform bound_log2 = " +
                            std::to_string(d.bound_log2) +
                            ", std_dev = " + std::to_string(d.std_dev) +
                            " (allowed: bound_log2 in [0, 62] and std_dev 0)");
    }
  } else if (d.kind == Kind::Gaussian) {
    if (!(std::isfinite(d.std_dev) && d.std_dev > 0 && d.std_dev < 0.25) || d.bound_log2 != 0) {
      throw InvalidArgument("invalid circuit parameters: leveled_noise Gaussian std_dev = " +
                            std::to_string(d.std_dev) +
                            ", bound_log2 = " + std::to_string(d.bound_log2) +
                            " (allowed: std_dev in (0, 0.25) and bound_log2 0)");
    }
  } else {
    throw InvalidArgument("invalid circuit parameters: leveled_noise kind = " +
                          std::to_string(static_cast<int>(d.kind)) +
                          " (allowed: 1 TUniform, 2 Gaussian)");
  }
  tfhe::require_128_bit_security(leveled_dimension, leveled_noise, "leveled_noise");
}

std::uint64_t bootstraps_per_element(const Instruction& ins) {
  switch (ins.kind) {
    case InstructionKind::Bootstrap:
      return 1;
    case InstructionKind::ExactRound:
      return ins.rounding.steps.size();
    default:
      return 0;
  }
}

}  // namespace torusml::circuit
