// Folding of inference-mode BatchNormalization nodes into the Conv or Gemm node that feeds them.
#pragma once

#include <cstddef>

#include "torusml/onnx/graph.h"

namespace torusml::onnx {

/// Rewrites every BatchNormalization whose input is the only use of a Conv's output (or of a
/// Gemm's, 2-D, channels on axis 1), with constant weights, bias and normalization parameters:
/// the Conv/Gemm gets the scaled weights and shifted bias (new initializers) and writes the
/// BatchNormalization's output; the BatchNormalization node is removed. Returns the number of
/// nodes folded. The graph computes the same function (up to rounding). Never throws for a
/// graph made by load_onnx_model; InvalidArgument for inconsistent parameter sizes.
std::size_t fold_batch_normalization(Graph& graph);

}  // namespace torusml::onnx
