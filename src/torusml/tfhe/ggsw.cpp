#include "torusml/tfhe/ggsw.h"

#include <algorithm>

#include "torusml/common/check.h"
#include "torusml/common/multiversion.h"
#include "torusml/tfhe/decomposition.h"
#include "torusml/tfhe/ggsw_detail.h"
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
  const std::size_t cols = shape.glwe_dimension.value() + 1;
  AlignedVector<double> split(shape.fourier_doubles());
  for (std::size_t p = 0; p < shape.rows() * cols; ++p)
    plan.forward_torus(ggsw.data() + p * n, split.data() + p * n);
  pack_fourier_ggsw(split.data(), out, shape.rows(), cols, n);
}

GgswCiphertext encrypt_ggsw(const GlweSecretKey& key, std::int64_t message, const GgswShape& shape,
                            const NoiseDistribution& noise, EncryptionGenerator& gen) {
  GgswCiphertext ct{shape, std::vector<Torus>(shape.torus_elements())};
  encrypt_ggsw(key, message, shape, noise, gen, ct.data);
  return ct;
}

FourierGgswCiphertext convert_ggsw_to_fourier(const GgswCiphertext& ggsw) {
  FourierGgswCiphertext out{ggsw.shape, AlignedVector<double>(ggsw.shape.fourier_doubles())};
  convert_ggsw_to_fourier(ggsw.data, ggsw.shape, fft_plan(ggsw.shape.polynomial_size),
                          out.data.data());
  return out;
}

void ExternalProductScratch::resize(const GgswShape& shape) {
  const std::size_t n = shape.polynomial_size.value();
  digits.resize(shape.decomposition.level_count.value() * n);
  fourier_digits.resize(shape.rows() * n);
  accumulator.resize(shape.glwe_size());
}

namespace {

// decompose_planes for kLevels = 2 or 3 levels, one pass: the planes (p0 most significant) are
// distinct arrays, so the loop over the values vectorizes with every level unrolled in it.
template <bool kNegate, bool kSub, unsigned kLevels>
TORUSML_MULTIVERSION void decompose_unrolled(const Torus* __restrict src,
                                             const Torus* __restrict sub, std::size_t count,
                                             unsigned beta, std::int64_t* __restrict p0,
                                             std::int64_t* __restrict p1,
                                             std::int64_t* __restrict p2) {
  static_assert(kLevels == 2 || kLevels == 3);
  const unsigned shift = 64 - beta * kLevels;
  const Torus mask = (Torus{1} << beta) - 1;
  for (std::size_t x = 0; x < count; ++x) {
    Torus v = kNegate ? Torus{0} - src[x] : src[x];
    if constexpr (kSub) v -= sub[x];
    Torus closest = (v >> shift) + ((v >> (shift - 1)) & 1);
    Torus d, carry;
    if constexpr (kLevels == 3) {
      d = closest & mask;
      carry = d >> (beta - 1);
      p2[x] = static_cast<std::int64_t>(d - (carry << beta));
      closest = (closest >> beta) + carry;
    }
    d = closest & mask;
    carry = d >> (beta - 1);
    p1[x] = static_cast<std::int64_t>(d - (carry << beta));
    closest = (closest >> beta) + carry;
    d = closest & mask;
    carry = d >> (beta - 1);
    p0[x] = static_cast<std::int64_t>(d - (carry << beta));
  }
}

// Signed decomposition of `count` values v[x] = (negate ? -src[x] : src[x]) - sub[x] into
// `levels` digit planes (digits[j * stride + x] = digit j of value x, j = 0 most significant):
// the arithmetic of decompose_torus, branch-free, in loops the compiler vectorizes. The
// single-level case (the usual one) has its own loop.
template <bool kNegate, bool kSub>
TORUSML_MULTIVERSION void decompose_planes(const Torus* __restrict src, const Torus* __restrict sub,
                                           std::size_t count, unsigned beta, unsigned levels,
                                           std::int64_t* __restrict digits, std::size_t stride) {
  const unsigned shift = 64 - beta * levels;
  const Torus mask = (Torus{1} << beta) - 1;
  if (levels == 1) {
    for (std::size_t x = 0; x < count; ++x) {
      Torus v = kNegate ? Torus{0} - src[x] : src[x];
      if constexpr (kSub) v -= sub[x];
      const Torus d = ((v >> shift) + ((v >> (shift - 1)) & 1)) & mask;
      const Torus carry = d >> (beta - 1);
      digits[x] = static_cast<std::int64_t>(d - (carry << beta));
    }
    return;
  }
  // Two and three levels (the networks' and the 8-bit sets) peel every digit of a value in one
  // vectorized pass, each plane through its own pointer.
  if (levels == 2) {
    decompose_unrolled<kNegate, kSub, 2>(src, sub, count, beta, digits, digits + stride, nullptr);
    return;
  }
  if (levels == 3) {
    decompose_unrolled<kNegate, kSub, 3>(src, sub, count, beta, digits, digits + stride,
                                         digits + 2 * stride);
    return;
  }
  // More levels: a loop over the levels inside the loop over the values stays scalar (it was
  // a third of an l = 2 CMux at N = 16384). So the rounded values of a block (in L1) are peeled
  // level by level instead, least significant digit first, one vectorized loop per level.
  constexpr std::size_t kBlock = 256;
  Torus closest[kBlock];
  for (std::size_t x0 = 0; x0 < count; x0 += kBlock) {
    const std::size_t len = std::min(kBlock, count - x0);
    for (std::size_t x = 0; x < len; ++x) {
      Torus v = kNegate ? Torus{0} - src[x0 + x] : src[x0 + x];
      if constexpr (kSub) v -= sub[x0 + x];
      closest[x] = (v >> shift) + ((v >> (shift - 1)) & 1);
    }
    for (unsigned j = levels; j-- > 0;) {
      std::int64_t* __restrict plane = digits + j * stride + x0;
      for (std::size_t x = 0; x < len; ++x) {
        const Torus d = closest[x] & mask;
        const Torus carry = d >> (beta - 1);
        plane[x] = static_cast<std::int64_t>(d - (carry << beta));
        closest[x] = (closest[x] >> beta) + carry;
      }
    }
  }
}

}  // namespace

