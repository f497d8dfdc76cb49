#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/fft_common.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {
namespace {

std::vector<FftBackendKind> supported_backends() {
  std::vector<FftBackendKind> out;
  for (auto k : {FftBackendKind::Scalar, FftBackendKind::Avx2, FftBackendKind::Avx512})
    if (fft_backend_supported(k)) out.push_back(k);
  return out;
}

class FftTest : public ::testing::TestWithParam<std::tuple<FftBackendKind, std::size_t>> {};

// Negacyclic product of small integer polynomials: exact through the FFT, compared with the
// schoolbook product.
TEST_P(FftTest, SmallProductIsExact) {
  const auto [kind, n] = GetParam();
  const FftPlan plan(PolynomialSize(n), kind);
  std::mt19937_64 rng(42 + n);
  std::vector<std::int64_t> a(n), b(n);
  std::vector<Torus> ta(n), tb(n), expected(n, 0), got(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<std::int64_t>(rng() % 2001) - 1000;
    b[i] = static_cast<std::int64_t>(rng() % 2001) - 1000;
    ta[i] = static_cast<Torus>(a[i]);
    tb[i] = static_cast<Torus>(b[i]);
  }
  polynomial_add_mul_schoolbook(expected, ta, tb);
  FourierBuffer fa(n), fb(n), fc(n);
  plan.forward_i64(a.data(), fa.data());
  plan.forward_i64(b.data(), fb.data());
  plan.mul(fc.data(), fa.data(), fb.data());
  plan.backward_torus(fc.data(), got.data());
  EXPECT_EQ(got, expected);
}

// Round trip of torus values: the error is the double-precision rounding of 2^63-sized values.
TEST_P(FftTest, TorusRoundTripIsAccurate) {
  const auto [kind, n] = GetParam();
  const FftPlan plan(PolynomialSize(n), kind);
  std::mt19937_64 rng(7 + n);
  std::vector<Torus> a(n), back(n, 0);
  for (auto& x : a) x = rng();
  FourierBuffer fa(n);
  plan.forward_torus(a.data(), fa.data());
  plan.backward_add_torus(fa.data(), back.data());
  double max_err = 0;
  for (std::size_t i = 0; i < n; ++i)
    max_err = std::max(max_err,
                       std::fabs(static_cast<double>(static_cast<std::int64_t>(back[i] - a[i]))));
  EXPECT_LT(max_err, std::ldexp(1.0, 20));  // relative 2^-44 of the torus
}

// The product of digits by torus values, the external product's case: compared with the exact
// wrapping product, the error is tiny relative to the torus.
TEST_P(FftTest, DigitTimesTorusProductIsAccurate) {
  const auto [kind, n] = GetParam();
  const FftPlan plan(PolynomialSize(n), kind);
  std::mt19937_64 rng(11 + n);
  std::vector<std::int64_t> d(n);
  std::vector<Torus> td(n), k(n), expected(n, 0), got(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    d[i] = static_cast<std::int64_t>(rng() % (1u << 23)) - (1 << 22);
    td[i] = static_cast<Torus>(d[i]);
    k[i] = rng();
  }
  polynomial_add_mul_schoolbook(expected, td, k);
  FourierBuffer fd(n), fk(n), acc(n, 0.0);
  plan.forward_i64(d.data(), fd.data());
  plan.forward_torus(k.data(), fk.data());
  plan.mul_add(acc.data(), fd.data(), fk.data());
  plan.backward_add_torus(acc.data(), got.data());
  double max_err = 0;
  for (std::size_t i = 0; i < n; ++i)
    max_err = std::max(
        max_err, std::fabs(static_cast<double>(static_cast<std::int64_t>(got[i] - expected[i]))));
  EXPECT_LT(max_err * 0x1.0p-64, std::ldexp(1.0, -16)) << "max error 2^" << std::log2(max_err) - 64;
}

TEST(FftTorusConversion, ReducesLargeValuesModulo2To64) {
  using detail::f64_to_torus;
  EXPECT_EQ(f64_to_torus(0.4), 0u);
  EXPECT_EQ(f64_to_torus(-1.0), ~0ull);
  EXPECT_EQ(f64_to_torus(0x1.0p64), 0u);
  EXPECT_EQ(f64_to_torus(0x1.0p64 + 0x1.0p20), 1ull << 20);
  EXPECT_EQ(f64_to_torus(-0x1.0p70 - 0x1.0p40), static_cast<Torus>(-(std::int64_t{1} << 40)));
  EXPECT_EQ(f64_to_torus(0x1.0p63), 1ull << 63);
  EXPECT_EQ(f64_to_torus(0x1.0p100), 0u);
  EXPECT_EQ(f64_to_torus(3.0 * 0x1.0p62), 3ull << 62);
}

// Backward of Fourier data is independent of the order of frequencies when all bins are equal:
// c in every bin is the polynomial c X^0 (c i: c X^(N/2)), and the transform computes it exactly
// (only sums of equal values and products by 1 and by powers of two), so the rounding and the
// reduction modulo 2^64 are checked on exact values of any magnitude.
TEST_P(FftTest, BackwardOfConstantSpectrumIsExactModulo2To64) {
  const auto [kind, n] = GetParam();
  const FftPlan plan(PolynomialSize(n), kind);
  const std::size_t m = n / 2;
  const double values[] = {0.0,
                           1.5,
                           2.5,
                           -0.5,
                           -7.0,
                           0x1.0p62,
                           0x1.0p63,
                           -0x1.0p63,
                           3.0 * 0x1.0p62,
                           0x1.0p64 - 0x1.0p11,
                           0x1.0p100 + 0x1.0p60 + 0x1.0p48,
                           -(0x1.0p90 + 0x1.0p70 + 0x1.0p45),
                           0x1.0p110 + 0x1.0p63 + 0x1.0p58,
                           0x1.0p200,
                           -0x1.0p1000};
  for (const double c : values) {
    for (const bool imaginary : {false, true}) {
      FourierBuffer f(n, 0.0);
      std::fill(f.begin() + (imaginary ? m : 0), f.begin() + (imaginary ? n : m), c);
      std::vector<Torus> got(n, 12345), acc(n, 7);
      FourierBuffer f2 = f;
      plan.backward_torus(f.data(), got.data());
      plan.backward_add_torus(f2.data(), acc.data());
      std::vector<Torus> expected(n, 0);
      expected[imaginary ? m : 0] = detail::f64_to_torus(c);
      EXPECT_EQ(got, expected) << "c = " << c << (imaginary ? " i" : "");
      for (auto& e : expected) e += 7;
      EXPECT_EQ(acc, expected) << "c = " << c << (imaginary ? " i" : "");
    }
  }
}

// The zero polynomial: zero spectrum, zero result, and backward_add leaves the accumulator alone.
TEST_P(FftTest, ZeroPolynomial) {
  const auto [kind, n] = GetParam();
  const FftPlan plan(PolynomialSize(n), kind);
  const std::vector<std::int64_t> zero(n, 0);
  FourierBuffer f(n, 1.0);
  plan.forward_i64(zero.data(), f.data());
  for (const double x : f) EXPECT_EQ(x, 0.0);
  std::vector<Torus> acc(n);
  std::mt19937_64 rng(3);
  for (auto& x : acc) x = rng();
  const std::vector<Torus> before = acc;
  plan.backward_add_torus(f.data(), acc.data());
  EXPECT_EQ(acc, before);
}

// The paired multiply-accumulate of two inputs by one key equals two ggsw_mac calls bit for bit
// (the same operations in the same order), for 2, 3 and 6 rows.
TEST_P(FftTest, GgswMacPairEqualsTwoMacs) {
  const auto [kind, n] = GetParam();
  const FftPlan plan(PolynomialSize(n), kind);
  std::mt19937_64 rng(500 + n);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  for (const std::size_t rows : {2, 3, 6}) {
    const std::size_t cols = 2;
    std::vector<double> key(rows * cols * n), f0(rows * n), f1(rows * n);
    for (double& v : key) v = u(rng);
    for (double& v : f0) v = u(rng);
    for (double& v : f1) v = u(rng);
    std::vector<double> packed(key.size());
    pack_fourier_ggsw(key.data(), packed.data(), rows, cols, n);
    std::vector<double> one0(cols * n), one1(cols * n), pair0(cols * n), pair1(cols * n);
    plan.ggsw_mac(one0.data(), f0.data(), packed.data(), rows, cols, nullptr);
    plan.ggsw_mac(one1.data(), f1.data(), packed.data(), rows, cols, nullptr);
    plan.ggsw_mac_pair(pair0.data(), pair1.data(), f0.data(), f1.data(), packed.data(), rows, cols,
                       packed.data());
    EXPECT_EQ(pair0, one0) << rows << " rows";
    EXPECT_EQ(pair1, one1) << rows << " rows";
  }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, FftTest,
                         ::testing::Combine(::testing::ValuesIn(supported_backends()),
                                            ::testing::Values(256, 1024, 2048, 8192)),
                         [](const auto& param_info) {
                           return std::string(to_string(std::get<0>(param_info.param))) + "_N" +
                                  std::to_string(std::get<1>(param_info.param));
                         });

std::vector<FftBackendKind> simd_backends() {
  std::vector<FftBackendKind> out;
  for (auto k : {FftBackendKind::Avx2, FftBackendKind::Avx512})
    if (fft_backend_supported(k)) out.push_back(k);
  return out;
}

class FftSimdTest : public ::testing::TestWithParam<std::tuple<FftBackendKind, std::size_t>> {};

// Largest |a_i - b_i| as signed 64-bit differences.
double max_distance(const std::vector<Torus>& a, const std::vector<Torus>& b) {
  double out = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    out = std::max(out, std::fabs(static_cast<double>(static_cast<std::int64_t>(a[i] - b[i]))));
  return out;
}

std::vector<Torus> run_product(const FftPlan& plan, const std::vector<std::int64_t>& a,
                               const std::vector<std::int64_t>& b) {
  const std::size_t n = a.size();
  FourierBuffer fa(n), fb(n), fc(n);
  plan.forward_i64(a.data(), fa.data());
  plan.forward_i64(b.data(), fb.data());
  plan.mul(fc.data(), fa.data(), fb.data());
  std::vector<Torus> out(n);
  plan.backward_torus(fc.data(), out.data());
  return out;
}

// A SIMD backend against the scalar reference on random inputs, for every supported N from 256
// to 65536 (orders of frequencies differ, so the comparisons go through complete products).
TEST_P(FftSimdTest, SmallProductsMatchScalarExactly) {
  const auto [kind, n] = GetParam();
  const FftPlan simd(PolynomialSize(n), kind), scalar(PolynomialSize(n), FftBackendKind::Scalar);
  std::mt19937_64 rng(100 + n);
  std::vector<std::int64_t> a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<std::int64_t>(rng() % 2001) - 1000;
    b[i] = static_cast<std::int64_t>(rng() % 2001) - 1000;
  }
  EXPECT_EQ(run_product(simd, a, b), run_product(scalar, a, b));
}

