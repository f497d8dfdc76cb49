// Unit tests of the TFHE building blocks below the bootstrap: encoding, LWE, decomposition,
// polynomials, GLWE, GGSW external product, keyswitch, modulus switch, sample extraction.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "torusml/common/error.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/decomposition.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/ggsw_detail.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/polynomial.h"

#include "test_keys.h"

namespace torusml::tfhe {
namespace {

TEST(Encoding, RoundTripsSignedAndUnsigned) {
  for (unsigned bits = 1; bits <= 30; ++bits) {
    const std::int64_t lo = -(std::int64_t{1} << (bits - 1)), hi = (std::int64_t{1} << (bits - 1));
    for (std::int64_t m : {lo, lo + 1, std::int64_t{-1}, std::int64_t{0}, hi - 1}) {
      if (bits == 1 && m != -1 && m != 0) continue;
      const Torus t = encode_message(m, bits);
      EXPECT_EQ(decode_signed_message(t, bits), m) << bits;
      EXPECT_EQ(decode_message(t, bits), static_cast<std::uint64_t>(m) & ((1ull << bits) - 1));
      // Noise below delta/2 does not change the decoding.
      const Torus half = encoding_delta(bits) / 2 - 1;
      EXPECT_EQ(decode_signed_message(t + half, bits), m);
      EXPECT_EQ(decode_signed_message(t - half, bits), m);
    }
  }
}

TEST(Lwe, EncryptDecryptAndLinearOperations) {
  Csprng key_rng(testing::fixed_seed(1));
  const LweSecretKey key = generate_lwe_secret_key(LweDimension(630), key_rng);
  EncryptionGenerator gen(testing::fixed_seed(2), testing::fixed_seed(3));
  const auto noise = NoiseDistribution::gaussian(std::ldexp(1.0, -25));
  const unsigned bits = 6;
  for (std::int64_t a = -32; a < 32; a += 7) {
    for (std::int64_t b = -32; b < 32; b += 5) {
      const LweCiphertext ca = encrypt_lwe(key, encode_message(a, bits), noise, gen);
      const LweCiphertext cb = encrypt_lwe(key, encode_message(b, bits), noise, gen);
      LweCiphertext sum(key.dimension()), diff(key.dimension());
      lwe_add(ca, cb, sum);
      lwe_sub(ca, cb, diff);
      auto wrap = [&](std::int64_t v) {
        return decode_signed_message(encode_message(v, bits), bits);
      };
      EXPECT_EQ(decode_signed_message(decrypt_lwe(key, sum), bits), wrap(a + b));
      EXPECT_EQ(decode_signed_message(decrypt_lwe(key, diff), bits), wrap(a - b));
      LweCiphertext c = ca;
      lwe_mul_scalar_assign(c, -3);
      lwe_add_plaintext_assign(c, encode_message(5, bits));
      EXPECT_EQ(decode_signed_message(decrypt_lwe(key, c), bits), wrap(-3 * a + 5));
      lwe_negate_assign(c);
      EXPECT_EQ(decode_signed_message(decrypt_lwe(key, c), bits), wrap(3 * a - 5));
      lwe_add_mul_assign(c, cb, 2);
      EXPECT_EQ(decode_signed_message(decrypt_lwe(key, c), bits), wrap(3 * a - 5 + 2 * b));
    }
  }
}

TEST(Lwe, DimensionMismatchIsReported) {
  Csprng key_rng(testing::fixed_seed(1));
  const LweSecretKey key = generate_lwe_secret_key(LweDimension(16), key_rng);
  LweCiphertext a(LweDimension(16)), b(LweDimension(17));
  EXPECT_THROW(lwe_add_assign(a, b), ParameterMismatch);
  EXPECT_THROW(decrypt_lwe(key, b), ParameterMismatch);
}

TEST(Decomposition, RecomposesToTheClosestRepresentable) {
  std::mt19937_64 rng(5);
  for (auto [beta, levels] : {std::pair{23u, 1u}, {4u, 4u}, {15u, 2u}, {2u, 11u}, {1u, 22u}}) {
    const DecompositionParameters p{DecompositionBaseLog(beta), DecompositionLevelCount(levels)};
    const unsigned total = beta * levels;
    for (int trial = 0; trial < 2000; ++trial) {
      const Torus x = rng();
      std::int64_t digits[64];
      decompose_torus(x, p, digits);
      for (unsigned j = 0; j < levels; ++j) {
        EXPECT_GE(digits[j], -(std::int64_t{1} << (beta - 1)));
        EXPECT_LT(digits[j], std::int64_t{1} << (beta - 1));
      }
      const Torus back = recompose_torus(digits, p);
      const auto err = static_cast<std::int64_t>(x - back);
      const std::int64_t half = std::int64_t{1} << (64 - total - 1);
      EXPECT_LE(err, half);
      EXPECT_GE(err, -half);
    }
  }
}

// The vectorized digit planes of the external product (one-pass for 1 to 3 levels, blocked
// level by level beyond) equal decompose_torus value by value, digit by digit.
TEST(Decomposition, DigitPlanesEqualTheScalarDecomposition) {
  std::mt19937_64 rng(11);
  constexpr std::size_t kCount = 1000;  // not a multiple of the 256-value blocks
  std::vector<Torus> src(kCount), sub(kCount);
  for (Torus& v : src) v = rng();
  for (Torus& v : sub) v = rng();
  src[0] = 0;
  src[1] = ~Torus{0};
  src[2] = Torus{1} << 63;
  for (auto [beta, levels] :
       {std::pair{23u, 1u}, {15u, 2u}, {10u, 3u}, {21u, 3u}, {12u, 4u}, {1u, 22u}, {1u, 2u}}) {
    const DecompositionParameters p{DecompositionBaseLog(beta), DecompositionLevelCount(levels)};
    for (const bool negate : {false, true}) {
      for (const bool with_sub : {false, true}) {
        std::vector<std::int64_t> planes(levels * kCount);
        detail::decompose_difference(src.data(), with_sub ? sub.data() : nullptr, kCount, negate,
                                     beta, levels, planes.data(), kCount);
        std::int64_t expected[64];
        for (std::size_t x = 0; x < kCount; ++x) {
          Torus v = negate ? Torus{0} - src[x] : src[x];
          if (with_sub) v -= sub[x];
          decompose_torus(v, p, expected);
          for (unsigned j = 0; j < levels; ++j)
            ASSERT_EQ(planes[j * kCount + x], expected[j])
                << "base 2^" << beta << " x " << levels << " negate " << negate << " sub "
                << with_sub << " value " << x << " level " << j;
        }
      }
    }
  }
}

TEST(Polynomial, MonomialAndBinaryProducts) {
  std::mt19937_64 rng(9);
  const std::size_t n = 512;
  std::vector<Torus> a(n), s(n), expected(n, 0), got(n, 0), rot(n), rot2(n);
  for (auto& x : a) x = rng();
  for (auto& x : s) x = rng() & 1;
  polynomial_add_mul_schoolbook(expected, a, s);
  polynomial_add_mul_binary(got, a, s);
  EXPECT_EQ(got, expected);
  // X^p * X^(2N-p) = 1.
  for (std::size_t p : {0u, 1u, 7u, 511u, 512u, 700u, 1023u}) {
    polynomial_mul_monomial(rot, a, p);
    polynomial_mul_monomial(rot2, rot, (2 * n - p) % (2 * n));
    EXPECT_EQ(rot2, a);
  }
  // X^N = -1.
  polynomial_mul_monomial(rot, a, n);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(rot[i], Torus{0} - a[i]);
}

TEST(Glwe, EncryptDecrypt) {
  Csprng key_rng(testing::fixed_seed(4));
  const GlweSecretKey key =
      generate_glwe_secret_key(GlweDimension(2), PolynomialSize(512), key_rng);
  EncryptionGenerator gen(testing::fixed_seed(5), testing::fixed_seed(6));
  std::vector<Torus> msg(512);
  for (std::size_t i = 0; i < msg.size(); ++i)
    msg[i] = encode_message(static_cast<std::int64_t>(i % 8), 3);
  GlweCiphertext ct(GlweDimension(2), PolynomialSize(512));
  encrypt_glwe(key, msg, NoiseDistribution::gaussian(std::ldexp(1.0, -40)), gen, ct.data());
  const auto phase = decrypt_glwe(key, ct.data());
  for (std::size_t i = 0; i < msg.size(); ++i) EXPECT_EQ(decode_message(phase[i], 3), i % 8);
}

// GGSW(b) [x] GLWE(M) decrypts to b * M, and the CMux selects.
class GgswTest
    : public ::testing::TestWithParam<std::tuple<std::size_t, std::size_t, std::size_t>> {
 protected:
  // k = 1, N and the decomposition from the parameter.
  GgswShape shape() const {
    const auto [big_n, beta, levels] = GetParam();
    return {GlweDimension(1),
            PolynomialSize(big_n),
            {DecompositionBaseLog(beta), DecompositionLevelCount(levels)}};
  }
  static NoiseDistribution noise() { return NoiseDistribution::gaussian(std::ldexp(1.0, -50)); }
  // A GGSW encryption of `bit` under `key`, in the Fourier domain.
  AlignedVector<double> fourier_ggsw(const GlweSecretKey& key, std::int64_t bit,
                                     EncryptionGenerator& gen) const {
    const GgswShape g = shape();
    std::vector<Torus> ggsw(g.torus_elements());
    encrypt_ggsw(key, bit, g, noise(), gen, ggsw);
    AlignedVector<double> fourier(g.fourier_doubles());
    convert_ggsw_to_fourier(ggsw, g, fft_plan(g.polynomial_size), fourier.data());
    return fourier;
  }
};

TEST_P(GgswTest, ExternalProductAndCmux) {
  const std::size_t big_n = std::get<0>(GetParam());
  Csprng key_rng(testing::fixed_seed(7));
  const GgswShape shape = this->shape();
  const GlweSecretKey key =
      generate_glwe_secret_key(shape.glwe_dimension, shape.polynomial_size, key_rng);
  EncryptionGenerator gen(testing::fixed_seed(8), testing::fixed_seed(9));
  const FftPlan& plan = fft_plan(shape.polynomial_size);
  std::vector<Torus> msg(big_n);
  for (std::size_t i = 0; i < msg.size(); ++i)
    msg[i] = encode_message(static_cast<std::int64_t>(i % 16), 4);
  std::vector<Torus> glwe(shape.glwe_size());
  encrypt_glwe(key, msg, noise(), gen, glwe);
  for (std::int64_t bit : {0, 1}) {
    const AlignedVector<double> fourier = fourier_ggsw(key, bit, gen);
    ExternalProductScratch scratch;
    std::vector<Torus> out(shape.glwe_size(), 0);
    add_external_product(out, fourier.data(), glwe, shape, plan, scratch);
    const auto phase = decrypt_glwe(key, out);
    for (std::size_t i = 0; i < msg.size(); ++i)
      ASSERT_EQ(decode_message(phase[i], 4), bit ? i % 16 : 0)
          << "bit " << bit << " coefficient " << i;
    // CMux: acc <- bit ? X^5 acc : acc.
    std::vector<Torus> acc = glwe;
    cmux_rotate(acc, fourier.data(), 5, shape, plan, scratch);
    const auto phase2 = decrypt_glwe(key, acc);
    std::vector<Torus> expected(big_n);
    if (bit)
      polynomial_mul_monomial(expected, msg, 5);
    else
      expected = msg;
    for (std::size_t i = 0; i < msg.size(); ++i)
      ASSERT_EQ(decode_message(phase2[i], 4), decode_message(expected[i], 4))
          << "cmux coefficient " << i;
  }
}

// Two CMuxes by one key read (the lockstep walks' pairs) are bit-identical to two cmux_rotate
// calls, for every rotation kind (none, below N, above N).
TEST_P(GgswTest, CmuxPairEqualsTwoCmuxes) {
  const std::size_t big_n = std::get<0>(GetParam());
  Csprng rng(testing::fixed_seed(12));
  const GgswShape shape = this->shape();
  const GlweSecretKey key =
      generate_glwe_secret_key(shape.glwe_dimension, shape.polynomial_size, rng);
  EncryptionGenerator gen(testing::fixed_seed(13), testing::fixed_seed(14));
  const FftPlan& plan = fft_plan(shape.polynomial_size);
  const AlignedVector<double> fourier = fourier_ggsw(key, 1, gen);
  std::vector<Torus> a(shape.glwe_size()), b(shape.glwe_size());
  for (Torus& v : a) v = rng.next_u64();
  for (Torus& v : b) v = rng.next_u64();
  ExternalProductScratch s0, s1;
  for (auto [p0, p1] :
       {std::pair<std::size_t, std::size_t>{5, 2 * big_n - 3}, {0, big_n}, {big_n + 7, 1}}) {
    std::vector<Torus> a_single = a, b_single = b, a_pair = a, b_pair = b;
    cmux_rotate(a_single, fourier.data(), p0, shape, plan, s0);
    cmux_rotate(b_single, fourier.data(), p1, shape, plan, s0);
    cmux_rotate_pair(a_pair, p0, b_pair, p1, fourier.data(), shape, plan, s0, s1);
    EXPECT_EQ(a_pair, a_single) << "powers " << p0 << ", " << p1;
    EXPECT_EQ(b_pair, b_single) << "powers " << p0 << ", " << p1;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GgswTest,
                         ::testing::Values(std::tuple{1024u, 10u, 3u}, std::tuple{2048u, 23u, 1u},
                                           std::tuple{4096u, 15u, 2u}));

TEST(Ggsw, OwnedTypesAndGlweLists) {
  Csprng key_rng(testing::fixed_seed(30));
  const GgswShape shape{GlweDimension(2),
                        PolynomialSize(512),
                        {DecompositionBaseLog(12), DecompositionLevelCount(2)}};
  const GlweSecretKey key =
      generate_glwe_secret_key(shape.glwe_dimension, shape.polynomial_size, key_rng);
  EncryptionGenerator gen(testing::fixed_seed(31), testing::fixed_seed(32));
  const auto noise = NoiseDistribution::gaussian(std::ldexp(1.0, -50));
  const GgswCiphertext one = encrypt_ggsw(key, 1, shape, noise, gen);
  const FourierGgswCiphertext fourier = convert_ggsw_to_fourier(one);
  GlweCiphertextList list(shape.glwe_dimension, shape.polynomial_size, 3);
  std::vector<Torus> msg(512);
  for (std::size_t t = 0; t < list.size(); ++t) {
    for (std::size_t i = 0; i < msg.size(); ++i)
      msg[i] = encode_message(static_cast<std::int64_t>((i + t) % 8), 3);
    encrypt_glwe(key, msg, noise, gen, list[t]);
    std::vector<Torus> out(shape.glwe_size(), 0);
    ExternalProductScratch scratch;
    add_external_product(out, fourier.data.data(), list[t], shape, fft_plan(shape.polynomial_size),
                         scratch);
    const auto phase = decrypt_glwe(key, out);
    for (std::size_t i = 0; i < msg.size(); ++i)
      ASSERT_EQ(decode_message(phase[i], 3), (i + t) % 8);
  }
}

TEST(Keyswitch, PreservesTheMessage) {
  Csprng key_rng(testing::fixed_seed(10));
  const LweSecretKey big = generate_lwe_secret_key(LweDimension(2048), key_rng);
  const LweSecretKey small = generate_lwe_secret_key(LweDimension(700), key_rng);
  const DecompositionParameters ks{DecompositionBaseLog(4), DecompositionLevelCount(4)};
  const auto seeded = generate_seeded_keyswitch_key(
      big, small, ks, NoiseDistribution::gaussian(std::ldexp(1.0, -20)), testing::fixed_seed(11),
      testing::fixed_seed(12));
  const LweKeyswitchKey ksk = decompress_keyswitch_key(seeded);
  EncryptionGenerator gen(testing::fixed_seed(13), testing::fixed_seed(14));
  for (std::int64_t m = 0; m < 16; ++m) {
    const LweCiphertext ct = encrypt_lwe(big, encode_message(m, 4),
                                         NoiseDistribution::gaussian(std::ldexp(1.0, -40)), gen);
    LweCiphertext out(small.dimension());
    keyswitch(ksk, ct, out);
    EXPECT_EQ(decode_message(decrypt_lwe(small, out), 4), static_cast<std::uint64_t>(m));
  }
  LweCiphertext wrong(LweDimension(2047)), out(small.dimension());
  EXPECT_THROW(keyswitch(ksk, wrong, out), ParameterMismatch);
}

TEST(ModulusSwitch, KeepsThePhaseWithinRounding) {
  Csprng key_rng(testing::fixed_seed(15));
  const LweSecretKey key = generate_lwe_secret_key(LweDimension(800), key_rng);
  EncryptionGenerator gen(testing::fixed_seed(16), testing::fixed_seed(17));
  const std::size_t big_n = 2048;
  for (auto kind : {ModulusSwitchKind::Standard, ModulusSwitchKind::CenteredMean}) {
    for (std::int64_t m = 0; m < 16; ++m) {
      const LweCiphertext ct =
          encrypt_lwe(key, encode_message(m, 4), NoiseDistribution::gaussian(1e-12), gen);
      std::vector<std::uint32_t> sw(801);
      modulus_switch(ct, PolynomialSize(big_n), kind, sw);
      std::int64_t phase = sw[800];
      for (std::size_t i = 0; i < 800; ++i) phase -= static_cast<std::int64_t>(sw[i] * key.bits[i]);
      phase = ((phase % 4096) + 4096) % 4096;
      // Expected position m * 2N / 32 (4 bits + padding); the switch shifts it by -1/2 step.
      const std::int64_t expected = m * 4096 / 32;
      std::int64_t dist = phase - expected;
      if (dist > 2048) dist -= 4096;
      if (dist < -2048) dist += 4096;
      EXPECT_LE(std::abs(dist), 64) << "m=" << m;  // box half-width is 64 positions
    }
  }
}

TEST(SampleExtract, ReadsTheConstantCoefficient) {
  Csprng key_rng(testing::fixed_seed(18));
  const GlweSecretKey key =
      generate_glwe_secret_key(GlweDimension(2), PolynomialSize(256), key_rng);
  EncryptionGenerator gen(testing::fixed_seed(19), testing::fixed_seed(20));
  std::vector<Torus> msg(256, 0);
  msg[0] = encode_message(5, 4);
  msg[1] = encode_message(9, 4);
  std::vector<Torus> glwe((2 + 1) * 256);
  encrypt_glwe(key, msg, NoiseDistribution::gaussian(1e-12), gen, glwe);
  LweCiphertext lwe(LweDimension(512));
  sample_extract(glwe, GlweDimension(2), PolynomialSize(256), lwe);
  EXPECT_EQ(decode_message(decrypt_lwe(key.as_lwe_key(), lwe), 4), 5u);
}

}  // namespace
}  // namespace torusml::tfhe
