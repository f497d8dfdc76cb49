// Bindings of the quantized linear model and of its compiled circuit. Every call that does real
// work (quantization of a batch, compilation, a batch through the circuit) releases the GIL and
// runs on the C++ thread pool.
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bindings.h"
#include "numpy_conversions.h"
#include "torusml/circuit/optimizer/optimizer.h"
#include "torusml/common/error.h"
#include "torusml/ml/quantized_linear.h"
#include "torusml/tfhe/parameters.h"

namespace torusml::python {

namespace {

py::dict statistics_dict(const circuit::CompiledCircuit& c) {
  const circuit::CircuitStatistics& s = c.statistics();
  py::dict d;
  d["pbs_count"] = s.pbs_count;
  d["keyswitch_count"] = s.keyswitch_count;
  d["small_key_inputs"] = c.parameters().small_key_inputs;
  d["table_lookup_nodes"] = s.table_lookup_nodes;
  d["exact_rounding_pbs_count"] = s.exact_rounding_pbs_count;
  d["exact_rounding_max_bits"] = s.exact_rounding_max_bits;
  d["many_lut_lookups"] = s.many_lut_lookups;
  d["many_lut_pbs_count"] = s.many_lut_pbs_count;
  d["linear_terms"] = s.linear_terms;
  d["max_bit_width"] = s.max_bit_width;
  d["max_table_bits"] = s.max_table_bits;
  d["estimated_pbs_seconds"] = s.estimated_pbs_seconds;
  d["estimated_batched_pbs_seconds"] = s.estimated_batched_pbs_seconds;
  d["estimated_latency_seconds"] = s.estimated_latency_seconds;
  d["log2_global_p_error"] = s.log2_global_p_error;
  d["client_key_bytes"] = s.client_key_bytes;
  d["evaluation_key_bytes"] = s.evaluation_key_bytes;
  d["evaluation_key_seeded_bytes"] = s.evaluation_key_seeded_bytes;
  d["input_ciphertext_bytes"] = s.input_ciphertext_bytes;
  d["input_seeded_bytes"] = s.input_seeded_bytes;
  d["output_ciphertext_bytes"] = s.output_ciphertext_bytes;
  const circuit::CircuitParameters& params = c.parameters();
  d["uses_pbs"] = params.uses_pbs;
  d["lwe_dimension"] = params.encryption_dimension().value();  // partition 0's
  // Multi-parameter circuits: each partition's encryption dimension and statistics (one entry for
  // single-parameter circuits).
  py::list dimensions;
  for (std::size_t q = 0; q < params.partition_count(); ++q)
    dimensions.append(params.encryption_dimension(static_cast<std::uint32_t>(q)).value());
  d["partition_count"] = params.partition_count();
  d["lwe_dimensions"] = dimensions;
  py::list partitions;
  for (const circuit::CircuitStatistics::Partition& part : s.partitions) {
    py::dict e;
    e["pbs_count"] = part.pbs_count;
    e["max_table_bits"] = part.max_table_bits;
    e["cross_keyswitch_count"] = part.cross_keyswitch_count;
    e["estimated_pbs_seconds"] = part.estimated_pbs_seconds;
    partitions.append(e);
  }
  d["partitions"] = partitions;
  d["single_parameter_estimated_seconds"] = s.single_parameter_estimated_seconds;
  return d;
}

ml::QuantizedLinear make_linear(const py::object& weights, const py::object& bias,
                                const py::object& calibration, long long input_bits,
                                long long weight_bits) {
  ml::require_valid_bits(input_bits, "n_bits for the inputs (op_inputs)");
  ml::require_valid_bits(weight_bits, "n_bits for the weights (op_weights)");
  const ml::Matrix w = to_matrix(weights, "weights");
  const std::vector<double> b = to_vector(bias, "bias");
  const ml::Matrix x = to_matrix(calibration, "the calibration data");
  py::gil_scoped_release release;
  return ml::QuantizedLinear(
      w, b, x, {static_cast<unsigned>(input_bits), static_cast<unsigned>(weight_bits)});
}

}  // namespace

tfhe::Seed seed_from(const std::optional<py::bytes>& bytes) {
  if (!bytes) return tfhe::random_seed();
  const std::string s = *bytes;
  tfhe::Seed seed{};
  if (s.size() != seed.size())
    throw InvalidArgument("key_seed must be exactly 32 bytes (or None for a random seed)");
  std::copy(s.begin(), s.end(), seed.begin());
  return seed;
}

circuit::CompileOptions compile_options(
    std::optional<double> p_error, std::optional<double> global_p_error, bool multi_parameter,
    std::optional<double> multi_parameter_gain,
    const std::optional<std::vector<long long>>& grouping_factors, bool small_key_inputs) {
  if (p_error && global_p_error)
    throw InvalidArgument(
        "set only one of p_error (per bootstrap) and global_p_error (per circuit evaluation)");
  circuit::CompileOptions options;
  if (p_error) options.p_error = *p_error;
  if (global_p_error) options.global_p_error = *global_p_error;
  options.multi_parameter = multi_parameter;
  options.small_key_inputs = small_key_inputs;
  if (multi_parameter_gain) {
    const double gain = *multi_parameter_gain;
    if (!std::isfinite(gain) || gain < 1.0) {
      std::ostringstream os;
      os << "multi_parameter_gain = " << gain
         << " is invalid: use a finite number >= 1 (how many times cheaper, by the cost model, "
            "several parameter sets must be than one to be used), or None for the default "
         << options.multi_parameter_gain;
      throw InvalidArgument(os.str());
    }
    options.multi_parameter_gain = gain;
  }
  if (grouping_factors) {
    const std::size_t max = tfhe::kMaxGroupingFactor;
    if (grouping_factors->empty()) {
      std::ostringstream os;
      os << "grouping_factors is empty: list at least one blind rotation (1 classic, 2 to " << max
         << " multi-bit), or pass None for the default [";
      const std::vector<std::size_t> defaults = circuit::default_grouping_factors();
      for (std::size_t i = 0; i < defaults.size(); ++i) os << (i ? ", " : "") << defaults[i];
      os << "]";
      throw InvalidArgument(os.str());
    }
    for (const long long g : *grouping_factors) {
      if (g < 1 || static_cast<unsigned long long>(g) > max)
        throw InvalidArgument("grouping_factors: " + std::to_string(g) +
                              " is out of range: use 1 (the classic blind rotation) or 2 to " +
                              std::to_string(max) + " (multi-bit), e.g. [1, 2]");
      options.optimizer.grouping_factors.push_back(static_cast<std::size_t>(g));
    }
  }
  return options;
}

std::string compile_doc(const std::string& what) {
  std::ostringstream os;
  os << what << "\n\n"
     << "p_error: failure probability of each bootstrap; global_p_error: of a whole evaluation "
        "(set at most one; None: the default). multi_parameter: let lookups of different "
        "precisions get their own parameter sets (Concrete's multi-parameter optimization) when "
        "the cost model finds that at least multi_parameter_gain times cheaper (None: "
     << circuit::CompileOptions{}.multi_parameter_gain
     << ") than one set; False keeps a single set. grouping_factors: the blind rotations the "
        "optimizer weighs, the cheapest winning (1 classic, 2 to "
     << tfhe::kMaxGroupingFactor
     << " multi-bit; None: [1, 2]). small_key_inputs: let the client encrypt inputs under the "
        "small key where they reach only linear operations and lookups, which then skip the "
        "keyswitch, when the cost model finds it cheaper (tree ensembles); False keeps every input "
        "under the big key.";
  return os.str();
}

void bind_linear(py::module_& m) {
  py::class_<FheCircuit>(m, "FheCircuit", "A compiled FHE circuit; print it to see its statistics.")
      .def("__str__", &FheCircuit::describe)
      .def("__repr__", &FheCircuit::describe)
      .def_property_readonly(
          "statistics", [](const FheCircuit& c) { return statistics_dict(*c.circuit); },
          "The statistics as a dict (PBS count, widths, key and ciphertext sizes, ...).")
      .def_property_readonly("uses_pbs",
                             [](const FheCircuit& c) { return c.circuit->parameters().uses_pbs; })
      .def_property_readonly("pbs_count",
                             [](const FheCircuit& c) { return c.circuit->statistics().pbs_count; })
      .def_property_readonly(
          "max_bit_width",
          [](const FheCircuit& c) { return c.circuit->statistics().max_bit_width; })
      .def_property_readonly(
          "lwe_dimension",
          [](const FheCircuit& c) {
            return c.circuit->parameters().encryption_dimension().value();
          },
          "The LWE dimension of the ciphertexts (of partition 0 for multi-parameter circuits: "
          "statistics['lwe_dimensions'] lists every partition's).")
      .def_property_readonly(
          "partition_count",
          [](const FheCircuit& c) { return c.circuit->parameters().partition_count(); },
          "The number of parameter partitions (1 unless the circuit is multi-parameter).")
      .def_property_readonly(
          "program",
          [](const FheCircuit& c) { return c.circuit->server_program().program.to_text(); },
          "The integer program, one line per node.");

  auto linear_class =
      py::class_<ml::QuantizedLinear>(m, "QuantizedLinear", R"doc(
A quantized linear model y = x @ W + b compiled to FHE (see torusml/ml/quantized_linear.h).

QuantizedLinear(weights, bias, calibration, input_bits=8, weight_bits=8): weights of shape
(n_features, n_outputs), bias of n_outputs values, float calibration data (samples, n_features).
The circuit computes acc = q_x @ W' on encrypted quantized inputs; the zero-point terms, the
quantized bias and the output scale are applied in the clear after decryption.)doc")
          .def(py::init(&make_linear), py::arg("weights"), py::arg("bias"), py::arg("calibration"),
               py::kw_only(), py::arg("input_bits") = 8, py::arg("weight_bits") = 8)
          .def_property_readonly("n_features", &ml::QuantizedLinear::n_features)
          .def_property_readonly("n_outputs", &ml::QuantizedLinear::n_outputs)
          .def_property_readonly("input_bits",
                                 [](const ml::QuantizedLinear& q) { return q.bits().inputs; })
          .def_property_readonly("weight_bits",
                                 [](const ml::QuantizedLinear& q) { return q.bits().weights; })
          .def_property_readonly("input_quantizers", &ml::QuantizedLinear::input_quantizers,
                                 "One UniformQuantizer per feature.")
          .def_property_readonly("weight_quantizer", &ml::QuantizedLinear::weight_quantizer)
          .def_property_readonly(
              "integer_weights",
              [](const ml::QuantizedLinear& q) { return to_numpy(q.integer_weights()); },
              "W' = q_V - z_w, shape (n_features, n_outputs).")
          .def_property_readonly(
              "quantized_bias",
              [](const ml::QuantizedLinear& q) { return to_numpy(q.quantized_bias()); })
          .def_property_readonly(
              "output_offsets",
              [](const ml::QuantizedLinear& q) { return to_numpy(q.output_offsets()); },
              "q_b - z_x @ W', added to the accumulator in the clear.")
          .def_property_readonly("output_scale", &ml::QuantizedLinear::output_scale)
          .def_property_readonly("is_compiled", &ml::QuantizedLinear::is_compiled)
          .def(
              "quantize_input",
              [](const ml::QuantizedLinear& q, const py::object& x) {
                const ml::Matrix matrix = to_matrix(x, "X");
                return to_numpy(without_gil([&] { return q.quantize_input(matrix); }));
              },
              py::arg("X"), "Quantized inputs (int64, shape (samples, n_features)).")
          .def(
              "dequantize_output",
              [](const ml::QuantizedLinear& q, const py::object& acc) {
                return to_numpy(q.dequantize_output(to_tensor(acc, "the accumulator")));
              },
              py::arg("acc"), "output_scale * (acc + output_offsets), float64.")
          .def(
              "integer_forward",
              [](const ml::QuantizedLinear& q, const py::object& qx) {
                const circuit::Tensor t = to_tensor(qx, "the quantized inputs");
                return to_numpy(without_gil([&] { return q.integer_forward(t); }));
              },
              py::arg("q_x"), "acc = q_x @ W' in exact int64 arithmetic.")
          .def(
              "program_text", [](const ml::QuantizedLinear& q) { return q.program().to_text(); },
              "The integer program, one line per node.")

          .def_property_readonly(
              "circuit",
              [](const ml::QuantizedLinear& q) -> std::optional<FheCircuit> {
                if (!q.is_compiled()) return std::nullopt;
                return FheCircuit{q.shared_circuit(), ""};
              },
              "The compiled circuit (an FheCircuit), or None before compile().")
          .def(
              "run_integer",
              [](const ml::QuantizedLinear& q, const py::object& qx, const std::string& mode,
                 std::uint64_t seed) {
                const circuit::Tensor t = to_tensor(qx, "the quantized inputs");
                const circuit::Mode md = circuit::parse_mode(mode);
                return to_numpy(without_gil([&] { return q.run_integer(t, md, seed); }));
              },
              py::arg("q_x"), py::arg("mode") = "disable", py::arg("simulation_seed") = 0,
              "The accumulator for quantized inputs in mode \"disable\", \"simulate\" or "
              "\"execute\" (one call for the whole batch).")
          .def(
              "predict",
              [](const ml::QuantizedLinear& q, const py::object& x, const std::string& mode,
                 std::uint64_t seed) {
                const ml::Matrix matrix = to_matrix(x, "X");
                const circuit::Mode md = circuit::parse_mode(mode);
                return to_numpy(without_gil([&] { return q.predict(matrix, md, seed); }));
              },
              py::arg("X"), py::arg("mode") = "disable", py::arg("simulation_seed") = 0,
              "Quantize, run (\"disable\", \"simulate\" or \"execute\": the whole batch in one "
              "call "
              "on every core), dequantize: float64 of shape (samples, n_outputs).");
  def_compile<ml::QuantizedLinear>(
      linear_class, "X", PrepareMatrixCompile{},
      "Compiles the circuit on X (plus the extreme inputs) and generates the "
      "keys; progress(done, total), if given, is called about every 100 ms "
      "during key generation.");
}

}  // namespace torusml::python
