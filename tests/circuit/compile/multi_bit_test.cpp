// Circuits compiled with multi-bit parameter sets (issue 12: the optimizer's grouping factors,
// OptimizerOptions::grouping_factors): the chosen sets are multi-bit and 128-bit secure, the
// statistics count the multi-bit bootstrapping key, execute with real keys equals clear (plain
// and many-LUT bootstraps), and the serialized server program and evaluation keys round-trip
// through bytes and run. The lookups are 3 and 4 bits wide so that the keys stay small.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "circuit_test_util.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/runtime/seeded_arguments.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/security.h"
#include "torusml/tfhe/validity.h"

namespace torusml::circuit::testing {
namespace {

// x (3 bits) read by two lookups (a many-LUT candidate), their combination read by a 4-bit
// lookup.
Program small_program() {
  Builder b;
  Value x = b.input("x", {4});
  Value r = apply_table(
      x, [](std::int64_t t) { return t > 3 ? t - 3 : 0; }, "relu");
  Value s = apply_table(
      x, [](std::int64_t t) { return 7 - t; }, "flip");
  Value y = r + s * 2;  // 11 - x for x > 3, 14 - 2x otherwise: 4..14, a 4-bit value
  b.output(apply_table(
      y, [](std::int64_t t) { return (t * 3) % 5; }, "mod5"));
  b.output(r);
  return b.build();
}

std::vector<std::vector<Tensor>> small_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t s = 0; s < 16; ++s)
    set.push_back({Tensor::vector({s % 8, (s + 3) % 8, 7 - s % 8, (5 * s) % 8})});
  return set;
}

CompileOptions grouping(std::vector<std::size_t> factors) {
  CompileOptions o;
  o.optimizer.grouping_factors = std::move(factors);
  return o;
}

TEST(MultiBitCircuit, GroupingFactorTwoCompilesExecutesAndRoundTrips) {
  const Program program = small_program();
  const auto set = small_inputset();
  const CompiledCircuit c = compile(program, set, grouping({2}));
  const CircuitParameters& cp = c.parameters();
  ASSERT_TRUE(cp.uses_pbs);
  for (std::size_t q = 0; q < cp.partition_count(); ++q) {
    const tfhe::PbsParameters& p = cp.partition(q);
    EXPECT_EQ(p.grouping_factor.value(), 2u) << p;
    EXPECT_FALSE(tfhe::uses_noise_reduction(p.modulus_switch)) << p;
    EXPECT_TRUE(tfhe::is_128_bit_secure(p)) << p;
    EXPECT_NE(p.name.find("_mb2"), std::string::npos) << p.name;
    EXPECT_LE(p.message_bits, 4u);
  }
  EXPECT_NE(c.describe().find("multi-bit g=2"), std::string::npos) << c.describe();
  std::printf("%s", c.describe().c_str());

  // The statistics count the multi-bit key: (2^2 - 1) GGSWs per pair of small-key bits.
  const CircuitStatistics& st = c.statistics();
  EXPECT_GT(st.many_lut_lookups, 0u);  // the two lookups of x share one many-LUT bootstrap
  if (cp.partition_count() == 1) {
    const tfhe::PbsParameters& p = cp.pbs;
    const std::uint64_t ksk = p.big_lwe_dimension().value() * p.ks.level_count.value() *
                              (p.lwe_dimension.value() + 1) * 8;
    EXPECT_EQ(st.evaluation_key_bytes, tfhe::multi_bit_bootstrap_key_shape(p).key_bytes() + ksk);
    EXPECT_LT(st.evaluation_key_seeded_bytes, st.evaluation_key_bytes);
  }
  // The same circuit with classic sets has a smaller bootstrapping key.
  const CompiledCircuit classic = compile(program, set, grouping({1}));
  for (std::size_t q = 0; q < classic.parameters().partition_count(); ++q)
    EXPECT_EQ(classic.parameters().partition(q).grouping_factor.value(), 1u);
  EXPECT_EQ(c.evaluate(stack(set), Mode::Clear), classic.evaluate(stack(set), Mode::Clear));

  // Real keys: execute equals clear.
  std::mt19937_64 rng(5);
  std::vector<std::vector<Tensor>> samples = one_input_set(rng, {4}, 0, 7, 6);
  samples.push_back({Tensor::vector({0, 7, 3, 4})});
  const std::vector<Tensor> batch = stack(samples);
  const auto clear = c.evaluate(batch, Mode::Clear);
  const KeySet keys = c.generate_keys(seed_of(9));
  EXPECT_EQ(c.encrypt_run_decrypt(keys, batch), clear);

  // Through bytes: the server program and the evaluation keys (seeded, expanded on load).
  const auto program_bytes = serialize_server_program(c.server_program());
  const auto key_bytes = serialize_evaluation_keys(keys.evaluation);
  const ServerProgram sp = deserialize_server_program(program_bytes);
  EXPECT_EQ(sp.parameters.pbs.grouping_factor.value(), 2u);
  EXPECT_EQ(serialize_server_program(sp), program_bytes);
  const EvaluationKeySet loaded = deserialize_evaluation_keys(key_bytes, &sp.parameters, true);
  EXPECT_EQ(serialize_evaluation_keys(loaded), key_bytes);
  const ClientSpecification& spec = c.client_specification();
  const std::vector<EncryptedTensor> out =
      run(sp, decompress_run_arguments(encrypt_inputs_seeded(keys.client, spec, batch)), loaded);
  EXPECT_EQ(decrypt_outputs(keys.client, spec, out), clear);
}

TEST(MultiBitCircuit, DefaultChoiceIsNeverCostlierThanClassicOnly) {
  const Program program = small_program();
  const auto set = small_inputset();
  const CompiledCircuit chosen = compile(program, set);
  const CompiledCircuit classic = compile(program, set, grouping({1}));
  const CircuitStatistics &a = chosen.statistics(), &b = classic.statistics();
  EXPECT_LE(a.estimated_pbs_seconds * static_cast<double>(a.pbs_count),
            b.estimated_pbs_seconds * static_cast<double>(b.pbs_count) * (1.0 + 1e-9))
      << chosen.describe() << classic.describe();
}

}  // namespace
}  // namespace torusml::circuit::testing
