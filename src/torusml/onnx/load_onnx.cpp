#include "torusml/onnx/load_onnx.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <fstream>
#include <iterator>
#include <set>
#include <unordered_map>
#include <utility>

#include "torusml/common/error.h"
#include "torusml/onnx/ops.h"
#include "torusml/onnx/tensor_proto.h"

namespace torusml::onnx {

namespace {

using detail::TypedTensor;

constexpr const char* kNotOnnx = "not a valid ONNX model: ";

bool is_default_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

std::int64_t default_opset(const ::onnx::ModelProto& model) {
  std::int64_t opset = -1;
  for (const auto& id : model.opset_import())
    if (is_default_domain(id.domain())) opset = id.version();
  if (opset < 0) {
    if (model.opset_import_size() == 0)
      throw SerializationError(std::string(kNotOnnx) + "it imports no opset");
    throw InvalidArgument("the model does not import the default ONNX domain (ai.onnx)");
  }
  if (opset < kMinOpset || opset > kMaxOpset)
    throw InvalidArgument("the model uses opset " + std::to_string(opset) +
                          "; TorusML reads opsets " + std::to_string(kMinOpset) + " to " +
                          std::to_string(kMaxOpset) +
                          ": export with opset_version in that range (e.g. torch.onnx.export(..., "
                          "opset_version=17))");
  return opset;
}

// ---- Graph inputs
// --------------------------------------------------------------------------------

ValueInfo static_input(const ::onnx::ValueInfoProto& vi, const LoadOptions& options) {
  const std::string& name = vi.name();
  if (!vi.type().has_tensor_type())
    throw InvalidArgument("graph input '" + name +
                          "' is not a tensor (sequences, maps and "
                          "optionals are not supported)");
  const auto& tt = vi.type().tensor_type();
  ValueInfo info;
  info.type = element_type_from_onnx(tt.elem_type());
  const auto override = options.input_shapes.find(name);
  if (override != options.input_shapes.end()) {
    if (tt.has_shape() && tt.shape().dim_size() != static_cast<int>(override->second.size()))
      throw InvalidArgument("LoadOptions::input_shapes gives input '" + name + "' the shape " +
                            shape_to_string(override->second) + " but the model declares rank " +
                            std::to_string(tt.shape().dim_size()));
    for (const std::int64_t d : override->second)
      if (d < 1)
        throw InvalidArgument("LoadOptions::input_shapes gives input '" + name + "' the shape " +
                              shape_to_string(override->second) + "; dimensions must be >= 1");
    info.shape = override->second;
    return info;
  }
  if (!tt.has_shape())
    throw InvalidArgument("graph input '" + name +
                          "' has no declared shape; give it one with "
                          "LoadOptions::input_shapes");
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto& dim = tt.shape().dim(i);
    if (dim.has_dim_value() && dim.dim_value() > 0) {
      info.shape.push_back(dim.dim_value());
      continue;
    }
    const std::string label =
        dim.has_dim_param() ? "'" + dim.dim_param() + "'" : std::string("unknown");
    if (i == 0) {
      info.shape.push_back(options.batch_size);
      continue;
    }
    throw InvalidArgument(
        "graph input '" + name + "' has a dynamic dimension " + std::to_string(i) + " (" + label +
        "); only the leading (batch) dimension is fixed automatically: export "
        "the model with a static shape or give it with LoadOptions::input_shapes");
  }
  return info;
}

// ---- Nodes
// ---------------------------------------------------------------------------------------

Attribute convert_attribute(const ::onnx::AttributeProto& a, const Node& node) {
  Attribute out;
  using A = ::onnx::AttributeProto;
  switch (a.type()) {
    case A::INT:
      out.kind = AttributeKind::Int;
      out.i = a.i();
      break;
    case A::FLOAT:
      out.kind = AttributeKind::Float;
      out.f = static_cast<double>(a.f());
      break;
    case A::STRING:
      out.kind = AttributeKind::String;
      out.s = a.s();
      break;
    case A::INTS:
      out.kind = AttributeKind::Ints;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case A::FLOATS:
      out.kind = AttributeKind::Floats;
      for (const float f : a.floats()) out.floats.push_back(static_cast<double>(f));
      break;
    case A::TENSOR: {
      out.kind = AttributeKind::Tensor;
      TypedTensor t =
          detail::tensor_from_proto(a.t(), node.describe() + ": attribute '" + a.name() + "'");
      out.tensor = std::move(t.tensor);
      out.tensor_type = t.type;
      break;
    }
    default:
      throw UnsupportedOperator(node.describe() + ": attribute '" + a.name() + "' of type " +
                                A::AttributeType_Name(a.type()) + " is not supported");
  }
  return out;
}

Node convert_node(const ::onnx::NodeProto& p, std::size_t index) {
  Node n;
  n.op_type = p.op_type();
  n.domain = p.domain() == "ai.onnx" ? "" : p.domain();
  n.name = p.name().empty() ? p.op_type() + "_" + std::to_string(index) : p.name();
  if (detail::find_operator(n.domain, n.op_type) == nullptr) {
    std::string what = "operator " + n.op_type;
    if (!n.domain.empty()) what += " of domain " + n.domain;
    throw UnsupportedOperator(what + " (" + n.describe() +
                              ") is not supported by TorusML; replace it in the model (the "
                              "supported operators are listed in README.md)");
  }
  n.inputs.assign(p.input().begin(), p.input().end());
  n.outputs.assign(p.output().begin(), p.output().end());
  for (const auto& a : p.attribute()) {
    if (n.attributes.count(a.name()))
      throw InvalidArgument(n.describe() + " has the attribute '" + a.name() + "' twice");
    n.attributes[a.name()] = convert_attribute(a, n);
  }
  return n;
}

// Inputs that became attributes across opsets: (op, input index, attribute, kind).
struct MovedInput {
  const char* op;
  std::size_t index;
  const char* attribute;
  AttributeKind kind;
};

constexpr MovedInput kMovedInputs[] = {
    {"Reshape", 1, "shape", AttributeKind::Ints},  {"Expand", 1, "shape", AttributeKind::Ints},
    {"Squeeze", 1, "axes", AttributeKind::Ints},   {"Unsqueeze", 1, "axes", AttributeKind::Ints},
    {"ReduceSum", 1, "axes", AttributeKind::Ints}, {"ReduceMean", 1, "axes", AttributeKind::Ints},
    {"Clip", 1, "min", AttributeKind::Float},      {"Clip", 2, "max", AttributeKind::Float},
    {"Pad", 1, "pads", AttributeKind::Ints},       {"Pad", 2, "value", AttributeKind::Float},
    {"Pad", 3, "axes", AttributeKind::Ints},       {"Slice", 1, "starts", AttributeKind::Ints},
    {"Slice", 2, "ends", AttributeKind::Ints},     {"Slice", 3, "axes", AttributeKind::Ints},
    {"Slice", 4, "steps", AttributeKind::Ints},    {"OneHot", 1, "depth", AttributeKind::Int},
};

// Operands that must be constant although they stay inputs.
bool must_be_constant(const Node& n, std::size_t index) {
  return (n.op_type == "ConstantOfShape" && index == 0) || n.op_type == "Range";
}

[[noreturn]] void throw_dynamic(const Node& n, std::size_t index) {
  throw InvalidArgument(n.describe() + ": its input " + std::to_string(index) + " ('" +
                        n.inputs[index] +
                        "') is computed at run time, but TorusML needs it constant (static shapes "
                        "and parameters): export the model with static shapes (no dynamic axes "
                        "besides the batch, fixed by LoadOptions::batch_size) and constant "
                        "operands");
}

// Rewrites the moved inputs of `n` into attributes (they must be constants) and drops them.
void normalize_node(Node& n, const std::map<std::string, FloatTensor>& constants,
                    std::int64_t rank0) {
  std::vector<bool> moved(n.inputs.size(), false);
  for (const MovedInput& m : kMovedInputs) {
    if (n.op_type != m.op || m.index >= n.inputs.size()) continue;
    moved[m.index] = true;
    const std::string& value = n.inputs[m.index];
    if (value.empty()) continue;
    const auto it = constants.find(value);
    if (it == constants.end()) throw_dynamic(n, m.index);
    const FloatTensor& t = it->second;
    Attribute a;
    a.kind = m.kind;
    if (m.kind == AttributeKind::Ints) {
      if (t.rank() > 1)
        throw InvalidArgument(n.describe() + ": its input '" + value + "' must be 1-D");
      a.ints = detail::to_int64s(t);
    } else {
      if (t.size() != 1)
        throw InvalidArgument(n.describe() + ": its input '" + value + "' must hold one value");
      if (m.kind == AttributeKind::Int) a.i = detail::to_int64(t[0]);
      a.f = t[0];
    }
    n.attributes[m.attribute] = std::move(a);
  }
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < n.inputs.size(); ++i)
    if (!moved[i]) kept.push_back(n.inputs[i]);
  n.inputs = std::move(kept);
  // Pad with "axes" (opset 18): expand the pads to every axis.
  if (n.op_type == "Pad" && n.has_attribute("axes")) {
    const std::vector<std::int64_t> axes = n.ints_attribute("axes");
    const std::vector<std::int64_t> pads = n.ints_attribute("pads");
    if (pads.size() != 2 * axes.size())
      throw InvalidArgument(n.describe() + ": pads must have 2 entries per axis in axes");
    std::vector<std::int64_t> full(2 * static_cast<std::size_t>(rank0), 0);
    for (std::size_t i = 0; i < axes.size(); ++i) {
      std::int64_t a = axes[i] < 0 ? axes[i] + rank0 : axes[i];
      if (a < 0 || a >= rank0) throw InvalidArgument(n.describe() + ": axes are out of range");
      full[static_cast<std::size_t>(a)] = pads[i];
      full[static_cast<std::size_t>(a + rank0)] = pads[i + axes.size()];
    }
    Attribute p;
    p.kind = AttributeKind::Ints;
    p.ints = std::move(full);
    n.attributes["pads"] = std::move(p);
    n.attributes.erase("axes");
  }
}

