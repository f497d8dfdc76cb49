// Quantized networks: graphs built in memory (the onnx layer's float graph), lowered to circuits;
// clear, simulated and encrypted runs agree exactly, and the quantized outputs follow the float
// graph within the quantization's error.
#include "torusml/ml/nn/quantized_network.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <optional>
#include <random>
#include <set>

#include "../../onnx/model_builder.h"
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

// Exact rounding of accumulators wider than a lookup (circuit/compile/exact_rounding.h): 6-bit
// inputs and weights make accumulators of 11 bits or more, rounded exactly to 6 bits before each
// lookup; encrypted and simulated runs equal the clear ones, and the statistics count the
// rounding's bootstraps.
TEST(QuantizedNetwork, ExactRoundingOfWideAccumulators) {
  std::mt19937_64 rng(17);
  const Graph g = mlp(rng);
  const std::vector<FloatTensor> calibration = samples(rng, g, 40);
  NetworkOptions options;
  options.bits = {6, 6, 6, 6};
  options.rounding_threshold_bits = 6;
  options.rounding_mode = circuit::RoundingMode::Exact;
  QuantizedNetwork q(g, calibration, options);
  unsigned widest = 0;
  for (const NetworkLookup& l : q.lowered().lookups) {
    widest = std::max(widest, l.accumulator_bits);
    EXPECT_EQ(l.accumulator_bits - l.lsbs_removed, 6u) << l.name;
  }
  EXPECT_GT(widest, 10u);
  q.compile(calibration, {}, test_seed());
  const circuit::Tensor qx = q.quantize_input(flat(calibration), calibration.size());
  const circuit::Tensor clear = q.run_integer(qx, Mode::Clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Simulate, 3), clear);
  const circuit::Tensor few(
      {2, 4}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 8));
  EXPECT_EQ(q.run_integer(few, Mode::Execute), q.run_integer(few, Mode::Clear));
  const circuit::CircuitStatistics& s = q.compiled_circuit().statistics();
  EXPECT_GT(s.exact_rounding_pbs_count, 0u);
  EXPECT_LE(s.max_table_bits, 7u);
  EXPECT_NE(q.statistics_text().find("after an exact rounding of"), std::string::npos)
      << q.statistics_text();
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

// --- Per-channel weight scales (QDQ models) ------------------------------------------------------

namespace ob = onnx::testing;

// Adds to `b`: x -> Clip -> QuantizeLinear -> DequantizeLinear (uint8 zero point `zp`, the clip
// range 2^bits levels of `scale`); returns the dequantized name.
std::string qdq_activation(ob::ModelBuilder& b, const std::string& x, double scale, std::int64_t zp,
                           unsigned bits) {
  b.initializer(x + "_lo", ob::T({}, {-static_cast<double>(zp) * scale}));
  b.initializer(x + "_hi",
                ob::T({}, {static_cast<double>((std::int64_t{1} << bits) - 1 - zp) * scale}));
  b.initializer(x + "_s", ob::T({}, {scale}));
  b.initializer(x + "_z", ob::T({}, {static_cast<double>(zp)}), onnx::ElementType::UInt8);
  b.node("Clip", {x, x + "_lo", x + "_hi"}, {x + "_c"});
  b.node("QuantizeLinear", {x + "_c", x + "_s", x + "_z"}, {x + "_q"});
  b.node("DequantizeLinear", {x + "_q", x + "_s", x + "_z"}, {x + "_dq"});
  return x + "_dq";
}

