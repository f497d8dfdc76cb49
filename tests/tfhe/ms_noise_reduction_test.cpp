// Fast tests of the modulus switch noise reduction (the Drift kinds,
// modulus_switch_noise_reduction.h): parameters (validation, fingerprints, serialization), seeded
// and expanded keys and their serialization, the algorithm's invariants (message kept, measure
// lowered, windows exact) and the closed forms of its model. The statistics against the model,
// bootstraps and failure rates are in ms_noise_reduction_slow_test.cpp.
#include "torusml/tfhe/modulus_switch_noise_reduction.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "torusml/common/error.h"
#include "torusml/tfhe/keys.h"
#include "torusml/tfhe/modulus_switch.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"
#include "torusml/tfhe/serialization.h"
#include "torusml/tfhe/validity.h"

#include "test_keys.h"

namespace torusml::tfhe {
namespace {

PbsParameters with_drift(PbsParameters p, ModulusSwitchKind kind, std::size_t zeros,
                         std::size_t rounds) {
  p.modulus_switch = kind;
  p.ms_noise_reduction = {zeros, rounds, p.lwe_noise};
  return p;
}

PbsParameters small_params(ModulusSwitchKind kind) {
  const PbsParameters p = testing::insecure_small_parameters(
      "ms_noise_reduction_small", 16, "tests/tfhe/ms_noise_reduction_test.cpp");
  return uses_noise_reduction(kind) ? with_drift(p, kind, 24, 3) : p;
}

TEST(MsNoiseReductionParameters, ValidateTheDriftKinds) {
  const PbsParameters base = preset_for_bits(4);
  for (auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean}) {
    const PbsParameters p = with_drift(base, kind, 1024, 2);
    EXPECT_NO_THROW(p.validate());
    EXPECT_TRUE(is_128_bit_secure(p));
    // Every field of the reduction enters the fingerprint; the kind too.
    EXPECT_NE(p.fingerprint(), base.fingerprint());
    EXPECT_NE(p.fingerprint(), with_drift(base, kind, 1023, 2).fingerprint());
    EXPECT_NE(p.fingerprint(), with_drift(base, kind, 1024, 1).fingerprint());
    PbsParameters other_noise = p;
    other_noise.ms_noise_reduction.zeros_noise = NoiseDistribution::tuniform(46);
    EXPECT_NE(p.fingerprint(), other_noise.fingerprint());

    EXPECT_THROW(with_drift(base, kind, 0, 2).validate(), InvalidArgument);
    EXPECT_THROW(with_drift(base, kind, 1024, 0).validate(), InvalidArgument);
    EXPECT_THROW(with_drift(base, kind, 1024, kMaxModulusSwitchRounds + 1).validate(),
                 InvalidArgument);
    EXPECT_THROW(with_drift(base, kind, kMaxModulusSwitchZeros + 1, 1).validate(), InvalidArgument);
    // The zeros are samples under the small key: their noise must meet the security curve.
    PbsParameters weak = p;
    weak.ms_noise_reduction.zeros_noise = NoiseDistribution::tuniform(20);
    EXPECT_THROW(weak.validate(), InsecureParameters);
    EXPECT_FALSE(is_128_bit_secure(weak));
  }
  EXPECT_NE(with_drift(base, ModulusSwitchKind::Drift, 1024, 2).fingerprint(),
            with_drift(base, ModulusSwitchKind::DriftCenteredMean, 1024, 2).fingerprint());
  // The other kinds carry no reduction.
  PbsParameters stray = base;
  stray.ms_noise_reduction.zeros_count = 16;
  EXPECT_THROW(stray.validate(), InvalidArgument);
  PbsParameters unknown = base;
  unknown.modulus_switch = static_cast<ModulusSwitchKind>(5);
  EXPECT_THROW(unknown.validate(), InvalidArgument);
}

// Known answers: the fingerprints of the existing kinds are those of earlier versions (the 4-bit
// preset's is pinned here and in the serialization known-answer digests), the Drift kinds append
// their fields. Do not just update the strings: a change breaks every stored key.
TEST(MsNoiseReductionParameters, KnownAnswerFingerprints) {
  PbsParameters p = preset_for_bits(4);
  EXPECT_EQ(p.fingerprint(), 0xb147ad7567998dc9u);
  p = with_drift(preset_for_bits(4), ModulusSwitchKind::DriftCenteredMean, 1024, 2);
  EXPECT_EQ(p.fingerprint(), 0x3a3c4188a671065du);
  p = with_drift(preset_for_bits(4), ModulusSwitchKind::Drift, 1024, 2);
  EXPECT_EQ(p.fingerprint(), 0xf01066e5a12358feu);
}

TEST(MsNoiseReductionParameters, SerializeRoundTrip) {
  for (auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean}) {
    const PbsParameters p = with_drift(preset_for_bits(5), kind, 777, 3);
    const auto bytes = serialize_parameters(p);
    const PbsParameters back = deserialize_parameters(bytes);
    EXPECT_EQ(back.fingerprint(), p.fingerprint());
    EXPECT_EQ(back.modulus_switch, kind);
    EXPECT_EQ(back.ms_noise_reduction, p.ms_noise_reduction);
    // 8 + 8 bytes and a noise distribution (1 + 4 + 8) more than the CenteredMean set.
    EXPECT_EQ(bytes.size(), serialize_parameters(preset_for_bits(5)).size() + 29);
  }
}

