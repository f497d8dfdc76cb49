// Uniform quantizers: calibration (asymmetric, symmetric, signed, constant data), rounding and
// clipping, round-trip error bounds, and every rejected argument.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "torusml/common/error.h"
#include "torusml/ml/quantizer.h"

namespace torusml::ml {
namespace {

TEST(Quantizer, UnsignedCalibrationMapsMinAndMaxToTheEnds) {
  const std::vector<double> x = {-1.0, 0.5, 3.0, 2.0};
  const UniformQuantizer q = UniformQuantizer::calibrate(x, {8, false, false});
  EXPECT_EQ(q.q_min(), 0);
  EXPECT_EQ(q.q_max(), 255);
  EXPECT_DOUBLE_EQ(q.scale(), 4.0 / 255.0);
  EXPECT_EQ(q.zero_point(), 64);  // round(1 / (4/255)) = round(63.75)
  EXPECT_EQ(q.quantize(-1.0), 0);
  EXPECT_EQ(q.quantize(3.0), 255);
  EXPECT_NEAR(q.dequantize(q.quantize(0.0)), 0.0, q.scale() / 2);
}

TEST(Quantizer, SignedCalibrationUsesTheSignedRange) {
  const std::vector<double> x = {-2.0, 6.0};
  const UniformQuantizer q = UniformQuantizer::calibrate(x, {4, true, false});
  EXPECT_EQ(q.q_min(), -8);
  EXPECT_EQ(q.q_max(), 7);
  EXPECT_EQ(q.quantize(-2.0), -8);
  EXPECT_EQ(q.quantize(6.0), 7);
  EXPECT_DOUBLE_EQ(q.scale(), 8.0 / 15.0);
}

TEST(Quantizer, SymmetricSignedHasZeroPointZero) {
  const std::vector<double> x = {-0.5, 2.0, 1.0};
  const UniformQuantizer q = UniformQuantizer::calibrate(x, {8, true, true});
  EXPECT_EQ(q.zero_point(), 0);
  EXPECT_DOUBLE_EQ(q.scale(), 2.0 / 127.0);
  EXPECT_EQ(q.quantize(2.0), 127);
  EXPECT_EQ(q.quantize(-2.0), -127);
  EXPECT_EQ(q.quantize(0.0), 0);
}

TEST(Quantizer, SymmetricUnsignedClipsNegativeValues) {
  const std::vector<double> x = {-1.0, 3.0};
  const UniformQuantizer q = UniformQuantizer::calibrate(x, {2, false, true});
  EXPECT_EQ(q.zero_point(), 0);
  EXPECT_DOUBLE_EQ(q.scale(), 1.0);
  EXPECT_EQ(q.quantize(-1.0), 0);
  EXPECT_EQ(q.quantize(3.0), 3);
  EXPECT_EQ(q.quantize(100.0), 3);
}

TEST(Quantizer, RoundsHalfToEvenAndClips) {
  const UniformQuantizer q({8, true, false}, 1.0, 0);
  EXPECT_EQ(q.quantize(0.5), 0);
  EXPECT_EQ(q.quantize(1.5), 2);
  EXPECT_EQ(q.quantize(2.5), 2);
  EXPECT_EQ(q.quantize(-0.5), 0);
  EXPECT_EQ(q.quantize(-1.5), -2);
  EXPECT_EQ(q.quantize(1e300), 127);
  EXPECT_EQ(q.quantize(-1e300), -128);
}

TEST(Quantizer, RoundTripErrorIsAtMostHalfAScale) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> d(-37.0, 12.5);
  for (unsigned bits : {1u, 2u, 3u, 5u, 8u, 12u, 16u}) {
    for (bool is_signed : {false, true}) {
      std::vector<double> x(500);
      for (double& v : x) v = d(rng);
      const UniformQuantizer q = UniformQuantizer::calibrate(x, {bits, is_signed, false});
      const std::vector<std::int64_t> qx = q.quantize(x);
      const std::vector<double> back = q.dequantize(qx);
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_GE(qx[i], q.q_min());
        ASSERT_LE(qx[i], q.q_max());
        // Half a step, plus the rounding of the zero point (half a step more at most).
        ASSERT_LE(std::fabs(back[i] - x[i]), q.scale() * (1.0 + 1e-9)) << bits << " bits";
      }
    }
  }
}

