// Statistical tests of the noise model (noise_model.h): the variance measured after encryption,
// keyswitch, modulus switch, FFT external product and blind rotation is within a stated tolerance
// of the closed form, and the measured PBS failure rate of deliberately weak parameters agrees
// with the model's failure probability. Tolerances are derived from the number of samples: the
// sample variance of s Gaussian samples has relative standard deviation sqrt(2/s).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "test_keys.h"
#include "torusml/common/thread_pool.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/fft.h"
#include "torusml/tfhe/ggsw.h"
#include "torusml/tfhe/glwe.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/polynomial.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"

namespace torusml::tfhe::testing {
namespace {

double torus_error(Torus phase, Torus expected) {
  return static_cast<double>(static_cast<std::int64_t>(phase - expected)) * 0x1.0p-64;
}

void expect_ratio_near(double measured, double model, double tolerance, const std::string& what) {
  const double ratio = measured / model;
  EXPECT_GT(ratio, 1.0 - tolerance)
      << what << ": measured 2^" << std::log2(measured) << ", model 2^" << std::log2(model);
  EXPECT_LT(ratio, 1.0 + tolerance)
      << what << ": measured 2^" << std::log2(measured) << ", model 2^" << std::log2(model);
}

TEST(Noise, FreshEncryptionMatchesModelAndIsSecure) {
  Csprng key_rng(fixed_seed(1));
  for (const auto& d :
       {NoiseDistribution::tuniform(45), NoiseDistribution::tuniform(17),
        NoiseDistribution::gaussian(3.6e-6), NoiseDistribution::gaussian(2.8e-15)}) {
    const LweSecretKey key = generate_lwe_secret_key(LweDimension(918), key_rng);
    EncryptionGenerator gen(fixed_seed(2), fixed_seed(3));
    const int samples = 40000;  // tolerance 5 sigma: 5 * sqrt(2 / 40000) = 3.5%
    double sum = 0;
    for (int i = 0; i < samples; ++i) {
      const LweCiphertext ct = encrypt_lwe(key, 0, d, gen);
      const double e = torus_error(decrypt_lwe(key, ct), 0);
      sum += e * e;
    }
    std::ostringstream name;
    name << d;
    expect_ratio_near(sum / samples, variance_fresh(d), 0.04, "fresh " + name.str());
  }
  // Every preset's two noise distributions meet the 128-bit security curve.
  for (const auto& p : all_presets()) {
    EXPECT_TRUE(is_128_bit_secure(p)) << p.name;
    EXPECT_GE(security_margin_log2(p.lwe_dimension, p.lwe_noise), -1e-9) << p.name;
    EXPECT_GE(security_margin_log2(p.big_lwe_dimension(), p.glwe_noise), -1e-9) << p.name;
  }
}

TEST(Noise, KeyswitchMatchesModel) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  EncryptionGenerator gen(fixed_seed(4), fixed_seed(5));
  const int samples = 1500;  // 5 sigma: 18%
  std::vector<double> sq(samples);
  parallel_for(samples, [&](std::size_t i) {
    EncryptionGenerator g(fixed_seed(4), fixed_seed(5), i + 1);
    const LweCiphertext ct = encrypt_lwe(keys.client.big_key.as_lwe_key(), 0, p.glwe_noise, g);
    LweCiphertext small(p.lwe_dimension);
    keyswitch(keys.server.keyswitch_key, ct, small);
    const double e = torus_error(decrypt_lwe(keys.client.small_key, small), 0);
    sq[i] = e * e;
  });
  double sum = 0;
  for (double v : sq) sum += v;
  const double model =
      variance_fresh(p.glwe_noise) + variance_keyswitch(p.big_lwe_dimension(), p.ks, p.lwe_noise);
  expect_ratio_near(sum / samples, model, 0.18, "keyswitch");
}

TEST(Noise, ModulusSwitchMatchesModel) {
  Csprng key_rng(fixed_seed(6));
  const LweDimension n(918);
  const PolynomialSize big_n(2048);
  const LweSecretKey key = generate_lwe_secret_key(n, key_rng);
  for (auto kind : {ModulusSwitchKind::Standard, ModulusSwitchKind::CenteredMean}) {
    EncryptionGenerator gen(fixed_seed(7), fixed_seed(8));
    const int samples = 40000;  // 5 sigma: 3.5%
    double sum = 0;
    std::vector<std::uint32_t> sw(n.value() + 1);
    for (int i = 0; i < samples; ++i) {
      const LweCiphertext ct = encrypt_lwe(key, 0, NoiseDistribution::gaussian(1e-15), gen);
      modulus_switch(ct, big_n, kind, sw);
      std::int64_t phase = sw[n.value()];
      for (std::size_t j = 0; j < n.value(); ++j)
        phase -= static_cast<std::int64_t>(sw[j] * key.bits[j]);
      phase = ((phase % 4096) + 4096) % 4096;
      if (phase >= 2048) phase -= 4096;
      // The switch subtracts half a step on purpose (box centring): add it back.
      const double e = (static_cast<double>(phase) + 0.5) / 4096.0;
      sum += e * e;
    }
    // Centered: the variance does not depend on the key ((s - 1/2)^2 = 1/4): 5 sigma = 3.5%.
    // Standard: it depends on the key's Hamming weight (+-3.3% for n = 918 at one sigma).
    const double tolerance = kind == ModulusSwitchKind::Standard ? 0.10 : 0.04;
    expect_ratio_near(
        sum / samples, variance_modulus_switch(n, big_n, kind), tolerance,
        kind == ModulusSwitchKind::Standard ? "modulus switch" : "centered modulus switch");
  }
}

// FFT error of external products: with a noiseless GGSW(0), the phase of the product is exactly
// the FFT error (the decomposition term vanishes with the bit).
TEST(Noise, FftErrorMatchesModel) {
  struct Shape {
    std::size_t n, beta, levels, k;
  };
  for (const Shape s : {Shape{512, 17, 1, 3}, Shape{1024, 23, 1, 2}, Shape{2048, 23, 1, 1},
                        Shape{4096, 22, 1, 1}, Shape{8192, 15, 2, 1}, Shape{2048, 10, 3, 1}}) {
    Csprng key_rng(fixed_seed(20));
    const GgswShape shape{GlweDimension(s.k),
                          PolynomialSize(s.n),
                          {DecompositionBaseLog(s.beta), DecompositionLevelCount(s.levels)}};
    const GlweSecretKey key =
        generate_glwe_secret_key(shape.glwe_dimension, shape.polynomial_size, key_rng);
    const FftPlan& plan = fft_plan(shape.polynomial_size);
    double sum = 0;
    std::size_t count = 0;
    for (int rep = 0; rep < (s.n <= 2048 ? 12 : 4); ++rep) {
      EncryptionGenerator gen(fixed_seed(21), fixed_seed(22), static_cast<std::uint64_t>(rep) + 1);
      std::vector<Torus> ggsw(shape.torus_elements());
      encrypt_ggsw(key, 0, shape, NoiseDistribution::gaussian(1e-30), gen, ggsw);
      AlignedVector<double> fourier(shape.fourier_doubles());
      convert_ggsw_to_fourier(ggsw, shape, plan, fourier.data());
      std::vector<Torus> glwe(shape.glwe_size()), out(shape.glwe_size(), 0);
      gen.mask.fill_uniform(glwe);
      ExternalProductScratch scratch;
      add_external_product(out, fourier.data(), glwe, shape, plan, scratch);
      for (Torus phase : decrypt_glwe(key, out)) {
        const double e = torus_error(phase, 0);
        sum += e * e;
        ++count;
      }
    }
    const double model = variance_fft_external_product(shape.glwe_dimension, shape.polynomial_size,
                                                       shape.decomposition, plan.backend());
    // The active backend's fit bounds the measurement (up to 15% of sampling noise) and is at most
    // twice it: one constant per backend, while the error varies a little with N.
    const double ratio = sum / static_cast<double>(count) / model;
    EXPECT_LT(ratio, 1.15) << "FFT N=" << s.n << " measured/model";
    EXPECT_GT(ratio, 0.5) << "FFT N=" << s.n << " measured/model";
  }
}

// PBS output noise: decrypt every coefficient of the blind-rotated accumulator and compare with
// the exactly rotated table, for a few inputs (2048 samples each).
TEST(Noise, BlindRotationMatchesModel) {
  const PbsParameters& p = preset_for_bits(4);
  const TestKeys& keys = keys_for(p);
  const std::size_t n = p.polynomial_size.value();
  std::mt19937_64 rng(9);
  std::vector<Torus> values(16);
  for (auto& v : values) v = rng();  // arbitrary torus outputs
  const LookupTable lut = make_lookup_table(p.polynomial_size, 4, values);
  const int inputs = 24;  // ~49000 samples, loosely correlated within an input: tolerance 10%
  std::vector<double> sums(inputs, 0.0);
  parallel_for(inputs, [&](std::size_t t) {
    EncryptionGenerator gen(fixed_seed(10), fixed_seed(11), t + 1);
    const LweCiphertext ct = encrypt_lwe(keys.client.small_key, rng(), p.lwe_noise, gen);
    std::vector<std::uint32_t> sw(p.lwe_dimension.value() + 1);
    modulus_switch(ct, p.polynomial_size, p.modulus_switch, sw);
    std::int64_t phase = sw.back();
    for (std::size_t j = 0; j + 1 < sw.size(); ++j)
      phase -= static_cast<std::int64_t>(sw[j] * keys.client.small_key.bits[j]);
    phase = ((phase % static_cast<std::int64_t>(2 * n)) + static_cast<std::int64_t>(2 * n)) %
            static_cast<std::int64_t>(2 * n);
    std::vector<Torus> acc(p.glwe_dimension.value() * n + n), expected(n);
    blind_rotate(keys.server.bootstrap_key, sw, lut, acc);
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
  const double model = variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size,
                                               p.pbs, p.glwe_noise, backend);
  expect_ratio_near(measured, model, 0.10, "blind rotation");
  // The default (conservative) model bounds every backend.
  EXPECT_LE(measured, variance_blind_rotation(p.lwe_dimension, p.glwe_dimension, p.polynomial_size,
                                              p.pbs, p.glwe_noise));
}

// Parameters chosen for a failure probability near 2^-7: 5-bit messages on the 4-bit preset's
// keys plus extra input noise. The number of wrong PBS among `trials` is compared with the
// model's expectation: within 4.5 binomial standard deviations.
TEST(Noise, FailureRateAgreesWithModel) {
  PbsParameters p = preset_for_bits(4);
  p.message_bits = 5;
  p.name = "failure_rate_probe";
  const TestKeys& keys = keys_for(p);
  // Input noise: a Gaussian whose total with keyswitch and modulus switch gives 2^-7.
  const PbsNoise base = pbs_noise(p, 0.0, 1.0);
  const double half_step = std::ldexp(1.0, -static_cast<int>(p.message_bits) - 2);
  double lo = 1e-12, hi = 1e-2;
  for (int it = 0; it < 200; ++it) {
    const double mid = std::sqrt(lo * hi);
    (log2_gaussian_tail(half_step, base.total + mid * mid) > -7.0 ? hi : lo) = mid;
  }
  const double extra_std = lo;
  const PbsNoise with_input =
      pbs_noise(p, extra_std * extra_std + variance_fresh(p.glwe_noise), 1.0);
  const double p_fail = std::exp2(with_input.log2_p_fail);
  ASSERT_NEAR(with_input.log2_p_fail, -7.0, 0.05);

  const std::size_t trials = 3000;
  std::vector<int> wrong(trials, 0);
  const LookupTable identity = make_identity_table(p);
  parallel_for(trials, [&](std::size_t i) {
    EncryptionGenerator gen(fixed_seed(12), fixed_seed(13), i + 1);
    const std::int64_t m = static_cast<std::int64_t>(i % 32);
    LweCiphertext ct = encrypt_lwe(keys.client.big_key.as_lwe_key(), encode_message(m, 5),
                                   NoiseDistribution::gaussian(extra_std), gen);
    const LweCiphertext out = keyswitch_bootstrap(keys.server, ct, identity);
    wrong[i] = decode_message(decrypt_lwe(keys.client.big_key.as_lwe_key(), out), 5) !=
               static_cast<std::uint64_t>(m);
  });
  double failures = 0;
  for (int w : wrong) failures += w;
  const double expected = p_fail * static_cast<double>(trials);
  const double sigma = std::sqrt(expected * (1.0 - p_fail));
  EXPECT_NEAR(failures, expected, 4.5 * sigma)
      << "measured failure rate " << failures / trials << ", model " << p_fail;
}

}  // namespace
}  // namespace torusml::tfhe::testing
