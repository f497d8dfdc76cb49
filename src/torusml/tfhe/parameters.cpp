#include "torusml/tfhe/parameters.h"

#include <bit>
#include <cmath>
#include <sstream>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/security.h"

namespace torusml::tfhe {

double NoiseDistribution::variance() const {
  switch (kind) {
    case Kind::TUniform: {
      // Sum over |x| <= 2^b of x^2 with the ends at half weight, divided by 2^(b+1) values.
      const double two_b = std::ldexp(1.0, bound_log2);
      return (2.0 * two_b * two_b + 1.0) / 6.0 * std::ldexp(1.0, -128);
    }
    case Kind::Gaussian:
      return std_dev * std_dev;
  }
  return 0.0;
}

std::ostream& operator<<(std::ostream& os, const NoiseDistribution& d) {
  if (d.kind == NoiseDistribution::Kind::TUniform)
    return os << "TUniform(2^" << d.bound_log2 << ")";
  return os << "Gaussian(std=2^" << std::log2(d.std_dev) << ")";
}

namespace {
// Throws InvalidArgument naming the field, its value and the allowed range.
template <class T>
void require(bool ok, const std::string& field, const T& value, const std::string& allowed) {
  if (ok) return;
  std::ostringstream os;
  os << "invalid TFHE parameters: " << field << " = " << value
     << " is out of range (allowed: " << allowed << ")";
  throw InvalidArgument(os.str());
}

void validate_noise(const NoiseDistribution& d, const std::string& field) {
  if (d.kind == NoiseDistribution::Kind::TUniform) {
    require(d.bound_log2 >= 0 && d.bound_log2 <= 62, field + " TUniform bound_log2", d.bound_log2,
            "[0, 62]");
  } else if (d.kind == NoiseDistribution::Kind::Gaussian) {
    require(std::isfinite(d.std_dev) && d.std_dev > 0.0 && d.std_dev < 0.25,
            field + " Gaussian std_dev", d.std_dev, "(0, 0.25) in torus units");
  } else {
    require(false, field + " distribution kind", static_cast<int>(d.kind),
            "1 (TUniform) or 2 (Gaussian)");
  }
}

void validate_decomposition(const DecompositionParameters& d, const std::string& field,
                            std::size_t max_bits) {
  require(d.base_log.value() >= 1 && d.base_log.value() <= max_bits, field + " base_log",
          d.base_log.value(), "[1, " + std::to_string(max_bits) + "]");
  require(d.level_count.value() >= 1 && d.level_count.value() <= max_bits, field + " level_count",
          d.level_count.value(), "[1, " + std::to_string(max_bits) + "]");
  require(d.base_log.value() * d.level_count.value() <= max_bits, field + " base_log * level_count",
          d.base_log.value() * d.level_count.value(), "at most " + std::to_string(max_bits));
}
}  // namespace

void PbsParameters::validate() const {
  require(message_bits >= 1 && message_bits <= 16, "message_bits", message_bits, "[1, 16]");
  require(lwe_dimension.value() >= 1 && lwe_dimension.value() <= (1u << 16), "lwe_dimension",
          lwe_dimension.value(), "[1, 65536]");
  require(glwe_dimension.value() >= 1 && glwe_dimension.value() <= 16, "glwe_dimension",
          glwe_dimension.value(), "[1, 16]");
  const std::size_t n = polynomial_size.value();
  require(std::has_single_bit(n) && n >= 256 && n <= (1u << 17), "polynomial_size", n,
          "a power of two in [256, 131072]");
  require(std::size_t{1} << (message_bits + 1) <= n, "polynomial_size", n,
          "at least 2^(message_bits + 1) = " +
              std::to_string(std::size_t{1} << (message_bits + 1)) + " for the lookup table boxes");
  validate_noise(lwe_noise, "lwe_noise");
  validate_noise(glwe_noise, "glwe_noise");
  validate_decomposition(pbs, "pbs", 63);
  // The keyswitching key lives modulo 2^32.
  validate_decomposition(ks, "ks", kKeyswitchModulusBits);
  require(modulus_switch == ModulusSwitchKind::Standard ||
              modulus_switch == ModulusSwitchKind::CenteredMean ||
              uses_noise_reduction(modulus_switch),
          "modulus_switch", static_cast<int>(modulus_switch),
          "1 (Standard), 2 (CenteredMean), 3 (Drift) or 4 (DriftCenteredMean)");
  const ModulusSwitchNoiseReduction& r = ms_noise_reduction;
  if (uses_noise_reduction(modulus_switch)) {
    require(r.zeros_count >= 1 && r.zeros_count <= kMaxModulusSwitchZeros,
            "ms_noise_reduction zeros_count", r.zeros_count,
            "[1, " + std::to_string(kMaxModulusSwitchZeros) + "]");
    require(r.max_rounds >= 1 && r.max_rounds <= kMaxModulusSwitchRounds,
            "ms_noise_reduction max_rounds", r.max_rounds,
            "[1, " + std::to_string(kMaxModulusSwitchRounds) + "]");
    validate_noise(r.zeros_noise, "ms_noise_reduction zeros_noise");
  } else {
    require(r == ModulusSwitchNoiseReduction{}, "ms_noise_reduction zeros_count", r.zeros_count,
            "0 with max_rounds 0 and default noise: only the Drift kinds (3, 4) use it");
  }
  const std::size_t g = grouping_factor.value();
  require(g >= 1 && g <= kMaxGroupingFactor, "grouping_factor", g,
          "1 (classic bootstrap) or [" + std::to_string(kMinGroupingFactor) + ", " +
              std::to_string(kMaxGroupingFactor) + "] (multi-bit)");
  if (g > 1) {
    // The multi-bit blind rotation has no noise reduction (multi_bit_bootstrap.h).
    require(!uses_noise_reduction(modulus_switch), "modulus_switch", to_string(modulus_switch),
            "Standard or CenteredMean with a multi-bit grouping_factor (" + std::to_string(g) +
                "): the Drift kinds are classic-bootstrap only");
  }
  require(std::isfinite(max_two_norm) && max_two_norm >= 1.0 && max_two_norm <= 1e9, "max_two_norm",
          max_two_norm, "[1, 1e9]");
  require_128_bit_security(*this);  // with the Drift kinds' encryptions of zero
}

std::uint64_t PbsParameters::fingerprint() const {
  ByteWriter w;
  w.u32(message_bits);
  w.u64(lwe_dimension.value());
  w.u64(glwe_dimension.value());
  w.u64(polynomial_size.value());
  for (const auto* d : {&lwe_noise, &glwe_noise}) {
    w.u8(static_cast<std::uint8_t>(d->kind));
    w.u32(static_cast<std::uint32_t>(d->bound_log2));
    w.f64(d->std_dev);
  }
  for (const auto* d : {&pbs, &ks}) {
    w.u64(d->base_log.value());
    w.u64(d->level_count.value());
  }
  w.u8(static_cast<std::uint8_t>(modulus_switch));
  if (uses_noise_reduction(modulus_switch)) {
    // Appended for the Drift kinds only: the other kinds keep their digests.
    w.u64(ms_noise_reduction.zeros_count);
    w.u64(ms_noise_reduction.max_rounds);
    const NoiseDistribution& d = ms_noise_reduction.zeros_noise;
    w.u8(static_cast<std::uint8_t>(d.kind));
    w.u32(static_cast<std::uint32_t>(d.bound_log2));
    w.f64(d.std_dev);
  }
  // Appended for multi-bit sets only: classic sets keep their digests.
  if (is_multi_bit()) w.u64(grouping_factor.value());
  return fnv1a64(w.data());
}

const char* to_string(ModulusSwitchKind kind) {
  switch (kind) {
    case ModulusSwitchKind::Standard:
      return "Standard";
    case ModulusSwitchKind::CenteredMean:
      return "CenteredMean";
    case ModulusSwitchKind::Drift:
      return "Drift";
    case ModulusSwitchKind::DriftCenteredMean:
      return "DriftCenteredMean";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const PbsParameters& p) {
  os << p.name << " {p=" << p.message_bits << " bits, n=" << p.lwe_dimension.value()
     << ", k=" << p.glwe_dimension.value() << ", N=" << p.polynomial_size.value() << ", pbs=2^"
     << p.pbs.base_log.value() << "x" << p.pbs.level_count.value() << ", ks=2^"
     << p.ks.base_log.value() << "x" << p.ks.level_count.value() << ", lwe_noise=" << p.lwe_noise
     << ", glwe_noise=" << p.glwe_noise;
  if (uses_noise_reduction(p.modulus_switch)) {
    os << ", ms=" << to_string(p.modulus_switch) << "(Z=" << p.ms_noise_reduction.zeros_count
       << ", R=" << p.ms_noise_reduction.max_rounds << ", " << p.ms_noise_reduction.zeros_noise
       << ")";
  }
  if (p.is_multi_bit()) os << ", multi-bit g=" << p.grouping_factor.value();
  os << "}";
  return os;
}

}  // namespace torusml::tfhe
