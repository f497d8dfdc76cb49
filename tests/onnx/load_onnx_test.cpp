// load_onnx_model: parsing, validation and its errors, dynamic shapes, opsets, constant folding
// of the shape subgraphs exporters write, QDQ models, files.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

using namespace testing;

std::span<const std::uint8_t> as_span(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// x (batch, 3) -> Gemm(W, b) -> Relu -> y
ModelBuilder small_mlp() {
  ModelBuilder b;
  b.input("x", {kDynamic, 3});
  b.initializer("W", T({2, 3}, {1, 0, -1, 0.5, 0.5, 0.5}));
  b.initializer("b", T({2}, {0.25, -4}));
  auto& gemm = b.node("Gemm", {"x", "W", "b"}, {"h"}, "fc");
  set_int(gemm, "transB", 1);
  b.node("Relu", {"h"}, {"y"}, "act");
  b.output("y", ElementType::Float, Shape{kDynamic, 2});
  return b;
}

template <class E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception of the expected type";
  return "";
}

TEST(LoadOnnx, ReadsASmallModel) {
  const Graph g = small_mlp().load();
  EXPECT_EQ(g.opset, 17);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].info.shape, (Shape{1, 3}));
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op_type, "Gemm");
  EXPECT_EQ(g.nodes[0].name, "fc");
  EXPECT_EQ(g.nodes[0].int_attribute("transB", 0), 1);
  EXPECT_EQ(g.value_info("h").shape, (Shape{1, 2}));
  EXPECT_EQ(g.outputs.at(0).info.shape, (Shape{1, 2}));
  ASSERT_NE(g.find_initializer("W"), nullptr);
  const auto y = evaluate_graph(g, std::vector{T({1, 3}, {1, 2, 3})});
  expect_near(y.at(0), T({1, 2}, {0, 0}));
  const auto y2 = evaluate_graph(g, std::vector{T({1, 3}, {4, 2, 1})});
  expect_near(y2.at(0), T({1, 2}, {3.25, 0}));
}

