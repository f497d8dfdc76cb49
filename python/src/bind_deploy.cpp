// Bindings of the deploy layer (torusml.deployment's C++ core): saving a compiled model's
// artifact directory, the client (keys, seeded encryption, decryption, post-processing) and the
// in-process server. Bytes cross as Python bytes; every call that does real work releases the GIL.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "numpy_conversions.h"
#include "torusml/common/error.h"
#include "torusml/deploy/artifact_directory.h"
#include "torusml/deploy/client.h"
#include "torusml/deploy/model_server.h"

namespace torusml::python {

namespace {

using deploy::ModelTransform;

std::span<const std::uint8_t> byte_span(const py::bytes& b) {
  char* data = nullptr;
  py::ssize_t size = 0;
  if (PYBIND11_BYTES_AS_STRING_AND_SIZE(b.ptr(), &data, &size) != 0)
    throw InvalidArgument("expected bytes");
  return {reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(size)};
}

py::bytes to_bytes(const std::vector<std::uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

template <class Enum>
Enum parse_name(const std::string& name, std::initializer_list<std::pair<const char*, Enum>> names,
                const char* what) {
  std::string accepted;
  for (const auto& [n, e] : names) {
    if (name == n) return e;
    accepted += std::string(accepted.empty() ? "" : ", ") + "'" + n + "'";
  }
  throw InvalidArgument(std::string(what) + " '" + name + "' is unknown: use one of " + accepted);
}

// The transform described by a dict (see torusml/deployment/__init__.py, _transform_of).
ModelTransform transform_from(const py::dict& d) {
  ModelTransform t;
  const auto get = [&](const char* key) -> py::object {
    return d.contains(key) ? py::reinterpret_borrow<py::object>(d[key]) : py::none();
  };
  if (!get("value_scale").is_none()) t.value_scale = get("value_scale").cast<std::vector<double>>();
  if (!get("value_offset").is_none())
    t.value_offset = get("value_offset").cast<std::vector<double>>();
  t.task = parse_name<deploy::Task>(get("task").cast<std::string>(),
                                    {{"raw", deploy::Task::Raw},
                                     {"regression", deploy::Task::Regression},
                                     {"classification", deploy::Task::Classification}},
                                    "task");
  if (!get("link").is_none()) t.link = ml::parse_link(get("link").cast<std::string>());
  if (!get("probability").is_none())
    t.probability = parse_name<deploy::ProbabilityMethod>(
        get("probability").cast<std::string>(),
        {{"none", deploy::ProbabilityMethod::None},
         {"sigmoid", deploy::ProbabilityMethod::Sigmoid},
         {"softmax", deploy::ProbabilityMethod::Softmax},
         {"frequency", deploy::ProbabilityMethod::Frequency},
         {"modified_huber", deploy::ProbabilityMethod::ModifiedHuber}},
        "probability method");
  if (!get("label_rule").is_none())
    t.label_rule =
        parse_name<deploy::LabelRule>(get("label_rule").cast<std::string>(),
                                      {{"decision", deploy::LabelRule::DecisionValues},
                                       {"probabilities", deploy::LabelRule::Probabilities}},
                                      "label rule");
  if (!get("targets").is_none())
    for (const py::handle& item : get("targets")) {
      const auto tuple = item.cast<py::tuple>();
      t.targets.push_back({tuple[0].cast<std::size_t>(), tuple[1].cast<std::size_t>(),
                           tuple[2].cast<std::vector<std::string>>()});
    }
  if (!get("output_is_1d").is_none()) t.output_is_1d = get("output_is_1d").cast<bool>();
  return t;
}

deploy::ClientArtifact artifact_of(const py::object& model, const py::dict& transform,
                                   const std::vector<double>& offset,
                                   const std::vector<double>& scale,
                                   const circuit::ServerProgram** program) {
  ModelTransform t = transform_from(transform);
  if (py::isinstance<ml::QuantizedLinear>(model)) {
    const auto& m = model.cast<const ml::QuantizedLinear&>();
    *program = &m.compiled_circuit().server_program();
    return deploy::make_client_artifact(m, std::move(t));
  }
  if (py::isinstance<ml::QuantizedTreeEnsemble>(model)) {
    const auto& m = model.cast<const ml::QuantizedTreeEnsemble&>();
    *program = &m.compiled_circuit().server_program();
    return deploy::make_client_artifact(m, std::move(t));
  }
  const auto net = network_of(model);
  *program = &net->compiled_circuit().server_program();
  return deploy::make_client_artifact(*net, std::move(t), offset, scale);
}

}  // namespace

void bind_deploy(py::module_& m) {
  m.def(
      "save_model_artifacts",
      [](const std::string& path_dir, const py::object& model, const py::dict& transform,
         const std::vector<double>& offset, const std::vector<double>& scale) {
        const circuit::ServerProgram* program = nullptr;
        const deploy::ClientArtifact a = artifact_of(model, transform, offset, scale, &program);
        py::gil_scoped_release release;
        deploy::save_artifacts(path_dir, *program, a);
      },
      py::arg("path_dir"), py::arg("model"), py::arg("transform"),
      py::arg("standardization_offset") = std::vector<double>{},
      py::arg("standardization_scale") = std::vector<double>{},
      "Writes server.bin, client.bin and manifest.json of a compiled QuantizedLinear, "
      "QuantizedTreeEnsemble or QuantizedNetwork into path_dir.");

  py::class_<deploy::Client>(m, "DeployClient",
                             "The client of a deployed model (torusml.deployment.FHEModelClient).")
      .def(py::init([](const std::string& path_dir) {
             py::gil_scoped_release release;
             return deploy::Client::load(path_dir);
           }),
           py::arg("path_dir"))
      .def("generate_keys",
           [](deploy::Client& c) {
             py::gil_scoped_release release;
             c.generate_keys();
           })
      .def(
          "load_or_generate_keys",
          [](deploy::Client& c, const std::string& key_dir, bool force) {
            py::gil_scoped_release release;
            return c.load_or_generate_keys(key_dir, force);
          },
          py::arg("key_dir"), py::arg("force") = false)
      .def_property_readonly("has_keys", &deploy::Client::has_keys)
      .def("serialized_evaluation_keys",
           [](const deploy::Client& c) { return to_bytes(c.serialized_evaluation_keys()); })
      .def_property_readonly("task",
                             [](const deploy::Client& c) {
                               switch (c.artifact().transform.task) {
                                 case deploy::Task::Raw:
                                   return "raw";
                                 case deploy::Task::Regression:
                                   return "regression";
                                 case deploy::Task::Classification:
                                   return "classification";
                               }
                               return "raw";
                             })
      .def_property_readonly("has_probabilities",
                             [](const deploy::Client& c) {
                               return c.artifact().transform.probability !=
                                      deploy::ProbabilityMethod::None;
                             })
      .def_property_readonly(
          "output_is_1d",
          [](const deploy::Client& c) { return c.artifact().transform.output_is_1d; })
      .def_property_readonly("n_features",
                             [](const deploy::Client& c) { return c.artifact().input.n_features; })
      .def(
          "quantize_encrypt_serialize",
          [](const deploy::Client& c, const py::object& x) {
            const ml::Matrix mx = to_matrix(x, "X");
            std::vector<std::uint8_t> out;
            {
              py::gil_scoped_release release;
              out = c.quantize_encrypt_serialize(mx);
            }
            return to_bytes(out);
          },
          py::arg("X"))
      .def(
          "deserialize_decrypt",
          [](const deploy::Client& c, const py::bytes& result) {
            const auto bytes = byte_span(result);
            circuit::Tensor t;
            {
              py::gil_scoped_release release;
              t = c.deserialize_decrypt(bytes);
            }
            return to_numpy(t);
          },
          py::arg("result"))
      .def(
          "deserialize_decrypt_dequantize",
          [](const deploy::Client& c, const py::bytes& result) {
            const auto bytes = byte_span(result);
            deploy::Prediction p;
            {
              py::gil_scoped_release release;
              p = c.deserialize_decrypt_dequantize(bytes);
            }
            py::list probabilities;
            for (const ml::Matrix& pm : p.probabilities) probabilities.append(to_numpy(pm));
            py::dict out;
            out["values"] = to_numpy(p.values);
            out["probabilities"] = probabilities;
            out["labels"] = p.labels;
            return out;
          },
          py::arg("result"),
          "A dict: values (rows, columns), probabilities (one array per target), labels (one "
          "list of str per target).");

  py::class_<deploy::ModelServer>(m, "DeployServer", "The in-process server of a deployed model.")
      .def(py::init([](const std::string& path_dir) {
             py::gil_scoped_release release;
             return deploy::ModelServer::load(path_dir);
           }),
           py::arg("path_dir"))
      .def(
          "run",
          [](const deploy::ModelServer& s, const py::bytes& inputs, const py::bytes& keys) {
            const auto in = byte_span(inputs), ek = byte_span(keys);
            std::vector<std::uint8_t> out;
            {
              py::gil_scoped_release release;
              out = s.run(in, ek);
            }
            return to_bytes(out);
          },
          py::arg("serialized_encrypted_inputs"), py::arg("serialized_evaluation_keys"));
}

}  // namespace torusml::python
