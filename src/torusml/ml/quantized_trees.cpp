#include "torusml/ml/quantized_trees.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <sstream>

#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"

namespace torusml::ml {

namespace {

// Input ciphertext bytes per chunk of an encrypted batch (as QuantizedLinear: larger buffers
// come from fresh pages on every call).

void require_features(std::size_t got, std::size_t expected, const char* what) {
  if (got == expected) return;
  std::ostringstream os;
  os << what << " has " << got << " features, but the model expects " << expected
     << "; pass data with the same columns as at fit";
  throw InvalidArgument(os.str());
}

}  // namespace

void validate_options(const TreeEnsembleOptions& o) {
  if (o.n_bits < 1 || o.n_bits > kMaxTreeInputBits) {
    std::ostringstream os;
    os << "n_bits = " << o.n_bits << " is out of range for tree ensembles: use an integer between "
       << "1 and " << kMaxTreeInputBits << " (6 is the default)";
    throw InvalidArgument(os.str());
  }
  require_valid_bits(o.leaf_bits, "leaf_bits (bits of the quantized leaf values)");
  if (o.group_bits != 0 && (o.group_bits < 2 || o.group_bits > kMaxTreeGroupBits)) {
    std::ostringstream os;
    os << "group_bits = " << o.group_bits << " is out of range: use 0 (chosen at compile) or an "
       << "integer between 2 and " << kMaxTreeGroupBits;
    throw InvalidArgument(os.str());
  }
  const auto encoding = static_cast<unsigned>(o.input_encoding);
  if (encoding > static_cast<unsigned>(TreeInputEncoding::Thermometer) ||
      (o.input_encoding == TreeInputEncoding::Digits && o.n_bits < 2)) {
    std::ostringstream os;
    os << "input encoding " << encoding << " is not supported with n_bits = " << o.n_bits
       << ": use auto (chosen at compile), value (one value per input), digits (two digits per "
       << "input, n_bits >= 2) or thermometer (2^n_bits - 1 bits per input)";
    throw InvalidArgument(os.str());
  }
  if (o.split_rule != SplitRule::LessEqual && o.split_rule != SplitRule::Less)
    throw InvalidArgument("unknown split rule: use SplitRule::LessEqual or SplitRule::Less");
}

QuantizedTreeEnsemble::QuantizedTreeEnsemble(std::span<const DecisionTree> trees,
                                             const Matrix& calibration, TreeEnsembleOptions options)
    : options_(options) {
  validate_options(options);
  if (trees.empty())
    throw InvalidArgument("QuantizedTreeEnsemble: no tree; pass at least one fitted tree");
  if (calibration.rows() == 0 || calibration.cols() == 0)
    throw InvalidArgument(
        "QuantizedTreeEnsemble: the calibration data is empty; pass the training data (samples "
        "x features)");
  require_finite(calibration, "the calibration data");
  const std::size_t n_features = calibration.cols(), n_outputs = trees[0].value.cols();
  if (n_outputs == 0)
    throw InvalidArgument(
        "QuantizedTreeEnsemble: the trees have no output ('value' has 0 columns)");
  std::size_t reference = 0;
  for (std::size_t t = 0; t < trees.size(); ++t) {
    validate_tree(trees[t], n_features, n_outputs, t);
    reference += trees[t].feature.size();
  }

  const QuantizerOptions input_options{options.n_bits, false, false};
  std::vector<double> column(calibration.rows());
  for (std::size_t j = 0; j < n_features; ++j) {
    for (std::size_t r = 0; r < calibration.rows(); ++r) column[r] = calibration(r, j);
    input_quantizers_.push_back(UniformQuantizer::calibrate(column, input_options));
  }

  // Splits on the grid; the leaves that remain calibrate the leaf quantizers.
  std::vector<std::vector<std::size_t>> origins(trees.size());
  std::vector<std::vector<double>> leaf_values(n_outputs);
  std::size_t pruned = 0;
  for (std::size_t t = 0; t < trees.size(); ++t) {
    trees_.push_back(to_integer_tree(trees[t], input_quantizers_, options.split_rule, origins[t]));
    pruned += trees[t].feature.size() - trees_.back().size();
    for (std::size_t i = 0; i < trees_.back().size(); ++i)
      if (trees_.back().is_leaf(i))
        for (std::size_t k = 0; k < n_outputs; ++k)
          leaf_values[k].push_back(trees[t].value(origins[t][i], k));
  }
  const QuantizerOptions leaf_options{options.leaf_bits, false, false};
  for (std::size_t k = 0; k < n_outputs; ++k)
    leaf_quantizers_.push_back(UniformQuantizer::calibrate(leaf_values[k], leaf_options));
  for (std::size_t t = 0; t < trees.size(); ++t) {
    IntegerTree& tree = trees_[t];
    tree.value.assign(tree.size() * n_outputs, 0);
    for (std::size_t i = 0; i < tree.size(); ++i)
      if (tree.is_leaf(i))
        for (std::size_t k = 0; k < n_outputs; ++k)
          tree.value[i * n_outputs + k] =
              leaf_quantizers_[k].quantize(trees[t].value(origins[t][i], k));
    pruned += merge_constant_subtrees(tree);
  }
  reference_lookups_ = reference;
  pruned_nodes_ = pruned;
  lowered_ = lower_default();
}

std::shared_ptr<const LoweredTrees> QuantizedTreeEnsemble::lower(unsigned group_bits,
                                                                 TreeInputEncoding encoding,
                                                                 bool local_sums) const {
  const TreeLoweringOptions lowering{options_.n_bits, group_bits, options_.fhe_sum, encoding,
                                     local_sums};
  auto lowered = std::make_shared<LoweredTrees>(
      lower_tree_ensemble(trees_, n_features(), n_outputs(), lowering));
  lowered->statistics.reference_lookups_per_sample = reference_lookups_;
  lowered->statistics.pruned_nodes = pruned_nodes_;
  return lowered;
}

std::shared_ptr<const LoweredTrees> QuantizedTreeEnsemble::lower_default() const {
  return lower(options_.group_bits, options_.input_encoding == TreeInputEncoding::Auto
                                        ? TreeInputEncoding::Value
                                        : options_.input_encoding);
}

std::shared_ptr<const LoweredTrees> QuantizedTreeEnsemble::lowering() const {
  const auto current = compiled();
  return current ? current->lowering : lowered_;
}

circuit::Tensor QuantizedTreeEnsemble::quantize_input(const Matrix& x) const {
  require_features(x.cols(), n_features(), "X");
  if (x.rows() == 0) throw InvalidArgument("X has no rows: pass at least one sample");
  require_finite(x, "X");
  const std::size_t f = n_features();
  std::vector<std::int64_t> q(x.size());
  parallel_for(
      x.rows(),
      [&](std::size_t r) {
        for (std::size_t j = 0; j < f; ++j) q[r * f + j] = input_quantizers_[j].quantize(x(r, j));
      },
      64);
  return circuit::Tensor({static_cast<std::int64_t>(x.rows()), static_cast<std::int64_t>(f)},
                         std::move(q));
}

void QuantizedTreeEnsemble::require_quantized_input(const circuit::Tensor& q_x) const {
  if (q_x.rank() != 2 || q_x.shape()[1] != static_cast<std::int64_t>(n_features())) {
    std::ostringstream os;
    os << "the quantized inputs must have shape (rows, " << n_features() << "), got "
       << circuit::shape_to_string(q_x.shape());
    throw InvalidArgument(os.str());
  }
  if (q_x.shape()[0] == 0) throw InvalidArgument("the quantized inputs have no rows");
  const std::int64_t hi = (std::int64_t{1} << options_.n_bits) - 1;
  for (std::int64_t v : q_x.values()) {
    if (v < 0 || v > hi) {
      std::ostringstream os;
      os << "a quantized input holds " << v << ", outside [0, " << hi
         << "]; quantize the inputs with quantize_input()";
      throw InvalidArgument(os.str());
    }
  }
}

circuit::Tensor QuantizedTreeEnsemble::encode_input(const circuit::Tensor& q_x) const {
  require_quantized_input(q_x);
  return encode_tree_inputs(q_x, options_.n_bits, lowering()->options.input_encoding);
}

circuit::Tensor QuantizedTreeEnsemble::integer_forward(const circuit::Tensor& q_x) const {
  require_quantized_input(q_x);
  const auto rows = static_cast<std::size_t>(q_x.shape()[0]);
  const std::size_t f = n_features(), k_count = n_outputs(), per_row = output_rows() * k_count;
  std::vector<std::int64_t> out(rows * per_row, 0);
  const auto all = q_x.values();
  parallel_for(
      rows,
      [&](std::size_t r) {
        const auto sample = all.subspan(r * f, f);
        std::int64_t* dst = out.data() + r * per_row;
        for (std::size_t t = 0; t < trees_.size(); ++t) {
          const auto v = trees_[t].leaf_value(trees_[t].leaf_of(sample));
          std::int64_t* row = dst + (options_.fhe_sum ? 0 : t * k_count);
          for (std::size_t k = 0; k < k_count; ++k) row[k] += v[k];
        }
      },
      16);
  return circuit::Tensor({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(output_rows()),
                          static_cast<std::int64_t>(k_count)},
                         std::move(out));
}

Matrix QuantizedTreeEnsemble::dequantize_output(const circuit::Tensor& acc) const {
  const auto k_count = static_cast<std::int64_t>(n_outputs());
  const auto t_count = static_cast<std::int64_t>(n_trees());
  if (acc.rank() != 3 || acc.shape()[2] != k_count ||
      (acc.shape()[1] != t_count && acc.shape()[1] != 1)) {
    std::ostringstream os;
    os << "dequantize_output: expected a (rows, " << t_count << ", " << k_count << ") or (rows, 1, "
       << k_count << ") tensor (per tree, or summed over the trees), got shape "
       << circuit::shape_to_string(acc.shape());
    throw InvalidArgument(os.str());
  }
  const auto rows = static_cast<std::size_t>(acc.shape()[0]);
  const auto parts = static_cast<std::size_t>(acc.shape()[1]);
  const std::size_t k_n = n_outputs();
  Matrix y(rows, k_n);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < k_n; ++k) {
      std::int64_t sum = 0;
      for (std::size_t p = 0; p < parts; ++p) sum += acc[(r * parts + p) * k_n + k];
      const UniformQuantizer& q = leaf_quantizers_[k];
      y(r, k) = q.scale() * (static_cast<double>(sum) -
                             static_cast<double>(t_count) * static_cast<double>(q.zero_point()));
    }
  return y;
}

