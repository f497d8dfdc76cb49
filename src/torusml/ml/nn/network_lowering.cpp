#include "torusml/ml/nn/network_lowering.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/ml/nn/network_lowering_detail.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::ml::detail {

// Elementwise operators that are univariate when all their operands but one are constants: the
// onnx layer's elementwise ones, plus BatchNormalization (per channel) and Identity.
bool is_univariate_candidate(const std::string& op_type) {
  return onnx::is_elementwise_operator(op_type) || op_type == "BatchNormalization" ||
         op_type == "Identity";
}

[[noreturn]] void unsupported(const Node& node, const std::string& what) {
  throw UnsupportedOperator(node.describe() + ": " + what +
                            " is not supported by the FHE lowering; use a model whose encrypted "
                            "values only meet constant weights, or remove this operator");
}

circuit::Tensor to_int_tensor(const FloatTensor& t) {
  std::vector<std::int64_t> v(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) v[i] = static_cast<std::int64_t>(std::llround(t[i]));
  return circuit::Tensor(t.shape(), std::move(v));
}

unsigned bit_length(std::int64_t lo, std::int64_t hi) {
  const std::uint64_t m = static_cast<std::uint64_t>(
      std::max<std::int64_t>({std::abs(lo), std::abs(hi), std::int64_t{1}}));
  return static_cast<unsigned>(std::bit_width(m)) + (lo < 0 ? 1u : 0u);
}

LoweredNetwork NetworkLowering::run() {
  const onnx::GraphInput& in = graph_.inputs.at(0);
  const auto [lo, hi] = range_of(in.name);
  out_.input_quantizer =
      UniformQuantizer::from_range(lo, hi, {options_.bits.model_inputs, false, false});
  // A quantization-aware model quantizes its input itself ([Clip ->] QuantizeLinear [-> Clip]
  // -> DequantizeLinear): the client applies that quantizer, and those nodes compute nothing
  // here. Only when the client's quantizer is the same function (one scale and zero point for
  // both nodes, 2^n levels); otherwise the nodes stay, computed by the first lookup.
  std::string input_value = in.name;
  bool input_quantization_aware = false;
  std::vector<const Node*> qdq = qdq_after(in.name);
  if (!qdq.empty()) {
    const auto q = qdq_quantizer(qdq);
    const Node& quantize = *qdq[qdq.size() - (qdq[qdq.size() - 2]->op_type == "Clip" ? 3 : 2)];
    const onnx::QuantizationParameters qp = onnx::quantization_parameters(graph_, quantize);
    const onnx::QuantizationParameters dqp = onnx::quantization_parameters(graph_, *qdq.back());
    if (q && q->levels == (std::uint64_t{1} << q->quantizer.n_bits()) &&
        qp.scale[0] == dqp.scale[0] && qp.zero_point[0] == dqp.zero_point[0]) {
      out_.input_quantizer = q->quantizer;
      input_quantization_aware = true;
      for (const Node* n : qdq) skipped_.insert(n);
      input_value = qdq.back()->outputs.at(0);
    }
  }
  // The client encrypts a flat vector (one sample a row); the program restores the shape.
  Encrypted x;
  x.q = circuit::reshape(b_.input("x", {onnx::element_count(in.info.shape)}), in.info.shape);
  x.scale = out_.input_quantizer.scale();
  x.zero_point = out_.input_quantizer.zero_point();
  x.activation = true;
  x.grid_bits = out_.input_quantizer.n_bits();
  x.quantization_aware = input_quantization_aware;
  x.base = input_value;
  values_[input_value] = x;
  for (const Node& node : graph_.nodes)
    if (!skipped_.count(&node)) lower_node(node);
  for (const onnx::GraphInput& o : graph_.outputs) emit_output(o);
  out_.program = b_.build();
  return std::move(out_);
}

const onnx::ValueInfo& NetworkLowering::info(const std::string& name) const {
  const auto it = extra_values_.find(name);
  return it != extra_values_.end() ? it->second : graph_.value_info(name);
}