// Adds int8 weights stored as q = integers + zero_point (per index along `axis`: one scale and
// zero point each, or one for all when `scales` has one value) and their DequantizeLinear, as a
// quantization-aware export writes them; returns the dequantized name.
std::string qdq_weights(ob::ModelBuilder& b, const std::string& name, const FloatTensor& integers,
                        const std::vector<double>& scales, const std::vector<double>& zero_points,
                        std::int64_t axis) {
  FloatTensor q = integers;
  const onnx::Shape& shape = integers.shape();
  const std::size_t a =
      static_cast<std::size_t>(axis < 0 ? axis + static_cast<std::int64_t>(shape.size()) : axis);
  std::size_t inner = 1;
  for (std::size_t d = a + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
  for (std::size_t i = 0; i < q.size(); ++i)
    q.data()[i] += zero_points[(i / inner) % zero_points.size()];
  const bool per_axis = scales.size() > 1;
  const auto n = static_cast<std::int64_t>(scales.size());
  b.initializer(name + "_q", q, onnx::ElementType::Int8);
  b.initializer(name + "_s", per_axis ? ob::T({n}, scales) : ob::T({}, scales));
  b.initializer(name + "_z", per_axis ? ob::T({n}, zero_points) : ob::T({}, zero_points),
                onnx::ElementType::Int8);
  auto& dq = b.node("DequantizeLinear", {name + "_q", name + "_s", name + "_z"}, {name});
  if (per_axis) ob::set_int(dq, "axis", axis);
  return name;
}

FloatTensor random_integers(std::mt19937_64& rng, onnx::Shape shape, int lo, int hi) {
  std::uniform_int_distribution<int> pick(lo, hi);
  FloatTensor t(std::move(shape));
  for (double& v : t.data()) v = pick(rng);
  return t;
}

std::vector<FloatTensor> uniform_samples(std::mt19937_64& rng, const onnx::Shape& shape,
                                         std::size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<FloatTensor> s;
  for (std::size_t i = 0; i < n; ++i) {
    FloatTensor t(shape);
    for (double& v : t.data()) v = d(rng);
    s.push_back(std::move(t));
  }
  return s;
}

// Whether the program holds a clear constant of the values of `integers` (row-major, whatever its
// shape: a 1-D convolution's kernel is a 2-D one of height 1), or for a matrix of its transpose
// (Gemm's transB is applied to the constant).
bool program_holds(const circuit::Program& program, const FloatTensor& integers) {
  std::vector<std::int64_t> v(integers.values().begin(), integers.values().end());
  std::vector<std::int64_t> vt;
  circuit::Shape st;
  if (integers.rank() == 2) {
    const std::int64_t r = integers.shape()[0], c = integers.shape()[1];
    st = {c, r};
    for (std::int64_t j = 0; j < c; ++j)
      for (std::int64_t i = 0; i < r; ++i) vt.push_back(v[static_cast<std::size_t>(i * c + j)]);
  }
  for (const circuit::Node& n : program.nodes) {
    if (n.op != circuit::OpKind::Constant) continue;
    const circuit::Tensor& t = std::get<circuit::ConstantAttr>(n.attributes).value;
    const std::vector<std::int64_t> tv(t.values().begin(), t.values().end());
    if (tv == v || (!vt.empty() && t.shape() == st && tv == vt)) return true;
  }
  return false;
}

// A CNN exported in QDQ form with per-channel weights (torch.ao's per_channel_symmetric, plus
// per-channel zero points on the first convolution): a 2-bit input, Conv 2x2 with three output
// channels of three different scales -> AveragePool 2x2 -> Relu -> 3-bit QDQ -> depthwise Conv
// 1x1 (per channel) -> Flatten -> Relu -> 3-bit QDQ -> Gemm (transB, per output feature). The
// lowering keeps the model's own integers (q - zero_point) and carries each output channel's
// scale s_x s_w[o] through the pooling, the flattening and into the lookups (one table per
// channel) and the outputs: no re-quantization anywhere, so that the clear integers, dequantized,
// equal the float graph's outputs (biases on their accumulators' grids, scales powers of 2); the
// encrypted run equals the clear one.
TEST(QuantizedNetwork, PerChannelQdqConvAndGemmKeepTheirIntegers) {
  std::mt19937_64 rng(41);
  ob::ModelBuilder b(13);
  b.input("x", {1, 1, 5, 5});
  const std::string xq = qdq_activation(b, "x", 0.25, 2, 2);  // levels 0..3
  const FloatTensor k1 = random_integers(rng, {3, 1, 2, 2}, -2, 2);
  const std::vector<double> s1{0.5, 0.125, 0.03125};
  const std::string w1 = qdq_weights(b, "w1", k1, s1, {0, 2, -1}, 0);
  FloatTensor b1({3});
  for (std::size_t o = 0; o < 3; ++o) b1.data()[o] = (static_cast<double>(o) - 1) * 0.25 * s1[o];
  b.initializer("b1", b1);
  ob::set_ints(b.node("Conv", {xq, w1, "b1"}, {"conv1"}), "kernel_shape", {2, 2});  // 1x3x4x4
  auto& pool = b.node("AveragePool", {"conv1"}, {"pool"});
  ob::set_ints(pool, "kernel_shape", {2, 2});
  ob::set_ints(pool, "strides", {2, 2});  // 1x3x2x2
  b.node("Relu", {"pool"}, {"relu1"});
  const std::string a1 = qdq_activation(b, "relu1", 0.0625, 0, 3);
  const FloatTensor k2 = random_integers(rng, {3, 1, 1, 1}, 1, 3);
  const std::string w2 = qdq_weights(b, "w2", k2, {0.25, 0.5, 1.0}, {0, 0, 0}, 0);
  auto& depthwise = b.node("Conv", {a1, w2}, {"conv2"});
  ob::set_ints(depthwise, "kernel_shape", {1, 1});
  ob::set_int(depthwise, "group", 3);
  ob::set_int(b.node("Flatten", {"conv2"}, {"flat"}), "axis", 1);  // 1x12
  b.node("Relu", {"flat"}, {"relu2"});
  const std::string a2 = qdq_activation(b, "relu2", 0.125, 0, 3);
  const FloatTensor k3 = random_integers(rng, {2, 12}, -3, 3);
  const std::vector<double> s3{0.5, 0.0625};
  const std::string w3 = qdq_weights(b, "w3", k3, s3, {0, 0}, 0);
  b.initializer("b3", ob::T({2}, {3 * 0.125 * s3[0], -5 * 0.125 * s3[1]}));
  ob::set_int(b.node("Gemm", {a2, w3, "b3"}, {"y"}), "transB", 1);
  b.output("y");
  const Graph g = b.load();

  const std::vector<FloatTensor> calibration = uniform_samples(rng, {1, 1, 5, 5}, 40, -0.6, 0.35);
  NetworkOptions options;                // 8 bits by default: the QDQ nodes decide instead
  options.rounding_threshold_bits = 16;  // no rounding: the clear run is the QDQ model exactly
  QuantizedNetwork q(g, calibration, options);
  EXPECT_EQ(q.input_quantizer(), UniformQuantizer({2, false, false}, 0.25, 2));
  // The model's integers, not re-quantized ones.
  EXPECT_TRUE(program_holds(q.lowered().program, k1));
  EXPECT_TRUE(program_holds(q.lowered().program, k2));
  EXPECT_TRUE(program_holds(q.lowered().program, k3));
  // Two lookups (the activations' Relu + QDQ), each with a table per channel; no re-quantization.
  const auto& lookups = q.lowered().lookups;
  ASSERT_EQ(lookups.size(), 2u);
  const std::vector<std::string> activation{"Relu", "Clip", "QuantizeLinear", "DequantizeLinear"};
  EXPECT_EQ(lookups[0].ops, activation);
  EXPECT_EQ(lookups[1].ops, activation);
  EXPECT_EQ(lookups[0].lookups, 12u);
  EXPECT_GE(lookups[0].tables, 3u);
  EXPECT_EQ(lookups[1].lookups, 12u);
  // The output's scale per element: s_a2 s_w3[o].
  EXPECT_EQ(q.output().scales, (std::vector<double>{0.125 * s3[0], 0.125 * s3[1]}));

  const std::vector<double> x = flat(calibration);
  const circuit::Tensor qx = q.quantize_input(x, calibration.size());
  const circuit::Tensor clear = q.run_integer(qx, Mode::Clear);
  const std::vector<double> y = q.dequantize_output(clear);
  std::set<std::vector<double>> distinct;
  for (std::size_t i = 0; i < calibration.size(); ++i) {
    const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
    distinct.insert(std::vector<double>(ref.values().begin(), ref.values().end()));
    for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(y[i * 2 + k], ref[k], 1e-9) << i << " " << k;
  }
  EXPECT_GT(distinct.size(), 5u);  // the network is not trivial on these samples

  q.compile(calibration, {}, test_seed());
  EXPECT_LE(q.compiled_circuit().statistics().max_table_bits, 7u);
  const circuit::Tensor few(
      {3, 25}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 75));
  const circuit::Tensor few_clear = q.run_integer(few, Mode::Clear);
  EXPECT_EQ(q.run_integer(few, Mode::Execute), few_clear);
  EXPECT_EQ(q.run_integer(few, Mode::Simulate, 3), few_clear);
}

