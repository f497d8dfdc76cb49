// torusml._core: the C++ core of the torusml Python package. It binds the ml layer only
// (quantizers, quantized linear models and tree ensembles, their compiled circuits,
// post-processing); the Python package adds the scikit-learn plumbing. C++ exceptions become
// Python exceptions with the same message: InvalidArgument, CompileError, ParameterMismatch and
// SerializationError -> ValueError; any other torusml::Error (InternalError: a bug) ->
// RuntimeError.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "torusml/common/error.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "TorusML C++ core: quantization, quantized linear models and tree ensembles compiled "
      "to FHE.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const torusml::InvalidArgument& e) {  // UnsupportedOperator included
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const torusml::CompileError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const torusml::ParameterMismatch& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const torusml::SerializationError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const torusml::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  torusml::python::bind_quantization(m);
  torusml::python::bind_linear(m);
  torusml::python::bind_trees(m);
  torusml::python::bind_onnx(m);
  torusml::python::bind_nn(m);
  torusml::python::bind_deploy(m);
}
