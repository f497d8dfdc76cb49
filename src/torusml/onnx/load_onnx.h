// Reading ONNX models (.onnx files, opsets 7 to 17, as torch.onnx.export writes them) into the
// float graph of graph.h, without Python.
//
// The loader parses the ModelProto with ONNX's generated protobuf classes, validates it with
// ONNX's checker (after ONNX shape inference on a copy whose dynamic dimensions are fixed), fixes
// the dynamic input dimensions (LoadOptions), normalizes the nodes (graph.h), folds every node
// whose operands are all constant (Constant, Shape, ConstantOfShape and the Gather / Unsqueeze /
// Concat / Cast / Reshape chains exporters write for shapes; QuantizeLinear and DequantizeLinear
// are kept), and computes the static type and shape of every value by running each node once on
// zeros (cross-checked against ONNX's shape inference).
//
// Errors: bytes that are no ONNX model (truncated, corrupt, rejected by the checker) ->
// SerializationError "not a valid ONNX model: ..."; an operator TorusML does not implement ->
// UnsupportedOperator naming the operator and the node; an unsupported opset, a dynamic dimension
// that cannot be fixed, a shape operand computed at run time, external data, a value no node
// defines, a tensor over max_tensor_elements -> InvalidArgument saying what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>

#include "torusml/onnx/graph.h"

namespace torusml::onnx {

/// Opsets of the default domain the loader accepts (those ONNX 1.12 validates).
inline constexpr std::int64_t kMinOpset = 7;
inline constexpr std::int64_t kMaxOpset = 17;

struct LoadOptions {
  /// Replaces a dynamic (symbolic or unknown) leading dimension of every graph input. >= 1.
  std::int64_t batch_size = 1;
  /// Explicit static shapes of some inputs (by name; same rank as declared), instead of the
  /// declared ones. Needed for dynamic dimensions other than the leading one.
  std::map<std::string, Shape> input_shapes;
  /// The largest tensor (in elements) the loader lets any value of the graph have. >= 1.
  std::int64_t max_tensor_elements = std::int64_t{1} << 28;
};

/// Reads and converts the file's model. Throws InvalidArgument if the file cannot be read, and
/// what load_onnx_model(bytes) throws.
Graph load_onnx_model(const std::filesystem::path& path, const LoadOptions& options = {});
/// Converts a serialized ModelProto (see the header comment for what it throws; never crashes on
/// arbitrary bytes).
Graph load_onnx_model(std::span<const std::uint8_t> bytes, const LoadOptions& options = {});

}  // namespace torusml::onnx
