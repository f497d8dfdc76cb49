#include "torusml/onnx/graph.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "torusml/common/error.h"

namespace torusml::onnx {

ElementType element_type_from_onnx(std::int64_t code) {
  switch (code) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 9:
    case 10:
    case 11:
    case 12:
    case 13:
    case 16:
      return static_cast<ElementType>(code);
    case 8:
      throw InvalidArgument("string tensors are not supported (only numbers and booleans)");
    case 14:
    case 15:
      throw InvalidArgument("complex tensors are not supported (only real numbers and booleans)");
    default:
      throw InvalidArgument("unknown ONNX element type " + std::to_string(code));
  }
}

std::string to_string(ElementType type) {
  switch (type) {
    case ElementType::Float:
      return "float";
    case ElementType::UInt8:
      return "uint8";
    case ElementType::Int8:
      return "int8";
    case ElementType::UInt16:
      return "uint16";
    case ElementType::Int16:
      return "int16";
    case ElementType::Int32:
      return "int32";
    case ElementType::Int64:
      return "int64";
    case ElementType::Bool:
      return "bool";
    case ElementType::Float16:
      return "float16";
    case ElementType::Double:
      return "double";
    case ElementType::UInt32:
      return "uint32";
    case ElementType::UInt64:
      return "uint64";
    case ElementType::BFloat16:
      return "bfloat16";
  }
  return "type(" + std::to_string(static_cast<int>(type)) + ")";
}

bool is_float(ElementType type) {
  return type == ElementType::Float || type == ElementType::Double ||
         type == ElementType::Float16 || type == ElementType::BFloat16;
}

bool is_integer(ElementType type) {
  return !is_float(type);
}

double type_min(ElementType type) {
  switch (type) {
    case ElementType::UInt8:
    case ElementType::UInt16:
    case ElementType::UInt32:
    case ElementType::UInt64:
    case ElementType::Bool:
      return 0.0;
    case ElementType::Int8:
      return -128.0;
    case ElementType::Int16:
      return -32768.0;
    case ElementType::Int32:
      return -2147483648.0;
    case ElementType::Int64:
      return static_cast<double>(std::numeric_limits<std::int64_t>::min());
    default:
      throw InvalidArgument("type_min: " + to_string(type) + " is not an integer type");
  }
}

double type_max(ElementType type) {
  switch (type) {
    case ElementType::Bool:
      return 1.0;
    case ElementType::UInt8:
      return 255.0;
    case ElementType::Int8:
      return 127.0;
    case ElementType::UInt16:
      return 65535.0;
    case ElementType::Int16:
      return 32767.0;
    case ElementType::UInt32:
      return 4294967295.0;
    case ElementType::Int32:
      return 2147483647.0;
    case ElementType::UInt64:
      return static_cast<double>(std::numeric_limits<std::uint64_t>::max());
    case ElementType::Int64:
      return static_cast<double>(std::numeric_limits<std::int64_t>::max());
    default:
      throw InvalidArgument("type_max: " + to_string(type) + " is not an integer type");
  }
}

namespace {

const char* kind_name(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::Int:
      return "int";
    case AttributeKind::Float:
      return "float";
    case AttributeKind::String:
      return "string";
    case AttributeKind::Ints:
      return "ints";
    case AttributeKind::Floats:
      return "floats";
    case AttributeKind::Tensor:
      return "tensor";
  }
  return "?";
}

const Attribute* find_attribute(const Node& node, const std::string& key, AttributeKind kind,
                                bool int_as_float = false) {
  const auto it = node.attributes.find(key);
  if (it == node.attributes.end()) return nullptr;
  const AttributeKind k = it->second.kind;
  const bool ok = k == kind || (int_as_float && k == AttributeKind::Int) ||
                  (int_as_float && kind == AttributeKind::Floats && k == AttributeKind::Ints);
  if (!ok)
    throw InvalidArgument(node.describe() + ": attribute '" + key + "' is of kind " + kind_name(k) +
                          ", expected " + kind_name(kind));
  return &it->second;
}

}  // namespace

std::int64_t Node::int_attribute(const std::string& key, std::int64_t fallback) const {
  const Attribute* a = find_attribute(*this, key, AttributeKind::Int);
  return a ? a->i : fallback;
}

double Node::float_attribute(const std::string& key, double fallback) const {
  const Attribute* a = find_attribute(*this, key, AttributeKind::Float, true);
  if (!a) return fallback;
  return a->kind == AttributeKind::Int ? static_cast<double>(a->i) : a->f;
}

std::string Node::string_attribute(const std::string& key, const std::string& fallback) const {
  const Attribute* a = find_attribute(*this, key, AttributeKind::String);
  return a ? a->s : fallback;
}

std::vector<std::int64_t> Node::ints_attribute(const std::string& key,
                                               std::vector<std::int64_t> fallback) const {
  const Attribute* a = find_attribute(*this, key, AttributeKind::Ints);
  return a ? a->ints : fallback;
}