// ---- ONNX checker and shape inference
// ------------------------------------------------------------

// A copy of the model for ONNX's checker and shape inference: the fixed input shapes, no
// value_info, no output shapes; Gelu of com.microsoft, which ONNX 1.12 does not know, checked as
// an Identity.
::onnx::ModelProto checkable_copy(const ::onnx::ModelProto& model,
                                  const std::map<std::string, ValueInfo>& inputs) {
  ::onnx::ModelProto copy = model;
  auto* g = copy.mutable_graph();
  g->clear_value_info();
  for (auto& vi : *g->mutable_input()) {
    const auto it = inputs.find(vi.name());
    if (it == inputs.end() || !vi.type().has_tensor_type()) continue;
    auto* shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->clear_dim();
    for (const std::int64_t d : it->second.shape) shape->add_dim()->set_dim_value(d);
  }
  for (auto& vi : *g->mutable_output())
    if (vi.type().has_tensor_type()) vi.mutable_type()->mutable_tensor_type()->clear_shape();
  for (auto& node : *g->mutable_node()) {
    if (node.op_type() == "Gelu" && node.domain() == "com.microsoft") {
      node.set_op_type("Identity");
      node.set_domain("");
      node.clear_attribute();
    }
  }
  return copy;
}

// ONNX's checker (SerializationError if it rejects the model). The checker of ONNX 1.12 wants
// output shapes: it gets empty ones, removed again afterwards.
void check_model(::onnx::ModelProto& copy) {
  auto* g = copy.mutable_graph();
  for (auto& vi : *g->mutable_output())
    if (vi.type().has_tensor_type()) vi.mutable_type()->mutable_tensor_type()->mutable_shape();
  try {
    ::onnx::checker::check_model(copy);
  } catch (const std::exception& e) {
    throw SerializationError(std::string(kNotOnnx) + "the ONNX checker rejects it: " + e.what());
  }
  for (auto& vi : *g->mutable_output())
    if (vi.type().has_tensor_type()) vi.mutable_type()->mutable_tensor_type()->clear_shape();
}

