// Helpers shared by the FFT backends (internal).
#pragma once

#include <cmath>
#include <cstdint>

namespace torusml::tfhe::detail {

/// round(x) mod 2^64 for any finite double, exactly. For |x| >= 2^63 the value is reduced by the
/// nearest multiple of 2^64 first; that subtraction is exact because both are multiples of
/// ulp(x) and the result is smaller than |x|.
inline std::uint64_t f64_to_torus(double x) {
  const double r = std::nearbyint(x);
  if (std::fabs(r) < 0x1.0p63) return static_cast<std::uint64_t>(static_cast<std::int64_t>(r));
  const double rem = r - std::nearbyint(r * 0x1.0p-64) * 0x1.0p64;
  if (rem >= 0x1.0p63 || rem < -0x1.0p63) return std::uint64_t{1} << 63;
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(rem));
}

}  // namespace torusml::tfhe::detail
