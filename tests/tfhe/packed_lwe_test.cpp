// Packed input encryption (packed_lwe.h): every element decrypts under the big key with the
// model's fresh noise, the seeded and full forms agree, slices and the fused multiply-accumulate
// equal sample extraction, and the unused body coefficients are zero.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "torusml/common/error.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/lwe.h"
#include "torusml/tfhe/packed_lwe.h"

#include "test_keys.h"

namespace torusml::tfhe {
namespace {

struct PackedFixture {
  GlweSecretKey key;
  std::vector<Torus> plaintexts;
  NoiseDistribution noise = NoiseDistribution::gaussian(std::ldexp(1.0, -30));
  Seed mask_seed = testing::fixed_seed(21);

  PackedFixture(std::size_t k, std::size_t n, std::size_t count) {
    Csprng key_rng(testing::fixed_seed(20));
    key = generate_glwe_secret_key(GlweDimension(k), PolynomialSize(n), key_rng);
    for (std::size_t i = 0; i < count; ++i)
      plaintexts.push_back(encode_message(static_cast<std::int64_t>((i * 7) % 16), 4));
  }
  PackedLweCiphertextList full() const {
    Csprng noise_rng(testing::fixed_seed(22));
    return encrypt_lwe_list_packed(key, plaintexts, noise, mask_seed, noise_rng);
  }
  SeededPackedLweCiphertextList seeded() const {
    Csprng noise_rng(testing::fixed_seed(22));
    return encrypt_lwe_list_packed_seeded(key, plaintexts, noise, mask_seed, noise_rng);
  }
};

LweCiphertext extracted(const PackedLweCiphertextList& list, std::size_t i) {
  LweCiphertext ct(list.dimension());
  extract_lwe(list, i, ct);
  return ct;
}

class PackedLweTest : public ::testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(PackedLweTest, ElementsDecryptWithTheFreshNoise) {
  const auto [k, n] = GetParam();
  const std::size_t count = 3 * n + n / 3;  // four GLWEs, the last one partly used
  const PackedFixture f(k, n, count);
  const PackedLweCiphertextList list = f.full();
  ASSERT_EQ(list.size(), count);
  ASSERT_EQ(list.glwes.size(), 4u);
  ASSERT_EQ(list.dimension().value(), k * n);
  double sum2 = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Torus phase = decrypt_lwe(f.key.as_lwe_key(), extracted(list, i));
    const auto err = static_cast<double>(static_cast<std::int64_t>(phase - f.plaintexts[i]));
    sum2 += err * err;
  }
  // The error of each element is one coefficient of the GLWE noise: its variance is the
  // noise's (a chi-square with `count` degrees of freedom, within 6 standard deviations).
  const double sigma = f.noise.std_dev * std::ldexp(1.0, 64);
  const double ratio = sum2 / static_cast<double>(count) / (sigma * sigma);
  EXPECT_NEAR(ratio, 1.0, 6.0 * std::sqrt(2.0 / static_cast<double>(count))) << ratio;
}

TEST_P(PackedLweTest, SeededAndFullFormsAgreeAndSlice) {
  const auto [k, n] = GetParam();
  const std::size_t count = 2 * n + 5;
  const PackedFixture f(k, n, count);
  const PackedLweCiphertextList full = f.full();
  const SeededPackedLweCiphertextList seeded = f.seeded();
  ASSERT_EQ(seeded.size(), count);
  EXPECT_EQ(decompress_packed_lwe_list(seeded).glwes.data().size(), full.glwes.data().size());
  EXPECT_TRUE(
      std::ranges::equal(decompress_packed_lwe_list(seeded).glwes.data(), full.glwes.data()));
  // Slices across GLWE boundaries, from the seeded and the full form.
  for (const auto& [first, len] : {std::pair<std::size_t, std::size_t>{0, 1},
                                   {n - 2, 5},
                                   {n + 3, n},
                                   {count - 1, 1},
                                   {7, count - 7}}) {
    const PackedLweCiphertextList a = decompress_packed_lwe_list(seeded, first, len);
    const PackedLweCiphertextList b = slice_packed_lwe_list(full, first, len);
    ASSERT_EQ(a.size(), len);
    ASSERT_EQ(b.size(), len);
    EXPECT_TRUE(std::ranges::equal(a.glwes.data(), b.glwes.data())) << first << " " << len;
    for (std::size_t i = 0; i < len; i += std::max<std::size_t>(1, len / 7)) {
      EXPECT_EQ(extracted(a, i), extracted(full, first + i)) << first << " " << i;
      EXPECT_EQ(extracted(b, i), extracted(full, first + i)) << first << " " << i;
    }
  }
}

TEST_P(PackedLweTest, FusedMultiplyAccumulateEqualsExtraction) {
  const auto [k, n] = GetParam();
  const PackedFixture f(k, n, n + 9);
  const PackedLweCiphertextList list = slice_packed_lwe_list(f.full(), 3, n + 4);
  std::vector<Torus> fused(k * n + 1, 0), reference(k * n + 1, 0);
  std::int64_t c = -5;
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, n - 4, n - 3, n - 2, n + 3}) {
    add_scaled_extracted(fused, list, i, static_cast<Torus>(c));
    const LweCiphertext e = extracted(list, i);
    for (std::size_t t = 0; t < reference.size(); ++t)
      reference[t] += static_cast<Torus>(c) * e.data()[t];
    c += 3;
  }
  EXPECT_EQ(fused, reference);
  // unpack_lwe_list is extraction of every element.
  const LweCiphertextList all = unpack_lwe_list(list);
  ASSERT_EQ(all.size(), list.size());
  for (std::size_t i = 0; i < all.size(); ++i)
    ASSERT_TRUE(std::ranges::equal(all[i].data(), extracted(list, i).data())) << i;
}