// One linear layer with per-axis QDQ weights on its output channels: MatMul (axis -1), Gemm
// (transB and alpha, or not), a grouped 1-D Conv, ConvTranspose (axis 1, groups): the accumulator
// keeps each channel's scale, so the clear result, dequantized, is the float graph's exactly
// (biases on their grids). A per-axis grid on an input axis cannot be kept exactly: those weights
// are quantized per tensor (op_weights bits) and the result stays close.
struct LinearCase {
  std::string name;
  std::string op;
  onnx::Shape x_shape, w_shape;
  std::int64_t axis;  // of the weights' DequantizeLinear
  std::function<void(::onnx::NodeProto&)> attributes;
  bool exact;
};

class PerChannelLinear : public ::testing::TestWithParam<LinearCase> {};

TEST_P(PerChannelLinear, KeepsEachOutputChannelsScale) {
  const LinearCase& c = GetParam();
  std::mt19937_64 rng(43);
  ob::ModelBuilder b(13);
  b.input("x", c.x_shape);
  const std::string xq = qdq_activation(b, "x", 0.25, 4, 3);
  const std::size_t axis = static_cast<std::size_t>(
      c.axis < 0 ? c.axis + static_cast<std::int64_t>(c.w_shape.size()) : c.axis);
  const auto channels = static_cast<std::size_t>(c.w_shape[axis]);
  std::vector<double> scales, zero_points;
  for (std::size_t o = 0; o < channels; ++o) {
    scales.push_back(std::ldexp(1.0, -static_cast<int>(o % 4)));
    zero_points.push_back(static_cast<double>(o % 3) - 1);
  }
  const FloatTensor k = random_integers(rng, c.w_shape, -3, 3);
  const std::string w = qdq_weights(b, "w", k, scales, zero_points, c.axis);
  auto& node = b.node(c.op, {xq, w}, {"y"});
  if (c.attributes) c.attributes(node);
  b.output("y");
  const Graph g = b.load();
  const std::vector<FloatTensor> calibration = uniform_samples(rng, c.x_shape, 30, -1.1, 0.8);
  NetworkOptions options;
  options.rounding_threshold_bits = 16;
  const QuantizedNetwork q(g, calibration, options);
  EXPECT_TRUE(q.lowered().lookups.empty());
  if (c.op != "ConvTranspose") {  // (its kernel is flipped into a convolution's)
    EXPECT_EQ(program_holds(q.lowered().program, k), c.exact);
  }
  EXPECT_EQ(q.output().scales.empty(), !c.exact);
  const std::vector<double> y = q.forward(flat(calibration), calibration.size(), Mode::Clear);
  const std::size_t per = y.size() / calibration.size();
  double worst = 0, magnitude = 0;
  for (std::size_t i = 0; i < calibration.size(); ++i) {
    const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
    ASSERT_EQ(ref.size(), per);
    for (std::size_t j = 0; j < per; ++j) {
      worst = std::max(worst, std::abs(y[i * per + j] - ref[j]));
      magnitude = std::max(magnitude, std::abs(ref[j]));
    }
  }
  EXPECT_GT(magnitude, 0.5);
  if (c.exact)
    EXPECT_LE(worst, 1e-9);
  else
    EXPECT_LE(worst, 0.05 * magnitude);  // 8-bit weights per tensor
}

