#include "torusml/circuit/compile/compiled_circuit.h"

#include <cmath>
#include <string>
#include <utility>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit {

std::uint64_t CircuitParameters::fingerprint() const {
  ByteWriter w;
  w.u8(uses_pbs ? 1 : 0);
  if (uses_pbs) {
    w.u64(pbs.fingerprint());
    if (!extra_partitions.empty() || !cross_keyswitches.empty()) {
      w.u64(extra_partitions.size());
      for (const tfhe::PbsParameters& p : extra_partitions) w.u64(p.fingerprint());
      w.u64(cross_keyswitches.size());
      for (const CrossKeyswitchParameters& c : cross_keyswitches) {
        w.u32(c.from);
        w.u32(c.to);
        w.u64(c.ks.base_log.value());
        w.u64(c.ks.level_count.value());
      }
    }
    if (small_key_inputs) w.u8(3);
  } else {
    w.u64(leveled_dimension.value());
    w.u8(static_cast<std::uint8_t>(leveled_noise.kind));
    w.u32(static_cast<std::uint32_t>(leveled_noise.bound_log2));
    w.f64(leveled_noise.std_dev);
  }
  return fnv1a64(w.data());
}

std::ptrdiff_t CircuitParameters::cross_keyswitch_index(std::uint32_t from,
                                                        std::uint32_t to) const {
  for (std::size_t i = 0; i < cross_keyswitches.size(); ++i)
    if (cross_keyswitches[i].from == from && cross_keyswitches[i].to == to)
      return static_cast<std::ptrdiff_t>(i);
  return -1;
}

bool CircuitParameters::is_encryption_dimension(tfhe::LweDimension d) const {
  if (!uses_pbs) return d == leveled_dimension;
  if (small_key_inputs && d == pbs.lwe_dimension) return true;
  for (std::size_t p = 0; p < partition_count(); ++p)
    if (partition(p).big_lwe_dimension() == d) return true;
  return false;
}

bool CircuitParameters::is_input_packing_shape(tfhe::GlweDimension k,
                                               tfhe::PolynomialSize n) const {
  if (!uses_pbs) return false;
  for (std::size_t p = 0; p < partition_count(); ++p)
    if (input_glwe_dimension(static_cast<std::uint32_t>(p)) == k &&
        input_polynomial_size(static_cast<std::uint32_t>(p)) == n)
      return true;
  return false;
}

void CircuitParameters::validate() const {
  if (uses_pbs) {
    pbs.validate();
    if (partition_count() > kMaxPartitions)
      throw InvalidArgument("invalid circuit parameters: " + std::to_string(partition_count()) +
                            " partitions (allowed: at most " + std::to_string(kMaxPartitions) +
                            ")");
    for (const tfhe::PbsParameters& p : extra_partitions) p.validate();
    if (small_key_inputs &&
        (!extra_partitions.empty() || pbs.lwe_dimension.value() % kSmallKeyPackingSize != 0))
      throw InvalidArgument(
          "invalid circuit parameters: small-key inputs need one parameter set whose n (" +
          std::to_string(pbs.lwe_dimension.value()) + ") is a multiple of " +
          std::to_string(kSmallKeyPackingSize));
    for (std::size_t i = 0; i < cross_keyswitches.size(); ++i) {
      const CrossKeyswitchParameters& c = cross_keyswitches[i];
      const std::size_t bits = c.ks.base_log.value() * c.ks.level_count.value();
      if (c.from >= partition_count() || c.to >= partition_count() || c.from == c.to ||
          c.ks.base_log.value() < 1 || c.ks.level_count.value() < 1 ||
          bits > tfhe::kKeyswitchModulusBits ||
          (i > 0 && std::pair(cross_keyswitches[i - 1].from, cross_keyswitches[i - 1].to) >=
                        std::pair(c.from, c.to)))
        throw InvalidArgument(
            "invalid circuit parameters: cross keyswitch " + std::to_string(i) + " (" +
            std::to_string(c.from) + " -> " + std::to_string(c.to) + ", 2^" +
            std::to_string(c.ks.base_log.value()) + " x " +
            std::to_string(c.ks.level_count.value()) + ") (allowed: distinct partitions below " +
            std::to_string(partition_count()) +
            ", sorted by (from, to) without repeats, base_log * level_count in [1, 32])");
    }
    return;
  }
  if (!extra_partitions.empty() || !cross_keyswitches.empty() || small_key_inputs)
    throw InvalidArgument(
        "invalid circuit parameters: a leveled circuit has no partitions, cross keyswitches or "
        "small-key inputs");
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
