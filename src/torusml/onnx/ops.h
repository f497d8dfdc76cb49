// Internal interface of the operator implementations (ops_*.cpp): one function per ONNX operator
// (or family), on the normalized nodes of graph.h, in double precision. Not a public header: the
// loader and the evaluator call evaluate_node.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "torusml/onnx/float_tensor.h"
#include "torusml/onnx/graph.h"

namespace torusml::onnx::detail {

/// What an operator sees: the node, its inputs (nullptr for an omitted optional one) with their
/// element types, and the largest tensor it may create.
struct OpContext {
  const Node& node;
  std::span<const FloatTensor* const> inputs;
  std::span<const ElementType> input_types;
  std::int64_t max_elements;

  std::size_t input_count() const { return inputs.size(); }
  bool has_input(std::size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  /// Input i; InvalidArgument naming the node if it is absent.
  const FloatTensor& input(std::size_t i) const;
  ElementType input_type(std::size_t i) const;
  /// Zeros of that shape; InvalidArgument naming the node if it exceeds max_elements.
  FloatTensor allocate(Shape shape) const;
  /// Checks a shape against max_elements (and negative dimensions) before it is built.
  void check_shape(const Shape& shape) const;
  /// Throws InvalidArgument "<node>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
  /// Throws UnsupportedOperator "<node>: <what> is not supported".
  [[noreturn]] void unsupported(const std::string& what) const;
};

using OpFunction = std::vector<FloatTensor> (*)(const OpContext&);

struct OpDefinition {
  OpFunction evaluate = nullptr;
  std::size_t min_inputs = 1;
  std::size_t max_inputs = 1;
};

using OpTable = std::map<std::string, OpDefinition>;

void register_elementwise_ops(OpTable& table);
void register_linear_ops(OpTable& table);
void register_shape_ops(OpTable& table);
void register_pool_conv_ops(OpTable& table);

/// The definition of a supported operator of that domain ("" or "ai.onnx"; Gelu is also accepted
/// in "com.microsoft"), or nullptr.
const OpDefinition* find_operator(const std::string& domain, const std::string& op_type);
/// Every supported op type, sorted.
std::vector<std::string> supported_operators();

/// Element types of the node's outputs given those of its inputs (Float for an omitted input).
std::vector<ElementType> infer_output_types(const Node& node,
                                            std::span<const ElementType> input_types);

/// Runs the node: UnsupportedOperator for an unknown operator, InvalidArgument naming the node for
/// wrong inputs or attributes. Returns one tensor per node output ("" outputs included: their
/// tensor is an empty scalar placeholder).
std::vector<FloatTensor> evaluate_node(const Node& node, std::span<const FloatTensor* const> inputs,
                                       std::span<const ElementType> input_types,
                                       std::int64_t max_elements);

// ---- Helpers shared by the operator files ----------------------------------------------------

/// A double as an int64 (truncated toward zero; saturated at the int64 range; NaN -> 0).
std::int64_t to_int64(double v);
std::vector<std::int64_t> to_int64s(const FloatTensor& t);
/// axis in [-rank, rank) -> [0, rank); InvalidArgument naming the node otherwise.
std::size_t normalize_axis(const OpContext& ctx, std::int64_t axis, std::size_t rank);
/// Row-major strides of a shape.
std::vector<std::int64_t> strides_of(const Shape& shape);
/// Numpy (multidirectional) broadcasting of the shapes; InvalidArgument naming the node if they
/// are incompatible.
Shape broadcast_shapes(const OpContext& ctx, std::span<const Shape> shapes);

/// Calls f(out_index, offsets) for every element of `out` (row-major), with offsets[k] the flat
/// index in input k (of shape in[k], broadcast to `out`; in[k] has rank <= out's).
template <class F>
void for_each_broadcast(const Shape& out, std::span<const Shape> in, F&& f) {
  const std::size_t rank = out.size();
  const std::size_t n = in.size();
  std::vector<std::vector<std::int64_t>> st(n, std::vector<std::int64_t>(rank, 0));
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t off = rank - in[k].size();
    std::int64_t s = 1;
    for (std::size_t d = in[k].size(); d-- > 0;) {
      st[k][off + d] = in[k][d] == 1 ? 0 : s;
      s *= in[k][d];
    }
  }
  const std::int64_t total = element_count(out);
  if (total == 0) return;
  std::vector<std::int64_t> idx(rank, 0);
  std::vector<std::int64_t> offsets(n, 0);
  for (std::int64_t i = 0; i < total; ++i) {
    f(i, std::span<const std::int64_t>(offsets));
    for (std::size_t d = rank; d-- > 0;) {
      ++idx[d];
      for (std::size_t k = 0; k < n; ++k) offsets[k] += st[k][d];
      if (idx[d] < out[d]) break;
      for (std::size_t k = 0; k < n; ++k) offsets[k] -= st[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace torusml::onnx::detail
