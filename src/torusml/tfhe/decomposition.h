// Signed, rounded gadget decomposition (TFHE, JoC 2020, Def. 3.9 and Lemma 3.7).
//
// A torus element x is first rounded to the closest multiple of q / B^l (keeping its top
// base_log * level_count bits), then written as sum_{j=1..l} d_j * q / B^j with balanced digits
// d_j in [-B/2, B/2). The rounding error is uniform in [-q/(2 B^l), q/(2 B^l)), so of variance
// B^(-2l) / 12 in torus units, and E[d_j^2] = (B^2 + 2) / 12 (both used by noise_model.h).
#pragma once

#include <cstdint>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// The closest multiple of q / B^l to x, as an integer of base_log * level_count bits
/// (right-aligned). Precondition: base_log * level_count <= 63.
inline std::uint64_t decomposition_round(Torus x, unsigned total_bits) {
  const unsigned shift = 64 - total_bits;
  return (x >> shift) + ((x >> (shift - 1)) & 1);
}

/// Decomposes x; digits[j - 1] receives d_j (j = 1 most significant .. l least significant).
inline void decompose_torus(Torus x, DecompositionParameters p, std::int64_t* digits) {
  const unsigned beta = static_cast<unsigned>(p.base_log.value());
  const unsigned levels = static_cast<unsigned>(p.level_count.value());
  std::uint64_t v = decomposition_round(x, beta * levels);
  const std::uint64_t mask = (std::uint64_t{1} << beta) - 1;
  const std::uint64_t half = std::uint64_t{1} << (beta - 1);
  for (unsigned j = levels; j-- > 0;) {
    const std::uint64_t d = v & mask;
    v >>= beta;
    // Balanced digit: d >= B/2 becomes d - B with a carry into the next level.
    const std::uint64_t carry = d >= half ? 1 : 0;
    digits[j] = static_cast<std::int64_t>(d) - static_cast<std::int64_t>(carry << beta);
    v += carry;
  }
}

/// The torus value sum_j d_j q / B^j of a decomposition (for tests).
inline Torus recompose_torus(const std::int64_t* digits, DecompositionParameters p) {
  const unsigned beta = static_cast<unsigned>(p.base_log.value());
  Torus x = 0;
  for (unsigned j = 0; j < p.level_count.value(); ++j)
    x += static_cast<Torus>(digits[j]) << (64 - beta * (j + 1));
  return x;
}

}  // namespace torusml::tfhe