std::pair<double, double> NetworkLowering::range_of(const std::string& name) const {
  const auto it = ranges_.find(name);
  TORUSML_CHECK(it != ranges_.end(), "every value is calibrated");
  return it->second;
}

const FloatTensor* NetworkLowering::constant(const std::string& name) const {
  if (name.empty()) return nullptr;
  const auto it = constants_.find(name);
  return it != constants_.end() ? &it->second : graph_.find_initializer(name);
}

std::vector<const Node*> NetworkLowering::consumers(const std::string& value) const {
  std::vector<const Node*> out;
  for (const Node& n : graph_.nodes)
    if (std::find(n.inputs.begin(), n.inputs.end(), value) != n.inputs.end()) out.push_back(&n);
  return out;
}

void NetworkLowering::lower_node(const Node& node) {
  std::vector<std::string> enc;
  for (const std::string& i : node.inputs)
    if (!i.empty() && is_encrypted(i)) enc.push_back(i);
  if (enc.empty()) return lower_constant(node);
  const std::string& op = node.op_type;
  const std::string& out = node.outputs.at(0);
  if (enc.size() == 1 && is_univariate_candidate(op) &&
      graph_.value_info(out).shape == graph_.value_info(enc[0]).shape) {
    Encrypted e = encrypted(enc[0]);
    e.chain.push_back(&node);
    values_[out] = std::move(e);
    return;
  }
  if (enc.size() == 1 && (op == "Softmax" || op == "LogSoftmax") && enc[0] == node.inputs.at(0)) {
    // Only at an output: the client applies it after decryption (a lookup cannot: it mixes
    // positions).
    Encrypted e = encrypted(enc[0]);
    e.chain.push_back(&node);
    e.client_only = &node;
    values_[out] = std::move(e);
    return;
  }
  if (op == "Gemm" || op == "MatMul" || op == "Conv" || op == "ConvTranspose")
    return lower_linear(node, enc);
  if (op == "AveragePool" || op == "GlobalAveragePool" || op == "ReduceSum" || op == "ReduceMean")
    return lower_sum(node, enc);
  if (op == "MaxPool") return lower_max_pool(node, enc);
  if (op == "Add" || op == "Sub") return lower_add(node, enc);
  if (enc.size() == 2 && (op == "Mul" || op == "Max" || op == "Min" || op == "Greater" ||
                          op == "GreaterOrEqual" || op == "Less" || op == "LessOrEqual" ||
                          op == "Equal" || op == "And" || op == "Or" || op == "Xor"))
    return lower_binary(node, enc);
  if (op == "Div" && enc.size() == 2) return lower_division(node, enc);
  if (op == "Expand") return lower_expand(node, enc);
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" ||
      op == "Transpose" || op == "Slice" || op == "Gather" || op == "Concat" || op == "Pad" ||
      op == "Identity")
    return lower_movement(node, enc);
  unsupported(node, enc.size() > 1 ? "this operator on several encrypted operands"
                                   : "this operator on an encrypted operand");
}

Encrypted NetworkLowering::materialize(const std::string& name, bool linear) {
  Encrypted e = encrypted(name);
  if (e.chain.empty() && (e.activation || (linear && e.summed))) return e;
  if (e.client_only != nullptr)
    unsupported(*e.client_only,
                "this operator inside the network (it is supported after the last encrypted "
                "operation, where the client applies it after decryption)");
  Encrypted a = lookup(e, name, options_.bits.op_inputs);
  values_[name] = a;
  return a;
}

