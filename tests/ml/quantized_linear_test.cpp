// Quantized linear models: quantization accuracy, the lowered program, and the three modes
// (clear int64, simulation, real encryption with real keys) returning identical integers, over
// single and multiple outputs, 1 to 16 bits, inputs outside the calibration range, and batches
// larger than one execution chunk; plus every rejected argument.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "torusml/common/error.h"
#include "torusml/ml/quantized_linear.h"

namespace torusml::ml {
namespace {

using circuit::Mode;

Matrix random_matrix(std::mt19937_64& rng, std::size_t rows, std::size_t cols, double lo,
                     double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  Matrix m(rows, cols);
  for (double& v : m.values()) v = d(rng);
  return m;
}

// x @ w + b in doubles.
Matrix float_forward(const Matrix& x, const Matrix& w, const std::vector<double>& b) {
  Matrix y(x.rows(), w.cols());
  for (std::size_t r = 0; r < x.rows(); ++r)
    for (std::size_t k = 0; k < w.cols(); ++k) {
      double s = b[k];
      for (std::size_t j = 0; j < x.cols(); ++j) s += x(r, j) * w(j, k);
      y(r, k) = s;
    }
  return y;
}

tfhe::Seed test_seed() {
  tfhe::Seed s{};
  s.fill(0x42);
  return s;
}

struct Case {
  std::size_t features, outputs;
  LinearBits bits;
};

class ModesAgree : public ::testing::TestWithParam<Case> {};

TEST_P(ModesAgree, ClearSimulateAndExecuteReturnIdenticalResults) {
  const Case c = GetParam();
  std::mt19937_64 rng(c.features * 131 + c.outputs * 7 + c.bits.inputs);
  // Features on very different scales and offsets.
  Matrix x = random_matrix(rng, 60, c.features, -1.0, 1.0);
  for (std::size_t j = 0; j < c.features; ++j)
    for (std::size_t r = 0; r < x.rows(); ++r)
      x(r, j) = x(r, j) * std::pow(10.0, static_cast<double>(j % 4) - 1) + static_cast<double>(j);
  const Matrix w = random_matrix(rng, c.features, c.outputs, -2.0, 2.0);
  std::vector<double> b(c.outputs);
  for (auto& v : b) v = std::uniform_real_distribution<double>(-3, 3)(rng);

  QuantizedLinear q(w, b, x, c.bits);
  q.compile(x, {}, test_seed());
  EXPECT_FALSE(q.compiled_circuit().parameters().uses_pbs);
  EXPECT_EQ(q.compiled_circuit().statistics().pbs_count, 0u);

  // Test inputs beyond the calibration range too (clipped by the quantizers).
  Matrix test = random_matrix(rng, 25, c.features, -3.0, 3.0);
  for (std::size_t j = 0; j < c.features; ++j)
    for (std::size_t r = 0; r < test.rows(); ++r) test(r, j) = test(r, j) + static_cast<double>(j);
  const circuit::Tensor qx = q.quantize_input(test);
  const circuit::Tensor clear = q.run_integer(qx, Mode::Clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Simulate, 3), clear);
  EXPECT_EQ(q.run_integer(qx, Mode::Execute), clear);
  const circuit::Tensor batched[] = {qx};
  EXPECT_EQ(q.compiled_circuit().evaluate(batched, Mode::Clear)[0], clear);
  EXPECT_EQ(q.predict(test, Mode::Execute), q.predict(test, Mode::Clear));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ModesAgree,
                         ::testing::Values(Case{4, 1, {2, 2}}, Case{4, 1, {8, 8}},
                                           Case{30, 1, {8, 8}}, Case{13, 3, {8, 8}},
                                           Case{7, 2, {1, 1}}, Case{5, 4, {3, 6}},
                                           Case{10, 1, {16, 16}}, Case{3, 2, {16, 4}}));

TEST(QuantizedLinear, EightBitsApproximateTheFloatModel) {
  std::mt19937_64 rng(11);
  const Matrix x = random_matrix(rng, 200, 10, -2.0, 5.0);
  const Matrix w = random_matrix(rng, 10, 2, -1.0, 1.0);
  const std::vector<double> b = {0.5, -1.25};
  const QuantizedLinear q(w, b, x, {8, 8});
  const Matrix exact = float_forward(x, w, b), approx = q.predict(x, Mode::Clear);
  double max_err = 0, max_abs = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    max_err = std::max(max_err, std::fabs(exact.values()[i] - approx.values()[i]));
    max_abs = std::max(max_abs, std::fabs(exact.values()[i]));
  }
  EXPECT_LT(max_err, 0.03 * max_abs) << "max error " << max_err << " for outputs up to " << max_abs;
  // At 16 bits the error is far smaller.
  const QuantizedLinear q16(w, b, x, {16, 16});
  const Matrix approx16 = q16.predict(x, Mode::Clear);
  for (std::size_t i = 0; i < exact.size(); ++i)
    EXPECT_NEAR(approx16.values()[i], exact.values()[i], 1e-3 * max_abs);
}

