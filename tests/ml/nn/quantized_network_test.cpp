// Quantized networks: graphs built in memory (the onnx layer's float graph), lowered to circuits;
// clear, simulated and encrypted runs agree exactly, and the quantized outputs follow the float
// graph within the quantization's error.
#include "torusml/ml/nn/quantized_network.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>

#include "torusml/common/error.h"
#include "torusml/onnx/evaluate_graph.h"

namespace torusml::ml {
namespace {

using circuit::Mode;
using onnx::FloatTensor;
using onnx::Graph;
using onnx::Node;

tfhe::Seed test_seed() {
  tfhe::Seed s{};
  s.fill(9);
  return s;
}

FloatTensor random_tensor(std::mt19937_64& rng, onnx::Shape shape, double scale) {
  std::normal_distribution<double> d(0.0, scale);
  FloatTensor t(std::move(shape));
  for (double& v : t.data()) v = d(rng);
  return t;
}

// Adds a node (attributes given) and its output's value info.
void add_node(Graph& g, std::string op, std::vector<std::string> inputs, std::string output,
              onnx::Shape shape, std::map<std::string, onnx::Attribute> attributes = {}) {
  Node n;
  n.op_type = std::move(op);
  n.name = output + "_node";
  n.inputs = std::move(inputs);
  n.outputs = {output};
  n.attributes = std::move(attributes);
  g.nodes.push_back(std::move(n));
  g.values[output] = {onnx::ElementType::Float, std::move(shape)};
}

void add_constant(Graph& g, const std::string& name, FloatTensor t) {
  g.values[name] = {onnx::ElementType::Float, t.shape()};
  g.initializers[name] = std::move(t);
}

onnx::Attribute ints(std::vector<std::int64_t> v) {
  onnx::Attribute a;
  a.kind = onnx::AttributeKind::Ints;
  a.ints = std::move(v);
  return a;
}

onnx::Attribute integer(std::int64_t v) {
  onnx::Attribute a;
  a.kind = onnx::AttributeKind::Int;
  a.i = v;
  return a;
}

// x (1, 4) -> Gemm 4x8 -> Relu -> Gemm 8x3 (MatMul + Add) -> Sigmoid.
Graph mlp(std::mt19937_64& rng) {
  Graph g;
  g.name = "mlp";
  g.opset = 13;
  g.inputs.push_back({"x", {onnx::ElementType::Float, {1, 4}}});
  g.values["x"] = g.inputs[0].info;
  add_constant(g, "w1", random_tensor(rng, {8, 4}, 0.7));
  add_constant(g, "b1", random_tensor(rng, {8}, 0.3));
  add_node(g, "Gemm", {"x", "w1", "b1"}, "h", {1, 8}, {{"transB", integer(1)}});
  add_node(g, "Relu", {"h"}, "a", {1, 8});
  add_constant(g, "w2", random_tensor(rng, {8, 3}, 0.7));
  add_constant(g, "b2", random_tensor(rng, {3}, 0.3));
  add_node(g, "MatMul", {"a", "w2"}, "m", {1, 3});
  add_node(g, "Add", {"m", "b2"}, "logits", {1, 3});
  add_node(g, "Sigmoid", {"logits"}, "y", {1, 3});
  g.outputs.push_back({"y", g.values["y"]});
  return g;
}

// x (1, 1, 5, 5) -> Conv 2x2 (2 channels, pad 1 on the left and top) -> Relu -> AveragePool 2x2 ->
// Conv 1x1 depthwise (groups 2) -> MaxPool 2x2 -> Flatten -> Gemm 2x2.
Graph cnn(std::mt19937_64& rng) {
  Graph g;
  g.name = "cnn";
  g.opset = 13;
  g.inputs.push_back({"x", {onnx::ElementType::Float, {1, 1, 5, 5}}});
  g.values["x"] = g.inputs[0].info;
  add_constant(g, "k1", random_tensor(rng, {2, 1, 2, 2}, 0.5));
  add_constant(g, "c1", random_tensor(rng, {2}, 0.2));
  add_node(g, "Conv", {"x", "k1", "c1"}, "conv1", {1, 2, 5, 5},
           {{"pads", ints({1, 1, 0, 0})}, {"kernel_shape", ints({2, 2})}});
  add_node(g, "Relu", {"conv1"}, "relu1", {1, 2, 5, 5});
  add_node(g, "AveragePool", {"relu1"}, "pool1", {1, 2, 2, 2},
           {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  add_constant(g, "k2", random_tensor(rng, {2, 1, 1, 1}, 0.8));
  add_node(g, "Conv", {"pool1", "k2"}, "conv2", {1, 2, 2, 2},
           {{"group", integer(2)}, {"kernel_shape", ints({1, 1})}});
  add_node(g, "MaxPool", {"conv2"}, "pool2", {1, 2, 1, 1},
           {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  add_node(g, "Flatten", {"pool2"}, "flat", {1, 2}, {{"axis", integer(1)}});
  add_constant(g, "w", random_tensor(rng, {2, 2}, 0.8));
  add_node(g, "Gemm", {"flat", "w"}, "y", {1, 2});
  g.outputs.push_back({"y", g.values["y"]});
  return g;
}

std::vector<FloatTensor> samples(std::mt19937_64& rng, const Graph& g, std::size_t n) {
  std::vector<FloatTensor> s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(random_tensor(rng, g.inputs[0].info.shape, 1.0));
  return s;
}

std::vector<double> flat(std::span<const FloatTensor> xs) {
  std::vector<double> all;
  for (const FloatTensor& t : xs) all.insert(all.end(), t.values().begin(), t.values().end());
  return all;
}

class NetworkModesAgree : public ::testing::TestWithParam<int> {};

TEST_P(NetworkModesAgree, ClearSimulateAndExecuteAgreeAndFollowTheFloatGraph) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(GetParam()) + 11);
  const Graph g = GetParam() == 0 ? mlp(rng) : cnn(rng);
  const std::vector<FloatTensor> calibration = samples(rng, g, 60);
  // Narrow enough that no accumulator needs rounding (approximate rounding is off by one near its
  // boundaries, so its encrypted results may differ from the clear ones there).
  NetworkOptions options;
  options.bits = {3, 3, 2, 3};
  options.rounding_threshold_bits = 7;
  QuantizedNetwork q(g, calibration, options);
  for (const NetworkLookup& l : q.lowered().lookups) EXPECT_EQ(l.lsbs_removed, 0u) << l.name;
  q.compile(calibration, {}, test_seed());

  // Samples from the calibration distribution, inside its range.
  const std::vector<FloatTensor> test(calibration.begin(), calibration.begin() + 4);
  const std::vector<double> x = flat(test);
  const circuit::Tensor qx = q.quantize_input(x, test.size());
  const circuit::Tensor clear = q.run_integer(qx, Mode::Clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Simulate, 3), clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Execute), clear);

  // The quantized network follows the float graph (a loose bound: 5-6 bits everywhere).
  const std::vector<double> y = q.dequantize_output(clear);
  double max_ref = 0;
  std::vector<double> ref;
  for (const FloatTensor& t : test) {
    const FloatTensor out = onnx::evaluate_graph(g, std::span(&t, 1)).at(0);
    ref.insert(ref.end(), out.values().begin(), out.values().end());
  }
  for (double v : ref) max_ref = std::max(max_ref, std::abs(v));
  ASSERT_EQ(y.size(), ref.size());
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 0.5 * max_ref + 0.05) << i;

