// Compilation and the three modes: leveled circuits, random programs (clear == execute), simulation
// vs clear, failure probabilities vs target, declared range hints, compile errors, and
// key/parameter mismatches.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "circuit_test_util.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/common/error.h"

namespace torusml::circuit::testing {
namespace {

TEST(Compiler, LeveledLinearModelUsesNoBootstrap) {
  Builder b;
  Value x = b.input("x", {30});
  std::mt19937_64 rng(3);
  const Tensor w = random_tensors(rng, {30, 3}, -128, 127, 1)[0];
  b.output(matmul(x, w) + Tensor::vector({1000, -2000, 3000}));
  const Program p = b.build();
  const auto inputset = one_input_set(rng, {30}, 0, 255, 50);
  const CompiledCircuit c = compile(p, inputset);
  EXPECT_FALSE(c.parameters().uses_pbs);
  EXPECT_EQ(c.statistics().pbs_count, 0u);
  EXPECT_GE(c.statistics().max_bit_width, 16u);
  EXPECT_NE(c.describe().find("leveled"), std::string::npos);
  const auto x_batch =
      stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.begin() + 20));
  const KeySet& keys = keys_for(c);
  EXPECT_FALSE(keys.evaluation.server_key.has_value());
  EXPECT_EQ(c.encrypt_run_decrypt(keys, x_batch), c.evaluate(x_batch, Mode::Clear));
}

// A random program: a sequence of operations over small shapes, with interval arithmetic keeping
// table inputs narrow.
struct RandomProgram {
  Program program;
  std::vector<Shape> input_shapes;
};

RandomProgram random_program(std::mt19937_64& rng) {
  Builder b;
  struct Item {
    Value v;
    std::int64_t lo, hi;
  };
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::int64_t len = 2 + static_cast<std::int64_t>(rng() % 4);
  RandomProgram rp;
  rp.input_shapes = {{len}, {len}};
  std::vector<Item> items = {{b.input("a", {len}), 0, 7}, {b.input("b", {len}), -4, 3}};
  const int steps = 4 + static_cast<int>(rng() % 5);
  for (int s = 0; s < steps; ++s) {
    const Item x = items[pick(items.size())];
    const Item y = items[pick(items.size())];
    const bool narrow = std::max(std::abs(x.lo), std::abs(x.hi)) <= 40;
    switch (pick(7)) {
      case 0:
        if (x.v.shape() == y.v.shape()) items.push_back({x.v + y.v, x.lo + y.lo, x.hi + y.hi});
        break;
      case 1:
        if (x.v.shape() == y.v.shape()) items.push_back({x.v - y.v, x.lo - y.hi, x.hi - y.lo});
        break;
      case 2: {
        const std::int64_t c = static_cast<std::int64_t>(pick(5)) - 2;
        items.push_back({x.v * c, std::min(x.lo * c, x.hi * c), std::max(x.lo * c, x.hi * c)});
        break;
      }
      case 3: {  // a random table to a small range
        if (!narrow) break;
        std::vector<std::int64_t> values(256);
        for (auto& v : values) v = static_cast<std::int64_t>(pick(16)) - 8;
        items.push_back({apply_table(x.v,
                                     [values](std::int64_t t) {
                                       return values[static_cast<std::size_t>(t & 255)];
                                     }),
                         -8, 7});
        break;
      }
      case 4: {  // a small matmul to a new length
        if (x.v.shape().size() != 1) break;
        const std::int64_t n = x.v.shape()[0], m = 1 + static_cast<std::int64_t>(pick(3));
        std::vector<std::int64_t> w(static_cast<std::size_t>(n * m));
        std::int64_t bound = 0;
        for (auto& v : w) v = static_cast<std::int64_t>(pick(5)) - 2;
        for (std::int64_t j = 0; j < m; ++j) {
          std::int64_t col = 0;
          for (std::int64_t i = 0; i < n; ++i)
            col += std::abs(w[static_cast<std::size_t>(i * m + j)]);
          bound = std::max(bound, col);
        }
        const std::int64_t a = std::max(std::abs(x.lo), std::abs(x.hi)) * bound;
        items.push_back({matmul(x.v, Tensor({n, m}, w)), -a, a});
        break;
      }
      case 5:
        if (narrow) items.push_back({relu(x.v), 0, std::max<std::int64_t>(x.hi, 0)});
        break;
      case 6: {
        const std::int64_t n = element_count(x.v.shape());
        items.push_back({sum(x.v), x.lo * n, x.hi * n});
        break;
      }
    }
  }
  b.output(items.back().v);
  if (items.size() > 3) b.output(items[items.size() - 2].v);
  rp.program = b.build();
  return rp;
}