INSTANTIATE_TEST_SUITE_P(
    Layers, PerChannelLinear,
    ::testing::Values(LinearCase{"MatMul", "MatMul", {1, 4}, {4, 5}, -1, {}, true},
                      LinearCase{"GemmTransB",
                                 "Gemm",
                                 {1, 4},
                                 {5, 4},
                                 0,
                                 [](auto& n) {
                                   ob::set_int(n, "transB", 1);
                                   ob::set_float(n, "alpha", 0.5f);
                                 },
                                 true},
                      LinearCase{"Gemm", "Gemm", {2, 4}, {4, 3}, 1, {}, true},
                      LinearCase{"GroupedConv1d",
                                 "Conv",
                                 {1, 2, 5},
                                 {4, 1, 2},
                                 0,
                                 [](auto& n) {
                                   ob::set_int(n, "group", 2);
                                   ob::set_ints(n, "pads", {1, 0});
                                 },
                                 true},
                      LinearCase{"ConvTranspose",
                                 "ConvTranspose",
                                 {1, 4, 2, 2},
                                 {4, 2, 2, 2},
                                 1,
                                 [](auto& n) {
                                   ob::set_int(n, "group", 2);
                                   ob::set_ints(n, "strides", {2, 2});
                                 },
                                 true},
                      LinearCase{
                          "InputAxisQuantizedPerTensor", "MatMul", {1, 4}, {4, 3}, 0, {}, false}),
    [](const ::testing::TestParamInfo<LinearCase>& p) { return p.param.name; });

