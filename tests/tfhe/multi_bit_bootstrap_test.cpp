// Multi-bit bootstrapping (multi_bit_bootstrap.h): key shape and generation (seeded = direct,
// each GGSW encrypting its subset indicator), exact lookups for grouping factors 2, 3 and 4 on the
// 4-bit preset (n = 918: g = 4 has a partial last group), the rotation split over threads and the
// batches (keyswitch_multi_bit_bootstrap_batch, multi_bit_bootstrap_batch) bit-identical to the
// serial single bootstrap, the output variance against variance_multi_bit_blind_rotation, and a
// failure rate at a deliberately high p_fail against the model.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "test_keys.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/multi_bit_bootstrap.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/polynomial.h"
#include "torusml/tfhe/presets.h"

namespace torusml::tfhe::testing {
namespace {

double torus_error(Torus phase, Torus expected) {
  return static_cast<double>(static_cast<std::int64_t>(phase - expected)) * 0x1.0p-64;
}

// The multi-bit key of grouping factor g for the 4-bit preset's client key (cached).
const FourierMultiBitBootstrapKey& multi_bit_key(std::size_t g) {
  static std::mutex mutex;
  static std::map<std::size_t, std::unique_ptr<FourierMultiBitBootstrapKey>> cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[g];
  if (!slot) {
    const PbsParameters& p = preset_for_bits(4);
    const TestKeys& keys = keys_for(p);
    const SeededLweMultiBitBootstrapKey seeded = generate_seeded_multi_bit_bootstrap_key(
        keys.client.small_key, keys.client.big_key, GroupingFactor(g), p.pbs, p.glwe_noise,
        fixed_seed(0x33), fixed_seed(0x44));
    slot = std::make_unique<FourierMultiBitBootstrapKey>(
        convert_multi_bit_bootstrap_key_to_fourier(decompress_multi_bit_bootstrap_key(seeded)));
  }
  return *slot;
}

TEST(MultiBitKey, ShapeAndSizes) {
  const GgswShape ggsw{GlweDimension(1),
                       PolynomialSize(2048),
                       {DecompositionBaseLog(23), DecompositionLevelCount(1)}};
  const auto s4 = make_multi_bit_bootstrap_key_shape(LweDimension(918), GroupingFactor(4), ggsw);
  EXPECT_EQ(s4.groups(), 230u);
  EXPECT_EQ(s4.group_size(229), 2u);
  EXPECT_EQ(s4.ggsw_count(), 229u * 15 + 3);
  EXPECT_EQ(s4.key_bytes(), s4.ggsw_count() * 4 * 2048 * 8);
  EXPECT_EQ(s4.seeded_key_bytes(), s4.ggsw_count() * 2 * 2048 * 8 + 32);
  const auto s3 = make_multi_bit_bootstrap_key_shape(LweDimension(918), GroupingFactor(3), ggsw);
  EXPECT_EQ(s3.ggsw_count(), 306u * 7);
  EXPECT_THROW(make_multi_bit_bootstrap_key_shape(LweDimension(918), GroupingFactor(5), ggsw),
               InvalidArgument);
  EXPECT_THROW(make_multi_bit_bootstrap_key_shape(LweDimension(918), GroupingFactor(1), ggsw),
               InvalidArgument);
}

// Seeded generation then decompression equals direct generation, and every GGSW's body row of
// level 1 decrypts to its subset indicator times q / B.
TEST(MultiBitKey, SeededRoundTripAndIndicators) {
  Csprng rng(fixed_seed(50));
  const LweSecretKey small = generate_lwe_secret_key(LweDimension(11), rng);
  const GlweSecretKey big = generate_glwe_secret_key(GlweDimension(2), PolynomialSize(256), rng);
  const DecompositionParameters d{DecompositionBaseLog(10), DecompositionLevelCount(2)};
  const auto noise = NoiseDistribution::tuniform(20);
  for (std::size_t g = 2; g <= 4; ++g) {
    const SeededLweMultiBitBootstrapKey seeded = generate_seeded_multi_bit_bootstrap_key(
        small, big, GroupingFactor(g), d, noise, fixed_seed(51), fixed_seed(52));
    const LweMultiBitBootstrapKey direct = generate_multi_bit_bootstrap_key(
        small, big, GroupingFactor(g), d, noise, fixed_seed(51), fixed_seed(52));
    const LweMultiBitBootstrapKey expanded = decompress_multi_bit_bootstrap_key(seeded);
    ASSERT_EQ(expanded, direct) << "g = " << g;
    EXPECT_EQ(seeded.bodies.size() * 8 + 32, seeded.shape.seeded_key_bytes());
    const MultiBitBootstrapKeyShape& shape = direct.shape;
    const GgswShape& gs = shape.ggsw;
    std::size_t ones = 0;
    for (std::size_t group = 0; group < shape.groups(); ++group) {
      const std::size_t subsets = (std::size_t{1} << shape.group_size(group)) - 1;
      for (std::size_t s = 1; s <= subsets; ++s) {
        const std::size_t j = shape.first_ggsw(group) + s - 1;
        // Row (k, level 1): GLWE of indicator * q / B in the constant coefficient.
        const std::size_t body_row = gs.glwe_dimension.value() * d.level_count.value();
        const auto row =
            std::span(direct.data)
                .subspan(j * gs.torus_elements() + body_row * gs.glwe_size(), gs.glwe_size());
        const std::int64_t ind = multi_bit_subset_indicator(small, shape, group, s);
        const Torus phase = decrypt_glwe(big, row)[0];
        EXPECT_LT(std::abs(torus_error(phase, static_cast<Torus>(ind) << 54)), 1e-6)
            << "g " << g << " group " << group << " subset " << s;
        ones += static_cast<std::size_t>(ind);
      }
    }
    // Exactly one indicator per group is 1, except in groups whose bits are all 0.
    std::size_t nonzero_groups = 0;
    for (std::size_t group = 0; group < shape.groups(); ++group) {
      bool any = false;
      for (std::size_t t = 0; t < shape.group_size(group); ++t)
        any = any || small.bits[group * g + t] != 0;
      nonzero_groups += any;
    }
    EXPECT_EQ(ones, nonzero_groups) << "g = " << g;
    // The classic key's streams are not reused.
    const SeededLweMultiBitBootstrapKey other = generate_seeded_multi_bit_bootstrap_key(
        small, big, GroupingFactor(g), d, noise, fixed_seed(51), fixed_seed(53));
    EXPECT_NE(other.bodies, seeded.bodies);
  }
}

// Every 4-bit message through a random table, for g = 2, 3, 4.
TEST(MultiBitBootstrap, EveryLookupExact) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  std::mt19937_64 rng(12);
  for (std::size_t g = 2; g <= 4; ++g) {
    const FourierMultiBitBootstrapKey& bsk = multi_bit_key(g);
    std::vector<std::int64_t> values(16);
    for (auto& v : values) v = static_cast<std::int64_t>(rng() % 16);
    const LookupTable table = make_lookup_table(p, [&](std::uint64_t m) { return values[m]; });
    EncryptionGenerator gen(fixed_seed(60), fixed_seed(61), g);
    LweCiphertext out(p.big_lwe_dimension());
    for (std::uint64_t m = 0; m < 16; ++m) {
      const LweCiphertext ct = encrypt(keys.client, static_cast<std::int64_t>(m), gen);
      keyswitch_multi_bit_bootstrap(keys.server.keyswitch_key, bsk, p.modulus_switch, ct, table,
                                    out);
      ASSERT_EQ(decrypt(keys.client, out), static_cast<std::uint64_t>(values[m]))
          << "g " << g << " message " << m;
    }
  }
}

// The rotation split over threads computes exactly the serial one.
TEST(MultiBitBootstrap, ThreadsEqualSerial) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  const LookupTable table = make_identity_table(p);
  EncryptionGenerator gen(fixed_seed(62), fixed_seed(63));
  for (std::size_t g : {2u, 4u}) {
    const LweCiphertext ct = encrypt(keys.client, 5, gen);
    LweCiphertext serial(p.big_lwe_dimension()), split(p.big_lwe_dimension());
    keyswitch_multi_bit_bootstrap(keys.server.keyswitch_key, multi_bit_key(g), p.modulus_switch, ct,
                                  table, serial);
    keyswitch_multi_bit_bootstrap(keys.server.keyswitch_key, multi_bit_key(g), p.modulus_switch, ct,
                                  table, split, 3);
    EXPECT_EQ(decrypt(keys.client, serial), 5u);
    EXPECT_TRUE(std::equal(serial.data().begin(), serial.data().end(), split.data().begin()))
        << "g = " << g;
  }
}

