#include "torusml/onnx/evaluate_graph.h"

#include <limits>
#include <unordered_map>

#include "torusml/common/error.h"
#include "torusml/onnx/ops.h"

namespace torusml::onnx {

std::vector<std::string> supported_operators() {
  return detail::supported_operators();
}

bool is_elementwise_operator(const std::string& op_type) {
  static const detail::OpTable elementwise = [] {
    detail::OpTable t;
    detail::register_elementwise_ops(t);
    return t;
  }();
  return elementwise.count(op_type) != 0;
}

std::vector<FloatTensor> evaluate_graph(const Graph& graph, std::span<const FloatTensor> inputs,
                                        const ValueObserver& observer) {
  if (inputs.size() != graph.inputs.size()) {
    std::string expected;
    for (const GraphInput& in : graph.inputs)
      expected += (expected.empty() ? "" : ", ") + in.name + shape_to_string(in.info.shape);
    throw InvalidArgument("the graph takes " + std::to_string(graph.inputs.size()) + " inputs (" +
                          expected + "), not " + std::to_string(inputs.size()));
  }
  std::unordered_map<std::string, FloatTensor> env;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const GraphInput& in = graph.inputs[i];
    if (inputs[i].shape() != in.info.shape)
      throw InvalidArgument("input '" + in.name + "' has shape " +
                            shape_to_string(inputs[i].shape()) + " but the graph expects " +
                            shape_to_string(in.info.shape) +
                            " (the batch size is fixed when the model is loaded: reload it with "
                            "LoadOptions::batch_size, or pass batches of that size)");
    env[in.name] = inputs[i];
    if (observer) observer(in.name, inputs[i]);
  }
  // Last node reading each value, so that intermediates are freed once consumed.
  std::unordered_map<std::string, std::size_t> last_use;
  for (std::size_t k = 0; k < graph.nodes.size(); ++k)
    for (const std::string& v : graph.nodes[k].inputs) last_use[v] = k;
  for (const GraphInput& out : graph.outputs) last_use[out.name] = graph.nodes.size();

  const auto lookup = [&](const std::string& name) -> const FloatTensor* {
    if (const auto it = env.find(name); it != env.end()) return &it->second;
    return graph.find_initializer(name);
  };
  for (std::size_t k = 0; k < graph.nodes.size(); ++k) {
    const Node& node = graph.nodes[k];
    std::vector<const FloatTensor*> args(node.inputs.size(), nullptr);
    std::vector<ElementType> types(node.inputs.size(), ElementType::Float);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      args[i] = lookup(node.inputs[i]);
      if (args[i] == nullptr)
        throw InvalidArgument(node.describe() + " reads '" + node.inputs[i] +
                              "', which is not computed before it");
      if (const auto it = graph.values.find(node.inputs[i]); it != graph.values.end())
        types[i] = it->second.type;
    }
    std::vector<FloatTensor> outs =
        detail::evaluate_node(node, args, types, std::numeric_limits<std::int64_t>::max());
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const auto it = last_use.find(node.inputs[i]);
      if (it != last_use.end() && it->second == k) env.erase(node.inputs[i]);
    }
    for (std::size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& name = node.outputs[i];
      if (name.empty()) continue;
      if (const auto it = graph.values.find(name);
          it != graph.values.end() && it->second.shape != outs[i].shape())
        throw InvalidArgument(node.describe() + ": its output '" + name + "' has shape " +
                              shape_to_string(outs[i].shape()) + " but the graph declares " +
                              shape_to_string(it->second.shape));
      if (observer) observer(name, outs[i]);
      if (last_use.count(name)) env[name] = std::move(outs[i]);
    }
  }
  std::vector<FloatTensor> results;
  for (const GraphInput& out : graph.outputs) {
    const FloatTensor* t = lookup(out.name);
    if (t == nullptr)
      throw InvalidArgument("graph output '" + out.name + "' is computed by no node");
    results.push_back(*t);
  }
  return results;
}

}  // namespace torusml::onnx
