// A quantized linear model y = x @ W + b lowered to an integer circuit, compiled to FHE and run
// on whole batches in the clear, in simulation or under real encryption.
//
// Quantization (n_i input bits, n_w weight bits):
//  * each feature j has its own unsigned input quantizer (s_j, z_j) calibrated on its min/max over
//    the calibration data: x_j ~ s_j (q_j - z_j), q_j in [0, 2^n_i - 1];
//  * the input scales are folded into the weights, V = diag(s) W, and V is quantized with one
//    signed asymmetric n_w-bit quantizer (s_w, z_w) calibrated on [min(V, 0), max(V, 0)]:
//    V ~ s_w (q_V - z_w). The circuit's integer weights are W' = q_V - z_w: zeros of V stay
//    exactly zero and |W'| <= 2^n_w - 1, so acc = q_x @ W' fits n_i + n_w + log2(n_features)
//    bits (plus a sign bit) whatever the data (all-zero weights: calibrated on the intercepts);
//  * the bias is quantized to the accumulator's scale: q_b = round(b / s_w).
// Then
//     y ~ s_w * (q_x @ W' - z_x @ W' + q_b) = s_w * acc,    acc = q_x @ W' + offset
// The circuit computes acc = q_x @ W' + offset, offset = q_b - z_x @ W' (the input zero-point
// term and the quantized bias as clear constants; one encrypted input of n_features values, one
// encrypted output of n_outputs values): a leveled circuit without bootstrap. The output scale
// s_w is applied in the clear after decryption. The three modes return identical integers:
//     Clear    : acc computed with int64 arithmetic (no compilation needed);
//     Simulate : the compiled circuit evaluated with its noise model;
//     Execute  : encrypt the batch, run under FHE on every core, decrypt (real keys).
// compile() measures the circuit on the quantized data plus the extreme inputs of every output
// (each q_j at 0 or 2^n_i - 1 by the sign of W'_jk), so every input the quantizer can produce
// stays inside the compiled bit widths: encrypted results never wrap.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "torusml/circuit/compiler.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"
#include "torusml/ml/compiled_model.h"
#include "torusml/ml/matrix.h"
#include "torusml/ml/quantizer.h"
#include "torusml/tfhe/random.h"

namespace torusml::ml {

/// Bit widths of a quantized linear model (Concrete ML's n_bits "op_inputs" / "op_weights").
struct LinearBits {
  unsigned inputs = 8;   // in [1, 16]
  unsigned weights = 8;  // in [1, 16]
  bool operator==(const LinearBits&) const = default;
};

class QuantizedLinear {
 public:
  /// Quantizes the model. weights: (n_features, n_outputs); bias: n_outputs values; calibration:
  /// float samples (rows) x n_features, e.g. the training data. Throws InvalidArgument for empty or
  /// mismatched shapes, NaN or infinite values, or bits outside [1, 16].
  QuantizedLinear(const Matrix& weights, std::span<const double> bias, const Matrix& calibration,
                  LinearBits bits = {});

  std::size_t n_features() const { return n_features_; }
  std::size_t n_outputs() const { return n_outputs_; }
  const LinearBits& bits() const { return bits_; }
  /// One unsigned quantizer per feature.
  const std::vector<UniformQuantizer>& input_quantizers() const { return input_quantizers_; }
  /// The quantizer of the folded weights V = diag(s) W.
  const UniformQuantizer& weight_quantizer() const { return weight_quantizer_; }
  /// W' = q_V - z_w, shape (n_features, n_outputs): the circuit's clear weights.
  const circuit::Tensor& integer_weights() const { return integer_weights_; }
  /// q_b = round(b / s_w), one per output.
  const std::vector<std::int64_t>& quantized_bias() const { return quantized_bias_; }
  /// q_b - z_x @ W', one per output: the circuit's clear constant.
  const std::vector<std::int64_t>& output_offsets() const { return output_offsets_; }
  /// s_w: the real value of one unit of acc.
  double output_scale() const { return weight_quantizer_.scale(); }

  /// Quantizes a batch (rows) x n_features with the input quantizers: a (rows, n_features)
  /// tensor. Throws InvalidArgument for a wrong feature count, no rows, NaN or infinities.
  circuit::Tensor quantize_input(const Matrix& x) const;
  /// s_w * acc for a (rows, n_outputs) accumulator tensor.
  Matrix dequantize_output(const circuit::Tensor& acc) const;
  /// acc = q_x @ W' + offset with exact int64 arithmetic, for a (rows, n_features) tensor of
  /// quantized inputs (values must lie in the input quantizers' range; InvalidArgument otherwise).
  circuit::Tensor integer_forward(const circuit::Tensor& q_x) const;
  /// The integer program: x (n_features,) encrypted -> x @ W' + offset (n_outputs,).
  circuit::Program program() const;

  /// Compiles the program on quantize_input(x) plus the extreme inputs and generates the keys
  /// (from `key_seed`), kept with the model. Throws InvalidArgument (bad x) or CompileError.
  /// The new circuit and keys are built aside, then swapped in atomically: runs already started
  /// (run_integer, predict, on other threads) finish with the circuit and keys they started with.
  void compile(const Matrix& x, const circuit::CompileOptions& options = {},
               const tfhe::Seed& key_seed = tfhe::random_seed());
  bool is_compiled() const { return compiled() != nullptr; }
  /// Throws InvalidArgument if not compiled. The references are valid until the next compile();
  /// use shared_circuit() to keep the circuit across recompilations.
  const circuit::CompiledCircuit& compiled_circuit() const;
  const circuit::KeySet& keys() const;
  /// The compiled circuit, shared (it outlives a later recompilation); null if not compiled.
  std::shared_ptr<const circuit::CompiledCircuit> shared_circuit() const;

  /// acc for a (rows, n_features) tensor of quantized inputs, in `mode` (Simulate and Execute
  /// need compile(); InvalidArgument otherwise). Execute encrypts, runs and decrypts the batch in
  /// chunks of a few rows (at most 512 KiB of input ciphertexts each), one chunk per core at a
  /// time: memory stays bounded for any batch size and every core is busy. Thread-safe, also
  /// concurrently with compile(): a run holds the circuit and keys current at its start.
  circuit::Tensor run_integer(const circuit::Tensor& q_x, circuit::Mode mode,
                              std::uint64_t simulation_seed = 0) const;
  /// quantize_input -> run_integer -> dequantize_output: (rows, n_outputs) real outputs.
  Matrix predict(const Matrix& x, circuit::Mode mode, std::uint64_t simulation_seed = 0) const;

 private:
  using Compiled = CompiledModel;
  void require_quantized_input(const circuit::Tensor& q_x) const;
  /// The current circuit and keys (atomic load: compile() may swap them on another thread).
  std::shared_ptr<const Compiled> compiled() const { return std::atomic_load(&compiled_); }

  std::size_t n_features_ = 0, n_outputs_ = 0;
  LinearBits bits_;
  std::vector<UniformQuantizer> input_quantizers_;
  UniformQuantizer weight_quantizer_;
  circuit::Tensor integer_weights_;
  std::vector<std::int64_t> quantized_bias_;
  std::vector<std::int64_t> output_offsets_;
  // Shared by copies; immutable once built; read with compiled(), replaced with atomic_store.
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace torusml::ml