// The batches equal the single bootstraps bit for bit, for g = 2, 3, 4, a batch of 7 (not a
// multiple of the lockstep width 3 nor of the thread count) with one table per input, under the
// default options and with small tiles (several per group and thread).
TEST(MultiBitBootstrap, BatchEqualsSingle) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  const LookupTable square = make_lookup_table(p, [](std::uint64_t m) { return (m * m) % 16; });
  const LookupTable negate = make_lookup_table(p, [](std::uint64_t m) { return (16 - m) % 16; });
  constexpr std::size_t kBatch = 7;
  EncryptionGenerator gen(fixed_seed(64), fixed_seed(65));
  LweCiphertextList in(p.big_lwe_dimension(), kBatch);
  std::vector<const LookupTable*> tables;
  for (std::size_t i = 0; i < kBatch; ++i) {
    const LweCiphertext ct = encrypt(keys.client, static_cast<std::int64_t>(3 * i % 16), gen);
    std::copy(ct.data().begin(), ct.data().end(), in[i].data().begin());
    tables.push_back(i % 2 == 0 ? &square : &negate);
  }
  // The small-key inputs of multi_bit_bootstrap_batch.
  LweCiphertextList small(p.lwe_dimension, kBatch);
  for (std::size_t i = 0; i < kBatch; ++i) keyswitch(keys.server.keyswitch_key, in[i], small[i]);
  MultiBitBatchOptions tiny;
  tiny.tile_bytes = 4096;
  tiny.lockstep = 3;
  for (std::size_t g = 2; g <= 4; ++g) {
    const FourierMultiBitBootstrapKey& bsk = multi_bit_key(g);
    LweCiphertextList batched, tiled, from_small;
    keyswitch_multi_bit_bootstrap_batch(keys.server.keyswitch_key, bsk, p.modulus_switch, in,
                                        tables, batched);
    keyswitch_multi_bit_bootstrap_batch(keys.server.keyswitch_key, bsk, p.modulus_switch, in,
                                        tables, tiled, tiny);
    multi_bit_bootstrap_batch(bsk, p.modulus_switch, small, tables, from_small, tiny);
    ASSERT_EQ(batched.size(), kBatch);
    LweCiphertext single(p.big_lwe_dimension());
    for (std::size_t i = 0; i < kBatch; ++i) {
      keyswitch_multi_bit_bootstrap(keys.server.keyswitch_key, bsk, p.modulus_switch, in[i],
                                    *tables[i], single);
      const std::uint64_t m = 3 * i % 16;
      EXPECT_EQ(decrypt(keys.client, single), i % 2 == 0 ? (m * m) % 16 : (16 - m) % 16)
          << "g " << g << " input " << i;
      for (const LweCiphertextList* list : {&batched, &tiled, &from_small}) {
        const auto got = (*list)[i].data();
        EXPECT_TRUE(std::equal(got.begin(), got.end(), single.data().begin()))
            << "g " << g << " input " << i;
      }
    }
  }
  // A table count that is neither 1 nor the batch size.
  LweCiphertextList out;
  const LookupTable* two[] = {&square, &negate};
  EXPECT_THROW(keyswitch_multi_bit_bootstrap_batch(keys.server.keyswitch_key, multi_bit_key(2),
                                                   p.modulus_switch, in, two, out),
               InvalidArgument);
}

