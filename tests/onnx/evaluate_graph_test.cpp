// evaluate_graph: multi-node graphs, the observer, input validation.
#include <gtest/gtest.h>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

using namespace testing;

// A small convolutional network: Conv -> Relu -> MaxPool -> Flatten -> Gemm, plus a second
// output taken from the middle.
ModelBuilder small_cnn() {
  ModelBuilder b;
  b.input("x", {kDynamic, 1, 4, 4});
  b.initializer("k", T({2, 1, 2, 2}, {1, 0, 0, -1, 0.5, 0.5, 0.5, 0.5}));
  b.initializer("kb", T({2}, {0, -1}));
  b.node("Conv", {"x", "k", "kb"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"r"}, "relu");
  set_ints(b.node("MaxPool", {"r"}, {"p"}, "pool"), "kernel_shape", {3, 3});
  b.node("Flatten", {"p"}, {"f"}, "flatten");
  b.initializer("w", T({2, 1}, {1, 2}));
  b.node("Gemm", {"f", "w"}, {"y"}, "fc");
  b.output("y").output("r");
  return b;
}

FloatTensor input_4x4(double offset) {
  FloatTensor x({1, 1, 4, 4});
  for (std::size_t i = 0; i < 16; ++i) x[i] = static_cast<double>((i * 7) % 16) - offset;
  return x;
}

