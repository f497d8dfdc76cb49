// Post-training quantization of a float ONNX graph (onnx/graph.h) and its lowering to an integer
// circuit (circuit/ir/program.h), as Concrete ML quantizes torch and ONNX models.
//
// Every encrypted value of the graph is held as integers q with a float meaning
//     x = scale (q - zero_point)
// (one scale and zero point per tensor). The lowering walks the nodes in order:
//  * the model input: an unsigned model_inputs-bit quantizer calibrated on the input set; the
//    client quantizes and encrypts q;
//  * linear layers with constant weights (Gemm, MatMul, Conv 1-D/2-D with strides, padding,
//    dilations and groups): weights quantized to op_weights bits (symmetric, per tensor), the
//    integer product with the encrypted activation computed exactly (no lookup), the input's
//    zero point and the bias (quantized at scale s_x s_w) folded into one clear constant: the
//    result is a wide accumulator of scale s_x s_w and zero point 0. Weights dequantized by a
//    quantization-aware model's DequantizeLinear keep its integers q - zero_point exactly: per
//    tensor, or per output channel (axis 0 of Conv's OIHW weights, Gemm's 0 with transB else 1,
//    MatMul's last), then the accumulator of output channel o has the scale s_x s_w[o], one
//    scale per element, which the sums within a channel (pooling), data movement and the next
//    lookup (one table per channel) read as they are; other consumers, and sums across channels,
//    re-quantize it first (one lookup). A per-axis grid on an input axis cannot be kept (the
//    products of a sum would have different scales): those weights are quantized per tensor;
//  * AveragePool (with count_include_pad, or without padding), GlobalAveragePool, ReduceSum,
//    ReduceMean: integer sums, the divisor folded into the scale (no lookup);
//  * univariate operations (any elementwise operator whose other operands are constants: Relu,
//    Sigmoid, Tanh, Gelu, Add or Mul by constants, BatchNormalization, Clip, Where with a constant
//    condition, comparisons with constants, ...) are not computed where they stand: consecutive
//    ones accumulate on their encrypted operand and are fused into one table lookup when the next
//    linear layer (or data movement, or pooling) needs an activation. The table reads the
//    accumulator (rounded to its rounding_threshold_bits most significant bits when wider),
//    dequantizes it, applies the operations in float, and quantizes the result with an unsigned
//    op_inputs-bit quantizer calibrated on the input set (a quantization-aware model's own
//    quantizer when the chain ends in a DequantizeLinear: its scale, and the range of its
//    integers, narrowed by Clips around its QuantizeLinear; float biases off the accumulator's
//    grid enter the tables exactly). Operations with per-position constants
//    (per-channel BatchNormalization, PRelu) use one table per distinct function;
//  * data movement (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice, Gather by constant
//    indices, Concat, Pad, Identity) moves the integers (after the pending operations' lookup);
//    MaxPool takes maxima of activations (quantization is monotone): one lookup per comparison;
//  * Add / Sub of two encrypted values: both operands re-quantized to one scale (one lookup per
//    element each, unless they share it), then added; their zero points add up;
//  * graph outputs: the program returns the integers; the univariate operations still pending
//    on an output (e.g. a final Sigmoid), and a final Softmax or LogSoftmax, are applied by the
//    client after decryption (dequantize_output), which costs no lookup.
// An unsupported operator, or a supported one in a position this lowering cannot handle (e.g. a
// product of two encrypted tensors), throws UnsupportedOperator naming the operator and the node.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/ir/program.h"
#include "torusml/ml/quantizer.h"
#include "torusml/onnx/float_tensor.h"
#include "torusml/onnx/graph.h"