// Output noise: every coefficient of the rotated accumulator against the exactly rotated table.
TEST(MultiBitBootstrap, BlindRotationMatchesModel) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  const std::size_t n = p.polynomial_size.value();
  std::mt19937_64 rng(9);
  std::vector<Torus> values(16);
  for (auto& v : values) v = rng();
  const LookupTable lut = make_lookup_table(p.polynomial_size, 4, values);
  for (std::size_t g = 2; g <= 4; ++g) {
    const FourierMultiBitBootstrapKey& bsk = multi_bit_key(g);
    const int inputs = 16;  // 32768 samples, loosely correlated within an input: tolerance 12%
    std::vector<double> sums(inputs, 0.0);
    parallel_for(inputs, [&](std::size_t t) {
      EncryptionGenerator gen(fixed_seed(70), fixed_seed(71), 100 * g + t + 1);
      const LweCiphertext ct =
          encrypt_lwe(keys.client.small_key, gen.mask.next_u64(), p.lwe_noise, gen);
      std::vector<std::uint32_t> sw(p.lwe_dimension.value() + 1);
      modulus_switch(ct, p.polynomial_size, p.modulus_switch, sw);
      std::int64_t phase = sw.back();
      for (std::size_t j = 0; j + 1 < sw.size(); ++j)
        phase -= static_cast<std::int64_t>(sw[j] * keys.client.small_key.bits[j]);
      const auto two_n = static_cast<std::int64_t>(2 * n);
      phase = ((phase % two_n) + two_n) % two_n;
      std::vector<Torus> acc(p.glwe_dimension.value() * n + n), expected(n);
      multi_bit_blind_rotate(bsk, sw, lut, acc);
      polynomial_mul_monomial(expected, lut.accumulator,
                              (2 * n - static_cast<std::size_t>(phase)) % (2 * n));
      const auto got = decrypt_glwe(keys.client.big_key, acc);
      for (std::size_t i = 0; i < n; ++i) {
        const double e = torus_error(got[i], expected[i]);
        sums[t] += e * e;
      }
    });
    double sum = 0;
    for (double s : sums) sum += s;
    const double measured = sum / (inputs * static_cast<double>(n));
    const FftBackendKind backend = fft_plan(p.polynomial_size).backend();
    const double model =
        variance_multi_bit_blind_rotation(p.lwe_dimension, GroupingFactor(g), p.glwe_dimension,
                                          p.polynomial_size, p.pbs, p.glwe_noise, backend);
    const double classic = variance_blind_rotation(p.lwe_dimension, p.glwe_dimension,
                                                   p.polynomial_size, p.pbs, p.glwe_noise, backend);
    EXPECT_GT(measured / model, 0.88)
        << "g " << g << ": measured 2^" << std::log2(measured) << ", model 2^" << std::log2(model);
    EXPECT_LT(measured / model, 1.12)
        << "g " << g << ": measured 2^" << std::log2(measured) << ", model 2^" << std::log2(model);
    // The multi-bit noise is larger than the classic one (2 (2^g - 1) / g > 1), as modelled.
    EXPECT_GT(measured, 1.5 * classic) << "g " << g;
    // The default (conservative) model bounds every backend.
    EXPECT_LE(measured, variance_multi_bit_blind_rotation(p.lwe_dimension, GroupingFactor(g),
                                                          p.glwe_dimension, p.polynomial_size,
                                                          p.pbs, p.glwe_noise));
  }
}

