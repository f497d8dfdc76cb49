#include "torusml/tfhe/parameters.h"

#include <bit>
#include <cmath>
#include <sstream>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"

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
void require(bool ok, const std::string& what) {
  if (!ok) throw InvalidArgument("invalid TFHE parameters: " + what);
}

void validate_noise(const NoiseDistribution& d, const char* field) {
  if (d.kind == NoiseDistribution::Kind::TUniform) {
    require(d.bound_log2 >= 0 && d.bound_log2 <= 62,
            std::string(field) + " TUniform bound_log2 must be in [0, 62]");
  } else if (d.kind == NoiseDistribution::Kind::Gaussian) {
    require(std::isfinite(d.std_dev) && d.std_dev > 0.0 && d.std_dev < 0.25,
            std::string(field) + " Gaussian std_dev must be in (0, 0.25)");
  } else {
    require(false, std::string(field) + " has an unknown distribution kind");
  }
}

void validate_decomposition(const DecompositionParameters& d, const char* field) {
  require(d.base_log.value() >= 1 && d.level_count.value() >= 1,
          std::string(field) + " base_log and level_count must be >= 1");
  require(d.base_log.value() * d.level_count.value() <= 63,
          std::string(field) + " base_log * level_count must be <= 63");
}
}  // namespace

void PbsParameters::validate() const {
  require(message_bits >= 1 && message_bits <= 16, "message_bits must be in [1, 16]");
  require(lwe_dimension.value() >= 1 && lwe_dimension.value() <= (1u << 16),
          "lwe_dimension must be in [1, 65536]");
  require(glwe_dimension.value() >= 1 && glwe_dimension.value() <= 16,
          "glwe_dimension must be in [1, 16]");
  const std::size_t n = polynomial_size.value();
  require(std::has_single_bit(n) && n >= 256 && n <= (1u << 17),
          "polynomial_size must be a power of two in [256, 131072]");
  require(std::size_t{1} << (message_bits + 1) <= n,
          "polynomial_size must be at least 2^(message_bits + 1) for the lookup table boxes");
  validate_noise(lwe_noise, "lwe_noise");
  validate_noise(glwe_noise, "glwe_noise");
  validate_decomposition(pbs, "pbs");
  validate_decomposition(ks, "ks");
  require(ks.base_log.value() * ks.level_count.value() <= kKeyswitchModulusBits,
          "ks base_log * level_count must be <= 32 (the keyswitching key is modulo 2^32)");
  require(modulus_switch == ModulusSwitchKind::Standard ||
              modulus_switch == ModulusSwitchKind::CenteredMean,
          "unknown modulus switch kind");
  require(std::isfinite(max_two_norm) && max_two_norm >= 1.0, "max_two_norm must be >= 1");
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
  return fnv1a64(w.data());
}

std::ostream& operator<<(std::ostream& os, const PbsParameters& p) {
  os << p.name << " {p=" << p.message_bits << " bits, n=" << p.lwe_dimension.value()
     << ", k=" << p.glwe_dimension.value() << ", N=" << p.polynomial_size.value() << ", pbs=2^"
     << p.pbs.base_log.value() << "x" << p.pbs.level_count.value() << ", ks=2^"
     << p.ks.base_log.value() << "x" << p.ks.level_count.value() << ", lwe_noise=" << p.lwe_noise
     << ", glwe_noise=" << p.glwe_noise << "}";
  return os;
}

}  // namespace torusml::tfhe
