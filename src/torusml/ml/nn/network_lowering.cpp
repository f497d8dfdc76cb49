#include "torusml/ml/nn/network_lowering.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::ml {

namespace {

using circuit::Value;
using onnx::FloatTensor;
using onnx::Node;

// Elementwise operators that are univariate when all their operands but one are constants.
const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> ops{"Relu",
                                         "LeakyRelu",
                                         "PRelu",
                                         "Elu",
                                         "Selu",
                                         "Celu",
                                         "Sigmoid",
                                         "HardSigmoid",
                                         "Tanh",
                                         "Softplus",
                                         "Softsign",
                                         "Erf",
                                         "Gelu",
                                         "Exp",
                                         "Log",
                                         "Abs",
                                         "Sign",
                                         "Clip",
                                         "Floor",
                                         "Round",
                                         "Ceil",
                                         "Neg",
                                         "Add",
                                         "Sub",
                                         "Mul",
                                         "Div",
                                         "Pow",
                                         "Max",
                                         "Min",
                                         "Where",
                                         "Greater",
                                         "GreaterOrEqual",
                                         "Less",
                                         "LessOrEqual",
                                         "Equal",
                                         "Not",
                                         "Or",
                                         "And",
                                         "Cast",
                                         "Sin",
                                         "Cos",
                                         "Tan",
                                         "Asin",
                                         "Acos",
                                         "Atan",
                                         "Sinh",
                                         "Cosh",
                                         "Asinh",
                                         "Acosh",
                                         "Atanh",
                                         "HardSwish",
                                         "ThresholdedRelu",
                                         "Sqrt",
                                         "Reciprocal",
                                         "BatchNormalization",
                                         "Identity",
                                         "QuantizeLinear",
                                         "DequantizeLinear"};
  return ops;
}

[[noreturn]] void unsupported(const Node& node, const std::string& what) {
  throw UnsupportedOperator(node.describe() + ": " + what +
                            " is not supported by the FHE lowering; use a model whose encrypted "
                            "values only meet constant weights, or remove this operator");
}

// An encrypted graph value: integers q meaning scale (q - zero_point), then the pending
// univariate nodes (`chain`, in order) whose last output is this value.
struct Encrypted {
  Value q;
  double scale = 1.0;
  std::int64_t zero_point = 0;
  bool activation = false;  // the output of a lookup or the input: op_inputs-bit or less
  bool summed = false;      // a sum of activations (pooling): a linear layer may read it
  std::string base;         // the graph value q stands for (before the chain)
  std::vector<const Node*> chain;
};

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

class Lowering {
 public:
  Lowering(const onnx::Graph& graph, std::map<std::string, std::pair<double, double>> ranges,
           const NetworkOptions& options)
      : graph_(graph), ranges_(std::move(ranges)), options_(options) {}