// Failure rate at p_fail near 2^-3 (5-bit messages on the 4-bit preset's keys), driven by the
// multi-bit output noise: each input is a coefficient of a multi-bit rotation of the zero table
// (an encryption of 0 with the output variance V), times nu, plus the message; then a multi-bit
// KS-PBS. The model: P(|nu e + e_ks + e_ms| >= delta / 2) with Var(e) = V. The number of wrong
// results among `trials` is within 4.5 binomial standard deviations of the expectation.
TEST(MultiBitBootstrap, FailureRateAgreesWithModel) {
  const std::size_t g = 2;
  const PbsParameters& p4 = preset_for_bits(4);
  const TestKeys& keys = keys_for(p4);
  PbsParameters p = p4;
  p.message_bits = 5;
  const FourierMultiBitBootstrapKey& bsk = multi_bit_key(g);
  const std::size_t n = p.polynomial_size.value(), k = p.glwe_dimension.value();
  const double v_out = variance_multi_bit_blind_rotation(
      p.lwe_dimension, GroupingFactor(g), p.glwe_dimension, p.polynomial_size, p.pbs, p.glwe_noise,
      fft_plan(p.polynomial_size).backend());
  // The smallest integer nu with a model failure probability of at least 2^-3.
  std::int64_t nu = 1;
  while (multi_bit_pbs_noise(p, GroupingFactor(g), v_out, static_cast<double>(nu)).log2_p_fail <
         -3.0)
    ++nu;
  const PbsNoise model = multi_bit_pbs_noise(p, GroupingFactor(g), v_out, static_cast<double>(nu));
  ASSERT_GT(model.input, 4 * (model.keyswitch + model.modulus_switch));  // the output noise rules
  const double p_fail = std::exp2(model.log2_p_fail);

  // Encryptions of 0 with the output noise: coefficient j (j = 0, 37, ...) of the rotation of a
  // random table, minus its exact value; a few coefficients from each of several rotations (the
  // noise of one rotation varies a little with its digits). A zero table would not do: the
  // external products of a zero accumulator add no noise.
  const std::size_t trials = 400, stride = 37, per_rotation = n / stride;
  const std::size_t rotations = (trials + per_rotation - 1) / per_rotation;
  std::mt19937_64 rng(82);
  std::vector<Torus> values(32);
  for (auto& v : values) v = rng();
  const LookupTable lut = make_lookup_table(p.polynomial_size, 5, values);
  std::vector<LweCiphertext> zeros;
  EncryptionGenerator gen(fixed_seed(80), fixed_seed(81));
  for (std::size_t r = 0; r < rotations; ++r) {
    const LweCiphertext small =
        encrypt_lwe(keys.client.small_key, gen.mask.next_u64(), p.lwe_noise, gen);
    std::vector<std::uint32_t> sw(p.lwe_dimension.value() + 1);
    modulus_switch(small, p.polynomial_size, p.modulus_switch, sw);
    std::int64_t phase = sw.back();
    for (std::size_t j = 0; j + 1 < sw.size(); ++j)
      phase -= static_cast<std::int64_t>(sw[j] * keys.client.small_key.bits[j]);
    const auto two_n = static_cast<std::int64_t>(2 * n);
    phase = ((phase % two_n) + two_n) % two_n;
    std::vector<Torus> acc((k + 1) * n), shifted((k + 1) * n), expected(n);
    multi_bit_blind_rotate(bsk, sw, lut, acc);
    polynomial_mul_monomial(expected, lut.accumulator,
                            (2 * n - static_cast<std::size_t>(phase)) % (2 * n));
    for (std::size_t j = 0; j < n && zeros.size() < trials; j += stride) {
      // X^(-j) acc holds coefficient j in its constant coefficient.
      for (std::size_t c = 0; c <= k; ++c)
        polynomial_mul_monomial(std::span(shifted).subspan(c * n, n),
                                std::span<const Torus>(acc).subspan(c * n, n),
                                (2 * n - j) % (2 * n));
      LweCiphertext ct(p.big_lwe_dimension());
      sample_extract(shifted, p.glwe_dimension, p.polynomial_size, ct);
      lwe_add_plaintext_assign(ct, Torus{0} - expected[j]);
      ASSERT_LT(std::abs(torus_error(decrypt_lwe(keys.client.big_key.as_lwe_key(), ct), 0)),
                8 * std::sqrt(v_out));
      zeros.push_back(std::move(ct));
    }
  }
  const LookupTable identity = make_identity_table(p);
  std::vector<int> wrong(trials, 0);
  parallel_for(trials, [&](std::size_t i) {
    const auto m = static_cast<std::int64_t>(i % 32);
    LweCiphertext ct = zeros[i];
    lwe_mul_scalar_assign(ct, nu);
    lwe_add_plaintext_assign(ct, encode_message(m, 5));
    LweCiphertext out(p.big_lwe_dimension());
    keyswitch_multi_bit_bootstrap(keys.server.keyswitch_key, bsk, p.modulus_switch, ct, identity,
                                  out);
    wrong[i] = decode_message(decrypt_lwe(keys.client.big_key.as_lwe_key(), out), 5) !=
               static_cast<std::uint64_t>(m);
  });
  double failures = 0;
  for (int w : wrong) failures += w;
  const double expected = p_fail * static_cast<double>(trials);
  const double sigma = std::sqrt(expected * (1.0 - p_fail));
  EXPECT_NEAR(failures, expected, 4.5 * sigma)
      << "nu " << nu << ": measured failure rate " << failures / trials << ", model " << p_fail;
}

}  // namespace
}  // namespace torusml::tfhe::testing
