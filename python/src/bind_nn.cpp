// Bindings of the quantized neural network (an ONNX model quantized after training and lowered to
// an FHE circuit, torusml/ml/nn/quantized_network.h). The ONNX model arrives as its serialized
// bytes or as a file path (read by the C++ loader); samples are numpy arrays whose first axis is
// the batch. Every call that does real work (loading, calibration, compilation, a batch through
// the circuit) releases the GIL and runs on the C++ thread pool.
//
// Shapes: the graph is loaded with batch size 1, so its input has shape (1, *sample_shape) and
// its output (1, *output_sample_shape). Python sees batches: inputs (N, *sample_shape) (any
// shape whose rows hold the input's element count), quantized inputs (N, input elements),
// integer and float outputs (N, *output_sample_shape): the graph's output shape without its
// leading batch dimension of 1 (or the whole graph output shape if it does not start with 1).
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bindings.h"
#include "numpy_conversions.h"
#include "torusml/common/error.h"
#include "torusml/ml/nn/quantized_network.h"
#include "torusml/onnx/load_onnx.h"

namespace torusml::python {

namespace {

/// The model as Python gives it: serialized bytes, or a path to an .onnx file.
using ModelSource = std::variant<py::bytes, std::filesystem::path>;

onnx::Graph load_graph(const ModelSource& source) {
  onnx::LoadOptions options;
  options.batch_size = 1;
  if (const auto* path = std::get_if<std::filesystem::path>(&source)) {
    std::filesystem::path p = *path;
    return without_gil([&] { return onnx::load_onnx_model(p, options); });
  }
  const std::string bytes = std::get<py::bytes>(source);
  return without_gil([&] {
    return onnx::load_onnx_model(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                      bytes.size()),
        options);
  });
}

/// The sample shape of a graph value of shape (1, *rest): rest; any other shape as it is.
std::vector<py::ssize_t> sample_shape(const onnx::Shape& shape) {
  if (!shape.empty() && shape[0] == 1) return {shape.begin() + 1, shape.end()};
  return {shape.begin(), shape.end()};
}

/// Float samples (N, ...) as a flat row-major buffer and its number of rows. InvalidArgument for
/// a 0-D array (there is no batch axis).
std::pair<std::vector<double>, std::size_t> float_rows(const py::object& obj, const char* what) {
  const FloatArray a = to_float_array(obj, what);
  if (a.ndim() == 0)
    throw InvalidArgument(std::string(what) +
                          " must be an array of samples (first axis: the samples), got a scalar");
  return {std::vector<double>(a.data(), a.data() + a.size()), static_cast<std::size_t>(a.shape(0))};
}

/// An input set (N, *sample_shape) as N tensors of the graph input's shape.
std::vector<onnx::FloatTensor> input_set_of(const onnx::Graph& graph, const py::object& obj) {
  const auto [values, rows] = float_rows(obj, "the input set");
  if (rows == 0)
    throw InvalidArgument(
        "the input set is empty: pass representative samples (at least one row) to calibrate and "
        "compile on");
  const onnx::Shape& shape = graph.inputs.at(0).info.shape;
  const auto width = static_cast<std::size_t>(onnx::element_count(shape));
  if (values.size() != rows * width)
    throw InvalidArgument("the input set has " + std::to_string(values.size() / rows) +
                          " values per sample, but the model expects " + std::to_string(width) +
                          " (its input shape " + onnx::shape_to_string(shape) +
                          "); pass samples of that shape, one per row");
  for (double v : values)
    if (!std::isfinite(v))
      throw InvalidArgument(
          "the input set holds NaN or infinite values: clean or impute them first");
  std::vector<onnx::FloatTensor> set;
  set.reserve(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto first = values.begin() + static_cast<std::ptrdiff_t>(r * width);
    set.emplace_back(shape, std::vector<double>(first, first + static_cast<std::ptrdiff_t>(width)));
  }
  return set;
}

unsigned checked_bits(long long bits, const char* what) {
  ml::require_valid_bits(bits, what);
  return static_cast<unsigned>(bits);
}

circuit::RoundingMode parse_rounding_method(const std::string& method) {
  if (method == "approximate") return circuit::RoundingMode::Approximate;
  if (method == "exact") return circuit::RoundingMode::Exact;
  throw InvalidArgument("rounding_method = '" + method +
                        "' is not a rounding method: use 'approximate' (the default: the lookup "
                        "reads only the kept bits) or 'exact'");
}

/// The network and the graph shapes Python needs, kept next to it.
struct PyNetwork {
  std::shared_ptr<ml::QuantizedNetwork> net;

