// Shape and data-movement operators (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat,
// Slice, Gather, Pad, Expand, Shape, ConstantOfShape, Range, Constant, OneHot) and the reductions
// ReduceSum and ReduceMean, on the normalized nodes of graph.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "torusml/onnx/ops.h"

namespace torusml::onnx::detail {

namespace {

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

std::vector<FloatTensor> eval_reshape(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::vector<std::int64_t> spec = ctx.node.ints_attribute("shape");
  const bool allow_zero = ctx.node.int_attribute("allowzero", 0) != 0;
  Shape shape(spec.size());
  std::int64_t known = 1;
  std::size_t infer = spec.size();
  for (std::size_t i = 0; i < spec.size(); ++i) {
    std::int64_t d = spec[i];
    if (d == 0 && !allow_zero) {
      if (i >= x.rank())
        ctx.fail("shape entry 0 at position " + std::to_string(i) +
                 " copies a dimension the input does not have");
      d = x.dim(i);
    }
    if (d == -1) {
      if (infer != spec.size()) ctx.fail("its target shape has more than one -1");
      infer = i;
      continue;
    }
    if (d < 0) ctx.fail("its target shape has the invalid entry " + std::to_string(d));
    shape[i] = d;
    if (d != 0 && known > (std::int64_t{1} << 62) / d) ctx.fail("its target shape is too large");
    known *= d;
  }
  const auto total = static_cast<std::int64_t>(x.size());
  if (infer != spec.size()) {
    if (known == 0 || total % known != 0)
      ctx.fail("cannot reshape " + shape_to_string(x.shape()) + " to " + shape_to_string(spec));
    shape[infer] = total / known;
  } else if (known != total) {
    ctx.fail("cannot reshape " + shape_to_string(x.shape()) + " (" + std::to_string(total) +
             " elements) to " + shape_to_string(shape));
  }
  return {x.reshaped(shape)};
}

std::vector<FloatTensor> eval_flatten(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::int64_t axis_attr = ctx.node.int_attribute("axis", 1);
  const auto r = static_cast<std::int64_t>(x.rank());
  if (axis_attr < -r || axis_attr > r)
    ctx.fail("axis " + std::to_string(axis_attr) + " is out of range for rank " +
             std::to_string(r));
  const std::size_t axis = sz(axis_attr < 0 ? axis_attr + r : axis_attr);
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < x.rank(); ++d) (d < axis ? outer : inner) *= x.dim(d);
  return {x.reshaped({outer, inner})};
}

std::vector<FloatTensor> eval_squeeze(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  std::vector<bool> drop(x.rank(), false);
  if (ctx.node.has_attribute("axes")) {
    for (const std::int64_t a : ctx.node.ints_attribute("axes")) {
      const std::size_t d = normalize_axis(ctx, a, x.rank());
      if (x.dim(d) != 1)
        ctx.fail("cannot squeeze axis " + std::to_string(a) + " of size " +
                 std::to_string(x.dim(d)));
      drop[d] = true;
    }
  } else {
    for (std::size_t d = 0; d < x.rank(); ++d) drop[d] = x.dim(d) == 1;
  }
  Shape shape;
  for (std::size_t d = 0; d < x.rank(); ++d)
    if (!drop[d]) shape.push_back(x.dim(d));
  return {x.reshaped(shape)};
}

std::vector<FloatTensor> eval_unsqueeze(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::vector<std::int64_t> axes = ctx.node.ints_attribute("axes");
  const std::size_t rank = x.rank() + axes.size();
  std::vector<bool> inserted(rank, false);
  for (const std::int64_t a : axes) {
    const std::size_t d = normalize_axis(ctx, a, rank);
    if (inserted[d]) ctx.fail("axis " + std::to_string(a) + " is repeated");
    inserted[d] = true;
  }
  Shape shape;
  std::size_t src = 0;
  for (std::size_t d = 0; d < rank; ++d) shape.push_back(inserted[d] ? 1 : x.dim(src++));
  return {x.reshaped(shape)};
}

std::vector<FloatTensor> eval_transpose(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::size_t rank = x.rank();
  std::vector<std::int64_t> perm(rank);
  for (std::size_t d = 0; d < rank; ++d) perm[d] = static_cast<std::int64_t>(rank - 1 - d);
  perm = ctx.node.ints_attribute("perm", perm);
  if (perm.size() != rank) ctx.fail("perm must have one entry per input dimension");
  std::vector<bool> seen(rank, false);
  Shape shape(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    if (perm[d] < 0 || sz(perm[d]) >= rank || seen[sz(perm[d])])
      ctx.fail("perm " + shape_to_string(perm) + " is not a permutation of the axes");
    seen[sz(perm[d])] = true;
    shape[d] = x.dim(sz(perm[d]));
  }
  FloatTensor y(shape);
  const std::vector<std::int64_t> xs = strides_of(x.shape());
  std::vector<std::int64_t> in_strides(rank);
  for (std::size_t d = 0; d < rank; ++d) in_strides[d] = xs[sz(perm[d])];
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t off = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    y[i] = x[sz(off)];
    for (std::size_t d = rank; d-- > 0;) {
      ++idx[d];
      off += in_strides[d];
      if (idx[d] < shape[d]) break;
      off -= in_strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_concat(const OpContext& ctx) {
  const FloatTensor& first = ctx.input(0);
  if (!ctx.node.has_attribute("axis")) ctx.fail("its attribute 'axis' is missing");
  const std::size_t axis = normalize_axis(ctx, ctx.node.int_attribute("axis", 0), first.rank());
  Shape shape = first.shape();
  shape[axis] = 0;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    const FloatTensor& t = ctx.input(i);
    if (t.rank() != first.rank()) ctx.fail("its inputs have different ranks");
    for (std::size_t d = 0; d < t.rank(); ++d)
      if (d != axis && t.dim(d) != first.dim(d))
        ctx.fail("input shapes " + shape_to_string(first.shape()) + " and " +
                 shape_to_string(t.shape()) + " differ outside axis " + std::to_string(axis));
    shape[axis] += t.dim(axis);
  }
  FloatTensor y = ctx.allocate(shape);
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  std::size_t pos = 0;
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::size_t i = 0; i < ctx.input_count(); ++i) {
      const FloatTensor& t = ctx.input(i);
      const std::int64_t chunk = t.dim(axis) * inner;
      std::copy_n(t.data().begin() + o * chunk, chunk,
                  y.data().begin() + static_cast<std::ptrdiff_t>(pos));
      pos += sz(chunk);
    }
  return {std::move(y)};
}

// Copies x into a tensor of shape `shape` where out index (i_0, ...) reads x at src(d, i_d) per
// dimension (or `fill` when src returns -1).
template <class Src>
FloatTensor gather_dims(const FloatTensor& x, const Shape& shape, Src src, double fill) {
  FloatTensor y(shape);
  const std::size_t rank = shape.size();
  const std::vector<std::int64_t> xs = strides_of(x.shape());
  std::vector<std::int64_t> idx(rank, 0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    std::int64_t off = 0;
    bool inside = true;
    for (std::size_t d = 0; d < rank && inside; ++d) {
      const std::int64_t s = src(d, idx[d]);
      if (s < 0) inside = false;
      off += s * xs[d];
    }
    y[i] = inside ? x[sz(off)] : fill;
    for (std::size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return y;
}

std::vector<FloatTensor> eval_slice(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::size_t rank = x.rank();
  const std::vector<std::int64_t> starts = ctx.node.ints_attribute("starts");
  const std::vector<std::int64_t> ends = ctx.node.ints_attribute("ends");
  std::vector<std::int64_t> axes(starts.size());
  std::iota(axes.begin(), axes.end(), 0);
  axes = ctx.node.ints_attribute("axes", axes);
  const std::vector<std::int64_t> steps =
      ctx.node.ints_attribute("steps", std::vector<std::int64_t>(starts.size(), 1));
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    ctx.fail("starts, ends, axes and steps must have the same length");
  std::vector<std::int64_t> begin(rank, 0), step(rank, 1);
  Shape shape = x.shape();
  std::vector<bool> seen(rank, false);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t d = normalize_axis(ctx, axes[i], rank);
    if (seen[d]) ctx.fail("axis " + std::to_string(axes[i]) + " is sliced twice");
    seen[d] = true;
    const std::int64_t n = x.dim(d);
    const std::int64_t s = steps[i];
    if (s == 0) ctx.fail("a slice step is 0");
    std::int64_t b = starts[i], e = ends[i];
    if (b < 0) b += n;  // no overflow: n >= 0
    if (e < 0) e += n;
    if (n == 0) {
      shape[d] = 0;
    } else if (s > 0) {
      b = std::clamp<std::int64_t>(b, 0, n);
      e = std::clamp<std::int64_t>(e, 0, n);
      shape[d] = e > b ? (e - b - 1) / s + 1 : 0;
    } else {
      b = std::clamp<std::int64_t>(b, 0, n - 1);
      e = std::clamp<std::int64_t>(e, -1, n - 1);
      const std::int64_t m = s == std::numeric_limits<std::int64_t>::min()
                                 ? std::numeric_limits<std::int64_t>::max()
                                 : -s;
      shape[d] = b > e ? (b - e - 1) / m + 1 : 0;
    }
    begin[d] = b;
    step[d] = s;
  }
  ctx.check_shape(shape);
  return {gather_dims(
      x, shape, [&](std::size_t d, std::int64_t i) { return begin[d] + i * step[d]; }, 0.0)};
}

std::vector<FloatTensor> eval_gather(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const FloatTensor& indices = ctx.input(1);
  if (x.rank() == 0) ctx.fail("its data must have rank >= 1");
  const std::size_t axis = normalize_axis(ctx, ctx.node.int_attribute("axis", 0), x.rank());
  const std::int64_t n = x.dim(axis);
  Shape shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis));
  shape.insert(shape.end(), indices.shape().begin(), indices.shape().end());
  shape.insert(shape.end(), x.shape().begin() + static_cast<std::ptrdiff_t>(axis) + 1,
               x.shape().end());
  FloatTensor y = ctx.allocate(shape);
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (std::size_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  std::vector<std::int64_t> idx(indices.size());
  for (std::size_t j = 0; j < indices.size(); ++j) {
    std::int64_t k = to_int64(indices[j]);
    if (k < -n || k >= n)
      ctx.fail("index " + std::to_string(k) + " is out of range for an axis of size " +
               std::to_string(n));
    idx[j] = k < 0 ? k + n : k;
  }
  std::size_t pos = 0;
  for (std::int64_t o = 0; o < outer; ++o)
    for (const std::int64_t k : idx)
      for (std::int64_t i = 0; i < inner; ++i) y[pos++] = x[sz((o * n + k) * inner + i)];
  return {std::move(y)};
}

std::vector<FloatTensor> eval_pad(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const std::size_t rank = x.rank();
  const std::vector<std::int64_t> pads = ctx.node.ints_attribute("pads");
  if (pads.size() != 2 * rank)
    ctx.fail("pads has " + std::to_string(pads.size()) +
             " entries; it needs 2 * rank = " + std::to_string(2 * rank));
  const std::string mode = ctx.node.string_attribute("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    ctx.unsupported("mode '" + mode + "'");
  const double value = ctx.node.float_attribute("value", 0.0);
  Shape shape(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    if (pads[d] > (std::int64_t{1} << 40) || pads[d + rank] > (std::int64_t{1} << 40) ||
        pads[d] < -(std::int64_t{1} << 40) || pads[d + rank] < -(std::int64_t{1} << 40))
      ctx.fail("pads " + shape_to_string(pads) + " are out of range");
    shape[d] = x.dim(d) + pads[d] + pads[d + rank];
    if (shape[d] < 0) ctx.fail("pads " + shape_to_string(pads) + " remove more than the input");
    if (mode != "constant" && shape[d] > 0 && x.dim(d) == 0)
      ctx.fail("mode '" + mode + "' cannot pad an empty axis");
    if (mode == "reflect" && (pads[d] >= x.dim(d) || pads[d + rank] >= x.dim(d)) &&
        (pads[d] > 0 || pads[d + rank] > 0))
      ctx.fail("reflect padding must be smaller than the axis");
  }
  ctx.check_shape(shape);
  return {gather_dims(
      x, shape,
      [&](std::size_t d, std::int64_t i) -> std::int64_t {
        const std::int64_t n = x.dim(d);
        std::int64_t s = i - pads[d];
        if (s >= 0 && s < n) return s;
        if (mode == "constant") return -1;
        if (mode == "edge") return s < 0 ? 0 : n - 1;
        return s < 0 ? -s : 2 * (n - 1) - s;  // reflect (pads < n)
      },
      value)};
}

std::vector<FloatTensor> eval_expand(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const Shape shapes[2] = {x.shape(), ctx.node.ints_attribute("shape")};
  for (const std::int64_t d : shapes[1])
    if (d < 0) ctx.fail("its target shape " + shape_to_string(shapes[1]) + " is negative");
  FloatTensor y = ctx.allocate(broadcast_shapes(ctx, shapes));
  const Shape in[1] = {x.shape()};
  for_each_broadcast(y.shape(), in, [&](std::int64_t i, std::span<const std::int64_t> o) {
    y[sz(i)] = x[sz(o[0])];
  });
  return {std::move(y)};
}

std::vector<FloatTensor> eval_shape(const OpContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  const auto r = static_cast<std::int64_t>(s.size());
  std::int64_t b = ctx.node.int_attribute("start", 0);
  std::int64_t e = ctx.node.int_attribute("end", r);
  if (b < 0) b += r;
  if (e < 0) e += r;
  b = std::clamp<std::int64_t>(b, 0, r);
  e = std::clamp<std::int64_t>(e, 0, r);
  std::vector<double> v;
  for (std::int64_t i = b; i < e; ++i) v.push_back(static_cast<double>(s[sz(i)]));
  const auto n = static_cast<std::int64_t>(v.size());
  return {FloatTensor({n}, std::move(v))};
}

std::vector<FloatTensor> eval_constant_of_shape(const OpContext& ctx) {
  const FloatTensor& s = ctx.input(0);
  if (s.rank() != 1) ctx.fail("its input must be a 1-D shape");
  double value = 0.0;
  if (ctx.node.has_attribute("value")) {
    const FloatTensor& v = ctx.node.tensor_attribute("value").tensor;
    if (v.size() != 1) ctx.fail("its value must hold one element");
    value = v[0];
  }
  FloatTensor y = ctx.allocate(to_int64s(s));
  std::fill(y.data().begin(), y.data().end(), value);
  return {std::move(y)};
}

// Range(start, limit, delta): start + i delta for i < max(ceil((limit - start) / delta), 0).
std::vector<FloatTensor> eval_range(const OpContext& ctx) {
  for (std::size_t i = 0; i < 3; ++i)
    if (ctx.input(i).size() != 1) ctx.fail("its start, limit and delta must be scalars");
  const double start = ctx.input(0)[0], limit = ctx.input(1)[0], delta = ctx.input(2)[0];
  if (!(delta != 0) || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
    ctx.fail("its start, limit and delta must be finite, with delta != 0");
  const double count = std::max(std::ceil((limit - start) / delta), 0.0);
  if (count > static_cast<double>(std::numeric_limits<std::int32_t>::max()))
    ctx.fail("it would produce " + std::to_string(count) + " elements");
  FloatTensor y = ctx.allocate({static_cast<std::int64_t>(count)});
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = start + static_cast<double>(i) * delta;
  return {std::move(y)};
}

std::vector<FloatTensor> eval_constant(const OpContext& ctx) {
  const Node& n = ctx.node;
  if (n.has_attribute("value")) return {n.tensor_attribute("value").tensor};
  if (n.has_attribute("value_float"))
    return {FloatTensor::scalar(n.float_attribute("value_float", 0))};
  if (n.has_attribute("value_int"))
    return {FloatTensor::scalar(static_cast<double>(n.int_attribute("value_int", 0)))};
  if (n.has_attribute("value_floats")) {
    std::vector<double> v = n.floats_attribute("value_floats");
    const auto size = static_cast<std::int64_t>(v.size());
    return {FloatTensor({size}, std::move(v))};
  }
  if (n.has_attribute("value_ints")) {
    const std::vector<std::int64_t> v = n.ints_attribute("value_ints");
    return {FloatTensor({static_cast<std::int64_t>(v.size())},
                        std::vector<double>(v.begin(), v.end()))};
  }
  ctx.unsupported("a Constant without value, value_float(s) or value_int(s) (sparse or string)");
}

// OneHot(indices, values) with the "depth" attribute (normalized from its second input).
std::vector<FloatTensor> eval_one_hot(const OpContext& ctx) {
  const FloatTensor& indices = ctx.input(0);
  const FloatTensor& values = ctx.input(1);
  if (values.size() != 2) ctx.fail("its values must be [off_value, on_value]");
  const std::int64_t depth = ctx.node.int_attribute("depth", -1);
  if (depth < 1) ctx.fail("its depth must be >= 1, not " + std::to_string(depth));
  const std::size_t rank = indices.rank() + 1;
  const std::size_t axis = normalize_axis(ctx, ctx.node.int_attribute("axis", -1), rank);
  Shape shape = indices.shape();
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(axis), depth);
  FloatTensor y = ctx.allocate(shape);
  std::fill(y.data().begin(), y.data().end(), values[0]);
  std::int64_t inner = 1;
  for (std::size_t d = axis; d < indices.rank(); ++d) inner *= indices.dim(d);
  for (std::size_t j = 0; j < indices.size(); ++j) {
    std::int64_t k = to_int64(indices[j]);
    if (k < 0 && k >= -depth) k += depth;
    if (k < 0 || k >= depth) continue;
    const std::int64_t outer = static_cast<std::int64_t>(j) / inner;
    const std::int64_t in = static_cast<std::int64_t>(j) % inner;
    y[sz((outer * depth + k) * inner + in)] = values[1];
  }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_reduce(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const bool keep = ctx.node.int_attribute("keepdims", 1) != 0;
  const std::vector<std::int64_t> axes = ctx.node.ints_attribute("axes");
  if (axes.empty() && ctx.node.int_attribute("noop_with_empty_axes", 0) != 0) return {x};
  std::vector<bool> reduced(x.rank(), axes.empty());
  for (const std::int64_t a : axes) reduced[normalize_axis(ctx, a, x.rank())] = true;
  Shape kept_shape = x.shape();
  Shape out_shape;
  std::int64_t count = 1;
  for (std::size_t d = 0; d < x.rank(); ++d) {
    if (reduced[d]) {
      count *= x.dim(d);
      kept_shape[d] = 1;
      if (keep) out_shape.push_back(1);
    } else {
      out_shape.push_back(x.dim(d));
    }
  }
  FloatTensor y(kept_shape);
  // Iterate over x and accumulate into the broadcast position of y.
  const std::vector<std::int64_t> ys = strides_of(kept_shape);
  std::vector<std::int64_t> idx(x.rank(), 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < x.rank(); ++d)
      if (!reduced[d]) off += idx[d] * ys[d];
    y[sz(off)] += x[i];
    for (std::size_t d = x.rank(); d-- > 0;) {
      if (++idx[d] < x.dim(d)) break;
      idx[d] = 0;
    }
  }
  if (ctx.node.op_type == "ReduceMean") {
    if (count == 0) ctx.fail("it averages over an empty axis");
    for (double& v : y.data()) v /= static_cast<double>(count);
  }
  return {y.reshaped(out_shape)};
}

}  // namespace

void register_shape_ops(OpTable& t) {
  t["Reshape"] = {eval_reshape, 1, 1};
  t["Flatten"] = {eval_flatten, 1, 1};
  t["Squeeze"] = {eval_squeeze, 1, 1};
  t["Unsqueeze"] = {eval_unsqueeze, 1, 1};
  t["Transpose"] = {eval_transpose, 1, 1};
  t["Concat"] = {eval_concat, 1, 4096};
  t["Slice"] = {eval_slice, 1, 1};
  t["Gather"] = {eval_gather, 2, 2};
  t["Pad"] = {eval_pad, 1, 1};
  t["Expand"] = {eval_expand, 1, 1};
  t["Shape"] = {eval_shape, 1, 1};
  t["ConstantOfShape"] = {eval_constant_of_shape, 1, 1};
  t["Range"] = {eval_range, 3, 3};
  t["Constant"] = {eval_constant, 0, 0};
  t["OneHot"] = {eval_one_hot, 2, 2};
  t["ReduceSum"] = {eval_reduce, 1, 1};
  t["ReduceMean"] = {eval_reduce, 1, 1};
}

}  // namespace torusml::onnx::detail
