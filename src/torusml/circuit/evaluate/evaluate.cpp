// Clear evaluation: evaluate_node (per-op dispatch, elementwise kernels) and evaluate_clear.
// The other kernels are in evaluate_kernels.cpp and evaluate_layout.cpp.
#include "torusml/circuit/evaluate/evaluate.h"

#include <optional>
#include <sstream>

#include "torusml/circuit/evaluate/evaluate_kernels.h"
#include "torusml/circuit/ir/int_math.h"
#include "torusml/circuit/ir/messages.h"
#include "torusml/circuit/ir/shape_inference.h"

namespace torusml::circuit {

namespace {

using detail::fail;

Tensor eval_neg(const Tensor& x, std::string_view label) {
  Tensor out = x;
  bool overflow = false;
  for (std::int64_t& v : out.values()) {
    if (__builtin_sub_overflow(std::int64_t{0}, v, &v)) overflow = true;
  }
  if (overflow) detail::throw_overflow(label);
  return out;
}

Tensor eval_table(const Tensor& x, const TableAttr& attr) {
  Tensor out = x;
  std::span<std::int64_t> values = out.values();
  if (attr.element_table.empty()) {
    const auto& fn = attr.tables[0].fn;
    for (std::int64_t& v : values) v = fn(v);
  } else {
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = attr.tables[static_cast<std::size_t>(attr.element_table[i])].fn(values[i]);
    }
  }
  return out;
}

Tensor eval_round(const Tensor& x, const RoundAttr& attr, std::string_view label) {
  Tensor out = x;
  bool overflow = false;
  for (std::int64_t& v : out.values()) {
    if (!detail::round_bit_pattern_value(v, attr.lsbs_to_remove, &v)) overflow = true;
  }
  if (overflow) detail::throw_overflow(label);
  return out;
}

template <class A>
const A& attr(const Node& node) {
  return std::get<A>(node.attributes);  // checked by infer_shape
}

}  // namespace

Tensor evaluate_node(const Node& node, std::span<const Tensor* const> inputs) {
  const std::string_view label = node.label;
  if (node.op == OpKind::Input) {
    fail(label, "evaluate_node cannot evaluate an input node; its value is a program argument");
  }
  std::vector<const Shape*> shapes;
  for (const Tensor* t : inputs) {
    if (t == nullptr) fail(label, "evaluate_node: an operand is null");
    shapes.push_back(&t->shape());
  }
  const Shape shape = detail::infer_shape(node.op, shapes, node.attributes, label);
  if (shape != node.shape) {
    std::ostringstream os;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      os << (i > 0 ? ", " : "") << shape_to_string(*shapes[i]);
    }
    fail(label, "operands of shapes ", os.str(), " give a result of shape ", shape_to_string(shape),
         " but the node's shape is ", shape_to_string(node.shape));
  }
  switch (node.op) {
    case OpKind::Input:
      break;
    case OpKind::Constant:
      return attr<ConstantAttr>(node).value;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
      return detail::eval_binary(node.op, *inputs[0], *inputs[1], shape, label);
    case OpKind::Neg:
      return eval_neg(*inputs[0], label);
    case OpKind::MatMul:
      return detail::eval_matmul(*inputs[0], *inputs[1], shape, label);
    case OpKind::Sum:
      return detail::eval_sum(*inputs[0], attr<SumAttr>(node), shape, label);
    case OpKind::Reshape:
      return Tensor(
          shape, std::vector<std::int64_t>(inputs[0]->values().begin(), inputs[0]->values().end()));
    case OpKind::Transpose:
      return detail::eval_transpose(*inputs[0], attr<TransposeAttr>(node), shape);
    case OpKind::BroadcastTo:
      return detail::eval_broadcast_to(*inputs[0], shape);
    case OpKind::Concatenate:
      return detail::eval_concatenate(inputs, attr<ConcatAttr>(node), shape);
    case OpKind::Slice:
      return detail::eval_slice(*inputs[0], attr<SliceAttr>(node), shape);
    case OpKind::Take:
      return detail::eval_take(*inputs[0], attr<TakeAttr>(node), shape);
    case OpKind::Pad:
      return detail::eval_pad(*inputs[0], attr<PadAttr>(node), shape);
    case OpKind::TableLookup:
      return eval_table(*inputs[0], attr<TableAttr>(node));
    case OpKind::Round:
      return eval_round(*inputs[0], attr<RoundAttr>(node), label);
    case OpKind::Conv2d:
      return detail::eval_conv2d(*inputs[0], *inputs[1], inputs.size() > 2 ? inputs[2] : nullptr,
                                 attr<Conv2dAttr>(node), shape, label);
    case OpKind::SumPool2d:
      return detail::eval_sum_pool2d(*inputs[0], attr<Pool2dAttr>(node), shape, label);
  }
  fail(label, "unknown operation kind ", static_cast<int>(node.op));
}

