// Small-key inputs (bootstrap_batch, no keyswitch): the failure rate at a deliberately high p_fail
// agrees with the noise model, for the classic and the multi-bit blind rotation. Fresh inputs
// packed under the 4-bit preset's small key; 7-bit messages, so that the error entering the
// rotation, Var(lwe_noise) + MS (no keyswitch term), reaches a half step with probability near
// 2^-4. Real keys, fixed seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_keys.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/packed_lwe.h"
#include "torusml/tfhe/presets.h"

namespace torusml::tfhe::testing {
namespace {

void check_failure_rate(const PbsParameters& p) {
  const TestKeys& keys = keys_for(p);
  const unsigned bits = 7;
  const double variance = variance_fresh(p.lwe_noise) + variance_modulus_switch(p);
  const double log2_p = log2_gaussian_tail(std::ldexp(1.0, -static_cast<int>(bits) - 2), variance);
  ASSERT_GT(log2_p, -6.0);
  ASSERT_LT(log2_p, -2.0);
  const double p_fail = std::exp2(log2_p);
  const std::size_t space = std::size_t{1} << bits, trials = 1024;
  std::vector<Torus> plaintexts;
  for (std::size_t i = 0; i < trials; ++i)
    plaintexts.push_back(encode_message(static_cast<std::int64_t>(i % space), bits));
  // The 4-bit preset's n = 918 = 2 * 459: the small key read with N = 2.
  Csprng noise_rng(fixed_seed(41));
  const LweCiphertextList in = unpack_lwe_list(
      encrypt_lwe_list_packed(lwe_key_as_glwe_key(keys.client.small_key, PolynomialSize(2)),
                              plaintexts, p.lwe_noise, fixed_seed(42), noise_rng));
  std::vector<Torus> identity(space);
  for (std::size_t m = 0; m < space; ++m)
    identity[m] = encode_message(static_cast<std::int64_t>(m), bits);
  const LookupTable lut = make_lookup_table(p.polynomial_size, bits, identity);
  const LookupTable* one[] = {&lut};
  LweCiphertextList out;
  bootstrap_batch(keys.server, in, one, out);
  double failures = 0;
  for (std::size_t i = 0; i < trials; ++i)
    failures +=
        decode_message(decrypt_lwe(keys.client.big_key.as_lwe_key(), out[i]), bits) != i % space;
  const double expected = p_fail * static_cast<double>(trials);
  ::testing::Test::RecordProperty("failures", std::to_string(failures) + " of " +
                                                  std::to_string(trials) + ", model " +
                                                  std::to_string(expected));
  EXPECT_NEAR(failures, expected, 4.5 * std::sqrt(expected * (1.0 - p_fail)) + 1.0)
      << "measured failure rate " << failures / static_cast<double>(trials) << ", model " << p_fail;
}

TEST(SmallKeyInputs, FailureRateAgreesWithModel) {
  check_failure_rate(preset_for_bits(4));
}

TEST(SmallKeyInputs, FailureRateAgreesWithModelMultiBit) {
  PbsParameters p = preset_for_bits(4);
  p.grouping_factor = GroupingFactor(2);
  check_failure_rate(p);
}

}  // namespace
}  // namespace torusml::tfhe::testing
