// Many-LUT fusion (compile/many_lut.h): lookups reading one encrypted value fused into one
// bootstrap per element when the circuit's widest read allows it, with fewer bootstraps and the
// same parameters; execute (real keys) equals clear; clear and simulate are unchanged; groups
// limited by the widest read; a serialized fused program runs identically; damaged groups are
// rejected.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "circuit_test_util.h"
#include "torusml/circuit/compile/many_lut.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/circuit/serialization/validity.h"
#include "torusml/common/error.h"

namespace torusml::circuit::testing {
namespace {

constexpr std::int64_t kElements = 4;

// x (3 bits, [0, 7]) read as v = x - 4 by `tables` lookups (relu, square, sign, negation, ...),
// and w (`w_bits` bits, 2 elements) read by one lookup: the circuit's widest read.
Program shared_input_program(int tables, unsigned w_bits) {
  Builder b;
  Value x = b.input("x", {kElements});
  Value w = b.input("w", {2});
  Value v = x - 4;
  const std::vector<std::pair<Function, const char*>> fs = {
      {[](std::int64_t t) { return t > 0 ? t : 0; }, "relu"},
      {[](std::int64_t t) { return t * t; }, "square"},
      {[](std::int64_t t) { return t > 0 ? 1 : (t < 0 ? -1 : 0); }, "sign"},
      {[](std::int64_t t) { return -t; }, "negate"},
      {[](std::int64_t t) { return 3 * t + 1; }, "affine"},
  };
  for (int t = 0; t < tables; ++t)
    b.output(apply_table(v, fs[static_cast<std::size_t>(t)].first,
                         fs[static_cast<std::size_t>(t)].second));
  if (w_bits > 0)
    b.output(apply_table(
        w, [](std::int64_t t) { return t / 2; }, "halve"));
  return b.build();
}

std::vector<std::vector<Tensor>> shared_input_set(unsigned w_bits) {
  std::vector<std::vector<Tensor>> set;
  const std::int64_t w_max = (std::int64_t{1} << w_bits) - 1;
  for (std::int64_t s = 0; s < 16; ++s) {
    std::vector<std::int64_t> x(kElements);
    for (std::int64_t k = 0; k < kElements; ++k) x[static_cast<std::size_t>(k)] = (s + 3 * k) % 8;
    set.push_back(
        {Tensor({kElements}, x), Tensor({2}, {s % (w_max + 1), w_max - s % (w_max + 1)})});
  }
  return set;
}

// One parameter set: many-LUT groups stay within one (the 3- and 5-bit reads here would
// otherwise get partitions of their own, compile/partition.h).
// Inputs under the big key: small-key inputs (compile/small_key_inputs.h) leave many-LUT out.
CompileOptions keyswitched() {
  CompileOptions o;
  o.small_key_inputs = false;
  return o;
}

CompileOptions with_many_lut(bool on) {
  CompileOptions o = keyswitched();
  o.many_lut = on;
  o.multi_parameter = false;
  return o;
}

TEST(ManyLutCompile, SharedInputLookupsFuseIntoOneBootstrap) {
  // Four tables of a 3-bit value: theta = 2, a 5-bit read, within w's 5-bit lookup.
  const Program p = shared_input_program(4, 5);
  const auto inputset = shared_input_set(5);
  const CompiledCircuit fused = compile(p, inputset, with_many_lut(true));
  const CompiledCircuit plain = compile(p, inputset, with_many_lut(false));
  const CircuitStatistics& fs = fused.statistics();
  const CircuitStatistics& ps = plain.statistics();
  EXPECT_EQ(ps.pbs_count, 4u * kElements + 2);
  EXPECT_EQ(fs.pbs_count, kElements + 2u);
  EXPECT_EQ(fs.many_lut_lookups, 4u * kElements);
  EXPECT_EQ(fs.many_lut_pbs_count, static_cast<std::uint64_t>(kElements));
  EXPECT_EQ(fs.keyswitch_count, fs.pbs_count);
  EXPECT_EQ(fs.table_lookup_nodes, ps.table_lookup_nodes);
  EXPECT_EQ(ps.many_lut_lookups, 0u);
  EXPECT_NE(fused.describe().find("many-LUT: 16 table lookups in 4 bootstraps (12 saved)"),
            std::string::npos)
      << fused.describe();
  // The fused read is implied by w's 5-bit read: the same parameters, one parameter set.
  EXPECT_EQ(fused.parameters(), plain.parameters());
  EXPECT_EQ(fused.parameters().pbs.message_bits, 5u);
  EXPECT_LT(fs.estimated_latency_seconds, ps.estimated_latency_seconds + 1e-12);
  // One leader Bootstrap, three FusedLookup instructions naming it.
  int leaders = 0, members = 0;
  for (const Instruction& ins : fused.server_program().instructions) {
    if (ins.kind == InstructionKind::FusedLookup) {
      ++members;
      EXPECT_EQ(fused.server_program()
                    .instructions[static_cast<std::size_t>(ins.bootstrap.fused_into)]
                    .kind,
                InstructionKind::Bootstrap);
    }
    if (ins.kind == InstructionKind::Bootstrap && ins.bootstrap.fused_into == -1) ++leaders;
  }
  EXPECT_EQ(members, 3);
  EXPECT_EQ(leaders, 2);  // the group's leader and w's lookup
  EXPECT_NO_THROW(validate_server_program(fused.server_program()));

  // Clear and simulate are those of the unfused circuit; execute (real keys) equals clear.
  const auto batch = stack(inputset);
  const auto clear = plain.evaluate(batch, Mode::Clear);
  EXPECT_EQ(fused.evaluate(batch, Mode::Clear), clear);
  EXPECT_EQ(fused.evaluate(batch, Mode::Simulate, 7), clear);
  EXPECT_EQ(plain.evaluate(batch, Mode::Simulate, 7), clear);
  EXPECT_EQ(fused.encrypt_run_decrypt(keys_for(fused), batch), clear);
}

TEST(ManyLutCompile, GroupsStayWithinTheWidestRead) {
  // All reads at the same width: fusing would widen the read, nothing is fused.
  {
    const Program p = shared_input_program(3, 0);
    const CompiledCircuit c = compile(p, shared_input_set(3), keyswitched());
    EXPECT_EQ(c.statistics().many_lut_lookups, 0u);
    EXPECT_EQ(c.statistics().pbs_count, 3u * kElements);
    EXPECT_EQ(c.statistics().max_table_bits, 3u);
  }
  // w's read is 4 bits: theta <= 1, five tables of x in groups of 2, 2 and 1.
  {
    const Program p = shared_input_program(5, 4);
    const auto inputset = shared_input_set(4);
    const CompiledCircuit c = compile(p, inputset, keyswitched());
    const CircuitStatistics& s = c.statistics();
    EXPECT_EQ(s.many_lut_lookups, 4u * kElements);
    EXPECT_EQ(s.many_lut_pbs_count, 2u * kElements);
    EXPECT_EQ(s.pbs_count, 3u * kElements + 2);
    EXPECT_EQ(s.max_table_bits, 4u);
    EXPECT_EQ(c.parameters().pbs.message_bits, 4u);
    const ManyLutPlan plan = find_many_lut_groups(p, c.analysis());
    ASSERT_EQ(plan.groups.size(), 2u);
    for (const ManyLutGroup& g : plan.groups) {
      EXPECT_EQ(g.lookups.size(), 2u);
      EXPECT_EQ(g.read_bits(), 4u);
    }
    const auto batch = stack(inputset);
    EXPECT_EQ(c.encrypt_run_decrypt(keys_for(c), batch), c.evaluate(batch, Mode::Clear));
  }
}

TEST(ManyLutCompile, PerElementTablesAndRoundTripSerialization) {
  // Two lookups of one value, one of them with a table per element; w's 4-bit read.
  Builder b;
  Value x = b.input("x", {kElements});
  Value w = b.input("w", {2});
  Value v = x - 4;
  b.output(relu(v));
  b.output(apply_tables(v,
                        {TableFunction{[](std::int64_t t) { return t * t; }, "square"},
                         TableFunction{[](std::int64_t t) { return 2 - t; }, "flip"}},
                        {0, 1, 1, 0}));
  b.output(apply_table(
      w, [](std::int64_t t) { return t / 2; }, "halve"));
  const Program p = b.build();
  const auto inputset = shared_input_set(4);
  const CompiledCircuit c = compile(p, inputset, keyswitched());
  ASSERT_EQ(c.statistics().many_lut_pbs_count, static_cast<std::uint64_t>(kElements));
  const auto batch = stack(inputset);
  const KeySet& keys = keys_for(c);
  EXPECT_EQ(c.encrypt_run_decrypt(keys, batch), c.evaluate(batch, Mode::Clear));

  // The server program round-trips bit for bit and runs identically (same ciphertexts out).
  const auto bytes = serialize_server_program(c.server_program());
  const ServerProgram loaded = deserialize_server_program(bytes);
  EXPECT_EQ(serialize_server_program(loaded), bytes);
  const RunArguments args = encrypt_inputs(keys.client, c.client_specification(), batch);
  const auto direct = run(c.server_program(), args, keys.evaluation);
  const auto reloaded = run(loaded, args, keys.evaluation);
  ASSERT_EQ(direct.size(), reloaded.size());
  for (std::size_t o = 0; o < direct.size(); ++o)
    EXPECT_EQ(direct[o].ciphertexts, reloaded[o].ciphertexts) << "output " << o;
  EXPECT_EQ(decrypt_outputs(keys.client, c.client_specification(), reloaded),
            c.evaluate(batch, Mode::Clear));

  // Unfused programs serialize as before: the option changes nothing where no group forms.
  const Program single = shared_input_program(1, 4);
  EXPECT_EQ(
      serialize_server_program(compile(single, inputset, with_many_lut(true)).server_program()),
      serialize_server_program(compile(single, inputset, with_many_lut(false)).server_program()));
}

TEST(ManyLutCompile, DamagedGroupsAreRejected) {
  const Program p = shared_input_program(2, 5);
  const CompiledCircuit c = compile(p, shared_input_set(5), keyswitched());
  ServerProgram sp = c.server_program();
  std::size_t member = 0;
  for (std::size_t i = 0; i < sp.instructions.size(); ++i)
    if (sp.instructions[i].kind == InstructionKind::FusedLookup) member = i;
  ASSERT_GT(member, 0u);
  ServerProgram bad = sp;
  bad.instructions[member].bootstrap.fused_into = static_cast<NodeId>(member);  // not earlier
  EXPECT_THROW(validate_server_program(bad), InvalidArgument);
  bad = sp;
  bad.instructions[member].bootstrap.fused_into = 0;  // an input, not a Bootstrap lookup
  EXPECT_THROW(validate_server_program(bad), InvalidArgument);
  bad = sp;
  const auto leader = static_cast<std::size_t>(sp.instructions[member].bootstrap.fused_into);
  bad.instructions[leader].bootstrap.fused_into = static_cast<NodeId>(leader);  // on a Bootstrap
  EXPECT_THROW(validate_server_program(bad), InvalidArgument);
  bad = sp;
  bad.instructions[member].kind = InstructionKind::Bootstrap;  // a Bootstrap naming a leader
  EXPECT_THROW(validate_server_program(bad), InvalidArgument);
  EXPECT_NO_THROW(deserialize_server_program(serialize_server_program(sp)));
}

TEST(ManyLutCompile, NoisyInputsAreFusedOnlyWhenCheaper) {
  // v = 6 x - 20 y (a noisy linear combination) read by two tables, beside a fresh 5-bit read:
  // the fused 4-bit read on v's noise is not implied by w's, and is kept only if the parameters
  // it needs cost less in all than the unfused bootstraps.
  Builder b;
  Value x = b.input("x", {kElements});
  Value y = b.input("y", {kElements});
  Value w = b.input("w", {2});
  Value v = x * 6 - y * 20;
  Value r = round_bit_pattern(v, 4, RoundingMode::Approximate);
  b.output(relu(r));
  b.output(apply_table(
      r, [](std::int64_t t) { return t > 0 ? 1 : 0; }, "positive"));
  b.output(apply_table(
      w, [](std::int64_t t) { return t / 2; }, "halve"));
  const Program p = b.build();
  std::mt19937_64 rng(5);
  std::vector<std::vector<Tensor>> inputset;
  for (int s = 0; s < 30; ++s)
    inputset.push_back({random_tensors(rng, {kElements}, 0, 7, 1)[0],
                        random_tensors(rng, {kElements}, 0, 3, 1)[0],
                        random_tensors(rng, {2}, 0, 31, 1)[0]});
  const CompiledCircuit fused = compile(p, inputset, with_many_lut(true));
  const CompiledCircuit plain = compile(p, inputset, with_many_lut(false));
  const double fused_cost =
      fused.statistics().estimated_pbs_seconds * static_cast<double>(fused.statistics().pbs_count);
  const double plain_cost =
      plain.statistics().estimated_pbs_seconds * static_cast<double>(plain.statistics().pbs_count);
  EXPECT_LE(fused_cost, plain_cost * (1 + 1e-12));
  EXPECT_LE(fused.statistics().log2_global_p_error, std::log2(0x1.0p-40) + 6);
  const auto batch = stack(inputset);
  EXPECT_EQ(fused.evaluate(batch, Mode::Clear), plain.evaluate(batch, Mode::Clear));
}

}  // namespace
}  // namespace torusml::circuit::testing
