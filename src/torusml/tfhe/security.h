// Security of LWE/GLWE parameters against the lattice estimator, through a security curve.
//
// For a binary secret of dimension n, q = 2^64 and 128 bits of security, the noise standard
// deviation (torus units) must be at least 2^(slope * n + bias), and never below 2^(2 - 64)
// (noise covering the two lowest bits). The coefficients are Concrete's published fit of the
// lattice estimator (Albrecht et al., https://github.com/malb/lattice-estimator) for 128 bits
// with binary keys: slope = -0.025696778711484593, bias = 2.675931372549016, valid for n >= 450
// (zama-ai/concrete "security curves"; the most conservative of the fits Concrete has published,
// so it bounds the others from above for every n >= 450).
#pragma once

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// Minimal noise standard deviation, log2 in torus units, for 128-bit security at dimension n.
/// Returns +infinity for n < 450 (no dimension below 450 is accepted).
double minimal_secure_log2_std(LweDimension n);

/// Bits of margin: log2(std of d) - minimal_secure_log2_std(n) (>= 0 means secure).
double security_margin_log2(LweDimension n, const NoiseDistribution& d);

/// Whether both keys of `p` are 128-bit secure (small key with lwe_noise; big key k*N with
/// glwe_noise).
bool is_128_bit_secure(const PbsParameters& p);

}  // namespace torusml::tfhe
