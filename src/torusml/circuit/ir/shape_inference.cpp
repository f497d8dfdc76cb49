#include "torusml/circuit/ir/shape_inference.h"

#include <algorithm>
#include <sstream>
#include <string>

#include "torusml/circuit/ir/messages.h"
#include "torusml/common/error.h"

namespace torusml::circuit::detail {

namespace {

std::string shape_str(const Shape& s) {
  return shape_to_string(s);
}

std::int64_t add_or_throw(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) fail(what, "an extent overflows int64 (", a, " + ", b, ")");
  return r;
}

std::int64_t mul_or_throw(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail(what, "an extent overflows int64 (", a, " * ", b, ")");
  return r;
}

// element_count(shape), with `what` prefixed to its error.
std::int64_t count_of(const Shape& shape, std::string_view what) {
  try {
    return element_count(shape);
  } catch (const InvalidArgument& e) {
    fail(what, e.what());
  }
}

template <class A>
const A& attributes_as(OpKind op, const Attributes& attributes, const char* type,
                       std::string_view what) {
  const A* a = std::get_if<A>(&attributes);
  if (a == nullptr) fail(what, "a ", to_string(op), " node needs ", type, " attributes");
  return *a;
}

void require_no_attributes(OpKind op, const Attributes& attributes, std::string_view what) {
  if (!std::holds_alternative<std::monostate>(attributes)) {
    fail(what, "a ", to_string(op), " node takes no attributes");
  }
}

void require_arity(OpKind op, std::size_t count, std::size_t min, std::size_t max,
                   std::string_view what) {
  if (count < min || count > max) {
    if (min == max)
      fail(what, "a ", to_string(op), " node takes ", min, " operand(s), got ", count);
    fail(what, "a ", to_string(op), " node takes ", min, " to ", max, " operands, got ", count);
  }
}

Shape matmul_shape(const Shape& a, const Shape& b, std::string_view what) {
  if (a.empty() || b.empty()) {
    fail(what, "operands must have at least one axis, got shapes ", shape_str(a), " and ",
         shape_str(b), "; use multiplication (*) for scalars");
  }
  // numpy promotes a 1-D left operand to a row (1, n) and a 1-D right operand to a column (n, 1).
  const std::int64_t k_left = a.back();
  const std::int64_t k_right = b.size() >= 2 ? b[b.size() - 2] : b.back();
  if (k_left != k_right) {
    fail(what, "shapes ", shape_str(a), " and ", shape_str(b),
         " are not aligned: the last axis of the left operand (", k_left,
         ") must equal the second-to-last axis of the right operand (", k_right,
         "); transpose or reshape an operand");
  }
  const Shape batch_a(a.begin(), a.end() - std::min<std::ptrdiff_t>(2, std::ssize(a)));
  const Shape batch_b(b.begin(), b.end() - std::min<std::ptrdiff_t>(2, std::ssize(b)));
  Shape result;
  try {
    result = broadcast_shapes(batch_a, batch_b, what);
  } catch (const InvalidArgument&) {
    fail(what, "the batch (leading) axes of shapes ", shape_str(a), " and ", shape_str(b),
         " cannot be broadcast together; make them equal or 1");
  }
  if (a.size() >= 2) result.push_back(a[a.size() - 2]);
  if (b.size() >= 2) result.push_back(b.back());
  return result;
}

Shape sum_shape(const Shape& x, const SumAttr& attr, std::string_view what) {
  const auto rank = std::ssize(x);
  std::vector<bool> reduced(x.size(), attr.axes.empty());
  for (std::int64_t axis : attr.axes) {
    if (axis < 0 || axis >= rank) {
      fail(what, "axis ", axis, " is out of range for shape ", shape_str(x),
           " (normalised axes in [0, ", rank, ") expected)");
    }
    if (reduced[static_cast<std::size_t>(axis)])
      fail(what, "axis ", axis, " is repeated in ", list_str(attr.axes));
    reduced[static_cast<std::size_t>(axis)] = true;
  }
  Shape result;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i]) {
      result.push_back(x[i]);
    } else if (attr.keepdims) {
      result.push_back(1);
    }
  }
  return result;
}

