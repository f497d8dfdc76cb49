// Statistical tests of many-LUT bootstrapping (many_lut.h), in the slow binary with the other
// noise tests: the extracted outputs' noise against the classic blind rotation's model, and the
// failure rate of a (p + theta)-bit read beyond the preset's precision against the exact model
// and the (p + theta)-bit bound. Real keys, fixed seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "test_keys.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/many_lut.h"
#include "torusml/tfhe/modulus_switch_noise_reduction.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"

namespace torusml::tfhe::testing {
namespace {

double torus_error(Torus phase, Torus expected) {
  return static_cast<double>(static_cast<std::int64_t>(phase - expected)) * 0x1.0p-64;
}

// The many-LUT modulus switch (to 2N / 4, values times 4) of 4-bit-preset keys: the variance of
// its error entering the rotation against variance_modulus_switch for N / 4, for CenteredMean
// and for DriftCenteredMean with its zeros expanded for that switch (which lowers the variance by
// ~10%, as modelled). 8000 samples: 5 sigma = 7.9%.
TEST(ManyLut, ModulusSwitchToSlotsMatchesModel) {
  for (const auto kind : {ModulusSwitchKind::CenteredMean, ModulusSwitchKind::DriftCenteredMean}) {
    PbsParameters p = preset_for_bits(4);
    p.modulus_switch = kind;
    if (uses_noise_reduction(kind)) p.ms_noise_reduction = {256, 2, p.lwe_noise};
    const TestKeys& keys = keys_for(p);
    const unsigned theta = 2;
    const ModulusSwitchNoiseReductionKey reduction =
        many_lut_noise_reduction_key(keys.server, theta);
    const std::size_t n = p.lwe_dimension.value(), two_n = 2 * p.polynomial_size.value();
    const int samples = 8000;
    std::vector<double> squares(samples);
    parallel_for(samples, [&](std::size_t i) {
      EncryptionGenerator gen(fixed_seed(31), fixed_seed(32), i + 1);
      const LweCiphertext ct = encrypt_lwe(keys.client.small_key, 0, p.lwe_noise, gen);
      const double e_in = torus_error(decrypt_lwe(keys.client.small_key, ct), 0);
      std::vector<std::uint32_t> sw(n + 1);
      many_lut_modulus_switch(ct, p.polynomial_size, theta, kind, &reduction, sw);
      std::int64_t phase = sw[n];
      for (std::size_t j = 0; j < n; ++j)
        phase -= static_cast<std::int64_t>(sw[j] * keys.client.small_key.bits[j]);
      const auto period = static_cast<std::int64_t>(two_n);
      phase = ((phase % period) + period) % period;
      if (phase >= period / 2) phase -= period;
      // Half a step of the coarser switch (2^theta positions) is subtracted on purpose.
      const double e =
          (static_cast<double>(phase) + std::ldexp(1.0, theta - 1)) / static_cast<double>(two_n) -
          e_in;
      squares[i] = e * e;
    });
    double sum = 0;
    for (double v : squares) sum += v;
    const double measured = sum / samples;
    const double model =
        variance_modulus_switch(p.lwe_dimension, PolynomialSize(p.polynomial_size.value() >> theta),
                                kind, p.ms_noise_reduction);
    RecordProperty(uses_noise_reduction(kind) ? "drift_centered_mean" : "centered_mean",
                   "measured/model " + std::to_string(measured / model));
    EXPECT_GT(measured / model, 0.921) << static_cast<int>(kind) << ": measured 2^"
                                       << std::log2(measured) << ", model 2^" << std::log2(model);
    EXPECT_LT(measured / model, 1.079) << static_cast<int>(kind) << ": measured 2^"
                                       << std::log2(measured) << ", model 2^" << std::log2(model);
    // At most 4^theta times the switch to 2N (the (p + theta)-bit read's bound).
    EXPECT_LE(model, std::ldexp(variance_modulus_switch(p.lwe_dimension, p.polynomial_size, kind,
                                                        p.ms_noise_reduction),
                                2 * theta));
  }
}

// The outputs' noise: every extracted output of 8-table bootstraps (4-bit preset, 1-bit inputs)
// against its exact value. 2048 samples: the sample variance has relative standard deviation
// sqrt(2 / 2048) = 3.1%; tolerance 16% (5 sigma). The model is the classic blind rotation's.
TEST(ManyLut, OutputNoiseIsTheBlindRotations) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  std::mt19937_64 rng(31);
  std::vector<std::vector<Torus>> values(8, std::vector<Torus>(2));
  for (auto& t : values)
    for (auto& v : t) v = rng();  // arbitrary torus outputs
  const ManyLookupTable lut = make_many_lookup_table(p.polynomial_size, 1, values);
  const std::size_t inputs = 256;
  LweCiphertextList in(p.big_lwe_dimension(), inputs);
  EncryptionGenerator gen(fixed_seed(25), fixed_seed(26));
  for (std::size_t i = 0; i < inputs; ++i)
    encrypt_lwe(keys.client.big_key.as_lwe_key(),
                encode_message(static_cast<std::int64_t>(i % 2), 1), p.glwe_noise, gen, in[i]);
  const ManyLookupTable* one[] = {&lut};
  std::vector<LweCiphertextList> out;
  keyswitch_many_lut_bootstrap_batch(keys.server, in, one, out);
  double sum = 0;
  for (std::size_t i = 0; i < inputs; ++i)
    for (std::size_t j = 0; j < 8; ++j) {
      const double e =
          torus_error(decrypt_lwe(keys.client.big_key.as_lwe_key(), out[j][i]), values[j][i % 2]);
      sum += e * e;
    }
  const double measured = sum / (inputs * 8.0);
  const double model =
      variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size, p.pbs,
                              p.glwe_noise, fft_plan(p.polynomial_size).backend());
  RecordProperty("log2_variance", "measured " + std::to_string(std::log2(measured)) + ", model " +
                                      std::to_string(std::log2(model)));
  EXPECT_GT(measured / model, 0.84)
      << "measured 2^" << std::log2(measured) << ", model 2^" << std::log2(model);
  EXPECT_LT(measured / model, 1.16)
      << "measured 2^" << std::log2(measured) << ", model 2^" << std::log2(model);
  EXPECT_EQ(many_lut_pbs_noise(p, 1, 3, 0, 1).output, pbs_noise(p, 0, 1).output);
}

