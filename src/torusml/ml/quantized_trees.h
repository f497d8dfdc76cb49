// A quantized ensemble of decision trees (a decision tree, a random forest, gradient-boosted
// trees) lowered to an integer circuit, compiled to FHE and run on whole batches in the clear, in
// simulation or under real encryption.
//
// Quantization (exact on integers):
//  * inputs: one unsigned n_bits quantizer per feature (asymmetric, calibrated on the feature's
//    column of the calibration data), q = quantize(x) in [0, 2^n_bits - 1];
//  * splits: each threshold t becomes the integer T of integer_threshold (tree_model.h), so that
//    the quantized model goes left iff q <= T exactly when the float model, given the dequantized
//    input, goes left (x <= t or x < t by the split rule); splits decided on the grid by the grid
//    bounds or their ancestors are pruned, as are subtrees whose quantized leaves all agree;
//  * leaves: one unsigned leaf_bits quantizer per output k (s_k, z_k), calibrated on the values
//    of output k over the leaves of every tree that some grid input reaches; leaf values become
//    q in [0, 2^leaf_bits - 1].
// The integer model returns, per sample, tree and output, the quantized value of the leaf
// reached; or, with fhe_sum, their sum over the trees (computed under encryption: the client
// decrypts one value per output and learns nothing about individual trees). The float output is
//     y_k = s_k * (sum over the T trees of q_k - T * z_k).
// The circuit (tree_lowering.h) returns the same integers; the three modes agree exactly:
//     Clear    : integer_forward, int64 arithmetic (no compilation needed);
//     Simulate : the compiled circuit evaluated with its noise model;
//     Execute  : encrypt the batch, run under FHE on every core, decrypt (real keys).
// compile() measures the circuit on the quantized data plus synthetic grid inputs (every leaf,
// every lookup index's extremes) and declares sound ranges for every encrypted value, so every
// input the quantizers can produce stays inside the compiled widths.
// Client-side input encoding (input_encoding, tree_lowering.h): each quantized input is
// encrypted as one n_bits value; or as two digits q = h 2^lb + l, lb = floor(n_bits / 2): more
// lookups, but none reads more than n_bits - lb bits of an input, so the whole circuit may use
// the parameters of narrower lookups; or as its thermometer code, 2^n_bits - 1 bits [q > t]:
// no comparison lookup at all, only the leaf lookups, for more input ciphertexts. compile()
// picks the encoding with the group width, by estimated cost (lookups and input encryption).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "torusml/circuit/compiler.h"
#include "torusml/circuit/ir/tensor.h"
#include "torusml/ml/compiled_model.h"
#include "torusml/ml/matrix.h"
#include "torusml/ml/quantizer.h"
#include "torusml/ml/tree_lowering.h"
#include "torusml/ml/tree_model.h"
#include "torusml/tfhe/random.h"

namespace torusml::ml {

/// Widest input quantization of a tree ensemble (its lookups read the quantized inputs).
inline constexpr unsigned kMaxTreeInputBits = 8;

/// Widest leaf-selection index (group_bits) accepted.
inline constexpr unsigned kMaxTreeGroupBits = 10;

struct TreeEnsembleOptions {
  unsigned n_bits = 6;     // input bits, in [1, 8]
  unsigned leaf_bits = 6;  // leaf value bits, in [1, 16]
  SplitRule split_rule = SplitRule::LessEqual;
  bool fhe_sum = false;  // sum the trees under encryption
  /// Index bits B of the leaf-selection groups (tree_lowering.h): 0 (the default) lets compile()
  /// choose the cheapest B in [2, max(n_bits, 2)] by the compiled circuits' estimated cost (wider
  /// groups: fewer lookups but noisier indices, hence possibly costlier parameters); else B is
  /// fixed, in [2, 10].
  unsigned group_bits = 0;
  /// Client-side encoding of each quantized input: Auto (the default) lets compile() choose, with
  /// the group width, by estimated cost (Value, Thermometer, and Digits when n_bits >= 3);
  /// Digits needs n_bits >= 2.
  TreeInputEncoding input_encoding = TreeInputEncoding::Auto;
  bool operator==(const TreeEnsembleOptions&) const = default;
};

/// Throws InvalidArgument (saying what to use) unless n_bits is in [1, 8], leaf_bits in [1, 16],
/// group_bits 0 or in [2, 10], input_encoding an enumerator (Digits only with n_bits >= 2) and
/// split_rule one of the enumerators.
void validate_options(const TreeEnsembleOptions& options);

class QuantizedTreeEnsemble {
 public:
  /// Quantizes the ensemble. trees: float trees over calibration.cols() features, each with the
  /// same number of outputs (validate_tree's rules); calibration: float samples (rows) x
  /// n_features, e.g. the training data. Throws InvalidArgument (with what to do) for no tree,
  /// malformed trees, empty or non-finite calibration data, n_bits outside [1, 8] or leaf_bits
  /// outside [1, 16].
  QuantizedTreeEnsemble(std::span<const DecisionTree> trees, const Matrix& calibration,
                        TreeEnsembleOptions options = {});