Shape transpose_shape(const Shape& x, const TransposeAttr& attr, std::string_view what) {
  if (attr.perm.size() != x.size()) {
    fail(what, "permutation ", list_str(attr.perm), " has ", attr.perm.size(),
         " entries but the operand has shape ", shape_str(x), "; give one entry per axis");
  }
  std::vector<bool> seen(x.size(), false);
  Shape result;
  for (std::int64_t axis : attr.perm) {
    if (axis < 0 || axis >= std::ssize(x) || seen[static_cast<std::size_t>(axis)]) {
      fail(what, list_str(attr.perm), " is not a permutation of the axes of shape ", shape_str(x));
    }
    seen[static_cast<std::size_t>(axis)] = true;
    result.push_back(x[static_cast<std::size_t>(axis)]);
  }
  return result;
}

Shape broadcast_to_shape(const Shape& x, const BroadcastAttr& attr, std::string_view what) {
  count_of(attr.shape, what);
  bool ok = attr.shape.size() >= x.size();
  for (std::size_t i = 0; ok && i < x.size(); ++i) {
    const std::int64_t from = x[x.size() - 1 - i];
    ok = from == 1 || from == attr.shape[attr.shape.size() - 1 - i];
  }
  if (!ok) {
    fail(what, "shape ", shape_str(x), " cannot be broadcast to ", shape_str(attr.shape),
         " (each trailing extent must be equal or 1)");
  }
  return attr.shape;
}

Shape concatenate_shape(std::span<const Shape* const> inputs, const ConcatAttr& attr,
                        std::string_view what) {
  const Shape& first = *inputs.front();
  if (first.empty()) fail(what, "scalars cannot be concatenated; reshape them to (1,) first");
  if (attr.axis < 0 || attr.axis >= std::ssize(first)) {
    fail(what, "axis ", attr.axis, " is out of range for shape ", shape_str(first));
  }
  const auto axis = static_cast<std::size_t>(attr.axis);
  Shape result = first;
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    const Shape& s = *inputs[i];
    bool ok = s.size() == first.size();
    for (std::size_t d = 0; ok && d < s.size(); ++d) ok = d == axis || s[d] == first[d];
    if (!ok) {
      fail(what, "operand ", i, " has shape ", shape_str(s), " but operand 0 has shape ",
           shape_str(first), "; all extents but axis ", attr.axis, " must match");
    }
    result[axis] = add_or_throw(result[axis], s[axis], what);
  }
  return result;
}

Shape slice_shape(const Shape& x, const SliceAttr& attr, std::string_view what) {
  if (attr.starts.size() != x.size() || attr.stops.size() != x.size() ||
      attr.steps.size() != x.size()) {
    fail(what, "normalised slices need one start, stop and step per axis of shape ", shape_str(x),
         ", got ", attr.starts.size(), ", ", attr.stops.size(), " and ", attr.steps.size());
  }
  Shape result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::int64_t start = attr.starts[i], stop = attr.stops[i], step = attr.steps[i];
    // Normalised as Python's slice.indices(): in [0, n] for a positive step, [-1, n - 1] else.
    const std::int64_t low = step > 0 ? 0 : -1;
    const std::int64_t high = step > 0 ? x[i] : x[i] - 1;
    if (step == 0 || start < low || start > high || stop < low || stop > high) {
      fail(what, "slice ", start, ":", stop, ":", step, " of axis ", i, " (extent ", x[i],
           ") is not normalised; the step must be non-zero and start/stop in [", low, ", ", high,
           "]");
    }
    result[i] = slice_extent(start, stop, step);
  }
  return result;
}

