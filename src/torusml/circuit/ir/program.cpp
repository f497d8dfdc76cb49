#include "torusml/circuit/ir/program.h"

#include <set>
#include <sstream>

#include "torusml/circuit/ir/messages.h"
#include "torusml/circuit/ir/shape_inference.h"
#include "torusml/common/error.h"

namespace torusml::circuit {

const char* to_string(OpKind op) {
  switch (op) {
    case OpKind::Input:
      return "input";
    case OpKind::Constant:
      return "constant";
    case OpKind::Add:
      return "add";
    case OpKind::Sub:
      return "sub";
    case OpKind::Neg:
      return "neg";
    case OpKind::Mul:
      return "mul";
    case OpKind::MatMul:
      return "matmul";
    case OpKind::Sum:
      return "sum";
    case OpKind::Reshape:
      return "reshape";
    case OpKind::Transpose:
      return "transpose";
    case OpKind::BroadcastTo:
      return "broadcast_to";
    case OpKind::Concatenate:
      return "concatenate";
    case OpKind::Slice:
      return "slice";
    case OpKind::Take:
      return "take";
    case OpKind::Pad:
      return "pad";
    case OpKind::TableLookup:
      return "table_lookup";
    case OpKind::Round:
      return "round";
    case OpKind::Conv2d:
      return "conv2d";
    case OpKind::SumPool2d:
      return "sum_pool2d";
  }
  return "unknown_op";
}

namespace {

std::string describe(const Node& node, std::size_t index) {
  std::ostringstream os;
  os << "Program::validate: node %" << index << " (" << (node.label.empty() ? "?" : node.label)
     << ")";
  return os.str();
}

void validate_node(const Program& program, std::size_t index) {
  const Node& node = program.nodes[index];
  const std::string what = describe(node, index);
  std::vector<const Shape*> shapes;
  std::size_t encrypted_operands = 0;
  for (NodeId input : node.inputs) {
    if (input < 0 || static_cast<std::size_t>(input) >= index) {
      detail::fail(what, "operand %", input,
                   " does not precede the node; nodes must be in topological order");
    }
    shapes.push_back(&program.nodes[static_cast<std::size_t>(input)].shape);
    if (program.nodes[static_cast<std::size_t>(input)].encrypted) ++encrypted_operands;
  }
  Shape shape;
  bool is_encrypted = false;
  if (node.op == OpKind::Input) {
    const auto* attr = std::get_if<InputAttr>(&node.attributes);
    if (attr == nullptr) detail::fail(what, "an input node needs InputAttr attributes");
    if (!node.inputs.empty()) detail::fail(what, "an input node takes no operands");
    if (attr->name.empty()) detail::fail(what, "an input node needs a name");
    try {
      element_count(node.shape);
    } catch (const InvalidArgument& e) {
      detail::fail(what, e.what());
    }
    shape = node.shape;
    is_encrypted = attr->encrypted;
  } else {
    shape = detail::infer_shape(node.op, shapes, node.attributes, what);
    is_encrypted = detail::infer_encrypted(node.op, encrypted_operands, what);
  }
  if (shape != node.shape) {
    detail::fail(what, "the recorded shape ", shape_to_string(node.shape),
                 " differs from the shape ", shape_to_string(shape),
                 " computed from its operands and attributes");
  }
  if (is_encrypted != node.encrypted) {
    detail::fail(what, "recorded as ", node.encrypted ? "encrypted" : "clear",
                 " but its operands make it ", is_encrypted ? "encrypted" : "clear");
  }
}

// "[1, 2, 3]", eliding the middle of long lists.
std::string short_list(const std::vector<std::int64_t>& values) {
  if (values.size() <= 16) return detail::list_str(values);
  std::ostringstream os;
  os << '[' << values[0] << ", " << values[1] << ", " << values[2] << ", ..., " << values.back()
     << "] (" << values.size() << " entries)";
  return os.str();
}

const char* bool_str(bool b) {
  return b ? "true" : "false";
}

// The node's operation and attributes as in to_text(), without its operands.
struct AttributeWriter {
  std::ostringstream& os;

