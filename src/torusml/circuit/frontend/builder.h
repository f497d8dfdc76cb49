// Tracing integer programs in C++ with numpy-like code.
//
//   circuit::Builder b;
//   auto x = b.input("x", {10});                        // encrypted by default
//   auto y = matmul(x, weights) + bias;                 // weights, bias: clear Tensors
//   auto z = apply_table(y, [](std::int64_t v) { return v > 0 ? v : 0; }, "relu");
//   b.output(z);
//   circuit::Program p = b.build();
//
// Every function checks shapes and encryption rules at trace time and throws InvalidArgument
// naming the operation and the offending shapes. Clear Tensors (and integers) mixed with Values
// become Constant nodes. Composite operations are expanded here into primitive nodes:
//   gemm          -> matmul (+ transposes) * alpha + beta * c
//   multiply(x,y) -> encrypted x encrypted: ((x+y)^2 - (x-y)^2) / 4 with two table lookups
//   relu, comparisons (0/1 results), minimum, maximum -> table lookups on x or on x - y
//   avg_pool2d    -> sum_pool2d then a rounding division table
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit {

class Builder;

/// A handle on a traced node. Cheap to copy; valid while its Builder lives (and is not moved).
/// The reference returned by shape() is invalidated by tracing further nodes: copy the Shape to
/// keep it.
class Value {
 public:
  Value() = default;
  Builder& builder() const { return *builder_; }
  NodeId id() const { return id_; }
  const Shape& shape() const;
  bool encrypted() const;
  bool valid() const { return builder_ != nullptr; }

 private:
  friend class Builder;
  Value(Builder* b, NodeId id) : builder_(b), id_(id) {}
  Builder* builder_ = nullptr;
  NodeId id_ = -1;
};

class Builder {
 public:
  /// A program input: encrypted (the default) or clear (supplied in the clear at run time).
  Value input(std::string name, Shape shape, bool encrypted = true);
  Value constant(Tensor value);
  /// Marks v as the next output of the program.
  void output(Value v);
  /// The traced program (validated). The builder may keep tracing afterwards.
  Program build() const;

  /// Appends a node (shape and encryption must already be checked); used by the free functions.
  Value add_node(OpKind op, std::vector<NodeId> inputs, Attributes attributes, Shape shape,
                 bool encrypted);
  const Node& node(NodeId id) const { return program_.nodes.at(static_cast<std::size_t>(id)); }

 private:
  Program program_;
};

using Function = std::function<std::int64_t(std::int64_t)>;

// Arithmetic (numpy broadcasting). A Tensor or integer operand becomes a constant.
Value operator+(Value x, Value y);
Value operator+(Value x, const Tensor& y);
Value operator+(const Tensor& x, Value y);
Value operator+(Value x, std::int64_t y);
Value operator+(std::int64_t x, Value y);
Value operator-(Value x, Value y);
Value operator-(Value x, const Tensor& y);
Value operator-(const Tensor& x, Value y);
Value operator-(Value x, std::int64_t y);
Value operator-(std::int64_t x, Value y);
Value operator-(Value x);
/// Elementwise product; encrypted x encrypted is rejected here (use multiply()).
Value operator*(Value x, Value y);
Value operator*(Value x, const Tensor& y);
Value operator*(const Tensor& x, Value y);
Value operator*(Value x, std::int64_t y);
Value operator*(std::int64_t x, Value y);

/// numpy.matmul semantics (1-D operands promoted and squeezed, batched leading dimensions).
Value matmul(Value x, Value y);
Value matmul(Value x, const Tensor& w);
Value matmul(const Tensor& w, Value x);
/// Dot product of two 1-D operands (a scalar result).
Value dot(Value x, const Tensor& w);
/// alpha * op(a) @ op(b) + beta * c, op = transpose if requested (ONNX Gemm, 2-D operands).
Value gemm(Value a, const Tensor& b, std::optional<Tensor> c = std::nullopt, std::int64_t alpha = 1,
           std::int64_t beta = 1, bool transpose_a = false, bool transpose_b = false);

/// Sum over `axes` (all axes if empty), negative axes counted from the end.
Value sum(Value x, std::vector<std::int64_t> axes = {}, bool keepdims = false);

// Data movement (free under encryption).
Value reshape(Value x, Shape shape);                            // one extent may be -1
Value transpose(Value x, std::vector<std::int64_t> perm = {});  // default: reversed axes
Value broadcast_to(Value x, Shape shape);
Value concatenate(std::span<const Value> xs, std::int64_t axis = 0);
/// numpy x[start:stop:step] per axis (missing axes taken whole; negative values as numpy).
/// Out-of-range starts and stops are clamped as numpy does, so INT64_MIN / INT64_MAX stand for
/// an omitted bound (e.g. x[::-1] is slice(x, {INT64_MAX}, {INT64_MIN}, {-1})).
Value slice(Value x, std::vector<std::int64_t> starts, std::vector<std::int64_t> stops,
            std::vector<std::int64_t> steps = {});
/// numpy.take(x, indices, axis).
Value take(Value x, std::vector<std::int64_t> indices, std::int64_t axis = 0);
/// Constant padding: before[i] / after[i] elements on each side of axis i.
Value pad(Value x, std::vector<std::int64_t> before, std::vector<std::int64_t> after,
          std::int64_t value = 0);

// Table lookups.
Value apply_table(Value x, Function f, std::string name = "table");
/// One function per element position: tables[element_table[i]] applies to element i
/// (element_table has one entry per element of x, row-major).
Value apply_tables(Value x, std::vector<TableFunction> tables,
                   std::vector<std::int32_t> element_table);

/// round(x / 2^lsbs_to_remove) * 2^lsbs_to_remove, ties away from zero. Exact: exact under
/// encryption for inputs of any width (compile/exact_rounding.h); Approximate: fused into the
/// lookups that read it, which then read only the kept bits (off by one near the boundaries).
Value round_bit_pattern(Value x, std::int64_t lsbs_to_remove,
                        RoundingMode mode = RoundingMode::Exact);

/// x * y for any operands: encrypted x encrypted costs two table lookups.
Value multiply(Value x, Value y);
Value relu(Value x);
Value maximum(Value x, Value y);
Value minimum(Value x, Value y);
// Comparisons: 1 where true, 0 elsewhere.
Value less(Value x, Value y);
Value less_equal(Value x, Value y);
Value greater(Value x, Value y);
Value greater_equal(Value x, Value y);
Value equal(Value x, Value y);
Value not_equal(Value x, Value y);
Value less(Value x, const Tensor& y);
Value less_equal(Value x, const Tensor& y);
Value greater(Value x, const Tensor& y);
Value greater_equal(Value x, const Tensor& y);

/// 2-D convolution (NCHW input, OIHW clear weights, optional clear bias of O elements).
Value conv2d(Value x, const Tensor& weights, std::optional<Tensor> bias = std::nullopt,
             Conv2dAttr attributes = {});
/// Sum over each pooling window (NCHW).
Value sum_pool2d(Value x, Pool2dAttr attributes = {});
/// Average over each window: the window sum divided by its size, rounded to nearest with ties
/// away from zero (a table). With count_include_pad (the default, PyTorch's default) the padding
/// counts in the window size; without (ONNX AveragePool's default), a window's divisor is the
/// number of its positions inside the input (one table per distinct divisor, per element).
Value avg_pool2d(Value x, Pool2dAttr attributes = {}, bool count_include_pad = true);

}  // namespace torusml::circuit
