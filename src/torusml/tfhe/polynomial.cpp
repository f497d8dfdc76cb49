#include "torusml/tfhe/polynomial.h"

#include <vector>

#include "torusml/common/check.h"
#include "torusml/tfhe/fft.h"

namespace torusml::tfhe {

void polynomial_mul_monomial(std::span<Torus> out, std::span<const Torus> in, std::size_t power) {
  const std::size_t n = in.size();
  TORUSML_CHECK_EQ(out.size(), n);
  TORUSML_CHECK_LT(power, 2 * n);
  const bool negate = power >= n;
  const std::size_t p = negate ? power - n : power;
  // Coefficient i moves to i + p; those wrapping past N change sign.
  for (std::size_t i = 0; i < n - p; ++i) out[i + p] = negate ? Torus{0} - in[i] : in[i];
  for (std::size_t i = n - p; i < n; ++i) out[i + p - n] = negate ? in[i] : Torus{0} - in[i];
}

void polynomial_add_rotated_difference(std::span<Torus> acc, std::span<const Torus> in,
                                       std::size_t power) {
  const std::size_t n = in.size();
  const bool negate = power >= n;
  const std::size_t p = negate ? power - n : power;
  for (std::size_t i = 0; i < n - p; ++i) acc[i + p] += (negate ? Torus{0} - in[i] : in[i]);
  for (std::size_t i = n - p; i < n; ++i) acc[i + p - n] += (negate ? in[i] : Torus{0} - in[i]);
  for (std::size_t i = 0; i < n; ++i) acc[i] -= in[i];
}

void polynomial_add_mul_binary(std::span<Torus> acc, std::span<const Torus> a,
                               std::span<const Torus> b) {
  const std::size_t n = a.size();
  TORUSML_CHECK_EQ(b.size(), n);
  TORUSML_CHECK_EQ(acc.size(), n);
  const FftPlan& plan = fft_plan(PolynomialSize(n));
  FourierBuffer fb(n), fa(n), prod(n);
  std::vector<std::int64_t> limb(n);
  std::vector<Torus> part(n);
  for (std::size_t i = 0; i < n; ++i) limb[i] = static_cast<std::int64_t>(b[i]);
  plan.forward_i64(limb.data(), fb.data());
  for (unsigned shift = 0; shift < 64; shift += 16) {
    for (std::size_t i = 0; i < n; ++i)
      limb[i] = static_cast<std::int64_t>((a[i] >> shift) & 0xffff);
    plan.forward_i64(limb.data(), fa.data());
    plan.mul(prod.data(), fa.data(), fb.data());
    plan.backward_torus(prod.data(), part.data());
    for (std::size_t i = 0; i < n; ++i) acc[i] += part[i] << shift;
  }
}

void polynomial_add_mul_schoolbook(std::span<Torus> acc, std::span<const Torus> a,
                                   std::span<const Torus> b) {
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const Torus p = a[i] * b[j];
      if (i + j < n)
        acc[i + j] += p;
      else
        acc[i + j - n] -= p;
    }
  }
}

}  // namespace torusml::tfhe
