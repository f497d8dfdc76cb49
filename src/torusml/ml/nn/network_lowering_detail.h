// Internal to the network lowering (network_lowering.h): the state of one lowering and its steps,
// split by kind over lowering_*.cpp. Not a public header.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/ml/nn/network_lowering.h"
#include "torusml/ml/quantizer.h"
#include "torusml/onnx/float_tensor.h"
#include "torusml/onnx/graph.h"

namespace torusml::ml::detail {

using circuit::Value;
using onnx::FloatTensor;
using onnx::Node;

/// Whether the operator is elementwise (then univariate when all its operands but one are
/// constants): onnx::is_elementwise_operator, BatchNormalization (per channel) and Identity.
bool is_univariate_candidate(const std::string& op_type);

/// Throws UnsupportedOperator naming the node and what is not supported.
[[noreturn]] void unsupported(const Node& node, const std::string& what);

/// Rounds every element to the nearest integer.
circuit::Tensor to_int_tensor(const FloatTensor& t);

/// Bits of the integer range [lo, hi] (a sign bit when lo < 0).
unsigned bit_length(std::int64_t lo, std::int64_t hi);

// An encrypted graph value: integers q meaning scale (q - zero_point), then the pending
// univariate nodes (`chain`, in order) whose last output is this value. The accumulator of a
// layer whose weights have one scale per output channel (a quantization-aware model's per-axis
// DequantizeLinear) has one scale per element instead (`scales`), as have the sums and data
// movements of it; lookups read each element at its own scale, and every other consumer first
// re-quantizes such a value to one scale (materialize).
struct Encrypted {
  Value q;
  double scale = 1.0;          // the largest of `scales` when there are per-element scales
  std::vector<double> scales;  // per element (row-major); empty: `scale` for every element
  std::int64_t zero_point = 0;
  bool activation = false;  // the output of a lookup or the input: op_inputs-bit or less
  bool summed = false;      // a sum of activations (pooling): a linear layer may read it
  // > 0: q holds the integers of an unsigned grid_bits-bit quantizer (scale, zero_point): an
  // activation, or maxima of activations in a wider encoding, whose re-encoding keeps them.
  unsigned grid_bits = 0;
  bool quantization_aware = false;  // that quantizer is the model's own (QuantizeLinear)
  std::string base;                 // the graph value q stands for (before the chain)
  std::vector<const Node*> chain;
  const Node* client_only = nullptr;  // a chain node only the client can apply (Softmax)
  // Per element (row-major), in units of its scale: what the integer accumulator lacks of the
  // float bias (bias / scale minus its rounding, a quantization-aware model's float bias being
  // off the accumulator's grid). Lookups and outputs add it back, sums add it up; empty: none.
  std::vector<double> residuals;

  double scale_at(std::size_t element) const { return scales.empty() ? scale : scales[element]; }
  double residual_at(std::size_t element) const {
    return residuals.empty() ? 0.0 : residuals[element];
  }
  // Per-element scales (one for every element, > 0); all equal: the single `scale`.
  void set_scales(std::vector<double> s) {
    scales.clear();
    if (s.empty()) return;
    scale = *std::max_element(s.begin(), s.end());
    if (std::all_of(s.begin(), s.end(), [&](double v) { return v == s[0]; })) return;
    scales = std::move(s);
  }
};

class NetworkLowering {
 public:
  NetworkLowering(const onnx::Graph& graph, GraphCalibration calibration,
                  const NetworkOptions& options)
      : graph_(graph),
        ranges_(std::move(calibration.ranges)),
        element_ranges_(std::move(calibration.element_ranges)),
        options_(options) {}

  LoweredNetwork run();

 private:
  Encrypted& encrypted(const std::string& name) { return values_.at(name); }
  bool is_encrypted(const std::string& name) const { return values_.count(name) != 0; }
  static std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }
  std::set<const Node*> skipped_;  // the input's QDQ nodes (the client's)
  LoweredNetwork out_;
  // The type and shape of a graph value or of a value the lowering made up.
  const onnx::ValueInfo& info(const std::string& name) const;

  std::pair<double, double> range_of(const std::string& name) const;

  const FloatTensor* constant(const std::string& name) const;

  // The nodes consuming `value`.
  std::vector<const Node*> consumers(const std::string& value) const;

  // [Clip ->] QuantizeLinear [-> Clip] -> DequantizeLinear right after `value` (each the only
  // consumer of the previous output), or nothing.
  std::vector<const Node*> qdq_after(const std::string& value) const;

  // A quantization-aware model's own quantizer at the end of a chain (qdq_quantizer).
  struct ChainQuantizer {
    UniformQuantizer quantizer;
    std::size_t first = 0;     // chain[first] is its QuantizeLinear (or DequantizeLinear)
    std::uint64_t levels = 0;  // integers it produces (at most 2^n_bits)
  };

  // The unsigned quantizer equal to a chain ending in a per-tensor DequantizeLinear, possibly
  // followed by operations that keep its grid (Relu, Identity, Clip to bounds on the grid): the
  // DequantizeLinear's scale, its integers' range (their type's, narrowed by an integer Clip
  // before it, as torch writes quant ranges narrower than 8 bits: QuantizeLinear -> Clip ->
  // DequantizeLinear, by a float Clip before its QuantizeLinear, and by the operations after
  // it), the zero point shifted so that the lowest integer is 0, ceil(log2(levels)) bits.
  // nullopt if the chain has no DequantizeLinear. Throws UnsupportedOperator, naming the node,
  // where the chain cannot be imported exactly: a per-axis QuantizeLinear or DequantizeLinear on
  // the encrypted value, or an operation after the last DequantizeLinear that leaves its grid.
  std::optional<ChainQuantizer> qdq_quantizer(const std::vector<const Node*>& chain) const;