// What meets a per-channel accumulator: a sum within each channel (GlobalAveragePool) keeps the
// channels' scales (no lookup; the outputs exact); a sum across channels of different scales
// (ReduceSum over the channel axis) reads them re-quantized to one scale first (one lookup per
// element, close to the float graph); so does an Add of two of them.
TEST(QuantizedNetwork, PerChannelAccumulatorsMixOnlyAfterARequantization) {
  auto graph = [](const std::string& consumer) {
    std::mt19937_64 rng(47);
    ob::ModelBuilder b(13);
    b.input("x", {1, 1, 3, 3});
    const std::string xq = qdq_activation(b, "x", 0.25, 4, 3);
    const std::string w = qdq_weights(b, "w", random_integers(rng, {3, 1, 2, 2}, -3, 3),
                                      {0.5, 0.25, 0.0625}, {0, 0, 0}, 0);
    ob::set_ints(b.node("Conv", {xq, w}, {"conv"}), "kernel_shape", {2, 2});  // 1x3x2x2
    if (consumer == "GlobalAveragePool") {
      b.node("GlobalAveragePool", {"conv"}, {"y"});
    } else if (consumer == "ReduceSum") {
      b.initializer("axes", ob::T({1}, {1}), onnx::ElementType::Int64);
      b.node("ReduceSum", {"conv", "axes"}, {"y"});
    } else {
      b.node("Add", {"conv", "conv"}, {"y"});
    }
    b.output("y");
    return b.load();
  };
  std::mt19937_64 rng(53);
  const std::vector<FloatTensor> calibration = uniform_samples(rng, {1, 1, 3, 3}, 30, -1.1, 0.8);
  for (const std::string consumer : {"GlobalAveragePool", "ReduceSum", "Add"}) {
    SCOPED_TRACE(consumer);
    const Graph g = graph(consumer);
    NetworkOptions options;
    options.rounding_threshold_bits = 16;
    QuantizedNetwork q(g, calibration, options);
    const bool within = consumer == "GlobalAveragePool";
    if (within) {
      EXPECT_TRUE(q.lowered().lookups.empty());
      EXPECT_EQ(q.output().scales, (std::vector<double>{0.125 / 4, 0.0625 / 4, 0.015625 / 4}));
    } else {
      ASSERT_FALSE(q.lowered().lookups.empty());
      EXPECT_EQ(q.lowered().lookups[0].ops, std::vector<std::string>{"Identity"});
      EXPECT_TRUE(q.output().scales.empty());
    }
    const std::vector<double> y = q.forward(flat(calibration), calibration.size(), Mode::Clear);
    const std::size_t per = y.size() / calibration.size();
    double worst = 0, magnitude = 0;
    for (std::size_t i = 0; i < calibration.size(); ++i) {
      const FloatTensor ref = onnx::evaluate_graph(g, std::span(&calibration[i], 1)).at(0);
      for (std::size_t j = 0; j < per; ++j) {
        worst = std::max(worst, std::abs(y[i * per + j] - ref[j]));
        magnitude = std::max(magnitude, std::abs(ref[j]));
      }
    }
    EXPECT_GT(magnitude, 0.5);
    EXPECT_LE(worst, within ? 1e-9 : 0.02 * magnitude);
    if (consumer == "ReduceSum") {  // and under encryption
      q.compile(calibration, {}, test_seed());
      const circuit::Tensor qx = q.quantize_input(flat(calibration), calibration.size());
      const circuit::Tensor few(
          {2, 9}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 18));
      EXPECT_EQ(q.run_integer(few, Mode::Execute), q.run_integer(few, Mode::Clear));
    }
  }
}

