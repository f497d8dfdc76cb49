// Evaluation of a float graph (graph.h) in double precision, e.g. to compare with the model's
// framework or, through the observer, to calibrate quantizers on every intermediate value.
//
// Semantics are ONNX's (broadcasting where ONNX defines it), with every element a double: float
// types are not rounded to their width (Cast to a float type is the identity), integer and
// boolean values are exact integers (Cast to an integer type truncates and wraps, to bool gives 0
// or 1; integer Div truncates toward zero, and gives 0 for a zero divisor).
// QuantizeLinear rounds half to even and saturates to its zero point's type;
// DequantizeLinear computes (q - zero_point) * scale.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "torusml/onnx/float_tensor.h"
#include "torusml/onnx/graph.h"

namespace torusml::onnx {

/// Called with the name and value of every graph input, then of every node output as it is
/// computed (in node order). The reference is valid during the call only.
using ValueObserver = std::function<void(const std::string& name, const FloatTensor& value)>;

/// The graph's outputs (in Graph::outputs order) for one tensor per graph input (in
/// Graph::inputs order). Throws InvalidArgument if the number of inputs or a shape differs from
/// the graph's (the message gives the expected shapes; the batch size is fixed at load time by
/// LoadOptions::batch_size), UnsupportedOperator for a node of an unknown operator, and
/// InvalidArgument naming the node for a node whose inputs or attributes are invalid (only in
/// graphs not made by load_onnx_model).
std::vector<FloatTensor> evaluate_graph(const Graph& graph, std::span<const FloatTensor> inputs,
                                        const ValueObserver& observer = nullptr);

/// The names of the operators evaluate_graph implements, sorted.
std::vector<std::string> supported_operators();

/// Whether `op_type` (default domain) computes each output element from the elements of its
/// inputs at the same (broadcast) position: the unary and binary arithmetic, activation,
/// comparison and logic operators, Max, Min, Sum, Mean, Where, Clip, Cast, Dropout (inference),
/// QuantizeLinear and DequantizeLinear. (A consumer such as a quantizer may fuse runs of them.)
bool is_elementwise_operator(const std::string& op_type);

}  // namespace torusml::onnx
