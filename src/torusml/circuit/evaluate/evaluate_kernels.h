// Clear int64 kernels of the primitive operations (internal to the circuit layer).
//
// Every kernel takes operands whose shapes have already been checked against the node (see
// evaluate_node) and the node's result shape; on an int64 overflow it throws InvalidArgument
// naming `label`.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit::detail {

/// Throws InvalidArgument: "<label>: int64 overflow, the program's values exceed 64 bits ...".
[[noreturn]] void throw_overflow(std::string_view label);

/// Walks `shape` in row-major order over its last axis in rows: calls
/// row(offsets, count, inner_strides) once per row, where offsets[n] is the offset of the row's
/// first element in operand n (starting from `offsets` and moving by strides[n][axis] along each
/// axis), count the extent of the last axis and inner_strides[n] = strides[n].back(). A scalar
/// shape is one row of one element; a shape with a zero extent has no rows.
template <std::size_t N, class Row>
void for_each_row(const Shape& shape, const std::array<std::vector<std::int64_t>, N>& strides,
                  std::array<std::int64_t, N> offsets, Row&& row) {
  for (std::int64_t extent : shape) {
    if (extent == 0) return;
  }
  std::array<std::int64_t, N> inner{};
  if (shape.empty()) {
    row(offsets, std::int64_t{1}, inner);
    return;
  }
  const std::size_t last = shape.size() - 1;
  for (std::size_t n = 0; n < N; ++n) inner[n] = strides[n][last];
  std::vector<std::int64_t> counter(last, 0);
  while (true) {
    row(offsets, shape[last], inner);
    std::size_t axis = last;
    while (true) {
      if (axis == 0) return;
      --axis;
      for (std::size_t n = 0; n < N; ++n) offsets[n] += strides[n][axis];
      if (++counter[axis] < shape[axis]) break;
      for (std::size_t n = 0; n < N; ++n) offsets[n] -= strides[n][axis] * shape[axis];
      counter[axis] = 0;
    }
  }
}

/// Strides of a tensor of shape `from` read as a tensor of the (broadcast) shape `to`: aligned
/// to the right, 0 along broadcast axes.
std::vector<std::int64_t> broadcast_strides(const Shape& from, const Shape& to);

/// Add, Sub or Mul with numpy broadcasting.
Tensor eval_binary(OpKind op, const Tensor& a, const Tensor& b, const Shape& shape,
                   std::string_view label);
Tensor eval_matmul(const Tensor& a, const Tensor& b, const Shape& shape, std::string_view label);
Tensor eval_sum(const Tensor& x, const SumAttr& attr, const Shape& shape, std::string_view label);
Tensor eval_transpose(const Tensor& x, const TransposeAttr& attr, const Shape& shape);
Tensor eval_broadcast_to(const Tensor& x, const Shape& shape);
Tensor eval_concatenate(std::span<const Tensor* const> xs, const ConcatAttr& attr,
                        const Shape& shape);
Tensor eval_slice(const Tensor& x, const SliceAttr& attr, const Shape& shape);
Tensor eval_take(const Tensor& x, const TakeAttr& attr, const Shape& shape);
Tensor eval_pad(const Tensor& x, const PadAttr& attr, const Shape& shape);
/// bias may be null.
Tensor eval_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dAttr& attr,
                   const Shape& shape, std::string_view label);
Tensor eval_sum_pool2d(const Tensor& x, const Pool2dAttr& attr, const Shape& shape,
                       std::string_view label);

}  // namespace torusml::circuit::detail