  const std::string text = q.statistics_text();
  EXPECT_NE(text.find("lookups per sample"), std::string::npos);
  if (GetParam() == 0) {
    // Relu fused with the re-quantization: one lookup per hidden unit; the Add and the Sigmoid
    // of the output run on the client.
    EXPECT_EQ(q.compiled_circuit().statistics().pbs_count, 8u);
    EXPECT_TRUE(q.output().has_post_processing());
  }
}

INSTANTIATE_TEST_SUITE_P(Graphs, NetworkModesAgree, ::testing::Values(0, 1));

// Products, maxima, minima, quotients and comparisons of two encrypted tensors (the two branches
// of a small network):
// encrypted runs equal the clear ones, which follow the float graph.
TEST(QuantizedNetwork, BinaryOperationsOfEncryptedTensors) {
  for (const char* op : {"Mul", "Max", "Min", "Div", "Greater", "And", "Or", "Xor"}) {
    std::mt19937_64 rng(23);
    Graph g;
    g.name = "binary";
    g.opset = 13;
    g.inputs.push_back({"x", {onnx::ElementType::Float, {1, 3}}});
    g.values["x"] = g.inputs[0].info;
    add_constant(g, "wa", random_tensor(rng, {3, 2}, 0.7));
    add_constant(g, "wb", random_tensor(rng, {3, 2}, 0.7));
    add_node(g, "MatMul", {"x", "wa"}, "ha", {1, 2});
    add_node(g, "MatMul", {"x", "wb"}, "hb", {1, 2});
    add_node(g, "Relu", {"ha"}, "ra", {1, 2});
    add_node(g, "Sigmoid", {"hb"}, "s", {1, 2});
    add_constant(g, "one", FloatTensor({}, {1.0}));
    add_node(g, "Add", {"s", "one"}, "sb", {1, 2});  // in (1, 2): a well-conditioned divisor
    const bool logical =
        std::string(op) == "And" || std::string(op) == "Or" || std::string(op) == "Xor";
    if (logical) {  // a comparison (already 0 / 1) and a value (0 where the Relu clips)
      add_node(g, "Greater", {"sb", "ra"}, "gt", {1, 2});
      add_node(g, op, {"gt", "ra"}, "y", {1, 2});
    } else {
      add_node(g, op, {"ra", "sb"}, "y", {1, 2});
    }
    g.outputs.push_back({"y", g.values["y"]});
    const std::vector<FloatTensor> calibration = samples(rng, g, 40);
    NetworkOptions options;
    options.bits = {3, 3, 3, 3};
    QuantizedNetwork q(g, calibration, options);
    q.compile(calibration, {}, test_seed());
    const std::vector<double> x = flat(calibration);
    const circuit::Tensor qx = q.quantize_input(x, calibration.size());
    const circuit::Tensor clear = q.run_integer(qx, Mode::Clear);
    const circuit::Tensor few(
        {2, 3}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 6));
    EXPECT_EQ(q.run_integer(few, Mode::Execute), q.run_integer(few, Mode::Clear)) << op;
    const std::vector<double> y = q.dequantize_output(clear);
    // Mean absolute error within about a third of the mean magnitude (3-bit activations).
    double err = 0, magnitude = 0;
    for (std::size_t i = 0; i < calibration.size(); ++i) {
      const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
      for (std::size_t k = 0; k < 2; ++k) {
        err += std::abs(y[i * 2 + k] - ref[k]);
        magnitude += std::abs(ref[k]);
      }
    }
    EXPECT_LE(err, 0.35 * magnitude + 0.02 * static_cast<double>(y.size()))
        << op << ": mean error " << err / static_cast<double>(y.size()) << ", mean magnitude "
        << magnitude / static_cast<double>(y.size());
  }
}