void QuantizedTreeEnsemble::compile(const Matrix& x, const circuit::CompileOptions& options,
                                    const tfhe::Seed& key_seed) {
  const circuit::Tensor q = quantize_input(x);
  const std::size_t f = n_features();
  const auto fi = static_cast<std::int64_t>(f);
  const auto compile_lowering = [&](const LoweredTrees& lowered) {
    if (lowered.max_lookup_bits > options.max_table_bits) {
      std::ostringstream os;
      os << "compile: the trees' lookups read " << lowered.max_lookup_bits
         << "-bit inputs (n_bits, its high digit with the digits encoding, or deep paths after "
         << "quantization), but max_table_bits is " << options.max_table_bits
         << "; use fewer n_bits, the digits, thermometer or auto input encoding, or shallower "
         << "trees (max_depth)";
      throw CompileError(os.str());
    }
    const TreeInputEncoding encoding = lowered.options.input_encoding;
    const std::size_t width = encoded_input_width(f, options_.n_bits, encoding);
    std::vector<std::vector<circuit::Tensor>> inputset;
    inputset.reserve(x.rows() + lowered.grid_inputs.size());
    for (const auto& grid : lowered.grid_inputs)
      inputset.push_back(
          {encode_tree_inputs(circuit::Tensor({fi}, grid), options_.n_bits, encoding)});
    const circuit::Tensor encoded = encode_tree_inputs(q, options_.n_bits, encoding);
    const auto values = encoded.values();
    for (std::size_t r = 0; r < x.rows(); ++r) {
      const auto row = values.subspan(r * width, width);
      inputset.push_back({circuit::Tensor({static_cast<std::int64_t>(width)},
                                          std::vector<std::int64_t>(row.begin(), row.end()))});
    }
    circuit::CompileOptions with_ranges = options;
    for (const auto& [id, range] : lowered.range_hints) {
      auto [it, added] = with_ranges.range_hints.emplace(id, range);
      if (!added)
        it->second = {std::min(it->second.min, range.min), std::max(it->second.max, range.max)};
    }
    return circuit::compile(lowered.program, inputset, with_ranges);
  };

  // Every candidate lowering, the cheapest by the compiled circuits' estimated cost (lookups, in a
  // batch, and the client's input encryption). Estimates within kTreeCostTie of each other are a
  // tie (the batched cost model is within about that of its measurements: cost_model.cpp), which
  // the fewer bootstraps win: fewer failure chances per evaluation and less server work outside
  // the model. Then the first one (the widest group width, Value, then Thermometer, then Digits,
  // local sums before none). Measured on RandomForestClassifier(50, depth 4) (bench/ml_trees.py,
  // 2026-11-30): 261 3-bit lookups estimated 3% cheaper than 208 4-bit ones ran 16% slower.
  constexpr double kTreeCostTie = 0.05;
  auto compiled = std::make_shared<Compiled>();
  double best_cost = std::numeric_limits<double>::infinity();
  std::uint64_t best_pbs = 0;
  std::exception_ptr first_error;
  const auto consider = [&](const std::shared_ptr<const LoweredTrees>& lowered) {
    try {
      circuit::CompiledCircuit candidate = compile_lowering(*lowered);
      const circuit::CircuitStatistics& s = candidate.statistics();
      const double cost =
          static_cast<double>(s.pbs_count) * s.estimated_batched_pbs_seconds +
          circuit::estimate_input_encryption_seconds(
              candidate.parameters(), static_cast<double>(lowered->statistics.input_ciphertexts));
      if (compiled->lowering) {
        const bool cheaper = cost < best_cost * (1.0 - kTreeCostTie);
        const bool tie = cost < best_cost * (1.0 + kTreeCostTie);
        if (!cheaper && !(tie && s.pbs_count < best_pbs)) return;
      }
      best_cost = cost;
      best_pbs = s.pbs_count;
      compiled->lowering = lowered;
      compiled->circuit = std::move(candidate);
    } catch (const CompileError&) {
      if (!first_error) first_error = std::current_exception();
    }
  };
  // With digits, the lowering without local sums too when they save a c lookup.
  const auto consider_sums = [&](const std::shared_ptr<const LoweredTrees>& lowered) {
    consider(lowered);
    if (lowered->statistics.summed_comparisons > 0)
      consider(lower(lowered->options.group_bits, TreeInputEncoding::Digits, false));
  };
  std::vector<TreeInputEncoding> encodings{options_.input_encoding};
  if (options_.input_encoding == TreeInputEncoding::Auto) {
    encodings = {TreeInputEncoding::Value, TreeInputEncoding::Thermometer};
    if (options_.n_bits >= 3) encodings.push_back(TreeInputEncoding::Digits);
  }
  for (const TreeInputEncoding encoding : encodings) {
    const auto lowering_of = [&](unsigned bits) {
      const TreeLookupStatistics& d = lowered_->statistics;
      return bits == d.group_bits && encoding == d.input_encoding ? lowered_
                                                                  : lower(bits, encoding);
    };
    if (options_.group_bits != 0) {
      consider_sums(lowering_of(options_.group_bits));
      continue;
    }
    unsigned previous = 0;
    for (unsigned bits = std::max(options_.n_bits, 2u); bits >= 2; --bits) {
      const auto lowered = lowering_of(bits);
      // Below the depth bound, every width gives the same lowering.
      if (lowered->statistics.group_bits == previous) break;
      previous = lowered->statistics.group_bits;
      consider_sums(lowered);
    }
  }
  if (!compiled->lowering) std::rethrow_exception(first_error);
  compiled->keys = compiled->circuit.generate_keys(key_seed);
  std::atomic_store(&compiled_, std::shared_ptr<const Compiled>(std::move(compiled)));
}