// The external product's case: sums of digit x torus products, accumulated in the Fourier domain
// with mul_add and reduced modulo 2^64 from magnitudes ~2^90. The SIMD error must be of the order
// of the scalar one (against the exact products, computed up to N = 8192), and a round trip must
// restore torus values.
TEST_P(FftSimdTest, TorusProductsMatchScalar) {
  const auto [kind, n] = GetParam();
  const FftPlan simd(PolynomialSize(n), kind), scalar(PolynomialSize(n), FftBackendKind::Scalar);
  const bool exact = n <= 8192;
  std::mt19937_64 rng(200 + n);
  std::vector<Torus> got_simd(n), got_scalar(n), expected(n), back(n);
  for (std::size_t i = 0; i < n; ++i) got_simd[i] = got_scalar[i] = expected[i] = rng();
  FourierBuffer acc_simd(n, 0.0), acc_scalar(n, 0.0);
  for (int term = 0; term < 3; ++term) {
    std::vector<std::int64_t> d(n);
    std::vector<Torus> k(n), td(n);
    for (std::size_t i = 0; i < n; ++i) {
      d[i] = static_cast<std::int64_t>(rng() % (1u << 23)) - (1 << 22);
      td[i] = static_cast<Torus>(d[i]);
      k[i] = rng();
    }
    if (exact) polynomial_add_mul_schoolbook(expected, td, k);
    for (const FftPlan* plan : {&simd, &scalar}) {
      FourierBuffer fd(n), fk(n);
      plan->forward_i64(d.data(), fd.data());
      plan->forward_torus(k.data(), fk.data());
      plan->mul_add((plan == &simd ? acc_simd : acc_scalar).data(), fd.data(), fk.data());
    }
    if (term == 0) {  // round trip of the torus polynomial k through the SIMD backend
      FourierBuffer fk(n);
      simd.forward_torus(k.data(), fk.data());
      simd.backward_torus(fk.data(), back.data());
      EXPECT_LT(max_distance(back, k), 0x1.0p20);
    }
  }
  simd.backward_add_torus(acc_simd.data(), got_simd.data());
  scalar.backward_add_torus(acc_scalar.data(), got_scalar.data());
  const double diff = max_distance(got_simd, got_scalar);
  EXPECT_LT(diff, 0x1.0p48) << "max difference 2^" << std::log2(diff);
  if (exact) {
    const double err_simd = max_distance(got_simd, expected);
    const double err_scalar = max_distance(got_scalar, expected);
    EXPECT_LT(err_simd, 4 * err_scalar + 0x1.0p20)
        << "errors 2^" << std::log2(err_simd) << " (SIMD), 2^" << std::log2(err_scalar);
  }
}

