// Small-key inputs (compile/small_key_inputs.h): which circuits may take them, that compile()
// chooses them where they are cheaper, and that such circuits execute as they evaluate in the
// clear (real keys), through serialization too; mixed circuits keyswitch only the lookups on
// bootstrap outputs.
#include <gtest/gtest.h>

#include <random>

#include "circuit_test_util.h"
#include "torusml/circuit/compile/small_key_inputs.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/runtime/seeded_arguments.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/error.h"

namespace torusml::circuit::testing {
namespace {

// Bits x (12) -> y = x W (4 sums of 0/1 terms, weights 1..4) -> a lookup per element -> their
// sum: a tree-like circuit (comparisons as input bits, one layer of lookups).
Program tree_like_program(bool second_layer = false) {
  Builder b;
  Value x = b.input("x", {12});
  std::vector<std::vector<std::int64_t>> w(12, std::vector<std::int64_t>(4, 0));
  for (std::size_t i = 0; i < 12; ++i) w[i][i % 4] = static_cast<std::int64_t>(1 + i % 3);
  Value y = matmul(x, Tensor::matrix(w));
  Value z = apply_table(
      y, [](std::int64_t v) { return (v * 5 + 3) % 11; }, "leaf");
  if (second_layer)
    z = apply_table(
        z, [](std::int64_t v) { return v / 2; }, "half");
  b.output(sum(z));
  return b.build();
}

std::vector<std::vector<Tensor>> bits_set(std::mt19937_64& rng, std::size_t samples) {
  std::vector<std::vector<Tensor>> set;
  for (Tensor& t : random_tensors(rng, {12}, 0, 1, samples)) set.push_back({std::move(t)});
  return set;
}

CompileOptions keyswitched() {
  CompileOptions o;
  o.small_key_inputs = false;
  return o;
}

TEST(SmallKeyInputs, RegionAndEligibility) {
  const Program tree = tree_like_program();
  const std::vector<char> region = small_key_region(tree);
  // Input and the matmul are under the small key, the lookup and the sum are not.
  std::size_t in_region = 0;
  for (char r : region) in_region += r != 0;
  EXPECT_EQ(in_region, 2u);
  std::mt19937_64 rng(1);
  const auto set = bits_set(rng, 24);
  EXPECT_TRUE(allows_small_key_inputs(tree, compile(tree, set).analysis()));
  // An input that is also an output, or added to a lookup's output, keeps the big key.
  {
    Builder b;
    Value x = b.input("x", {12});
    b.output(apply_table(
        x, [](std::int64_t v) { return 1 - v; }, "flip"));
    b.output(x);
    const Program p = b.build();
    const CompiledCircuit c = compile(p, set);
    EXPECT_FALSE(allows_small_key_inputs(p, c.analysis()));
    EXPECT_FALSE(c.parameters().small_key_inputs);
  }
  {
    Builder b;
    Value x = b.input("x", {12});
    b.output(apply_table(
                 x, [](std::int64_t v) { return 1 - v; }, "flip") +
             x);
    const Program p = b.build();
    const CompiledCircuit c = compile(p, set);
    EXPECT_FALSE(allows_small_key_inputs(p, c.analysis()));
    EXPECT_FALSE(c.parameters().small_key_inputs);
  }
}

TEST(SmallKeyInputs, ChosenWhereCheaperAndExecuteEqualsClear) {
  std::mt19937_64 rng(2);
  const Program p = tree_like_program();
  const auto set = bits_set(rng, 24);
  const CompiledCircuit c = compile(p, set);
  const CompiledCircuit big = compile(p, set, keyswitched());
  const CircuitParameters& cp = c.parameters();
  ASSERT_TRUE(cp.small_key_inputs) << c.describe();
  EXPECT_FALSE(big.parameters().small_key_inputs);
  EXPECT_EQ(cp.pbs.lwe_dimension.value() % kSmallKeyPackingSize, 0u);
  EXPECT_LE(cp.pbs.lwe_dimension, big.parameters().pbs.lwe_dimension);
  EXPECT_EQ(c.statistics().keyswitch_count, 0u);
  EXPECT_EQ(big.statistics().keyswitch_count, big.statistics().pbs_count);
  EXPECT_LT(c.statistics().estimated_batched_pbs_seconds,
            big.statistics().estimated_batched_pbs_seconds);
  EXPECT_LE(c.statistics().log2_global_p_error, -40.0 + 0.1 + std::log2(4.0));
  const auto x = stack(set);
  const auto clear = c.evaluate(x, Mode::Clear);
  EXPECT_EQ(c.encrypt_run_decrypt(keys_for(c), x), clear);
  EXPECT_EQ(c.evaluate(x, Mode::Simulate, 3), clear);
  EXPECT_EQ(big.encrypt_run_decrypt(keys_for(big), x), clear);
  // The client encrypts under the small key, packed 32 values per mask.
  const RunArguments args = encrypt_inputs(keys_for(c).client, c.client_specification(), x);
  ASSERT_TRUE(args.encrypted[0].packed.has_value());
  EXPECT_EQ(args.encrypted[0].dimension(), cp.pbs.lwe_dimension);
  EXPECT_EQ(args.encrypted[0].packed->glwes.polynomial_size(),
            tfhe::PolynomialSize(kSmallKeyPackingSize));
  // Inputs of the keyswitched circuit (big key) are refused.
  const RunArguments other = encrypt_inputs(keys_for(big).client, big.client_specification(), x);
  EXPECT_THROW(run(c.server_program(), other, keys_for(c).evaluation), ParameterMismatch);
}

// A lookup on a lookup's output keyswitches; the one on the inputs does not.
TEST(SmallKeyInputs, MixedCircuitsKeyswitchTheirOtherLookups) {
  std::mt19937_64 rng(3);
  const Program p = tree_like_program(true);
  const auto set = bits_set(rng, 24);
  const CompiledCircuit c = compile(p, set);
  ASSERT_TRUE(c.parameters().small_key_inputs) << c.describe();
  EXPECT_EQ(c.statistics().pbs_count, 8u);
  EXPECT_EQ(c.statistics().keyswitch_count, 4u);
  const auto x = stack(set);
  EXPECT_EQ(c.encrypt_run_decrypt(keys_for(c), x), c.evaluate(x, Mode::Clear));
}

// Through bytes: the parameters' tag 3, seeded packed uploads of the small key's shape.
TEST(SmallKeyInputs, SerializedCircuitsAndUploadsRun) {
  std::mt19937_64 rng(4);
  const CompiledCircuit c = compile(tree_like_program(), bits_set(rng, 24));
  ASSERT_TRUE(c.parameters().small_key_inputs);
  const ServerProgram sp = deserialize_server_program(serialize_server_program(c.server_program()));
  const ClientSpecification spec =
      deserialize_client_specification(serialize_client_specification(c.client_specification()));
  EXPECT_TRUE(sp.parameters.small_key_inputs);
  EXPECT_EQ(sp.parameters, c.parameters());
  CircuitParameters without = c.parameters();
  without.small_key_inputs = false;
  EXPECT_NE(without.fingerprint(), c.parameters().fingerprint());
  const auto x = stack(bits_set(rng, 5));
  const KeySet& keys = keys_for(c);
  const auto bytes = serialize_seeded_run_arguments(
      encrypt_inputs_seeded(keys.client, spec, std::span(&x[0], 1)), spec.parameters);
  EXPECT_LT(bytes.size(), x[0].size() * 8 + 300);
  const auto out = run(sp, deserialize_run_arguments(bytes, sp.parameters), keys.evaluation);
  EXPECT_EQ(decrypt_outputs(keys.client, spec, out), c.evaluate(x, Mode::Clear));
  EXPECT_THROW(deserialize_run_arguments(bytes, without), ParameterMismatch);
}

}  // namespace
}  // namespace torusml::circuit::testing
