#include "torusml/deploy/client_pipeline.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "torusml/common/error.h"
#include "torusml/ml/postprocessing.h"
#include "torusml/ml/tree_lowering.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::deploy {

namespace {

double at_or_single(const std::vector<double>& v, std::size_t k, double fallback) {
  if (v.empty()) return fallback;
  return v.size() == 1 ? v[0] : v[k];
}

ml::Matrix block(const ml::Matrix& m, std::size_t start, std::size_t width) {
  ml::Matrix out(m.rows(), width);
  for (std::size_t r = 0; r < m.rows(); ++r)
    for (std::size_t c = 0; c < width; ++c) out(r, c) = m(r, start + c);
  return out;
}

// [1 - p, p] for a one-column p.
ml::Matrix two_classes(const ml::Matrix& p) {
  ml::Matrix out(p.rows(), 2);
  for (std::size_t r = 0; r < p.rows(); ++r) {
    out(r, 0) = 1.0 - p(r, 0);
    out(r, 1) = p(r, 0);
  }
  return out;
}

template <class Fn>
ml::Matrix map(ml::Matrix m, Fn fn) {
  for (double& v : m.values()) v = fn(v);
  return m;
}

ml::Matrix probabilities_of(const ml::Matrix& v, ProbabilityMethod method) {
  const bool one = v.cols() == 1;
  switch (method) {
    case ProbabilityMethod::Sigmoid: {
      const ml::Matrix p = ml::sigmoid(v);
      return one ? two_classes(p) : ml::normalize_rows(p);
    }
    case ProbabilityMethod::Softmax: {
      if (!one) return ml::softmax(v);
      ml::Matrix both(v.rows(), 2);
      for (std::size_t r = 0; r < v.rows(); ++r) {
        both(r, 0) = -v(r, 0);
        both(r, 1) = v(r, 0);
      }
      return ml::softmax(both);
    }
    case ProbabilityMethod::Frequency:
      if (one) return two_classes(map(v, [](double x) { return std::clamp(x, 0.0, 1.0); }));
      return ml::normalize_rows(map(v, [](double x) { return std::max(x, 0.0); }));
    case ProbabilityMethod::ModifiedHuber: {
      const ml::Matrix p = map(v, [](double x) { return (std::clamp(x, -1.0, 1.0) + 1.0) / 2.0; });
      return one ? two_classes(p) : ml::normalize_rows(p);
    }
    case ProbabilityMethod::None:
      break;
  }
  throw InternalError("probabilities_of: no probability method");
}

}  // namespace

circuit::Tensor prepare_input(const ClientArtifact& a, const ml::Matrix& x) {
  const InputTransform& in = a.input;
  if (x.rows() == 0) throw InvalidArgument("the input has no rows: pass at least one sample");
  if (x.cols() != in.n_features) {
    std::ostringstream os;
    os << "the input has " << x.cols() << " features per sample, but the model expects "
       << in.n_features << "; pass data with the columns the model was trained on";
    throw InvalidArgument(os.str());
  }
  std::vector<std::int64_t> q(x.size());
  for (std::size_t r = 0; r < x.rows(); ++r)
    for (std::size_t j = 0; j < in.n_features; ++j) {
      double v = x(r, j);
      if (!std::isfinite(v))
        throw InvalidArgument("the input holds NaN or infinite values: clean or impute them first");
      if (!in.offset.empty()) v = (v - in.offset[j]) / in.scale[j];
      const ml::UniformQuantizer& quantizer =
          in.quantizers.size() == 1 ? in.quantizers[0] : in.quantizers[j];
      q[r * in.n_features + j] = quantizer.quantize(v);
    }
  circuit::Tensor t({static_cast<std::int64_t>(x.rows()), static_cast<std::int64_t>(in.n_features)},
                    std::move(q));
  if (in.encoding == ml::TreeInputEncoding::Value) return t;
  return ml::encode_tree_inputs(t, in.encoding_bits, in.encoding);
}