TEST(QuantizedLinear, QuantizationParametersAreConsistent) {
  std::mt19937_64 rng(5);
  const Matrix x = random_matrix(rng, 50, 3, 10.0, 20.0);
  const Matrix w = Matrix::from_rows({{1.0, 0.0}, {-2.0, 0.5}, {0.0, 0.25}});
  const std::vector<double> b = {1.0, 2.0};
  const QuantizedLinear q(w, b, x, {4, 6});
  ASSERT_EQ(q.input_quantizers().size(), 3u);
  for (const auto& iq : q.input_quantizers()) {
    EXPECT_EQ(iq.n_bits(), 4u);
    EXPECT_FALSE(iq.is_signed());
  }
  EXPECT_EQ(q.weight_quantizer().n_bits(), 6u);
  EXPECT_TRUE(q.weight_quantizer().is_signed());
  // Zero weights stay exactly zero; every integer weight fits the weight width.
  EXPECT_EQ(q.integer_weights().at({0, 1}), 0);
  EXPECT_EQ(q.integer_weights().at({2, 0}), 0);
  for (std::int64_t v : q.integer_weights().values()) EXPECT_LE(std::abs(v), 63);
  // offset = q_b - z_x @ W'.
  for (std::size_t k = 0; k < 2; ++k) {
    std::int64_t expect = q.quantized_bias()[k];
    for (std::size_t j = 0; j < 3; ++j)
      expect -= q.input_quantizers()[j].zero_point() * q.integer_weights()[j * 2 + k];
    EXPECT_EQ(q.output_offsets()[k], expect);
  }
  // The program is one encrypted matmul.
  const std::string text = q.program().to_text();
  EXPECT_NE(text.find("matmul"), std::string::npos) << text;
}

TEST(QuantizedLinear, LargeBatchesRunInChunks) {
  std::mt19937_64 rng(9);
  const Matrix x = random_matrix(rng, 40, 30, -1.0, 1.0);
  const Matrix w = random_matrix(rng, 30, 1, -1.0, 1.0);
  QuantizedLinear q(w, std::vector<double>{0.1}, x, {8, 8});
  q.compile(x, {}, test_seed());
  const Matrix big = random_matrix(rng, 157, 30, -1.0, 1.0);  // many chunks, a ragged last one
  const circuit::Tensor qx = q.quantize_input(big);
  EXPECT_EQ(q.run_integer(qx, Mode::Execute), q.run_integer(qx, Mode::Clear));
  // One row works too.
  const Matrix one = random_matrix(rng, 1, 30, -1.0, 1.0);
  EXPECT_EQ(q.predict(one, Mode::Execute), q.predict(one, Mode::Clear));
}

TEST(QuantizedLinear, ZeroWeightsAndConstantFeatures) {
  Matrix x(20, 3);
  for (std::size_t r = 0; r < 20; ++r) {
    x(r, 0) = static_cast<double>(r);
    x(r, 1) = 4.0;  // constant feature
    x(r, 2) = -static_cast<double>(r) / 3;
  }
  QuantizedLinear zero(Matrix(3, 1), std::vector<double>{2.0}, x, {8, 8});
  zero.compile(x, {}, test_seed());
  const Matrix y = zero.predict(x, Mode::Execute);
  for (double v : y.values()) EXPECT_DOUBLE_EQ(v, 2.0);
  QuantizedLinear some(Matrix::column({1.0, 2.0, 0.0}), std::vector<double>{0.0}, x, {8, 8});
  some.compile(x, {}, test_seed());
  EXPECT_EQ(some.predict(x, Mode::Execute), some.predict(x, Mode::Clear));
  const Matrix exact = float_forward(x, Matrix::column({1.0, 2.0, 0.0}), {0.0});
  const Matrix approx = some.predict(x, Mode::Clear);
  for (std::size_t r = 0; r < 20; ++r) EXPECT_NEAR(approx(r, 0), exact(r, 0), 0.15);  // < 1%
}