TEST(Compiler, RandomProgramsClearEqualsExecute) {
  std::mt19937_64 rng(2024);
  int executed = 0;
  for (int trial = 0; trial < 14; ++trial) {
    const RandomProgram rp = random_program(rng);
    std::vector<std::vector<Tensor>> inputset;
    for (int k = 0; k < 30; ++k)
      inputset.push_back({random_tensors(rng, rp.input_shapes[0], 0, 7, 1)[0],
                          random_tensors(rng, rp.input_shapes[1], -4, 3, 1)[0]});
    CompiledCircuit c;
    try {
      c = compile(rp.program, inputset);
    } catch (const CompileError& e) {
      continue;  // e.g. a table input that grew too wide: a legitimate rejection
    }
    const auto x = stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.begin() + 4));
    const auto clear = c.evaluate(x, Mode::Clear);
    ASSERT_EQ(c.encrypt_run_decrypt(keys_for(c), x), clear) << rp.program.to_text();
    EXPECT_EQ(c.evaluate(x, Mode::Simulate, 5), clear);
    ++executed;
  }
  EXPECT_GE(executed, 10);
}

Program identity_table_program(std::int64_t len, unsigned bits) {
  Builder b;
  Value x = b.input("x", {len});
  const std::int64_t mask = (std::int64_t{1} << bits) - 1;
  b.output(apply_table(
      x, [mask](std::int64_t v) { return (v * 5 + 3) & mask; }, "affine_mod"));
  return b.build();
}

// Only what is read must fit its encoding: an accumulator far wider than the lookup input it
// feeds (a per-element offset recentres it) wraps modulo the encoding, and the lookup still reads
// the exact centred value.
TEST(Compiler, IntermediateSumsMayWrapWhenWhatIsReadFits) {
  Builder b;
  Value x = b.input("x", {4});
  const Tensor offsets = Tensor::vector({4000, -3000, 2000, 1000});
  Value wide = x * 3 + offsets;    // 13 bits
  Value centred = wide - offsets;  // back to [0, 45]: 6 bits
  b.output(apply_table(
      centred, [](std::int64_t v) { return v / 3; }, "third"));
  b.output(centred + 5);
  const Program p = b.build();
  std::mt19937_64 rng(5);
  const auto inputset = one_input_set(rng, {4}, 0, 15, 30);
  const CompiledCircuit c = compile(p, inputset);
  EXPECT_LE(c.statistics().max_bit_width, 7u) << c.describe();
  const auto x_batch =
      stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.begin() + 6));
  const auto clear = c.evaluate(x_batch, Mode::Clear);
  EXPECT_EQ(c.encrypt_run_decrypt(keys_for(c), x_batch), clear);
  EXPECT_EQ(c.evaluate(x_batch, Mode::Simulate), clear);
}

