// Polynomials of the ring Z_q[X]/(X^N + 1), q = 2^64, as spans of N torus coefficients.
#pragma once

#include <cstddef>
#include <span>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// out = X^power * in mod (X^N + 1), power in [0, 2N) (X^N = -1). out and in must not alias.
void polynomial_mul_monomial(std::span<Torus> out, std::span<const Torus> in, std::size_t power);

/// acc += X^power * in - in (the CMux difference of the blind rotation), power in [0, 2N).
void polynomial_add_rotated_difference(std::span<Torus> acc, std::span<const Torus> in,
                                       std::size_t power);

/// acc += a * b mod (X^N + 1) exactly, for b with coefficients in {0, 1} (a secret key).
/// Uses the FFT on 16-bit limbs of a, each product below 2^33 and so exact in double precision.
void polynomial_add_mul_binary(std::span<Torus> acc, std::span<const Torus> a,
                               std::span<const Torus> b);

/// acc += a * b mod (X^N + 1) by the O(N^2) schoolbook product (reference for tests).
void polynomial_add_mul_schoolbook(std::span<Torus> acc, std::span<const Torus> a,
                                   std::span<const Torus> b);

}  // namespace torusml::tfhe
