// Modulus switching from q = 2^64 to 2N, the input of the blind rotation
// (TFHE, JoC 2020, Alg. 4, line 1).
//
// Each mask element becomes round(a_i * 2N / q). Both kinds also subtract half a step (q / 4N)
// from the body so that the rounding error is symmetric around the lookup table's boxes.
// ModulusSwitchKind::CenteredMean adds the key-independent mean sum_i e_i / 2 of the mask
// rounding errors e_i to the body first: with a binary key the residual error
// sum_i e_i (s_i - 1/2) has half the variance of sum_i e_i s_i (TFHE-rs 1.4's
// "CenteredMeanNoiseReduction"; the variance is in noise_model.h).
// The Drift kinds first add encryptions of zero that lower the expected error
// (modulus_switch_noise_reduction.h), then switch as Standard (Drift) or CenteredMean
// (DriftCenteredMean).
#pragma once

#include <cstdint>
#include <span>

#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// Writes the n + 1 switched values (mask then body), each in [0, 2N), into out. Standard and
/// CenteredMean only: throws InvalidArgument for the Drift kinds, which need the server key's
/// encryptions of zero (the overload below).
void modulus_switch(LweView in, PolynomialSize n, ModulusSwitchKind kind,
                    std::span<std::uint32_t> out);

/// The same for every kind: for the Drift kinds, `in` is first improved (on a copy) with
/// `reduction` (the ServerKey's ms_noise_reduction_key; InvalidArgument if null or empty), which
/// the other kinds ignore.
void modulus_switch(LweView in, PolynomialSize n, ModulusSwitchKind kind,
                    const ModulusSwitchNoiseReductionKey* reduction, std::span<std::uint32_t> out);

}  // namespace torusml::tfhe
