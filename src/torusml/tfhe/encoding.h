// Encoding of integers on the torus: a p-bit message m is the torus element m * delta with
// delta = 2^63 / 2^p = 2^(63-p), so the most significant bit (the padding bit) is left free for
// the negacyclic blind rotation. Signed messages m in [-2^(p-1), 2^(p-1)) are stored in two's
// complement within the p-bit message space, i.e. as (m mod 2^p) * delta.
#pragma once

#include <cstdint>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// delta = 2^(63 - bits): the scaling factor of p-bit messages with one bit of padding.
constexpr Torus encoding_delta(unsigned bits) {
  return Torus{1} << (63 - bits);
}

/// (m mod 2^bits) * delta. Precondition: 1 <= bits <= 62.
constexpr Torus encode_message(std::int64_t m, unsigned bits) {
  const Torus mask = (Torus{1} << bits) - 1;
  return (static_cast<Torus>(m) & mask) * encoding_delta(bits);
}

/// The torus element rounded to the nearest multiple of delta, as an unsigned value mod 2^bits
/// (the padding bit is dropped).
constexpr std::uint64_t decode_message(Torus phase, unsigned bits) {
  const unsigned shift = 63 - bits;
  const Torus rounded = phase + (Torus{1} << (shift - 1));
  return (rounded >> shift) & ((std::uint64_t{1} << bits) - 1);
}

/// Like decode_message, read as a two's-complement value in [-2^(bits-1), 2^(bits-1)).
constexpr std::int64_t decode_signed_message(Torus phase, unsigned bits) {
  const std::uint64_t v = decode_message(phase, bits);
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  return static_cast<std::int64_t>(v ^ sign) - static_cast<std::int64_t>(sign);
}

/// Signed distance from `phase` to the nearest encoding of a message, in torus units (the noise
/// of a decryption), as a double in [-delta/2, delta/2) / 2^64.
inline double encoding_error(Torus phase, unsigned bits) {
  const unsigned shift = 63 - bits;
  const Torus rounded = ((phase + (Torus{1} << (shift - 1))) >> shift) << shift;
  return static_cast<double>(static_cast<std::int64_t>(phase - rounded)) * 0x1.0p-64;
}

}  // namespace torusml::tfhe
