// The client's clear steps around encryption, driven by a ClientArtifact (client_artifact.h):
// float features -> the program input it encrypts, and decrypted integers -> predictions.
#pragma once

#include <string>
#include <vector>

#include "torusml/circuit/ir/tensor.h"
#include "torusml/deploy/client_artifact.h"
#include "torusml/ml/matrix.h"

namespace torusml::deploy {

/// What a model predicts for a batch.
struct Prediction {
  /// Regression and Raw: the predictions; Classification: the decision values (after the value
  /// affine), (rows, columns).
  ml::Matrix values;
  /// Classification with a probability method: per target, (rows, n_classes), as the Python
  /// estimators' predict_proba gives them.
  std::vector<ml::Matrix> probabilities;
  /// Classification: per target, one label per row (the class labels as text).
  std::vector<std::vector<std::string>> labels;
};

/// Standardizes, quantizes and encodes x (rows, n_features): the program input, (rows, width).
/// Throws InvalidArgument for a wrong feature count, no rows, NaN or infinite values.
circuit::Tensor prepare_input(const ClientArtifact& artifact, const ml::Matrix& x);

/// The float values (rows, output_columns()) of decrypted outputs (rows, *output shape): summed
/// over axis 1 if asked, dequantized, through the post-processing graph. InvalidArgument for
/// another shape.
ml::Matrix dequantize_output(const ClientArtifact& artifact, const circuit::Tensor& q);

/// The model transform of dequantized values (rows, output_columns()): values, probabilities and
/// labels. InvalidArgument for another column count or NaN values.
Prediction postprocess(const ClientArtifact& artifact, const ml::Matrix& y);

}  // namespace torusml::deploy
