// Bindings of the quantized tree ensemble (decision trees, random forests, gradient-boosted
// trees). Trees arrive as dicts of numpy arrays in scikit-learn's layout; every call that does
// real work (quantization, compilation, a batch through the circuit) releases the GIL and runs on
// the C++ thread pool.
#include <pybind11/stl.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bindings.h"
#include "numpy_conversions.h"
#include "torusml/common/error.h"
#include "torusml/ml/quantized_trees.h"

namespace torusml::python {

namespace {

std::vector<std::int64_t> int_vector(const py::dict& d, const char* key, const std::string& what) {
  const std::string name = what + "['" + key + "']";
  const circuit::Tensor t = to_tensor(d[key], name.c_str());
  if (t.rank() != 1)
    throw InvalidArgument(name + " must be a 1-D integer array (one entry per node)");
  return std::vector<std::int64_t>(t.values().begin(), t.values().end());
}

ml::DecisionTree tree_from_dict(const py::handle& item, std::size_t index) {
  const std::string what = "trees[" + std::to_string(index) + "]";
  if (!py::isinstance<py::dict>(item))
    throw InvalidArgument(what +
                          " must be a dict with keys 'feature', 'threshold', 'left', 'right' and "
                          "'value' (numpy arrays, e.g. from a scikit-learn tree_)");
  const py::dict d = py::reinterpret_borrow<py::dict>(item);
  for (const char* key : {"feature", "threshold", "left", "right", "value"})
    if (!d.contains(key))
      throw InvalidArgument(what + " has no '" + key +
                            "' entry; pass 'feature', 'threshold', 'left', 'right' and 'value'");
  ml::DecisionTree t;
  t.feature = int_vector(d, "feature", what);
  t.left = int_vector(d, "left", what);
  t.right = int_vector(d, "right", what);
  t.threshold = to_vector(d["threshold"], (what + "['threshold']").c_str());
  const std::string value_name = what + "['value']";
  const FloatArray v = to_float_array(d["value"], value_name.c_str());
  if (v.ndim() != 1 && v.ndim() != 2)
    throw InvalidArgument(value_name +
                          " must have shape (n_nodes, n_outputs) (or (n_nodes,) for one output); "
                          "reshape scikit-learn's (n_nodes, n_outputs, n_classes) values first");
  const auto rows = static_cast<std::size_t>(v.shape(0));
  const std::size_t cols = v.ndim() == 2 ? static_cast<std::size_t>(v.shape(1)) : 1;
  t.value = ml::Matrix(rows, cols, std::vector<double>(v.data(), v.data() + rows * cols));
  return t;
}

ml::QuantizedTreeEnsemble make_trees(const py::sequence& trees, const py::object& calibration,
                                     long long n_bits, long long leaf_bits,
                                     const std::string& split_rule, bool fhe_sum,
                                     long long group_bits, const std::string& input_encoding) {
  if (n_bits < 1 || n_bits > static_cast<long long>(ml::kMaxTreeInputBits))
    throw InvalidArgument("n_bits = " + std::to_string(n_bits) +
                          " is out of range for tree ensembles: use an integer between 1 and " +
                          std::to_string(ml::kMaxTreeInputBits) + " (6 is the default)");
  ml::require_valid_bits(leaf_bits, "leaf_bits (bits of the quantized leaf values)");
  if (group_bits < 0 || group_bits > static_cast<long long>(ml::kMaxTreeGroupBits))
    throw InvalidArgument("group_bits = " + std::to_string(group_bits) +
                          " is out of range: use 0 (chosen at compile) or 2 to " +
                          std::to_string(ml::kMaxTreeGroupBits));
  const ml::TreeEnsembleOptions options{
      static_cast<unsigned>(n_bits),     static_cast<unsigned>(leaf_bits),
      ml::parse_split_rule(split_rule),  fhe_sum,
      static_cast<unsigned>(group_bits), ml::parse_tree_input_encoding(input_encoding)};
  std::vector<ml::DecisionTree> parsed;
  parsed.reserve(trees.size());
  for (std::size_t i = 0; i < trees.size(); ++i) parsed.push_back(tree_from_dict(trees[i], i));
  const ml::Matrix x = to_matrix(calibration, "the calibration data");
  py::gil_scoped_release release;
  return ml::QuantizedTreeEnsemble(parsed, x, options);
}

std::string statistics_text(const ml::TreeLookupStatistics& s) {
  std::ostringstream os;
  os << "tree ensemble: " << s.lookups_per_sample << " lookups per sample (" << s.comparison_lookups
     << " for " << s.comparisons << " comparisons, " << s.leaf_lookups << " leaf lookups in "
     << s.groups << " groups of up to " << s.group_bits
     << " index bits); reference method: " << s.reference_lookups_per_sample
     << " (internal nodes + leaves)\n";
  switch (s.input_encoding) {
    case ml::TreeInputEncoding::Digits:
      os << "  inputs encrypted as 2 digits each";
      break;
    case ml::TreeInputEncoding::Thermometer:
      os << "  inputs encrypted as thermometer codes (every comparison an input bit, no "
            "comparison lookup)";
      break;
    default:
      os << "  inputs encrypted as 1 value each";
  }
  os << ": " << s.input_ciphertexts << " input ciphertexts per sample";
  if (s.input_encoding == ml::TreeInputEncoding::Digits)
    os << " (" << s.input_lookups << " digit lookups, " << s.comparison_lookups - s.input_lookups
       << " c = [a + b >= 2] lookups; " << s.summed_comparisons
       << " comparisons read by their groups as a + b, without c)";
  os << "\n";
  os << "  lookup precisions:";
  for (const auto& [bits, count] : s.precisions) os << " " << count << " x " << bits << " bits";
  os << "; nodes pruned by quantization: " << s.pruned_nodes << "\n";
  return os.str();
}

py::dict statistics_dict(const ml::TreeLookupStatistics& s) {
  py::dict d, precisions;
  d["lookups_per_sample"] = s.lookups_per_sample;
  d["reference_lookups_per_sample"] = s.reference_lookups_per_sample;
  d["comparison_lookups"] = s.comparison_lookups;
  d["leaf_lookups"] = s.leaf_lookups;
  d["groups"] = s.groups;
  d["group_bits"] = s.group_bits;
  d["comparisons"] = s.comparisons;
  d["input_lookups"] = s.input_lookups;
  d["input_encoding"] = ml::to_string(s.input_encoding);
  d["input_ciphertexts"] = s.input_ciphertexts;
  d["summed_comparisons"] = s.summed_comparisons;
  d["pruned_nodes"] = s.pruned_nodes;
  for (const auto& [bits, count] : s.precisions) precisions[py::int_(bits)] = count;
  d["precisions"] = precisions;
  return d;
}

}  // namespace

void bind_trees(py::module_& m) {
  auto trees_class =
      py::class_<ml::QuantizedTreeEnsemble>(m, "QuantizedTreeEnsemble", R"doc(
A quantized ensemble of decision trees compiled to FHE (see torusml/ml/quantized_trees.h).

QuantizedTreeEnsemble(trees, x_calibration, n_bits=6, leaf_bits=6, split_rule="<=", fhe_sum=False):
trees is a list of dicts of numpy arrays in scikit-learn's layout, one entry per node (node 0 the
root): 'feature' (int64, negative at leaves), 'threshold' (float64), 'left' and 'right' (int64
child indices, -1 at leaves), 'value' (float64, (n_nodes, n_outputs), read at leaves).
split_rule "<=" goes left iff x <= t (scikit-learn), "<" iff x < t (XGBoost). Inputs are
quantized per feature to n_bits (1..8), leaf values per output to leaf_bits. run_integer returns
the quantized leaf values per tree, (rows, n_trees, n_outputs), or with fhe_sum their sum computed
under encryption, (rows, 1, n_outputs); dequantize_output sums over the trees and dequantizes.
group_bits (advanced): index bits of the leaf-selection lookups, 0 to let compile() choose the
cheapest. input_encoding (advanced): how the client encrypts each quantized input, "value" (one
n_bits value), "digits" (two digits, q = h * 2^(n_bits // 2) + l: more lookups, each on fewer
bits), "thermometer" (2^n_bits - 1 bits [q > t]: no comparison lookup, more input ciphertexts),
or "auto" to let compile() choose the cheapest.)doc")
          .def(py::init(&make_trees), py::arg("trees"), py::arg("x_calibration"), py::kw_only(),
               py::arg("n_bits") = 6, py::arg("leaf_bits") = 6,
               py::arg("split_rule") = "<=", py::arg("fhe_sum") = false, py::arg("group_bits") = 0,
               py::arg("input_encoding") = "auto")
          .def_property_readonly("n_features", &ml::QuantizedTreeEnsemble::n_features)
          .def_property_readonly("n_outputs", &ml::QuantizedTreeEnsemble::n_outputs)
          .def_property_readonly("n_trees", &ml::QuantizedTreeEnsemble::n_trees)
          .def_property_readonly(
              "n_bits", [](const ml::QuantizedTreeEnsemble& q) { return q.options().n_bits; })
          .def_property_readonly(
              "leaf_bits", [](const ml::QuantizedTreeEnsemble& q) { return q.options().leaf_bits; })
          .def_property_readonly("split_rule",
                                 [](const ml::QuantizedTreeEnsemble& q) {
                                   return std::string(ml::to_string(q.options().split_rule));
                                 })
          .def_property_readonly(
              "fhe_sum", [](const ml::QuantizedTreeEnsemble& q) { return q.options().fhe_sum; })
          .def_property_readonly(
              "group_bits",
              [](const ml::QuantizedTreeEnsemble& q) { return q.options().group_bits; })
          .def_property_readonly("input_encoding",
                                 [](const ml::QuantizedTreeEnsemble& q) {
                                   return std::string(ml::to_string(q.options().input_encoding));
                                 })
          .def_property_readonly("input_quantizers", &ml::QuantizedTreeEnsemble::input_quantizers,
                                 "One UniformQuantizer per feature.")
          .def_property_readonly("leaf_quantizers", &ml::QuantizedTreeEnsemble::leaf_quantizers,
                                 "One UniformQuantizer per output (the leaf values).")
          .def_property_readonly("is_compiled", &ml::QuantizedTreeEnsemble::is_compiled)
          .def(
              "quantize_input",
              [](const ml::QuantizedTreeEnsemble& q, const py::object& x) {
                const ml::Matrix matrix = to_matrix(x, "X");
                return to_numpy(without_gil([&] { return q.quantize_input(matrix); }));
              },
              py::arg("X"), "Quantized inputs (int64, shape (samples, n_features)).")
          .def(
              "run_integer",
              [](const ml::QuantizedTreeEnsemble& q, const py::object& qx, const std::string& fhe,
                 std::uint64_t seed) {
                const circuit::Tensor t = to_tensor(qx, "the quantized inputs");
                const circuit::Mode mode = circuit::parse_mode(fhe);
                return to_numpy(without_gil([&] { return q.run_integer(t, mode, seed); }));
              },
              py::arg("q_x"), py::arg("fhe") = "disable", py::arg("simulation_seed") = 0,
              "Quantized leaf values for quantized inputs in mode \"disable\", \"simulate\" or "
              "\"execute\" (one call for the whole batch): int64 (rows, n_trees, n_outputs), or "
              "(rows, 1, n_outputs) with fhe_sum.")
          .def(
              "dequantize_output",
              [](const ml::QuantizedTreeEnsemble& q, const py::object& acc) {
                const circuit::Tensor t = to_tensor(acc, "the quantized outputs");
                return to_numpy(q.dequantize_output(t));
              },
              py::arg("acc"),
              "Sum over the trees (axis 1), dequantized: float64 of shape (rows, n_outputs).")
          .def(
              "predict_raw",
              [](const ml::QuantizedTreeEnsemble& q, const py::object& x, const std::string& fhe,
                 std::uint64_t seed) {
                const ml::Matrix matrix = to_matrix(x, "X");
                const circuit::Mode mode = circuit::parse_mode(fhe);
                return to_numpy(without_gil([&] { return q.predict_raw(matrix, mode, seed); }));
              },
              py::arg("X"), py::arg("fhe") = "disable", py::arg("simulation_seed") = 0,
              "Quantize, run, sum over the trees and dequantize: float64 (samples, n_outputs).")

          .def_property_readonly(
              "fhe_circuit",
              [](const ml::QuantizedTreeEnsemble& q) -> std::optional<FheCircuit> {
                if (!q.is_compiled()) return std::nullopt;
                return FheCircuit{q.shared_circuit(), statistics_text(q.statistics())};
              },
              "The compiled circuit (an FheCircuit), or None before compile().")
          .def(
              "lookup_statistics",
              [](const ml::QuantizedTreeEnsemble& q) { return statistics_dict(q.statistics()); },
              "Lookups per sample (ours and the reference method's), comparisons (distinct pairs) "
              "and "
              "the lookups computing them, leaf lookups, groups, pruned nodes, input encoding ("
              "'value', 'digits' or 'thermometer': what the client encrypts) and input ciphertexts "
              "per "
              "sample, summed comparisons, and precisions (bits -> lookups per "
              "sample).")
          .def(
              "program_text",
              [](const ml::QuantizedTreeEnsemble& q) { return q.program().to_text(); },
              "The integer program, one line per node.")
          .def(py::pickle(
              [](const ml::QuantizedTreeEnsemble& q) {
                const std::vector<std::uint8_t> bytes = q.serialize();
                return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
              },
              [](const py::bytes& state) {
                const std::string s = state;
                return ml::QuantizedTreeEnsemble::deserialize(
                    std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
              }));
  def_compile<ml::QuantizedTreeEnsemble>(
      trees_class, "X", PrepareMatrixCompile{},
      "Compiles the circuit on X (plus synthetic grid inputs) and generates the "
      "keys; progress(done, total), if given, is called about every 100 ms "
      "during key generation.");
}

}  // namespace torusml::python
