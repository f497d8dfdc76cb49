// A neural network (an ONNX float graph: an MLP, a CNN) quantized after training and compiled to
// FHE (network_lowering.h), run on whole batches in the clear, in simulation or under real
// encryption. The three modes agree exactly on the integers:
//     Clear    : the lowered program evaluated on integers (no keys);
//     Simulate : the compiled circuit with its noise model;
//     Execute  : encrypt the batch, run under FHE on every core, decrypt (real keys).
// forward() quantizes float inputs, runs, dequantizes and applies the client-side
// post-processing of each output (the univariate operations pending on it).
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/compiler.h"
#include "torusml/ml/compiled_model.h"
#include "torusml/ml/nn/network_lowering.h"
#include "torusml/onnx/graph.h"
#include "torusml/tfhe/random.h"

namespace torusml::ml {

class QuantizedNetwork {
 public:
  /// Quantizes `graph` (one input, one output) calibrated on `input_set` (one tensor per sample,
  /// of the graph input's shape). Throws what lower_network throws.
  QuantizedNetwork(onnx::Graph graph, std::span<const onnx::FloatTensor> input_set,
                   NetworkOptions options = {});

  const onnx::Graph& graph() const { return graph_; }
  const NetworkOptions& options() const { return options_; }
  const LoweredNetwork& lowered() const { return lowered_; }
  const UniformQuantizer& input_quantizer() const { return lowered_.input_quantizer; }
  const NetworkOutput& output() const { return lowered_.outputs.at(0); }
  /// Elements of one input sample (the graph input's shape, flattened).
  std::size_t input_size() const;

  /// Float samples (rows, input_size()) -> quantized (rows, input_size()). InvalidArgument for a
  /// wrong width, no rows, NaN or infinities.
  circuit::Tensor quantize_input(std::span<const double> x, std::size_t rows) const;
  /// The program's integer outputs (rows, *output shape) in `mode` (Simulate and Execute need
  /// compile()). Thread-safe, also concurrently with compile().
  circuit::Tensor run_integer(const circuit::Tensor& q_x, circuit::Mode mode,
                              std::uint64_t simulation_seed = 0) const;
  /// scale (q - zero_point), then the output's post-processing: (rows, output elements).
  std::vector<double> dequantize_output(const circuit::Tensor& q_y) const;
  /// quantize_input -> run_integer -> dequantize_output.
  std::vector<double> forward(std::span<const double> x, std::size_t rows, circuit::Mode mode,
                              std::uint64_t simulation_seed = 0) const;

  /// Compiles the program on the quantized input set and generates the keys; the circuit and
  /// keys are swapped in atomically. Throws CompileError (e.g. a lookup wider than
  /// options.max_table_bits: lower rounding_threshold_bits).
  void compile(std::span<const onnx::FloatTensor> input_set,
               const circuit::CompileOptions& options = {},
               const tfhe::Seed& key_seed = tfhe::random_seed());
  bool is_compiled() const { return compiled() != nullptr; }
  const circuit::CompiledCircuit& compiled_circuit() const;
  std::shared_ptr<const circuit::CompiledCircuit> shared_circuit() const;
  /// Per lookup node: the operations it computes, lookups per sample, accumulator bits and
  /// rounding, and (once compiled) its precision; plus the totals.
  std::string statistics_text() const;

 private:
  std::shared_ptr<const CompiledModel> compiled() const { return std::atomic_load(&compiled_); }
  circuit::Tensor quantize_set(std::span<const onnx::FloatTensor> input_set) const;

  onnx::Graph graph_;
  NetworkOptions options_;
  LoweredNetwork lowered_;
  std::shared_ptr<const CompiledModel> compiled_;
};

}  // namespace torusml::ml