ml::Matrix dequantize_output(const ClientArtifact& a, const circuit::Tensor& q) {
  const circuit::Shape& sample = a.specification.outputs.at(0).shape;
  if (q.rank() != sample.size() + 1 || q.shape()[0] == 0 ||
      !std::equal(sample.begin(), sample.end(), q.shape().begin() + 1))
    throw InvalidArgument("the decrypted outputs have shape " +
                          circuit::shape_to_string(q.shape()) + ", expected (rows, " +
                          circuit::shape_to_string(sample) +
                          "): decrypt the results of this model's server");
  const auto rows = static_cast<std::size_t>(q.shape()[0]);
  const std::size_t columns = a.output_columns();
  const std::size_t parts = a.output.sum_axis1 ? static_cast<std::size_t>(sample[0]) : 1;
  ml::Matrix y(rows, columns);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < columns; ++k) {
      std::int64_t sum = 0;
      for (std::size_t p = 0; p < parts; ++p) sum += q[(r * parts + p) * columns + k];
      y(r, k) = at_or_single(a.output.scale, k, 1.0) *
                (static_cast<double>(sum) - at_or_single(a.output.zero, k, 0.0));
    }
  if (!a.output.has_post_processing()) return y;
  const onnx::Graph& g = a.output.post_processing;
  const onnx::Shape& in_shape = g.inputs.at(0).info.shape;
  for (std::size_t r = 0; r < rows; ++r) {
    const auto row = y.row(r);
    const onnx::FloatTensor sample_in(in_shape, std::vector<double>(row.begin(), row.end()));
    const onnx::FloatTensor out = onnx::evaluate_graph(g, std::span(&sample_in, 1)).at(0);
    std::copy(out.values().begin(), out.values().end(), row.begin());
  }
  return y;
}

Prediction postprocess(const ClientArtifact& a, const ml::Matrix& y) {
  const std::size_t columns = a.output_columns();
  if (y.cols() != columns)
    throw InvalidArgument("postprocess: expected " + std::to_string(columns) + " columns, got " +
                          std::to_string(y.cols()));
  const ModelTransform& t = a.transform;
  Prediction out;
  out.values = y;
  if (!t.value_scale.empty() || !t.value_offset.empty())
    for (std::size_t r = 0; r < y.rows(); ++r)
      for (std::size_t k = 0; k < columns; ++k)
        out.values(r, k) = out.values(r, k) * at_or_single(t.value_scale, k, 1.0) +
                           at_or_single(t.value_offset, k, 0.0);
  if (t.task == Task::Regression) {
    out.values = ml::apply_inverse_link(out.values, t.link);
    return out;
  }
  if (t.task != Task::Classification) return out;
  for (const ClassTarget& c : t.targets) {
    const ml::Matrix v = block(out.values, c.start, c.width);
    ml::Matrix p;
    if (c.classes.size() == 1)
      p = ml::Matrix::full(v.rows(), 1, 1.0);
    else if (t.probability != ProbabilityMethod::None)
      p = probabilities_of(v, t.probability);
    std::vector<std::int64_t> index(v.rows(), 0);
    if (c.classes.size() > 1) {
      if (t.label_rule == LabelRule::Probabilities) {
        if (p.cols() == 2)
          for (std::size_t r = 0; r < v.rows(); ++r) index[r] = p(r, 1) > 0.5 ? 1 : 0;
        else
          index = ml::argmax(p);
      } else if (v.cols() == 1) {
        for (std::size_t r = 0; r < v.rows(); ++r) index[r] = v(r, 0) > 0 ? 1 : 0;
      } else {
        index = ml::argmax(v);
      }
    }
    std::vector<std::string> labels(v.rows());
    for (std::size_t r = 0; r < v.rows(); ++r)
      labels[r] = c.classes[static_cast<std::size_t>(index[r])];
    if (t.probability != ProbabilityMethod::None) out.probabilities.push_back(std::move(p));
    out.labels.push_back(std::move(labels));
  }
  return out;
}

}  // namespace torusml::deploy
