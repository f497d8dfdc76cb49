// Programmable bootstrapping on the 5- to 8-bit presets (slow: large polynomials and keys of
// gigabytes), a few messages each.
#include <gtest/gtest.h>

#include "bootstrap_checks.h"

namespace torusml::tfhe::testing {
namespace {

class SlowPresetTest : public ::testing::TestWithParam<unsigned> {
 protected:
  const PbsParameters& params() const { return preset_for_bits(GetParam()); }
  std::size_t messages() const { return GetParam() <= 6 ? 8 : 4; }
};

// One test per preset so that each preset's keys are generated once (keys_for caches one set).
TEST_P(SlowPresetTest, TablesLinearSignedKeyswitchAndBatch) {
  check_pbs_random_tables(params(), messages(), 2);
  check_linear_then_pbs(params(), messages());
  check_signed_pbs(params(), messages());
  check_keyswitch(params(), messages());
  check_batch(params(), 4);
}

INSTANTIATE_TEST_SUITE_P(Presets, SlowPresetTest, ::testing::Values(5u, 6u, 7u, 8u),
                         [](const auto& param_info) {
                           return preset_for_bits(param_info.param).name;
                         });

}  // namespace
}  // namespace torusml::tfhe::testing
