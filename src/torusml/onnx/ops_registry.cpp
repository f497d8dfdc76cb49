// The operator table, output element types, evaluate_node and the helpers shared by ops_*.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include "torusml/common/error.h"
#include "torusml/onnx/ops.h"

namespace torusml::onnx::detail {

const FloatTensor& OpContext::input(std::size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing (the operator needs it)");
  return *inputs[i];
}

ElementType OpContext::input_type(std::size_t i) const {
  return i < input_types.size() ? input_types[i] : ElementType::Float;
}

void OpContext::check_shape(const Shape& shape) const {
  std::int64_t n = 0;
  try {
    n = element_count(shape);
  } catch (const InvalidArgument& e) {
    fail(std::string("its output shape is invalid: ") + e.what());
  }
  if (n > max_elements)
    fail("its output of shape " + shape_to_string(shape) + " has " + std::to_string(n) +
         " elements, more than the limit of " + std::to_string(max_elements));
}

FloatTensor OpContext::allocate(Shape shape) const {
  check_shape(shape);
  return FloatTensor(std::move(shape));
}

void OpContext::fail(const std::string& what) const {
  throw InvalidArgument(node.describe() + ": " + what);
}

void OpContext::unsupported(const std::string& what) const {
  throw UnsupportedOperator(node.describe() + ": " + what + " is not supported");
}

namespace {

const OpTable& op_table() {
  static const OpTable table = [] {
    OpTable t;
    register_elementwise_ops(t);
    register_linear_ops(t);
    register_shape_ops(t);
    register_pool_conv_ops(t);
    return t;
  }();
  return table;
}

}  // namespace

const OpDefinition* find_operator(const std::string& domain, const std::string& op_type) {
  const bool default_domain = domain.empty() || domain == "ai.onnx";
  if (!default_domain && !(domain == "com.microsoft" && op_type == "Gelu")) return nullptr;
  const auto it = op_table().find(op_type);
  return it == op_table().end() ? nullptr : &it->second;
}

std::vector<std::string> supported_operators() {
  std::vector<std::string> names;
  for (const auto& [name, def] : op_table()) names.push_back(name);
  return names;
}

std::vector<ElementType> infer_output_types(const Node& node,
                                            std::span<const ElementType> input_types) {
  const std::string& op = node.op_type;
  const auto in = [&](std::size_t i) {
    return i < input_types.size() ? input_types[i] : ElementType::Float;
  };
  ElementType t = in(0);
  if (op == "Shape") {
    t = ElementType::Int64;
  } else if (op == "Cast") {
    t = element_type_from_onnx(node.int_attribute("to", 1));
  } else if (op == "Greater" || op == "GreaterOrEqual" || op == "Less" || op == "LessOrEqual" ||
             op == "Equal" || op == "Not" || op == "And" || op == "Or" || op == "Xor") {
    t = ElementType::Bool;
  } else if (op == "Where") {
    t = in(1);
  } else if (op == "OneHot") {
    t = in(1);
  } else if (op == "QuantizeLinear") {
    t = input_types.size() >= 3 ? in(2) : ElementType::UInt8;
  } else if (op == "DequantizeLinear") {
    t = in(1);
  } else if (op == "Constant" || op == "ConstantOfShape") {
    t = node.has_attribute("value") ? node.tensor_attribute("value").tensor_type
        : (node.has_attribute("value_int") || node.has_attribute("value_ints"))
            ? ElementType::Int64
            : ElementType::Float;
  }
  std::vector<ElementType> types(node.outputs.size(), t);
  if (op == "Dropout" && types.size() > 1) types[1] = ElementType::Bool;
  return types;
}

std::vector<FloatTensor> evaluate_node(const Node& node, std::span<const FloatTensor* const> inputs,
                                       std::span<const ElementType> input_types,
                                       std::int64_t max_elements) {
  const OpDefinition* def = find_operator(node.domain, node.op_type);
  if (def == nullptr) {
    std::string what = "operator " + node.op_type;
    if (!node.domain.empty() && node.domain != "ai.onnx") what += " of domain " + node.domain;
    throw UnsupportedOperator(what + " (" + node.describe() +
                              ") is not supported by TorusML; replace it in the model or ask for "
                              "its support");
  }
  const OpContext ctx{node, inputs, input_types, max_elements};
  std::size_t present = inputs.size();
  while (present > 0 && inputs[present - 1] == nullptr) --present;
  if (present < def->min_inputs || present > def->max_inputs)
    ctx.fail("has " + std::to_string(present) + " inputs; the operator takes " +
             std::to_string(def->min_inputs) +
             (def->max_inputs == def->min_inputs ? "" : " to " + std::to_string(def->max_inputs)));
  for (std::size_t i = 0; i < def->min_inputs; ++i)
    if (inputs[i] == nullptr) ctx.fail("its required input " + std::to_string(i) + " is empty");
  std::vector<FloatTensor> out = def->evaluate(ctx);
  if (node.outputs.size() > out.size()) {
    for (std::size_t i = out.size(); i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty())
        ctx.unsupported("output " + std::to_string(i) + " ('" + node.outputs[i] + "')");
  }
  out.resize(node.outputs.size());
  return out;
}

std::int64_t to_int64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<std::int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

std::vector<std::int64_t> to_int64s(const FloatTensor& t) {
  std::vector<std::int64_t> v(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) v[i] = to_int64(t[i]);
  return v;
}

std::size_t normalize_axis(const OpContext& ctx, std::int64_t axis, std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

std::vector<std::int64_t> strides_of(const Shape& shape) {
  std::vector<std::int64_t> s(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

Shape broadcast_shapes(const OpContext& ctx, std::span<const Shape> shapes) {
  std::size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    const std::size_t off = rank - s.size();
    for (std::size_t d = 0; d < s.size(); ++d) {
      std::int64_t& o = out[off + d];
      if (s[d] == o || s[d] == 1) continue;
      if (o == 1) {
        o = s[d];
        continue;
      }
      std::string text;
      for (const Shape& t : shapes) text += (text.empty() ? "" : " and ") + shape_to_string(t);
      ctx.fail("its input shapes " + text + " cannot be broadcast together");
    }
  }
  ctx.check_shape(out);
  return out;
}

}  // namespace torusml::onnx::detail
