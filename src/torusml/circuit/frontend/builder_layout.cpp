// Data movement: reshape, transpose, broadcast_to, concatenate, slice, take and pad.
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/frontend/builder_detail.h"
#include "torusml/circuit/ir/messages.h"

namespace torusml::circuit {

namespace {

using detail::fail;
using detail::make_node;

// Python's slice(start, stop, step).indices(extent) for one axis: start and stop clamped to
// [0, extent] for a positive step and to [-1, extent - 1] for a negative one.
void normalize_slice(std::int64_t extent, std::int64_t& start, std::int64_t& stop,
                     std::int64_t step) {
  const std::int64_t low = step > 0 ? 0 : -1;
  const std::int64_t high = step > 0 ? extent : extent - 1;
  for (std::int64_t* bound : {&start, &stop}) {
    if (*bound < 0) {
      *bound += extent;  // cannot overflow: *bound < 0 <= extent
      if (*bound < low) *bound = low;
    } else if (*bound > high) {
      *bound = high;
    }
  }
}

}  // namespace

Value reshape(Value x, Shape shape) {
  const Shape& from = detail::builder_of(x, "reshape").node(x.id()).shape;
  std::size_t inferred = shape.size();
  std::int64_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && inferred == shape.size()) {
      inferred = i;
    } else if (shape[i] < 0) {
      fail("reshape", "target shape ", shape_to_string(shape),
           " is invalid: extents must be >= 0, with at most one -1 (inferred)");
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      fail("reshape", "target shape ", shape_to_string(shape), " has too many elements");
    }
  }
  if (inferred != shape.size()) {
    const std::int64_t count = element_count(from);
    if (known == 0 || count % known != 0) {
      fail("reshape", "cannot reshape ", shape_to_string(from), " (", count, " elements) to ",
           shape_to_string(shape), ": the -1 extent cannot be inferred");
    }
    shape[inferred] = count / known;
  }
  return make_node(OpKind::Reshape, {x}, ReshapeAttr{std::move(shape)}, "reshape");
}

Value transpose(Value x, std::vector<std::int64_t> perm) {
  const std::size_t rank = detail::builder_of(x, "transpose").node(x.id()).shape.size();
  if (perm.empty()) {
    for (std::size_t i = rank; i > 0; --i) perm.push_back(static_cast<std::int64_t>(i - 1));
  } else if (perm.size() == rank) {
    for (std::int64_t& axis : perm) axis = detail::normalize_axis(axis, rank, "transpose");
  }
  return make_node(OpKind::Transpose, {x}, TransposeAttr{std::move(perm)}, "transpose");
}

Value broadcast_to(Value x, Shape shape) {
  return make_node(OpKind::BroadcastTo, {x}, BroadcastAttr{std::move(shape)}, "broadcast_to");
}

Value concatenate(std::span<const Value> xs, std::int64_t axis) {
  if (xs.empty()) fail("concatenate", "needs at least one operand");
  const std::size_t rank = detail::builder_of(xs[0], "concatenate").node(xs[0].id()).shape.size();
  if (rank == 0) fail("concatenate", "scalars cannot be concatenated; reshape them to (1,) first");
  axis = detail::normalize_axis(axis, rank, "concatenate");
  std::vector<detail::Operand> operands(xs.begin(), xs.end());
  return make_node(OpKind::Concatenate, operands, ConcatAttr{axis}, "concatenate");
}

Value slice(Value x, std::vector<std::int64_t> starts, std::vector<std::int64_t> stops,
            std::vector<std::int64_t> steps) {
  const Shape& shape = detail::builder_of(x, "slice").node(x.id()).shape;
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != stops.size() || steps.size() != starts.size() ||
      starts.size() > shape.size()) {
    fail("slice", "got ", starts.size(), " starts, ", stops.size(), " stops and ", steps.size(),
         " steps for shape ", shape_to_string(shape),
         "; give the same number of each, at most one per axis (missing axes are taken whole)");
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i >= starts.size()) {
      starts.push_back(0);
      stops.push_back(shape[i]);
      steps.push_back(1);
    } else if (steps[i] == 0) {
      fail("slice", "step 0 on axis ", i, " (steps ", detail::list_str(steps),
           "); steps must be non-zero");
    } else {
      normalize_slice(shape[i], starts[i], stops[i], steps[i]);
    }
  }
  return make_node(OpKind::Slice, {x},
                   SliceAttr{std::move(starts), std::move(stops), std::move(steps)}, "slice");
}

Value take(Value x, std::vector<std::int64_t> indices, std::int64_t axis) {
  const Shape& shape = detail::builder_of(x, "take").node(x.id()).shape;
  if (shape.empty()) fail("take", "cannot take from a scalar; reshape it to (1,) first");
  axis = detail::normalize_axis(axis, shape.size(), "take");
  const std::int64_t extent = shape[static_cast<std::size_t>(axis)];
  for (std::int64_t& index : indices) {
    if (index < -extent || index >= extent) {
      fail("take", "index ", index, " is out of range for axis ", axis, " of shape ",
           shape_to_string(shape), " (indices must be in [", -extent, ", ", extent, "))");
    }
    if (index < 0) index += extent;
  }
  return make_node(OpKind::Take, {x}, TakeAttr{axis, std::move(indices)}, "take");
}

Value pad(Value x, std::vector<std::int64_t> before, std::vector<std::int64_t> after,
          std::int64_t value) {
  return make_node(OpKind::Pad, {x}, PadAttr{std::move(before), std::move(after), value}, "pad");
}

}  // namespace torusml::circuit