// --- Quantization-aware models as torch.ao exports them ------------------------------------------

// Adds to `b`: x -> QuantizeLinear -> Clip(lo, hi) -> DequantizeLinear, the Clip on the integers
// (uint8 bounds), as torch writes quant ranges narrower than 8 bits (reduce_range's 0..127, 4-bit
// activations' 0..15); returns the dequantized name.
std::string q_clip_dq(ob::ModelBuilder& b, const std::string& x, double scale, std::int64_t zp,
                      std::int64_t lo, std::int64_t hi) {
  b.initializer(x + "_s", ob::T({}, {scale}));
  b.initializer(x + "_z", ob::T({}, {static_cast<double>(zp)}), onnx::ElementType::UInt8);
  b.initializer(x + "_lo", ob::T({}, {static_cast<double>(lo)}), onnx::ElementType::UInt8);
  b.initializer(x + "_hi", ob::T({}, {static_cast<double>(hi)}), onnx::ElementType::UInt8);
  b.node("QuantizeLinear", {x, x + "_s", x + "_z"}, {x + "_q"});
  b.node("Clip", {x + "_q", x + "_lo", x + "_hi"}, {x + "_c"});
  b.node("DequantizeLinear", {x + "_c", x + "_s", x + "_z"}, {x + "_dq"}, x + "_dq_node");
  return x + "_dq";
}

// y (two outputs per sample) equals the float graph's outputs on `samples` within 1e-9, over at
// least six distinct outputs (a test that cannot pass by constant outputs).
void expect_equals_two_output_graph(const onnx::Graph& g, const std::vector<FloatTensor>& samples,
                                    const std::vector<double>& y) {
  std::set<std::vector<double>> distinct;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const FloatTensor ref = onnx::evaluate_graph(g, std::span(&samples[i], 1)).at(0);
    distinct.insert(std::vector<double>(ref.values().begin(), ref.values().end()));
    for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(y[i * 2 + k], ref[k], 1e-9) << i << " " << k;
  }
  EXPECT_GT(distinct.size(), 5u);
}