void NetworkLowering::emit_output(const onnx::GraphInput& o) {
  if (!is_encrypted(o.name))
    throw InvalidArgument("graph output '" + o.name +
                          "' does not depend on the input: export the model with its input");
  const Encrypted& e = encrypted(o.name);
  NetworkOutput out;
  out.name = o.name;
  out.shape = o.info.shape;
  out.scale = e.scale;
  out.scales = e.scales;
  out.zero_point = e.zero_point;
  if (!e.chain.empty()) out.post_processing = chain_graph(e, o.name);
  if (!e.residuals.empty()) {
    // The bias residuals, added by the client to the dequantized accumulator before the rest.
    onnx::Graph& g = out.post_processing;
    if (e.chain.empty()) {
      g.name = "chain";
      g.opset = graph_.opset;
      g.outputs.push_back({o.name, info(o.name)});
    }
    const std::string accumulator = e.base + ".accumulator", residual = e.base + ".bias_residual";
    const onnx::ValueInfo& base_info = info(e.base);
    g.inputs = {{accumulator, base_info}};
    g.values[accumulator] = base_info;
    g.values[e.base] = base_info;
    std::vector<double> r(e.residuals.size());
    for (std::size_t p = 0; p < r.size(); ++p) r[p] = e.residuals[p] * e.scale_at(p);
    g.initializers[residual] = FloatTensor(base_info.shape, std::move(r));
    g.values[residual] = base_info;
    Node add;
    add.op_type = "Add";
    add.name = e.base + ".bias_residual";
    add.inputs = {accumulator, residual};
    add.outputs = {e.base};
    g.nodes.insert(g.nodes.begin(), std::move(add));
  }
  b_.output(e.q);
  out_.outputs.push_back(std::move(out));
}

}  // namespace torusml::ml::detail

namespace torusml::ml {

GraphCalibration calibrate_graph(const onnx::Graph& graph,
                                 std::span<const onnx::FloatTensor> input_set) {
  if (input_set.empty())
    throw InvalidArgument(
        "the input set is empty: pass representative samples (e.g. the training data) to "
        "calibrate the quantization");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  GraphCalibration c;
  for (const onnx::FloatTensor& sample : input_set) {
    onnx::evaluate_graph(
        graph, std::span(&sample, 1), [&](const std::string& name, const onnx::FloatTensor& value) {
          auto [it, added] = c.ranges.try_emplace(name, kInf, -kInf);
          auto& [lo, hi] = c.element_ranges[name];
          if (lo.size() != value.size()) {  // first sample (shapes are fixed)
            lo.assign(value.size(), kInf);
            hi.assign(value.size(), -kInf);
          }
          for (std::size_t i = 0; i < value.size(); ++i) {
            const double v = value[i];
            if (!std::isfinite(v))
              throw InvalidArgument("value '" + name +
                                    "' is NaN or infinite on the input set: check the model and "
                                    "the data (no NaN in the inputs)");
            it->second.first = std::min(it->second.first, v);
            it->second.second = std::max(it->second.second, v);
            lo[i] = std::min(lo[i], v);
            hi[i] = std::max(hi[i], v);
          }
        });
  }
  return c;
}

LoweredNetwork lower_network(const onnx::Graph& graph, std::span<const onnx::FloatTensor> input_set,
                             const NetworkOptions& options) {
  if (graph.inputs.size() != 1)
    throw InvalidArgument("the model has " + std::to_string(graph.inputs.size()) +
                          " inputs; TorusML compiles models with exactly one input");
  const NetworkBits& b = options.bits;
  for (const auto& [bits, what] : {std::pair{b.model_inputs, "n_bits['model_inputs']"},
                                   {b.op_inputs, "n_bits['op_inputs']"},
                                   {b.op_weights, "n_bits['op_weights']"},
                                   {b.model_outputs, "n_bits['model_outputs']"}})
    if (bits < 1 || bits > 16) require_valid_bits(bits, what);
  if (options.rounding_threshold_bits > 16)
    throw InvalidArgument(
        "rounding_threshold_bits = " + std::to_string(options.rounding_threshold_bits) +
        " is out of range: use 1 to 16 (or None to let the compiler choose)");
  detail::NetworkLowering lowering(graph, calibrate_graph(graph, input_set), options);
  return lowering.run();
}

}  // namespace torusml::ml
