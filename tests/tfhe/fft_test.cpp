#include <gtest/gtest.h>

#include <cmath>
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

INSTANTIATE_TEST_SUITE_P(AllBackends, FftTest,
                         ::testing::Combine(::testing::ValuesIn(supported_backends()),
                                            ::testing::Values(256, 1024, 2048, 8192)),
                         [](const auto& param_info) {
                           return std::string(to_string(std::get<0>(param_info.param))) + "_N" +
                                  std::to_string(std::get<1>(param_info.param));
                         });

}  // namespace
}  // namespace torusml::tfhe