void detail::decompose_difference(const Torus* src, const Torus* sub, std::size_t count,
                                  bool negate_src, unsigned beta, unsigned levels,
                                  std::int64_t* digits, std::size_t stride) {
  if (sub) {
    if (negate_src)
      decompose_planes<true, true>(src, sub, count, beta, levels, digits, stride);
    else
      decompose_planes<false, true>(src, sub, count, beta, levels, digits, stride);
  } else {
    if (negate_src)
      decompose_planes<true, false>(src, sub, count, beta, levels, digits, stride);
    else
      decompose_planes<false, false>(src, sub, count, beta, levels, digits, stride);
  }
}

namespace {

// digits of X^power * poly - poly (negacyclic, power in [0, 2N)), for every level.
void decompose_rotated_difference(const Torus* poly, std::size_t n, std::size_t power,
                                  DecompositionParameters d, std::int64_t* digits) {
  const unsigned beta = static_cast<unsigned>(d.base_log.value());
  const unsigned levels = static_cast<unsigned>(d.level_count.value());
  const bool negate = power >= n;
  const std::size_t p = negate ? power - n : power;
  // Coefficient x of X^p poly is poly[x - p] for x >= p and -poly[x - p + N] below (negated
  // once more if power >= N).
  detail::decompose_difference(poly + (n - p), poly, p, !negate, beta, levels, digits, n);
  detail::decompose_difference(poly, poly + p, n - p, negate, beta, levels, digits + p, n);
}

// The Fourier transforms of the (k+1) l digit planes of every input polynomial into
// scratch.fourier_digits (digits_of(i) fills scratch.digits for polynomial i).
template <class Digits>
void transform_digits(const GgswShape& shape, const FftPlan& plan, ExternalProductScratch& scratch,
                      Digits&& digits_of) {
  const std::size_t k = shape.glwe_dimension.value(), n = shape.polynomial_size.value();
  const std::size_t levels = shape.decomposition.level_count.value();
  scratch.resize(shape);
  double* f = scratch.fourier_digits.data();
  for (std::size_t i = 0; i <= k; ++i) {
    digits_of(i);
    for (std::size_t j = 0; j < levels; ++j)
      plan.forward_i64(scratch.digits.data() + j * n, f + (i * levels + j) * n);
  }
}

// out += sum over the (k+1) l digit planes of FFT(digits) * GGSW row, given the digits of every
// input polynomial (digits_of(i) fills scratch.digits for polynomial i): all rows are transformed,
// then one pass over the key accumulates every column, then one inverse FFT per column.
template <class Digits>
void external_product_from_digits(std::span<Torus> out, const double* fourier_ggsw,
                                  const GgswShape& shape, const FftPlan& plan,
                                  ExternalProductScratch& scratch, const double* prefetch,
                                  Digits&& digits_of) {
  const std::size_t n = shape.polynomial_size.value();
  const std::size_t cols = shape.glwe_dimension.value() + 1;
  transform_digits(shape, plan, scratch, digits_of);
  double* acc = scratch.accumulator.data();
  const double* f = scratch.fourier_digits.data();
  // The next key (larger than the caches: reading it bounds a lone PBS) is requested while this
  // one is read, in the same sequential pass (measured faster than spreading the requests over
  // the FFTs).
  plan.ggsw_mac(acc, f, fourier_ggsw, shape.rows(), cols, prefetch);
  for (std::size_t c = 0; c < cols; ++c) plan.backward_add_torus(acc + c * n, out.data() + c * n);
}

}  // namespace

