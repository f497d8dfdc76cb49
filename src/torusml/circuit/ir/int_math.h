// Exact int64 helpers shared by the builder's tables and the clear evaluator (internal header).
#pragma once

#include <cstdint>

namespace torusml::circuit::detail {

/// round(x / 2^bits) * 2^bits with ties away from zero, for 0 <= bits <= 62. Returns false (and
/// leaves *out unspecified) if the result does not fit in int64.
inline bool round_bit_pattern_value(std::int64_t x, std::int64_t bits, std::int64_t* out) {
  if (bits == 0) {
    *out = x;
    return true;
  }
  const std::int64_t step = std::int64_t{1} << bits;
  std::int64_t quotient = x / step;
  const std::int64_t remainder = x % step;  // |remainder| < step <= 2^62: doubling cannot overflow
  if (2 * (remainder < 0 ? -remainder : remainder) >= step) quotient += x < 0 ? -1 : 1;
  return !__builtin_mul_overflow(quotient, step, out);
}

/// numerator / divisor rounded to the nearest integer, ties away from zero (divisor > 0).
inline std::int64_t round_divide(std::int64_t numerator, std::int64_t divisor) {
  std::int64_t quotient = numerator / divisor;
  const std::int64_t remainder = numerator % divisor;
  const std::int64_t magnitude = remainder < 0 ? -remainder : remainder;
  // 2 * |r| >= d, written without doubling |r| (which could overflow for huge divisors).
  if (magnitude >= divisor - magnitude) quotient += numerator < 0 ? -1 : 1;
  return quotient;
}

/// floor(v * v / 4). Returns false if it does not fit in int64. With v = 2a + b (b in {0, 1}),
/// v^2 / 4 = a^2 + a*b + b/4, so the floor is a^2 + a*b.
inline bool floor_quarter_square(std::int64_t v, std::int64_t* out) {
  const std::int64_t a = v >> 1;  // floor(v / 2): arithmetic shift (C++20)
  const std::int64_t b = v & 1;
  std::int64_t square = 0;
  if (__builtin_mul_overflow(a, a, &square)) return false;
  return !__builtin_add_overflow(square, a * b, out);
}

}  // namespace torusml::circuit::detail