  std::vector<py::ssize_t> output_sample_shape() const { return sample_shape(net->output().shape); }
  std::size_t output_elements() const {
    return static_cast<std::size_t>(onnx::element_count(net->output().shape));
  }
};

PyNetwork make_network(const ModelSource& source, const py::object& input_set,
                       long long model_inputs, long long op_inputs, long long op_weights,
                       long long model_outputs, long long rounding_threshold_bits,
                       const std::string& rounding_method) {
  ml::NetworkOptions options;
  options.bits.model_inputs = checked_bits(model_inputs, "n_bits['model_inputs']");
  options.bits.op_inputs = checked_bits(op_inputs, "n_bits['op_inputs']");
  options.bits.op_weights = checked_bits(op_weights, "n_bits['op_weights']");
  options.bits.model_outputs = checked_bits(model_outputs, "n_bits['model_outputs']");
  if (rounding_threshold_bits < 0 || rounding_threshold_bits > 16)
    throw InvalidArgument("rounding_threshold_bits = " + std::to_string(rounding_threshold_bits) +
                          " is out of range: use 1 to 16, or 0 to let the compiler choose");
  options.rounding_threshold_bits = static_cast<unsigned>(rounding_threshold_bits);
  options.rounding_mode = parse_rounding_method(rounding_method);
  onnx::Graph graph = load_graph(source);
  if (graph.inputs.size() != 1)
    throw InvalidArgument("the model has " + std::to_string(graph.inputs.size()) +
                          " inputs; TorusML compiles models with exactly one input");
  const std::vector<onnx::FloatTensor> set = input_set_of(graph, input_set);
  return PyNetwork{without_gil(
      [&] { return std::make_shared<ml::QuantizedNetwork>(std::move(graph), set, options); })};
}

/// Integer inputs (N, ...) as the (N, input elements) tensor run_integer takes.
circuit::Tensor quantized_rows(const py::object& obj) {
  const circuit::Tensor t = to_tensor(obj, "the quantized inputs");
  if (t.rank() < 2 || t.shape()[0] == 0)
    throw InvalidArgument("the quantized inputs must have shape (rows, input elements), got " +
                          circuit::shape_to_string(t.shape()) + "; use quantize_input()");
  const std::int64_t rows = t.shape()[0];
  return circuit::Tensor({rows, static_cast<std::int64_t>(t.size()) / rows},
                         std::vector<std::int64_t>(t.values().begin(), t.values().end()));
}

/// Per-row values of the output as (rows, *output_sample_shape).
template <class T>
py::array_t<T> output_array(const PyNetwork& n, std::vector<T> values) {
  const std::size_t per_row = n.output_elements();
  std::vector<py::ssize_t> shape = n.output_sample_shape();
  shape.insert(shape.begin(), static_cast<py::ssize_t>(per_row ? values.size() / per_row : 0));
  py::array_t<T> out(shape);
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::array_t<std::int64_t> run_integer(const PyNetwork& n, const py::object& qx,
                                      const std::string& fhe, std::uint64_t seed) {
  const circuit::Tensor t = quantized_rows(qx);
  const circuit::Mode mode = circuit::parse_mode(fhe);
  const circuit::Tensor y = without_gil([&] { return n.net->run_integer(t, mode, seed); });
  return output_array(n, std::vector<std::int64_t>(y.values().begin(), y.values().end()));
}

py::array_t<double> dequantize_output(const PyNetwork& n, const py::object& qy) {
  const circuit::Tensor t = to_tensor(qy, "the quantized outputs");
  return output_array(n, without_gil([&] { return n.net->dequantize_output(t); }));
}

py::array_t<double> forward(const PyNetwork& n, const py::object& x, const std::string& fhe,
                            std::uint64_t seed) {
  const auto [values, rows] = float_rows(x, "X");
  const circuit::Mode mode = circuit::parse_mode(fhe);
  return output_array(
      n, without_gil([&, &v = values, r = rows] { return n.net->forward(v, r, mode, seed); }));
}

// compile(input_set): the input set as the graph's float tensors, then the network's compilation.
auto prepare_network_compile(PyNetwork& n, const py::object& input_set) {
  return [&n, set = input_set_of(n.net->graph(), input_set)](const circuit::CompileOptions& options,
                                                             const tfhe::Seed& seed) {
    n.net->compile(set, options, seed);
  };
}

py::list lookups_list(const PyNetwork& n) {
  const auto circuit = n.net->is_compiled() ? n.net->shared_circuit() : nullptr;
  py::list result;
  for (const ml::NetworkLookup& l : n.net->lowered().lookups) {
    py::dict d;
    d["name"] = l.name;
    d["ops"] = l.ops;
    d["lookups"] = l.lookups;
    d["tables"] = l.tables;
    d["accumulator_bits"] = l.accumulator_bits;
    d["lsbs_removed"] = l.lsbs_removed;
    d["node"] = l.node;
    d["output_bits"] = l.output_bits;
    d["quantization_aware"] = l.quantization_aware;
    if (circuit)
      d["precision"] = circuit->analysis().nodes.at(static_cast<std::size_t>(l.node)).pbs_precision;
    else
      d["precision"] = py::none();
    result.append(d);
  }
  return result;
}

py::tuple shape_tuple(const onnx::Shape& shape) {
  py::tuple t(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

}  // namespace

void bind_nn(py::module_& m) {
  auto network_class =
      py::class_<PyNetwork>(m, "QuantizedNetwork", R"doc(
A neural network (an ONNX model: MLP, CNN) quantized after training and compiled to FHE (see
torusml/ml/nn/quantized_network.h and network_lowering.h).

QuantizedNetwork(onnx_model, input_set, *, model_inputs=8, op_inputs=8, op_weights=8,
model_outputs=8, rounding_threshold_bits=0, rounding_method="approximate"): onnx_model is a
serialized ONNX ModelProto (bytes) or the path of an .onnx file (str or os.PathLike, read by the
C++ loader). The graph is loaded with batch size 1 (input shape (1, *sample_shape)); input_set
(float, shape (N, *sample_shape): any shape whose N rows each hold the input's element count)
calibrates the quantization. rounding_threshold_bits: most significant bits kept of each
accumulator before its lookup (0: the lowering's choice per lookup, at most 8 kept);
rounding_method "approximate" or "exact".

Batches: quantize_input (N, *sample_shape) -> int64 (N, input elements); run_integer -> int64
(N, *output_sample_shape), where output_sample_shape is output_shape without its leading batch
dimension of 1; dequantize_output and forward -> float64 (N, *output_sample_shape).)doc")
          .def(py::init(&make_network), py::arg("onnx_model"), py::arg("input_set"), py::kw_only(),
               py::arg("model_inputs") = 8, py::arg("op_inputs") = 8, py::arg("op_weights") = 8,
               py::arg("model_outputs") = 8, py::arg("rounding_threshold_bits") = 0,
               py::arg("rounding_method") = "approximate")
          .def_property_readonly(
              "input_shape",
              [](const PyNetwork& n) {
                return shape_tuple(n.net->graph().inputs.at(0).info.shape);
              },
              "The graph input's shape (batch size 1), e.g. (1, 1, 28, 28).")
          .def_property_readonly(
              "output_shape", [](const PyNetwork& n) { return shape_tuple(n.net->output().shape); },
              "The graph output's shape (batch size 1), e.g. (1, 10).")
          .def_property_readonly(
              "output_sample_shape",
              [](const PyNetwork& n) {
                const std::vector<py::ssize_t> s = n.output_sample_shape();
                py::tuple t(s.size());
                for (std::size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
                return t;
              },
              "The shape of one sample's output in batches: output_shape without its leading 1.")
          .def_property_readonly("input_size",
                                 [](const PyNetwork& n) { return n.net->input_size(); })
          .def_property_readonly(
              "bits",
              [](const PyNetwork& n) {
                const ml::NetworkBits& b = n.net->options().bits;
                py::dict d;
                d["model_inputs"] = b.model_inputs;
                d["op_inputs"] = b.op_inputs;
                d["op_weights"] = b.op_weights;
                d["model_outputs"] = b.model_outputs;
                return d;
              },
              "The bit widths (Concrete ML's n_bits dict).")
          .def_property_readonly(
              "rounding_threshold_bits",
              [](const PyNetwork& n) { return n.net->options().rounding_threshold_bits; })
          .def_property_readonly(
              "rounding_method",
              [](const PyNetwork& n) {
                return std::string(n.net->options().rounding_mode == circuit::RoundingMode::Exact
                                       ? "exact"
                                       : "approximate");
              })
          .def_property_readonly(
              "input_quantizer", [](const PyNetwork& n) { return n.net->input_quantizer(); },
              "The client's input quantizer (a UniformQuantizer, one for every input element).")
          .def_property_readonly("is_compiled",
                                 [](const PyNetwork& n) { return n.net->is_compiled(); })
          .def(
              "quantize_input",
              [](const PyNetwork& n, const py::object& x) {
                const auto [values, rows] = float_rows(x, "X");
                return to_numpy(without_gil(
                    [&, &v = values, r = rows] { return n.net->quantize_input(v, r); }));
              },
              py::arg("X"), "Quantized inputs: int64 of shape (N, input elements).")
          .def("run_integer", &run_integer, py::arg("q_x"), py::arg("fhe") = "disable",
               py::arg("simulation_seed") = 0,
               "The program's integer outputs for quantized inputs (N, input elements) in mode "
               "\"disable\", \"simulate\" or \"execute\" (the last two after compile(); one call "
               "for "
               "the whole batch, on every core): int64 (N, *output_sample_shape).")
          .def("dequantize_output", &dequantize_output, py::arg("q_y"),
               "scale (q - zero_point), then the univariate operations left to the client: float64 "
               "(N, *output_sample_shape).")
          .def("forward", &forward, py::arg("X"), py::arg("fhe") = "disable",
               py::arg("simulation_seed") = 0,
               "quantize_input, run_integer, dequantize_output: float64 (N, *output_sample_shape).")

          .def_property_readonly(
              "fhe_circuit",
              [](const PyNetwork& n) -> std::optional<FheCircuit> {
                if (!n.net->is_compiled()) return std::nullopt;
                return FheCircuit{n.net->shared_circuit(), n.net->statistics_text()};
              },
              "The compiled circuit (an FheCircuit: its text ends with statistics_text()), or None "
              "before compile().")
          .def(
              "statistics_text", [](const PyNetwork& n) { return n.net->statistics_text(); },
              "Per lookup node: the operations fused, lookups per sample, accumulator bits and "
              "rounding, precision once compiled; and the total.")
          .def_property_readonly(
              "lookups", &lookups_list,
              "The lookup nodes as dicts: name, ops (op types fused), lookups (per sample), tables "
              "(distinct functions), accumulator_bits, lsbs_removed (rounding), node (the "
              "program's node id), output_bits (its output quantizer's; 0 where it has none of its "
              "own), quantization_aware (that quantizer is the model's QuantizeLinear / "
              "DequantizeLinear, not a calibrated one) and precision (bits, None before "
              "compile()).")
          .def(
              "program_text", [](const PyNetwork& n) { return n.net->lowered().program.to_text(); },
              "The integer program, one line per node.")
          .def(
              "graph_summary",
              [](const PyNetwork& n) { return onnx::summarize_graph(n.net->graph()); },
              "The float graph as loaded: inputs, outputs, nodes and initializers.");
  def_compile<PyNetwork>(network_class, "input_set", prepare_network_compile,
                         "Compiles the circuit on the input set (N, *sample_shape) and generates "
                         "the keys (key_seed: 32 bytes, or None for a random seed); "
                         "progress(done, total), if given, is called about every 100 ms during key "
                         "generation. Predictions running meanwhile finish with the previous "
                         "circuit and keys.");
}

}  // namespace torusml::python

namespace torusml::python {

std::shared_ptr<const ml::QuantizedNetwork> network_of(const py::handle& obj) {
  return py::cast<const PyNetwork&>(obj).net;
}

}  // namespace torusml::python
