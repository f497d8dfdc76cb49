#include "numpy_conversions.h"

#include <algorithm>
#include <string>

#include "torusml/common/error.h"

namespace torusml::python {

py::array as_array(const py::object& obj, const char* what) {
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw InvalidArgument(std::string(what) +
                          " must be an array of numbers (a numpy array or "
                          "nested lists of equal lengths)");
  }
  return a;
}

FloatArray to_float_array(const py::object& obj, const char* what) {
  const py::array a = as_array(obj, what);
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw InvalidArgument(std::string(what) + " must hold numbers (got an array of dtype " +
                          std::string(py::str(a.dtype())) + "); convert it to float64");
  FloatArray f = FloatArray::ensure(a);
  if (!f) throw InvalidArgument(std::string(what) + " could not be converted to float64");
  return f;
}

ml::Matrix to_matrix(const py::object& obj, const char* what) {
  const py::array a = as_array(obj, what);
  if (a.ndim() != 2)
    throw InvalidArgument(std::string(what) + " must be a 2-D array (samples, features), got " +
                          std::to_string(a.ndim()) +
                          " dimension(s); reshape it, e.g. x.reshape(1, -1) for one sample");
  const FloatArray f = to_float_array(a, what);
  const auto rows = static_cast<std::size_t>(f.shape(0)),
             cols = static_cast<std::size_t>(f.shape(1));
  return ml::Matrix(rows, cols, std::vector<double>(f.data(), f.data() + rows * cols));
}

std::vector<double> to_vector(const py::object& obj, const char* what) {
  const py::array a = as_array(obj, what);
  if (a.ndim() != 1)
    throw InvalidArgument(std::string(what) + " must be a 1-D array, got " +
                          std::to_string(a.ndim()) + " dimension(s)");
  const FloatArray f = to_float_array(a, what);
  return std::vector<double>(f.data(), f.data() + f.size());
}

circuit::Tensor to_tensor(const py::object& obj, const char* what) {
  const py::array a = as_array(obj, what);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw InvalidArgument(std::string(what) + " must be an integer array (got dtype " +
                          std::string(py::str(a.dtype())) + ")");
  using IntArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
  const IntArray i = IntArray::ensure(a);
  if (!i) throw InvalidArgument(std::string(what) + " could not be converted to int64");
  circuit::Shape shape(i.shape(), i.shape() + i.ndim());
  return circuit::Tensor(std::move(shape),
                         std::vector<std::int64_t>(i.data(), i.data() + i.size()));
}

py::array_t<double> to_numpy(const ml::Matrix& m) {
  py::array_t<double> out({static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  std::copy(m.values().begin(), m.values().end(), out.mutable_data());
  return out;
}

py::array_t<std::int64_t> to_numpy(const circuit::Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array_t<std::int64_t> out(shape);
  std::copy(t.values().begin(), t.values().end(), out.mutable_data());
  return out;
}

py::array_t<std::int64_t> to_numpy(const std::vector<std::int64_t>& v) {
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::array_t<double> to_numpy(const std::vector<double>& v) {
  py::array_t<double> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

}  // namespace torusml::python