// Exact rounding by digits (exact_rounding.h), without noise: the steps the compiler plans give
// round_bit_pattern's clear semantics (ties away from zero) on every value of the input's range,
// signed and unsigned, in one chunk or several, for every number of bits removed that leaves at
// most 10 (what a lookup may read).
TEST(Compiler, ExactRoundingByDigitsIsExactOnEveryValueWithoutNoise) {
  int planned = 0;
  for (unsigned width : {3u, 7u, 12u, 13u}) {
    for (unsigned lsbs = std::max(1u, width - std::min(width, 10u)); lsbs < width; ++lsbs) {
      for (bool is_signed : {false, true}) {
        // The widest range whose rounded values still fit `width` bits.
        const std::int64_t h = std::int64_t{1} << (lsbs - 1);
        const std::int64_t lo = is_signed ? -(std::int64_t{1} << (width - 1)) + h : 0;
        const std::int64_t hi = (std::int64_t{1} << (is_signed ? width - 1 : width)) - h - 1;
        std::vector<std::int64_t> all(static_cast<std::size_t>(hi - lo + 1));
        std::iota(all.begin(), all.end(), lo);
        const auto n = static_cast<std::int64_t>(all.size());
        Builder b;
        b.output(round_bit_pattern(b.input("x", {n}), lsbs, RoundingMode::Exact));
        const Tensor x({n}, all);
        const std::vector<std::vector<Tensor>> inputset = {{x}};
        const CompiledCircuit c = compile(b.build(), inputset);
        ServerProgram sp = c.server_program();
        const Instruction& ins = sp.instructions.back();
        if (ins.kind != InstructionKind::ExactRound) {
          // Only an input no wider than what the circuit reads anyway keeps the table.
          EXPECT_EQ(ins.kind, InstructionKind::Bootstrap);
          continue;
        }
        ++planned;
        EXPECT_EQ(ins.rounding.input_width, width) << lsbs;
        for (RoundingStep& step : sp.instructions.back().rounding.steps) step.noise_std_box = 0;
        ClientSpecification spec = c.client_specification();
        spec.output_noise_std_lsb.assign(spec.outputs.size(), 0.0);
        const Tensor batch({1, n}, all);
        const auto noiseless = interpret(sp, spec, std::span(&batch, 1), true, 3);
        const auto clear = c.evaluate(std::span(&batch, 1), Mode::Clear);
        ASSERT_EQ(noiseless, clear)
            << "width " << width << ", lsbs " << lsbs << ", signed " << is_signed;
      }
    }
  }
  EXPECT_GE(planned, 40);
}

// What an exact rounding by digits costs: the sign read (signed inputs) and two bootstraps per
// chunk (one for a 1-bit chunk), counted in the statistics with their precision and in the
// failure probability; its result joins its input's encoding, and a lookup reads only the kept
// bits of it.
TEST(Compiler, ExactRoundingByDigitsStatistics) {
  struct Case {
    unsigned width, kept;
    bool is_signed;
    std::vector<unsigned> chunks;
    std::uint64_t bootstraps;  // per element, the lookup excluded
  };
  for (const Case& k : {Case{12, 6, true, {6}, 3}, Case{12, 6, false, {6}, 2},
                        Case{14, 6, true, {7, 1}, 4}, Case{14, 4, true, {5, 5}, 5}}) {
    const unsigned lsbs = k.width - k.kept;
    const std::int64_t h = std::int64_t{1} << (lsbs - 1);
    const std::int64_t lo = k.is_signed ? -(std::int64_t{1} << (k.width - 1)) + h : 0;
    const std::int64_t hi = (std::int64_t{1} << (k.is_signed ? k.width - 1 : k.width)) - h - 1;
    Builder b;
    Value r = round_bit_pattern(b.input("x", {3}), lsbs, RoundingMode::Exact);
    b.output(apply_table(
        r, [](std::int64_t v) { return v / 1024; }, "scale"));
    const Program p = b.build();
    const std::vector<std::vector<Tensor>> inputset = {{Tensor::vector({lo, hi, 0})}};
    const CompiledCircuit c = compile(p, inputset);
    const NodeId round_node = p.nodes[p.nodes.size() - 2].op == OpKind::Round
                                  ? static_cast<NodeId>(p.nodes.size() - 2)
                                  : -1;
    ASSERT_GE(round_node, 0);
    const NodeAnalysis& na = c.analysis().nodes[static_cast<std::size_t>(round_node)];
    EXPECT_TRUE(na.rounding_by_digits);
    EXPECT_EQ(na.rounding_chunks, k.chunks);
    const ServerProgram& sp = c.server_program();
    EXPECT_EQ(sp.instructions[static_cast<std::size_t>(round_node)].kind,
              InstructionKind::ExactRound);
    EXPECT_EQ(sp.encodings[static_cast<std::size_t>(round_node)].width, k.width);
    const CircuitStatistics& s = c.statistics();
    EXPECT_EQ(s.exact_rounding_pbs_count, 3 * k.bootstraps) << c.describe();
    EXPECT_EQ(s.pbs_count, 3 * (k.bootstraps + 1));
    EXPECT_EQ(s.table_lookup_nodes, 2u);
    // The lookup reads the kept bits; the sign read resolves as many, the digits fewer.
    const Instruction& lookup = sp.instructions.back();
    EXPECT_EQ(lookup.bootstrap.lsbs_removed, lsbs);
    EXPECT_EQ(c.analysis().nodes.back().pbs_precision, k.kept);
    EXPECT_EQ(s.exact_rounding_max_bits, k.is_signed ? k.kept : k.chunks[0] - 1);
    EXPECT_EQ(s.max_table_bits, k.kept);
    EXPECT_NE(c.describe().find("exact roundings by digits"), std::string::npos);
    // Every bootstrap is a requirement, and meets the default failure probability.
    std::size_t requirements = 0;
    for (NodeId id : c.analysis().pbs_nodes) requirements += id == round_node;
    EXPECT_EQ(requirements, k.bootstraps);
    for (const RoundingStep& step :
         sp.instructions[static_cast<std::size_t>(round_node)].rounding.steps)
      EXPECT_LE(step.log2_p_error, -40.0 + 1e-9);
    EXPECT_LE(s.log2_global_p_error,
              -40.0 + std::log2(3.0 * static_cast<double>(k.bootstraps + 1)) + 1e-9);
  }
}

