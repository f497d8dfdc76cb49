// Integer tensor programs: the intermediate representation compiled to FHE.
//
// A Program is a DAG of Nodes in topological order (a node's inputs precede it). Every node
// produces one integer tensor with a static shape that is either encrypted or clear. Primitive
// operations are listed in OpKind; composite ones (gemm, ReLU, comparisons, min/max, encrypted
// multiplication, ...) are expanded by the Builder (builder.h) into primitives when traced.
//
// Semantics follow numpy on int64 values (broadcasting, matmul, sum, slicing, ...). Rules on
// encryption: an operation with an encrypted operand has an encrypted result; Mul, MatMul and
// Conv2d accept at most one encrypted operand (clear weights); everything else accepts any.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit {

using NodeId = std::int32_t;

enum class OpKind : std::uint8_t {
  Input = 1,    // InputAttr
  Constant,     // ConstantAttr
  Add,          // x + y, broadcast
  Sub,          // x - y, broadcast
  Neg,          // -x
  Mul,          // x * y elementwise, broadcast; at most one encrypted operand
  MatMul,       // numpy.matmul(x, y); at most one encrypted operand
  Sum,          // SumAttr
  Reshape,      // ReshapeAttr (same element count, row-major)
  Transpose,    // TransposeAttr
  BroadcastTo,  // BroadcastAttr
  Concatenate,  // ConcatAttr; any number of inputs
  Slice,        // SliceAttr (numpy basic slicing)
  Take,         // TakeAttr (numpy.take with clear indices along one axis)
  Pad,          // PadAttr (constant padding with a clear value)
  TableLookup,  // TableAttr: y[i] = table(x[i]), one table or one per element position
  Round,        // RoundAttr: round to fewer most-significant bits
  Conv2d,       // Conv2dAttr: inputs (x NCHW, weights OIHW, optional bias O); clear weights
  SumPool2d,    // Pool2dAttr: sum over each window (NCHW); average = sum then a table
};

const char* to_string(OpKind op);

/// A univariate function over integers, tabulated at compile time over the measured input range
/// (or the whole domain of the input's bit width).
struct TableFunction {
  std::function<std::int64_t(std::int64_t)> fn;
  std::string name;  // for messages and statistics ("relu", "sigmoid", ...)
};

struct InputAttr {
  std::string name;
  bool encrypted = true;
};
struct ConstantAttr {
  Tensor value;
};
struct SumAttr {
  std::vector<std::int64_t> axes;  // distinct, in [0, rank) (the Builder sorts them); empty: all
  bool keepdims = false;
};
struct ReshapeAttr {
  Shape shape;
};
struct TransposeAttr {
  std::vector<std::int64_t> perm;  // a permutation of [0, rank)
};
struct BroadcastAttr {
  Shape shape;
};
struct ConcatAttr {
  std::int64_t axis = 0;  // in [0, rank)
};
struct SliceAttr {
  // One entry per axis, already normalised (clamped as numpy does, i.e. as Python's
  // slice.indices(extent)): steps non-zero; start and stop in [0, extent] for a positive step and
  // in [-1, extent - 1] for a negative one (-1: before the first element).
  std::vector<std::int64_t> starts, stops, steps;
};
struct TakeAttr {
  std::int64_t axis = 0;
  std::vector<std::int64_t> indices;  // normalised to [0, extent)
};
struct PadAttr {
  std::vector<std::int64_t> before, after;  // one entry per axis, >= 0
  std::int64_t value = 0;
};
struct TableAttr {
  std::vector<TableFunction> tables;  // one, or several selected per element
  // Empty: tables[0] for every element. Else one entry per element of the *output*
  // (row-major), each an index into `tables`.
  std::vector<std::int32_t> element_table;
};
enum class RoundingMode : std::uint8_t {
  // Exact rounding: encrypted, one table lookup over the input's full width, or for wide inputs
  // a few bootstraps that read no more than the kept bits (compile/exact_rounding.h).
  Exact = 1,
  Approximate = 2,  // the PBS reads only the kept bits: off by one near the boundaries
};
struct RoundAttr {
  std::int64_t lsbs_to_remove = 0;  // y = round(x / 2^lsbs) * 2^lsbs (ties away from zero)
  RoundingMode mode = RoundingMode::Exact;
};
struct Conv2dAttr {
  std::vector<std::int64_t> strides{1, 1};
  std::vector<std::int64_t> pads{0, 0, 0, 0};  // top, left, bottom, right
  std::vector<std::int64_t> dilations{1, 1};
  std::int64_t groups = 1;
};
struct Pool2dAttr {
  std::vector<std::int64_t> kernel{2, 2};
  std::vector<std::int64_t> strides{2, 2};
  std::vector<std::int64_t> pads{0, 0, 0, 0};  // top, left, bottom, right (padding with 0)
};

using Attributes = std::variant<std::monostate, InputAttr, ConstantAttr, SumAttr, ReshapeAttr,
                                TransposeAttr, BroadcastAttr, ConcatAttr, SliceAttr, TakeAttr,
                                PadAttr, TableAttr, RoundAttr, Conv2dAttr, Pool2dAttr>;

struct Node {
  OpKind op = OpKind::Input;
  std::vector<NodeId> inputs;
  Attributes attributes;
  Shape shape;             // of the result
  bool encrypted = false;  // of the result
  std::string label;       // "matmul_3", for messages; unique within a program
};

/// A traced program: nodes in topological order, its inputs (Input nodes, in argument order)
/// and outputs (any nodes, in result order).
struct Program {
  std::vector<Node> nodes;
  std::vector<NodeId> inputs;
  std::vector<NodeId> outputs;

  const Node& node(NodeId id) const { return nodes.at(static_cast<std::size_t>(id)); }
  /// Throws InvalidArgument describing the first inconsistency (order, arity, shapes, ...).
  void validate() const;
  /// One line per node: "%3 = matmul(%1, %2) : encrypted (10, 10)".
  std::string to_text() const;
};

}  // namespace torusml::circuit