// Appends [Clip ->] QuantizeLinear -> DequantizeLinear (uint8 zero point) after `value`; returns
// the dequantized value's name.
std::string add_qdq(Graph& g, const std::string& value, double scale, std::int64_t zp,
                    std::optional<std::pair<double, double>> clip = std::nullopt) {
  const onnx::Shape shape = g.values.at(value).shape;
  std::string v = value;
  if (clip) {
    onnx::Attribute lo, hi;
    lo.kind = hi.kind = onnx::AttributeKind::Float;
    lo.f = clip->first;
    hi.f = clip->second;
    add_node(g, "Clip", {v}, value + "_clip", shape, {{"min", lo}, {"max", hi}});
    v = value + "_clip";
  }
  add_constant(g, value + "_s", FloatTensor({}, {scale}));
  add_constant(g, value + "_z", FloatTensor({}, {static_cast<double>(zp)}));
  g.values[value + "_z"].type = onnx::ElementType::UInt8;
  add_node(g, "QuantizeLinear", {v, value + "_s", value + "_z"}, value + "_q", shape);
  g.values[value + "_q"].type = onnx::ElementType::UInt8;
  add_node(g, "DequantizeLinear", {value + "_q", value + "_s", value + "_z"}, value + "_dq", shape);
  return value + "_dq";
}