std::vector<Tensor> evaluate_clear(const Program& program, std::span<const Tensor> inputs,
                                   const NodeObserver& observe) {
  const std::size_t count = program.nodes.size();
  if (inputs.size() != program.inputs.size()) {
    fail("evaluate_clear", "the program takes ", program.inputs.size(), " input(s), got ",
         inputs.size());
  }
  // Argument index of every input node.
  std::vector<std::int64_t> argument(count, -1);
  for (std::size_t k = 0; k < program.inputs.size(); ++k) {
    const NodeId id = program.inputs[k];
    if (id < 0 || static_cast<std::size_t>(id) >= count || program.node(id).op != OpKind::Input) {
      fail("evaluate_clear", "program input ", k, " (%", id, ") is not an input node");
    }
    const Node& node = program.node(id);
    if (inputs[k].shape() != node.shape) {
      fail("evaluate_clear", "input '", std::get<InputAttr>(node.attributes).name, "' (argument ",
           k, ") has shape ", shape_to_string(inputs[k].shape()), " but the program expects ",
           shape_to_string(node.shape));
    }
    argument[static_cast<std::size_t>(id)] = static_cast<std::int64_t>(k);
  }
  // Values are released after their last use, except the outputs.
  std::vector<std::size_t> last_use(count, 0);
  for (std::size_t i = 0; i < count; ++i) {
    for (NodeId input : program.nodes[i].inputs) {
      if (input < 0 || static_cast<std::size_t>(input) >= i) {
        fail("evaluate_clear", "node %", i, " (", program.nodes[i].label, ") refers to %", input,
             ", which does not precede it; the program is not in topological order");
      }
      last_use[static_cast<std::size_t>(input)] = i;
    }
  }
  for (NodeId output : program.outputs) {
    if (output < 0 || static_cast<std::size_t>(output) >= count) {
      fail("evaluate_clear", "output %", output, " is not a node of the program");
    }
    last_use[static_cast<std::size_t>(output)] = count;
  }

  std::vector<std::optional<Tensor>> owned(count);
  std::vector<const Tensor*> value(count, nullptr);
  std::vector<const Tensor*> operands;
  for (std::size_t i = 0; i < count; ++i) {
    const Node& node = program.nodes[i];
    if (node.op == OpKind::Input) {
      if (argument[i] < 0) {
        fail("evaluate_clear", "input node %", i, " (", node.label,
             ") is not listed among the program's inputs");
      }
      value[i] = &inputs[static_cast<std::size_t>(argument[i])];
    } else {
      operands.clear();
      for (NodeId input : node.inputs) operands.push_back(value[static_cast<std::size_t>(input)]);
      owned[i] = evaluate_node(node, operands);
      value[i] = &*owned[i];
    }
    if (observe) observe(static_cast<NodeId>(i), *value[i]);
    if (last_use[i] <= i) owned[i].reset();  // neither an operand nor an output
    for (NodeId input : node.inputs) {
      const auto k = static_cast<std::size_t>(input);
      if (last_use[k] == i) owned[k].reset();
    }
  }
  std::vector<Tensor> results;
  results.reserve(program.outputs.size());
  for (NodeId output : program.outputs) results.push_back(*value[static_cast<std::size_t>(output)]);
  return results;
}

}  // namespace torusml::circuit