// A 4-bit QAT MLP in torch's QDQ form: the input QuantizeLinear -> Clip(0, 15) ->
// DequantizeLinear, per-channel int8 weights, Gemm -> Relu -> 4-bit QDQ (fused ReLU), then
// Gemm -> 4-bit QDQ with a zero point of 5 -> Relu after the DequantizeLinear (an unfused ReLU:
// torch gives it no quantizer of its own; it keeps the grid, integers 5..15), Gemm. The quantizers
// are the graph's: the client's input quantizer is 4 bits, each lookup outputs the model's 4-bit
// integers, and without rounding the clear run is the float graph exactly (the float biases, off
// the accumulators' grids as torch's QAT keeps them, included: the lookups and the client add
// what the integer bias lacks); with the automatic (exact) rounding, encrypted equals clear.
TEST(QuantizedNetwork, TorchQdqPatternsKeepTheirQuantizers) {
  std::mt19937_64 rng(47);
  ob::ModelBuilder b(13);
  b.input("x", {1, 4});
  const std::string xq = q_clip_dq(b, "x", 0.125, 8, 0, 15);
  const std::vector<double> s1{0.25, 0.125, 0.0625, 0.25, 0.5};
  const std::string w1 =
      qdq_weights(b, "w1", random_integers(rng, {5, 4}, -3, 3), s1, std::vector<double>(5, 0.0), 0);
  b.initializer("b1", ob::T({5}, {0.3, -0.07, 0.011, 0.2, -0.4}));  // float, off the grids
  ob::set_int(b.node("Gemm", {xq, w1, "b1"}, {"h1"}), "transB", 1);
  b.node("Relu", {"h1"}, {"r1"});
  const std::string a1 = q_clip_dq(b, "r1", 0.125, 0, 0, 15);
  const std::string w2 =
      qdq_weights(b, "w2", random_integers(rng, {3, 5}, -3, 3), {0.125}, {0.0}, 0);
  ob::set_int(b.node("Gemm", {a1, w2}, {"h2"}), "transB", 1);
  const std::string a2 = q_clip_dq(b, "h2", 0.25, 5, 0, 15);
  b.node("Relu", {a2}, {"r2"});
  const std::string w3 =
      qdq_weights(b, "w3", random_integers(rng, {2, 3}, -3, 3), {0.25}, {0.0}, 0);
  b.initializer("b3", ob::T({2}, {0.05, -0.3}));
  ob::set_int(b.node("Gemm", {"r2", w3, "b3"}, {"y"}), "transB", 1);
  b.output("y");
  const Graph g = b.load();

  const std::vector<FloatTensor> calibration = uniform_samples(rng, {1, 4}, 40, -1.2, 1.0);
  NetworkOptions options;                // 8 bits by default: the QDQ nodes decide instead
  options.rounding_threshold_bits = 16;  // no rounding: the clear run is the QDQ model exactly
  QuantizedNetwork q(g, calibration, options);
  EXPECT_EQ(q.input_quantizer(), UniformQuantizer({4, false, false}, 0.125, 8));
  const auto& lookups = q.lowered().lookups;
  ASSERT_EQ(lookups.size(), 2u);
  EXPECT_EQ(lookups[0].ops,
            (std::vector<std::string>{"Relu", "QuantizeLinear", "Clip", "DequantizeLinear"}));
  EXPECT_EQ(lookups[1].ops,
            (std::vector<std::string>{"QuantizeLinear", "Clip", "DequantizeLinear", "Relu"}));
  for (const NetworkLookup& l : lookups) {
    EXPECT_TRUE(l.quantization_aware) << l.name;
    EXPECT_EQ(l.output_bits, 4u) << l.name;  // 0..15, and 5..15 after the Relu
  }
  EXPECT_NE(q.statistics_text().find("4-bit output (the model's own quantizer)"), std::string::npos)
      << q.statistics_text();

  const std::vector<double> x = flat(calibration);
  const circuit::Tensor qx = q.quantize_input(x, calibration.size());
  for (std::int64_t v : qx.values()) ASSERT_TRUE(v >= 0 && v <= 15);
  const std::vector<double> y = q.dequantize_output(q.run_integer(qx, Mode::Clear));
  expect_equals_two_output_graph(g, calibration, y);

  // With the automatic rounding (exact, so that encryption changes nothing), narrow lookups that
  // still output the model's 4-bit integers; encrypted equals clear.
  options.rounding_threshold_bits = 0;
  options.rounding_mode = circuit::RoundingMode::Exact;
  QuantizedNetwork rounded(g, calibration, options);
  for (const NetworkLookup& l : rounded.lowered().lookups) {
    EXPECT_TRUE(l.quantization_aware) << l.name;
    EXPECT_EQ(l.output_bits, 4u) << l.name;
    EXPECT_GT(l.lsbs_removed, 0u) << l.name;
  }
  rounded.compile(calibration, {}, test_seed());
  EXPECT_LE(rounded.compiled_circuit().statistics().max_table_bits, 7u);
  const circuit::Tensor few(
      {3, 4}, std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 12));
  EXPECT_EQ(rounded.run_integer(few, Mode::Execute), rounded.run_integer(few, Mode::Clear));
}