// A quantization-aware MLP in QDQ form: 3-bit input, weights on a 2-bit grid (QuantizeLinear ->
// DequantizeLinear on constants), 3-bit activations after the ReLU. The imported network uses
// these quantizers instead of calibrating: its clear integer outputs, dequantized, equal the float
// graph's outputs (which compute the same fake quantization) up to double rounding, and the
// encrypted run equals the clear one.
TEST(QuantizedNetwork, QuantizationAwareGraphsKeepTheirQuantizers) {
  std::mt19937_64 rng(31);
  Graph g;
  g.name = "qat";
  g.opset = 13;
  g.inputs.push_back({"x", {onnx::ElementType::Float, {1, 4}}});
  g.values["x"] = g.inputs[0].info;
  const std::string xq = add_qdq(g, "x", 0.5, 4, std::pair{-2.0, 1.5});  // levels 0..7
  // Weights: integers in [-1, 1] times 0.25, stored dequantized through Q/DQ (int8 grid).
  FloatTensor w1({4, 5});
  std::uniform_int_distribution<int> pick(-1, 1);
  for (double& v : w1.data()) v = 0.25 * pick(rng);
  add_constant(g, "w1", w1);
  add_constant(g, "w1_s", FloatTensor({}, {0.25}));
  add_constant(g, "w1_z", FloatTensor({}, {0.0}));
  g.values["w1_z"].type = onnx::ElementType::Int8;
  add_node(g, "QuantizeLinear", {"w1", "w1_s", "w1_z"}, "w1_q", {4, 5});
  g.values["w1_q"].type = onnx::ElementType::Int8;
  add_node(g, "DequantizeLinear", {"w1_q", "w1_s", "w1_z"}, "w1_dq", {4, 5});
  add_node(g, "MatMul", {xq, "w1_dq"}, "h", {1, 5});
  add_node(g, "Relu", {"h"}, "r", {1, 5});
  const std::string rq = add_qdq(g, "r", 0.125, 0, std::pair{0.0, 0.875});  // levels 0..7
  FloatTensor w2({5, 2});
  for (double& v : w2.data()) v = 0.5 * pick(rng);
  add_constant(g, "w2", w2);
  add_node(g, "MatMul", {rq, "w2"}, "y", {1, 2});
  g.outputs.push_back({"y", g.values["y"]});

  const std::vector<FloatTensor> calibration = samples(rng, g, 40);
  QuantizedNetwork q(g, calibration);  // default 8 bits: the QDQ nodes decide instead
  EXPECT_EQ(q.input_quantizer(), UniformQuantizer({3, false, false}, 0.5, 4 - 0));
  ASSERT_EQ(q.lowered().lookups.size(), 1u);  // Relu + Clip + Q + DQ: one lookup per unit
  EXPECT_EQ(q.lowered().lookups[0].lookups, 5u);
  const std::vector<double> x = flat(calibration);
  const circuit::Tensor qx = q.quantize_input(x, calibration.size());
  for (std::int64_t v : qx.values()) ASSERT_TRUE(v >= 0 && v <= 7);
  const std::vector<double> y = q.dequantize_output(q.run_integer(qx, Mode::Clear));
  for (std::size_t i = 0; i < calibration.size(); ++i) {
    const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
    for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(y[i * 2 + k], ref[k], 1e-9) << i;
  }
  q.compile(calibration, {}, test_seed());
  const circuit::Tensor few(
      {3, 4}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 12));
  EXPECT_EQ(q.run_integer(few, Mode::Execute), q.run_integer(few, Mode::Clear));
  EXPECT_LE(q.compiled_circuit().statistics().max_table_bits, 6u);  // |4 x 7 x 1| < 32, signed
}