// The static shapes ONNX's shape inference gives the values, for the cross-check. ONNX 1.12's
// inference is not robust to malformed nodes (it can crash): it runs only on models whose every
// node TorusML has already run successfully.
std::unordered_map<std::string, Shape> infer_shapes(::onnx::ModelProto& copy) {
  try {
    ::onnx::shape_inference::InferShapes(copy, ::onnx::OpSchemaRegistry::Instance(),
                                         ::onnx::ShapeInferenceOptions(false, 0, false));
  } catch (const std::exception& e) {
    throw InvalidArgument(std::string("the model is inconsistent (ONNX shape inference): ") +
                          e.what());
  }
  std::unordered_map<std::string, Shape> shapes;
  for (const auto& vi : copy.graph().value_info()) {
    if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) continue;
    Shape s;
    bool known = true;
    for (const auto& d : vi.type().tensor_type().shape().dim()) {
      known = known && d.has_dim_value();
      s.push_back(d.dim_value());
    }
    if (known) shapes[vi.name()] = std::move(s);
  }
  return shapes;
}

// ---- The conversion
// ------------------------------------------------------------------------------

class Converter {
 public:
  Converter(const ::onnx::ModelProto& model, const LoadOptions& options)
      : model_(model), options_(options) {}

  Graph run() {
    const auto& g = model_.graph();
    graph_.name = g.name();
    graph_.opset = default_opset(model_);
    read_initializers(g);
    std::map<std::string, ValueInfo> inputs;
    for (const auto& vi : g.input()) {
      if (graph_.initializers.count(vi.name())) continue;  // IR < 4: initializers listed as inputs
      if (inputs.count(vi.name()))
        throw SerializationError(std::string(kNotOnnx) + "the input '" + vi.name() +
                                 "' is declared twice");
      const ValueInfo info = static_input(vi, options_);
      check_size(info.shape, "graph input '" + vi.name() + "'");
      inputs[vi.name()] = info;
      graph_.inputs.push_back({vi.name(), info});
      graph_.values[vi.name()] = info;
    }
    for (const auto& [name, shape] : options_.input_shapes)
      if (!inputs.count(name))
        throw InvalidArgument("LoadOptions::input_shapes names '" + name +
                              "', which is not an input of the model");
    // Structural checks first, for messages that name the node: operators TorusML implements,
    // values defined before they are read.
    std::vector<Node> nodes;
    std::set<std::string> defined;
    for (const auto& [name, info] : graph_.values) defined.insert(name);
    for (int i = 0; i < g.node_size(); ++i) {
      nodes.push_back(convert_node(g.node(i), static_cast<std::size_t>(i)));
      for (const std::string& in : nodes.back().inputs)
        if (!in.empty() && !defined.count(in))
          throw InvalidArgument(nodes.back().describe() + " reads '" + in +
                                "', which is neither a graph input, an initializer nor the "
                                "output of an earlier node: add the missing initializer (or sort "
                                "the nodes topologically)");
      for (const std::string& out : nodes.back().outputs)
        if (!out.empty()) defined.insert(out);
    }
    ::onnx::ModelProto copy = checkable_copy(model_, inputs);
    check_model(copy);
    for (Node& node : nodes) process(std::move(node));
    cross_check(infer_shapes(copy));
    for (const auto& vi : g.output()) {
      const auto it = graph_.values.find(vi.name());
      if (it == graph_.values.end())
        throw InvalidArgument("graph output '" + vi.name() + "' is computed by no node");
      graph_.outputs.push_back({vi.name(), it->second});
    }
    drop_unused_initializers();
    return std::move(graph_);
  }