// Failure rate of a read beyond the preset's precision: 4 tables of 5-bit inputs on the 4-bit
// preset's keys, a (5 + 2)-bit read, fresh inputs, p_fail near 2^-4 (the modulus switch to
// 2N / 4 dominates the error). Wrong results among `trials` are within 4.5 binomial standard
// deviations of the exact model (many_lut_pbs_noise), and at most 4.5 deviations above the bound
// of a (p + theta)-bit read (pbs_noise at 7 bits: conservative by 4^theta on the keyswitch noise,
// about 1.35 times the exact probability here).
TEST(ManyLut, FailureRateAgreesWithModel) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  const unsigned bits = 5, theta = 2;
  const PbsNoise exact = many_lut_pbs_noise(p, bits, theta, variance_fresh(p.glwe_noise), 1.0);
  PbsParameters wide = p;
  wide.message_bits = bits + theta;
  const PbsNoise bound = pbs_noise(wide, variance_fresh(p.glwe_noise), 1.0);
  ASSERT_LE(exact.log2_p_fail, bound.log2_p_fail);
  ASSERT_GT(exact.log2_p_fail, -6.0);
  ASSERT_LT(exact.log2_p_fail, -2.0);
  const double p_fail = std::exp2(exact.log2_p_fail);

  const std::size_t space = std::size_t{1} << bits;
  std::vector<std::vector<Torus>> outputs(4, std::vector<Torus>(space));
  for (std::size_t j = 0; j < 4; ++j)
    for (std::size_t m = 0; m < space; ++m)
      outputs[j][m] = encode_message(static_cast<std::int64_t>((m + 3 * j) % space), bits);
  const ManyLookupTable lut = make_many_lookup_table(p.polynomial_size, bits, outputs);
  const std::size_t trials = 1024;
  LweCiphertextList in(p.big_lwe_dimension(), trials);
  EncryptionGenerator gen(fixed_seed(27), fixed_seed(28));
  for (std::size_t i = 0; i < trials; ++i)
    encrypt_lwe(keys.client.big_key.as_lwe_key(),
                encode_message(static_cast<std::int64_t>(i % space), bits), p.glwe_noise, gen,
                in[i]);
  const ManyLookupTable* one[] = {&lut};
  std::vector<LweCiphertextList> out;
  keyswitch_many_lut_bootstrap_batch(keys.server, in, one, out);
  double failures = 0;
  for (std::size_t i = 0; i < trials; ++i) {
    const std::uint64_t m = i % space;
    std::vector<std::uint64_t> got(4);
    for (std::size_t j = 0; j < 4; ++j)
      got[j] = decode_message(decrypt_lwe(keys.client.big_key.as_lwe_key(), out[j][i]), bits);
    // The outputs come from one read: all four are those of one box b of the 2^(bits+1) (b >=
    // 2^bits: the negacyclic half, -f_j(b - 2^bits)).
    bool one_box = false;
    for (std::uint64_t b = 0; b < 2 * space && !one_box; ++b) {
      one_box = true;
      for (std::size_t j = 0; j < 4; ++j) {
        const std::uint64_t f = (b % space + 3 * j) % space;
        one_box = one_box && got[j] == (b < space ? f : (space - f) % space);
      }
    }
    ASSERT_TRUE(one_box) << "trial " << i << ": outputs " << got[0] << " " << got[1] << " "
                         << got[2] << " " << got[3];
    failures += got[0] != m;
  }
  const double expected = p_fail * static_cast<double>(trials);
  RecordProperty("failures", std::to_string(failures) + " of " + std::to_string(trials) +
                                 ", model " + std::to_string(expected) +
                                 ", (p + theta)-bit bound " +
                                 std::to_string(std::exp2(bound.log2_p_fail) * trials));
  const double sigma = std::sqrt(expected * (1.0 - p_fail));
  EXPECT_NEAR(failures, expected, 4.5 * sigma)
      << "measured failure rate " << failures / trials << ", model " << p_fail << ", bound "
      << std::exp2(bound.log2_p_fail);
  const double bound_p = std::exp2(bound.log2_p_fail);
  const double bound_expected = bound_p * static_cast<double>(trials);
  EXPECT_LE(failures, bound_expected + 4.5 * std::sqrt(bound_expected * (1.0 - bound_p)));
}

}  // namespace
}  // namespace torusml::tfhe::testing