const circuit::CompiledCircuit& QuantizedTreeEnsemble::compiled_circuit() const {
  return require_compiled(compiled().get()).circuit;
}

const circuit::KeySet& QuantizedTreeEnsemble::keys() const {
  return require_compiled(compiled().get()).keys;
}

std::shared_ptr<const circuit::CompiledCircuit> QuantizedTreeEnsemble::shared_circuit() const {
  return shared_circuit_of(compiled());
}

circuit::Tensor QuantizedTreeEnsemble::run_integer(const circuit::Tensor& q_x, circuit::Mode mode,
                                                   std::uint64_t simulation_seed) const {
  if (mode == circuit::Mode::Clear) return integer_forward(q_x);
  const std::shared_ptr<const Compiled> current = compiled();
  if (!current) return run_compiled(nullptr, q_x, mode, simulation_seed);  // throws: not compiled
  require_quantized_input(q_x);
  // The client encrypts the encoded inputs; the result is (rows, output_rows(), n_outputs()).
  return run_compiled(
      current.get(),
      encode_tree_inputs(q_x, options_.n_bits, current->lowering->options.input_encoding), mode,
      simulation_seed);
}

Matrix QuantizedTreeEnsemble::predict_raw(const Matrix& x, circuit::Mode mode,
                                          std::uint64_t simulation_seed) const {
  return dequantize_output(run_integer(quantize_input(x), mode, simulation_seed));
}

}  // namespace torusml::ml
