// Security of LWE/GLWE parameters against the lattice estimator, through a security curve.
//
// For a binary secret of dimension n, q = 2^64 and 128 bits of security, the noise standard
// deviation (torus units) must be at least 2^(slope * n + bias), and never below 2^(2 - 64)
// (noise covering the two lowest bits). The coefficients are Concrete's published fit of the
// lattice estimator (Albrecht et al., https://github.com/malb/lattice-estimator) for 128 bits
// with binary keys: slope = -0.025696778711484593, bias = 2.675931372549016, valid for n >= 450
// (zama-ai/concrete "security curves"; the most conservative of the fits Concrete has published,
// so it bounds the others from above for every n >= 450).
//
// Every parameter set that keys are generated for, that objects are loaded with, or that the
// compiler chooses passes require_128_bit_security (PbsParameters::validate() calls it), so no
// key or ciphertext of TorusML is ever made under insecure parameters. The only exception is a
// ScopedInsecureParametersForTesting object alive in the process (byte-level tests that need keys
// of a few KiB); production code never creates one.
#pragma once

#include <string_view>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// Minimal noise standard deviation, log2 in torus units, for 128-bit security at dimension n.
/// Returns +infinity for n < 450 (no dimension below 450 is accepted).
double minimal_secure_log2_std(LweDimension n);

/// Bits of margin: log2(std of d) - minimal_secure_log2_std(n) (>= 0 means secure).
double security_margin_log2(LweDimension n, const NoiseDistribution& d);

/// Whether both keys of `p` are 128-bit secure (small key with lwe_noise; big key k*N with
/// glwe_noise; for the Drift kinds also the small key with ms_noise_reduction.zeros_noise).
bool is_128_bit_secure(const PbsParameters& p);

/// Throws InsecureParameters unless an LWE key of dimension n with noise d is 128-bit secure:
/// n >= 450 and log2(std(d)) >= minimal_secure_log2_std(n). The message names `field`, the
/// dimension, the noise and the minimum.
void require_128_bit_security(LweDimension n, const NoiseDistribution& d, std::string_view field);

/// Both keys of `p`: the small key (n, lwe_noise) and the big key (k*N, glwe_noise); for the
/// Drift kinds also the small key's encryptions of zero (n, ms_noise_reduction.zeros_noise).
void require_128_bit_security(const PbsParameters& p);

/// While an object of this type is alive, require_128_bit_security accepts insecure parameters
/// (process-wide). For tests only: byte-level serialization tests whose keys must stay tiny.
class ScopedInsecureParametersForTesting {
 public:
  ScopedInsecureParametersForTesting();
  ~ScopedInsecureParametersForTesting();
  ScopedInsecureParametersForTesting(const ScopedInsecureParametersForTesting&) = delete;
  ScopedInsecureParametersForTesting& operator=(const ScopedInsecureParametersForTesting&) = delete;
};

}  // namespace torusml::tfhe
