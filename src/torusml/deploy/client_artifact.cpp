#include "torusml/deploy/client_artifact.h"

#include <cmath>
#include <span>
#include <utility>

#include "torusml/circuit/serialization/serialization.h"
#include "torusml/circuit/serialization/validity.h"
#include "torusml/common/error.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::deploy {

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw InvalidArgument("client artifact: " + message);
}

void require_finite(std::span<const double> values, const char* field) {
  for (double v : values)
    if (!std::isfinite(v)) invalid(std::string(field) + " holds NaN or an infinite value");
}

/// Sizes 0 (when `allow_empty`), 1 or `n`.
void require_size(std::size_t size, std::size_t n, bool allow_empty, const char* field) {
  if ((size == 0 && allow_empty) || size == 1 || size == n) return;
  invalid(std::string(field) + " has " + std::to_string(size) + " values; expected " +
          (allow_empty ? "none, " : "") + "1 or " + std::to_string(n) + " (one per column)");
}

std::size_t elements(const circuit::Shape& shape) {
  return static_cast<std::size_t>(circuit::element_count(shape));
}

void validate_input(const InputTransform& in, const circuit::ClientSpecification::Argument& arg) {
  if (in.n_features == 0 || in.n_features > kMaxArtifactFeatures)
    invalid("n_features = " + std::to_string(in.n_features) + " is outside [1, 2^24]");
  if (in.offset.size() != in.scale.size() ||
      (!in.offset.empty() && in.offset.size() != in.n_features))
    invalid("the standardization needs n_features offsets and scales (or none)");
  require_finite(in.offset, "the standardization offset");
  require_finite(in.scale, "the standardization scale");
  for (double s : in.scale)
    if (s == 0) invalid("a standardization scale is zero");
  if (in.quantizers.size() != 1 && in.quantizers.size() != in.n_features)
    invalid("expected one input quantizer, or one per feature (" + std::to_string(in.n_features) +
            "), got " + std::to_string(in.quantizers.size()));
  std::size_t width = in.n_features;
  switch (in.encoding) {
    case ml::TreeInputEncoding::Value:
      break;
    case ml::TreeInputEncoding::Digits:
    case ml::TreeInputEncoding::Thermometer:
      if (in.encoding_bits < 1 || in.encoding_bits > ml::kMaxTreeInputBits ||
          (in.encoding == ml::TreeInputEncoding::Digits && in.encoding_bits < 2))
        invalid("encoding_bits = " + std::to_string(in.encoding_bits) +
                " does not fit the tree input encoding");
      for (const ml::UniformQuantizer& q : in.quantizers)
        if (q.is_signed() || q.n_bits() != in.encoding_bits)
          invalid("the tree input encoding needs unsigned quantizers of encoding_bits bits");
      width = ml::encoded_input_width(in.n_features, in.encoding_bits, in.encoding);
      break;
    default:
      invalid("unknown input encoding");
  }
  if (arg.shape.size() != 1 || elements(arg.shape) != width)
    invalid("the circuit's input has shape " + circuit::shape_to_string(arg.shape) +
            " but the input transform gives " + std::to_string(width) + " values per sample");
}