// Extreme inputs: |coefficients| near 2^63 (torus), and int64 values at the ends of the range.
TEST_P(FftSimdTest, ExtremeInputsMatchScalar) {
  const auto [kind, n] = GetParam();
  const FftPlan simd(PolynomialSize(n), kind), scalar(PolynomialSize(n), FftBackendKind::Scalar);
  std::mt19937_64 rng(300 + n);
  std::vector<Torus> t(n);
  std::vector<std::int64_t> ints(n);
  const Torus torus_edges[] = {Torus{1} << 63, (Torus{1} << 63) - 1, (Torus{1} << 63) + 1,
                               ~Torus{0}, 0};
  const std::int64_t int_edges[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1,
                                    -1,        0,         (std::int64_t{1} << 53) + 1};
  for (std::size_t i = 0; i < n; ++i) {
    t[i] = rng() % 3 == 0 ? torus_edges[rng() % 5] : (rng() | (Torus{1} << 62));
    ints[i] = int_edges[rng() % 6];
  }
  for (const bool as_torus : {true, false}) {
    std::vector<Torus> back_simd(n), back_scalar(n);
    FourierBuffer fs(n), fr(n);
    if (as_torus) {
      simd.forward_torus(t.data(), fs.data());
      scalar.forward_torus(t.data(), fr.data());
    } else {
      simd.forward_i64(ints.data(), fs.data());
      scalar.forward_i64(ints.data(), fr.data());
    }
    simd.backward_torus(fs.data(), back_simd.data());
    scalar.backward_torus(fr.data(), back_scalar.data());
    for (std::size_t i = 0; i < n; ++i) {
      const Torus expected = as_torus ? t[i] : static_cast<Torus>(ints[i]);
      // The conversion rounds int64 to 53 bits, then the transform adds ~2^-44 relative.
      EXPECT_LT(std::fabs(static_cast<double>(static_cast<std::int64_t>(back_simd[i] - expected))),
                0x1.0p22)
          << "i = " << i;
      EXPECT_LT(
          std::fabs(static_cast<double>(static_cast<std::int64_t>(back_simd[i] - back_scalar[i]))),
          0x1.0p22)
          << "i = " << i;
    }
  }
  // forward_i64 and forward_torus read the same bits the same way.
  FourierBuffer f1(n), f2(n);
  simd.forward_torus(t.data(), f1.data());
  std::vector<std::int64_t> as_int(n);
  for (std::size_t i = 0; i < n; ++i) as_int[i] = static_cast<std::int64_t>(t[i]);
  simd.forward_i64(as_int.data(), f2.data());
  EXPECT_EQ(f1, f2);
}

std::vector<std::size_t> all_sizes() {
  std::vector<std::size_t> out;
  for (std::size_t n = 256; n <= 65536; n *= 2) out.push_back(n);
  return out;
}

INSTANTIATE_TEST_SUITE_P(SimdBackends, FftSimdTest,
                         ::testing::Combine(::testing::ValuesIn(simd_backends()),
                                            ::testing::ValuesIn(all_sizes())),
                         [](const auto& param_info) {
                           return std::string(to_string(std::get<0>(param_info.param))) + "_N" +
                                  std::to_string(std::get<1>(param_info.param));
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FftSimdTest);

}  // namespace
}  // namespace torusml::tfhe