  LoweredNetwork run() {
    const onnx::GraphInput& in = graph_.inputs.at(0);
    const auto [lo, hi] = range_of(in.name);
    out_.input_quantizer =
        UniformQuantizer::from_range(lo, hi, {options_.bits.model_inputs, false, false});
    // A quantization-aware model quantizes its input itself ([Clip ->] QuantizeLinear ->
    // DequantizeLinear): the client applies that quantizer, and those nodes compute nothing here.
    std::string input_value = in.name;
    std::vector<const Node*> qdq = qdq_after(in.name);
    if (!qdq.empty()) {
      if (const auto q = qdq_quantizer(qdq)) {
        out_.input_quantizer = *q;
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
    x.base = input_value;
    values_[input_value] = x;
    for (const Node& node : graph_.nodes)
      if (!skipped_.count(&node)) lower_node(node);
    for (const onnx::GraphInput& o : graph_.outputs) emit_output(o);
    out_.program = b_.build();
    return std::move(out_);
  }

 private:
  // The type and shape of a graph value or of a value the lowering made up.
  const onnx::ValueInfo& info(const std::string& name) const {
    const auto it = extra_values_.find(name);
    return it != extra_values_.end() ? it->second : graph_.value_info(name);
  }

  std::pair<double, double> range_of(const std::string& name) const {
    const auto it = ranges_.find(name);
    TORUSML_CHECK(it != ranges_.end(), "every value is calibrated");
    return it->second;
  }

  const FloatTensor* constant(const std::string& name) const {
    if (name.empty()) return nullptr;
    const auto it = constants_.find(name);
    return it != constants_.end() ? &it->second : graph_.find_initializer(name);
  }

  // The nodes consuming `value`.
  std::vector<const Node*> consumers(const std::string& value) const {
    std::vector<const Node*> out;
    for (const Node& n : graph_.nodes)
      if (std::find(n.inputs.begin(), n.inputs.end(), value) != n.inputs.end()) out.push_back(&n);
    return out;
  }

  // [Clip ->] QuantizeLinear -> DequantizeLinear right after `value` (each the only consumer of
  // the previous output), or nothing.
  std::vector<const Node*> qdq_after(const std::string& value) const {
    std::vector<const Node*> chain;
    std::string v = value;
    for (const char* op : {"Clip", "QuantizeLinear", "DequantizeLinear"}) {
      const std::vector<const Node*> c = consumers(v);
      if (c.size() != 1 || c[0]->op_type != op || c[0]->inputs.at(0) != v) {
        if (std::string(op) == "Clip") continue;  // optional
        return {};
      }
      chain.push_back(c[0]);
      v = c[0]->outputs.at(0);
    }
    return chain;
  }

  // The unsigned quantizer equal to a per-tensor [Clip ->] QuantizeLinear -> DequantizeLinear
  // chain (the last nodes of `chain`): same scale, the zero point shifted so that the lowest
  // integer the chain can produce is 0, 2^n levels covering its range; nullopt if the chain is
  // not of that form (per-axis parameters, different Q and DQ parameters, a clipped range that
  // is not 2^n levels).
  std::optional<UniformQuantizer> qdq_quantizer(const std::vector<const Node*>& chain) const {
    const std::size_t k = chain.size();
    if (k < 2 || chain[k - 2]->op_type != "QuantizeLinear" ||
        chain[k - 1]->op_type != "DequantizeLinear" ||
        chain[k - 1]->inputs.at(0) != chain[k - 2]->outputs.at(0))
      return std::nullopt;
    const onnx::QuantizationParameters q = onnx::quantization_parameters(graph_, *chain[k - 2]);
    const onnx::QuantizationParameters dq = onnx::quantization_parameters(graph_, *chain[k - 1]);
    if (q.axis || dq.axis || q.scale.size() != 1 || q.scale[0] != dq.scale[0] ||
        q.zero_point[0] != dq.zero_point[0] || !(q.scale[0] > 0))
      return std::nullopt;
    const double scale = q.scale[0];
    const auto zp = static_cast<std::int64_t>(q.zero_point[0]);
    auto qlo = static_cast<std::int64_t>(onnx::type_min(q.zero_point_type));
    auto qhi = static_cast<std::int64_t>(onnx::type_max(q.zero_point_type));
    if (k >= 3 && chain[k - 3]->op_type == "Clip" &&
        chain[k - 3]->outputs.at(0) == chain[k - 2]->inputs.at(0)) {
      const Node& clip = *chain[k - 3];
      if (clip.has_attribute("min"))
        qlo =
            std::max<std::int64_t>(qlo, std::llround(clip.float_attribute("min", 0) / scale) + zp);
      if (clip.has_attribute("max"))
        qhi =
            std::min<std::int64_t>(qhi, std::llround(clip.float_attribute("max", 0) / scale) + zp);
    }
    const std::int64_t levels = qhi - qlo + 1;
    if (levels < 2 || levels > (std::int64_t{1} << 16) ||
        std::popcount(static_cast<std::uint64_t>(levels)) != 1)
      return std::nullopt;
    const auto bits = static_cast<unsigned>(std::countr_zero(static_cast<std::uint64_t>(levels)));
    return UniformQuantizer({bits, false, false}, scale, zp - qlo);
  }

  Encrypted& encrypted(const std::string& name) { return values_.at(name); }
  bool is_encrypted(const std::string& name) const { return values_.count(name) != 0; }

  void lower_node(const Node& node) {
    std::vector<std::string> enc;
    for (const std::string& i : node.inputs)
      if (!i.empty() && is_encrypted(i)) enc.push_back(i);
    if (enc.empty()) return lower_constant(node);
    const std::string& op = node.op_type;
    const std::string& out = node.outputs.at(0);
    if (enc.size() == 1 && elementwise_ops().count(op) &&
        graph_.value_info(out).shape == graph_.value_info(enc[0]).shape) {
      Encrypted e = encrypted(enc[0]);
      e.chain.push_back(&node);
      values_[out] = std::move(e);
      return;
    }
    if (op == "Gemm" || op == "MatMul" || op == "Conv") return lower_linear(node, enc);
    if (op == "AveragePool" || op == "GlobalAveragePool" || op == "ReduceSum" || op == "ReduceMean")
      return lower_sum(node, enc);
    if (op == "MaxPool") return lower_max_pool(node, enc);
    if (op == "Add" || op == "Sub") return lower_add(node, enc);
    if (enc.size() == 2 &&
        (op == "Mul" || op == "Max" || op == "Min" || op == "Greater" || op == "GreaterOrEqual" ||
         op == "Less" || op == "LessOrEqual" || op == "Equal"))
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

  // The pending chain of `e` (or a re-quantization when it has none and is no activation) as
  // one lookup; returns the activation. `linear`: the consumer is a linear layer, which may also
  // read a sum of activations.
  Encrypted materialize(const std::string& name, bool linear = false) {
    Encrypted e = encrypted(name);
    if (e.chain.empty() && (e.activation || (linear && e.summed))) return e;
    Encrypted a = lookup(e, name, options_.bits.op_inputs);
    values_[name] = a;
    return a;
  }

  // One table lookup computing e's chain and quantizing the result (n_bits, unsigned).
  Encrypted lookup(const Encrypted& e, const std::string& name, unsigned n_bits) {
    const auto [out_lo, out_hi] = range_of(name);
    // A chain ending in quantization-aware nodes keeps their quantizer (exact QAT integers).
    const std::optional<UniformQuantizer> qat = qdq_quantizer(e.chain);
    const UniformQuantizer quantizer =
        qat ? *qat : UniformQuantizer::from_range(out_lo, out_hi, {n_bits, false, false});
    // The integer range of q on the input set, from the base value's float range.
    const auto [in_lo, in_hi] = range_of(e.base);
    const auto ilo = static_cast<std::int64_t>(std::floor(in_lo / e.scale)) + e.zero_point;
    const auto ihi = static_cast<std::int64_t>(std::ceil(in_hi / e.scale)) + e.zero_point;
    const unsigned bits = bit_length(ilo, ihi);
    const onnx::Graph chain = chain_graph(e, name);
    unsigned lsbs = 0;
    if (options_.rounding_threshold_bits != 0) {
      const unsigned keep = options_.rounding_threshold_bits;
      lsbs = bits > keep ? bits - keep : 0;
    } else {
      lsbs = automatic_lsbs(e, chain, quantizer.scale(), in_lo, in_hi, bits);
    }
    Value input = e.q;
    if (lsbs > 0) input = circuit::round_bit_pattern(input, lsbs, options_.rounding_mode);
    // Tabulate over the range with a margin of a quarter on each side (values outside it map to
    // the nearest end): every position's function, grouped into distinct tables.
    const std::int64_t step = std::int64_t{1} << lsbs;
    const std::int64_t margin = (ihi - ilo) / 4 + 2 * step;
    const std::int64_t first = floor_div(ilo - margin, step), last = ceil_div(ihi + margin, step);
    const onnx::Shape& shape = graph_.value_info(e.base).shape;
    const auto elements = static_cast<std::size_t>(onnx::element_count(shape));
    std::vector<std::vector<std::int64_t>> columns(elements);
    for (std::int64_t k = first; k <= last; ++k) {
      const double x = e.scale * static_cast<double>(k * step - e.zero_point);
      const FloatTensor filled(shape, std::vector<double>(elements, x));
      const FloatTensor y =
          e.chain.empty() ? filled : onnx::evaluate_graph(chain, std::span(&filled, 1)).at(0);
      for (std::size_t p = 0; p < elements; ++p)
        columns[p].push_back(std::isfinite(y[p]) ? quantizer.quantize(y[p])
                                                 : (y[p] > 0 ? quantizer.q_max() : 0));
    }
    std::map<std::vector<std::int64_t>, std::int32_t> table_of;
    std::vector<circuit::TableFunction> tables;
    std::vector<std::int32_t> element_table(elements);
    for (std::size_t p = 0; p < elements; ++p) {
      auto [it, added] = table_of.emplace(columns[p], static_cast<std::int32_t>(tables.size()));
      if (added) {
        auto values = std::make_shared<const std::vector<std::int64_t>>(columns[p]);
        tables.push_back({[values, first, step](std::int64_t v) {
                            const std::int64_t k = std::clamp<std::int64_t>(
                                floor_div(v, step) - first, 0,
                                static_cast<std::int64_t>(values->size()) - 1);
                            return (*values)[static_cast<std::size_t>(k)];
                          },
                          name});
      }
      element_table[p] = it->second;
    }
    if (tables.size() == 1) element_table.clear();
    Encrypted a;
    a.q = circuit::apply_tables(input, std::move(tables), std::move(element_table));
    a.scale = quantizer.scale();
    a.zero_point = quantizer.zero_point();
    a.activation = true;
    a.base = name;
    NetworkLookup l{name, {}, elements, table_of.size(), bits, lsbs, a.q.id()};
    for (const Node* n : e.chain) l.ops.push_back(n->op_type);
    if (l.ops.empty()) l.ops.push_back("Identity");
    out_.lookups.push_back(std::move(l));
    return a;
  }

  // Rounding that the lookup's output quantization allows: an input error of 2^lsbs integer
  // units moves the output by at most slope * 2^lsbs * scale, kept within one output step
  // (the steepest slope of the chain over the input set's range, every position, measured on
  // 257 points); at most kAutomaticRoundingBits bits kept, at least 2.
  unsigned automatic_lsbs(const Encrypted& e, const onnx::Graph& chain, double step_out,
                          double in_lo, double in_hi, unsigned bits) const {
    double slope = 1.0;  // a re-quantization: the identity
    if (!e.chain.empty() && in_hi > in_lo) {
      const onnx::Shape& shape = graph_.value_info(e.base).shape;
      const auto elements = static_cast<std::size_t>(onnx::element_count(shape));
      constexpr int kPoints = 257;
      const double dx = (in_hi - in_lo) / (kPoints - 1);
      slope = 0;
      std::vector<double> previous;
      for (int i = 0; i < kPoints; ++i) {
        const FloatTensor filled(shape, std::vector<double>(elements, in_lo + i * dx));
        const FloatTensor y = onnx::evaluate_graph(chain, std::span(&filled, 1)).at(0);
        if (!previous.empty())
          for (std::size_t p = 0; p < elements; ++p) {
            const double d = std::abs(y[p] - previous[p]) / dx;
            if (std::isfinite(d)) slope = std::max(slope, d);
          }
        previous.assign(y.values().begin(), y.values().end());
      }
    }
    int lsbs = 0;
    if (slope > 0)
      lsbs = static_cast<int>(std::floor(std::log2(step_out / (slope * e.scale))));
    else
      lsbs = static_cast<int>(bits);  // a constant function: any input will do
    const int most = static_cast<int>(bits) - 2,
              least = static_cast<int>(bits) - static_cast<int>(kAutomaticRoundingBits);
    return static_cast<unsigned>(std::max({0, least, std::min(lsbs, most)}));
  }

  static std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
  }
  static std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

  // The graph of e's chain: input e.base, output `name`, with the constants it reads.
  onnx::Graph chain_graph(const Encrypted& e, const std::string& name) const {
    onnx::Graph g;
    g.name = "chain";
    g.opset = graph_.opset;
    g.inputs.push_back({e.base, info(e.base)});
    g.outputs.push_back({name, info(name)});
    g.values[e.base] = info(e.base);
    for (const Node* n : e.chain) {
      g.nodes.push_back(*n);
      for (const std::string& i : n->inputs) {
        if (i.empty()) continue;
        if (const FloatTensor* c = constant(i)) {
          g.initializers[i] = *c;
          g.values[i] = graph_.value_info(i);
        }
      }
      for (const std::string& o : n->outputs)
        if (!o.empty()) g.values[o] = info(o);
    }
    return g;
  }

  // Runs `node` in float on the given inputs (constants), returning its first output.
  FloatTensor evaluate_alone(const Node& node, const std::vector<FloatTensor>& inputs,
                             const std::vector<onnx::ElementType>& types = {}) const {
    onnx::Graph g;
    g.name = "node";
    g.opset = graph_.opset;
    Node copy = node;
    for (std::size_t i = 0; i < copy.inputs.size(); ++i) {
      if (copy.inputs[i].empty()) continue;
      const std::string name = "in" + std::to_string(i);
      copy.inputs[i] = name;
      g.initializers[name] = inputs.at(i);
      g.values[name] = {i < types.size() ? types[i] : onnx::ElementType::Float,
                        inputs.at(i).shape()};
    }
    for (const std::string& o : copy.outputs)
      if (!o.empty()) g.values[o] = graph_.value_info(o);
    g.outputs.push_back({copy.outputs.at(0), graph_.value_info(copy.outputs.at(0))});
    g.nodes.push_back(std::move(copy));
    return onnx::evaluate_graph(g, {}).at(0);
  }

  // A node of constants only (the loader keeps QuantizeLinear / DequantizeLinear on weights):
  // evaluated once; a per-tensor DequantizeLinear with zero point 0 records its scale, the grid
  // its weights lie on.
  void lower_constant(const Node& node) {
    std::vector<FloatTensor> inputs;
    std::vector<onnx::ElementType> types;
    for (const std::string& i : node.inputs) {
      const FloatTensor* c = constant(i);
      if (!i.empty() && c == nullptr) unsupported(node, "an operand computed from no input");
      inputs.push_back(c ? *c : FloatTensor());
      types.push_back(i.empty() ? onnx::ElementType::Float : graph_.value_info(i).type);
    }
    constants_[node.outputs.at(0)] = evaluate_alone(node, inputs, types);
    if (node.op_type == "DequantizeLinear") {
      const onnx::QuantizationParameters p = onnx::quantization_parameters(graph_, node);
      if (!p.axis && p.scale.size() == 1 && p.zero_point[0] == 0 && p.scale[0] > 0)
        weight_grid_[node.outputs.at(0)] = p.scale[0];
    }
  }

  // Gemm, MatMul, Conv with constant weights: exact integer products, one clear constant for the
  // zero point and the bias.
  void lower_linear(const Node& node, const std::vector<std::string>& enc) {
    const std::string& op = node.op_type;
    if (enc.size() != 1 || enc[0] != node.inputs.at(0) ||
        (op == "MatMul" && constant(node.inputs.at(1)) == nullptr))
      unsupported(node, "a product with an encrypted second operand");
    const FloatTensor* w = constant(node.inputs.at(1));
    if (w == nullptr) unsupported(node, "non-constant weights");
    const Encrypted x = materialize(enc[0], true);
    double alpha = 1.0;
    if (op == "Gemm") alpha = node.float_attribute("alpha", 1.0);
    // Symmetric signed weights of op_weights bits, or the quantization-aware model's own
    // (weights dequantized by a per-tensor DequantizeLinear with zero point 0: exact integers).
    double w_max = 0;
    for (double v : w->values()) w_max = std::max(w_max, std::abs(v * alpha));
    const unsigned wb = options_.bits.op_weights;
    const double levels = wb >= 2 ? static_cast<double>((std::int64_t{1} << (wb - 1)) - 1) : 1.0;
    double w_scale = w_max > 0 ? w_max / levels : 1.0;
    const auto grid = weight_grid_.find(node.inputs.at(1));
    if (grid != weight_grid_.end() && alpha > 0) w_scale = grid->second * alpha;
    FloatTensor wq = *w;
    for (double& v : wq.data()) v = std::nearbyint(v * alpha / w_scale);
    const double scale = x.scale * w_scale;
    // Bias: Gemm's beta C, Conv's B, quantized at the accumulator's scale.
    std::vector<FloatTensor> inputs{
        FloatTensor(graph_.value_info(enc[0]).shape,
                    std::vector<double>(static_cast<std::size_t>(
                                            onnx::element_count(graph_.value_info(enc[0]).shape)),
                                        static_cast<double>(-x.zero_point))),
        wq};
    if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
      const FloatTensor* c = constant(node.inputs[2]);
      if (c == nullptr) unsupported(node, "a non-constant bias");
      FloatTensor cq = *c;
      const double beta = op == "Gemm" ? node.float_attribute("beta", 1.0) : 1.0;
      for (double& v : cq.data()) v = std::nearbyint(v * beta / scale);
      inputs.push_back(std::move(cq));
    }
    Node integer_node = node;
    if (op == "Gemm") {
      integer_node.attributes.erase("alpha");
      integer_node.attributes.erase("beta");
    }
    const FloatTensor offset = evaluate_alone(integer_node, inputs);
    Value acc;
    const circuit::Tensor wt = to_int_tensor(wq);
    if (op == "Conv") {
      acc = lower_conv(node, x.q, wt);
    } else if (op == "Gemm") {
      acc = circuit::gemm(x.q, wt, std::nullopt, 1, 1, node.int_attribute("transA", 0) != 0,
                          node.int_attribute("transB", 0) != 0);
    } else {
      acc = circuit::matmul(x.q, wt);
    }
    acc = acc + to_int_tensor(offset);
    Encrypted r;
    r.q = acc;
    r.scale = scale;
    r.zero_point = 0;
    r.base = node.outputs.at(0);
    values_[r.base] = r;
  }

  Value lower_conv(const Node& node, Value x, const circuit::Tensor& w) {
    const std::size_t rank = w.shape().size();
    if (rank != 3 && rank != 4) unsupported(node, "a convolution other than 1-D or 2-D");
    const std::string auto_pad = node.string_attribute("auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID")
      unsupported(node, "auto_pad " + auto_pad + " (export with explicit padding)");
    const std::size_t spatial = rank - 2;
    std::vector<std::int64_t> strides = node.ints_attribute("strides", {});
    std::vector<std::int64_t> dilations = node.ints_attribute("dilations", {});
    std::vector<std::int64_t> pads = node.ints_attribute("pads", {});
    if (strides.empty()) strides.assign(spatial, 1);
    if (dilations.empty()) dilations.assign(spatial, 1);
    if (pads.empty() || auto_pad == "VALID") pads.assign(2 * spatial, 0);
    circuit::Conv2dAttr a;
    a.groups = node.int_attribute("group", 1);
    if (spatial == 2) {
      a.strides = strides;
      a.dilations = dilations;
      a.pads = pads;  // ONNX: top, left, bottom, right
      return circuit::conv2d(x, w, std::nullopt, a);
    }
    // 1-D: as 2-D with a height of 1.
    circuit::Shape xs = x.shape();
    const circuit::Shape out_shape = graph_.value_info(node.outputs.at(0)).shape;
    const Value x2 = circuit::reshape(x, {xs[0], xs[1], 1, xs[2]});
    const circuit::Shape& ws = w.shape();
    const circuit::Tensor w2({ws[0], ws[1], 1, ws[2]},
                             std::vector<std::int64_t>(w.values().begin(), w.values().end()));
    a.strides = {1, strides[0]};
    a.dilations = {1, dilations[0]};
    a.pads = {0, pads[0], 0, pads[1]};
    return circuit::reshape(circuit::conv2d(x2, w2, std::nullopt, a), out_shape);
  }

  // Sums (pooling, reductions): the divisor goes into the scale.
  void lower_sum(const Node& node, const std::vector<std::string>& enc) {
    const Encrypted x = materialize(enc.at(0));
    const std::string& op = node.op_type;
    const onnx::Shape& in_shape = graph_.value_info(enc[0]).shape;
    const onnx::Shape& out_shape = graph_.value_info(node.outputs.at(0)).shape;
    const double count = static_cast<double>(onnx::element_count(in_shape)) /
                         static_cast<double>(onnx::element_count(out_shape));
    Value s;
    double divisor = 1.0;
    if (op == "GlobalAveragePool") {
      std::vector<std::int64_t> axes;
      for (std::size_t d = 2; d < in_shape.size(); ++d)
        axes.push_back(static_cast<std::int64_t>(d));
      s = circuit::sum(x.q, axes, true);
      divisor = count;
    } else if (op == "ReduceSum" || op == "ReduceMean") {
      std::vector<std::int64_t> axes = node.ints_attribute("axes", {});
      const bool keep = node.int_attribute("keepdims", 1) != 0;
      s = circuit::sum(x.q, axes, keep);
      if (op == "ReduceMean") divisor = count;
    } else {  // AveragePool
      const std::vector<std::int64_t> kernel = node.ints_attribute("kernel_shape", {});
      std::vector<std::int64_t> pads = node.ints_attribute("pads", {});
      const bool padded = std::any_of(pads.begin(), pads.end(), [](auto p) { return p != 0; });
      if (kernel.size() != 2) unsupported(node, "an AveragePool other than 2-D");
      if (padded && node.int_attribute("count_include_pad", 0) == 0)
        unsupported(node, "a padded AveragePool without count_include_pad");
      if (node.int_attribute("ceil_mode", 0) != 0) unsupported(node, "ceil_mode");
      circuit::Pool2dAttr a;
      a.kernel = kernel;
      a.strides = node.ints_attribute("strides", {1, 1});
      a.pads = pads.empty() ? std::vector<std::int64_t>{0, 0, 0, 0} : pads;
      // Padding reads 0 = float -scale * zero_point: subtract the zero point first.
      const Value centered = padded ? x.q - x.zero_point : x.q;
      s = circuit::sum_pool2d(centered, a);
      divisor = static_cast<double>(kernel[0] * kernel[1]);
      Encrypted r;
      r.q = s;
      r.scale = x.scale / divisor;
      r.zero_point = padded ? 0 : x.zero_point * kernel[0] * kernel[1];
      r.summed = true;
      r.base = node.outputs.at(0);
      values_[r.base] = r;
      return;
    }
    Encrypted r;
    r.q = circuit::reshape(s, out_shape);
    r.scale = x.scale / divisor;
    r.zero_point = static_cast<std::int64_t>(std::llround(count)) * x.zero_point;
    r.summed = true;
    r.base = node.outputs.at(0);
    values_[r.base] = r;
  }

  // MaxPool on activations: the maximum of strided slices of the (padded) input.
  void lower_max_pool(const Node& node, const std::vector<std::string>& enc) {
    const Encrypted x = materialize(enc.at(0));
    const std::vector<std::int64_t> kernel = node.ints_attribute("kernel_shape", {});
    if (kernel.size() != 2) unsupported(node, "a MaxPool other than 2-D");
    if (node.int_attribute("ceil_mode", 0) != 0) unsupported(node, "ceil_mode");
    std::vector<std::int64_t> strides = node.ints_attribute("strides", {1, 1});
    std::vector<std::int64_t> pads = node.ints_attribute("pads", {0, 0, 0, 0});
    std::vector<std::int64_t> dil = node.ints_attribute("dilations", {1, 1});
    Value in = x.q;
    if (std::any_of(pads.begin(), pads.end(), [](auto p) { return p != 0; }))
      in = circuit::pad(in, {0, 0, pads[0], pads[1]}, {0, 0, pads[2], pads[3]}, 0);
    const circuit::Shape out_shape = graph_.value_info(node.outputs.at(0)).shape;
    Value result;
    for (std::int64_t i = 0; i < kernel[0]; ++i)
      for (std::int64_t j = 0; j < kernel[1]; ++j) {
        const std::int64_t h0 = i * dil[0], w0 = j * dil[1];
        const Value s =
            circuit::slice(in, {0, 0, h0, w0},
                           {out_shape[0], out_shape[1], h0 + (out_shape[2] - 1) * strides[0] + 1,
                            w0 + (out_shape[3] - 1) * strides[1] + 1},
                           {1, 1, strides[0], strides[1]});
        result = result.valid() ? circuit::maximum(result, s) : s;
      }
    // The maxima stay in the activations' narrow encoding: the next consumer re-encodes them with
    // one lookup (activation false), so the comparisons never read a wide accumulator's encoding.
    Encrypted r = x;
    r.q = result;
    r.activation = false;
    r.base = node.outputs.at(0);
    const std::size_t comparisons = static_cast<std::size_t>(onnx::element_count(out_shape)) *
                                    static_cast<std::size_t>(kernel[0] * kernel[1] - 1);
    out_.lookups.push_back({r.base, {"MaxPool"}, comparisons, 1, 0, 0, result.id()});
    values_[r.base] = r;
  }

  // Add / Sub of two encrypted values: one scale for both.
  void lower_add(const Node& node, const std::vector<std::string>& enc) {
    if (enc.size() != 2) unsupported(node, "this operand combination");
    if (graph_.value_info(enc[0]).shape != graph_.value_info(enc[1]).shape)
      unsupported(node, "an addition of encrypted tensors of different shapes");
    Encrypted a = materialize(enc[0]), c = materialize(enc[1]);
    if (a.scale != c.scale) {
      // Re-quantize both onto the scale of the sum's range.
      const auto [lo, hi] = range_of(node.outputs.at(0));
      const double span = std::max({std::abs(lo), std::abs(hi), 1e-12});
      const double target =
          span / static_cast<double>((std::int64_t{1} << options_.bits.op_inputs) - 1);
      a = rescale(a, enc[0], target);
      c = rescale(c, enc[1], target);
    }
    Encrypted r;
    const bool add = node.op_type == "Add";
    r.q = add ? a.q + c.q : a.q - c.q;
    r.scale = a.scale;
    r.zero_point = add ? a.zero_point + c.zero_point : a.zero_point - c.zero_point;
    r.base = node.outputs.at(0);
    values_[r.base] = r;
  }

  // Mul, Max, Min and comparisons of two encrypted tensors of one shape: Mul multiplies the
  // centered integers (two lookups per element: the circuit's quarter-square product); Max, Min
  // and the comparisons read both on one scale (one lookup per element, after re-quantizing
  // operands of different scales); comparisons give 0 or 1.
  void lower_binary(const Node& node, const std::vector<std::string>& enc) {
    if (info(enc[0]).shape != info(enc[1]).shape ||
        info(enc[0]).shape != graph_.value_info(node.outputs.at(0)).shape)
      unsupported(node, "this operator on encrypted tensors of different shapes");
    Encrypted a = materialize(enc[0]), c = materialize(enc[1]);
    const std::string& op = node.op_type;
    const std::size_t elements =
        static_cast<std::size_t>(onnx::element_count(graph_.value_info(node.outputs.at(0)).shape));
    Encrypted r;
    r.base = node.outputs.at(0);
    if (op == "Mul" || op == "Div") {
      r.q = circuit::multiply(a.q - a.zero_point, c.q - c.zero_point);
      r.scale = a.scale * c.scale;
      out_.lookups.push_back({r.base, {op}, 2 * elements, 2, 0, 0, r.q.id()});
      values_[r.base] = r;
      return;
    }
    if (a.scale != c.scale) {
      const auto [alo, ahi] = range_of(enc[0]);
      const auto [clo, chi] = range_of(enc[1]);
      const double span =
          std::max({std::abs(alo), std::abs(ahi), std::abs(clo), std::abs(chi), 1e-12});
      const double target =
          span / static_cast<double>((std::int64_t{1} << options_.bits.op_inputs) - 1);
      a = rescale(a, enc[0], target);
      c = rescale(c, enc[1], target);
    }
    const Value x = a.q - a.zero_point, y = c.q - c.zero_point;
    if (op == "Max" || op == "Min") {
      r.q = op == "Max" ? circuit::maximum(x, y) : circuit::minimum(x, y);
      r.scale = a.scale;
    } else {
      r.q = op == "Greater"          ? circuit::greater(x, y)
            : op == "GreaterOrEqual" ? circuit::greater_equal(x, y)
            : op == "Less"           ? circuit::less(x, y)
            : op == "LessOrEqual"    ? circuit::less_equal(x, y)
                                     : circuit::equal(x, y);
      r.scale = 1.0;
      r.activation = true;
    }
    out_.lookups.push_back({r.base, {op}, elements, 1, 0, 0, r.q.id()});
    values_[r.base] = r;
  }

  // a / b for encrypted a and b: a lookup computes 1 / b (with b's pending operations), then the
  // product. The input set must keep b away from 0.
  void lower_division(const Node& node, const std::vector<std::string>& enc) {
    const auto [lo, hi] = range_of(enc[1]);
    if (lo <= 0 && hi >= 0)
      unsupported(node,
                  "a division by an encrypted value that is 0 or changes sign on the input set");
    Node& reciprocal = synthetic_.emplace_back();
    reciprocal.op_type = "Reciprocal";
    reciprocal.name = node.name + ".reciprocal";
    reciprocal.inputs = {enc[1]};
    const std::string name = enc[1] + ".reciprocal(" + node.name + ")";
    reciprocal.outputs = {name};
    extra_values_[name] = info(enc[1]);
    ranges_[name] = {std::min(1 / lo, 1 / hi), std::max(1 / lo, 1 / hi)};
    Encrypted b = encrypted(enc[1]);
    b.chain.push_back(&reciprocal);
    values_[name] = b;
    lower_binary(node, {enc[0], name});
  }

  // Expand of an encrypted tensor: a broadcast (data movement).
  void lower_expand(const Node& node, const std::vector<std::string>& enc) {
    if (enc.size() != 1 || enc[0] != node.inputs.at(0))
      unsupported(node, "an Expand of a constant by an encrypted shape");
    Encrypted x = materialize(enc[0]);
    const circuit::Shape out_shape = graph_.value_info(node.outputs.at(0)).shape;
    x.q = circuit::broadcast_to(x.q, out_shape);
    x.base = node.outputs.at(0);
    values_[x.base] = x;
  }

  // One lookup: q -> round(x / target) (zero point 0, signed).
  Encrypted rescale(const Encrypted& e, const std::string& name, double target) {
    const auto [lo, hi] = range_of(name);
    const auto qlo = static_cast<std::int64_t>(std::floor(lo / target)) - 1;
    const auto qhi = static_cast<std::int64_t>(std::ceil(hi / target)) + 1;
    const double scale = e.scale;
    const std::int64_t zp = e.zero_point;
    Encrypted r;
    r.q = circuit::apply_table(
        e.q,
        [scale, zp, target, qlo, qhi](std::int64_t v) {
          return std::clamp<std::int64_t>(
              std::llround(scale * static_cast<double>(v - zp) / target), qlo, qhi);
        },
        name + ".rescale");
    r.scale = target;
    r.zero_point = 0;
    r.activation = false;
    r.base = name;
    out_.lookups.push_back(
        {name + " (rescaled)",
         {"Rescale"},
         static_cast<std::size_t>(onnx::element_count(graph_.value_info(name).shape)),
         1,
         0,
         0,
         r.q.id()});
    return r;
  }

  void lower_movement(const Node& node, const std::vector<std::string>& enc) {
    const std::string& op = node.op_type;
    const std::string& out = node.outputs.at(0);
    const circuit::Shape out_shape = graph_.value_info(out).shape;
    if (op == "Concat") {
      std::vector<Encrypted> parts;
      for (const std::string& i : node.inputs) {
        if (!is_encrypted(i)) unsupported(node, "a concatenation with constants");
        parts.push_back(materialize(i));
      }
      bool same = true;
      for (const Encrypted& p : parts)
        same = same && p.scale == parts[0].scale && p.zero_point == parts[0].zero_point;
      if (!same) {
        for (std::size_t k = 0; k < parts.size(); ++k) {
          Encrypted e = parts[k];
          e.chain.clear();
          parts[k] = lookup(e, node.inputs[k], options_.bits.op_inputs);
        }
        // Re-quantized separately: distinct ranges. Use one common quantizer instead.
        const auto [lo, hi] = range_of(out);
        const UniformQuantizer common =
            UniformQuantizer::from_range(lo, hi, {options_.bits.op_inputs, false, false});
        for (std::size_t k = 0; k < parts.size(); ++k) {
          const double s = parts[k].scale;
          const std::int64_t z = parts[k].zero_point;
          parts[k].q = circuit::apply_table(
              parts[k].q,
              [s, z, common](std::int64_t v) {
                return common.quantize(s * static_cast<double>(v - z));
              },
              out + ".common");
          parts[k].scale = common.scale();
          parts[k].zero_point = common.zero_point();
        }
      }
      std::vector<Value> qs;
      for (const Encrypted& p : parts) qs.push_back(p.q);
      std::int64_t axis = node.int_attribute("axis", 0);
      if (axis < 0) axis += static_cast<std::int64_t>(out_shape.size());
      Encrypted r = parts[0];
      r.q = circuit::concatenate(qs, axis);
      r.base = out;
      values_[out] = r;
      return;
    }
    if (enc.size() != 1 || enc[0] != node.inputs.at(0))
      unsupported(node, "data movement of a constant operand by an encrypted one");
    // Pending univariate operations commute with reshapes only position by position: apply them.
    const Encrypted x = materialize(enc[0]);
    Value q = x.q;
    if (op == "Transpose") {
      q = circuit::transpose(q, node.ints_attribute("perm", {}));
    } else if (op == "Slice") {
      const circuit::Shape& in = graph_.value_info(enc[0]).shape;
      std::vector<std::int64_t> starts(in.size(), 0), stops(in.begin(), in.end()),
          steps(in.size(), 1);
      const auto s = node.ints_attribute("starts"), e = node.ints_attribute("ends");
      auto axes = node.ints_attribute("axes");
      const auto st = node.ints_attribute("steps");
      if (axes.empty())
        for (std::size_t i = 0; i < s.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
      for (std::size_t i = 0; i < axes.size(); ++i) {
        const auto d = static_cast<std::size_t>(axes[i] < 0 ? axes[i] + in.size() : axes[i]);
        const std::int64_t step = st.empty() ? 1 : st[i];
        if (step <= 0) unsupported(node, "a negative slice step");
        const auto clampi = [&](std::int64_t v) {
          if (v < 0) v += in[d];
          return std::clamp<std::int64_t>(v, 0, in[d]);
        };
        starts[d] = clampi(s[i]);
        stops[d] = clampi(e[i]);
        steps[d] = step;
      }
      q = circuit::slice(q, starts, stops, steps);
    } else if (op == "Gather") {
      const FloatTensor* idx = constant(node.inputs.at(1));
      if (idx == nullptr) unsupported(node, "a Gather with encrypted indices");
      const circuit::Shape& in = graph_.value_info(enc[0]).shape;
      std::int64_t axis = node.int_attribute("axis", 0);
      if (axis < 0) axis += static_cast<std::int64_t>(in.size());
      std::vector<std::int64_t> indices;
      for (double v : idx->values()) {
        auto i = static_cast<std::int64_t>(v);
        if (i < 0) i += in[static_cast<std::size_t>(axis)];
        indices.push_back(i);
      }
      q = circuit::take(q, indices, axis);
    } else if (op == "Pad") {
      const std::string mode = node.string_attribute("mode", "constant");
      if (mode != "constant") unsupported(node, "Pad mode " + mode);
      if (node.float_attribute("value", 0.0) != 0.0) unsupported(node, "padding with non-zeros");
      const auto pads = node.ints_attribute("pads");
      const std::size_t r = pads.size() / 2;
      q = circuit::pad(q, std::vector<std::int64_t>(pads.begin(), pads.begin() + r),
                       std::vector<std::int64_t>(pads.begin() + r, pads.end()), x.zero_point);
    }
    // Reshape, Flatten, Squeeze, Unsqueeze, Identity, and the results above: the output shape.
    if (q.shape() != out_shape) q = circuit::reshape(q, out_shape);
    Encrypted r = x;
    r.q = q;
    r.base = out;
    values_[out] = r;
  }

  void emit_output(const onnx::GraphInput& o) {
    if (!is_encrypted(o.name))
      throw InvalidArgument("graph output '" + o.name +
                            "' does not depend on the input: export the model with its input");
    const Encrypted& e = encrypted(o.name);
    NetworkOutput out;
    out.name = o.name;
    out.shape = o.info.shape;
    out.scale = e.scale;
    out.zero_point = e.zero_point;
    if (!e.chain.empty()) out.post_processing = chain_graph(e, o.name);
    b_.output(e.q);
    out_.outputs.push_back(std::move(out));
  }

  const onnx::Graph& graph_;
  std::map<std::string, std::pair<double, double>> ranges_;
  NetworkOptions options_;
  circuit::Builder b_;
  std::map<std::string, Encrypted> values_;
  std::map<std::string, FloatTensor> constants_;         // constant nodes' outputs
  std::map<std::string, onnx::ValueInfo> extra_values_;  // values the lowering made up
  std::deque<Node> synthetic_;                           // nodes the lowering made up
  std::map<std::string, double> weight_grid_;            // DequantizeLinear outputs: their scale
  std::set<const Node*> skipped_;                        // the input's QDQ nodes (the client's)
  LoweredNetwork out_;
};

}  // namespace

std::map<std::string, std::pair<double, double>> calibrate_graph(
    const onnx::Graph& graph, std::span<const FloatTensor> input_set) {
  if (input_set.empty())
    throw InvalidArgument(
        "the input set is empty: pass representative samples (e.g. the training data) to "
        "calibrate the quantization");
  std::map<std::string, std::pair<double, double>> ranges;
  for (const FloatTensor& sample : input_set) {
    onnx::evaluate_graph(
        graph, std::span(&sample, 1), [&](const std::string& name, const FloatTensor& value) {
          auto [it, added] = ranges.try_emplace(name, std::numeric_limits<double>::infinity(),
                                                -std::numeric_limits<double>::infinity());
          for (double v : value.values()) {
            if (!std::isfinite(v))
              throw InvalidArgument("value '" + name +
                                    "' is NaN or infinite on the input set: check the model and "
                                    "the data (no NaN in the inputs)");
            it->second.first = std::min(it->second.first, v);
            it->second.second = std::max(it->second.second, v);
          }
        });
  }
  return ranges;
}

LoweredNetwork lower_network(const onnx::Graph& graph, std::span<const FloatTensor> input_set,
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
  Lowering lowering(graph, calibrate_graph(graph, input_set), options);
  return lowering.run();
}

}  // namespace torusml::ml
