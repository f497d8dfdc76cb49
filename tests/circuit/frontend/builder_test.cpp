// Tracing: shape and encryption inference of every operation, expansions of composite operations,
// labels and text, trace-time errors, and Program::validate on corrupted programs.
#include <gtest/gtest.h>

#include <limits>

#include "front_end_test_util.h"
#include "torusml/circuit/frontend/builder.h"

namespace torusml::circuit::testing {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// Number of nodes traced so far (the id the next node gets).
std::size_t node_count(Builder& b) {
  return static_cast<std::size_t>(b.constant(Tensor()).id());
}

std::size_t count_ops(const Program& p, OpKind op) {
  std::size_t n = 0;
  for (const Node& node : p.nodes) n += node.op == op ? 1 : 0;
  return n;
}

TEST(Builder, InputsConstantsAndEncryption) {
  Builder b;
  Value x = b.input("x", {2, 3});
  Value c = b.input("c", {3}, /*encrypted=*/false);
  EXPECT_TRUE(x.valid());
  EXPECT_EQ(x.shape(), (Shape{2, 3}));
  EXPECT_TRUE(x.encrypted());
  EXPECT_FALSE(c.encrypted());
  EXPECT_FALSE((c + Tensor::vector({1, 2, 3})).encrypted());
  EXPECT_TRUE((x + c).encrypted());
  EXPECT_FALSE(apply_table(c, [](std::int64_t v) { return v * v; }).encrypted());
  EXPECT_FALSE(round_bit_pattern(c, 2).encrypted());
  EXPECT_TRUE((c * x).encrypted());
  Value k = b.constant(Tensor::scalar(4));
  EXPECT_FALSE(k.encrypted());
  EXPECT_EQ(k.shape(), Shape{});
  EXPECT_FALSE(Value().valid());
}

TEST(Builder, LabelsAreUniqueAndNameTheOperation) {
  Builder b;
  Value x = b.input("x", {4});
  Value y = matmul(x, Tensor::matrix({{1, 2}, {3, 4}, {5, 6}, {7, 8}}));
  b.output(relu(y));
  const Program p = b.build();
  EXPECT_EQ(p.nodes[0].label, "input_0");
  EXPECT_EQ(p.nodes[1].label, "constant_1");
  EXPECT_EQ(p.nodes[2].label, "matmul_2");
  EXPECT_EQ(p.nodes[3].label, "table_lookup_3");
  EXPECT_EQ(p.inputs, std::vector<NodeId>{0});
  EXPECT_EQ(p.outputs, std::vector<NodeId>{3});
}

TEST(Builder, ToTextHasOneLinePerNodeAndMarksOutputs) {
  Builder b;
  Value x = b.input("x", {2, 3});
  Value w = b.constant(Tensor::matrix({{1, 0}, {0, 1}, {1, 1}}));
  Value y = matmul(x, w);
  b.output(y);
  b.output(sum(y, {-1}));
  const std::string text = b.build().to_text();
  EXPECT_EQ(text,
            "%0 = input \"x\" : encrypted (2, 3)\n"
            "%1 = constant [[1, 0], [0, 1], [1, 1]] : clear (3, 2)\n"
            "%2 = matmul(%0, %1) : encrypted (2, 2)  = output 0\n"
            "%3 = sum(%2) {axes=[1], keepdims=false} : encrypted (2,)  = output 1\n");
}

TEST(Builder, BroadcastingShapes) {
  Builder b;
  EXPECT_EQ((b.input("a", {2, 1, 3}) + b.input("b", {4, 1})).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ((b.input("c", {3}) - Tensor::scalar(1)).shape(), (Shape{3}));
  EXPECT_EQ((Tensor::zeros({5, 1}) * b.input("d", {3})).shape(), (Shape{5, 3}));
  EXPECT_EQ((b.input("e", {0, 3}) + Tensor::zeros({1, 3})).shape(), (Shape{0, 3}));
  EXPECT_EQ((2 * b.input("f", {}) + 1).shape(), Shape{});
  EXPECT_EQ((-b.input("g", {2, 2})).shape(), (Shape{2, 2}));
}

TEST(Builder, MatmulShapesFollowNumpy) {
  struct Case {
    Shape a, b, result;
  };
  const std::vector<Case> cases = {
      {{3}, {3}, {}},
      {{2, 3}, {3}, {2}},
      {{3}, {3, 4}, {4}},
      {{2, 3}, {3, 4}, {2, 4}},
      {{5, 2, 3}, {3, 4}, {5, 2, 4}},
      {{1, 2, 3}, {6, 3, 4}, {6, 2, 4}},
      {{7, 1, 2, 3}, {6, 3, 4}, {7, 6, 2, 4}},
      {{3}, {5, 3, 4}, {5, 4}},
      {{5, 2, 3}, {3}, {5, 2}},
  };
  for (const Case& c : cases) {
    Builder b;
    EXPECT_EQ(matmul(b.input("x", c.a), Tensor::zeros(c.b)).shape(), c.result)
        << shape_to_string(c.a) << " @ " << shape_to_string(c.b);
    EXPECT_EQ(matmul(Tensor::zeros(c.a), b.input("y", c.b)).shape(), c.result);
  }
  Builder b;
  EXPECT_EQ(dot(b.input("x", {4}), Tensor::vector({1, 2, 3, 4})).shape(), Shape{});
}

TEST(Builder, GemmShapesAndFolding) {
  Builder b;
  Value a = b.input("a", {2, 3});
  EXPECT_EQ(gemm(a, Tensor::zeros({3, 4})).shape(), (Shape{2, 4}));
  EXPECT_EQ(gemm(a, Tensor::zeros({4, 3}), Tensor::zeros({4}), 2, 3, false, true).shape(),
            (Shape{2, 4}));
  EXPECT_EQ(gemm(a, Tensor::zeros({2, 5}), Tensor::zeros({3, 1}), 1, 1, true).shape(),
            (Shape{3, 5}));
}

TEST(Builder, SumShapesAndNormalisedAxes) {
  Builder b;
  Value x = b.input("x", {2, 3, 4});
  EXPECT_EQ(sum(x).shape(), Shape{});
  EXPECT_EQ(sum(x, {}, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(sum(x, {-1}).shape(), (Shape{2, 3}));
  Value y = sum(x, {2, -3}, true);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(std::get<SumAttr>(b.node(y.id()).attributes).axes, (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(sum(b.input("s", {}), {}).shape(), Shape{});
}

TEST(Builder, DataMovementShapes) {
  Builder b;
  Value x = b.input("x", {2, 3, 4});
  EXPECT_EQ(reshape(x, {4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(reshape(x, {24}).shape(), (Shape{24}));
  EXPECT_EQ(transpose(x).shape(), (Shape{4, 3, 2}));
  Value t = transpose(x, {-1, 0, 1});
  EXPECT_EQ(t.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(std::get<TransposeAttr>(b.node(t.id()).attributes).perm,
            (std::vector<std::int64_t>{2, 0, 1}));
  EXPECT_EQ(broadcast_to(b.input("v", {3, 1}), {2, 3, 5}).shape(), (Shape{2, 3, 5}));
  const std::vector<Value> parts = {x, b.input("y", {2, 3, 1}), b.input("z", {2, 3, 2})};
  EXPECT_EQ(concatenate(parts, -1).shape(), (Shape{2, 3, 7}));
  EXPECT_EQ(slice(x, {1}, {kMax}).shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(slice(x, {0, kMax}, {kMax, kMin}, {1, -2}).shape(), (Shape{2, 2, 4}));
  Value s = slice(x, {-1, -2, 0}, {-3, 100, 4}, {-1, 1, 3});
  EXPECT_EQ(s.shape(), (Shape{2, 2, 2}));  // [1, 0], [1, 2], [0, 3]
  const auto& sa = std::get<SliceAttr>(b.node(s.id()).attributes);
  EXPECT_EQ(sa.starts, (std::vector<std::int64_t>{1, 1, 0}));
  EXPECT_EQ(sa.stops, (std::vector<std::int64_t>{-1, 3, 4}));
  EXPECT_EQ(sa.steps, (std::vector<std::int64_t>{-1, 1, 3}));
  Value k = take(x, {-1, 0, 2, 2}, -2);
  EXPECT_EQ(k.shape(), (Shape{2, 4, 4}));
  EXPECT_EQ(std::get<TakeAttr>(b.node(k.id()).attributes).indices,
            (std::vector<std::int64_t>{2, 0, 2, 2}));
  EXPECT_EQ(std::get<TakeAttr>(b.node(k.id()).attributes).axis, 1);
  EXPECT_EQ(pad(x, {0, 1, 2}, {3, 0, 1}).shape(), (Shape{5, 4, 7}));
}

TEST(Builder, ConvolutionAndPoolingShapes) {
  Builder b;
  Value x = b.input("x", {2, 4, 9, 8});
  EXPECT_EQ(conv2d(x, Tensor::zeros({6, 4, 3, 3})).shape(), (Shape{2, 6, 7, 6}));
  Conv2dAttr attr;
  attr.strides = {2, 3};
  attr.pads = {1, 0, 2, 1};
  attr.dilations = {2, 1};
  attr.groups = 2;
  // H: (9 + 3 - 2 * 2 - 1) / 2 + 1 = 4; W: (8 + 1 - 2 - 1) / 3 + 1 = 3.
  EXPECT_EQ(conv2d(x, Tensor::zeros({6, 2, 3, 2}), Tensor::zeros({6}), attr).shape(),
            (Shape{2, 6, 4, 3}));
  EXPECT_EQ(sum_pool2d(x).shape(), (Shape{2, 4, 4, 4}));
  Pool2dAttr pool;
  pool.kernel = {3, 3};
  pool.strides = {1, 2};
  pool.pads = {1, 1, 1, 1};
  EXPECT_EQ(avg_pool2d(x, pool).shape(), (Shape{2, 4, 9, 4}));
}

TEST(Builder, CompositeExpansions) {
  {
    Builder b;
    Value x = b.input("x", {3});
    Value y = b.input("y", {3});
    b.output(multiply(x, y));
    const Program p = b.build();
    EXPECT_EQ(count_ops(p, OpKind::TableLookup), 2u);
    EXPECT_EQ(count_ops(p, OpKind::Mul), 0u);
    EXPECT_TRUE(p.node(p.outputs[0]).encrypted);
  }
  {
    Builder b;
    Value x = b.input("x", {3});
    Value c = b.input("c", {3}, false);
    b.output(multiply(x, c));
    const Program p = b.build();
    EXPECT_EQ(count_ops(p, OpKind::TableLookup), 0u);
    EXPECT_EQ(count_ops(p, OpKind::Mul), 1u);
  }
  {
    Builder b;
    Value x = b.input("x", {3});
    b.output(relu(x));
    b.output(maximum(x, b.input("y", {2, 1})));
    b.output(less(x, Tensor::vector({1, 2, 3})));
    const Program p = b.build();
    EXPECT_EQ(count_ops(p, OpKind::TableLookup), 3u);
    EXPECT_EQ(p.node(p.outputs[1]).shape, (Shape{2, 3}));
    EXPECT_EQ(std::get<TableAttr>(p.node(p.outputs[0]).attributes).tables[0].name, "relu");
  }
  {
    Builder b;
    Value x = b.input("x", {1, 1, 4, 4});
    b.output(avg_pool2d(x));
    const Program p = b.build();
    EXPECT_EQ(count_ops(p, OpKind::SumPool2d), 1u);
    EXPECT_EQ(count_ops(p, OpKind::TableLookup), 1u);
  }
}

TEST(BuilderErrors, ShapeMismatchesNameTheOperation) {
  Builder b;
  Value x = b.input("x", {2, 3});
  expect_invalid([&] { x + b.input("y", {4}); }, {"add", "(2, 3)", "(4,)"});
  expect_invalid([&] { x - Tensor::zeros({2, 2}); }, {"sub", "(2, 2)"});
  expect_invalid([&] { x* Tensor::zeros({3, 3}); }, {"mul"});
  expect_invalid([&] { matmul(x, Tensor::zeros({2, 3})); }, {"matmul", "(2, 3)", "not aligned"});
  expect_invalid([&] { matmul(x, Tensor::scalar(2)); }, {"matmul", "at least one axis"});
  expect_invalid(
      [&] {
        matmul(b.input("z", {2, 2, 3}), Tensor::zeros({3, 3, 1}));
      },
      {"matmul", "batch"});
  expect_invalid([&] { dot(x, Tensor::vector({1, 2, 3})); }, {"dot", "1-D"});
  expect_invalid([&] { gemm(x, Tensor::zeros({2, 4})); }, {"gemm", "inner"});
  expect_invalid([&] { gemm(x, Tensor::zeros({3, 4}), Tensor::zeros({3, 4})); }, {"gemm"});
  expect_invalid([&] { gemm(x, Tensor::zeros({3})); }, {"gemm", "2-D"});
  expect_invalid(
      [&] {
        gemm(x, Tensor::full({3, 1}, kMax), std::nullopt, 2);
      },
      {"gemm", "overflow"});
}

TEST(BuilderErrors, BadAxesAndAttributes) {
  Builder b;
  Value x = b.input("x", {2, 3});
  expect_invalid([&] { sum(x, {2}); }, {"sum", "axis 2"});
  expect_invalid([&] { sum(x, {-3}); }, {"sum", "-3"});
  expect_invalid([&] { sum(x, {1, -1}); }, {"sum", "repeat"});
  expect_invalid([&] { reshape(x, {4, -1}); }, {"reshape", "(4, -1)"});
  expect_invalid([&] { reshape(x, {-1, -1}); }, {"reshape"});
  expect_invalid([&] { reshape(x, {7}); }, {"reshape", "(7,)"});
  expect_invalid([&] { transpose(x, {0, 0}); }, {"transpose", "permutation"});
  expect_invalid([&] { transpose(x, {0}); }, {"transpose"});
  expect_invalid([&] { broadcast_to(x, {3, 3}); }, {"broadcast_to", "(3, 3)"});
  expect_invalid([&] { broadcast_to(x, {3}); }, {"broadcast_to"});
  const std::vector<Value> parts = {x, b.input("y", {3, 3})};
  expect_invalid([&] { concatenate(parts, 1); }, {"concatenate", "(3, 3)"});
  expect_invalid([&] { concatenate(parts, 2); }, {"concatenate", "axis 2"});
  expect_invalid([&] { concatenate(std::vector<Value>{}); }, {"concatenate"});
  expect_invalid([&] { slice(x, {0}, {1}, {0}); }, {"slice", "step"});
  expect_invalid([&] { slice(x, {0, 0, 0}, {1, 1, 1}); }, {"slice"});
  expect_invalid([&] { slice(x, {0, 0}, {1}); }, {"slice"});
  expect_invalid([&] { take(x, {2}, 0); }, {"take", "index 2"});
  expect_invalid([&] { take(x, {-4}, 1); }, {"take", "-4"});
  expect_invalid([&] { take(x, {0}, 2); }, {"take", "axis 2"});
  expect_invalid([&] { pad(x, {1}, {1}); }, {"pad"});
  expect_invalid([&] { pad(x, {1, -1}, {0, 0}); }, {"pad", "negative"});
  expect_invalid([&] { apply_table(x, Function{}); }, {"apply_table"});
  expect_invalid([&] { apply_tables(x, {}, {}); }, {"apply_tables"});
  const TableFunction id{[](std::int64_t v) { return v; }, "id"};
  expect_invalid([&] { apply_tables(x, {id}, {0, 0}); }, {"apply_tables", "element_table"});
  expect_invalid([&] { apply_tables(x, {id}, {0, 0, 0, 1, 0, 0}); }, {"apply_tables"});
  expect_invalid([&] { round_bit_pattern(x, -1); }, {"round_bit_pattern"});
  expect_invalid([&] { round_bit_pattern(x, 63); }, {"round_bit_pattern", "63"});
  expect_invalid([&] { b.input("x", {1}); }, {"input", "'x'"});
  expect_invalid([&] { b.input("w", {-1}); }, {"input", "negative"});
  expect_invalid([&] { b.input("", {1}); }, {"input"});
}

TEST(BuilderErrors, ConvolutionAndPooling) {
  Builder b;
  Value x = b.input("x", {1, 4, 5, 5});
  expect_invalid(
      [&] {
        conv2d(b.input("v", {4, 5, 5}), Tensor::zeros({2, 4, 3, 3}));
      },
      {"conv2d", "NCHW"});
  expect_invalid([&] { conv2d(x, Tensor::zeros({2, 3, 3, 3})); }, {"conv2d", "groups"});
  expect_invalid(
      [&] {
        conv2d(x, Tensor::zeros({2, 4, 3, 3}), Tensor::zeros({3}));
      },
      {"conv2d", "bias"});
  expect_invalid([&] { conv2d(x, Tensor::zeros({2, 4, 6, 3})); }, {"conv2d", "window"});
  Conv2dAttr grouped;
  grouped.groups = 2;
  expect_invalid(
      [&] {
        conv2d(x, Tensor::zeros({3, 2, 3, 3}), std::nullopt, grouped);
      },
      {"conv2d", "groups"});
  Conv2dAttr strided;
  strided.strides = {0, 1};
  expect_invalid(
      [&] {
        conv2d(x, Tensor::zeros({2, 4, 3, 3}), std::nullopt, strided);
      },
      {"conv2d", "strides"});
  Conv2dAttr padded;
  padded.pads = {1, 1};
  expect_invalid(
      [&] {
        conv2d(x, Tensor::zeros({2, 4, 3, 3}), std::nullopt, padded);
      },
      {"conv2d", "pads"});
  Pool2dAttr big;
  big.kernel = {6, 2};
  expect_invalid([&] { sum_pool2d(x, big); }, {"sum_pool2d"});
  expect_invalid([&] { avg_pool2d(b.input("w", {4, 4})); }, {"avg_pool2d", "NCHW"});
}

TEST(BuilderErrors, EncryptedOperandsOfMulAndMatmul) {
  Builder b;
  Value x = b.input("x", {3});
  Value y = b.input("y", {3});
  expect_invalid([&] { x* y; }, {"mul", "encrypted", "multiply()"});
  expect_invalid([&] { matmul(x, y); }, {"matmul", "encrypted", "multiply()"});
  // Clear x encrypted is fine.
  EXPECT_TRUE((x * b.input("c", {3}, false)).encrypted());
}

TEST(BuilderErrors, ValuesFromDifferentBuildersAndEmptyValues) {
  Builder b1, b2;
  Value x = b1.input("x", {3});
  Value y = b2.input("y", {3}, false);
  expect_invalid([&] { x + y; }, {"add", "different Builders"});
  expect_invalid([&] { multiply(x, y); }, {"multiply", "different Builders"});
  expect_invalid([&] { maximum(x, y); }, {"maximum", "different Builders"});
  expect_invalid([&] { b2.output(x); }, {"output", "another Builder"});
  const std::vector<Value> parts = {x, y};
  expect_invalid([&] { concatenate(parts); }, {"concatenate", "different Builders"});
  expect_invalid([&] { Value() + x; }, {"add", "empty"});
  expect_invalid([&] { relu(Value()); }, {"relu", "empty"});
  expect_invalid([&] { (void)Value().shape(); }, {"empty"});
  expect_invalid([&] { b1.build(); }, {"no outputs"});
}

TEST(BuilderErrors, RejectedOperationsLeaveTheBuilderUnchanged) {
  Builder b;
  Value x = b.input("x", {2, 3});
  const std::size_t before = node_count(b);
  EXPECT_THROW(x + Tensor::zeros({4}), InvalidArgument);
  EXPECT_THROW(matmul(x, Tensor::zeros({4, 4})), InvalidArgument);
  EXPECT_THROW(conv2d(x, Tensor::zeros({1, 1, 1, 1})), InvalidArgument);
  EXPECT_THROW(less(x, Tensor::zeros({5})), InvalidArgument);
  EXPECT_EQ(node_count(b), before + 1);
}

// A valid three-node program to corrupt.
Program small_program() {
  Builder b;
  Value x = b.input("x", {2, 3});
  Value y = matmul(x, Tensor::zeros({3, 4}));
  b.output(sum(y, {0}));
  return b.build();
}

TEST(ProgramValidate, AcceptsBuiltProgramsAndRejectsCorruptions) {
  EXPECT_NO_THROW(small_program().validate());
  const auto corrupt = [](auto&& edit, std::initializer_list<std::string> needles) {
    Program p = small_program();
    edit(p);
    expect_invalid([&] { p.validate(); }, needles);
  };
  corrupt([](Program& p) { p.nodes[2].shape = {2, 5}; }, {"matmul_2", "(2, 5)", "(2, 4)"});
  corrupt([](Program& p) { p.nodes[3].shape = {3}; }, {"sum_3", "shape"});
  corrupt([](Program& p) { p.nodes[2].inputs = {0, 3}; }, {"matmul_2", "topological"});
  corrupt([](Program& p) { p.nodes[2].inputs = {0, -1}; }, {"matmul_2"});
  corrupt([](Program& p) { p.nodes[2].inputs = {0}; }, {"matmul_2", "operand"});
  corrupt([](Program& p) { p.nodes[3].attributes = ReshapeAttr{{4}}; }, {"sum_3", "SumAttr"});
  corrupt([](Program& p) { p.nodes[3].attributes = SumAttr{{-1}, false}; }, {"sum_3", "axis"});
  corrupt([](Program& p) { p.nodes[2].encrypted = false; }, {"matmul_2", "encrypted"});
  corrupt([](Program& p) { p.nodes[1].encrypted = true; }, {"constant_1", "clear"});
  corrupt([](Program& p) { p.nodes[3].label = "matmul_2"; }, {"unique"});
  corrupt([](Program& p) { p.outputs = {7}; }, {"output"});
  corrupt([](Program& p) { p.outputs.clear(); }, {"no outputs"});
  corrupt([](Program& p) { p.inputs.clear(); }, {"input"});
  corrupt([](Program& p) { p.inputs = {1}; }, {"not an input node"});
  corrupt(
      [](Program& p) {
        p.nodes[1].attributes = ConstantAttr{Tensor::zeros({3, 3})};  // shape now (3, 3)
      },
      {"constant_1", "(3, 3)"});
  corrupt(
      [](Program& p) {
        Node n = p.nodes[0];
        n.label = "input_x";
        p.nodes.push_back(n);  // a second input node, never listed as a program input
      },
      {"input"});
}

TEST(ProgramValidate, ChecksPrimitiveAttributes) {
  // Nodes appended without the builder functions' checks, then caught by build()'s validation.
  const auto check = [](OpKind op, Attributes attr, Shape shape,
                        std::initializer_list<std::string> needles) {
    Builder b;
    Value x = b.input("x", {2, 3});
    b.add_node(op, {x.id()}, std::move(attr), std::move(shape), true);
    b.output(x);
    expect_invalid([&] { b.build(); }, needles);
  };
  check(OpKind::Slice, SliceAttr{{0, 0}, {3, 3}, {1, 1}}, {2, 3}, {"slice_1", "normalised"});
  check(OpKind::Slice, SliceAttr{{0, 3}, {2, 0}, {1, -1}}, {2, 3}, {"slice_1", "normalised"});
  check(OpKind::Slice, SliceAttr{{0}, {2}, {1}}, {2, 3}, {"slice_1"});
  check(OpKind::Take, TakeAttr{0, {-1}}, {1, 3}, {"take_1", "index -1"});
  check(OpKind::Transpose, TransposeAttr{{1, 1}}, {3, 3}, {"transpose_1", "permutation"});
  check(OpKind::Round, RoundAttr{70, RoundingMode::Exact}, {2, 3}, {"round_1", "70"});
  check(OpKind::Round, RoundAttr{2, static_cast<RoundingMode>(9)}, {2, 3}, {"round_1", "mode"});
  check(OpKind::TableLookup, TableAttr{}, {2, 3}, {"table_lookup_1", "at least one table"});
  check(OpKind::TableLookup, TableAttr{{TableFunction{}}, {}}, {2, 3}, {"table_lookup_1"});
  check(OpKind::Pad, PadAttr{{0, -1}, {0, 2}, 0}, {2, 4}, {"pad_1", "negative"});
  check(OpKind::Reshape, ReshapeAttr{{5}}, {5}, {"reshape_1", "element counts"});
  check(OpKind::Concatenate, ConcatAttr{-1}, {2, 3}, {"concatenate_1", "axis"});
  check(OpKind::Neg, SumAttr{}, {2, 3}, {"neg_1", "no attributes"});
  check(OpKind::Conv2d, Conv2dAttr{}, {2, 3}, {"conv2d_1", "operand"});
  check(OpKind::SumPool2d, Pool2dAttr{}, {2, 3}, {"sum_pool2d_1", "NCHW"});
  check(OpKind::Sum, SumAttr{{0, 0}, false}, {3}, {"sum_1", "repeated"});
}

}  // namespace
}  // namespace torusml::circuit::testing