namespace torusml::ml {

/// Bit widths of the quantization (Concrete ML's n_bits dictionary).
struct NetworkBits {
  unsigned model_inputs = 8;   // the client's input quantizer
  unsigned op_inputs = 8;      // activations: the outputs of the lookups
  unsigned op_weights = 8;     // weights of the linear layers (signed, symmetric)
  unsigned model_outputs = 8;  // outputs computed by a lookup
  bool operator==(const NetworkBits&) const = default;
};

struct NetworkOptions {
  NetworkBits bits;
  /// Most significant bits kept of each lookup's input (the accumulator); 0 lets the lowering
  /// choose per lookup the rounding its output quantization allows: dropping 2^k integer units
  /// moves the output by at most slope * 2^k * scale (the chain's steepest slope on the input
  /// set's range), kept within one output quantization step; at most kAutomaticRoundingBits bits
  /// kept, at least 2 (statistics report the choice).
  unsigned rounding_threshold_bits = 0;
  /// Approximate (the default): the lookup reads only the kept bits (off by one near the
  /// rounding boundaries); Exact rounds exactly, with a few more bootstraps per lookup that read
  /// no more bits than the lookup (circuit/compile/exact_rounding.h), for accumulators of any
  /// width whose kept bits fit a lookup.
  circuit::RoundingMode rounding_mode = circuit::RoundingMode::Approximate;
  bool operator==(const NetworkOptions&) const = default;
};

/// Most bits the automatic rounding keeps (rounding_threshold_bits 0).
inline constexpr unsigned kAutomaticRoundingBits = 8;

/// One lookup node of the lowered program: which graph operations it computes, for how many
/// elements, and the rounding of its input.
struct NetworkLookup {
  std::string name;              // the graph value it produces
  std::vector<std::string> ops;  // op types fused into it ("Identity" for a re-quantization)
  std::size_t lookups = 0;       // elements (lookups per sample)
  std::size_t tables = 0;        // distinct functions
  unsigned accumulator_bits =
      0;                      // width of what it reads on the input set (centred, before rounding)
  unsigned lsbs_removed = 0;  // rounding
  circuit::NodeId node = -1;  // the program's table-lookup node
  /// Bits of its output quantizer; 0 where it keeps its operands' (MaxPool, products, ...) or
  /// re-quantizes (Rescale).
  unsigned output_bits = 0;
  /// Its output quantizer is the graph's own (a quantization-aware model's DequantizeLinear),
  /// not one calibrated on the input set.
  bool quantization_aware = false;
};

/// How the client reads one program output: x = scale (q - zero_point), then the pending
/// univariate operations (a graph of its own, evaluated in the clear; empty when none).
struct NetworkOutput {
  std::string name;
  onnx::Shape shape;
  double scale = 1.0;
  /// One scale per element (row-major) when they differ (the output of a layer with per-channel
  /// weight scales); empty: `scale` for every element.
  std::vector<double> scales;
  std::int64_t zero_point = 0;
  double scale_at(std::size_t element) const { return scales.empty() ? scale : scales[element]; }
  onnx::Graph post_processing;  // one input (the dequantized value), one output; no node if none
  bool has_post_processing() const { return !post_processing.nodes.empty(); }
};

struct LoweredNetwork {
  /// One encrypted input (the quantized graph input, flattened: one sample is a vector of its
  /// elements) -> one output per graph output.
  circuit::Program program;
  UniformQuantizer input_quantizer;
  std::vector<NetworkOutput> outputs;
  std::vector<NetworkLookup> lookups;
};

/// The ranges of a graph's values over an input set: overall, and per element position (the
/// lowering centres each lookup's input on its element's own range, so that the lookup reads
/// fewer bits than the whole tensor spans).
struct GraphCalibration {
  std::map<std::string, std::pair<double, double>> ranges;  // min, max over samples and elements
  /// Per value: min and max over the samples of each element (row-major, one per element).
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> element_ranges;
};

/// Min and max of every value of `graph` over the input set (one tensor per sample, each of the
/// graph input's shape), overall and per element. Throws InvalidArgument for an empty input set, a
/// wrong shape, or NaN or infinite values produced by the graph.
GraphCalibration calibrate_graph(const onnx::Graph& graph,
                                 std::span<const onnx::FloatTensor> input_set);

/// Quantizes and lowers `graph` (one input, one or more outputs, batch size fixed) calibrated on
/// `input_set` (see the header comment). Throws InvalidArgument (graph with several inputs, bad
/// bit widths, empty input set) or UnsupportedOperator (naming the operator and the node).
LoweredNetwork lower_network(const onnx::Graph& graph, std::span<const onnx::FloatTensor> input_set,
                             const NetworkOptions& options);

}  // namespace torusml::ml