TEST(MsNoiseReductionModel, ClosedFormsAndRounds) {
  const LweDimension n(918);
  const PolynomialSize big_n(2048);
  // Without zeros the Drift kinds are the plain switches.
  EXPECT_DOUBLE_EQ(modulus_switch_error_steps2(n, ModulusSwitchKind::Standard),
                   1.0 / 12 + 918.0 / 24);
  EXPECT_DOUBLE_EQ(modulus_switch_error_steps2(n, ModulusSwitchKind::CenteredMean),
                   1.0 / 12 + 918.0 / 48);
  EXPECT_DOUBLE_EQ(variance_modulus_switch(n, big_n, ModulusSwitchKind::Drift),
                   variance_modulus_switch(n, big_n, ModulusSwitchKind::Standard));
  EXPECT_DOUBLE_EQ(variance_modulus_switch(n, big_n, ModulusSwitchKind::DriftCenteredMean),
                   variance_modulus_switch(n, big_n, ModulusSwitchKind::CenteredMean));
  EXPECT_NEAR(variance_modulus_switch(n, big_n, ModulusSwitchKind::CenteredMean),
              modulus_switch_error_steps2(n, ModulusSwitchKind::CenteredMean) / (4.0 * 2048 * 2048),
              1e-20);

  // One round: the minimum of m + 1 draws, always scanned once, applied with probability
  // m / (m + 1).
  const NoiseReductionRounds one = expected_noise_reduction_rounds(100, 1);
  EXPECT_DOUBLE_EQ(one.scans, 1.0);
  EXPECT_NEAR(one.applied, 200.0 / 201.0, 1e-12);
  const NoiseReductionRounds two = expected_noise_reduction_rounds(100, 2);
  EXPECT_NEAR(two.scans, 1.0 + 200.0 / 201.0, 1e-12);
  EXPECT_NEAR(two.applied, 200.0 / 201.0 + 200.0 / 201.0 * 200.0 / 401.0, 1e-12);
  EXPECT_EQ(expected_noise_reduction_rounds(0, 3).scans, 0.0);

  // More zeros and rounds lower the error; DriftCenteredMean < Drift < CenteredMean.
  const double cm = modulus_switch_error_steps2(n, ModulusSwitchKind::CenteredMean);
  double last_drift = cm, last_dcm = cm;
  for (std::size_t z : {16, 64, 256, 1024, 4096}) {
    const double drift = modulus_switch_error_steps2(n, ModulusSwitchKind::Drift, {z, 2, {}});
    const double dcm =
        modulus_switch_error_steps2(n, ModulusSwitchKind::DriftCenteredMean, {z, 2, {}});
    EXPECT_LT(drift, last_drift) << z;
    EXPECT_LT(dcm, last_dcm) << z;
    EXPECT_LT(dcm, drift) << z;
    EXPECT_GT(dcm, 0.85 * cm) << z;  // a modest gain: the minimum of ~2Z near-normal draws
    last_drift = drift;
    last_dcm = dcm;
  }
  // Monte-Carlo values of the search (n = 918, 300 trials each, +-0.07%): Z = 1024, R = 1.
  EXPECT_NEAR(modulus_switch_error_steps2(n, ModulusSwitchKind::DriftCenteredMean, {1024, 1, {}}),
              17.278, 0.03);
  EXPECT_NEAR(modulus_switch_error_steps2(n, ModulusSwitchKind::Drift, {1024, 1, {}}), 17.648,
              0.03);
  // The zeros' noise: Var per applied zero.
  const ModulusSwitchNoiseReduction r{256, 2, NoiseDistribution::gaussian(1e-4)};
  EXPECT_NEAR(variance_modulus_switch(n, big_n, ModulusSwitchKind::DriftCenteredMean, r) -
                  modulus_switch_error_steps2(n, ModulusSwitchKind::DriftCenteredMean, r) /
                      (4.0 * 2048 * 2048),
              expected_noise_reduction_rounds(256, 2).applied * 1e-8, 1e-18);
}