  std::size_t n_features() const { return input_quantizers_.size(); }
  std::size_t n_outputs() const { return leaf_quantizers_.size(); }
  std::size_t n_trees() const { return trees_.size(); }
  const TreeEnsembleOptions& options() const { return options_; }
  /// One unsigned n_bits quantizer per feature.
  const std::vector<UniformQuantizer>& input_quantizers() const { return input_quantizers_; }
  /// One unsigned leaf_bits quantizer per output.
  const std::vector<UniformQuantizer>& leaf_quantizers() const { return leaf_quantizers_; }
  /// The pruned integer trees (leaf values quantized).
  const std::vector<IntegerTree>& integer_trees() const { return trees_; }
  /// Lookup counts (ours and the reference method's), groups, pruned nodes, precisions, input
  /// encoding: of the compiled circuit once compiled, else of the default lowering (B =
  /// group_bits, n_bits if 0; input_encoding, Value if Auto).
  TreeLookupStatistics statistics() const { return lowering()->statistics; }
  /// The integer program: x encrypted, (encoded_input_width,) (see encode_input) -> (n_trees or
  /// 1, n_outputs) (the compiled one once compiled, as statistics()).
  circuit::Program program() const { return lowering()->program; }
  /// The program's input for a (rows, n_features) tensor of quantized inputs (values in
  /// [0, 2^n_bits - 1]; InvalidArgument otherwise), in the lowering's input encoding
  /// (encode_tree_inputs). What the client encrypts; run_integer encodes its inputs with it.
  circuit::Tensor encode_input(const circuit::Tensor& q_x) const;
  /// The shape of one sample's integer output: n_trees (1 with fhe_sum) rows of n_outputs.
  std::size_t output_rows() const { return options_.fhe_sum ? 1 : n_trees(); }

  /// Quantizes a batch (rows) x n_features: a (rows, n_features) int64 tensor. Throws
  /// InvalidArgument for a wrong feature count, no rows, NaN or infinities.
  circuit::Tensor quantize_input(const Matrix& x) const;
  /// The leaf values reached, (rows, n_trees, n_outputs), or their sum over the trees
  /// (rows, 1, n_outputs) with fhe_sum, for a (rows, n_features) tensor of quantized inputs
  /// (values in [0, 2^n_bits - 1]; InvalidArgument otherwise).
  circuit::Tensor integer_forward(const circuit::Tensor& q_x) const;
  /// y_k = s_k (sum over axis 1 of acc - n_trees z_k): (rows, n_outputs), for acc of shape
  /// (rows, n_trees, n_outputs) or (rows, 1, n_outputs) (already summed). InvalidArgument for
  /// other shapes.
  Matrix dequantize_output(const circuit::Tensor& acc) const;

