// Bindings of the onnx layer, for tests and inspection: evaluate an ONNX model's float graph on
// numpy inputs (double precision), and describe the graph the loader builds.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings.h"
#include "numpy_conversions.h"
#include "torusml/common/error.h"
#include "torusml/onnx/evaluate_graph.h"
#include "torusml/onnx/load_onnx.h"

namespace torusml::python {

namespace {

onnx::Graph load_graph(const py::bytes& model_bytes, long long batch_size) {
  const std::string bytes = model_bytes;
  onnx::LoadOptions options;
  options.batch_size = batch_size;
  return onnx::load_onnx_model(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                    bytes.size()),
      options);
}

onnx::FloatTensor to_float_tensor(const py::handle& obj, std::size_t index) {
  const std::string what = "inputs[" + std::to_string(index) + "]";
  const FloatArray a = to_float_array(py::reinterpret_borrow<py::object>(obj), what.c_str());
  onnx::Shape shape;
  for (py::ssize_t d = 0; d < a.ndim(); ++d) shape.push_back(a.shape(d));
  return onnx::FloatTensor(std::move(shape), std::vector<double>(a.data(), a.data() + a.size()));
}

py::array_t<double> to_numpy(const onnx::FloatTensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array_t<double> out(shape);
  std::copy(t.data().begin(), t.data().end(), out.mutable_data());
  return out;
}

}  // namespace

void bind_onnx(py::module_& m) {
  m.def(
      "evaluate_onnx",
      [](const py::bytes& model_bytes, const py::list& inputs, long long batch_size) {
        const onnx::Graph graph = load_graph(model_bytes, batch_size);
        std::vector<onnx::FloatTensor> values;
        for (std::size_t i = 0; i < inputs.size(); ++i)
          values.push_back(to_float_tensor(inputs[i], i));
        const std::vector<onnx::FloatTensor> outs =
            without_gil([&] { return onnx::evaluate_graph(graph, values); });
        py::list result;
        for (const onnx::FloatTensor& t : outs) result.append(to_numpy(t));
        return result;
      },
      py::arg("model_bytes"), py::arg("inputs"), py::arg("batch_size") = 1,
      "Loads a serialized ONNX model (dynamic leading dimensions fixed to batch_size) and "
      "evaluates its float graph in double precision on the inputs (a list of arrays, in the "
      "graph's input order). Returns the outputs as float64 arrays.");
  m.def(
      "onnx_graph_summary",
      [](const py::bytes& model_bytes, long long batch_size) {
        return onnx::summarize_graph(load_graph(model_bytes, batch_size));
      },
      py::arg("model_bytes"), py::arg("batch_size") = 1,
      "The float graph the loader builds from a serialized ONNX model: inputs, outputs, nodes "
      "(op types, value shapes) and initializers.");
}

}  // namespace torusml::python