void add_external_product(std::span<Torus> out, const double* fourier_ggsw,
                          std::span<const Torus> glwe, const GgswShape& shape, const FftPlan& plan,
                          ExternalProductScratch& scratch) {
  const std::size_t n = shape.polynomial_size.value();
  const unsigned beta = static_cast<unsigned>(shape.decomposition.base_log.value());
  const unsigned levels = static_cast<unsigned>(shape.decomposition.level_count.value());
  // Decompose everything first: out may alias glwe.
  std::vector<std::int64_t> all((shape.glwe_dimension.value() + 1) * levels * n);
  for (std::size_t i = 0; i <= shape.glwe_dimension.value(); ++i)
    detail::decompose_difference(glwe.data() + i * n, nullptr, n, false, beta, levels,
                                 all.data() + i * levels * n, n);
  external_product_from_digits(
      out, fourier_ggsw, shape, plan, scratch, nullptr, [&](std::size_t i) {
        std::copy_n(all.data() + i * levels * n, levels * n, scratch.digits.data());
      });
}

void cmux_rotate(std::span<Torus> acc, const double* fourier_ggsw, std::size_t power,
                 const GgswShape& shape, const FftPlan& plan, ExternalProductScratch& scratch,
                 const double* prefetch_next) {
  const std::size_t n = shape.polynomial_size.value();
  // The digits of polynomial i are taken just before its FFTs; acc is only written at the end
  // (backward_add_torus), so every polynomial is still the CMux input when decomposed.
  external_product_from_digits(
      acc, fourier_ggsw, shape, plan, scratch, prefetch_next, [&](std::size_t i) {
        decompose_rotated_difference(acc.data() + i * n, n, power, shape.decomposition,
                                     scratch.digits.data());
      });
}

void cmux_rotate_pair(std::span<Torus> acc0, std::size_t power0, std::span<Torus> acc1,
                      std::size_t power1, const double* fourier_ggsw, const GgswShape& shape,
                      const FftPlan& plan, ExternalProductScratch& scratch0,
                      ExternalProductScratch& scratch1, const double* prefetch_next) {
  const std::size_t n = shape.polynomial_size.value();
  const std::size_t cols = shape.glwe_dimension.value() + 1;
  transform_digits(shape, plan, scratch0, [&](std::size_t i) {
    decompose_rotated_difference(acc0.data() + i * n, n, power0, shape.decomposition,
                                 scratch0.digits.data());
  });
  transform_digits(shape, plan, scratch1, [&](std::size_t i) {
    decompose_rotated_difference(acc1.data() + i * n, n, power1, shape.decomposition,
                                 scratch1.digits.data());
  });
  double* product0 = scratch0.accumulator.data();  // Fourier-domain products, per column
  double* product1 = scratch1.accumulator.data();
  plan.ggsw_mac_pair(product0, product1, scratch0.fourier_digits.data(),
                     scratch1.fourier_digits.data(), fourier_ggsw, shape.rows(), cols,
                     prefetch_next);
  for (std::size_t c = 0; c < cols; ++c) {
    plan.backward_add_torus(product0 + c * n, acc0.data() + c * n);
    plan.backward_add_torus(product1 + c * n, acc1.data() + c * n);
  }
}

}  // namespace torusml::tfhe