TEST(LoadOnnx, FixesTheBatchDimension) {
  LoadOptions options;
  options.batch_size = 4;
  const Graph g = small_mlp().load(options);
  EXPECT_EQ(g.inputs[0].info.shape, (Shape{4, 3}));
  EXPECT_EQ(g.outputs[0].info.shape, (Shape{4, 2}));
  const std::string msg = message_of<InvalidArgument>([&] {
    evaluate_graph(g, std::vector{FloatTensor({1, 3})});
  });
  EXPECT_NE(msg.find("[4, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("batch_size"), std::string::npos) << msg;
  options.batch_size = 0;
  EXPECT_THROW(small_mlp().load(options), InvalidArgument);
}

TEST(LoadOnnx, DynamicInnerDimensionNeedsAnExplicitShape) {
  ModelBuilder b;
  auto* in = b.model.mutable_graph()->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(1);
  tt->mutable_shape()->add_dim()->set_dim_value(1);
  tt->mutable_shape()->add_dim()->set_dim_param("features");
  b.node("Relu", {"x"}, {"y"}, "act");
  b.output("y");
  const std::string msg = message_of<InvalidArgument>([&] { b.load(); });
  EXPECT_NE(msg.find("'features'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("input_shapes"), std::string::npos) << msg;
  LoadOptions options;
  options.input_shapes["x"] = {1, 5};
  const Graph g = b.load(options);
  EXPECT_EQ(g.value_info("y").shape, (Shape{1, 5}));
  options.input_shapes["x"] = {1, 5, 1};
  EXPECT_THROW(b.load(options), InvalidArgument);
  options.input_shapes = {{"nope", {1}}};
  EXPECT_THROW(b.load(options), InvalidArgument);
}

TEST(LoadOnnx, CorruptAndTruncatedBytesAreSerializationErrors) {
  const std::string bytes = small_mlp().bytes();
  EXPECT_NO_THROW(load_onnx_model(as_span(bytes)));
  const std::string empty;
  EXPECT_NE(message_of<SerializationError>([&] {
              load_onnx_model(as_span(empty));
            }).find("not a valid ONNX model"),
            std::string::npos);
  // Every truncation fails with a typed error, never a crash; cuts inside a field are
  // SerializationErrors.
  std::size_t serialization_errors = 0;
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    try {
      load_onnx_model(as_span(bytes.substr(0, n)));
      ADD_FAILURE() << "a truncation to " << n << " bytes loaded";
    } catch (const SerializationError& e) {
      ++serialization_errors;
      EXPECT_NE(std::string(e.what()).find("not a valid ONNX model"), std::string::npos);
    } catch (const Error&) {
    }
  }
  EXPECT_GT(serialization_errors, bytes.size() / 2);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string noise(1 + rng() % 200, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    EXPECT_THROW(load_onnx_model(as_span(noise)), Error);
    std::string flipped = bytes;
    flipped[rng() % flipped.size()] ^= static_cast<char>(1 + rng() % 255);
    try {
      load_onnx_model(as_span(flipped));
    } catch (const Error&) {
    }
  }
}

TEST(LoadOnnx, UnsupportedOperatorNamesTheOperatorAndTheNode) {
  ModelBuilder b;
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"h"}, "act");
  b.node("LpNormalization", {"h"}, {"y"}, "classifier_norm");
  b.output("y");
  const std::string msg = message_of<UnsupportedOperator>([&] { b.load(); });
  EXPECT_NE(msg.find("LpNormalization"), std::string::npos) << msg;
  EXPECT_NE(msg.find("classifier_norm"), std::string::npos) << msg;

  ModelBuilder custom;
  custom.input("x", {1});
  auto* id = custom.model.add_opset_import();
  id->set_domain("my.domain");
  id->set_version(1);
  custom.node("Relu", {"x"}, {"y"}, "mine").set_domain("my.domain");
  custom.output("y");
  const std::string msg2 = message_of<UnsupportedOperator>([&] { custom.load(); });
  EXPECT_NE(msg2.find("my.domain"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("mine"), std::string::npos) << msg2;
}

TEST(LoadOnnx, MissingInitializerIsNamed) {
  ModelBuilder b;
  b.input("x", {1, 3});
  b.node("MatMul", {"x", "weights"}, {"y"}, "mm");
  b.output("y");
  const std::string msg = message_of<InvalidArgument>([&] { b.load(); });
  EXPECT_NE(msg.find("'weights'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mm"), std::string::npos) << msg;
}

TEST(LoadOnnx, CheckerRejectsMalformedModels) {
  ModelBuilder b;
  b.input("x", {1, 3});
  set_int(b.node("Relu", {"x"}, {"y"}, "act"), "no_such_attribute", 1);
  b.output("y");
  const std::string msg = message_of<SerializationError>([&] { b.load(); });
  EXPECT_NE(msg.find("not a valid ONNX model"), std::string::npos) << msg;
}

TEST(LoadOnnx, OpsetOutOfRange) {
  ModelBuilder b(6);
  b.input("x", {1});
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  const std::string msg = message_of<InvalidArgument>([&] { b.load(); });
  EXPECT_NE(msg.find("opset 6"), std::string::npos) << msg;
}

TEST(LoadOnnx, FoldsTorchStyleFlatten) {
  // torch.flatten(x, 1) as older exporters write it: Shape -> Gather -> Unsqueeze -> Concat ->
  // Reshape, with a dynamic batch.
  ModelBuilder b(11);
  b.input("x", {kDynamic, 2, 3});
  b.node("Shape", {"x"}, {"s"}, "shape");
  b.initializer("zero", T({}, {0}), ElementType::Int64);
  b.node("Gather", {"s", "zero"}, {"n"}, "gather");
  set_ints(b.node("Unsqueeze", {"n"}, {"n1"}, "unsq"), "axes", {0});
  b.initializer("minus_one", T({1}, {-1}), ElementType::Int64);
  set_int(b.node("Concat", {"n1", "minus_one"}, {"shape2"}, "concat"), "axis", 0);
  b.node("Reshape", {"x", "shape2"}, {"y"}, "reshape");
  b.output("y");
  LoadOptions options;
  options.batch_size = 2;
  const Graph g = b.load(options);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Reshape");
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<std::string>{"x"}));
  EXPECT_EQ(g.nodes[0].ints_attribute("shape"), (std::vector<std::int64_t>{2, -1}));
  EXPECT_EQ(g.value_info("y").shape, (Shape{2, 6}));
  EXPECT_TRUE(g.initializers.empty());  // the folded shape values are no longer used
  FloatTensor x({2, 2, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  expect_near(evaluate_graph(g, std::vector{x}).at(0), x.reshaped({2, 6}));
}

TEST(LoadOnnx, ConstantOutputsAndTypes) {
  ModelBuilder b;
  b.input("x", {3, 4});
  b.node("Shape", {"x"}, {"s"}, "shape");
  b.output("s", ElementType::Int64);
  const Graph g = b.load();
  EXPECT_TRUE(g.nodes.empty());
  EXPECT_EQ(g.value_info("s").type, ElementType::Int64);
  expect_near(evaluate_graph(g, std::vector{FloatTensor({3, 4})}).at(0), T({2}, {3, 4}));
}

TEST(LoadOnnx, ShapeOperandComputedAtRunTimeIsRejected) {
  ModelBuilder b;
  b.input("x", {2, 3});
  b.input("shape", {2}, ElementType::Int64);
  b.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
  b.output("y");
  const std::string msg = message_of<InvalidArgument>([&] { b.load(); });
  EXPECT_NE(msg.find("reshape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("static shapes"), std::string::npos) << msg;
}

TEST(LoadOnnx, InitializersListedAsInputsAreConstants) {
  ModelBuilder b = small_mlp();
  auto* in = b.model.mutable_graph()->add_input();
  in->set_name("W");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  for (const int d : {2, 3})
    in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  const Graph g = b.load();
  EXPECT_EQ(g.inputs.size(), 1u);
}

TEST(LoadOnnx, TensorLimit) {
  LoadOptions options;
  options.max_tensor_elements = 4;
  const std::string msg = message_of<InvalidArgument>([&] { small_mlp().load(options); });
  EXPECT_NE(msg.find("max_tensor_elements"), std::string::npos) << msg;
}

TEST(LoadOnnx, QdqModelKeepsItsQuantizationParameters) {
  ModelBuilder b;
  b.input("x", {1, 2});
  b.initializer("x_scale", T({}, {0.5}));
  b.initializer("x_zp", T({}, {0}), ElementType::Int8);
  b.node("QuantizeLinear", {"x", "x_scale", "x_zp"}, {"xq"}, "q");
  b.node("DequantizeLinear", {"xq", "x_scale", "x_zp"}, {"xd"}, "dq");
  b.initializer("w_q", T({2, 2}, {2, -4, 6, 8}), ElementType::Int8);
  b.initializer("w_scale", T({2}, {0.25, 0.5}));
  b.initializer("w_zp", T({2}, {0, 0}), ElementType::Int8);
  set_int(b.node("DequantizeLinear", {"w_q", "w_scale", "w_zp"}, {"w"}, "dq_w"), "axis", 1);
  b.node("MatMul", {"xd", "w"}, {"y"}, "mm");
  b.output("y");
  const Graph g = b.load();
  ASSERT_EQ(g.nodes.size(), 4u);  // QDQ nodes are not folded
  const QuantizationParameters p = quantization_parameters(g, g.nodes[0]);
  EXPECT_EQ(p.scale, T({}, {0.5}));
  EXPECT_EQ(p.zero_point_type, ElementType::Int8);
  EXPECT_FALSE(p.axis.has_value());
  const QuantizationParameters pw = quantization_parameters(g, g.nodes[2]);
  EXPECT_EQ(pw.axis, std::optional<std::int64_t>(1));
  EXPECT_EQ(pw.scale, T({2}, {0.25, 0.5}));
  EXPECT_EQ(g.value_info("xq").type, ElementType::Int8);
  EXPECT_THROW(quantization_parameters(g, g.nodes[3]), InvalidArgument);
  // x = [1.3, -0.6] -> q = [3, -1] -> [1.5, -0.5]; w = [[0.5, -2], [1.5, 4]].
  expect_near(evaluate_graph(g, std::vector{T({1, 2}, {1.3, -0.6})}).at(0),
              T({1, 2}, {0.75 - 0.75, -3 - 2}));
}

// Per-channel weight parameters (axis 0 of a Conv kernel, written negatively, int8 zero points):
// the axis normalized, one scale and zero point per channel; parameters that do not fit the axis
// are rejected naming the node.
TEST(LoadOnnx, PerChannelQdqWeights) {
  ModelBuilder b(13);
  b.input("x", {1, 1, 3, 3});
  b.initializer("w_q", T({2, 1, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -4}), ElementType::Int8);
  b.initializer("w_scale", T({2}, {0.5, 0.25}));
  b.initializer("w_zp", T({2}, {1, -1}), ElementType::Int8);
  set_int(b.node("DequantizeLinear", {"w_q", "w_scale", "w_zp"}, {"w"}, "dq_w"), "axis", -4);
  set_ints(b.node("Conv", {"x", "w"}, {"y"}, "conv"), "kernel_shape", {2, 2});
  b.output("y");
  Graph g = b.load();
  ASSERT_EQ(g.nodes.size(), 2u);
  const QuantizationParameters p = quantization_parameters(g, g.nodes[0]);
  EXPECT_EQ(p.axis, std::optional<std::int64_t>(0));
  EXPECT_EQ(p.scale, T({2}, {0.5, 0.25}));
  EXPECT_EQ(p.zero_point, T({2}, {1, -1}));
  EXPECT_EQ(p.zero_point_type, ElementType::Int8);
  // (q - zp) * scale: channel 0 [0, 0.5, 1, 1.5], channel 1 [0, -0.25, -0.5, -0.75]; x all ones.
  expect_near(
      evaluate_graph(g, std::vector{FloatTensor({1, 1, 3, 3}, std::vector<double>(9, 1.0))}).at(0),
      T({1, 2, 2, 2}, {3, 3, 3, 3, -1.5, -1.5, -1.5, -1.5}));
  // A scale of the wrong length for the axis, a zero point of another length.
  g.initializers["w_scale"] = T({3}, {0.5, 0.25, 1.0});
  std::string msg = message_of<InvalidArgument>([&] { quantization_parameters(g, g.nodes[0]); });
  EXPECT_NE(msg.find("dq_w"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 values for axis 0 of size 2"), std::string::npos) << msg;
  g.initializers["w_scale"] = T({2}, {0.5, 0.25});
  g.initializers["w_zp"] = T({1}, {0});
  msg = message_of<InvalidArgument>([&] { quantization_parameters(g, g.nodes[0]); });
  EXPECT_NE(msg.find("zero point has 1 values"), std::string::npos) << msg;
}

TEST(LoadOnnx, ReadsFiles) {
  const auto path = std::filesystem::temp_directory_path() / "torusml_onnx_test_model.onnx";
  {
    std::ofstream out(path, std::ios::binary);
    out << small_mlp().bytes();
  }
  const Graph g = load_onnx_model(path);
  EXPECT_EQ(g.nodes.size(), 2u);
  std::filesystem::remove(path);
  EXPECT_THROW(load_onnx_model(path), InvalidArgument);
}

TEST(LoadOnnx, NamesUnnamedNodes) {
  ModelBuilder b;
  b.input("x", {1});
  b.node("Relu", {"x"}, {"h"});
  b.node("Neg", {"h"}, {"y"});
  b.output("y");
  const Graph g = b.load();
  EXPECT_EQ(g.nodes[0].name, "Relu_0");
  EXPECT_EQ(g.nodes[1].name, "Neg_1");
}

}  // namespace
}  // namespace torusml::onnx
