// Trees on the quantized grid: the integer threshold of every split is exact (both split rules,
// thresholds on and between grid points, beyond the data), decided splits and constant subtrees
// are pruned, and malformed trees are rejected with the node at fault.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "torusml/common/error.h"
#include "tree_test_util.h"

namespace torusml::ml {
namespace {

using testing::random_data;
using testing::random_tree;

TEST(TreeModel, IntegerThresholdsAreExactOnTheGrid) {
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    const unsigned bits = 1 + static_cast<unsigned>(rng() % 8);
    const double lo = std::uniform_real_distribution<double>(-50, 50)(rng);
    const double width = std::exp(std::uniform_real_distribution<double>(-8, 5)(rng));
    const UniformQuantizer q = UniformQuantizer::from_range(lo, lo + width, {bits, false, false});
    // Thresholds between grid points, exactly on them, and far outside.
    std::vector<double> thresholds = {lo - 1e9, lo + width + 1e9, -1e300, 1e300};
    for (int i = 0; i < 10; ++i) {
      thresholds.push_back(std::uniform_real_distribution<double>(lo - width, lo + 2 * width)(rng));
      thresholds.push_back(q.dequantize(static_cast<std::int64_t>(rng() % (q.q_max() + 3)) - 1));
    }
    for (double t : thresholds)
      for (SplitRule rule : {SplitRule::LessEqual, SplitRule::Less}) {
        const std::int64_t big_t = integer_threshold(q, t, rule);
        ASSERT_GE(big_t, -1);
        ASSERT_LE(big_t, q.q_max());
        for (std::int64_t v = 0; v <= q.q_max(); ++v) {
          const double d = q.dequantize(v);
          const bool left = rule == SplitRule::LessEqual ? d <= t : d < t;
          ASSERT_EQ(v <= big_t, left) << "q=" << v << " t=" << t << " " << q.to_string();
        }
      }
  }
  // A threshold exactly on grid point 5: <= keeps 5 on the left, < sends it right.
  const UniformQuantizer q(QuantizerOptions{4, false, false}, 0.5, 3);
  EXPECT_EQ(integer_threshold(q, q.dequantize(5), SplitRule::LessEqual), 5);
  EXPECT_EQ(integer_threshold(q, q.dequantize(5), SplitRule::Less), 4);
  EXPECT_EQ(integer_threshold(q, -100.0, SplitRule::LessEqual), -1);
  EXPECT_EQ(integer_threshold(q, 100.0, SplitRule::Less), 15);
}

// A stump x0 <= a whose left child repeats the split on x0 at a larger threshold (implied), a
// split beyond the data (always left), and two sibling leaves with equal values (constant).
TEST(TreeModel, DecidedSplitsAndConstantSubtreesArePruned) {
  Matrix x(11, 2);
  for (std::size_t r = 0; r < 11; ++r) {
    x(r, 0) = static_cast<double>(r);       // 0 .. 10
    x(r, 1) = static_cast<double>(r) / 10;  // 0 .. 1
  }
  const std::vector<UniformQuantizer> quantizers = {
      UniformQuantizer::calibrate(std::vector<double>{0, 10}, {4, false, false}),
      UniformQuantizer::calibrate(std::vector<double>{0, 1}, {4, false, false})};
  DecisionTree t;
  //           0: x0 <= 4
  //     1: x0 <= 7 (implied)         2: x1 <= 100 (beyond the data: always left)
  //   3: x1 <= 0.5     4: leaf      5: x1 <= 0.3      6: leaf
  //  7: leaf 8: leaf              9: leaf 10: leaf (9 and 10 equal)
  t.feature = {0, 0, 1, 1, -2, 1, -2, -2, -2, -2, -2};
  t.threshold = {4, 7, 100, 0.5, -2, 0.3, -2, -2, -2, -2, -2};
  t.left = {1, 3, 5, 7, -1, 9, -1, -1, -1, -1, -1};
  t.right = {2, 4, 6, 8, -1, 10, -1, -1, -1, -1, -1};
  t.value = Matrix(11, 1);
  t.value(4, 0) = 4;
  t.value(6, 0) = 6;
  t.value(7, 0) = 7;
  t.value(8, 0) = 8;
  t.value(9, 0) = 9;
  t.value(10, 0) = 9;
  validate_tree(t, 2, 1, 0);
  std::vector<std::size_t> origin;
  IntegerTree it = to_integer_tree(t, quantizers, SplitRule::LessEqual, origin);
  // Nodes 1 (implied), 2 (always left), 4 and 6 (unreachable) are gone: 0, 3, 7, 8, 5, 9, 10.
  ASSERT_EQ(it.size(), 7u);
  EXPECT_EQ(origin, (std::vector<std::size_t>{0, 3, 7, 8, 5, 9, 10}));
  for (std::size_t i = 0; i < it.size(); ++i)
    if (!it.is_leaf(i)) {
      EXPECT_GE(it.threshold[i], 0);
      EXPECT_LT(it.threshold[i], 15);
    }
  EXPECT_EQ(prune_decided_nodes(it, 15).size(), 7u);  // idempotent
  it.value.assign(it.size(), 0);
  for (std::size_t i = 0; i < it.size(); ++i)
    if (it.is_leaf(i)) it.value[i] = static_cast<std::int64_t>(t.value(origin[i], 0));
  EXPECT_EQ(merge_constant_subtrees(it), 2u);  // node 5 and its equal leaves become one leaf
  EXPECT_EQ(it.size(), 5u);
  EXPECT_EQ(merge_constant_subtrees(it), 0u);
  // Same predictions on the whole grid.
  for (std::int64_t a = 0; a <= 15; ++a)
    for (std::int64_t b = 0; b <= 15; ++b) {
      const std::vector<double> xf = {quantizers[0].dequantize(a), quantizers[1].dequantize(b)};
      const std::vector<std::int64_t> q = {a, b};
      EXPECT_EQ(
          it.leaf_value(it.leaf_of(q))[0],
          static_cast<std::int64_t>(t.value(testing::float_leaf(t, xf, SplitRule::LessEqual), 0)));
    }
}

TEST(TreeModel, SplitRuleParsing) {
  EXPECT_EQ(parse_split_rule("<="), SplitRule::LessEqual);
  EXPECT_EQ(parse_split_rule("<"), SplitRule::Less);
  EXPECT_STREQ(to_string(SplitRule::Less), "<");
  EXPECT_THROW(parse_split_rule(">"), InvalidArgument);
}

void expect_rejected(const DecisionTree& t, const std::string& fragment) {
  try {
    validate_tree(t, 2, 1, 3);
    ADD_FAILURE() << "expected InvalidArgument mentioning '" << fragment << "'";
  } catch (const InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
    EXPECT_NE(m.find("tree 3"), std::string::npos) << m;
  }
}

TEST(TreeModel, MalformedTreesAreRejected) {
  DecisionTree ok;
  ok.feature = {0, -1, -1};
  ok.threshold = {0.5, -2, -2};
  ok.left = {1, -1, -1};
  ok.right = {2, -1, -1};
  ok.value = Matrix(3, 1);
  EXPECT_NO_THROW(validate_tree(ok, 2, 1, 3));

  const auto with = [&](const std::function<void(DecisionTree&)>& change) {
    DecisionTree t = ok;
    change(t);
    return t;
  };
  expect_rejected(with([](DecisionTree& t) {
                    t.feature.clear();
                    t.threshold.clear();
                    t.left.clear();
                    t.right.clear();
                    t.value = Matrix(0, 1);
                  }),
                  "no node");
  expect_rejected(with([](DecisionTree& t) { t.left.pop_back(); }), "one entry per node");
  expect_rejected(with([](DecisionTree& t) { t.threshold.pop_back(); }), "'threshold'");
  expect_rejected(with([](DecisionTree& t) { t.value = Matrix(3, 2); }),
                  "'value' has shape (3, 2)");
  expect_rejected(with([](DecisionTree& t) { t.right[0] = -1; }), "exactly one child");
  expect_rejected(with([](DecisionTree& t) { t.feature[0] = 2; }), "feature 2");
  expect_rejected(with([](DecisionTree& t) { t.feature[1] = 1; }), "negative feature");
  expect_rejected(with([](DecisionTree& t) { t.left[0] = 3; }), "child index 3");
  expect_rejected(with([](DecisionTree& t) { t.left[0] = 0; }), "child index 0");
  expect_rejected(with([](DecisionTree& t) { t.right[0] = 1; }), "reached twice");  // shared
  // A cycle 1 -> 2 -> 1 below the root.
  expect_rejected(with([](DecisionTree& t) {
                    t.feature = {0, 0, 0, -1};
                    t.threshold = {0.5, 0.5, 0.5, -2};
                    t.left = {1, 2, 1, -1};
                    t.right = {3, 3, 3, -1};
                    t.value = Matrix(4, 1);
                  }),
                  "reached twice");
  expect_rejected(with([](DecisionTree& t) {
                    t.feature.push_back(-1);
                    t.threshold.push_back(0);
                    t.left.push_back(-1);
                    t.right.push_back(-1);
                    t.value = Matrix(4, 1);
                  }),
                  "not reachable");
  expect_rejected(
      with([](DecisionTree& t) { t.threshold[0] = std::numeric_limits<double>::quiet_NaN(); }),
      "NaN or infinite");
  expect_rejected(
      with([](DecisionTree& t) { t.value(2, 0) = std::numeric_limits<double>::infinity(); }),
      "leaf value");
  // NaN in an internal node's value row is ignored (only leaves are read).
  EXPECT_NO_THROW(validate_tree(
      with([](DecisionTree& t) { t.value(0, 0) = std::numeric_limits<double>::quiet_NaN(); }), 2, 1,
      3));
}

TEST(TreeModel, RandomTreesMapToTheGridExactly) {
  std::mt19937_64 rng(23);
  const Matrix x = random_data(rng, 30, 4);
  for (int trial = 0; trial < 20; ++trial) {
    const unsigned bits = 1 + static_cast<unsigned>(trial % 6);
    const SplitRule rule = trial % 2 ? SplitRule::Less : SplitRule::LessEqual;
    std::vector<UniformQuantizer> quantizers;
    for (std::size_t j = 0; j < x.cols(); ++j) {
      std::vector<double> col;
      for (std::size_t r = 0; r < x.rows(); ++r) col.push_back(x(r, j));
      quantizers.push_back(UniformQuantizer::calibrate(col, {bits, false, false}));
    }
    const DecisionTree t = random_tree(rng, 5, x, 1, 0.2);
    std::vector<std::size_t> origin;
    const IntegerTree it = to_integer_tree(t, quantizers, rule, origin);
    const std::int64_t q_max = quantizers[0].q_max();
    for (int s = 0; s < 300; ++s) {
      std::vector<std::int64_t> q(x.cols());
      std::vector<double> xf(x.cols());
      for (std::size_t j = 0; j < x.cols(); ++j) {
        q[j] = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(q_max + 1));
        xf[j] = quantizers[j].dequantize(q[j]);
      }
      ASSERT_EQ(origin[it.leaf_of(q)], testing::float_leaf(t, xf, rule));
    }
  }
}

}  // namespace
}  // namespace torusml::ml