// Without rounding_threshold_bits, each lookup keeps the accumulator bits its output quantization
// needs: 8-bit inputs and weights make 14-bit accumulators, but 4-bit activations after a ReLU
// (slope 1) need about 5 of them; the outputs barely move compared to no rounding at all.
TEST(QuantizedNetwork, AutomaticRoundingKeepsWhatTheOutputQuantizationNeeds) {
  std::mt19937_64 rng(17);
  const Graph g = mlp(rng);
  const std::vector<FloatTensor> calibration = samples(rng, g, 50);
  NetworkOptions options;
  options.bits = {8, 4, 8, 8};
  const QuantizedNetwork rounded(g, calibration, options);
  options.rounding_threshold_bits = 16;
  const QuantizedNetwork exact(g, calibration, options);
  ASSERT_EQ(rounded.lowered().lookups.size(), 1u);
  const NetworkLookup& l = rounded.lowered().lookups[0];
  EXPECT_GE(l.accumulator_bits, 12u);
  EXPECT_GT(l.lsbs_removed, 0u);
  EXPECT_LE(l.accumulator_bits - l.lsbs_removed, 7u);
  EXPECT_EQ(exact.lowered().lookups[0].lsbs_removed, 0u);
  const std::vector<double> x = flat(calibration);
  const std::vector<double> a = rounded.forward(x, calibration.size(), Mode::Clear);
  const std::vector<double> b = exact.forward(x, calibration.size(), Mode::Clear);
  // Mean absolute error against the float graph: rounding adds little to the quantization's.
  double err_rounded = 0, err_exact = 0;
  for (std::size_t i = 0; i < calibration.size(); ++i) {
    const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
    for (std::size_t k = 0; k < ref.size(); ++k) {
      err_rounded += std::abs(a[i * ref.size() + k] - ref[k]);
      err_exact += std::abs(b[i * ref.size() + k] - ref[k]);
    }
  }
  EXPECT_LE(err_rounded, 1.5 * err_exact + 0.01 * static_cast<double>(a.size()))
      << err_rounded / static_cast<double>(a.size()) << " vs "
      << err_exact / static_cast<double>(a.size());
  EXPECT_NE(rounded.statistics_text().find("accumulator"), std::string::npos);
}

// Each lookup reads its element's accumulator minus the middle of that element's own range:
// biases that spread the neurons far apart cost no lookup bit (the accumulator itself may be
// wider than the lookup's input: it wraps harmlessly under encryption).
TEST(QuantizedNetwork, LookupsReadEachElementCentredOnItsOwnRange) {
  auto graph = [](double spread) {
    std::mt19937_64 rng(23);
    Graph g = mlp(rng);
    FloatTensor& b1 = g.initializers.at("b1");
    for (std::size_t i = 0; i < b1.size(); ++i)
      b1.data()[i] = spread * (static_cast<double>(i) - 3.5);
    return g;
  };
  std::mt19937_64 rng(29);
  const Graph narrow = graph(0.0), spread = graph(4.0);
  const std::vector<FloatTensor> calibration = samples(rng, narrow, 60);
  NetworkOptions options;
  options.bits = {3, 3, 3, 3};
  options.rounding_threshold_bits = 16;  // no rounding: encrypted runs equal clear ones exactly
  const QuantizedNetwork a(narrow, calibration, options);
  QuantizedNetwork b(spread, calibration, options);
  ASSERT_EQ(a.lowered().lookups.size(), 1u);
  ASSERT_EQ(b.lowered().lookups.size(), 1u);
  // Without centring the spread accumulators would need about 3 bits more.
  EXPECT_LE(b.lowered().lookups[0].accumulator_bits, a.lowered().lookups[0].accumulator_bits + 1);
  b.compile(calibration, {}, test_seed());
  EXPECT_EQ(b.lowered().lookups[0].lsbs_removed, 0u);
  EXPECT_LE(b.compiled_circuit().statistics().max_table_bits,
            a.lowered().lookups[0].accumulator_bits + 1);
  const std::vector<FloatTensor> test(calibration.begin(), calibration.begin() + 3);
  const circuit::Tensor qx = b.quantize_input(flat(test), test.size());
  const circuit::Tensor clear = b.run_integer(qx, Mode::Clear);
  EXPECT_EQ(b.run_integer(qx, Mode::Simulate, 5), clear);
  EXPECT_EQ(b.run_integer(qx, Mode::Execute), clear);
}

