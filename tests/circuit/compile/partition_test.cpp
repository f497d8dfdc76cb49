// Multi-parameter circuits (compile/partition.h): lookups of different precisions get their own
// parameter sets, with keyswitches between the partitions' keys. Statistics show the partition;
// execute (real keys, every partition's keys and the cross keyswitching keys) equals clear, for a
// hand-made circuit with reads across partitions both ways and for random circuits that mix
// precisions; one parameter set is kept when partitioning does not pay.
#include <gtest/gtest.h>

#include <random>

#include "circuit_test_util.h"
#include "torusml/circuit/compile/partition.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/security.h"

namespace torusml::circuit::testing {
namespace {

// 16 two-bit comparisons of x summed per row and read at 5 bits (a read from the 2-bit partition
// by the 5-bit one), and a 5-bit lookup of y whose 2-bit result is read again at 2 bits (a read
// from the 5-bit partition by the 2-bit one).
Program mixed_program() {
  Builder b;
  Value x = b.input("x", {16});
  Value y = b.input("y", {2});
  Value c = apply_table(
      x, [](std::int64_t t) { return t >= 2 ? 1 : 0; }, "compare");
  Value s = sum(reshape(c, {2, 8}), {1});  // 0..8 per row
  Value v = apply_table(
      s * 3, [](std::int64_t t) { return (t * 5) % 7; }, "wide");  // a 5-bit read of 0..24
  Value a = apply_table(
      y, [](std::int64_t t) { return t / 8; }, "bucket");  // a 5-bit read, 2-bit output
  Value u = apply_table(
      a, [](std::int64_t t) { return 3 - t; }, "flip");  // a 2-bit read
  b.output(v);
  b.output(u);
  b.output(c);
  return b.build();
}

std::vector<std::vector<Tensor>> mixed_inputset(std::mt19937_64& rng, std::size_t count) {
  std::vector<std::vector<Tensor>> set;
  const auto xs = random_tensors(rng, {16}, 0, 3, count);
  const auto ys = random_tensors(rng, {2}, 0, 31, count);
  for (std::size_t i = 0; i < count; ++i) set.push_back({xs[i], ys[i]});
  // The extremes, so that every width is reached.
  set.push_back({Tensor({16}, std::vector<std::int64_t>(16, 3)), Tensor({2}, {31, 0})});
  set.push_back({Tensor({16}, std::vector<std::int64_t>(16, 0)), Tensor({2}, {0, 31})});
  return set;
}

// Inputs under the big key: small-key inputs (compile/small_key_inputs.h) would replace the
// partitions in some of these circuits.
CompileOptions multi(bool on, double gain = 1.15) {
  CompileOptions o;
  o.small_key_inputs = false;
  o.multi_parameter = on;
  o.multi_parameter_gain = gain;
  return o;
}

TEST(MultiParameter, PrecisionsGetTheirOwnParametersAndExecuteEqualsClear) {
  std::mt19937_64 rng(11);
  const Program p = mixed_program();
  const auto inputset = mixed_inputset(rng, 30);
  const CompiledCircuit single = compile(p, inputset, multi(false));
  const CompiledCircuit c = compile(p, inputset, multi(true));
  const CircuitParameters& cp = c.parameters();
  ASSERT_EQ(cp.partition_count(), 2u) << c.describe();
  EXPECT_EQ(single.parameters().partition_count(), 1u);
  // Partition 0 reads 5 bits, partition 1 two; the 2-bit one gets a smaller polynomial.
  EXPECT_EQ(cp.partition(0).message_bits, 5u);
  EXPECT_EQ(cp.partition(1).message_bits, 2u);
  EXPECT_LT(cp.partition(1).polynomial_size, cp.partition(0).polynomial_size);
  for (std::size_t q = 0; q < 2; ++q) EXPECT_TRUE(tfhe::is_128_bit_secure(cp.partition(q)));
  ASSERT_EQ(cp.cross_keyswitches.size(), 2u);
  EXPECT_EQ(cp.cross_keyswitches[0].from, 0u);
  EXPECT_EQ(cp.cross_keyswitches[0].to, 1u);
  EXPECT_EQ(cp.cross_keyswitches[1].from, 1u);
  EXPECT_EQ(cp.cross_keyswitches[1].to, 0u);

  const CircuitStatistics& st = c.statistics();
  ASSERT_EQ(st.partitions.size(), 2u);
  EXPECT_EQ(st.partitions[0].pbs_count, 4u);              // wide (2) + bucket (2)
  EXPECT_EQ(st.partitions[1].pbs_count, 18u);             // compare (16) + flip (2)
  EXPECT_EQ(st.partitions[0].cross_keyswitch_count, 2u);  // wide reads the comparisons
  EXPECT_EQ(st.partitions[1].cross_keyswitch_count, 2u);  // flip reads bucket
  EXPECT_EQ(st.partitions[0].max_table_bits, 5u);
  EXPECT_EQ(st.partitions[1].max_table_bits, 2u);
  EXPECT_EQ(st.pbs_count, single.statistics().pbs_count);
  EXPECT_LT(st.estimated_pbs_seconds * static_cast<double>(st.pbs_count) * 1.15,
            single.statistics().estimated_pbs_seconds *
                static_cast<double>(single.statistics().pbs_count));
  EXPECT_GT(st.single_parameter_estimated_seconds, 0.0);
  EXPECT_LE(st.log2_global_p_error, std::log2(22.0 * 0x1.0p-40) + 1e-6);
  const std::string text = c.describe();
  EXPECT_NE(text.find("2 partitions"), std::string::npos) << text;
  EXPECT_NE(text.find("keyswitch 1 -> 0"), std::string::npos) << text;

  // Encodings: the comparisons' class in partition 1 (x too: its first reader's), y in 0.
  const ClientSpecification& spec = c.client_specification();
  EXPECT_EQ(spec.inputs[0].encoding.partition, 1u);
  EXPECT_EQ(spec.inputs[1].encoding.partition, 0u);

  const KeySet keys = c.generate_keys(seed_of(3));
  EXPECT_EQ(keys.client.extra_pbs_keys.size(), 1u);
  std::vector<std::vector<Tensor>> samples = mixed_inputset(rng, 6);
  const std::vector<Tensor> batch = stack(samples);
  const auto clear = c.evaluate(batch, Mode::Clear);
  const auto executed = c.encrypt_run_decrypt(keys, batch);
  ASSERT_EQ(clear.size(), executed.size());
  for (std::size_t o = 0; o < clear.size(); ++o) EXPECT_EQ(clear[o], executed[o]) << "output " << o;
  EXPECT_EQ(clear, single.evaluate(batch, Mode::Clear));
  const auto simulated = c.evaluate(batch, Mode::Simulate, 5);
  EXPECT_EQ(clear, simulated);
}

TEST(MultiParameter, OnePrecisionKeepsOneParameterSet) {
  std::mt19937_64 rng(2);
  Builder b;
  Value x = b.input("x", {4});
  b.output(apply_table(
      x, [](std::int64_t t) { return t / 2; }, "halve"));
  const Program p = b.build();
  const CompiledCircuit c = compile(p, one_input_set(rng, {4}, 0, 15, 20));
  EXPECT_EQ(c.parameters().partition_count(), 1u);
  EXPECT_TRUE(c.parameters().cross_keyswitches.empty());
  EXPECT_EQ(c.statistics().partitions.size(), 1u);
}

TEST(MultiParameter, PartitionPlanFollowsEncodingClasses) {
  std::mt19937_64 rng(4);
  const Program p = mixed_program();
  const CompiledCircuit c = compile(p, mixed_inputset(rng, 20), multi(false));
  const ProgramAnalysis& a = c.analysis();
  EXPECT_EQ(distinct_precisions(a), (std::vector<unsigned>{5, 2}));
  const PartitionPlan plan =
      plan_partitions(p, a, 2, [](unsigned bits) { return bits == 5 ? 0u : 1u; });
  ASSERT_EQ(plan.pbs.size(), a.pbs_requirements.size());
  for (std::size_t r = 0; r < plan.pbs.size(); ++r)
    EXPECT_EQ(plan.pbs[r].partition, plan.pbs[r].requirement.precision_bits == 5 ? 0u : 1u);
  EXPECT_THROW(plan_partitions(p, a, 3, [](unsigned bits) { return bits == 5 ? 0u : 1u; }),
               InvalidArgument);  // partition 2 would have no bootstrap
}

// Random circuits mixing 2- to 5-bit reads: lookups with random tables and linear combinations of
// earlier values, compiled with multi-parameter whenever it is cheaper at all; execute equals
// clear on a batch with real keys.
Program random_program(std::mt19937_64& rng) {
  Builder b;
  struct Item {
    Value v;
    std::int64_t max;
  };
  std::vector<Item> pool;
  for (int i = 0; i < 2; ++i) pool.push_back({b.input("x" + std::to_string(i), {3}), 31});
  const int steps = 5 + static_cast<int>(rng() % 3);
  for (int s = 0; s < steps; ++s) {
    const Item& a = pool[rng() % pool.size()];
    if (rng() % 3 != 0 || a.max > 31) {
      // A lookup to 1-3 bits.
      const std::int64_t out_max = (std::int64_t{1} << (1 + rng() % 3)) - 1;
      const std::int64_t mul = 1 + static_cast<std::int64_t>(rng() % 5), add = rng() % 7;
      pool.push_back(
          {apply_table(
               a.v, [=](std::int64_t t) { return (t * mul + add) % (out_max + 1); }, "random"),
           out_max});
    } else {
      const Item& c = pool[rng() % pool.size()];
      if (a.max + c.max > 31) continue;
      pool.push_back({a.v + c.v, a.max + c.max});
    }
  }
  b.output(pool.back().v);
  b.output(pool[pool.size() - 2].v);
  return b.build();
}

TEST(MultiParameter, RandomMixedPrecisionCircuitsExecuteEqualsClear) {
  int partitioned = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    const Program p = random_program(rng);
    std::vector<std::vector<Tensor>> inputset;
    for (int i = 0; i < 40; ++i) {
      std::vector<Tensor> sample;
      for (NodeId id : p.inputs) {
        (void)id;
        sample.push_back(random_tensors(rng, {3}, 0, 31, 1)[0]);
      }
      inputset.push_back(std::move(sample));
    }
    const CompiledCircuit c = compile(p, inputset, multi(true, 1.0));
    partitioned += c.parameters().partition_count() > 1 ? 1 : 0;
    for (std::size_t q = 0; q < c.parameters().partition_count(); ++q)
      EXPECT_TRUE(tfhe::is_128_bit_secure(c.parameters().partition(q)));
    std::vector<std::vector<Tensor>> samples(inputset.begin(), inputset.begin() + 4);
    const std::vector<Tensor> batch = stack(samples);
    const KeySet keys = c.generate_keys(seed_of(static_cast<std::uint8_t>(seed)));
    EXPECT_EQ(c.evaluate(batch, Mode::Clear), c.encrypt_run_decrypt(keys, batch))
        << "seed " << seed << "\n"
        << c.describe();
  }
  EXPECT_GE(partitioned, 2) << "the random circuits should mix precisions";
}

}  // namespace
}  // namespace torusml::circuit::testing