void validate_graph(const onnx::Graph& g, std::size_t columns) {
  if (g.nodes.empty()) return;
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    invalid("the post-processing graph must have one input and one output");
  if (g.nodes.size() > 256) invalid("the post-processing graph has more than 256 nodes");
  for (const onnx::Node& n : g.nodes)
    if (!n.domain.empty() || !(onnx::is_elementwise_operator(n.op_type) || n.op_type == "Softmax" ||
                               n.op_type == "LogSoftmax"))
      invalid("the post-processing graph holds " + n.describe() +
              ", not an elementwise operator, Softmax or LogSoftmax");
  const onnx::Shape& shape = g.inputs[0].info.shape;
  for (std::int64_t d : shape)
    if (d < 0 || d > static_cast<std::int64_t>(kMaxArtifactColumns))
      invalid("the post-processing graph's input has an invalid shape");
  if (shape.size() > 8 || static_cast<std::size_t>(onnx::element_count(shape)) != columns)
    invalid("the post-processing graph's input has shape " + onnx::shape_to_string(shape) +
            ", not one sample of the output (" + std::to_string(columns) + " values)");
  std::size_t initializer_values = 0;
  for (const auto& [name, t] : g.initializers) initializer_values += t.size();
  if (initializer_values > kMaxArtifactColumns)
    invalid("the post-processing graph's constants are too large");
  // Run it once on zeros: it must evaluate and keep the shape.
  const onnx::FloatTensor zeros(shape);
  const auto out = onnx::evaluate_graph(g, std::span(&zeros, 1));
  if (out.size() != 1 || out[0].size() != columns)
    invalid("the post-processing graph does not keep its input's shape");
}

void validate_transform(const ModelTransform& t, std::size_t columns) {
  require_size(t.value_scale.size(), columns, true, "value_scale");
  require_size(t.value_offset.size(), columns, true, "value_offset");
  require_finite(t.value_scale, "value_scale");
  require_finite(t.value_offset, "value_offset");
  if (t.link != ml::Link::Identity && t.link != ml::Link::Log) invalid("unknown link");
  switch (t.task) {
    case Task::Raw:
    case Task::Regression:
      if (!t.targets.empty() || t.probability != ProbabilityMethod::None)
        invalid("a regression or raw transform has no classes or probabilities");
      return;
    case Task::Classification:
      break;
    default:
      invalid("unknown task");
  }
  if (t.probability > ProbabilityMethod::ModifiedHuber) invalid("unknown probability method");
  if (t.label_rule != LabelRule::DecisionValues && t.label_rule != LabelRule::Probabilities)
    invalid("unknown label rule");
  if (t.label_rule == LabelRule::Probabilities && t.probability == ProbabilityMethod::None)
    invalid("labels from probabilities need a probability method");
  if (t.targets.empty() || t.targets.size() > columns)
    invalid("a classifier needs between 1 and " + std::to_string(columns) + " targets");
  for (const ClassTarget& c : t.targets) {
    if (c.classes.empty() || c.classes.size() > kMaxArtifactClasses)
      invalid("a target must have between 1 and 2^16 classes");
    if (c.width == 0 || c.start >= columns || c.width > columns - c.start)
      invalid("a target's columns lie outside the model's " + std::to_string(columns) +
              " output columns");
    if (c.width != c.classes.size() && !(c.width == 1 && c.classes.size() <= 2))
      invalid("a target of " + std::to_string(c.classes.size()) +
              " classes must have one column per class (or one column for two classes), not " +
              std::to_string(c.width));
    for (const std::string& s : c.classes)
      if (s.size() > 4096) invalid("a class label is longer than 4096 bytes");
  }
}

}  // namespace

const char* to_string(ModelKind kind) {
  switch (kind) {
    case ModelKind::Linear:
      return "linear";
    case ModelKind::TreeEnsemble:
      return "tree_ensemble";
    case ModelKind::Network:
      return "network";
  }
  return "unknown";
}

std::size_t ClientArtifact::output_columns() const {
  if (specification.outputs.empty()) return 0;
  const circuit::Shape& s = specification.outputs[0].shape;
  if (output.sum_axis1) return s.empty() ? 0 : static_cast<std::size_t>(s.back());
  return elements(s);
}

bool ClientArtifact::operator==(const ClientArtifact& o) const {
  return kind == o.kind && input == o.input && output == o.output && transform == o.transform &&
         circuit::serialize_client_specification(specification) ==
             circuit::serialize_client_specification(o.specification);
}