// The rule between the two lowerings of an exact rounding: a narrow input in a circuit that reads
// as many bits anyway keeps the one full-width table (one bootstrap); the same rounding next to
// narrower lookups only goes by digits. Both equal the clear result under encryption.
TEST(Compiler, ExactRoundingLoweringRule) {
  for (bool wide_elsewhere : {true, false}) {
    Builder b;
    Value x = b.input("x", {4});
    Value r = round_bit_pattern(x, 2, RoundingMode::Exact);  // x: 6 bits, signed
    b.output(apply_table(
        r, [](std::int64_t v) { return v / 4 + 3; }, "quarter"));
    if (wide_elsewhere) {
      Value y = b.input("y", {2});  // 7 bits: a 7-bit lookup
      b.output(apply_table(
          y, [](std::int64_t v) { return v % 5; }, "mod5"));
    }
    const Program p = b.build();
    std::mt19937_64 rng(8);
    std::vector<std::vector<Tensor>> inputset;
    for (int k = 0; k < 30; ++k) {
      std::vector<Tensor> sample = {random_tensors(rng, {4}, -30, 29, 1)[0]};
      if (wide_elsewhere) sample.push_back(random_tensors(rng, {2}, 0, 127, 1)[0]);
      inputset.push_back(std::move(sample));
    }
    inputset[0][0] = Tensor::vector({-30, 29, -2, 2});  // ties and the extremes
    const CompiledCircuit c = compile(p, inputset);
    const std::size_t round_node = 1;
    ASSERT_EQ(p.nodes[round_node].op, OpKind::Round);
    EXPECT_EQ(c.server_program().instructions[round_node].kind,
              wide_elsewhere ? InstructionKind::Bootstrap : InstructionKind::ExactRound)
        << c.describe();
    EXPECT_EQ(c.statistics().pbs_count, wide_elsewhere ? 4u + 4u + 2u : 4u * (1 + 2) + 4u);
    const auto batch =
        stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.begin() + 3));
    const auto clear = c.evaluate(batch, Mode::Clear);
    EXPECT_EQ(c.encrypt_run_decrypt(keys_for(c), batch), clear);
    EXPECT_EQ(c.evaluate(batch, Mode::Simulate, 4), clear);
  }
}

TEST(Compiler, ParametersMeetTheFailureTarget) {
  std::mt19937_64 rng(1);
  const Program p = identity_table_program(8, 5);
  const auto inputset = one_input_set(rng, {8}, 0, 31, 20);
  for (double target : {0x1.0p-20, 0x1.0p-40, 0x1.0p-64}) {
    CompileOptions o;
    o.p_error = target;
    const CompiledCircuit c = compile(p, inputset, o);
    ASSERT_TRUE(c.parameters().uses_pbs);
    for (const auto& ins : c.server_program().instructions) {
      if (ins.kind == InstructionKind::Bootstrap) {
        EXPECT_LE(ins.bootstrap.log2_p_error, std::log2(target) + 1e-9);
      }
    }
  }
  CompileOptions g;
  g.global_p_error = 0x1.0p-30;
  const CompiledCircuit c = compile(p, inputset, g);
  EXPECT_LE(c.statistics().log2_global_p_error, -30 + 1e-6);
}