// The reduction keeps the message (exactly: adds encryptions of zero, here noiseless), never
// raises the measure and lowers it in almost every case; the window-based scan agrees with the
// exact measure.
TEST(MsNoiseReductionAlgorithm, KeepsThePhaseAndLowersTheMeasure) {
  ScopedInsecureParametersForTesting allow;
  Csprng key_rng(testing::fixed_seed(1));
  const LweDimension n(918);
  const PolynomialSize big_n(2048);
  const LweSecretKey key = generate_lwe_secret_key(n, key_rng);
  PbsParameters p = with_drift(preset_for_bits(4), ModulusSwitchKind::DriftCenteredMean, 128, 3);
  p.ms_noise_reduction.zeros_noise = NoiseDistribution::tuniform(0);  // |e| <= 1: tracked below
  const SeededLweCiphertextList zeros =
      generate_modulus_switch_zeros(key, p, testing::fixed_seed(2), testing::fixed_seed(3));
  ASSERT_EQ(zeros.size(), 128u);
  const ModulusSwitchNoiseReductionKey rk = expand_noise_reduction_key(zeros, big_n, 3);
  ASSERT_EQ(rk.windows.size(), 128u * 918);
  for (auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean}) {
    EncryptionGenerator gen(testing::fixed_seed(4), testing::fixed_seed(5));
    std::size_t lowered = 0, applied = 0;
    for (int t = 0; t < 60; ++t) {
      LweCiphertext ct =
          encrypt_lwe(key, Torus{0x1234567} << 30, NoiseDistribution::tuniform(0), gen);
      const Torus phase = decrypt_lwe(key, ct);
      const double before = modulus_switch_error_measure(ct, big_n, kind);
      const NoiseReductionOutcome o = improve_modulus_switch_noise(ct, rk, kind);
      const double after = modulus_switch_error_measure(ct, big_n, kind);
      applied += o.applied;
      EXPECT_LE(o.applied, o.scans);
      EXPECT_LE(o.scans, 3u);
      // Each zero adds noise of magnitude at most 1 (TUniform(0)).
      const auto drift = static_cast<std::int64_t>(decrypt_lwe(key, ct) - phase);
      EXPECT_LE(std::abs(drift), static_cast<std::int64_t>(o.applied));
      // The scan's window arithmetic approximates the measure to ~1e-3 of its spread (0.56):
      // an applied zero lowers the exact measure too.
      if (o.applied > 0) {
        EXPECT_LT(after, before + 0.01);
      }
      lowered += after < before;
    }
    EXPECT_GE(lowered, 58u);
    EXPECT_GE(applied, 60u);
  }
  // The other kinds are refused; the plain switch refuses the Drift kinds without the key.
  LweCiphertext ct(n);
  EXPECT_THROW(improve_modulus_switch_noise(ct, rk, ModulusSwitchKind::CenteredMean),
               InvalidArgument);
  std::vector<std::uint32_t> sw(n.value() + 1);
  EXPECT_THROW(modulus_switch(ct, big_n, ModulusSwitchKind::Drift, sw), InvalidArgument);
  EXPECT_THROW(modulus_switch(ct, big_n, ModulusSwitchKind::Drift, nullptr, sw), InvalidArgument);
  EXPECT_THROW(modulus_switch(ct, PolynomialSize(1024), ModulusSwitchKind::Drift, &rk, sw),
               ParameterMismatch);
  LweCiphertext wrong(LweDimension(917));
  EXPECT_THROW(improve_modulus_switch_noise(wrong, rk, ModulusSwitchKind::Drift),
               ParameterMismatch);
}