Shape take_shape(const Shape& x, const TakeAttr& attr, std::string_view what) {
  if (attr.axis < 0 || attr.axis >= std::ssize(x)) {
    fail(what, "axis ", attr.axis, " is out of range for shape ", shape_str(x));
  }
  const auto axis = static_cast<std::size_t>(attr.axis);
  for (std::int64_t index : attr.indices) {
    if (index < 0 || index >= x[axis]) {
      fail(what, "index ", index, " is out of range for axis ", attr.axis, " of shape ",
           shape_str(x), " (normalised indices in [0, ", x[axis], ") expected)");
    }
  }
  Shape result = x;
  result[axis] = std::ssize(attr.indices);
  return result;
}

Shape pad_shape(const Shape& x, const PadAttr& attr, std::string_view what) {
  if (attr.before.size() != x.size() || attr.after.size() != x.size()) {
    fail(what, "padding ", list_str(attr.before), " / ", list_str(attr.after),
         " needs one entry per axis of shape ", shape_str(x));
  }
  Shape result = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (attr.before[i] < 0 || attr.after[i] < 0) {
      fail(what, "padding ", list_str(attr.before), " / ", list_str(attr.after),
           " has a negative entry; use slice() to crop");
    }
    result[i] = add_or_throw(add_or_throw(x[i], attr.before[i], what), attr.after[i], what);
  }
  return result;
}

Shape table_shape(const Shape& x, const TableAttr& attr, std::string_view what) {
  if (attr.tables.empty()) fail(what, "a table lookup needs at least one table");
  for (std::size_t t = 0; t < attr.tables.size(); ++t) {
    if (!attr.tables[t].fn)
      fail(what, "table ", t, " ('", attr.tables[t].name, "') has no function");
  }
  if (!attr.element_table.empty()) {
    const std::int64_t count = count_of(x, what);
    if (std::ssize(attr.element_table) != count) {
      fail(what, "element_table has ", attr.element_table.size(), " entries but shape ",
           shape_str(x), " has ", count, " elements; give one table index per element");
    }
    for (std::int32_t index : attr.element_table) {
      if (index < 0 || static_cast<std::size_t>(index) >= attr.tables.size()) {
        fail(what, "element_table entry ", index, " is not a valid index into ", attr.tables.size(),
             " table(s)");
      }
    }
  }
  return x;
}

Shape round_shape(const Shape& x, const RoundAttr& attr, std::string_view what) {
  if (attr.lsbs_to_remove < 0 || attr.lsbs_to_remove > 62) {
    fail(what, "lsbs_to_remove = ", attr.lsbs_to_remove, " must be in [0, 62]");
  }
  if (attr.mode != RoundingMode::Exact && attr.mode != RoundingMode::Approximate) {
    fail(what, "unknown rounding mode ", static_cast<int>(attr.mode));
  }
  return x;
}

void check_window_attributes(const std::vector<std::int64_t>& kernel,
                             const std::vector<std::int64_t>& strides,
                             const std::vector<std::int64_t>& pads,
                             const std::vector<std::int64_t>& dilations, std::string_view what) {
  if (kernel.size() != 2 || strides.size() != 2 || pads.size() != 4 || dilations.size() != 2) {
    fail(what, "expects 2 kernel extents, 2 strides, 4 pads (top, left, bottom, right) and 2 ",
         "dilations, got ", kernel.size(), ", ", strides.size(), ", ", pads.size(), " and ",
         dilations.size());
  }
  for (std::size_t i = 0; i < 2; ++i) {
    if (kernel[i] < 1) fail(what, "kernel extents ", list_str(kernel), " must be >= 1");
    if (strides[i] < 1) fail(what, "strides ", list_str(strides), " must be >= 1");
    if (dilations[i] < 1) fail(what, "dilations ", list_str(dilations), " must be >= 1");
  }
  for (std::int64_t p : pads) {
    if (p < 0) fail(what, "pads ", list_str(pads), " must be >= 0");
  }
}

