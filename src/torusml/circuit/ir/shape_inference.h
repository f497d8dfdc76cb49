// Shape and encryption inference of primitive operations (internal to the circuit layer).
//
// The Builder uses these functions to check every traced node, Program::validate() to re-check a
// whole program and evaluate_node() to check its operands. Every function throws InvalidArgument
// whose message starts with `what` (an operation name such as "matmul", or a node description)
// and says what is wrong and what to do.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit::detail {

/// numpy broadcasting of two shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view what);

/// Number of elements of range(start, stop, step) for a normalised slice (see SliceAttr).
std::int64_t slice_extent(std::int64_t start, std::int64_t stop, std::int64_t step);

/// floor((input + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride) + 1, the output
/// extent of a convolution or pooling axis; throws unless it is >= 1.
std::int64_t window_output_extent(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                                  std::int64_t pad_begin, std::int64_t pad_end,
                                  std::int64_t dilation, std::string_view what);

/// The result shape of a non-Input node `op` with operands of shapes `inputs` and `attributes`,
/// after checking the arity, the attributes' type and values and the operands' shapes.
Shape infer_shape(OpKind op, std::span<const Shape* const> inputs, const Attributes& attributes,
                  std::string_view what);

/// Whether the result of a non-Input node is encrypted: Constant nodes are clear, other nodes are
/// encrypted iff one of the `encrypted_operands` is. Mul, MatMul and Conv2d with two encrypted
/// operands throw.
bool infer_encrypted(OpKind op, std::size_t encrypted_operands, std::string_view what);

}  // namespace torusml::circuit::detail