TEST_P(PackedLweTest, UnusedBodyCoefficientsAreZero) {
  const auto [k, n] = GetParam();
  const PackedFixture f(k, n, n + n / 2);
  const PackedLweCiphertextList list = f.full();
  const auto last = list.glwes[1];
  for (std::size_t j = n / 2; j < n; ++j) EXPECT_EQ(last[k * n + j], 0u) << j;
  const PackedLweCiphertextList part = slice_packed_lwe_list(list, 2, 3);
  for (std::size_t j = 0; j < n; ++j) {
    if (j < 2 || j >= 5) {
      EXPECT_EQ(part.glwes[0][k * n + j], 0u) << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, PackedLweTest,
                         ::testing::Values(std::tuple<std::size_t, std::size_t>{1, 256},
                                           std::tuple<std::size_t, std::size_t>{2, 512},
                                           std::tuple<std::size_t, std::size_t>{1, 2048},
                                           // A small key read with N = 32 (small-key inputs:
                                           // schoolbook products).
                                           std::tuple<std::size_t, std::size_t>{20, 32}));

// A small LWE key read as a GLWE key (lwe_key_as_glwe_key): the packed elements extract to LWE
// ciphertexts under the LWE key itself.
TEST(PackedLwe, LweKeyReadAsGlweKey) {
  Csprng key_rng(testing::fixed_seed(30));
  const LweSecretKey small = generate_lwe_secret_key(LweDimension(640), key_rng);
  const GlweSecretKey glwe = lwe_key_as_glwe_key(small, PolynomialSize(32));
  EXPECT_EQ(glwe.glwe_dimension, GlweDimension(20));
  EXPECT_EQ(glwe.as_lwe_key().bits, small.bits);
  std::vector<Torus> plaintexts;
  for (std::size_t i = 0; i < 100; ++i)
    plaintexts.push_back(encode_message(static_cast<std::int64_t>(i % 16), 4));
  Csprng noise_rng(testing::fixed_seed(31));
  const PackedLweCiphertextList list =
      encrypt_lwe_list_packed(glwe, plaintexts, NoiseDistribution::gaussian(std::ldexp(1.0, -20)),
                              testing::fixed_seed(32), noise_rng);
  EXPECT_EQ(list.dimension(), LweDimension(640));
  EXPECT_EQ(list.glwes.size(), 4u);  // ceil(100 / 32)
  const LweCiphertextList lwes = unpack_lwe_list(list);
  for (std::size_t i = 0; i < plaintexts.size(); ++i)
    EXPECT_EQ(decode_message(decrypt_lwe(small, lwes[i]), 4), i % 16) << i;
  // N must divide the dimension.
  EXPECT_THROW(lwe_key_as_glwe_key(small, PolynomialSize(256)), InternalError);
}

TEST(PackedLwe, EmptyLists) {
  const PackedFixture f(1, 256, 0);
  const PackedLweCiphertextList list = f.full();
  EXPECT_EQ(list.size(), 0u);
  EXPECT_EQ(list.glwes.size(), 0u);
  EXPECT_EQ(f.seeded().size(), 0u);
  EXPECT_EQ(unpack_lwe_list(list).size(), 0u);
}

}  // namespace
}  // namespace torusml::tfhe
