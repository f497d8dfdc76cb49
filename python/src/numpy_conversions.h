// Conversions between numpy arrays and the ml layer's value types (copies; the arrays of a
// batch are small next to the work done on them).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "torusml/circuit/ir/tensor.h"
#include "torusml/ml/matrix.h"

namespace torusml::python {

namespace py = pybind11;

using FloatArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// Any array-like (numpy array, nested lists, ...) as a numpy array; InvalidArgument naming `what`
/// if numpy cannot convert it.
py::array as_array(const py::object& obj, const char* what);
/// A 2-D float64 array (any real dtype is cast) as a Matrix. Throws InvalidArgument naming
/// `what` unless the array is 2-D.
ml::Matrix to_matrix(const py::object& obj, const char* what);
/// Float64 values of any shape (any real dtype is cast).
FloatArray to_float_array(const py::object& obj, const char* what);
/// A 1-D float64 array (any real dtype is cast) as a vector. InvalidArgument unless 1-D.
std::vector<double> to_vector(const py::object& obj, const char* what);
/// An integer array (dtype kind 'i' or 'u', any shape) as a Tensor of the same shape.
/// Throws InvalidArgument for other dtypes.
circuit::Tensor to_tensor(const py::object& obj, const char* what);

py::array_t<double> to_numpy(const ml::Matrix& m);
py::array_t<std::int64_t> to_numpy(const circuit::Tensor& t);
py::array_t<std::int64_t> to_numpy(const std::vector<std::int64_t>& v);
py::array_t<double> to_numpy(const std::vector<double>& v);

}  // namespace torusml::python
