// The pieces of the torusml._core module, defined in bind_*.cpp and assembled in module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace torusml::python {

namespace py = pybind11;

void bind_quantization(py::module_& m);
void bind_linear(py::module_& m);

}  // namespace torusml::python
