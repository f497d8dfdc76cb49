// Composite operations expanded into primitive nodes: encrypted multiplication, ReLU, minimum,
// maximum, comparisons and average pooling.
#include <algorithm>
#include <map>
#include <string>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/frontend/builder_detail.h"
#include "torusml/circuit/ir/int_math.h"
#include "torusml/circuit/ir/messages.h"
#include "torusml/circuit/ir/shape_inference.h"

namespace torusml::circuit {

namespace {

using detail::fail;
using detail::make_node;
using detail::Operand;

// floor(v^2 / 4), the table of the quarter-square multiplication.
std::int64_t quarter_square(std::int64_t v) {
  std::int64_t result = 0;
  if (!detail::floor_quarter_square(v, &result)) {
    fail("multiply", "(x + y)^2 / 4 or (x - y)^2 / 4 exceeds 64 bits for x +/- y = ", v,
         "; the program's values are too large");
  }
  return result;
}

// table(x - y).
Value table_of_difference(const Operand& x, const Operand& y, Function f, const char* name) {
  Value d = make_node(OpKind::Sub, {x, y}, {}, name);
  return detail::table_lookup(d, {TableFunction{std::move(f), name}}, {}, name);
}

Value compare(const Operand& x, const Operand& y, bool (*predicate)(std::int64_t),
              const char* name) {
  return table_of_difference(
      x, y, [predicate](std::int64_t v) -> std::int64_t { return predicate(v) ? 1 : 0; }, name);
}

}  // namespace

Value multiply(Value x, Value y) {
  Builder& b = detail::common_builder({x, y}, "multiply");
  if (!b.node(x.id()).encrypted || !b.node(y.id()).encrypted) {
    return make_node(OpKind::Mul, {x, y}, {}, "multiply");
  }
  // x * y = ((x + y)^2 - (x - y)^2) / 4 exactly; x + y and x - y have the same parity, so the
  // floors of both quarter squares drop the same fraction (0 or 1/4).
  detail::broadcast_shapes(x.shape(), y.shape(), "multiply");
  Value sum_xy = make_node(OpKind::Add, {x, y}, {}, "multiply");
  Value diff_xy = make_node(OpKind::Sub, {x, y}, {}, "multiply");
  const TableFunction square{quarter_square, "quarter_square"};
  Value plus = detail::table_lookup(sum_xy, {square}, {}, "multiply");
  Value minus = detail::table_lookup(diff_xy, {square}, {}, "multiply");
  return make_node(OpKind::Sub, {plus, minus}, {}, "multiply");
}

Value relu(Value x) {
  return detail::table_lookup(
      x, {TableFunction{[](std::int64_t v) { return v > 0 ? v : 0; }, "relu"}}, {}, "relu");
}

Value maximum(Value x, Value y) {
  // max(x, y) = y + max(x - y, 0)
  Value t = table_of_difference(
      x, y, [](std::int64_t v) { return v > 0 ? v : std::int64_t{0}; }, "maximum");
  return make_node(OpKind::Add, {y, t}, {}, "maximum");
}

Value minimum(Value x, Value y) {
  // min(x, y) = y + min(x - y, 0)
  Value t = table_of_difference(
      x, y, [](std::int64_t v) { return v < 0 ? v : std::int64_t{0}; }, "minimum");
  return make_node(OpKind::Add, {y, t}, {}, "minimum");
}

Value less(Value x, Value y) {
  return compare(
      x, y, [](std::int64_t v) { return v < 0; }, "less");
}
Value less_equal(Value x, Value y) {
  return compare(
      x, y, [](std::int64_t v) { return v <= 0; }, "less_equal");
}
Value greater(Value x, Value y) {
  return compare(
      x, y, [](std::int64_t v) { return v > 0; }, "greater");
}
Value greater_equal(Value x, Value y) {
  return compare(
      x, y, [](std::int64_t v) { return v >= 0; }, "greater_equal");
}
Value equal(Value x, Value y) {
  return compare(
      x, y, [](std::int64_t v) { return v == 0; }, "equal");
}
Value not_equal(Value x, Value y) {
  return compare(
      x, y, [](std::int64_t v) { return v != 0; }, "not_equal");
}
Value less(Value x, const Tensor& y) {
  return compare(
      x, y, [](std::int64_t v) { return v < 0; }, "less");
}
Value less_equal(Value x, const Tensor& y) {
  return compare(
      x, y, [](std::int64_t v) { return v <= 0; }, "less_equal");
}
Value greater(Value x, const Tensor& y) {
  return compare(
      x, y, [](std::int64_t v) { return v > 0; }, "greater");
}
Value greater_equal(Value x, const Tensor& y) {
  return compare(
      x, y, [](std::int64_t v) { return v >= 0; }, "greater_equal");
}

Value avg_pool2d(Value x, Pool2dAttr attributes, bool count_include_pad) {
  Value sums = make_node(OpKind::SumPool2d, {x}, attributes, "avg_pool2d");
  const auto divide_by = [](std::int64_t divisor) {
    return TableFunction{[divisor](std::int64_t v) { return detail::round_divide(v, divisor); },
                         "avg_pool2d_div" + std::to_string(divisor)};
  };
  std::int64_t window = 0;
  if (__builtin_mul_overflow(attributes.kernel[0], attributes.kernel[1], &window)) {
    fail("avg_pool2d", "the window size ", attributes.kernel[0], " x ", attributes.kernel[1],
         " overflows int64");
  }
  if (count_include_pad) {
    return window == 1 ? sums : detail::table_lookup(sums, {divide_by(window)}, {}, "avg_pool2d");
  }
  // ONNX count_include_pad = 0: each window's divisor counts its positions inside the input.
  const Shape& in = x.shape();
  const Shape& out = sums.shape();
  const auto inside = [&](std::size_t axis, std::int64_t o) {
    const std::int64_t begin = o * attributes.strides[axis] - attributes.pads[axis];
    const std::int64_t end = begin + attributes.kernel[axis];
    const std::int64_t count = std::min(end, in[axis + 2]) - std::max(begin, std::int64_t{0});
    return count > 0 ? count : std::int64_t{1};  // a window inside the padding sums to 0
  };
  std::vector<TableFunction> tables;
  std::map<std::int64_t, std::int32_t> table_of_divisor;
  std::vector<std::int32_t> plane;
  for (std::int64_t oh = 0; oh < out[2]; ++oh) {
    for (std::int64_t ow = 0; ow < out[3]; ++ow) {
      const std::int64_t divisor = inside(0, oh) * inside(1, ow);
      auto [it, added] =
          table_of_divisor.emplace(divisor, static_cast<std::int32_t>(tables.size()));
      if (added) tables.push_back(divide_by(divisor));
      plane.push_back(it->second);
    }
  }
  if (tables.size() == 1) return detail::table_lookup(sums, std::move(tables), {}, "avg_pool2d");
  std::vector<std::int32_t> element_table;
  element_table.reserve(static_cast<std::size_t>(element_count(out)));
  for (std::int64_t i = 0; i < out[0] * out[1]; ++i) {
    element_table.insert(element_table.end(), plane.begin(), plane.end());
  }
  return detail::table_lookup(sums, std::move(tables), std::move(element_table), "avg_pool2d");
}

}  // namespace torusml::circuit
