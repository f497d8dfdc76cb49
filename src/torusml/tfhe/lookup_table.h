// Lookup tables for programmable bootstrapping: the accumulator polynomial v of the blind rotation
// (TFHE, JoC 2020, Sec. 4.2; Chillotti et al., "Programmable Bootstrapping Enables Efficient
// Homomorphic Inference of Deep Neural Networks", CSCML 2021).
//
// With p-bit inputs and one bit of padding, the 2N rotation positions split into boxes of
// N / 2^p positions, box m centred on m * N / 2^p. After rotation by X^(-phase) the constant
// coefficient is v_phase (phase < N) or -v_(phase-N), so v holds f(m) on box m, and -f(0) on the
// half box that wraps below 0. Inputs with the padding bit set give -f(m - 2^p) (negacyclicity).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

struct LookupTable {
  unsigned input_bits = 0;         // p
  std::vector<Torus> accumulator;  // v, N coefficients
  PolynomialSize polynomial_size() const { return PolynomialSize(accumulator.size()); }
};

/// A table mapping input m in [0, 2^input_bits) to the torus value outputs[m] (already encoded).
/// Throws InvalidArgument if outputs.size() != 2^input_bits or N < 2^(input_bits+1).
LookupTable make_lookup_table(PolynomialSize n, unsigned input_bits,
                              std::span<const Torus> outputs);

/// A table for f on p-bit messages, output encoded as p-bit messages (f's results are taken
/// mod 2^p, so negative results are two's complement).
LookupTable make_lookup_table(const PbsParameters& params,
                              const std::function<std::int64_t(std::uint64_t)>& f);

/// The identity table (a plain noise-resetting bootstrap).
LookupTable make_identity_table(const PbsParameters& params);

}  // namespace torusml::tfhe
