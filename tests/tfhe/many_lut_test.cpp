// Many-LUT bootstrapping (many_lut.h) on the 3- and 4-bit presets: every output of every input for
// 2, 3, 4 and 8 packed tables (p + theta <= the preset's bits), negacyclic inputs, the packing,
// sample extraction at a coefficient, the batch form equal to the single one bit for bit, and the
// errors of mismatched inputs. Real keys, fixed seeds. The noise and failure-rate tests are in
// many_lut_noise_test.cpp (slow binary).
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <vector>

#include "test_keys.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/many_lut.h"
#include "torusml/tfhe/polynomial.h"
#include "torusml/tfhe/presets.h"

namespace torusml::tfhe::testing {
namespace {

using Function = std::function<std::int64_t(std::uint64_t)>;

// c random tables over p-bit inputs with outputs mod 2^bits, as functions.
std::vector<Function> random_functions(std::size_t c, unsigned p, unsigned bits,
                                       std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Function> fs;
  for (std::size_t j = 0; j < c; ++j) {
    std::vector<std::int64_t> values(std::size_t{1} << p);
    for (auto& v : values) v = static_cast<std::int64_t>(rng() % (std::uint64_t{1} << bits));
    fs.push_back([values](std::uint64_t m) { return values[m]; });
  }
  return fs;
}

unsigned ceil_log2(std::size_t c) {
  unsigned t = 0;
  while ((std::size_t{1} << t) < c) ++t;
  return t;
}

// Every input of the p = P - theta bit domain, and the negacyclic half (padding bit set):
// output j decrypts to f_j(m), or -f_j(m - 2^p) mod 2^P.
void check_every_output(unsigned preset_bits, std::size_t c) {
  const PbsParameters& params = preset_for_bits(preset_bits);
  const TestKeys& keys = keys_for(params);
  const unsigned big_p = params.message_bits, p = big_p - ceil_log2(c);
  const auto fs = random_functions(c, p, big_p, 1000 * preset_bits + c);
  const ManyLookupTable lut = make_many_lookup_table(params, fs);
  ASSERT_EQ(lut.count, c);
  ASSERT_EQ(lut.input_bits, p);
  EncryptionGenerator gen(fixed_seed(21), fixed_seed(22), c);
  const std::uint64_t space = std::uint64_t{1} << big_p;
  for (std::uint64_t m = 0; m < (std::uint64_t{1} << (p + 1)); ++m) {
    // The p-bit message m (with its padding bit when m >= 2^p) is the P-bit message m * 2^theta.
    const LweCiphertext ct = encrypt_lwe(keys.client.big_key.as_lwe_key(),
                                         static_cast<Torus>(m) << (63 - p), params.glwe_noise, gen);
    const std::vector<LweCiphertext> out = keyswitch_many_lut_bootstrap(keys.server, ct, lut);
    ASSERT_EQ(out.size(), c);
    for (std::size_t j = 0; j < c; ++j) {
      const bool wrapped = m >= (std::uint64_t{1} << p);
      const auto v = static_cast<std::uint64_t>(fs[j](wrapped ? m - (std::uint64_t{1} << p) : m));
      const std::uint64_t expected = wrapped ? (space - v % space) % space : v % space;
      ASSERT_EQ(decrypt(keys.client, out[j]), expected)
          << params.name << " c=" << c << " input " << m << " output " << j;
    }
  }
}

TEST(ManyLut, EveryOutputOfEveryInput3BitPreset) {
  for (std::size_t c : {2u, 3u, 4u}) check_every_output(3, c);
}

TEST(ManyLut, EveryOutputOfEveryInput4BitPreset) {
  for (std::size_t c : {2u, 4u, 8u}) check_every_output(4, c);
}

// The Drift modulus switch kinds: the encryptions of zero expanded for the switch to 2N / 2^theta.
TEST(ManyLut, EveryOutputWithDriftModulusSwitch) {
  for (const auto kind : {ModulusSwitchKind::DriftCenteredMean, ModulusSwitchKind::Drift}) {
    PbsParameters params = preset_for_bits(4);
    params.modulus_switch = kind;
    params.ms_noise_reduction = {256, 2, params.lwe_noise};
    const TestKeys& keys = keys_for(params);
    const std::size_t c = 4;
    const auto fs = random_functions(c, 2, 4, 77);
    const ManyLookupTable lut = make_many_lookup_table(params, fs);
    EXPECT_EQ(many_lut_noise_reduction_key(keys.server, 2).polynomial_size, PolynomialSize(512));
    LweCiphertextList in(params.big_lwe_dimension(), 8);
    EncryptionGenerator gen(fixed_seed(29), fixed_seed(30));
    for (std::size_t m = 0; m < 8; ++m)
      encrypt_lwe(keys.client.big_key.as_lwe_key(), static_cast<Torus>(m % 4) << 61,
                  params.glwe_noise, gen, in[m]);
    const ManyLookupTable* one[] = {&lut};
    std::vector<LweCiphertextList> out;
    keyswitch_many_lut_bootstrap_batch(keys.server, in, one, out);
    for (std::size_t m = 0; m < 8; ++m) {
      const auto single = keyswitch_many_lut_bootstrap(keys.server, in[m], lut);
      for (std::size_t j = 0; j < c; ++j) {
        ASSERT_EQ(decrypt(keys.client, out[j][m]), static_cast<std::uint64_t>(fs[j](m % 4)))
            << "kind " << static_cast<int>(kind) << " input " << m << " output " << j;
        ASSERT_TRUE(
            std::equal(single[j].data().begin(), single[j].data().end(), out[j][m].data().begin()));
      }
    }
  }
}

TEST(ManyLut, PackingLayout) {
  // Slot j of the packed polynomial is the single table of f_j for N / 2^theta.
  const PolynomialSize n(256);
  std::vector<std::vector<Torus>> outputs(3, std::vector<Torus>(4));
  std::mt19937_64 rng(3);
  for (auto& t : outputs)
    for (auto& v : t) v = rng();
  const ManyLookupTable lut = make_many_lookup_table(n, 2, outputs);
  EXPECT_EQ(lut.log2_slots, 2u);
  EXPECT_EQ(lut.count, 3u);
  for (std::size_t j = 0; j < 4; ++j) {
    const std::vector<Torus> u =
        j < 3 ? make_lookup_table(PolynomialSize(64), 2, outputs[j]).accumulator
              : std::vector<Torus>(64, 0);
    for (std::size_t s = 0; s < 64; ++s) ASSERT_EQ(lut.packed.accumulator[4 * s + j], u[s]);
  }
  // One table is the ordinary lookup table.
  const ManyLookupTable one = make_many_lookup_table(n, 2, std::span(outputs).first(1));
  EXPECT_EQ(one.log2_slots, 0u);
  EXPECT_EQ(one.packed.accumulator, make_lookup_table(n, 2, outputs[0]).accumulator);
}

TEST(ManyLut, SampleExtractAtCoefficientIsRotatedExtract) {
  const GlweDimension k(2);
  const PolynomialSize n(256);
  std::mt19937_64 rng(5);
  std::vector<Torus> glwe(3 * 256), shifted(3 * 256);
  for (auto& v : glwe) v = rng();
  for (std::size_t j : {0u, 1u, 7u, 255u}) {
    // X^(-j) glwe holds coefficient j in its constant coefficient.
    for (std::size_t c = 0; c < 3; ++c)
      polynomial_mul_monomial(std::span(shifted).subspan(c * 256, 256),
                              std::span<const Torus>(glwe).subspan(c * 256, 256), (512 - j) % 512);
    LweCiphertext a(LweDimension(512)), b(LweDimension(512));
    sample_extract(glwe, k, n, j, a);
    sample_extract(shifted, k, n, b);
    EXPECT_EQ(a.data()[0], b.data()[0]);
    EXPECT_TRUE(std::equal(a.data().begin(), a.data().end(), b.data().begin())) << "j " << j;
  }
}

TEST(ManyLut, BatchEqualsSingleWithTablesPerInput) {
  const PbsParameters& params = preset_for_bits(4);
  const TestKeys& keys = keys_for(params);
  std::vector<ManyLookupTable> luts;
  for (std::uint64_t s = 0; s < 3; ++s)
    luts.push_back(make_many_lookup_table(params, random_functions(3, 2, 4, 40 + s)));
  const std::size_t count = 13;
  LweCiphertextList in(params.big_lwe_dimension(), count);
  std::vector<const ManyLookupTable*> per_input;
  EncryptionGenerator gen(fixed_seed(23), fixed_seed(24));
  for (std::size_t i = 0; i < count; ++i) {
    encrypt_lwe(keys.client.big_key.as_lwe_key(),
                encode_message(static_cast<std::int64_t>(i % 4), 2), params.glwe_noise, gen, in[i]);
    per_input.push_back(&luts[i % 3]);
  }
  std::vector<LweCiphertextList> out;
  keyswitch_many_lut_bootstrap_batch(keys.server, in, per_input, out);
  ASSERT_EQ(out.size(), 3u);
  for (std::size_t i = 0; i < count; ++i) {
    const auto single = keyswitch_many_lut_bootstrap(keys.server, in[i], *per_input[i]);
    for (std::size_t j = 0; j < 3; ++j) {
      ASSERT_TRUE(
          std::equal(single[j].data().begin(), single[j].data().end(), out[j][i].data().begin()))
          << "input " << i << " output " << j;
    }
  }
}

TEST(ManyLut, MismatchesAreRejected) {
  const PbsParameters& params = preset_for_bits(2);
  const TestKeys& keys = keys_for(params);
  std::vector<std::vector<Torus>> four(4, std::vector<Torus>(4)), none, one_bit(3, {0, 1});
  // 2 bits + 2 slots need N >= 32; 2^7 inputs with 4 slots need 2^10 > 512.
  EXPECT_NO_THROW(make_many_lookup_table(PolynomialSize(32), 2, four));
  EXPECT_THROW(make_many_lookup_table(PolynomialSize(16), 2, four), InvalidArgument);
  EXPECT_THROW(make_many_lookup_table(PolynomialSize(512), 2, none), InvalidArgument);
  EXPECT_NO_THROW(make_many_lookup_table(params, random_functions(2, 1, 2, 1)));  // 1 + 1 bits
  const auto three_of_2bit = random_functions(3, 1, 2, 1);
  EXPECT_THROW(make_many_lookup_table(params, three_of_2bit), InvalidArgument);  // no bit left
  const ManyLookupTable other_n =
      make_many_lookup_table(preset_for_bits(3), random_functions(2, 2, 3, 1));
  EncryptionGenerator gen(fixed_seed(1), fixed_seed(2));
  const LweCiphertext ct = encrypt(keys.client, 1, gen);
  EXPECT_THROW(keyswitch_many_lut_bootstrap(keys.server, ct, other_n), ParameterMismatch);
  const ManyLookupTable lut =
      make_many_lookup_table(params.polynomial_size, 1, std::span(one_bit).first(2));
  LweCiphertext one(params.big_lwe_dimension());
  const LweMutView views[] = {one};
  EXPECT_THROW(keyswitch_many_lut_bootstrap(keys.server, ct, lut, views), InvalidArgument);
  LweCiphertextList in(params.big_lwe_dimension(), 3);
  std::vector<LweCiphertextList> out;
  const ManyLookupTable* two[] = {&lut, &lut};
  EXPECT_THROW(keyswitch_many_lut_bootstrap_batch(keys.server, in, two, out), InvalidArgument);
  const ManyLookupTable lut3 = make_many_lookup_table(params.polynomial_size, 1, one_bit);
  const ManyLookupTable* mixed[] = {&lut, &lut3, &lut};
  EXPECT_THROW(keyswitch_many_lut_bootstrap_batch(keys.server, in, mixed, out), InvalidArgument);
}

}  // namespace
}  // namespace torusml::tfhe::testing
