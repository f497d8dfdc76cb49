// The float graph of an ONNX model, as load_onnx_model (load_onnx.h) returns it: no quantization,
// static shapes, constant subgraphs folded into initializers, nodes in topological order.
//
// Normalized form (the same for every opset the loader accepts): operands that ONNX moved from
// attributes to inputs across opsets are attributes, read from constant inputs at load time:
//   Squeeze, Unsqueeze: "axes" (ints)         ReduceSum, ReduceMean: "axes" (ints)
//   Clip: "min", "max" (floats)               Pad: "pads" (ints, 2 * rank), "value" (float)
//   Slice: "starts", "ends", "axes", "steps"  Reshape, Expand: "shape" (ints)
//   OneHot: "depth" (int)
// and those inputs are dropped from Node::inputs (so OneHot's inputs are (indices, values)); the
// others keep their ONNX order; an omitted optional input is "". QuantizeLinear / DequantizeLinear
// keep their scale and zero-point inputs (initializers; see quantization_parameters).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "torusml/onnx/float_tensor.h"

namespace torusml::onnx {

/// ONNX element types (values of TensorProto.DataType) that the float graph can hold.
enum class ElementType : int {
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16,
};

/// The element type of an ONNX TensorProto.DataType code; InvalidArgument for strings, complex
/// numbers and unknown codes.
ElementType element_type_from_onnx(std::int64_t code);
/// "float", "int64", "bool", ...
std::string to_string(ElementType type);
bool is_integer(ElementType type);  // the integer types and Bool
bool is_float(ElementType type);    // Float, Double, Float16, BFloat16
/// The range of an integer type ([0, 1] for Bool); InvalidArgument for float types. Bounds beyond
/// 2^53 (64-bit types) are rounded to doubles.
double type_min(ElementType type);
double type_max(ElementType type);

enum class AttributeKind { Int, Float, String, Ints, Floats, Tensor };

/// A node attribute: exactly the member selected by `kind` is meaningful.
struct Attribute {
  AttributeKind kind = AttributeKind::Int;
  std::int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  FloatTensor tensor;
  ElementType tensor_type = ElementType::Float;
  bool operator==(const Attribute&) const = default;
};

struct Node {
  std::string op_type;  // e.g. "Conv"
  std::string domain;   // "" (ai.onnx) or e.g. "com.microsoft"
  std::string name;     // the ONNX node name, or "<op_type>_<index>" if the model gave none
  std::vector<std::string> inputs;   // value names; "" for an omitted optional input
  std::vector<std::string> outputs;  // value names; "" for an omitted optional output
  std::map<std::string, Attribute> attributes;

  bool has_attribute(const std::string& key) const { return attributes.count(key) != 0; }
  /// Typed reads: the attribute's value, or `fallback` if absent. Throws InvalidArgument naming
  /// the node if the attribute has another kind (an Int is accepted where a Float is asked).
  std::int64_t int_attribute(const std::string& key, std::int64_t fallback) const;
  double float_attribute(const std::string& key, double fallback) const;
  std::string string_attribute(const std::string& key, const std::string& fallback) const;
  std::vector<std::int64_t> ints_attribute(const std::string& key,
                                           std::vector<std::int64_t> fallback = {}) const;
  std::vector<double> floats_attribute(const std::string& key,
                                       std::vector<double> fallback = {}) const;
  /// The tensor attribute; InvalidArgument if absent or of another kind.
  const Attribute& tensor_attribute(const std::string& key) const;
  /// "node 'conv1' (Conv)", for messages.
  std::string describe() const;
  bool operator==(const Node&) const = default;
};

/// The static type of a value: element type and shape.
struct ValueInfo {
  ElementType type = ElementType::Float;
  Shape shape;
  bool operator==(const ValueInfo&) const = default;
};

struct GraphInput {
  std::string name;
  ValueInfo info;
  bool operator==(const GraphInput&) const = default;
};

struct Graph {
  std::string name;
  std::int64_t opset = 0;  // the model's ai.onnx opset version
  std::vector<GraphInput> inputs;
  std::vector<GraphInput> outputs;  // an output may be an input, an initializer or a node output
  std::vector<Node> nodes;          // topological order
  std::map<std::string, FloatTensor> initializers;
  /// Type and shape of every value: inputs, initializers and node outputs.
  std::map<std::string, ValueInfo> values;

  /// The initializer of that name, or nullptr.
  const FloatTensor* find_initializer(const std::string& value) const;
  /// The value's type and shape; InvalidArgument if the graph has no such value.
  const ValueInfo& value_info(const std::string& value) const;
  /// The nodes' op types with their counts, e.g. {"Conv": 3, "Relu": 3}.
  std::map<std::string, std::size_t> op_counts() const;
  bool operator==(const Graph&) const = default;
};

/// A readable listing: inputs, outputs, every node with its input and output shapes, and the
/// initializers' shapes.
std::string summarize_graph(const Graph& graph);

/// The quantization parameters of a QuantizeLinear or DequantizeLinear node: its scale and zero
/// point (initializers), the zero point's element type (UInt8 if the node has none) and the axis
/// of per-axis parameters (normalized to [0, rank), or nullopt for per-tensor ones). Throws
/// InvalidArgument if the node is of another op type, its scale or zero point is not constant,
/// its axis is out of range, a per-axis scale does not have one value per index of the axis, or
/// the zero point has not as many values as the scale.
struct QuantizationParameters {
  FloatTensor scale;
  FloatTensor zero_point;
  ElementType zero_point_type = ElementType::UInt8;
  std::optional<std::int64_t> axis;
};
QuantizationParameters quantization_parameters(const Graph& graph, const Node& node);

}  // namespace torusml::onnx