  void operator()(const std::monostate&) const {}
  void operator()(const InputAttr& a) const { os << " \"" << a.name << '"'; }
  void operator()(const ConstantAttr& a) const {
    if (a.value.size() <= 16) {
      os << ' ' << to_string(a.value);
    } else {
      os << " <" << a.value.size() << " values>";
    }
  }
  void operator()(const SumAttr& a) const {
    os << " {axes=" << (a.axes.empty() ? std::string("all") : short_list(a.axes))
       << ", keepdims=" << bool_str(a.keepdims) << '}';
  }
  void operator()(const ReshapeAttr& a) const {
    os << " {shape=" << shape_to_string(a.shape) << '}';
  }
  void operator()(const TransposeAttr& a) const { os << " {perm=" << short_list(a.perm) << '}'; }
  void operator()(const BroadcastAttr& a) const {
    os << " {shape=" << shape_to_string(a.shape) << '}';
  }
  void operator()(const ConcatAttr& a) const { os << " {axis=" << a.axis << '}'; }
  void operator()(const SliceAttr& a) const {
    os << " {starts=" << short_list(a.starts) << ", stops=" << short_list(a.stops)
       << ", steps=" << short_list(a.steps) << '}';
  }
  void operator()(const TakeAttr& a) const {
    os << " {axis=" << a.axis << ", indices=" << short_list(a.indices) << '}';
  }
  void operator()(const PadAttr& a) const {
    os << " {before=" << short_list(a.before) << ", after=" << short_list(a.after)
       << ", value=" << a.value << '}';
  }
  void operator()(const TableAttr& a) const {
    os << " {tables=[";
    for (std::size_t i = 0; i < a.tables.size() && i < 8; ++i) {
      os << (i > 0 ? ", " : "") << (a.tables[i].name.empty() ? "?" : a.tables[i].name);
    }
    if (a.tables.size() > 8) os << ", ... (" << a.tables.size() << " tables)";
    os << ']' << (a.element_table.empty() ? "" : ", per element") << '}';
  }
  void operator()(const RoundAttr& a) const {
    os << " {lsbs_to_remove=" << a.lsbs_to_remove
       << ", mode=" << (a.mode == RoundingMode::Exact ? "exact" : "approximate") << '}';
  }
  void operator()(const Conv2dAttr& a) const {
    os << " {strides=" << short_list(a.strides) << ", pads=" << short_list(a.pads)
       << ", dilations=" << short_list(a.dilations) << ", groups=" << a.groups << '}';
  }
  void operator()(const Pool2dAttr& a) const {
    os << " {kernel=" << short_list(a.kernel) << ", strides=" << short_list(a.strides)
       << ", pads=" << short_list(a.pads) << '}';
  }
};

}  // namespace

void Program::validate() const {
  std::set<std::string> labels;
  std::size_t input_nodes = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    validate_node(*this, i);
    if (nodes[i].label.empty() || !labels.insert(nodes[i].label).second) {
      detail::fail(describe(nodes[i], i), "labels must be non-empty and unique");
    }
    if (nodes[i].op == OpKind::Input) ++input_nodes;
  }
  std::set<NodeId> seen_inputs;
  std::set<std::string> names;
  for (NodeId id : inputs) {
    if (id < 0 || static_cast<std::size_t>(id) >= nodes.size() || node(id).op != OpKind::Input) {
      detail::fail("Program::validate", "program input %", id, " is not an input node");
    }
    if (!seen_inputs.insert(id).second) {
      detail::fail("Program::validate", "input node %", id, " is listed twice as a program input");
    }
    const auto& name = std::get<InputAttr>(node(id).attributes).name;
    if (!names.insert(name).second) {
      detail::fail("Program::validate", "two inputs are named '", name, "'; names must be unique");
    }
  }
  if (seen_inputs.size() != input_nodes) {
    detail::fail("Program::validate", "the program has ", input_nodes, " input nodes but lists ",
                 inputs.size(), " program inputs; every input node must be listed once");
  }
  if (outputs.empty()) {
    detail::fail("Program::validate",
                 "the program has no outputs; mark results with Builder::output()");
  }
  for (NodeId id : outputs) {
    if (id < 0 || static_cast<std::size_t>(id) >= nodes.size()) {
      detail::fail("Program::validate", "output %", id, " is not a node of the program (",
                   nodes.size(), " nodes)");
    }
  }
}

std::string Program::to_text() const {
  std::ostringstream os;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    os << '%' << i << " = " << to_string(n.op);
    if (n.op != OpKind::Input && n.op != OpKind::Constant) {
      os << '(';
      for (std::size_t k = 0; k < n.inputs.size(); ++k) os << (k > 0 ? ", %" : "%") << n.inputs[k];
      os << ')';
    }
    std::visit(AttributeWriter{os}, n.attributes);
    os << " : " << (n.encrypted ? "encrypted " : "clear ") << shape_to_string(n.shape);
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      if (static_cast<std::size_t>(outputs[k]) == i) os << "  = output " << k;
    }
    os << '\n';
  }
  return os.str();
}

}  // namespace torusml::circuit