  /// Compiles the program on quantize_input(x) plus the synthetic grid inputs, with the sound
  /// ranges declared (added to options.range_hints), and generates the keys (from `key_seed`).
  /// Every candidate lowering is compiled (without keys) and the one with the lowest estimated
  /// cost kept (per sample: PBS count x estimated PBS time, plus the client's encryption of the
  /// input ciphertexts, estimate_input_encryption_seconds): with group_bits 0, every B in
  /// [2, max(n_bits, 2)] (the widest on ties); with input_encoding Auto, Value, Thermometer and
  /// (n_bits >= 3) Digits (in that order on ties); with Digits, with and without local sums
  /// (tree_lowering.h) when they differ.
  /// The new circuit and keys are swapped in atomically: runs already started finish with the
  /// ones they started with. Throws InvalidArgument (bad x) or CompileError (e.g. a lookup wider
  /// than options.max_table_bits: fewer bits or shallower trees).
  void compile(const Matrix& x, const circuit::CompileOptions& options = {},
               const tfhe::Seed& key_seed = tfhe::random_seed());
  bool is_compiled() const { return compiled() != nullptr; }
  /// Throws InvalidArgument if not compiled; valid until the next compile().
  const circuit::CompiledCircuit& compiled_circuit() const;
  const circuit::KeySet& keys() const;
  /// The compiled circuit, shared (it outlives a later recompilation); null if not compiled.
  std::shared_ptr<const circuit::CompiledCircuit> shared_circuit() const;

  /// integer_forward's result in `mode` (Simulate and Execute need compile(); InvalidArgument
  /// otherwise). Simulate and Execute run the circuit on encode_input(q_x) (what the client
  /// encrypts); Execute runs the batch in chunks of a few rows, one chunk per core at a time.
  /// Thread-safe, also concurrently with compile().
  circuit::Tensor run_integer(const circuit::Tensor& q_x, circuit::Mode mode,
                              std::uint64_t simulation_seed = 0) const;
  /// quantize_input -> run_integer -> dequantize_output: (rows, n_outputs) raw outputs (the sum
  /// of the trees' values; averaging, a base score or a link function are the caller's).
  Matrix predict_raw(const Matrix& x, circuit::Mode mode, std::uint64_t simulation_seed = 0) const;

  /// The model's parameters (options, quantizers, integer trees, statistics of the float model),
  /// versioned and checksummed; not the compiled circuit.
  std::vector<std::uint8_t> serialize() const;
  /// The model serialized by serialize() (not compiled). Throws SerializationError for bytes that
  /// are truncated, corrupted, of another kind or version, or describe an invalid model.
  static QuantizedTreeEnsemble deserialize(std::span<const std::uint8_t> bytes);

 private:
  struct Compiled : CompiledModel {
    std::shared_ptr<const LoweredTrees> lowering;
  };
  QuantizedTreeEnsemble() = default;
  /// The lowering with `group_bits` index bits (0: n_bits), `encoding` (not Auto) and
  /// `local_sums`, with the float model's statistics.
  std::shared_ptr<const LoweredTrees> lower(unsigned group_bits, TreeInputEncoding encoding,
                                            bool local_sums = true) const;
  /// The default lowering: options' group_bits and input_encoding (Value if Auto).
  std::shared_ptr<const LoweredTrees> lower_default() const;
  /// The compiled lowering, or the default one.
  std::shared_ptr<const LoweredTrees> lowering() const;
  void require_quantized_input(const circuit::Tensor& q_x) const;
  std::shared_ptr<const Compiled> compiled() const { return std::atomic_load(&compiled_); }

  TreeEnsembleOptions options_;
  std::vector<UniformQuantizer> input_quantizers_;
  std::vector<UniformQuantizer> leaf_quantizers_;
  std::vector<IntegerTree> trees_;
  std::size_t reference_lookups_ = 0, pruned_nodes_ = 0;  // of the float model
  std::shared_ptr<const LoweredTrees> lowered_;           // the default lowering, immutable
  // Shared by copies; immutable once built; read with compiled(), replaced with atomic_store.
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace torusml::ml