TEST(EvaluateGraph, SmallCnnAgainstHandComputation) {
  const Graph g = small_cnn().load();
  const FloatTensor x = input_4x4(4);
  const auto out = evaluate_graph(g, std::vector{x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(out[1].shape(), (Shape{1, 2, 3, 3}));
  // Hand computation of the same network.
  double max0 = -1e300, max1 = -1e300;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const auto at = [&](int a, int b) { return x[static_cast<std::size_t>(a * 4 + b)]; };
      const double c0 = std::max(0.0, at(i, j) - at(i + 1, j + 1));
      const double c1 =
          std::max(0.0, 0.5 * (at(i, j) + at(i, j + 1) + at(i + 1, j) + at(i + 1, j + 1)) - 1);
      EXPECT_DOUBLE_EQ(out[1][static_cast<std::size_t>(i * 3 + j)], c0);
      EXPECT_DOUBLE_EQ(out[1][static_cast<std::size_t>(9 + i * 3 + j)], c1);
      max0 = std::max(max0, c0);
      max1 = std::max(max1, c1);
    }
  EXPECT_DOUBLE_EQ(out[0][0], max0 + 2 * max1);
}

TEST(EvaluateGraph, ObserverSeesEveryValueInOrder) {
  const Graph g = small_cnn().load();
  std::vector<std::string> names;
  std::vector<Shape> shapes;
  evaluate_graph(g, std::vector{input_4x4(0)}, [&](const std::string& name, const FloatTensor& v) {
    names.push_back(name);
    shapes.push_back(v.shape());
  });
  EXPECT_EQ(names, (std::vector<std::string>{"x", "c", "r", "p", "f", "y"}));
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(shapes[i], g.value_info(names[i]).shape);
}

TEST(EvaluateGraph, RejectsWrongInputs) {
  const Graph g = small_cnn().load();
  EXPECT_THROW(evaluate_graph(g, std::vector<FloatTensor>{}), InvalidArgument);
  EXPECT_THROW(evaluate_graph(g, std::vector{FloatTensor({1, 1, 4, 5})}), InvalidArgument);
  EXPECT_THROW(evaluate_graph(g, std::vector{FloatTensor({1, 1, 4, 4}), FloatTensor({1})}),
               InvalidArgument);
}

TEST(EvaluateGraph, BatchesEvaluateRowByRow) {
  LoadOptions options;
  options.batch_size = 3;
  const Graph g3 = small_cnn().load(options);
  const Graph g1 = small_cnn().load();
  FloatTensor batch({3, 1, 4, 4});
  for (std::size_t r = 0; r < 3; ++r) {
    const FloatTensor x = input_4x4(static_cast<double>(r) * 3);
    std::copy(x.data().begin(), x.data().end(), batch.data().begin() + static_cast<long>(r * 16));
  }
  const FloatTensor y3 = evaluate_graph(g3, std::vector{batch})[0];
  for (std::size_t r = 0; r < 3; ++r) {
    const FloatTensor y1 =
        evaluate_graph(g1, std::vector{input_4x4(static_cast<double>(r) * 3)})[0];
    EXPECT_DOUBLE_EQ(y3[r], y1[0]);
  }
}

TEST(EvaluateGraph, HandBuiltGraphWithUnknownOperator) {
  Graph g;
  g.inputs.push_back({"x", {ElementType::Float, {1}}});
  g.values["x"] = {ElementType::Float, {1}};
  Node n;
  n.op_type = "LpNormalization";
  n.name = "sm";
  n.inputs = {"x"};
  n.outputs = {"y"};
  g.nodes.push_back(n);
  g.outputs.push_back({"y", {ElementType::Float, {1}}});
  EXPECT_THROW(evaluate_graph(g, std::vector{FloatTensor({1})}), UnsupportedOperator);
}

TEST(EvaluateGraph, ElementwiseOperatorsAreTheElementByElementOnes) {
  for (const char* op : {"Relu", "Add", "Mul", "Where", "Clip", "Cast", "Max", "Greater", "Not",
                         "QuantizeLinear", "DequantizeLinear", "Sigmoid", "Erf"})
    EXPECT_TRUE(is_elementwise_operator(op)) << op;
  for (const char* op : {"Conv", "Gemm", "MatMul", "Reshape", "Softmax", "MaxPool", "ReduceSum",
                         "Transpose", "Concat", "NotAnOperator"})
    EXPECT_FALSE(is_elementwise_operator(op)) << op;
}

TEST(EvaluateGraph, SupportedOperatorsCoverTheList) {
  const auto ops = supported_operators();
  for (const char* op : {"Gemm",
                         "MatMul",
                         "Add",
                         "Sub",
                         "Mul",
                         "Div",
                         "Neg",
                         "Relu",
                         "LeakyRelu",
                         "PRelu",
                         "Elu",
                         "Selu",
                         "Celu",
                         "Sigmoid",
                         "HardSigmoid",
                         "Tanh",
                         "Softplus",
                         "Softsign",
                         "Erf",
                         "Gelu",
                         "Exp",
                         "Log",
                         "Abs",
                         "Sign",
                         "Clip",
                         "Floor",
                         "Round",
                         "Identity",
                         "Constant",
                         "Reshape",
                         "Flatten",
                         "Squeeze",
                         "Unsqueeze",
                         "Transpose",
                         "Concat",
                         "Slice",
                         "Gather",
                         "Pad",
                         "BatchNormalization",
                         "Conv",
                         "ConvTranspose",
                         "AveragePool",
                         "MaxPool",
                         "GlobalAveragePool",
                         "ReduceSum",
                         "ReduceMean",
                         "Where",
                         "Greater",
                         "GreaterOrEqual",
                         "Less",
                         "LessOrEqual",
                         "Equal",
                         "Sin",
                         "Cos",
                         "Tan",
                         "Asin",
                         "Acos",
                         "Atan",
                         "Sinh",
                         "Cosh",
                         "Asinh",
                         "Acosh",
                         "Atanh",
                         "HardSwish",
                         "ThresholdedRelu",
                         "Max",
                         "Min",
                         "Pow",
                         "OneHot",
                         "Not",
                         "Or",
                         "And",
                         "Cast",
                         "Expand",
                         "Shape",
                         "ConstantOfShape",
                         "QuantizeLinear",
                         "DequantizeLinear"})
    EXPECT_TRUE(std::find(ops.begin(), ops.end(), op) != ops.end()) << op;
}

}  // namespace
}  // namespace torusml::onnx