void validate_client_artifact(const ClientArtifact& a) {
  if (a.kind != ModelKind::Linear && a.kind != ModelKind::TreeEnsemble &&
      a.kind != ModelKind::Network)
    invalid("unknown model kind");
  circuit::validate_client_specification(a.specification);
  const auto& spec = a.specification;
  if (spec.inputs.size() != 1 || !spec.inputs[0].encrypted || spec.outputs.size() != 1)
    invalid("the circuit must have one encrypted input and one output");
  validate_input(a.input, spec.inputs[0]);
  const circuit::Shape& out = spec.outputs[0].shape;
  if (a.output.sum_axis1 && out.size() != 2)
    invalid("summing over axis 1 needs a (rows, columns) output per sample, got " +
            circuit::shape_to_string(out));
  const std::size_t columns = a.output_columns();
  if (columns == 0 || columns > kMaxArtifactColumns)
    invalid("the output has " + std::to_string(columns) + " columns (1 to 2^20 supported)");
  require_size(a.output.scale.size(), columns, false, "the output scale");
  require_size(a.output.zero.size(), columns, false, "the output zero point");
  require_finite(a.output.scale, "the output scale");
  require_finite(a.output.zero, "the output zero point");
  for (double s : a.output.scale)
    if (!(s > 0)) invalid("an output scale is not positive");
  validate_graph(a.output.post_processing, columns);
  validate_transform(a.transform, columns);
}

namespace {

template <class Model>
const circuit::CompiledCircuit& compiled_of(const Model& model) {
  if (!model.is_compiled())
    throw InvalidArgument("the model is not compiled: call compile(X) before saving its artifacts");
  return model.compiled_circuit();
}

ClientArtifact finish(ClientArtifact a) {
  validate_client_artifact(a);
  return a;
}

}  // namespace

ClientArtifact make_client_artifact(const ml::QuantizedLinear& model, ModelTransform transform) {
  const auto& c = compiled_of(model);
  ClientArtifact a;
  a.kind = ModelKind::Linear;
  a.specification = c.client_specification();
  a.input.n_features = model.n_features();
  a.input.quantizers = model.input_quantizers();
  a.output.scale = {model.output_scale()};
  a.output.zero = {0.0};
  a.transform = std::move(transform);
  return finish(std::move(a));
}

ClientArtifact make_client_artifact(const ml::QuantizedTreeEnsemble& model,
                                    ModelTransform transform) {
  const auto& c = compiled_of(model);
  ClientArtifact a;
  a.kind = ModelKind::TreeEnsemble;
  a.specification = c.client_specification();
  a.input.n_features = model.n_features();
  a.input.quantizers = model.input_quantizers();
  a.input.encoding = model.statistics().input_encoding;
  a.input.encoding_bits =
      a.input.encoding == ml::TreeInputEncoding::Value ? 0 : model.options().n_bits;
  a.output.sum_axis1 = true;
  const double trees = static_cast<double>(model.n_trees());
  for (const ml::UniformQuantizer& q : model.leaf_quantizers()) {
    a.output.scale.push_back(q.scale());
    a.output.zero.push_back(trees * static_cast<double>(q.zero_point()));
  }
  a.transform = std::move(transform);
  return finish(std::move(a));
}

ClientArtifact make_client_artifact(const ml::QuantizedNetwork& model, ModelTransform transform,
                                    std::vector<double> standardization_offset,
                                    std::vector<double> standardization_scale) {
  const auto& c = compiled_of(model);
  ClientArtifact a;
  a.kind = ModelKind::Network;
  a.specification = c.client_specification();
  a.input.n_features = model.input_size();
  a.input.offset = std::move(standardization_offset);
  a.input.scale = std::move(standardization_scale);
  a.input.quantizers = {model.input_quantizer()};
  const ml::NetworkOutput& out = model.output();
  a.output.scale = out.scales.empty() ? std::vector<double>{out.scale} : out.scales;
  a.output.zero = {static_cast<double>(out.zero_point)};
  a.output.post_processing = out.post_processing;
  a.transform = std::move(transform);
  return finish(std::move(a));
}

}  // namespace torusml::deploy
