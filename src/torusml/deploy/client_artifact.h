// A model's client artifact: everything a client needs, besides the circuit's client
// specification (embedded), to go from float features to the integers it encrypts and from the
// decrypted integers to the final predictions, without the model itself and without Python.
//
//   X (rows, n_features) floats
//     -> standardize   x' = (x - offset_j) / scale_j                   (networks' inputs; optional)
//     -> quantize      q = clip(round(x' / s_j) + z_j)                  (per-feature quantizers)
//     -> encode        the tree ensembles' Value / Digits / Thermometer encoding (tree_lowering.h)
//     == the program input the client encrypts, (rows, *specification input shape)
//   decrypted output (rows, *output shape) integers
//     -> sum rows      over axis 1 (tree ensembles: per-tree values -> their sum)
//     -> dequantize    y_k = scale_k * (q_k - zero_k)                  (per output column)
//     -> graph         the network output's pending univariate operations (onnx::Graph)
//     -> affine        v_k = y_k * value_scale_k + value_offset_k      (forest average, base
//                      score, a network regressor's target standardization undone)
//     -> task          Raw / Regression (identity or exp inverse link) / Classification
//                      (probabilities by sigmoid, softmax, frequencies or modified Huber, and
//                      class labels)
// make_client_artifact() builds one from each compiled ml model; the task part (what the Python
// estimators do after decryption) is given by the caller. Serialization: client_artifact_io.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/ml/nn/quantized_network.h"
#include "torusml/ml/postprocessing.h"
#include "torusml/ml/quantized_linear.h"
#include "torusml/ml/quantized_trees.h"
#include "torusml/ml/quantizer.h"
#include "torusml/onnx/graph.h"

namespace torusml::deploy {

/// The compiled model family an artifact comes from (values are part of the format).
enum class ModelKind : std::uint8_t { Linear = 1, TreeEnsemble = 2, Network = 3 };
/// "linear", "tree_ensemble", "network".
const char* to_string(ModelKind kind);

/// Largest feature count and output column count an artifact may declare (sanity bounds).
inline constexpr std::size_t kMaxArtifactFeatures = std::size_t{1} << 24;
inline constexpr std::size_t kMaxArtifactColumns = std::size_t{1} << 20;
inline constexpr std::size_t kMaxArtifactClasses = std::size_t{1} << 16;

/// Float features -> program input.
struct InputTransform {
  std::size_t n_features = 0;  // float values per sample
  /// Standardization x' = (x - offset_j) / scale_j before quantizing: both empty (none) or
  /// n_features finite values each (scale non-zero).
  std::vector<double> offset, scale;
  /// One quantizer per feature, or one for every feature.
  std::vector<ml::UniformQuantizer> quantizers;
  /// The tree ensembles' client-side encoding of the quantized values (Value: none; never Auto);
  /// Digits and Thermometer need every quantizer to be unsigned with encoding_bits bits.
  ml::TreeInputEncoding encoding = ml::TreeInputEncoding::Value;
  unsigned encoding_bits = 0;  // the quantizers' n_bits with Digits or Thermometer
  bool operator==(const InputTransform&) const = default;
};

/// Decrypted program output -> float values (rows, columns).
struct OutputDequantization {
  /// Sum the output over axis 1 first (output (rows, R, columns)); else the columns are every
  /// element of one sample's output.
  bool sum_axis1 = false;
  /// y_k = scale_k * (q_k - zero_k): one entry per column, or one for all (finite; scale > 0).
  std::vector<double> scale, zero;
  /// Pending univariate operations of a network output (one input of the output's shape, one
  /// output of the same shape; elementwise operators, Softmax and LogSoftmax); no node if none.
  onnx::Graph post_processing;
  bool has_post_processing() const { return !post_processing.nodes.empty(); }
  bool operator==(const OutputDequantization&) const = default;
};

enum class Task : std::uint8_t { Raw = 1, Regression = 2, Classification = 3 };
/// How a classifier's probabilities come from its values (one target of `width` columns):
///   Sigmoid       p = sigmoid(v); width 1: [1 - p, p]; else normalize_rows(p) (one-vs-rest)
///   Softmax       softmax(v); width 1: softmax([-v, v])
///   Frequency     width 1: p = clip(v, 0, 1), [1 - p, p]; else normalize_rows(max(v, 0))
///   ModifiedHuber p = (clip(v, -1, 1) + 1) / 2; width 1: [1 - p, p]; else normalize_rows(p)
///   None          no probabilities (e.g. LinearSVC): the values are the decision values
enum class ProbabilityMethod : std::uint8_t {
  None = 0,
  Sigmoid = 1,
  Softmax = 2,
  Frequency = 3,
  ModifiedHuber = 4
};
/// How labels are chosen: from the values (width 1: v > 0, else argmax v) or from the
/// probabilities (2 classes: p_1 > 0.5, else argmax p). One class: always that class.
enum class LabelRule : std::uint8_t { DecisionValues = 1, Probabilities = 2 };

/// One classification target: columns [start, start + width) of the values and its classes
/// (labels as text; one column per class, or one column for two classes or one).
struct ClassTarget {
  std::size_t start = 0, width = 1;
  std::vector<std::string> classes;
  bool operator==(const ClassTarget&) const = default;
};

/// Float values -> predictions: what the Python estimators do after decryption.
struct ModelTransform {
  /// v_k = y_k * value_scale_k + value_offset_k: each empty (none), one value or one per column.
  std::vector<double> value_scale, value_offset;
  Task task = Task::Raw;
  ml::Link link = ml::Link::Identity;  // Regression: the inverse link applied to the values
  ProbabilityMethod probability = ProbabilityMethod::None;  // Classification
  LabelRule label_rule = LabelRule::DecisionValues;         // Classification
  std::vector<ClassTarget> targets;                         // Classification: at least one
  /// Regression and Raw: the caller's output is 1-D (rows,) when it has one column.
  bool output_is_1d = false;
  bool operator==(const ModelTransform&) const = default;
};

struct ClientArtifact {
  ModelKind kind = ModelKind::Linear;
  circuit::ClientSpecification specification;
  InputTransform input;
  OutputDequantization output;
  ModelTransform transform;
  /// Float columns after dequantization, per sample (from the specification's output shape).
  std::size_t output_columns() const;
  bool operator==(const ClientArtifact& o) const;
};

/// Throws InvalidArgument naming the field unless the artifact is consistent: a valid
/// specification with one encrypted input and one output; the input transform's sizes, the
/// encoding and its width matching the specification's input shape; the dequantization's sizes
/// matching the output columns, finite scales > 0; a post-processing graph of the allowed
/// operators whose output has its input's shape; the transform's sizes, targets inside the
/// columns with 1..2^16 classes (one column per class, or one for one or two classes).
void validate_client_artifact(const ClientArtifact& artifact);

/// The artifact of a compiled model with the caller's transform (task, classes, ...). Throws
/// InvalidArgument if the model is not compiled ("call compile first") or the transform does not
/// fit the model (validate_client_artifact).
ClientArtifact make_client_artifact(const ml::QuantizedLinear& model, ModelTransform transform);
ClientArtifact make_client_artifact(const ml::QuantizedTreeEnsemble& model,
                                    ModelTransform transform);
/// `standardization`: InputTransform::offset and scale (both empty: none).
ClientArtifact make_client_artifact(const ml::QuantizedNetwork& model, ModelTransform transform,
                                    std::vector<double> standardization_offset = {},
                                    std::vector<double> standardization_scale = {});

}  // namespace torusml::deploy