TEST(Compiler, PresetsAsParameterSource) {
  std::mt19937_64 rng(6);
  const Program p = identity_table_program(8, 4);
  const auto inputset = one_input_set(rng, {8}, 0, 15, 10);
  CompileOptions o;
  o.parameter_source = CompileOptions::ParameterSource::Presets;
  const CompiledCircuit c = compile(p, inputset, o);
  EXPECT_EQ(c.parameters().pbs.name, "tfhe_4bit");
  for (const auto& ins : c.server_program().instructions) {
    if (ins.kind == InstructionKind::Bootstrap) {
      EXPECT_LE(ins.bootstrap.log2_p_error, -40.0);
    }
  }
  const auto x = stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.begin() + 3));
  EXPECT_EQ(c.encrypt_run_decrypt(keys_for(c), x), c.evaluate(x, Mode::Clear));
}

TEST(Compiler, SimulationDivergesNearCertainFailure) {
  std::mt19937_64 rng(2);
  const Program p = identity_table_program(64, 4);
  const auto inputset = one_input_set(rng, {64}, 0, 15, 20);
  const auto x = stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.begin() + 10));
  const CompiledCircuit safe = compile(p, inputset);
  EXPECT_EQ(safe.evaluate(x, Mode::Simulate, 1), safe.evaluate(x, Mode::Clear));
  CompileOptions o;
  o.p_error = 0.5;
  const CompiledCircuit risky = compile(p, inputset, o);
  const auto clear = risky.evaluate(x, Mode::Clear)[0];
  const auto sim = risky.evaluate(x, Mode::Simulate, 1)[0];
  std::size_t diff = 0;
  for (std::size_t k = 0; k < clear.size(); ++k) diff += clear[k] != sim[k];
  EXPECT_GT(diff, clear.size() / 10) << "simulation should show errors at p_error = 0.5";
}

// With a deliberately high p_error, the measured failure rate of real bootstraps agrees with the
// failure probability the parameters were chosen for (within 4.5 binomial standard deviations).
TEST(Compiler, MeasuredFailureRateAgreesWithTarget) {
  std::mt19937_64 rng(3);
  const Program p = identity_table_program(500, 4);
  const auto inputset = one_input_set(rng, {500}, 0, 15, 4);
  CompileOptions o;
  o.p_error = 0x1.0p-7;
  o.small_key_inputs = false;  // the keyswitched path (small-key inputs: tfhe/bootstrap_test.cpp)
  const CompiledCircuit c = compile(p, inputset, o);
  double log2_p = 0;
  for (const auto& ins : c.server_program().instructions)
    if (ins.kind == InstructionKind::Bootstrap) log2_p = ins.bootstrap.log2_p_error;
  const double pf = std::exp2(log2_p);
  ASSERT_GT(pf, 0x1.0p-10) << "the optimizer should use most of the allowed failure probability";
  const auto x = stack(std::vector<std::vector<Tensor>>(inputset.begin(), inputset.end()));
  const auto clear = c.evaluate(x, Mode::Clear)[0];
  const auto fhe = c.encrypt_run_decrypt(keys_for(c), x)[0];
  double failures = 0;
  for (std::size_t k = 0; k < clear.size(); ++k) failures += clear[k] != fhe[k];
  const double n = static_cast<double>(clear.size()), expected = n * pf;
  EXPECT_NEAR(failures, expected, 4.5 * std::sqrt(expected * (1 - pf)) + 1.0)
      << "measured " << failures / n << " vs model " << pf;
}

