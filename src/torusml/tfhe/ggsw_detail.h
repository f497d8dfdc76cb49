// Internal pieces of the external product shared with the multi-bit blind rotation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "torusml/tfhe/parameters.h"

namespace torusml::tfhe::detail {

/// Signed gadget decomposition (base 2^beta, `levels` levels) of the `count` values
/// v[x] = (negate_src ? -src[x] : src[x]) - sub[x] (sub may be null: 0) into digit planes:
/// digits[j * stride + x] is digit j of value x, j = 0 the most significant. The arithmetic of
/// decompose_torus (decomposition.h), branch-free and vectorized.
void decompose_difference(const Torus* src, const Torus* sub, std::size_t count, bool negate_src,
                          unsigned beta, unsigned levels, std::int64_t* digits, std::size_t stride);

}  // namespace torusml::tfhe::detail