Shape conv2d_shape(std::span<const Shape* const> inputs, const Conv2dAttr& attr,
                   std::string_view what) {
  const Shape& x = *inputs[0];
  const Shape& w = *inputs[1];
  if (x.size() != 4) fail(what, "the input must be NCHW (4-D), got shape ", shape_str(x));
  if (w.size() != 4) fail(what, "the weights must be OIHW (4-D), got shape ", shape_str(w));
  if (attr.groups < 1) fail(what, "groups = ", attr.groups, " must be >= 1");
  check_window_attributes({w[2], w[3]}, attr.strides, attr.pads, attr.dilations, what);
  if (x[1] % attr.groups != 0 || w[0] % attr.groups != 0 ||
      mul_or_throw(w[1], attr.groups, what) != x[1]) {
    fail(what, "input shape ", shape_str(x), " and weight shape ", shape_str(w),
         " do not match with groups = ", attr.groups,
         ": the input channels must equal weights.shape[1] * groups and the output channels "
         "(weights.shape[0]) must be a multiple of groups");
  }
  if (inputs.size() == 3 && (inputs[2]->size() != 1 || (*inputs[2])[0] != w[0])) {
    fail(what, "the bias must have shape (", w[0], ",) (one value per output channel), got ",
         shape_str(*inputs[2]));
  }
  return {x[0], w[0],
          window_output_extent(x[2], w[2], attr.strides[0], attr.pads[0], attr.pads[2],
                               attr.dilations[0], what),
          window_output_extent(x[3], w[3], attr.strides[1], attr.pads[1], attr.pads[3],
                               attr.dilations[1], what)};
}

Shape pool_shape(const Shape& x, const Pool2dAttr& attr, std::string_view what) {
  if (x.size() != 4) fail(what, "the input must be NCHW (4-D), got shape ", shape_str(x));
  check_window_attributes(attr.kernel, attr.strides, attr.pads, {1, 1}, what);
  return {x[0], x[1],
          window_output_extent(x[2], attr.kernel[0], attr.strides[0], attr.pads[0], attr.pads[2], 1,
                               what),
          window_output_extent(x[3], attr.kernel[1], attr.strides[1], attr.pads[1], attr.pads[3], 1,
                               what)};
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view what) {
  Shape result(std::max(a.size(), b.size()));
  for (std::size_t i = 0; i < result.size(); ++i) {
    const std::int64_t ea = i < a.size() ? a[a.size() - 1 - i] : 1;
    const std::int64_t eb = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (ea != eb && ea != 1 && eb != 1) {
      fail(what, "shapes ", shape_str(a), " and ", shape_str(b),
           " cannot be broadcast together (axis -", i + 1, ": ", ea, " vs ", eb,
           "); extents must be equal or 1, reshape an operand or use broadcast_to");
    }
    result[result.size() - 1 - i] = ea == 1 ? eb : ea;
  }
  return result;
}

std::int64_t slice_extent(std::int64_t start, std::int64_t stop, std::int64_t step) {
  if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / -step : 0;
}

std::int64_t window_output_extent(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                                  std::int64_t pad_begin, std::int64_t pad_end,
                                  std::int64_t dilation, std::string_view what) {
  const std::int64_t padded = add_or_throw(add_or_throw(input, pad_begin, what), pad_end, what);
  const std::int64_t span = add_or_throw(mul_or_throw(dilation, kernel - 1, what), 1, what);
  if (padded < span) {
    fail(what, "the window (extent ", span, " with dilation) is larger than the padded input (",
         padded, "); use a smaller kernel or more padding");
  }
  return (padded - span) / stride + 1;
}