// Declared ranges widen the measured ones: a sum whose input set never reaches its maximum runs
// on inputs that do, in the clear and under encryption, once its bound is declared; a wider table
// input gets a wider lookup; invalid hints are rejected.
TEST(Compiler, RangeHintsWidenTheMeasuredRanges) {
  Builder b;
  Value x = b.input("x", {4});
  const Value total = sum(x);
  b.output(total);
  const Program p = b.build();
  std::mt19937_64 rng(7);
  const auto inputset = one_input_set(rng, {4}, 0, 3, 10);  // sums up to 12 (4 bits)
  const std::vector<Tensor> big{Tensor({1, 4}, {15, 15, 15, 15})};
  const CompiledCircuit measured = compile(p, inputset);
  EXPECT_THROW(measured.evaluate(big, Mode::Clear), InvalidArgument);

  CompileOptions o;
  o.range_hints[x.id()] = {0, 15};
  o.range_hints[total.id()] = {0, 60};
  const CompiledCircuit hinted = compile(p, inputset, o);
  EXPECT_EQ(hinted.analysis().nodes[static_cast<std::size_t>(total.id())].range.max, 60);
  EXPECT_EQ(hinted.analysis().nodes[static_cast<std::size_t>(total.id())].range.min, 0);
  EXPECT_EQ(hinted.evaluate(big, Mode::Clear)[0], Tensor({1}, {60}));
  EXPECT_EQ(hinted.encrypt_run_decrypt(keys_for(hinted), big)[0], Tensor({1}, {60}));
  // A hint inside the measured range changes nothing.
  CompileOptions narrow;
  narrow.range_hints[total.id()] = {2, 3};
  const CompiledCircuit same = compile(p, inputset, narrow);
  EXPECT_EQ(same.analysis().nodes[static_cast<std::size_t>(total.id())].range.max,
            measured.analysis().nodes[static_cast<std::size_t>(total.id())].range.max);

  // A lookup on a hinted value reads as many bits as the hint needs.
  Builder bt;
  Value xt = bt.input("x", {2});
  bt.output(apply_table(
      xt, [](std::int64_t v) { return v & 1; }, "parity"));
  CompileOptions wide;
  wide.range_hints[xt.id()] = {0, 63};
  const CompiledCircuit table = compile(bt.build(), one_input_set(rng, {2}, 0, 3, 5), wide);
  EXPECT_EQ(table.statistics().max_table_bits, 6u);

  CompileOptions bad;
  bad.range_hints[static_cast<NodeId>(p.nodes.size())] = {0, 1};
  EXPECT_THROW(compile(p, inputset, bad), InvalidArgument);
  CompileOptions reversed;
  reversed.range_hints[total.id()] = {5, 4};
  EXPECT_THROW(compile(p, inputset, reversed), InvalidArgument);
}

TEST(Compiler, ErrorsNameTheOperationAndTheFix) {
  Builder b;
  Value x = b.input("x", {4});
  b.output(apply_table(
      matmul(x, Tensor::matrix({{100}, {100}, {100}, {100}})), [](std::int64_t v) { return v; },
      "wide"));
  std::mt19937_64 rng(4);
  const auto inputset = one_input_set(rng, {4}, 0, 255, 10);
  try {
    compile(b.build(), inputset);
    FAIL() << "expected a CompileError";
  } catch (const CompileError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("table_lookup"), std::string::npos) << m;
    EXPECT_NE(m.find("round_bit_pattern"), std::string::npos) << m;
  }
  EXPECT_THROW(compile(b.build(), std::vector<std::vector<Tensor>>{}), InvalidArgument);
  EXPECT_THROW(compile(b.build(), one_input_set(rng, {5}, 0, 1, 3)), InvalidArgument);
}

TEST(Compiler, OutOfRangeValuesAndMismatchedKeysAreReported) {
  std::mt19937_64 rng(5);
  const Program p = identity_table_program(4, 4);
  const CompiledCircuit c = compile(p, one_input_set(rng, {4}, 0, 15, 10));
  const Tensor too_big({1, 4}, {1, 2, 3, 16});
  EXPECT_THROW(c.evaluate(std::vector<Tensor>{too_big}, Mode::Clear), InvalidArgument);
  const KeySet& keys = keys_for(c);
  EXPECT_THROW(c.encrypt_run_decrypt(keys, std::vector<Tensor>{too_big}), InvalidArgument);
  EXPECT_THROW(c.evaluate(std::vector<Tensor>{Tensor({1, 3}, {1, 2, 3})}, Mode::Clear),
               InvalidArgument);
  // Keys of another circuit (other parameters).
  Builder b2;
  b2.output(b2.input("x", {4}) * 3);
  const CompiledCircuit leveled = compile(b2.build(), one_input_set(rng, {4}, 0, 15, 10));
  const Tensor ok({1, 4}, {1, 2, 3, 4});
  EXPECT_THROW(c.encrypt_run_decrypt(keys_for(leveled), std::vector<Tensor>{ok}),
               ParameterMismatch);
  EXPECT_THROW(parse_mode("fast"), InvalidArgument);
  EXPECT_EQ(parse_mode("disable"), Mode::Clear);
}

}  // namespace
}  // namespace torusml::circuit::testing