TEST(QuantizedLinear, WidthsFollowFromTheBitsWhateverTheWeights) {
  // Nearly equal positive weights: a tight weight range would need a huge zero point.
  std::mt19937_64 rng(21);
  const Matrix x = random_matrix(rng, 30, 5, 0.0, 1.0);
  const Matrix w = Matrix::column({1.0, 1.0 + 1e-12, 1.0, 1.0 - 1e-12, 1.0});
  for (unsigned bits : {2u, 8u, 16u}) {
    QuantizedLinear q(w, std::vector<double>{0.5}, x, {bits, bits});
    for (std::int64_t v : q.integer_weights().values())
      EXPECT_LT(std::abs(v), std::int64_t{1} << bits);
    q.compile(x, {}, test_seed());
    // n_i + n_w bits per product, 3 more for the sum of 5, 1 for the sign.
    EXPECT_LE(q.compiled_circuit().statistics().max_bit_width, 2 * bits + 3 + 1);
    EXPECT_EQ(q.predict(x, Mode::Execute), q.predict(x, Mode::Clear));
  }
}

TEST(QuantizedLinear, CompileOptionsReachTheCircuit) {
  std::mt19937_64 rng(3);
  const Matrix x = random_matrix(rng, 30, 8, -1.0, 1.0);
  QuantizedLinear q(random_matrix(rng, 8, 2, -1, 1), std::vector<double>{0, 0}, x, {8, 8});
  circuit::CompileOptions loose;
  loose.global_p_error = 0x1.0p-10;
  q.compile(x, loose, test_seed());
  EXPECT_LE(q.compiled_circuit().statistics().log2_global_p_error, -10 + 1e-6);
  const auto loose_n = q.compiled_circuit().parameters().leveled_dimension.value();
  circuit::CompileOptions strict;
  strict.p_error = 0x1.0p-80;
  q.compile(x, strict, test_seed());
  EXPECT_GT(q.compiled_circuit().parameters().leveled_dimension.value(), loose_n);
  const auto shared = q.shared_circuit();
  ASSERT_NE(shared, nullptr);
  EXPECT_NE(shared->describe().find("leveled"), std::string::npos);
}

TEST(QuantizedLinear, RejectsInvalidArguments) {
  std::mt19937_64 rng(1);
  const Matrix x = random_matrix(rng, 10, 4, -1.0, 1.0);
  const Matrix w = random_matrix(rng, 4, 1, -1.0, 1.0);
  const std::vector<double> b = {0.0};
  EXPECT_THROW(QuantizedLinear(w, b, x, {0, 8}), InvalidArgument);
  EXPECT_THROW(QuantizedLinear(w, b, x, {8, 17}), InvalidArgument);
  EXPECT_THROW(QuantizedLinear(w, std::vector<double>{0.0, 1.0}, x), InvalidArgument);
  EXPECT_THROW(QuantizedLinear(Matrix(), std::vector<double>{}, x), InvalidArgument);
  EXPECT_THROW(QuantizedLinear(w, b, random_matrix(rng, 10, 3, 0, 1)), InvalidArgument);
  EXPECT_THROW(QuantizedLinear(w, b, Matrix(0, 4)), InvalidArgument);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Matrix bad = x;
  bad(3, 2) = nan;
  EXPECT_THROW(QuantizedLinear(w, b, bad), InvalidArgument);
  Matrix bad_w = w;
  bad_w(0, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(QuantizedLinear(bad_w, b, x), InvalidArgument);
  EXPECT_THROW(QuantizedLinear(w, std::vector<double>{nan}, x), InvalidArgument);

  QuantizedLinear q(w, b, x);
  EXPECT_FALSE(q.is_compiled());
  EXPECT_EQ(q.shared_circuit(), nullptr);
  EXPECT_THROW(q.predict(x, Mode::Execute), InvalidArgument);
  EXPECT_THROW(q.predict(x, Mode::Simulate), InvalidArgument);
  EXPECT_THROW(q.compiled_circuit(), InvalidArgument);
  EXPECT_THROW(q.keys(), InvalidArgument);
  EXPECT_NO_THROW(q.predict(x, Mode::Clear));
  try {
    q.predict(random_matrix(rng, 2, 5, 0, 1), Mode::Clear);
    ADD_FAILURE() << "a wrong feature count must throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("5 features"), std::string::npos) << e.what();
  }
  EXPECT_THROW(q.predict(bad, Mode::Clear), InvalidArgument);
  EXPECT_THROW(q.predict(Matrix(0, 4), Mode::Clear), InvalidArgument);
  EXPECT_THROW(q.compile(bad), InvalidArgument);
  EXPECT_THROW(q.integer_forward(circuit::Tensor({1, 4}, {0, 1, 2, 256})), InvalidArgument);
  EXPECT_THROW(q.integer_forward(circuit::Tensor({1, 4}, {0, -1, 2, 3})), InvalidArgument);
  EXPECT_THROW(q.integer_forward(circuit::Tensor({4}, {0, 1, 2, 3})), InvalidArgument);
  EXPECT_THROW(q.dequantize_output(circuit::Tensor({1, 2}, {0, 1})), InvalidArgument);
}

}  // namespace
}  // namespace torusml::ml
