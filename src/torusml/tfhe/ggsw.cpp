#include "torusml/tfhe/ggsw.h"

#include <algorithm>

#include "torusml/common/check.h"
#include "torusml/tfhe/decomposition.h"
#include "torusml/tfhe/polynomial.h"

namespace torusml::tfhe {

void encrypt_ggsw(const GlweSecretKey& key, std::int64_t message, const GgswShape& shape,
                  const NoiseDistribution& noise, EncryptionGenerator& gen, std::span<Torus> out) {
  const std::size_t k = shape.glwe_dimension.value(), n = shape.polynomial_size.value();
  const std::size_t levels = shape.decomposition.level_count.value();
  const std::size_t beta = shape.decomposition.base_log.value();
  TORUSML_CHECK_EQ(out.size(), shape.torus_elements());
  TORUSML_CHECK(
      key.glwe_dimension == shape.glwe_dimension && key.polynomial_size == shape.polynomial_size,
      "GGSW shape does not match the GLWE key");
  const std::vector<Torus> zero(n, 0);
  for (std::size_t i = 0; i <= k; ++i) {
    for (std::size_t j = 1; j <= levels; ++j) {
      auto row = out.subspan((i * levels + (j - 1)) * shape.glwe_size(), shape.glwe_size());
      encrypt_glwe(key, zero, noise, gen, row);
      // Row (i, j) must have phase m g_j (i = k) or -m g_j S_i (i < k), g_j = q / B^j. Adding
      // m g_j to mask i would do it, but masks are regenerated from the seed in seeded keys, so
      // the term goes into the body instead.
      const Torus mg = static_cast<Torus>(message) << (64 - beta * j);
      Torus* body = row.data() + k * n;
      if (i == k) {
        body[0] += mg;
      } else {
        const auto s = key.polynomial(i);
        for (std::size_t x = 0; x < n; ++x) body[x] -= mg * s[x];
      }
    }
  }
}

void convert_ggsw_to_fourier(std::span<const Torus> ggsw, const GgswShape& shape,
                             const FftPlan& plan, double* out) {
  const std::size_t n = shape.polynomial_size.value();
  TORUSML_CHECK_EQ(ggsw.size(), shape.torus_elements());
  TORUSML_CHECK_EQ(plan.polynomial_size(), shape.polynomial_size);
  const std::size_t polys = shape.rows() * (shape.glwe_dimension.value() + 1);
  for (std::size_t p = 0; p < polys; ++p) plan.forward_torus(ggsw.data() + p * n, out + p * n);
}

void ExternalProductScratch::resize(const GgswShape& shape) {
  const std::size_t n = shape.polynomial_size.value();
  digits.resize(shape.decomposition.level_count.value() * n);
  fourier_digits.resize(n);
  accumulator.resize(shape.glwe_size());
}

void add_external_product(std::span<Torus> out, const double* fourier_ggsw,
                          std::span<const Torus> glwe, const GgswShape& shape, const FftPlan& plan,
                          ExternalProductScratch& scratch) {
  const std::size_t k = shape.glwe_dimension.value(), n = shape.polynomial_size.value();
  const std::size_t levels = shape.decomposition.level_count.value();
  const std::size_t cols = k + 1;
  scratch.resize(shape);
  std::fill(scratch.accumulator.begin(), scratch.accumulator.end(), 0.0);
  std::int64_t digit[64];
  for (std::size_t i = 0; i <= k; ++i) {
    const Torus* poly = glwe.data() + i * n;
    for (std::size_t x = 0; x < n; ++x) {
      decompose_torus(poly[x], shape.decomposition, digit);
      for (std::size_t j = 0; j < levels; ++j) scratch.digits[j * n + x] = digit[j];
    }
    for (std::size_t j = 0; j < levels; ++j) {
      plan.forward_i64(scratch.digits.data() + j * n, scratch.fourier_digits.data());
      const double* row = fourier_ggsw + (i * levels + j) * cols * n;
      for (std::size_t c = 0; c < cols; ++c)
        plan.mul_add(scratch.accumulator.data() + c * n, scratch.fourier_digits.data(),
                     row + c * n);
    }
  }
  for (std::size_t c = 0; c < cols; ++c)
    plan.backward_add_torus(scratch.accumulator.data() + c * n, out.data() + c * n);
}

void cmux_rotate(std::span<Torus> acc, const double* fourier_ggsw, std::size_t power,
                 const GgswShape& shape, const FftPlan& plan, std::span<Torus> difference,
                 ExternalProductScratch& scratch) {
  const std::size_t k = shape.glwe_dimension.value(), n = shape.polynomial_size.value();
  std::fill(difference.begin(), difference.end(), 0);
  for (std::size_t i = 0; i <= k; ++i)
    polynomial_add_rotated_difference(difference.subspan(i * n, n), acc.subspan(i * n, n), power);
  add_external_product(acc, fourier_ggsw, difference, shape, plan, scratch);
}

}  // namespace torusml::tfhe
