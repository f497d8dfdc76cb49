// Data-movement kernels: transpose, broadcast_to, concatenate, slice, take and pad.
#include <algorithm>

#include "torusml/circuit/evaluate/evaluate_kernels.h"

namespace torusml::circuit::detail {

namespace {

std::size_t to_size(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

std::int64_t product(const Shape& shape, std::size_t begin, std::size_t end) {
  std::int64_t p = 1;
  for (std::size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

// Gathers the elements of x at the offsets of a strided walk over `shape` into a new tensor.
Tensor gather(const Tensor& x, const Shape& shape, std::vector<std::int64_t> strides,
              std::int64_t base) {
  Tensor out = Tensor::zeros(shape);
  std::int64_t* po = out.values().data();
  const std::int64_t* px = x.values().data();
  for_each_row<1>(shape, {std::move(strides)}, {base},
                  [&](const auto& offsets, std::int64_t count, const auto& inner) {
                    if (inner[0] == 1) {
                      po = std::copy(px + offsets[0], px + offsets[0] + count, po);
                    } else {
                      for (std::int64_t j = 0; j < count; ++j)
                        *po++ = px[offsets[0] + j * inner[0]];
                    }
                  });
  return out;
}

}  // namespace

Tensor eval_transpose(const Tensor& x, const TransposeAttr& attr, const Shape& shape) {
  const std::vector<std::int64_t> in_strides = row_major_strides(x.shape());
  std::vector<std::int64_t> strides(attr.perm.size());
  for (std::size_t i = 0; i < attr.perm.size(); ++i) strides[i] = in_strides[to_size(attr.perm[i])];
  return gather(x, shape, std::move(strides), 0);
}

Tensor eval_broadcast_to(const Tensor& x, const Shape& shape) {
  return gather(x, shape, broadcast_strides(x.shape(), shape), 0);
}

Tensor eval_slice(const Tensor& x, const SliceAttr& attr, const Shape& shape) {
  const std::vector<std::int64_t> in_strides = row_major_strides(x.shape());
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t base = 0;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    strides[i] = in_strides[i] * attr.steps[i];
    // With a non-empty result every start is a valid index (see SliceAttr).
    if (shape[i] > 0) base += attr.starts[i] * in_strides[i];
  }
  return gather(x, shape, std::move(strides), base);
}

Tensor eval_concatenate(std::span<const Tensor* const> xs, const ConcatAttr& attr,
                        const Shape& shape) {
  Tensor out = Tensor::zeros(shape);
  const auto axis = to_size(attr.axis);
  const std::int64_t outer = product(shape, 0, axis);
  const std::int64_t inner = product(shape, axis + 1, shape.size());
  std::int64_t* po = out.values().data();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const Tensor* x : xs) {
      const std::int64_t block = x->shape()[axis] * inner;
      const std::int64_t* px = x->values().data() + o * block;
      po = std::copy(px, px + block, po);
    }
  }
  return out;
}

Tensor eval_take(const Tensor& x, const TakeAttr& attr, const Shape& shape) {
  Tensor out = Tensor::zeros(shape);
  const auto axis = to_size(attr.axis);
  const std::int64_t outer = product(shape, 0, axis);
  const std::int64_t inner = product(shape, axis + 1, shape.size());
  const std::int64_t extent = x.shape()[axis];
  std::int64_t* po = out.values().data();
  for (std::int64_t o = 0; o < outer; ++o) {
    const std::int64_t* block = x.values().data() + o * extent * inner;
    for (std::int64_t index : attr.indices) {
      po = std::copy(block + index * inner, block + (index + 1) * inner, po);
    }
  }
  return out;
}

Tensor eval_pad(const Tensor& x, const PadAttr& attr, const Shape& shape) {
  Tensor out = Tensor::full(shape, attr.value);
  const std::vector<std::int64_t> out_strides = row_major_strides(shape);
  std::int64_t base = 0;
  for (std::size_t i = 0; i < shape.size(); ++i) base += attr.before[i] * out_strides[i];
  std::int64_t* po = out.values().data();
  const std::int64_t* px = x.values().data();
  for_each_row<1>(x.shape(), {out_strides}, {base},
                  [&](const auto& offsets, std::int64_t count, const auto&) {
                    std::copy(px, px + count, po + offsets[0]);  // rows are contiguous
                    px += count;
                  });
  return out;
}

}  // namespace torusml::circuit::detail