Shape infer_shape(OpKind op, std::span<const Shape* const> inputs, const Attributes& attributes,
                  std::string_view what) {
  switch (op) {
    case OpKind::Input:
      fail(what, "input nodes have no inferred shape");
    case OpKind::Constant:
      require_arity(op, inputs.size(), 0, 0, what);
      return attributes_as<ConstantAttr>(op, attributes, "ConstantAttr", what).value.shape();
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
      require_arity(op, inputs.size(), 2, 2, what);
      require_no_attributes(op, attributes, what);
      return broadcast_shapes(*inputs[0], *inputs[1], what);
    case OpKind::Neg:
      require_arity(op, inputs.size(), 1, 1, what);
      require_no_attributes(op, attributes, what);
      return *inputs[0];
    case OpKind::MatMul:
      require_arity(op, inputs.size(), 2, 2, what);
      require_no_attributes(op, attributes, what);
      return matmul_shape(*inputs[0], *inputs[1], what);
    case OpKind::Sum:
      require_arity(op, inputs.size(), 1, 1, what);
      return sum_shape(*inputs[0], attributes_as<SumAttr>(op, attributes, "SumAttr", what), what);
    case OpKind::Reshape: {
      require_arity(op, inputs.size(), 1, 1, what);
      const auto& attr = attributes_as<ReshapeAttr>(op, attributes, "ReshapeAttr", what);
      if (count_of(attr.shape, what) != count_of(*inputs[0], what)) {
        fail(what, "cannot reshape ", shape_str(*inputs[0]), " to ", shape_str(attr.shape),
             ": the element counts differ");
      }
      return attr.shape;
    }
    case OpKind::Transpose:
      require_arity(op, inputs.size(), 1, 1, what);
      return transpose_shape(
          *inputs[0], attributes_as<TransposeAttr>(op, attributes, "TransposeAttr", what), what);
    case OpKind::BroadcastTo:
      require_arity(op, inputs.size(), 1, 1, what);
      return broadcast_to_shape(
          *inputs[0], attributes_as<BroadcastAttr>(op, attributes, "BroadcastAttr", what), what);
    case OpKind::Concatenate:
      require_arity(op, inputs.size(), 1, SIZE_MAX, what);
      return concatenate_shape(inputs,
                               attributes_as<ConcatAttr>(op, attributes, "ConcatAttr", what), what);
    case OpKind::Slice:
      require_arity(op, inputs.size(), 1, 1, what);
      return slice_shape(*inputs[0], attributes_as<SliceAttr>(op, attributes, "SliceAttr", what),
                         what);
    case OpKind::Take:
      require_arity(op, inputs.size(), 1, 1, what);
      return take_shape(*inputs[0], attributes_as<TakeAttr>(op, attributes, "TakeAttr", what),
                        what);
    case OpKind::Pad:
      require_arity(op, inputs.size(), 1, 1, what);
      return pad_shape(*inputs[0], attributes_as<PadAttr>(op, attributes, "PadAttr", what), what);
    case OpKind::TableLookup:
      require_arity(op, inputs.size(), 1, 1, what);
      return table_shape(*inputs[0], attributes_as<TableAttr>(op, attributes, "TableAttr", what),
                         what);
    case OpKind::Round:
      require_arity(op, inputs.size(), 1, 1, what);
      return round_shape(*inputs[0], attributes_as<RoundAttr>(op, attributes, "RoundAttr", what),
                         what);
    case OpKind::Conv2d:
      require_arity(op, inputs.size(), 2, 3, what);
      return conv2d_shape(inputs, attributes_as<Conv2dAttr>(op, attributes, "Conv2dAttr", what),
                          what);
    case OpKind::SumPool2d:
      require_arity(op, inputs.size(), 1, 1, what);
      return pool_shape(*inputs[0], attributes_as<Pool2dAttr>(op, attributes, "Pool2dAttr", what),
                        what);
  }
  fail(what, "unknown operation kind ", static_cast<int>(op));
}

bool infer_encrypted(OpKind op, std::size_t encrypted_operands, std::string_view what) {
  if (op == OpKind::Constant) return false;
  if (encrypted_operands > 1 &&
      (op == OpKind::Mul || op == OpKind::MatMul || op == OpKind::Conv2d)) {
    fail(what, "both operands are encrypted, but a ", to_string(op),
         " node takes at most one encrypted operand (clear weights); multiply encrypted values "
         "elementwise with multiply(), which uses table lookups");
  }
  return encrypted_operands > 0;
}

}  // namespace torusml::circuit::detail