TEST(Quantizer, ConstantDataIsRepresentedExactly) {
  for (double v : {2.5, -3.0, 0.0}) {
    for (QuantizerOptions o : {QuantizerOptions{8, false, false}, QuantizerOptions{8, true, false},
                               QuantizerOptions{1, false, false}, QuantizerOptions{1, true, false},
                               QuantizerOptions{4, true, true}}) {
      const std::vector<double> x(10, v);
      const UniformQuantizer q = UniformQuantizer::calibrate(x, o);
      EXPECT_DOUBLE_EQ(q.dequantize(q.quantize(v)), v) << v << " " << q.to_string();
    }
  }
}

TEST(Quantizer, DataFarFromZeroKeepsItsResolution) {
  const std::vector<double> x = {1000.0, 1001.0};
  const UniformQuantizer q = UniformQuantizer::calibrate(x, {8, false, false});
  EXPECT_EQ(q.quantize(1000.0), 0);
  EXPECT_EQ(q.quantize(1001.0), 255);
  EXPECT_NEAR(q.dequantize(q.quantize(1000.5)), 1000.5, q.scale());
  EXPECT_LT(q.zero_point(), 0);  // outside [0, 255]: 0 is not in the data
}

TEST(Quantizer, SpansAndVectorsAgree) {
  const std::vector<double> x = {0.1, -0.7, 0.33};
  const UniformQuantizer q = UniformQuantizer::calibrate(x, {6, true, false});
  std::vector<std::int64_t> out(3);
  q.quantize(x, out);
  EXPECT_EQ(out, q.quantize(x));
  std::vector<std::int64_t> wrong(2);
  EXPECT_THROW(q.quantize(x, wrong), InvalidArgument);
  EXPECT_NE(q.to_string().find("n_bits=6"), std::string::npos);
}

TEST(Quantizer, RejectsInvalidArguments) {
  const std::vector<double> ok = {0.0, 1.0};
  EXPECT_THROW(UniformQuantizer::calibrate(ok, {0, false, false}), InvalidArgument);
  EXPECT_THROW(UniformQuantizer::calibrate(ok, {17, false, false}), InvalidArgument);
  EXPECT_THROW(UniformQuantizer::calibrate({}, {8, false, false}), InvalidArgument);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW(UniformQuantizer::calibrate(std::vector<double>{0.0, nan}, {}), InvalidArgument);
  EXPECT_THROW(UniformQuantizer::calibrate(std::vector<double>{inf, 0.0}, {}), InvalidArgument);
  EXPECT_THROW(UniformQuantizer::calibrate(ok, {1, true, true}), InvalidArgument);
  EXPECT_THROW(UniformQuantizer::from_range(2.0, 1.0, {}), InvalidArgument);
  EXPECT_THROW(UniformQuantizer::calibrate(std::vector<double>{-1e308, 1e308}, {}),
               InvalidArgument);
  // The spread is tiny next to the offset: the zero point would not fit.
  EXPECT_THROW(UniformQuantizer::calibrate(std::vector<double>{1e20, 1e20 + 1e5}, {}),
               InvalidArgument);
  EXPECT_THROW(UniformQuantizer({8, false, false}, 0.0, 0), InvalidArgument);
  EXPECT_THROW(UniformQuantizer({8, false, false}, -1.0, 0), InvalidArgument);
  EXPECT_THROW(UniformQuantizer({8, false, false}, nan, 0), InvalidArgument);
  EXPECT_THROW(UniformQuantizer({8, true, true}, 1.0, 3), InvalidArgument);
  const UniformQuantizer q({8, false, false}, 0.5, 3);
  EXPECT_THROW(q.quantize(nan), InvalidArgument);
  EXPECT_THROW(q.quantize(-inf), InvalidArgument);
  try {
    UniformQuantizer::calibrate(ok, {20, false, false});
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("between 1 and 16"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace torusml::ml
