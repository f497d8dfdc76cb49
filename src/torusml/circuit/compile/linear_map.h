// Linear operations on encrypted tensors as explicit sparse maps.
//
// Every operation that is linear in its encrypted operands (data movement, add, subtract,
// negate, products with clear values, matmul, sums, convolutions, sum pooling) is compiled into
//   out[i] = sum_t coeff[t] * in_{slot[t]}[index[t]] + constant[i]
// (a CSR matrix over the node's encrypted inputs, plus a clear constant per output element), so
// the runtime needs a single kernel to evaluate all of them on ciphertexts. Clear operands are
// folded in when the map is built: at compile time for constants, at run time for clear inputs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit {

struct LinearMap {
  std::int64_t outputs = 0;
  std::vector<std::int64_t> row_start;  // outputs + 1 entries
  std::vector<std::int32_t> slot;       // which encrypted operand (position in node.inputs)
  std::vector<std::int64_t> index;      // element of that operand
  std::vector<std::int64_t> coeff;
  std::vector<std::int64_t> constant;  // per output element (empty: all zero)

  std::size_t terms() const { return coeff.size(); }
  /// Largest sum of squared coefficients of an output (the squared 2-norm the noise grows by).
  double max_norm2() const;
};

/// Whether `node` is linear in its encrypted operands (and so compiles to a LinearMap).
bool is_linear_op(const Node& node);

/// Builds the map of a linear node. `operands` holds every input's clear value for clear inputs
/// and nullptr for encrypted ones. Throws InternalError for a non-linear node.
LinearMap build_linear_map(const Program& program, const Node& node,
                           std::span<const Tensor* const> operands);

}  // namespace torusml::circuit
