// Programmable bootstrapping on the 1- to 4-bit presets (the 5- to 8-bit ones are in the slow
// binary): every message under random tables, linear operations before a PBS, signed messages,
// keyswitch alone, the batch API (with and without a keyswitch: small-key inputs), and the
// errors of mismatched inputs.
#include <gtest/gtest.h>

#include "bootstrap_checks.h"
#include "torusml/common/error.h"

namespace torusml::tfhe::testing {
namespace {

class FastPresetTest : public ::testing::TestWithParam<unsigned> {
 protected:
  const PbsParameters& params() const { return preset_for_bits(GetParam()); }
};

TEST_P(FastPresetTest, EveryMessageUnderRandomTables) {
  check_pbs_random_tables(params(), 16, 3);
}
TEST_P(FastPresetTest, LinearOperationsThenPbs) {
  check_linear_then_pbs(params(), 16);
}
TEST_P(FastPresetTest, SignedMessages) {
  check_signed_pbs(params(), 16);
}
TEST_P(FastPresetTest, KeyswitchAlone) {
  check_keyswitch(params(), 16);
}
TEST_P(FastPresetTest, BatchOnAllCores) {
  check_batch(params(), 24);
}
TEST_P(FastPresetTest, SmallKeyInputsWithoutKeyswitch) {
  check_small_key_batch(params(), 24);
}
// The multi-bit blind rotation (g = 2) of the same sets.
TEST_P(FastPresetTest, SmallKeyInputsWithoutKeyswitchMultiBit) {
  PbsParameters p = params();
  p.grouping_factor = GroupingFactor(2);
  check_small_key_batch(p, 24);
}

INSTANTIATE_TEST_SUITE_P(Presets, FastPresetTest, ::testing::Values(1u, 2u, 3u, 4u),
                         [](const auto& param_info) {
                           return preset_for_bits(param_info.param).name;
                         });

TEST(Bootstrap, MismatchedInputsAreRejected) {
  const PbsParameters& params = preset_for_bits(2);
  const TestKeys& keys = keys_for(params);
  const LookupTable other_size = make_identity_table(preset_for_bits(4));
  EncryptionGenerator gen(fixed_seed(1), fixed_seed(2));
  const LweCiphertext ct = encrypt(keys.client, 1, gen);
  EXPECT_THROW(keyswitch_bootstrap(keys.server, ct, other_size), ParameterMismatch);
  const LweCiphertext wrong_dimension(LweDimension(100));
  EXPECT_THROW(keyswitch_bootstrap(keys.server, wrong_dimension, make_identity_table(params)),
               ParameterMismatch);
  LweCiphertextList in(params.big_lwe_dimension(), 3), out;
  const LookupTable t = make_identity_table(params);
  const LookupTable* two[] = {&t, &t};
  EXPECT_THROW(keyswitch_bootstrap_batch(keys.server, in, two, out), InvalidArgument);
  EXPECT_THROW(make_lookup_table(PolynomialSize(256), 8, std::vector<Torus>(256)), InvalidArgument);
  EXPECT_THROW(make_lookup_table(PolynomialSize(1024), 4, std::vector<Torus>(15)), InvalidArgument);
}

}  // namespace
}  // namespace torusml::tfhe::testing