  void lower_node(const Node& node);

  // The pending chain of `e` (or a re-quantization when it has none and is no activation) as
  // one lookup; returns the activation. `linear`: the consumer is a linear layer, which may also
  // read a sum of activations.
  Encrypted materialize(const std::string& name, bool linear = false);

  // One table lookup computing e's chain and quantizing the result (n_bits, unsigned).
  Encrypted lookup(const Encrypted& e, const std::string& name, unsigned n_bits);

  // Rounding that the lookup's output quantization allows: an input error of 2^lsbs integer
  // units moves the output by at most slope * 2^lsbs * scale, kept within one output step
  // (the steepest slope of the chain over the input set's range, every position, measured on
  // 257 points); at most kAutomaticRoundingBits bits kept, at least 2.
  unsigned automatic_lsbs(const Encrypted& e, const onnx::Graph& chain, double step_out,
                          double in_lo, double in_hi, unsigned bits) const;

  static std::int64_t floor_div(std::int64_t a, std::int64_t b);

  // The graph of e's chain: input e.base, output `name`, with the constants it reads.
  onnx::Graph chain_graph(const Encrypted& e, const std::string& name) const;

  // Runs `node` in float on the given inputs (constants), returning its first output.
  FloatTensor evaluate_alone(const Node& node, const std::vector<FloatTensor>& inputs,
                             const std::vector<onnx::ElementType>& types = {}) const;

  // A node of constants only (the loader keeps QuantizeLinear / DequantizeLinear on weights):
  // evaluated once; a DequantizeLinear (per tensor or per axis, any zero point) records the grid
  // its weights lie on (weight_grid_), which data movement (Transpose, Reshape, ...) carries.
  void lower_constant(const Node& node);

  // Gemm, MatMul, Conv with constant weights: exact integer products, one clear constant for the
  // zero point and the bias.
  void lower_linear(const Node& node, const std::vector<std::string>& enc);

  // The scale of each output channel of a linear layer whose weights `w` lie on their own
  // quantization grid (weight_grid_) with one scale per output channel (per tensor, or per axis
  // on the output channels' axis: Conv's 0, Gemm's 0 with transB else 1, MatMul's last,
  // ConvTranspose's 1), times `alpha`; empty if there is no such grid.
  std::vector<double> weight_channel_scales(const Node& node, const FloatTensor& w,
                                            double alpha) const;

  // The per-element scales of `x` (an input of the data-movement `node`) moved as the node moves
  // the elements (padding gets x.scale: it holds float 0 whatever the scale).
  std::vector<double> moved_scales(const Node& node, const Encrypted& x) const;

  Value lower_conv(const Node& node, Value x, const circuit::Tensor& w);

  // ConvTranspose (2-D) as a stride-1 convolution of the zero-interleaved, padded input with the
  // flipped kernel (x centered: float 0 is integer 0).
  Value lower_conv_transpose(const Node& node, Value x, const circuit::Tensor& w);

  // Sums (pooling, reductions): the divisor goes into the scale.
  void lower_sum(const Node& node, const std::vector<std::string>& enc);

  // MaxPool on activations: the maximum of strided slices of the (padded) input.
  void lower_max_pool(const Node& node, const std::vector<std::string>& enc);

  // Add / Sub of two encrypted values: one scale for both.
  void lower_add(const Node& node, const std::vector<std::string>& enc);

  // Mul, Max, Min and comparisons of two encrypted tensors of one shape: Mul multiplies the
  // centered integers (two lookups per element: the circuit's quarter-square product); Max, Min
  // and the comparisons read both on one scale (one lookup per element, after re-quantizing
  // operands of different scales); comparisons give 0 or 1.
  void lower_binary(const Node& node, const std::vector<std::string>& enc);

  // a / b for encrypted a and b: a lookup computes 1 / b (with b's pending operations), then the
  // product. The input set must keep b away from 0.
  void lower_division(const Node& node, const std::vector<std::string>& enc);

  // Expand of an encrypted tensor: a broadcast (data movement).
  void lower_expand(const Node& node, const std::vector<std::string>& enc);

  // One lookup: q -> round(x / target) (zero point 0, signed).
  Encrypted rescale(const Encrypted& e, const std::string& name, double target);

  void lower_movement(const Node& node, const std::vector<std::string>& enc);

  void emit_output(const onnx::GraphInput& o);

  const onnx::Graph& graph_;
  std::map<std::string, std::pair<double, double>> ranges_;
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> element_ranges_;
  NetworkOptions options_;
  circuit::Builder b_;
  std::map<std::string, Encrypted> values_;
  std::map<std::string, FloatTensor> constants_;         // constant nodes' outputs
  std::map<std::string, onnx::ValueInfo> extra_values_;  // values the lowering made up
  std::deque<Node> synthetic_;                           // nodes the lowering made up
  // Constant values on a quantization grid (DequantizeLinear outputs and their data movement):
  // the grid's scale of each element.
  std::map<std::string, FloatTensor> weight_grid_;
};

}  // namespace torusml::ml::detail