// Conv -> AveragePool -> Relu: the pooling sums the convolution's accumulators (linear), so the
// Relu is the only lookup, one per pooled element.
TEST(QuantizedNetwork, PoolingReadsAccumulatorsWithoutALookup) {
  std::mt19937_64 rng(31);
  Graph g;
  g.name = "conv_pool";
  g.opset = 13;
  g.inputs.push_back({"x", {onnx::ElementType::Float, {1, 1, 4, 4}}});
  g.values["x"] = g.inputs[0].info;
  add_constant(g, "k", random_tensor(rng, {2, 1, 3, 3}, 0.5));
  add_constant(g, "c", random_tensor(rng, {2}, 0.2));
  add_node(g, "Conv", {"x", "k", "c"}, "conv", {1, 2, 4, 4},
           {{"pads", ints({1, 1, 1, 1})}, {"kernel_shape", ints({3, 3})}});
  add_node(g, "AveragePool", {"conv"}, "pool", {1, 2, 2, 2},
           {{"kernel_shape", ints({2, 2})}, {"strides", ints({2, 2})}});
  add_node(g, "Relu", {"pool"}, "relu", {1, 2, 2, 2});
  add_node(g, "Flatten", {"relu"}, "flat", {1, 8}, {{"axis", integer(1)}});
  add_constant(g, "w", random_tensor(rng, {8, 2}, 0.8));
  add_node(g, "MatMul", {"flat", "w"}, "y", {1, 2});
  g.outputs.push_back({"y", g.values["y"]});
  const std::vector<FloatTensor> calibration = samples(rng, g, 40);
  NetworkOptions options;
  options.bits = {3, 3, 3, 4};
  options.rounding_threshold_bits = 6;
  QuantizedNetwork q(g, calibration, options);
  ASSERT_EQ(q.lowered().lookups.size(), 1u);
  EXPECT_EQ(q.lowered().lookups[0].lookups, 8u);
  q.compile(calibration, {}, test_seed());
  EXPECT_EQ(q.compiled_circuit().statistics().pbs_count, 8u);
  const std::vector<FloatTensor> test(calibration.begin(), calibration.begin() + 2);
  const circuit::Tensor qx = q.quantize_input(flat(test), test.size());
  const circuit::Tensor clear = q.run_integer(qx, Mode::Clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Simulate, 7), clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Execute), clear);
}

// ConvTranspose lowered to a convolution of the zero-interleaved input: with inputs and weights
// exactly on their grids, the integer result equals the float graph's, for strides, padding,
// output padding, dilations and groups; and the encrypted run equals the clear one.
TEST(QuantizedNetwork, ConvTransposeMatchesTheFloatGraph) {
  struct Geometry {
    std::int64_t group, stride, pad, output_padding, dilation, out;
  };
  for (const Geometry c :
       {Geometry{1, 2, 1, 1, 1, 6}, Geometry{2, 1, 0, 0, 2, 7}, Geometry{1, 3, 2, 0, 1, 5}}) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(c.stride * 10 + c.group));
    Graph g;
    g.name = "deconv";
    g.opset = 13;
    g.inputs.push_back({"x", {onnx::ElementType::Float, {1, 2, 3, 3}}});
    g.values["x"] = g.inputs[0].info;
    FloatTensor w({2, 2 / c.group, 3, 3});
    std::uniform_int_distribution<int> pick(-3, 3);
    for (double& v : w.data()) v = pick(rng) / 3.0;
    w[0] = 1.0;  // the largest magnitude: weight scale 1/3 at 3 bits, exact
    add_constant(g, "w", w);
    const std::int64_t co = 2;
    add_node(g, "ConvTranspose", {"x", "w"}, "y", {1, co, c.out, c.out},
             {{"strides", ints({c.stride, c.stride})},
              {"pads", ints({c.pad, c.pad, c.pad, c.pad})},
              {"output_padding", ints({c.output_padding, c.output_padding})},
              {"dilations", ints({c.dilation, c.dilation})},
              {"group", integer(c.group)},
              {"kernel_shape", ints({3, 3})}});
    g.outputs.push_back({"y", g.values["y"]});
    // Inputs on the integer grid 0..7 (3-bit input quantizer of scale 1, zero point 0).
    std::vector<FloatTensor> calibration;
    std::uniform_int_distribution<int> level(0, 7);
    for (int i = 0; i < 12; ++i) {
      FloatTensor t({1, 2, 3, 3});
      for (double& v : t.data()) v = level(rng);
      t[0] = 0;
      t[1] = 7;
      calibration.push_back(t);
    }
    NetworkOptions options;
    options.bits = {3, 3, 3, 8};
    QuantizedNetwork q(g, calibration, options);
    const std::vector<double> y = q.forward(flat(calibration), calibration.size(), Mode::Clear);
    for (std::size_t i = 0; i < calibration.size(); ++i) {
      const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
      for (std::size_t k = 0; k < ref.size(); ++k)
        ASSERT_NEAR(y[i * ref.size() + k], ref[k], 1e-9)
            << "group " << c.group << ", stride " << c.stride << ", element " << k;
    }
    q.compile(calibration, {}, test_seed());
    const circuit::Tensor qx = q.quantize_input(flat(calibration), calibration.size());
    const circuit::Tensor two(
        {2, 18}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 36));
    EXPECT_EQ(q.run_integer(two, Mode::Execute), q.run_integer(two, Mode::Clear));
  }
}

