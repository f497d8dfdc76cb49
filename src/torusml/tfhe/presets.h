// Named KS-PBS parameter presets for message precisions of 1 to 8 bits.
//
// Every preset is 128-bit secure: its values are published TFHE-rs shortint parameter sets,
// whose authors checked them with the lattice estimator, and both of its keys also pass the
// security curve of security.h (tested). Each preset carries its failure probability per PBS as
// computed by this engine's noise model (noise_model.h) at its stated 2-norm; all are at most
// 2^-64, most far below. presets.cpp gives the source of each set.
#pragma once

#include <span>
#include <string_view>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe {

/// The preset for p-bit messages, p in [1, 8]. Throws InvalidArgument otherwise.
const PbsParameters& preset_for_bits(unsigned bits);

/// The preset named `name` ("tfhe_1bit" ... "tfhe_8bit"). Throws InvalidArgument if unknown.
const PbsParameters& preset_by_name(std::string_view name);

/// All presets, by increasing precision.
std::span<const PbsParameters> all_presets();

}  // namespace torusml::tfhe
