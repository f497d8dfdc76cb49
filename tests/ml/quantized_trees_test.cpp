// Quantized tree ensembles: the quantized model equals the float one on grid inputs, the three
// modes (clear int64, simulation, real encryption with real keys) return identical integers for
// both split rules, 1 and 3 outputs, per-tree outputs and sums under encryption; the lowering's
// lookup counts, groups and declared ranges (sound on every grid input); serialization; every
// rejected argument.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

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
};

class TreeModesAgree : public ::testing::TestWithParam<Case> {};

TEST_P(TreeModesAgree, ClearSimulateAndExecuteReturnIdenticalResults) {
  const Case c = GetParam();
  std::mt19937_64 rng(c.trees * 101 + c.outputs * 11 + c.depth * 3 + c.bits);
  const Matrix x = random_data(rng, 40, 3);
  QuantizedTreeEnsemble q(random_forest(rng, c.trees, c.depth, x, c.outputs), x,
                          {c.bits, 6, c.rule, c.fhe_sum, c.group_bits});
  q.compile(x, {}, test_seed());
  const TreeLookupStatistics s = q.statistics();  // of the compiled circuit
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
  const Tensor batched[] = {qx};
  EXPECT_EQ(q.compiled_circuit().evaluate(batched, Mode::Clear)[0], clear);
}

INSTANTIATE_TEST_SUITE_P(Ensembles, TreeModesAgree,
                         ::testing::Values(Case{2, 1, 2, 6, SplitRule::LessEqual, false},
                                           Case{3, 3, 3, 5, SplitRule::Less, false},
                                           Case{3, 1, 3, 4, SplitRule::LessEqual, true},
                                           Case{2, 3, 2, 3, SplitRule::Less, true},
                                           Case{2, 2, 3, 4, SplitRule::LessEqual, true, 3},
                                           Case{2, 1, 3, 2, SplitRule::LessEqual, false, 5}));

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
    const Tensor batched[] = {grid};
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
  EXPECT_EQ(s.comparison_lookups, pairs.size());
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
  const QuantizedTreeEnsemble q(random_forest(rng, 3, 3, x, 2), x, {5, 7, SplitRule::Less, true});
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
  narrow.max_table_bits = 3;
  EXPECT_THROW(q.compile(x, narrow, test_seed()), CompileError);
}

}  // namespace
}  // namespace torusml::ml