 private:
  void check_size(const Shape& shape, const std::string& what) const {
    if (element_count(shape) > options_.max_tensor_elements)
      throw InvalidArgument(what + " of shape " + shape_to_string(shape) +
                            " has more elements than LoadOptions::max_tensor_elements (" +
                            std::to_string(options_.max_tensor_elements) + ")");
  }

  void read_initializers(const ::onnx::GraphProto& g) {
    if (g.sparse_initializer_size() > 0)
      throw InvalidArgument("sparse initializers are not supported; densify them before export");
    for (const auto& t : g.initializer()) {
      if (graph_.initializers.count(t.name()))
        throw SerializationError(std::string(kNotOnnx) + "the initializer '" + t.name() +
                                 "' is defined twice");
      TypedTensor tt = detail::tensor_from_proto(t, "initializer '" + t.name() + "'");
      check_size(tt.tensor.shape(), "initializer '" + t.name() + "'");
      graph_.values[t.name()] = {tt.type, tt.tensor.shape()};
      graph_.initializers[t.name()] = std::move(tt.tensor);
    }
  }

  // Every output of a kept node has the shape ONNX's inference gives it, where it gives one.
  void cross_check(const std::unordered_map<std::string, Shape>& inferred) const {
    for (const Node& node : graph_.nodes)
      for (const std::string& name : node.outputs) {
        const auto it = inferred.find(name);
        if (name.empty() || it == inferred.end()) continue;
        const Shape& ours = graph_.values.at(name).shape;
        if (it->second != ours)
          throw InvalidArgument(node.describe() + ": its output '" + name + "' has shape " +
                                shape_to_string(ours) + " but ONNX's shape inference gives " +
                                shape_to_string(it->second) +
                                "; the model is not supported as it is");
      }
  }