// A final Softmax runs on the client: no lookup for it, and the probabilities follow the float
// graph's; inside the network it is refused, naming the node.
TEST(QuantizedNetwork, FinalSoftmaxRunsOnTheClient) {
  std::mt19937_64 rng(41);
  Graph g = mlp(rng);
  g.nodes.pop_back();  // the Sigmoid
  add_node(g, "Softmax", {"logits"}, "p", {1, 3}, {{"axis", integer(1)}});
  g.outputs = {{"p", g.values["p"]}};
  const std::vector<FloatTensor> calibration = samples(rng, g, 30);
  const QuantizedNetwork q(g, calibration);
  EXPECT_EQ(q.lowered().lookups.size(), 1u);  // the hidden layer's ReLU only
  ASSERT_TRUE(q.output().has_post_processing());
  const std::vector<double> y = q.forward(flat(calibration), calibration.size(), Mode::Clear);
  for (std::size_t i = 0; i < calibration.size(); ++i) {
    const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
    EXPECT_NEAR(y[i * 3] + y[i * 3 + 1] + y[i * 3 + 2], 1.0, 1e-12);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(y[i * 3 + k], ref[k], 0.1);
  }
  Graph inside = g;
  add_node(inside, "Relu", {"p"}, "r", {1, 3});
  add_constant(inside, "w3", random_tensor(rng, {3, 2}, 1.0));
  add_node(inside, "MatMul", {"r", "w3"}, "z", {1, 2});
  inside.outputs = {{"z", inside.values["z"]}};
  try {
    QuantizedNetwork bad(inside, calibration);
    ADD_FAILURE() << "expected UnsupportedOperator";
  } catch (const UnsupportedOperator& e) {
    EXPECT_NE(std::string(e.what()).find("Softmax"), std::string::npos) << e.what();
  }
}

TEST(QuantizedNetwork, ErrorsNameWhatToDo) {
  std::mt19937_64 rng(5);
  Graph g = mlp(rng);
  const std::vector<FloatTensor> calibration = samples(rng, g, 10);
  EXPECT_THROW(QuantizedNetwork(g, {}), InvalidArgument);
  NetworkOptions bad;
  bad.bits.op_weights = 0;
  EXPECT_THROW(QuantizedNetwork(g, calibration, bad), InvalidArgument);
  QuantizedNetwork q(g, calibration);
  EXPECT_THROW(q.quantize_input(std::vector<double>(5, 0.0), 1), InvalidArgument);
  EXPECT_THROW(q.quantize_input(std::vector<double>{0, 1, NAN, 2}, 1), InvalidArgument);
  EXPECT_THROW(q.run_integer(circuit::Tensor({1, 4}, {0, 0, 0, 0}), Mode::Execute),
               InvalidArgument);  // not compiled
  // A matrix product of two encrypted tensors.
  Graph square = g;
  onnx::Attribute perm = ints({1, 0});
  add_node(square, "Transpose", {"a"}, "at", {8, 1}, {{"perm", perm}});
  add_node(square, "MatMul", {"a", "at"}, "aa", {1, 1});
  square.outputs = {{"aa", square.values["aa"]}};
  try {
    QuantizedNetwork bad_graph(square, calibration);
    ADD_FAILURE() << "expected UnsupportedOperator";
  } catch (const UnsupportedOperator& e) {
    EXPECT_NE(std::string(e.what()).find("MatMul"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("aa_node"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace torusml::ml