std::vector<double> Node::floats_attribute(const std::string& key,
                                           std::vector<double> fallback) const {
  const Attribute* a = find_attribute(*this, key, AttributeKind::Floats, true);
  if (!a) return fallback;
  if (a->kind == AttributeKind::Ints) return std::vector<double>(a->ints.begin(), a->ints.end());
  return a->floats;
}

const Attribute& Node::tensor_attribute(const std::string& key) const {
  const Attribute* a = find_attribute(*this, key, AttributeKind::Tensor);
  if (!a) throw InvalidArgument(describe() + " has no tensor attribute '" + key + "'");
  return *a;
}

std::string Node::describe() const {
  std::string d = "node '" + name + "' (" + op_type;
  if (!domain.empty() && domain != "ai.onnx") d += ", domain " + domain;
  return d + ")";
}

const FloatTensor* Graph::find_initializer(const std::string& value) const {
  const auto it = initializers.find(value);
  return it == initializers.end() ? nullptr : &it->second;
}

const ValueInfo& Graph::value_info(const std::string& value) const {
  const auto it = values.find(value);
  if (it == values.end()) throw InvalidArgument("the graph has no value named '" + value + "'");
  return it->second;
}

std::map<std::string, std::size_t> Graph::op_counts() const {
  std::map<std::string, std::size_t> counts;
  for (const Node& n : nodes) ++counts[n.op_type];
  return counts;
}

namespace {

std::string value_text(const Graph& g, const std::string& name) {
  if (name.empty()) return "<none>";
  const auto it = g.values.find(name);
  if (it == g.values.end()) return name + ":?";
  return name + ":" + to_string(it->second.type) + shape_to_string(it->second.shape);
}

}  // namespace

std::string summarize_graph(const Graph& graph) {
  std::ostringstream os;
  os << "graph '" << graph.name << "' (opset " << graph.opset << "): " << graph.nodes.size()
     << " nodes, " << graph.initializers.size() << " initializers\n";
  for (const GraphInput& in : graph.inputs)
    os << "  input  " << in.name << ": " << to_string(in.info.type)
       << shape_to_string(in.info.shape) << '\n';
  for (const GraphInput& out : graph.outputs)
    os << "  output " << out.name << ": " << to_string(out.info.type)
       << shape_to_string(out.info.shape) << '\n';
  for (const Node& n : graph.nodes) {
    os << "  " << n.op_type << " '" << n.name << "' (";
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      os << (i ? ", " : "") << value_text(graph, n.inputs[i]);
    os << ") -> (";
    for (std::size_t i = 0; i < n.outputs.size(); ++i)
      os << (i ? ", " : "") << value_text(graph, n.outputs[i]);
    os << ")\n";
  }
  for (const auto& [name, t] : graph.initializers)
    os << "  initializer " << value_text(graph, name) << '\n';
  return os.str();
}

QuantizationParameters quantization_parameters(const Graph& graph, const Node& node) {
  if (node.op_type != "QuantizeLinear" && node.op_type != "DequantizeLinear")
    throw InvalidArgument(node.describe() + " is not a QuantizeLinear or DequantizeLinear node");
  if (node.inputs.size() < 2 || node.inputs[1].empty())
    throw InvalidArgument(node.describe() + " has no scale input");
  const FloatTensor* scale = graph.find_initializer(node.inputs[1]);
  if (!scale)
    throw InvalidArgument(node.describe() + ": its scale '" + node.inputs[1] +
                          "' is computed at run time; only constant scales are supported");
  QuantizationParameters p;
  p.scale = *scale;
  const bool has_zp = node.inputs.size() >= 3 && !node.inputs[2].empty();
  if (has_zp) {
    const FloatTensor* zp = graph.find_initializer(node.inputs[2]);
    if (!zp)
      throw InvalidArgument(node.describe() + ": its zero point '" + node.inputs[2] +
                            "' is computed at run time; only constant zero points are supported");
    p.zero_point = *zp;
    p.zero_point_type = graph.value_info(node.inputs[2]).type;
  } else {
    p.zero_point = FloatTensor(scale->shape());
  }
  if (scale->rank() == 1 && scale->size() > 1) {
    const auto rank = static_cast<std::int64_t>(graph.value_info(node.inputs[0]).shape.size());
    std::int64_t axis = node.int_attribute("axis", 1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank)
      throw InvalidArgument(node.describe() + ": axis " + std::to_string(axis) +
                            " is out of range for its input of rank " + std::to_string(rank));
    p.axis = axis;
    const std::int64_t dim = graph.value_info(node.inputs[0]).shape[static_cast<std::size_t>(axis)];
    if (static_cast<std::int64_t>(scale->size()) != dim)
      throw InvalidArgument(node.describe() + ": its per-axis scale has " +
                            std::to_string(scale->size()) + " values for axis " +
                            std::to_string(axis) + " of size " + std::to_string(dim));
  }
  if (p.zero_point.size() != p.scale.size())
    throw InvalidArgument(node.describe() + ": its zero point has " +
                          std::to_string(p.zero_point.size()) + " values and its scale " +
                          std::to_string(p.scale.size()));
  return p;
}

}  // namespace torusml::onnx