// The exact measure is the key average of the squared switch error: check it against all keys of
// a tiny dimension (n = 10: 1024 keys).
TEST(MsNoiseReductionAlgorithm, MeasureIsTheKeyAverage) {
  Csprng rng(testing::fixed_seed(7));
  const std::size_t n = 10;
  const PolynomialSize big_n(256);
  for (int t = 0; t < 20; ++t) {
    LweCiphertext ct(LweDimension{n});
    rng.fill_uniform(ct.data());
    for (auto kind : {ModulusSwitchKind::Standard, ModulusSwitchKind::CenteredMean}) {
      std::vector<std::uint32_t> sw(n + 1);
      modulus_switch(ct, big_n, kind, sw);
      double sum = 0;
      for (std::uint32_t s = 0; s < (1u << n); ++s) {
        // Phase error in steps: switched phase - exact phase * 2N (+ the half step offset).
        long double exact = std::ldexp(static_cast<long double>(ct.body()), -55);
        std::int64_t switched = sw[n];
        for (std::size_t i = 0; i < n; ++i) {
          if (((s >> i) & 1) == 0) continue;
          exact -= std::ldexp(static_cast<long double>(ct.mask()[i]), -55);
          switched -= sw[i];
        }
        long double e = static_cast<long double>(switched) + 0.5L - exact;
        e = e - 512.0L * std::round(e / 512.0L);
        sum += static_cast<double>(e * e);
      }
      EXPECT_NEAR(sum / 1024.0, modulus_switch_error_measure(ct, big_n, kind), 1e-9);
    }
  }
}

class MsNoiseReductionKeys : public ::testing::Test {
 private:
  ScopedInsecureParametersForTesting allow_small_params_;
};

TEST_F(MsNoiseReductionKeys, GeneratedSerializedAndValidated) {
  for (auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean}) {
    const PbsParameters p = small_params(kind);
    const ClientKey client = generate_client_key(p, testing::fixed_seed(1));
    const CompressedServerKey compressed =
        generate_compressed_server_key(client, testing::fixed_seed(2));
    ASSERT_EQ(compressed.ms_noise_reduction_zeros.size(), 24u);
    ASSERT_EQ(compressed.ms_noise_reduction_zeros.dimension, p.lwe_dimension);
    // The zeros decrypt to (small) noise under the small key.
    const LweCiphertextList zeros = decompress_lwe_list(compressed.ms_noise_reduction_zeros);
    for (std::size_t j = 0; j < zeros.size(); ++j) {
      const auto e = static_cast<std::int64_t>(decrypt_lwe(client.small_key, zeros[j]));
      EXPECT_LE(std::abs(e), std::int64_t{1} << 45);
    }
    const auto bytes = serialize_compressed_server_key(compressed);
    const CompressedServerKey back = deserialize_compressed_server_key(bytes, &p);
    EXPECT_EQ(back.ms_noise_reduction_zeros, compressed.ms_noise_reduction_zeros);
    const ServerKey server = load_server_key(bytes, &p);
    EXPECT_NO_THROW(validate_server_key(server));
    EXPECT_EQ(
        server.ms_noise_reduction_key,
        expand_noise_reduction_key(compressed.ms_noise_reduction_zeros, p.polynomial_size, 3));
    // 8 bytes per zero plus the seed and the count, after the keys of the plain kind.
    const PbsParameters plain = small_params(ModulusSwitchKind::CenteredMean);
    const auto plain_bytes = serialize_compressed_server_key(generate_compressed_server_key(
        generate_client_key(plain, testing::fixed_seed(1)), testing::fixed_seed(2)));
    EXPECT_EQ(bytes.size(), plain_bytes.size() + 29 + 32 + 8 + 24 * 8);

    // Inconsistent keys are refused.
    CompressedServerKey short_list = compressed;
    short_list.ms_noise_reduction_zeros.bodies.pop_back();
    EXPECT_THROW(validate_compressed_server_key(short_list), InvalidArgument);
    EXPECT_THROW(serialize_compressed_server_key(short_list), InvalidArgument);
    ServerKey bad = server;
    bad.ms_noise_reduction_key.windows.pop_back();
    EXPECT_THROW(validate_server_key(bad), InvalidArgument);
    CompressedServerKey stray = generate_compressed_server_key(
        generate_client_key(plain, testing::fixed_seed(1)), testing::fixed_seed(2));
    stray.ms_noise_reduction_zeros = compressed.ms_noise_reduction_zeros;
    EXPECT_THROW(validate_compressed_server_key(stray), InvalidArgument);
  }
}

}  // namespace
}  // namespace torusml::tfhe