  void process(Node node) {
    for (std::size_t i = 0; i < node.inputs.size(); ++i)
      if (!node.inputs[i].empty() && !graph_.values.count(node.inputs[i]))
        throw InvalidArgument(node.describe() + " reads '" + node.inputs[i] +
                              "', which no earlier node defines");
    for (std::size_t i = 0; i < node.inputs.size(); ++i)
      if (!node.inputs[i].empty() && must_be_constant(node, i) &&
          !graph_.initializers.count(node.inputs[i]))
        throw_dynamic(node, i);
    const std::int64_t rank0 =
        node.inputs.empty() || node.inputs[0].empty()
            ? 0
            : static_cast<std::int64_t>(graph_.values[node.inputs[0]].shape.size());
    normalize_node(node, graph_.initializers, rank0);

    // Run the node on its constants, and on zeros for the other inputs (every output shape
    // depends on the shapes of those inputs only).
    bool all_constant = true;
    std::vector<FloatTensor> zeros;
    zeros.reserve(node.inputs.size());
    std::vector<const FloatTensor*> args(node.inputs.size(), nullptr);
    std::vector<ElementType> types(node.inputs.size(), ElementType::Float);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& v = node.inputs[i];
      if (v.empty()) continue;
      const ValueInfo& info = graph_.values[v];
      types[i] = info.type;
      if (const FloatTensor* c = graph_.find_initializer(v)) {
        args[i] = c;
      } else {
        all_constant = false;
        zeros.emplace_back(info.shape);
        args[i] = &zeros.back();
      }
    }
    std::vector<FloatTensor> outputs =
        detail::evaluate_node(node, args, types, options_.max_tensor_elements);
    const std::vector<ElementType> out_types = detail::infer_output_types(node, types);
    const bool quantization =
        node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear";
    const bool fold = !quantization && (all_constant || node.op_type == "Shape");
    for (std::size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& name = node.outputs[i];
      if (name.empty()) continue;
      if (graph_.values.count(name))
        throw SerializationError(std::string(kNotOnnx) + "the value '" + name +
                                 "' is defined twice (" + node.describe() + ")");
      graph_.values[name] = {out_types[i], outputs[i].shape()};
      if (fold) graph_.initializers[name] = std::move(outputs[i]);
    }
    if (!fold) graph_.nodes.push_back(std::move(node));
  }

  void drop_unused_initializers() {
    std::set<std::string> used;
    for (const Node& n : graph_.nodes) used.insert(n.inputs.begin(), n.inputs.end());
    for (const GraphInput& o : graph_.outputs) used.insert(o.name);
    for (auto it = graph_.initializers.begin(); it != graph_.initializers.end();) {
      if (used.count(it->first)) {
        ++it;
      } else {
        graph_.values.erase(it->first);
        it = graph_.initializers.erase(it);
      }
    }
  }

  const ::onnx::ModelProto& model_;
  const LoadOptions& options_;
  Graph graph_;
};

}  // namespace

Graph load_onnx_model(std::span<const std::uint8_t> bytes, const LoadOptions& options) {
  if (options.batch_size < 1)
    throw InvalidArgument("LoadOptions::batch_size must be >= 1, not " +
                          std::to_string(options.batch_size));
  if (options.max_tensor_elements < 1)
    throw InvalidArgument("LoadOptions::max_tensor_elements must be >= 1");
  if (bytes.size() > static_cast<std::size_t>(INT_MAX))
    throw SerializationError(std::string(kNotOnnx) +
                             "larger than 2 GiB, the limit of a protobuf message");
  ::onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw SerializationError(std::string(kNotOnnx) +
                             "the bytes do not parse as an ONNX ModelProto (truncated or corrupt "
                             "file?)");
  if (!model.has_graph() || model.ir_version() <= 0)
    throw SerializationError(std::string(kNotOnnx) +
                             (model.has_graph() ? "no IR version" : "no graph") +
                             " (truncated or corrupt file, or another kind of file?)");
  return Converter(model, options).run();
}

Graph load_onnx_model(const std::filesystem::path& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument("cannot open the ONNX file '" + path.string() + "'");
  const std::vector<char> data((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  if (in.bad()) throw InvalidArgument("cannot read the ONNX file '" + path.string() + "'");
  return load_onnx_model(std::span<const std::uint8_t>(
                             reinterpret_cast<const std::uint8_t*>(data.data()), data.size()),
                         options);
}

}  // namespace torusml::onnx
