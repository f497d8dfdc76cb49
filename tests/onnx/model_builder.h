// Test helper: small ONNX ModelProtos built through ONNX's generated protobuf classes, serialized
// and read back by load_onnx_model, and one-node models evaluated both with graph inputs (nodes
// kept) and with initializers (nodes folded at load time).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "torusml/onnx/evaluate_graph.h"
#include "torusml/onnx/graph.h"
#include "torusml/onnx/load_onnx.h"

namespace torusml::onnx::testing {

/// Leading dimension -1 in a declared shape: symbolic ("batch").
inline constexpr std::int64_t kDynamic = -1;

class ModelBuilder {
 public:
  explicit ModelBuilder(std::int64_t opset = 17);

  /// A graph input; kDynamic dimensions become the symbolic dimension "batch".
  ModelBuilder& input(const std::string& name, const Shape& shape,
                      ElementType type = ElementType::Float);
  /// A graph output (shape left to inference unless given).
  ModelBuilder& output(const std::string& name, ElementType type = ElementType::Float,
                       std::optional<Shape> shape = std::nullopt);
  ModelBuilder& initializer(const std::string& name, const FloatTensor& value,
                            ElementType type = ElementType::Float);
  ::onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name = "");

  std::string bytes() const;
  Graph load(const LoadOptions& options = {}) const;
  /// load() then evaluate_graph on the inputs (in input() order).
  std::vector<FloatTensor> run(const std::vector<FloatTensor>& inputs,
                               const LoadOptions& options = {}) const;

  ::onnx::ModelProto model;
};

void set_int(::onnx::NodeProto& n, const std::string& key, std::int64_t v);
void set_float(::onnx::NodeProto& n, const std::string& key, float v);
void set_string(::onnx::NodeProto& n, const std::string& key, const std::string& v);
void set_ints(::onnx::NodeProto& n, const std::string& key, const std::vector<std::int64_t>& v);
void set_floats(::onnx::NodeProto& n, const std::string& key, const std::vector<float>& v);
void set_tensor(::onnx::NodeProto& n, const std::string& key, const FloatTensor& v,
                ElementType type = ElementType::Float);

/// One input of a one-node model: a value, its type, and whether it is an initializer in both
/// runs of run_op (a constant operand, e.g. weights or shapes).
struct OpInput {
  FloatTensor value;
  ElementType type = ElementType::Float;
  bool constant = false;
  bool omitted = false;  // an omitted optional input ("")
};
inline OpInput constant(FloatTensor v, ElementType t = ElementType::Float) {
  return {std::move(v), t, true, false};
}
inline OpInput ints(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return {FloatTensor({n}, std::vector<double>(v.begin(), v.end())), ElementType::Int64, true,
          false};
}
inline OpInput omitted() {
  return {FloatTensor(), ElementType::Float, true, true};
}

/// Runs a one-node model of `op` (attributes set by `attributes`) twice: with the non-constant
/// inputs as graph inputs, and with every input an initializer (so that the loader folds the
/// node; QuantizeLinear and DequantizeLinear stay nodes). Expects both to agree (bitwise) and
/// returns the outputs. Float inputs are stored as float32 initializers in the folded run: use
/// values exact in float32.
std::vector<FloatTensor> run_op(const std::string& op, const std::vector<OpInput>& inputs,
                                const std::function<void(::onnx::NodeProto&)>& attributes = {},
                                std::int64_t opset = 17,
                                std::vector<ElementType> output_types = {ElementType::Float},
                                const std::string& domain = "");
/// run_op with one output.
FloatTensor run_op1(const std::string& op, const std::vector<OpInput>& inputs,
                    const std::function<void(::onnx::NodeProto&)>& attributes = {},
                    std::int64_t opset = 17, ElementType output_type = ElementType::Float);

/// A tensor from a shape and values (shorthand).
inline FloatTensor T(Shape shape, std::vector<double> values) {
  return FloatTensor(std::move(shape), std::move(values));
}

/// EXPECT that the tensors have the same shape and elements within tolerance.
void expect_near(const FloatTensor& actual, const FloatTensor& expected, double tolerance = 1e-12);

}  // namespace torusml::onnx::testing
