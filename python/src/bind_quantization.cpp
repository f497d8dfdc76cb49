// Bindings of the quantizer and of the clear post-processing functions.
#include <pybind11/stl.h>

#include "bindings.h"
#include "numpy_conversions.h"
#include "torusml/common/error.h"
#include "torusml/ml/postprocessing.h"
#include "torusml/ml/quantizer.h"

namespace torusml::python {

namespace {

ml::QuantizerOptions options_of(long long n_bits, bool is_signed, bool is_symmetric) {
  ml::require_valid_bits(n_bits, "n_bits");
  return {static_cast<unsigned>(n_bits), is_signed, is_symmetric};
}

py::array_t<std::int64_t> quantize_array(const ml::UniformQuantizer& q, const py::object& x) {
  const FloatArray f = to_float_array(x, "quantize: the values");
  py::array_t<std::int64_t> out(std::vector<py::ssize_t>(f.shape(), f.shape() + f.ndim()));
  const std::span<const double> in(f.data(), static_cast<std::size_t>(f.size()));
  const std::span<std::int64_t> dst(out.mutable_data(), static_cast<std::size_t>(out.size()));
  {
    py::gil_scoped_release release;
    q.quantize(in, dst);
  }
  return out;
}

py::array_t<double> dequantize_array(const ml::UniformQuantizer& q, const py::object& x) {
  const circuit::Tensor t = to_tensor(x, "dequantize: the values");
  py::array_t<double> out(std::vector<py::ssize_t>(t.shape().begin(), t.shape().end()));
  q.dequantize(t.values(), std::span<double>(out.mutable_data(), t.size()));
  return out;
}

}  // namespace

void bind_quantization(py::module_& m) {
  py::class_<ml::UniformQuantizer>(m, "UniformQuantizer", R"doc(
Uniform affine quantizer (Concrete ML semantics):
    q = clip(rint(x / scale) + zero_point, q_min, q_max),   x' = scale * (q - zero_point)
with [q_min, q_max] = [0, 2^n - 1] (unsigned) or [-2^(n-1), 2^(n-1) - 1] (signed).
Build one with explicit parameters, or calibrate it on data with UniformQuantizer.calibrate.)doc")
      .def(py::init([](long long n_bits, bool is_signed, bool is_symmetric, double scale,
                       std::int64_t zero_point) {
             return ml::UniformQuantizer(options_of(n_bits, is_signed, is_symmetric), scale,
                                         zero_point);
           }),
           py::kw_only(), py::arg("n_bits") = 8, py::arg("is_signed") = false,
           py::arg("is_symmetric") = false, py::arg("scale") = 1.0, py::arg("zero_point") = 0)
      .def_static(
          "calibrate",
          [](const py::object& values, long long n_bits, bool is_signed, bool is_symmetric) {
            const FloatArray f = to_float_array(values, "calibrate: the values");
            return ml::UniformQuantizer::calibrate(
                std::span<const double>(f.data(), static_cast<std::size_t>(f.size())),
                options_of(n_bits, is_signed, is_symmetric));
          },
          py::arg("values"), py::kw_only(), py::arg("n_bits") = 8, py::arg("is_signed") = false,
          py::arg("is_symmetric") = false, "Calibrates on the min and max of `values` (any shape).")
      .def_static(
          "from_range",
          [](double rmin, double rmax, long long n_bits, bool is_signed, bool is_symmetric) {
            return ml::UniformQuantizer::from_range(rmin, rmax,
                                                    options_of(n_bits, is_signed, is_symmetric));
          },
          py::arg("rmin"), py::arg("rmax"), py::kw_only(), py::arg("n_bits") = 8,
          py::arg("is_signed") = false, py::arg("is_symmetric") = false,
          "Calibrates on a known range [rmin, rmax].")
      .def_property_readonly("n_bits", &ml::UniformQuantizer::n_bits)
      .def_property_readonly("is_signed", &ml::UniformQuantizer::is_signed)
      .def_property_readonly("is_symmetric", &ml::UniformQuantizer::is_symmetric)
      .def_property_readonly("scale", &ml::UniformQuantizer::scale)
      .def_property_readonly("zero_point", &ml::UniformQuantizer::zero_point)
      .def_property_readonly("q_min", &ml::UniformQuantizer::q_min)
      .def_property_readonly("q_max", &ml::UniformQuantizer::q_max)
      .def("quantize", &quantize_array, py::arg("values"),
           "Quantizes an array of any shape to int64 (ValueError for NaN or infinities).")
      .def("dequantize", &dequantize_array, py::arg("q"),
           "Dequantizes an integer array of any shape to float64.")
      .def("__repr__", &ml::UniformQuantizer::to_string)
      .def("__eq__",
           [](const ml::UniformQuantizer& a, const ml::UniformQuantizer& b) { return a == b; })
      .def(py::pickle(
          [](const ml::UniformQuantizer& q) {
            return py::make_tuple(q.n_bits(), q.is_signed(), q.is_symmetric(), q.scale(),
                                  q.zero_point());
          },
          [](const py::tuple& t) {
            if (t.size() != 5) throw InvalidArgument("UniformQuantizer: invalid pickled state");
            return ml::UniformQuantizer(
                options_of(t[0].cast<long long>(), t[1].cast<bool>(), t[2].cast<bool>()),
                t[3].cast<double>(), t[4].cast<std::int64_t>());
          }));

  m.def(
      "sigmoid",
      [](const py::object& x) { return to_numpy(ml::sigmoid(to_matrix(x, "sigmoid: x"))); },
      py::arg("x"), "Elementwise 1 / (1 + exp(-x)) of a 2-D array.");
  m.def(
      "softmax",
      [](const py::object& x) { return to_numpy(ml::softmax(to_matrix(x, "softmax: x"))); },
      py::arg("x"), "Row-wise softmax of a 2-D array.");
  m.def(
      "normalize_rows",
      [](const py::object& x) {
        return to_numpy(ml::normalize_rows(to_matrix(x, "normalize_rows: x")));
      },
      py::arg("x"), "Each row divided by its sum (rows summing to 0 become uniform).");
  m.def(
      "argmax", [](const py::object& x) { return to_numpy(ml::argmax(to_matrix(x, "argmax: x"))); },
      py::arg("x"), "Row-wise index of the first maximum of a 2-D array.");
  m.def(
      "apply_inverse_link",
      [](const py::object& x, const std::string& link) {
        return to_numpy(
            ml::apply_inverse_link(to_matrix(x, "apply_inverse_link: x"), ml::parse_link(link)));
      },
      py::arg("x"), py::arg("link"),
      "The inverse of a GLM link on a 2-D array: \"identity\" or \"log\" (exp).");
}

}  // namespace torusml::python
