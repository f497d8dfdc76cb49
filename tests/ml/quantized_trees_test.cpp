// Quantized tree ensembles: the quantized model equals the float one on grid inputs, the three
// modes (clear int64, simulation, real encryption with real keys) return identical integers for
// both split rules, 1 and 3 outputs, per-tree outputs and sums under encryption, with inputs
// encrypted as one value or as two digits (every special case of the digit comparisons); the
// digit comparisons equal q > T for every threshold and input of every width; compile() keeps the
// cheaper encoding; the lowering's lookup counts, groups and declared ranges (sound on every grid
// input); serialization; every rejected argument.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/ml/quantized_trees.h"
#include "tree_test_util.h"

namespace torusml::ml {
namespace {

using circuit::Mode;
using circuit::Tensor;
using testing::random_data;
using testing::random_tree;
using testing::test_seed;

std::vector<DecisionTree> random_forest(std::mt19937_64& rng, std::size_t trees, unsigned depth,
                                        const Matrix& x, std::size_t outputs) {
  std::vector<DecisionTree> out;
  for (std::size_t t = 0; t < trees; ++t) out.push_back(random_tree(rng, depth, x, outputs, 0.2));
  return out;
}

// Grid inputs (rows of quantized values) and their dequantized floats.
Tensor random_grid(std::mt19937_64& rng, std::size_t rows, std::size_t features, unsigned bits) {
  std::vector<std::int64_t> v(rows * features);
  for (auto& e : v) e = static_cast<std::int64_t>(rng() % (std::uint64_t{1} << bits));
  return Tensor({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(features)}, v);
}

TEST(QuantizedTrees, GridInputsGiveTheFloatModelsDecisions) {
  std::mt19937_64 rng(31);
  const Matrix x = random_data(rng, 50, 4);
  for (SplitRule rule : {SplitRule::LessEqual, SplitRule::Less})
    for (unsigned bits : {2u, 6u}) {
      const auto trees = random_forest(rng, 4, 4, x, 2);
      const QuantizedTreeEnsemble q(trees, x, {bits, 8, rule, false});
      const Tensor grid = random_grid(rng, 200, 4, bits);
      Matrix xf(200, 4);
      for (std::size_t r = 0; r < 200; ++r)
        for (std::size_t j = 0; j < 4; ++j)
          xf(r, j) = q.input_quantizers()[j].dequantize(grid[r * 4 + j]);
      ASSERT_EQ(q.quantize_input(xf), grid);
      const Tensor out = q.integer_forward(grid);  // (200, 4, 2)
      for (std::size_t r = 0; r < 200; ++r)
        for (std::size_t t = 0; t < trees.size(); ++t) {
          const std::size_t leaf = testing::float_leaf(trees[t], xf.row(r), rule);
          for (std::size_t k = 0; k < 2; ++k)
            ASSERT_EQ(out[(r * trees.size() + t) * 2 + k],
                      q.leaf_quantizers()[k].quantize(trees[t].value(leaf, k)))
                << "sample " << r << " tree " << t;
        }
    }
}

TEST(QuantizedTrees, DequantizedOutputsApproximateTheFloatSum) {
  std::mt19937_64 rng(37);
  const Matrix x = random_data(rng, 60, 3);
  const auto trees = random_forest(rng, 3, 3, x, 2);
  for (bool fhe_sum : {false, true}) {
    const QuantizedTreeEnsemble q(trees, x, {8, 12, SplitRule::LessEqual, fhe_sum});
    const Tensor grid = random_grid(rng, 50, 3, 8);
    Matrix xf(50, 3);
    for (std::size_t i = 0; i < grid.size(); ++i)
      xf.values()[i] = q.input_quantizers()[i % 3].dequantize(grid[i]);
    const Matrix y = q.predict_raw(xf, Mode::Clear);
    for (std::size_t r = 0; r < 50; ++r)
      for (std::size_t k = 0; k < 2; ++k) {
        double expect = 0;
        for (const auto& t : trees)
          expect += t.value(testing::float_leaf(t, xf.row(r), SplitRule::LessEqual), k);
        EXPECT_NEAR(y(r, k), expect, 3 * q.leaf_quantizers()[k].scale());
      }
  }
}

struct Case {
  std::size_t trees, outputs;
  unsigned depth, bits;
  SplitRule rule;
  bool fhe_sum;
  unsigned group_bits = 0;
  TreeInputEncoding encoding = TreeInputEncoding::Auto;
};

class TreeModesAgree : public ::testing::TestWithParam<Case> {};

TEST_P(TreeModesAgree, ClearSimulateAndExecuteReturnIdenticalResults) {
  const Case c = GetParam();
  std::mt19937_64 rng(c.trees * 101 + c.outputs * 11 + c.depth * 3 + c.bits);
  const Matrix x = random_data(rng, 40, 3);
  QuantizedTreeEnsemble q(random_forest(rng, c.trees, c.depth, x, c.outputs), x,
                          {c.bits, 6, c.rule, c.fhe_sum, c.group_bits, c.encoding});
  q.compile(x, {}, test_seed());
  const TreeLookupStatistics s = q.statistics();  // of the compiled circuit
  if (c.encoding != TreeInputEncoding::Auto) {
    EXPECT_EQ(s.input_encoding, c.encoding);
  } else if (c.bits == 6) {
    // 6-bit comparison lookups are far dearer than 3-bit digit lookups or input bits.
    EXPECT_NE(s.input_encoding, TreeInputEncoding::Value);
  } else if (c.bits <= 2) {
    EXPECT_NE(s.input_encoding, TreeInputEncoding::Digits);  // 1-bit digits narrow nothing
  }
  if (s.input_encoding == TreeInputEncoding::Thermometer) {
    EXPECT_EQ(s.comparison_lookups, 0u);
    EXPECT_EQ(s.lookups_per_sample, s.leaf_lookups);
  }
  EXPECT_EQ(s.input_ciphertexts, encoded_input_width(3, c.bits, s.input_encoding));
  EXPECT_EQ(q.compiled_circuit().client_specification().inputs.at(0).shape.back(),
            static_cast<std::int64_t>(s.input_ciphertexts));
  if (c.group_bits != 0) {
    EXPECT_EQ(s.group_bits, std::max(c.group_bits, 2u));
  } else {
    EXPECT_GE(s.group_bits, 2u);
    EXPECT_LE(s.group_bits, std::max(c.bits, 2u));
  }
  EXPECT_EQ(q.compiled_circuit().statistics().pbs_count, s.lookups_per_sample);
  EXPECT_EQ(q.compiled_circuit().statistics().max_table_bits, s.precisions.rbegin()->first);

  // Unseen inputs, beyond the calibration range too.
  Matrix test = random_data(rng, 30, 3);
  for (double& v : test.values()) v *= 1.5;
  const Tensor qx = q.quantize_input(test);
  const Tensor clear = q.run_integer(qx, Mode::Clear);
  ASSERT_EQ(clear.shape(), (circuit::Shape{30, c.fhe_sum ? 1 : static_cast<std::int64_t>(c.trees),
                                           static_cast<std::int64_t>(c.outputs)}));
  EXPECT_EQ(q.run_integer(qx, Mode::Simulate, 3), clear);
  const Tensor few({6, 3},
                   std::vector<std::int64_t>(qx.values().begin(), qx.values().begin() + 18));
  EXPECT_EQ(q.run_integer(few, Mode::Execute), q.run_integer(few, Mode::Clear));
  const Tensor batched[] = {q.encode_input(qx)};
  EXPECT_EQ(q.compiled_circuit().evaluate(batched, Mode::Clear)[0], clear);
}

INSTANTIATE_TEST_SUITE_P(
    Ensembles, TreeModesAgree,
    ::testing::Values(Case{2, 1, 2, 6, SplitRule::LessEqual, false},
                      Case{3, 3, 3, 5, SplitRule::Less, false, 0, TreeInputEncoding::Digits},
                      Case{3, 1, 3, 4, SplitRule::LessEqual, true, 0, TreeInputEncoding::Digits},
                      Case{2, 3, 2, 3, SplitRule::Less, true},
                      Case{2, 2, 3, 4, SplitRule::LessEqual, true, 3, TreeInputEncoding::Value},
                      Case{2, 1, 3, 2, SplitRule::LessEqual, false, 5},
                      Case{3, 2, 3, 6, SplitRule::Less, false, 0, TreeInputEncoding::Thermometer},
                      Case{2, 1, 3, 5, SplitRule::LessEqual, true, 6,
                           TreeInputEncoding::Thermometer}));

// Every grid input of a small ensemble runs inside the compiled widths, although the circuit was
// compiled on three calibration rows only: the declared ranges are sound.
TEST(QuantizedTrees, DeclaredRangesCoverEveryGridInput) {
  std::mt19937_64 rng(41);
  const Matrix x = random_data(rng, 30, 2);
  for (bool fhe_sum : {false, true}) {
    const auto trees = random_forest(rng, 4, 4, x, 2);
    QuantizedTreeEnsemble q(trees, x, {3, 5, SplitRule::LessEqual, fhe_sum});
    Matrix few(3, 2);
    for (std::size_t i = 0; i < 6; ++i) few.values()[i] = x.values()[i];
    q.compile(few, {}, test_seed());
    std::vector<std::int64_t> all;
    for (std::int64_t a = 0; a < 8; ++a)
      for (std::int64_t b = 0; b < 8; ++b) all.insert(all.end(), {a, b});
    const Tensor grid({64, 2}, all);
    const Tensor batched[] = {q.encode_input(grid)};
    EXPECT_EQ(q.compiled_circuit().evaluate(batched, Mode::Clear)[0], q.integer_forward(grid));
    // The measured ranges alone (the synthetic inputs) reach the declared ones for the indices.
    const auto& program = q.program();
    const auto& analysis = q.compiled_circuit().analysis();
    for (std::size_t i = 0; i < program.nodes.size(); ++i) {
      if (program.nodes[i].op == circuit::OpKind::TableLookup) {
        EXPECT_LE(analysis.nodes[i].pbs_precision, q.statistics().group_bits);
      }
    }
  }
}

// One stump per threshold T in [0, q_max - 1] over one feature, leaves 0 (left) and 1 (right):
// tree t returns [q > t].
std::vector<IntegerTree> stumps(std::int64_t q_max) {
  std::vector<IntegerTree> trees;
  for (std::int64_t t = 0; t < q_max; ++t)
    trees.push_back({{0, -1, -1}, {t, 0, 0}, {1, -1, -1}, {2, -1, -1}, {0, 0, 1}, 1});
  return trees;
}

// For every width, every threshold and every input of the grid, the comparisons on two digits
// (with and without local sums, i.e. through a + b read by the group tables and through the
// c = [a + b >= 2] lookups) equal q > T in the clear semantics of the lowered program, and every
// value stays inside its declared range.
TEST(QuantizedTrees, DigitComparisonsEqualTheIntegerComparisonEverywhere) {
  for (unsigned n = 2; n <= 8; ++n) {
    const std::int64_t q_max = (std::int64_t{1} << n) - 1;
    const std::vector<IntegerTree> trees = stumps(q_max);
    for (bool sums : {true, false}) {
      const LoweredTrees lowered =
          lower_tree_ensemble(trees, 1, 1, {n, 0, false, TreeInputEncoding::Digits, sums});
      ASSERT_EQ(lowered.statistics.input_encoding, TreeInputEncoding::Digits);
      ASSERT_EQ(lowered.program.nodes.at(0).shape, (circuit::Shape{2}));
      for (std::int64_t q = 0; q <= q_max; ++q) {
        const Tensor inputs[] = {
            encode_tree_inputs(Tensor({1}, {q}), n, TreeInputEncoding::Digits)};
        ASSERT_EQ(inputs[0], Tensor({2}, {q >> (n / 2), q & ((std::int64_t{1} << (n / 2)) - 1)}));
        const std::vector<Tensor> out = circuit::evaluate_clear(
            lowered.program, inputs, [&](circuit::NodeId id, const Tensor& value) {
              const auto hint = lowered.range_hints.find(id);
              if (hint == lowered.range_hints.end()) return;
              for (std::int64_t v : value.values()) {
                ASSERT_GE(v, hint->second.min) << "node " << id << ", q = " << q;
                ASSERT_LE(v, hint->second.max) << "node " << id << ", q = " << q;
              }
            });
        for (std::int64_t t = 0; t < q_max; ++t)
          ASSERT_EQ(out.at(0)[static_cast<std::size_t>(t)], q > t ? 1 : 0)
              << n << " bits, q = " << q << ", T = " << t << (sums ? ", local sums" : "");
      }
      if (n == 6) {
        // 3 + 3 bits: [h > u] for u in [0, 6] (the thresholds with T_l = 7 need nothing else,
        // the others' a are sums of two of them) and [l > u] for u in [0, 6]: 14 digit lookups;
        // the 56 thresholds with T_l < 7 need a c lookup each unless their groups read a + b.
        EXPECT_EQ(lowered.statistics.input_lookups, 14u);
        EXPECT_EQ(lowered.statistics.comparisons, 63u);
        EXPECT_EQ(lowered.statistics.summed_comparisons, sums ? 56u : 0u);
        EXPECT_EQ(lowered.statistics.comparison_lookups, sums ? 14u : 70u);
        EXPECT_EQ(lowered.max_lookup_bits, 3u);  // the high digits (the indices fit 2 bits)
      }
    }
  }
}

// The digit lookups of one 6-bit feature (q = 8 h + l) for a few thresholds T = 8 T_h + T_l:
// T_l = 7 needs only [h > T_h]; T_h = 0 and T_h = 7 read a from [h > 0] and [h > 6]; a middle
// T_h reads a from its own lookup 2 [h > T_h] + [h == T_h], or from [h > T_h] + [h > T_h - 1]
// when those exist anyway; [l > T_l] is shared by the thresholds with the same T_l. (Stumps, so
// every comparison is read as a + b by its group: no c lookup.)
TEST(QuantizedTrees, DigitLookupsAreSharedAndSpecialCasesNeedFewer) {
  const auto input_lookups = [](std::vector<std::int64_t> thresholds) {
    std::vector<IntegerTree> trees;
    for (std::int64_t t : thresholds)
      trees.push_back({{0, -1, -1}, {t, 0, 0}, {1, -1, -1}, {2, -1, -1}, {0, 0, 1}, 1});
    const LoweredTrees lowered =
        lower_tree_ensemble(trees, 1, 1, {6, 0, false, TreeInputEncoding::Digits, true});
    for (std::int64_t q = 0; q < 64; ++q) {
      const Tensor inputs[] = {encode_tree_inputs(Tensor({1}, {q}), 6, TreeInputEncoding::Digits)};
      const Tensor out = circuit::evaluate_clear(lowered.program, inputs).at(0);
      for (std::size_t i = 0; i < thresholds.size(); ++i)
        EXPECT_EQ(out[i], q > thresholds[i] ? 1 : 0) << "q = " << q << ", T = " << thresholds[i];
    }
    EXPECT_EQ(lowered.statistics.comparison_lookups, lowered.statistics.input_lookups);
    return lowered.statistics.input_lookups;
  };
  EXPECT_EQ(input_lookups({15}), 1u);          // T_l = 7: [h > 1]
  EXPECT_EQ(input_lookups({15, 23, 31}), 3u);  // [h > 1], [h > 2], [h > 3]
  EXPECT_EQ(input_lookups({17}), 2u);          // 2 [h > 2] + [h == 2], [l > 1]
  EXPECT_EQ(input_lookups({17, 25}), 3u);      // two a lookups, one shared [l > 1]
  // With [h > 1], [h > 2], [h > 3] there anyway, a for T_h = 2 and 3 are sums of them.
  EXPECT_EQ(input_lookups({15, 23, 31, 17, 26}), 5u);  // + [l > 1], [l > 2]
  EXPECT_EQ(input_lookups({1, 57}), 3u);               // [h > 0], [h > 6], [l > 1]
  EXPECT_EQ(input_lookups({1, 57, 7, 55}), 3u);        // T_l = 7 at T_h = 0, 6: the same ones
}

// Thresholds hitting every special case of the digits (n_bits 4: q = 4 h + l, h and l in
// [0, 3]): T_h = 0 with T_l = 0, 1 and 3 (max), T_h = 3 (max) with T_l = 0 and 2, middle T_h with
// T_l = 1 and 3; both split rules, per-tree outputs and sums under encryption. Clear, simulation
// and the compiled circuit agree on the whole grid, real encryption on rows at the digits' edges
// (a few per model: CI time).
TEST(QuantizedTrees, DigitSpecialCasesRunUnderEncryption) {
  const std::vector<std::int64_t> thresholds{0, 12, 3, 14, 5, 1, 7, 9};
  Matrix x(16, 2);
  for (std::size_t r = 0; r < 16; ++r) {
    x(r, 0) = static_cast<double>(r);
    x(r, 1) = static_cast<double>(15 - r);
  }
  std::mt19937_64 rng(61);
  // (fhe_sum, rule): (false, <=), (true, <); TreeModesAgree has the other two with 2 digits.
  for (const auto& [rule, fhe_sum] :
       {std::pair{SplitRule::LessEqual, false}, std::pair{SplitRule::Less, true}}) {
    std::vector<DecisionTree> trees;
    std::size_t next = fhe_sum ? 3 : 0;
    for (std::size_t t = 0; t < 4; ++t) {
      DecisionTree tree = random_tree(rng, 3, x, 2);
      for (std::size_t i = 0; i < tree.feature.size(); ++i)
        if (tree.left[i] != -1) {
          tree.feature[i] = static_cast<std::int64_t>(next % 2);
          tree.threshold[i] = static_cast<double>(thresholds[next++ % thresholds.size()]) + 0.5;
        }
      trees.push_back(tree);
    }
    QuantizedTreeEnsemble q(trees, x, {4, 5, rule, fhe_sum, 0, TreeInputEncoding::Digits});
    for (const UniformQuantizer& quantizer : q.input_quantizers())
      for (std::int64_t v = 0; v < 16; ++v)
        ASSERT_EQ(quantizer.quantize(static_cast<double>(v)), v);  // the grid is 0..15
    std::set<std::pair<std::int64_t, std::int64_t>> digits;        // (T_h, T_l) after pruning
    for (const IntegerTree& t : q.integer_trees())
      for (std::size_t i = 0; i < t.size(); ++i)
        if (!t.is_leaf(i)) digits.insert({t.threshold[i] >> 2, t.threshold[i] & 3});
    for (const auto& expected : {std::pair<std::int64_t, std::int64_t>{0, 0},
                                 {0, 1},
                                 {0, 3},
                                 {3, 0},
                                 {3, 2},
                                 {1, 1},
                                 {1, 3},
                                 {2, 1}})
      EXPECT_TRUE(digits.contains(expected)) << expected.first << ", " << expected.second;

    q.compile(x, {}, test_seed());
    ASSERT_EQ(q.statistics().input_encoding, TreeInputEncoding::Digits);
    EXPECT_LE(q.compiled_circuit().statistics().max_table_bits, q.statistics().group_bits);
    std::vector<std::int64_t> all;
    for (std::int64_t a = 0; a < 16; ++a)
      for (std::int64_t b = 0; b < 16; ++b) all.insert(all.end(), {a, b});
    const Tensor grid({256, 2}, all);
    const Tensor clear = q.run_integer(grid, Mode::Clear);
    EXPECT_EQ(q.run_integer(grid, Mode::Simulate, 5), clear);
    const Tensor encoded[] = {q.encode_input(grid)};
    EXPECT_EQ(q.compiled_circuit().evaluate(encoded, Mode::Clear)[0], clear);
    const Tensor edges = fhe_sum ? Tensor({4, 2}, {0, 15, 3, 12, 12, 13, 15, 0})
                                 : Tensor({4, 2}, {4, 4, 13, 3, 5, 9, 14, 7});
    EXPECT_EQ(q.run_integer(edges, Mode::Execute), q.run_integer(edges, Mode::Clear));
  }
}

// compile() keeps the encoding (and group width) of lowest estimated cost, whichever it is: the
// lookups plus the client's encryption of the inputs (the thermometer code needs no comparison
// lookup but 15 input ciphertexts per feature at 4 bits; the digits need more, narrower lookups).
TEST(QuantizedTrees, CompileKeepsTheCheaperInputEncoding) {
  std::mt19937_64 rng(67);
  const Matrix x = random_data(rng, 40, 3);
  const auto trees = random_forest(rng, 3, 3, x, 1);
  const auto compile = [&](TreeInputEncoding encoding) {
    QuantizedTreeEnsemble q(trees, x, {4, 6, SplitRule::LessEqual, false, 0, encoding});
    q.compile(x, {}, test_seed());
    const circuit::CircuitStatistics& s = q.compiled_circuit().statistics();
    EXPECT_EQ(s.pbs_count, q.statistics().lookups_per_sample);
    const double cost = static_cast<double>(s.pbs_count) * s.estimated_batched_pbs_seconds +
                        circuit::estimate_input_encryption_seconds(
                            q.compiled_circuit().parameters(),
                            static_cast<double>(q.statistics().input_ciphertexts));
    return std::tuple{cost, q.statistics().input_encoding, s.max_table_bits};
  };
  const auto [value, value_encoding, value_bits] = compile(TreeInputEncoding::Value);
  const auto [digits, digits_encoding, digits_bits] = compile(TreeInputEncoding::Digits);
  const auto [unary, unary_encoding, unary_bits] = compile(TreeInputEncoding::Thermometer);
  const auto [chosen, chosen_encoding, chosen_bits] = compile(TreeInputEncoding::Auto);
  EXPECT_EQ(value_encoding, TreeInputEncoding::Value);
  EXPECT_EQ(value_bits, 4u);
  EXPECT_EQ(digits_encoding, TreeInputEncoding::Digits);
  EXPECT_LT(digits_bits, 4u);
  EXPECT_EQ(unary_encoding, TreeInputEncoding::Thermometer);
  EXPECT_NE(value, digits);
  EXPECT_EQ(chosen, std::min({value, digits, unary}));
  EXPECT_EQ(chosen_encoding, chosen == value   ? TreeInputEncoding::Value
                             : chosen == unary ? TreeInputEncoding::Thermometer
                                               : TreeInputEncoding::Digits);
}

// The thermometer code: every comparison of every width is the input bit [q > T] itself (no
// lookup), and the leaf lookups alone select the leaves.
TEST(QuantizedTrees, ThermometerComparisonsAreInputBits) {
  for (unsigned n = 1; n <= 8; ++n) {
    const std::int64_t q_max = (std::int64_t{1} << n) - 1;
    const std::vector<IntegerTree> trees = stumps(q_max);
    const LoweredTrees lowered =
        lower_tree_ensemble(trees, 1, 1, {n, 0, false, TreeInputEncoding::Thermometer, true});
    EXPECT_EQ(lowered.statistics.comparison_lookups, 0u);
    EXPECT_EQ(lowered.statistics.input_lookups, 0u);
    EXPECT_EQ(lowered.statistics.input_ciphertexts, static_cast<std::size_t>(q_max));
    EXPECT_EQ(lowered.statistics.lookups_per_sample, lowered.statistics.leaf_lookups);
    ASSERT_EQ(lowered.program.nodes.at(0).shape, (circuit::Shape{q_max}));
    for (std::int64_t q = 0; q <= q_max; ++q) {
      const Tensor inputs[] = {
          encode_tree_inputs(Tensor({1}, {q}), n, TreeInputEncoding::Thermometer)};
      for (std::int64_t t = 0; t < q_max; ++t)
        ASSERT_EQ(inputs[0][static_cast<std::size_t>(t)], q > t ? 1 : 0);
      const Tensor out = circuit::evaluate_clear(lowered.program, inputs).at(0);
      for (std::int64_t t = 0; t < q_max; ++t)
        ASSERT_EQ(out[static_cast<std::size_t>(t)], q > t ? 1 : 0) << n << " bits, q = " << q;
    }
  }
  // Rows of several features: feature j's bits at [j (2^n - 1), (j + 1) (2^n - 1)).
  const Tensor encoded =
      encode_tree_inputs(Tensor({2, 2}, {0, 3, 2, 1}), 2, TreeInputEncoding::Thermometer);
  EXPECT_EQ(encoded, Tensor({2, 6}, {0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0}));
}

TEST(QuantizedTrees, LookupCountsAndGroups) {
  std::mt19937_64 rng(43);
  const Matrix x = random_data(rng, 200, 6);
  // A full depth-5 tree at 6 bits: groups at depth 3 ((3 + 1) * 2^3 <= 2^6), 8 of them.
  const DecisionTree deep = random_tree(rng, 5, x, 1);
  const QuantizedTreeEnsemble one(std::vector<DecisionTree>{deep}, x, {6, 6});
  const TreeLookupStatistics s = one.statistics();
  EXPECT_EQ(s.reference_lookups_per_sample, 63u);
  EXPECT_EQ(s.group_bits, 6u);
  std::size_t internal = 0;
  for (std::size_t i = 0; i < one.integer_trees()[0].size(); ++i)
    internal += !one.integer_trees()[0].is_leaf(i);
  std::set<std::pair<std::int32_t, std::int64_t>> pairs;
  for (std::size_t i = 0; i < one.integer_trees()[0].size(); ++i)
    if (!one.integer_trees()[0].is_leaf(i))
      pairs.insert({one.integer_trees()[0].feature[i], one.integer_trees()[0].threshold[i]});
  EXPECT_EQ(s.comparison_lookups, pairs.size());  // before compile: 1 input digit
  EXPECT_EQ(s.comparisons, pairs.size());
  EXPECT_EQ(s.input_lookups, pairs.size());
  EXPECT_EQ(s.input_encoding, TreeInputEncoding::Value);
  EXPECT_EQ(s.pruned_nodes, 63u - one.integer_trees()[0].size());
  if (s.pruned_nodes == 0) {
    EXPECT_EQ(s.groups, 8u);
  }
  EXPECT_EQ(s.leaf_lookups, s.groups);  // one output: one lookup per group
  EXPECT_EQ(s.lookups_per_sample, s.comparison_lookups + s.leaf_lookups);
  std::size_t total = 0;
  for (const auto& [bits, count] : s.precisions) {
    EXPECT_LE(bits, 6u);
    total += count;
  }
  EXPECT_EQ(total, s.lookups_per_sample);
  EXPECT_LE(s.lookups_per_sample, internal + 8);  // the reference method: 63

  // Stumps with 3 outputs: a group of 2 leaves uses 2 indicator lookups, not 3.
  DecisionTree stump;
  stump.feature = {1, -1, -1};
  stump.threshold = {x(0, 1), -2, -2};
  stump.left = {1, -1, -1};
  stump.right = {2, -1, -1};
  stump.value = Matrix::from_rows({{0, 0, 0}, {0.1, 0.5, 0.9}, {0.8, 0.2, 0.3}});
  const QuantizedTreeEnsemble stumps(std::vector<DecisionTree>{stump}, x, {6, 6});
  EXPECT_EQ(stumps.statistics().comparison_lookups, 1u);
  EXPECT_EQ(stumps.statistics().leaf_lookups, 2u);

  // XGBoost-style multi-class: each tree feeds one output (zeros elsewhere): one lookup per group,
  // and trees sharing a split share its comparison.
  std::vector<DecisionTree> boosted;
  for (std::size_t t = 0; t < 6; ++t) {
    DecisionTree tree = random_tree(rng, 2, x, 3, 0.0, {t % 3});
    tree.feature[0] = 0;
    tree.threshold[0] = x(5, 0);
    boosted.push_back(tree);
  }
  const QuantizedTreeEnsemble b(boosted, x, {6, 6, SplitRule::Less, true});
  EXPECT_EQ(b.statistics().leaf_lookups, b.statistics().groups);
  EXPECT_LE(b.statistics().comparison_lookups, 6u * 2 + 1);
  EXPECT_EQ(b.statistics().reference_lookups_per_sample, 6u * 7);
}

TEST(QuantizedTrees, ConstantTreesNeedNoLookup) {
  std::mt19937_64 rng(47);
  const Matrix x = random_data(rng, 20, 2);
  DecisionTree leaf;
  leaf.feature = {-1};
  leaf.threshold = {-2};
  leaf.left = {-1};
  leaf.right = {-1};
  leaf.value = Matrix::from_rows({{0.25, 0.0}});
  DecisionTree same = random_tree(rng, 2, x, 2);  // every leaf the same values: merged
  for (std::size_t i = 0; i < same.value.rows(); ++i) {
    same.value(i, 0) = 0.5;
    same.value(i, 1) = 1.0;
  }
  QuantizedTreeEnsemble q(std::vector<DecisionTree>{leaf, same}, x, {6, 6});
  EXPECT_EQ(q.statistics().lookups_per_sample, 0u);
  EXPECT_EQ(q.statistics().pruned_nodes, same.feature.size() - 1);
  q.compile(x, {}, test_seed());
  EXPECT_FALSE(q.compiled_circuit().parameters().uses_pbs);
  const Matrix y = q.predict_raw(x, Mode::Execute);
  for (std::size_t r = 0; r < x.rows(); ++r) {
    EXPECT_NEAR(y(r, 0), 0.75, 1e-9);
    EXPECT_NEAR(y(r, 1), 1.0, 1e-9);
  }
}

TEST(QuantizedTrees, SerializationRoundTrips) {
  std::mt19937_64 rng(53);
  const Matrix x = random_data(rng, 40, 3);
  const QuantizedTreeEnsemble q(random_forest(rng, 3, 3, x, 2), x,
                                {5, 7, SplitRule::Less, true, 0, TreeInputEncoding::Thermometer});
  const std::vector<std::uint8_t> bytes = q.serialize();
  const QuantizedTreeEnsemble r = QuantizedTreeEnsemble::deserialize(bytes);
  EXPECT_EQ(r.options(), q.options());
  EXPECT_EQ(r.input_quantizers(), q.input_quantizers());
  EXPECT_EQ(r.leaf_quantizers(), q.leaf_quantizers());
  EXPECT_EQ(r.integer_trees(), q.integer_trees());
  EXPECT_EQ(r.statistics(), q.statistics());
  EXPECT_FALSE(r.is_compiled());
  EXPECT_EQ(r.serialize(), bytes);
  const Tensor grid = random_grid(rng, 20, 3, 5);
  EXPECT_EQ(r.integer_forward(grid), q.integer_forward(grid));
  EXPECT_EQ(r.statistics().input_encoding, TreeInputEncoding::Thermometer);

  // Version 1 (no input encoding byte) still loads, with the encoding chosen at compile.
  std::vector<std::uint8_t> v1(bytes.begin(), bytes.end() - 8);
  v1.erase(v1.begin() + 17);  // magic (8), version (4), 5 option bytes, then the input encoding
  v1[8] = 1;
  const std::uint64_t sum = fnv1a64(v1);
  for (int i = 0; i < 8; ++i) v1.push_back(static_cast<std::uint8_t>(sum >> (8 * i)));
  const QuantizedTreeEnsemble old = QuantizedTreeEnsemble::deserialize(v1);
  EXPECT_EQ(old.options().input_encoding, TreeInputEncoding::Auto);
  EXPECT_EQ(old.integer_trees(), q.integer_trees());

  std::vector<std::uint8_t> damaged = bytes;
  damaged[damaged.size() / 2] ^= 1;
  EXPECT_THROW(QuantizedTreeEnsemble::deserialize(damaged), SerializationError);
  EXPECT_THROW(QuantizedTreeEnsemble::deserialize(std::span(bytes).first(bytes.size() - 9)),
               SerializationError);
  EXPECT_THROW(QuantizedTreeEnsemble::deserialize(std::span(bytes).first(4)), SerializationError);
  EXPECT_THROW(QuantizedTreeEnsemble::deserialize(std::vector<std::uint8_t>{}), SerializationError);
}

TEST(QuantizedTrees, RejectsInvalidArguments) {
  std::mt19937_64 rng(59);
  const Matrix x = random_data(rng, 20, 3);
  const auto trees = random_forest(rng, 2, 2, x, 1);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {0, 6}), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {9, 6}), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {6, 0}), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {6, 17}), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {6, 6, static_cast<SplitRule>(7)}), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {6, 6, SplitRule::Less, false, 1}), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, x, {6, 6, SplitRule::Less, false, 11}),
               InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(
                   trees, x, {6, 6, SplitRule::Less, false, 0, static_cast<TreeInputEncoding>(4)}),
               InvalidArgument);
  EXPECT_THROW(
      QuantizedTreeEnsemble(trees, x, {1, 6, SplitRule::Less, false, 0, TreeInputEncoding::Digits}),
      InvalidArgument);
  EXPECT_THROW(parse_tree_input_encoding("unary"), InvalidArgument);
  EXPECT_EQ(parse_tree_input_encoding("thermometer"), TreeInputEncoding::Thermometer);
  EXPECT_THROW(QuantizedTreeEnsemble(std::vector<DecisionTree>{}, x), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, Matrix(0, 3)), InvalidArgument);
  Matrix nan = x;
  nan(2, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(QuantizedTreeEnsemble(trees, nan), InvalidArgument);
  std::vector<DecisionTree> mixed = trees;
  mixed.push_back(random_tree(rng, 2, x, 2));  // another output count
  EXPECT_THROW(QuantizedTreeEnsemble(mixed, x), InvalidArgument);
  EXPECT_THROW(QuantizedTreeEnsemble(trees, random_data(rng, 10, 1)),  // too few features
               InvalidArgument);

  QuantizedTreeEnsemble q(trees, x);
  EXPECT_FALSE(q.is_compiled());
  EXPECT_EQ(q.shared_circuit(), nullptr);
  EXPECT_THROW(q.predict_raw(x, Mode::Simulate), InvalidArgument);
  EXPECT_THROW(q.predict_raw(x, Mode::Execute), InvalidArgument);
  EXPECT_THROW(q.compiled_circuit(), InvalidArgument);
  EXPECT_THROW(q.keys(), InvalidArgument);
  EXPECT_NO_THROW(q.predict_raw(x, Mode::Clear));
  EXPECT_THROW(q.quantize_input(random_data(rng, 2, 4)), InvalidArgument);
  EXPECT_THROW(q.quantize_input(nan), InvalidArgument);
  EXPECT_THROW(q.quantize_input(Matrix(0, 3)), InvalidArgument);
  EXPECT_THROW(q.integer_forward(Tensor({1, 3}, {0, 64, 0})), InvalidArgument);
  EXPECT_THROW(q.integer_forward(Tensor({1, 3}, {0, -1, 0})), InvalidArgument);
  EXPECT_THROW(q.integer_forward(Tensor({3}, {0, 1, 0})), InvalidArgument);
  EXPECT_THROW(q.dequantize_output(Tensor({1, 1}, {0})), InvalidArgument);
  EXPECT_THROW(q.dequantize_output(Tensor({1, 3, 1}, {0, 0, 0})), InvalidArgument);
  EXPECT_NO_THROW(q.dequantize_output(Tensor({1, 1, 1}, {0})));
  EXPECT_THROW(q.compile(nan), InvalidArgument);
  circuit::CompileOptions narrow;
  narrow.max_table_bits = 1;  // even the 2-bit group indices are too wide
  EXPECT_THROW(q.compile(x, narrow, test_seed()), CompileError);
  narrow.max_table_bits = 5;  // 6-bit comparisons on one digit
  QuantizedTreeEnsemble one_digit(trees, x,
                                  {6, 6, SplitRule::LessEqual, false, 0, TreeInputEncoding::Value});
  EXPECT_THROW(one_digit.compile(x, narrow, test_seed()), CompileError);
}

}  // namespace
}  // namespace torusml::ml
