// The pieces of the torusml._core module, defined in bind_*.cpp and assembled in module.cpp, and
// what they share: the compiled-circuit handle and the compile arguments.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "numpy_conversions.h"
#include "torusml/circuit/compiler.h"
#include "torusml/ml/nn/quantized_network.h"
#include "torusml/tfhe/random.h"

namespace torusml::python {

namespace py = pybind11;

/// A compiled circuit as Python sees it (model.fhe_circuit): printing it shows its statistics,
/// followed by `notes` (e.g. a tree ensemble's lookup counts). Registered by bind_linear.
struct FheCircuit {
  std::shared_ptr<const circuit::CompiledCircuit> circuit;
  std::string notes;
  std::string describe() const { return circuit->describe() + notes; }
};

/// fn() run without the GIL (for calls that do real work on the C++ thread pool), its result
/// returned once the GIL is held again.
template <class Fn>
auto without_gil(Fn&& fn) {
  py::gil_scoped_release release;
  return fn();
}

/// fn() run without the GIL on a worker thread whose key generation reports its progress
/// (torusml/common/progress.h); unless `callback` is None, callback(done, total) is called with
/// the GIL about every 100 ms while it runs and once at the end. fn's exception propagates; one
/// raised by the callback propagates once fn has finished (it cannot be interrupted).
void run_with_progress(const std::function<void()>& fn, const py::object& callback);

/// The 32-byte key seed, or a random one for None; InvalidArgument for another length.
tfhe::Seed seed_from(const std::optional<py::bytes>& bytes);
/// Compile options from compile()'s keyword arguments: p_error / global_p_error (InvalidArgument
/// if both are set), multi_parameter, multi_parameter_gain (None: the C++ default; InvalidArgument
/// unless a finite number >= 1), grouping_factors (None: the optimizer's default;
/// InvalidArgument if empty or a factor is outside [1, tfhe::kMaxGroupingFactor]) and
/// small_key_inputs (CompileOptions::small_key_inputs).
circuit::CompileOptions compile_options(
    std::optional<double> p_error, std::optional<double> global_p_error, bool multi_parameter,
    std::optional<double> multi_parameter_gain,
    const std::optional<std::vector<long long>>& grouping_factors, bool small_key_inputs = true);
/// The docstring of a compile() binding: `what` (what it compiles, its own arguments) followed by
/// the description of the options shared by every model (compile_options).
std::string compile_doc(const std::string& what);

/// def_compile's preparation for models compiled on a matrix of inputs X (linear models, trees).
struct PrepareMatrixCompile {
  template <class Model>
  auto operator()(Model& model, const py::object& x) const {
    return [&model, matrix = to_matrix(x, "X")](const circuit::CompileOptions& options,
                                                const tfhe::Seed& seed) {
      model.compile(matrix, options, seed);
    };
  }
};

/// Binds `compile(<input_name>, *, p_error=None, global_p_error=None, multi_parameter=True,
/// multi_parameter_gain=None, grouping_factors=None, small_key_inputs=True, key_seed=None,
/// progress=None)` on the class
/// `cls` of Model, documented by compile_doc(what). The options are checked (compile_options)
/// and the seed read (seed_from) before prepare(model, input), which converts the Python input
/// with the GIL held and returns the compilation: a callable (CompileOptions, Seed) run by
/// run_with_progress.
template <class Model, class Class, class Prepare>
void def_compile(Class& cls, const char* input_name, Prepare prepare, const std::string& what) {
  cls.def(
      "compile",
      [prepare](Model& model, const py::object& input, std::optional<double> p_error,
                std::optional<double> global_p_error, bool multi_parameter,
                std::optional<double> multi_parameter_gain,
                const std::optional<std::vector<long long>>& grouping_factors,
                bool small_key_inputs, const std::optional<py::bytes>& seed,
                const py::object& progress) {
        const circuit::CompileOptions options =
            compile_options(p_error, global_p_error, multi_parameter, multi_parameter_gain,
                            grouping_factors, small_key_inputs);
        const tfhe::Seed key_seed = seed_from(seed);
        auto run = prepare(model, input);
        run_with_progress([&] { run(options, key_seed); }, progress);
      },
      py::arg(input_name), py::kw_only(), py::arg("p_error") = py::none(),
      py::arg("global_p_error") = py::none(), py::arg("multi_parameter").noconvert() = true,
      py::arg("multi_parameter_gain") = py::none(), py::arg("grouping_factors") = py::none(),
      py::arg("small_key_inputs").noconvert() = true, py::arg("key_seed") = py::none(),
      py::arg("progress") = py::none(), compile_doc(what).c_str());
}

void bind_quantization(py::module_& m);
void bind_linear(py::module_& m);
void bind_trees(py::module_& m);
void bind_onnx(py::module_& m);
void bind_nn(py::module_& m);
void bind_deploy(py::module_& m);

/// The C++ network of a torusml._core.QuantizedNetwork (pybind11's cast error otherwise).
std::shared_ptr<const ml::QuantizedNetwork> network_of(const py::handle& obj);

}  // namespace torusml::python