// A float bias off the accumulator's grid stays exact through a sum of accumulators: a 4-bit
// input -> Conv (3 channels, per-channel scales, float bias) -> padded AveragePool
// (count_include_pad) -> Relu -> 4-bit QDQ -> Flatten -> Gemm (float bias) -> output. The clear
// run (no rounding) is the float graph up to double rounding.
TEST(QuantizedNetwork, FloatBiasesOffTheGridSurvivePoolingAndOutputs) {
  std::mt19937_64 rng(59);
  ob::ModelBuilder b(13);
  b.input("x", {1, 1, 4, 4});
  const std::string xq = q_clip_dq(b, "x", 0.25, 8, 0, 15);
  const std::string w1 = qdq_weights(b, "w1", random_integers(rng, {3, 1, 2, 2}, -3, 3),
                                     {0.25, 0.125, 0.5}, {0, 0, 0}, 0);
  b.initializer("b1", ob::T({3}, {0.11, -0.23, 0.37}));
  ob::set_ints(b.node("Conv", {xq, w1, "b1"}, {"conv"}), "kernel_shape", {2, 2});  // 1x3x3x3
  auto& pool = b.node("AveragePool", {"conv"}, {"pool"});
  ob::set_ints(pool, "kernel_shape", {2, 2});
  ob::set_ints(pool, "strides", {2, 2});
  ob::set_ints(pool, "pads", {0, 0, 1, 1});
  ob::set_int(pool, "count_include_pad", 1);  // 1x3x2x2
  b.node("Relu", {"pool"}, {"relu"});
  const std::string a = q_clip_dq(b, "relu", 0.125, 0, 0, 15);
  ob::set_int(b.node("Flatten", {a}, {"flat"}), "axis", 1);
  const std::string w2 =
      qdq_weights(b, "w2", random_integers(rng, {2, 12}, -3, 3), {0.0625}, {0.0}, 0);
  b.initializer("b2", ob::T({2}, {0.017, -0.29}));
  ob::set_int(b.node("Gemm", {"flat", w2, "b2"}, {"y"}), "transB", 1);
  b.output("y");
  const Graph g = b.load();

  const std::vector<FloatTensor> calibration = uniform_samples(rng, {1, 1, 4, 4}, 30, -1.5, 1.5);
  NetworkOptions options;
  options.rounding_threshold_bits = 16;
  const QuantizedNetwork q(g, calibration, options);
  ASSERT_EQ(q.lowered().lookups.size(), 1u);      // after the pooling, one table per channel
  EXPECT_TRUE(q.output().has_post_processing());  // the output bias's residual
  const std::vector<double> y = q.forward(flat(calibration), calibration.size(), Mode::Clear);
  expect_equals_two_output_graph(g, calibration, y);
}

// Quantization-aware patterns that cannot be imported exactly are errors naming the node: an
// activation quantized per channel (per-axis DequantizeLinear on an encrypted value), and an
// operation after the DequantizeLinear that leaves its grid before the next layer (a Clip to a
// bound between two grid points, e.g. an unquantized Hardtanh).
TEST(QuantizedNetwork, InexactQdqPatternsAreErrorsNamingTheNode) {
  std::mt19937_64 rng(53);
  auto build = [&](bool per_axis_activation) {
    ob::ModelBuilder b(13);
    b.input("x", {1, 4});
    const std::string xq = q_clip_dq(b, "x", 0.125, 8, 0, 15);
    const std::string w1 =
        qdq_weights(b, "w1", random_integers(rng, {3, 4}, -7, 7), {0.25}, {0.0}, 0);
    ob::set_int(b.node("Gemm", {xq, w1}, {"h1"}), "transB", 1);
    std::string a;
    if (per_axis_activation) {
      b.initializer("h1_s", ob::T({3}, {0.125, 0.25, 0.5}));
      b.initializer("h1_z", ob::T({3}, {0, 0, 0}), onnx::ElementType::UInt8);
      ob::set_int(b.node("QuantizeLinear", {"h1", "h1_s", "h1_z"}, {"h1_q"}), "axis", 1);
      ob::set_int(b.node("DequantizeLinear", {"h1_q", "h1_s", "h1_z"}, {"h1_dq"}, "per_axis_dq"),
                  "axis", 1);
      a = "h1_dq";
    } else {
      const std::string h1q = q_clip_dq(b, "h1", 0.125, 0, 0, 15);
      b.initializer("lo", ob::T({}, {0.0}));
      b.initializer("hi", ob::T({}, {1.3}));  // between 10 and 11 steps of 0.125
      b.node("Clip", {h1q, "lo", "hi"}, {"a"}, "hardtanh");
      a = "a";
    }
    const std::string w2 =
        qdq_weights(b, "w2", random_integers(rng, {2, 3}, -7, 7), {0.25}, {0.0}, 0);
    ob::set_int(b.node("Gemm", {a, w2}, {"y"}), "transB", 1);
    b.output("y");
    return b.load();
  };
  for (const bool per_axis : {true, false}) {
    const Graph g = build(per_axis);
    const std::vector<FloatTensor> calibration = uniform_samples(rng, {1, 4}, 10, -1.0, 1.0);
    try {
      QuantizedNetwork q(g, calibration);
      ADD_FAILURE() << "expected UnsupportedOperator";
    } catch (const UnsupportedOperator& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(per_axis ? "per_axis_dq" : "hardtanh"), std::string::npos) << what;
      EXPECT_NE(what.find(per_axis ? "per-axis" : "off that grid"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace torusml::ml
