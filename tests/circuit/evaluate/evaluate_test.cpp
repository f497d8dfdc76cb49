// Clear evaluation: every operation against brute-force numpy/ONNX-equivalent references or
// hand-computed values, composite operations over whole ranges, overflow detection, input checks
// and the node observer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "front_end_test_util.h"
#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/circuit/frontend/builder.h"

namespace torusml::circuit::testing {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// numpy.matmul by its definition: promote 1-D operands, broadcast the batch axes, squeeze.
Tensor reference_matmul(const Tensor& a, const Tensor& b) {
  const Shape as = a.rank() == 1 ? Shape{1, a.shape()[0]} : a.shape();
  const Shape bs = b.rank() == 1 ? Shape{b.shape()[0], 1} : b.shape();
  const Tensor a2(as, std::vector<std::int64_t>(a.values().begin(), a.values().end()));
  const Tensor b2(bs, std::vector<std::int64_t>(b.values().begin(), b.values().end()));
  const Shape batch =
      broadcast_shape(Shape(as.begin(), as.end() - 2), Shape(bs.begin(), bs.end() - 2));
  const std::int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  Shape full = batch;
  full.push_back(m);
  full.push_back(n);
  std::vector<std::int64_t> values;
  for (std::int64_t flat = 0; flat < element_count(full); ++flat) {
    const Index index = unravel(flat, full);
    std::int64_t acc = 0;
    for (std::int64_t p = 0; p < k; ++p) {
      Index ia(index.begin(), index.end() - 2), ib = ia;
      ia.push_back(index[index.size() - 2]);
      ia.push_back(p);
      ib.push_back(p);
      ib.push_back(index.back());
      acc += broadcast_at(a2, ia) * broadcast_at(b2, ib);
    }
    values.push_back(acc);
  }
  Shape result = batch;
  if (a.rank() >= 2) result.push_back(m);
  if (b.rank() >= 2) result.push_back(n);
  return Tensor(result, values);
}

TEST(Evaluate, BroadcastArithmeticMatchesReference) {
  std::mt19937_64 rng(1);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3}, {2, 3}},    {{2, 1, 3}, {4, 1}},    {{}, {3, 2}}, {{3, 1}, {1, 4}},    {{1}, {5}},
      {{2, 3, 4}, {3, 1}}, {{4, 1, 1, 2}, {3, 2}}, {{5}, {}},    {{2, 0, 3}, {1, 3}},
  };
  for (const auto& [sa, sb] : cases) {
    const Tensor a = random_tensor(rng, sa, -50, 50);
    const Tensor c = random_tensor(rng, sb, -50, 50);
    const Shape shape = broadcast_shape(sa, sb);
    for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul}) {
      std::vector<std::int64_t> expected;
      for (std::int64_t flat = 0; flat < element_count(shape); ++flat) {
        const Index index = unravel(flat, shape);
        const std::int64_t x = broadcast_at(a, index), y = broadcast_at(c, index);
        expected.push_back(op == OpKind::Add ? x + y : op == OpKind::Sub ? x - y : x * y);
      }
      const auto apply = [op](auto l, auto r) {
        return op == OpKind::Add ? l + r : op == OpKind::Sub ? l - r : l * r;
      };
      const Tensor want(shape, expected);
      EXPECT_EQ(run1([&](Builder&, Value x) { return apply(x, c); }, a), want) << to_string(op);
      EXPECT_EQ(run1([&](Builder&, Value y) { return apply(a, y); }, c), want) << to_string(op);
      // Both operands traced (the second one clear).
      Builder b;
      Value x = b.input("a", sa);
      Value y = b.input("c", sb, false);
      b.output(apply(x, y));
      EXPECT_EQ(evaluate_clear(b.build(), std::vector<Tensor>{a, c})[0], want);
    }
  }
  EXPECT_EQ(run1([](Builder&, Value x) { return -x + 3; }, Tensor::vector({1, -2})),
            Tensor::vector({2, 5}));
  EXPECT_EQ(run1([](Builder&, Value x) { return 10 - 2 * x; }, Tensor::vector({1, -2})),
            Tensor::vector({8, 14}));
}

TEST(Evaluate, MatmulMatchesNumpyForAllRanks) {
  std::mt19937_64 rng(2);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3}, {3}},
      {{2, 3}, {3}},
      {{3}, {3, 4}},
      {{2, 3}, {3, 4}},
      {{5, 2, 3}, {3, 4}},
      {{1, 2, 3}, {6, 3, 4}},
      {{7, 1, 2, 3}, {6, 3, 4}},
      {{3}, {5, 3, 4}},
      {{5, 2, 3}, {3}},
      {{4, 2, 3}, {4, 3, 5}},
      {{2, 0}, {0, 3}},
      {{1, 1}, {1, 1}},
  };
  for (const auto& [sa, sb] : cases) {
    const Tensor a = random_tensor(rng, sa, -20, 20);
    const Tensor w = random_tensor(rng, sb, -20, 20);
    const Tensor want = reference_matmul(a, w);
    EXPECT_EQ(run1([&](Builder&, Value x) { return matmul(x, w); }, a), want)
        << shape_to_string(sa) << " @ " << shape_to_string(sb);
    EXPECT_EQ(run1([&](Builder&, Value y) { return matmul(a, y); }, w), want);
  }
  EXPECT_EQ(run1(
                [](Builder&, Value x) {
                  return dot(x, Tensor::vector({1, -2, 3}));
                },
                Tensor::vector({4, 5, 6})),
            Tensor::scalar(12));
  // Hand-computed 2-D product.
  EXPECT_EQ(run1(
                [](Builder&, Value x) {
                  return matmul(x, Tensor::matrix({{1, 2}, {3, 4}}));
                },
                Tensor::matrix({{1, 1}, {-1, 2}})),
            Tensor::matrix({{4, 6}, {5, 6}}));
}

TEST(Evaluate, MatmulWithLargeValuesIsExactOrDetectsOverflow) {
  const std::int64_t big = std::int64_t{1} << 31;
  // The bound |a| * |b| * k exceeds 2^63, but the exact result does not: the checked kernel.
  EXPECT_EQ(run1(
                [&](Builder&, Value x) {
                  return matmul(x, Tensor::matrix({{big}, {big}}));
                },
                Tensor::vector({big, -big})),
            Tensor::vector({0}));
  expect_invalid(
      [&] {
        run1(
            [&](Builder&, Value x) {
              return matmul(x, Tensor::matrix({{big}, {big}}));
            },
            Tensor::vector({big, big}));
      },
      {"matmul_2", "64 bits"});
}

TEST(Evaluate, GemmMatchesOnnx) {
  std::mt19937_64 rng(3);
  for (int variant = 0; variant < 8; ++variant) {
    const bool ta = (variant & 1) != 0, tb = (variant & 2) != 0, with_c = (variant & 4) != 0;
    const std::int64_t m = 3, k = 4, n = 2, alpha = variant % 3 == 0 ? 1 : -2, beta = 3;
    const Tensor a = random_tensor(rng, ta ? Shape{k, m} : Shape{m, k}, -9, 9);
    const Tensor w = random_tensor(rng, tb ? Shape{n, k} : Shape{k, n}, -9, 9);
    const Tensor c = random_tensor(rng, variant % 2 == 0 ? Shape{n} : Shape{m, 1}, -9, 9);
    std::vector<std::int64_t> expected;
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        std::int64_t acc = 0;
        for (std::int64_t p = 0; p < k; ++p) {
          acc += (ta ? a.at({p, i}) : a.at({i, p})) * (tb ? w.at({j, p}) : w.at({p, j}));
        }
        if (with_c)
          acc = alpha * acc + beta * (c.rank() == 1 ? c.at({j}) : c.at({i, 0}));
        else
          acc *= alpha;
        expected.push_back(acc);
      }
    }
    const Tensor got = run1(
        [&](Builder&, Value x) {
          return gemm(x, w, with_c ? std::optional<Tensor>(c) : std::nullopt, alpha, beta, ta, tb);
        },
        a);
    EXPECT_EQ(got, Tensor({m, n}, expected)) << "variant " << variant;
  }
}

TEST(Evaluate, SumWithAxesAndKeepdims) {
  std::mt19937_64 rng(4);
  const Tensor x = random_tensor(rng, {2, 3, 4}, -100, 100);
  const std::vector<std::vector<std::int64_t>> axes_cases = {{},      {0},       {-1},
                                                             {1, -1}, {0, 1, 2}, {-2}};
  for (const auto& axes : axes_cases) {
    for (bool keepdims : {false, true}) {
      std::vector<bool> reduced(3, axes.empty());
      for (std::int64_t a : axes) reduced[static_cast<std::size_t>(a < 0 ? a + 3 : a)] = true;
      Shape kept_shape, out_shape;
      for (std::size_t i = 0; i < 3; ++i) {
        kept_shape.push_back(reduced[i] ? 1 : x.shape()[i]);
        if (!reduced[i] || keepdims) out_shape.push_back(reduced[i] ? 1 : x.shape()[i]);
      }
      std::vector<std::int64_t> acc(static_cast<std::size_t>(element_count(kept_shape)), 0);
      for (std::int64_t flat = 0; flat < 24; ++flat) {
        Index index = unravel(flat, x.shape());
        for (std::size_t i = 0; i < 3; ++i) {
          if (reduced[i]) index[i] = 0;
        }
        acc[static_cast<std::size_t>(ravel(index, kept_shape))] +=
            x[static_cast<std::size_t>(flat)];
      }
      EXPECT_EQ(run1([&](Builder&, Value v) { return sum(v, axes, keepdims); }, x),
                Tensor(out_shape, acc));
    }
  }
  EXPECT_EQ(run1([](Builder&, Value v) { return sum(v); }, Tensor::scalar(5)), Tensor::scalar(5));
  EXPECT_EQ(run1([](Builder&, Value v) { return sum(v, {1}); }, Tensor::zeros({2, 0})),
            Tensor::zeros({2}));
}

TEST(Evaluate, ReshapeTransposeAndBroadcast) {
  const Tensor x = iota({2, 3, 4});
  EXPECT_EQ(run1(
                [](Builder&, Value v) {
                  return reshape(v, {4, -1});
                },
                x),
            Tensor({4, 6}, std::vector<std::int64_t>(x.values().begin(), x.values().end())));
  for (const std::vector<std::int64_t>& perm :
       std::vector<std::vector<std::int64_t>>{{}, {0, 2, 1}, {2, 0, 1}, {1, 0, 2}, {-1, -3, -2}}) {
    std::vector<std::int64_t> p = perm;
    if (p.empty()) p = {2, 1, 0};
    for (auto& a : p) a = a < 0 ? a + 3 : a;
    Shape shape;
    for (auto a : p) shape.push_back(x.shape()[static_cast<std::size_t>(a)]);
    std::vector<std::int64_t> expected;
    for (std::int64_t flat = 0; flat < 24; ++flat) {
      const Index o = unravel(flat, shape);
      Index in(3);
      for (std::size_t d = 0; d < 3; ++d) in[static_cast<std::size_t>(p[d])] = o[d];
      expected.push_back(at(x, in));
    }
    EXPECT_EQ(run1([&](Builder&, Value v) { return transpose(v, perm); }, x),
              Tensor(shape, expected));
  }
  const Tensor col = Tensor({3, 1}, {7, 8, 9});
  const Shape to{2, 3, 2};
  std::vector<std::int64_t> expected;
  for (std::int64_t flat = 0; flat < 12; ++flat)
    expected.push_back(broadcast_at(col, unravel(flat, to)));
  EXPECT_EQ(run1([&](Builder&, Value v) { return broadcast_to(v, to); }, col),
            Tensor(to, expected));
}

TEST(Evaluate, SlicingFollowsPython) {
  struct Case {
    std::int64_t start, stop, step;
    std::vector<std::int64_t> expected;  // list(range(7))[start:stop:step] in Python
  };
  const std::vector<Case> cases = {
      {0, 7, 1, {0, 1, 2, 3, 4, 5, 6}},
      {2, 5, 1, {2, 3, 4}},
      {-3, kMax, 1, {4, 5, 6}},
      {-100, 100, 2, {0, 2, 4, 6}},
      {1, -1, 3, {1, 4}},
      {kMax, kMin, -1, {6, 5, 4, 3, 2, 1, 0}},
      {5, 1, -2, {5, 3}},
      {-1, -8, -1, {6, 5, 4, 3, 2, 1, 0}},
      {-2, -100, -3, {5, 2}},
      {100, 2, -1, {6, 5, 4, 3}},
      {3, 3, 1, {}},
      {5, 2, 1, {}},
      {2, 5, -1, {}},
      {0, 0, -1, {}},
      {6, -100, -7, {6}},
      {-7, 7, 4, {0, 4}},
  };
  const Tensor x = iota({7}, 10);
  for (const Case& c : cases) {
    std::vector<std::int64_t> expected;
    for (std::int64_t i : c.expected) expected.push_back(10 + i);
    EXPECT_EQ(run1([&](Builder&, Value v) { return slice(v, {c.start}, {c.stop}, {c.step}); }, x),
              Tensor::vector(expected))
        << c.start << ":" << c.stop << ":" << c.step;
  }
  // x[::-2, 1::2] of a 4 x 5 matrix (x[r, c] = 5r + c): rows 3, 1 and columns 1, 3.
  EXPECT_EQ(run1(
                [](Builder&, Value v) {
                  return slice(v, {-1, 1}, {kMin, kMax}, {-2, 2});
                },
                iota({4, 5})),
            Tensor::matrix({{16, 18}, {6, 8}}));
  // Missing axes are taken whole: x[1:3] of (4, 2).
  EXPECT_EQ(run1([](Builder&, Value v) { return slice(v, {1}, {3}); }, iota({4, 2})),
            Tensor::matrix({{2, 3}, {4, 5}}));
}

TEST(Evaluate, TakePadAndConcatenate) {
  EXPECT_EQ(run1(
                [](Builder&, Value v) {
                  return take(v, {-1, 0, -1}, 1);
                },
                iota({2, 3})),
            Tensor::matrix({{2, 0, 2}, {5, 3, 5}}));
  EXPECT_EQ(run1(
                [](Builder&, Value v) {
                  return take(v, {1, -2});
                },
                iota({2, 2})),
            Tensor::matrix({{2, 3}, {0, 1}}));
  EXPECT_EQ(run1([](Builder&, Value v) { return take(v, {}, 0); }, iota({2, 2})),
            Tensor::zeros({0, 2}));
  EXPECT_EQ(run1(
                [](Builder&, Value v) {
                  return pad(v, {1, 0}, {0, 2}, 9);
                },
                Tensor::matrix({{1, 2}, {3, 4}})),
            Tensor::matrix({{9, 9, 9, 9}, {1, 2, 9, 9}, {3, 4, 9, 9}}));
  EXPECT_EQ(run1([](Builder&, Value v) { return pad(v, {2}, {1}, -1); }, Tensor::vector({5})),
            Tensor::vector({-1, -1, 5, -1}));
  Builder b;
  Value p = b.input("p", {2, 1});
  Value q = b.input("q", {2, 2}, false);
  const std::vector<Value> columns = {p, q, p};
  const Tensor pv = Tensor::matrix({{1}, {2}});
  const Tensor qv = Tensor::matrix({{3, 4}, {5, 6}});
  b.output(concatenate(columns, -1));
  const std::vector<Value> rows = {q, transpose(p), q};
  b.output(concatenate(rows, 0));
  const auto out = evaluate_clear(b.build(), std::vector<Tensor>{pv, qv});
  EXPECT_EQ(out[0], Tensor::matrix({{1, 3, 4, 1}, {2, 5, 6, 2}}));
  EXPECT_EQ(out[1], Tensor::matrix({{3, 4}, {5, 6}, {1, 2}, {3, 4}, {5, 6}}));
}

TEST(Evaluate, TableLookups) {
  const Tensor x = Tensor::matrix({{-2, 3}, {4, -5}});
  EXPECT_EQ(
      run1([](Builder&, Value v) { return apply_table(v, [](std::int64_t a) { return a * a; }); },
           x),
      Tensor::matrix({{4, 9}, {16, 25}}));
  const std::vector<TableFunction> tables = {
      {[](std::int64_t a) { return a; }, "id"},
      {[](std::int64_t a) { return -a; }, "neg"},
      {[](std::int64_t a) { return 10 * a; }, "ten"},
  };
  EXPECT_EQ(run1(
                [&](Builder&, Value v) {
                  return apply_tables(v, tables, {2, 1, 0, 1});
                },
                x),
            Tensor::matrix({{-20, -3}, {4, 5}}));
  // A table on a clear input is computed in the clear.
  EXPECT_EQ(run1([](Builder&, Value v) { return relu(v); }, x, /*encrypted=*/false),
            Tensor::matrix({{0, 3}, {4, 0}}));
}

TEST(Evaluate, RoundBitPatternRoundsHalfAwayFromZero) {
  std::vector<std::int64_t> values;
  for (std::int64_t v = -300; v <= 300; ++v) values.push_back(v);
  const Tensor x = Tensor::vector(values);
  for (std::int64_t bits = 0; bits <= 6; ++bits) {
    std::vector<std::int64_t> expected;
    const double step = std::ldexp(1.0, static_cast<int>(bits));
    for (std::int64_t v : values) {
      expected.push_back(std::llround(static_cast<double>(v) / step) * (std::int64_t{1} << bits));
    }
    for (RoundingMode mode : {RoundingMode::Exact, RoundingMode::Approximate}) {
      EXPECT_EQ(run1([&](Builder&, Value v) { return round_bit_pattern(v, bits, mode); }, x),
                Tensor::vector(expected))
          << bits;
    }
  }
  // Ties, hand-computed: 8/16 = 0.5 -> 16, -24/16 = -1.5 -> -32, 7/16 -> 0, -8/16 -> -16.
  EXPECT_EQ(run1([](Builder&, Value v) { return round_bit_pattern(v, 4); },
                 Tensor::vector({8, -24, 7, -8, 24, -7})),
            Tensor::vector({16, -32, 0, -16, 32, 0}));
  expect_invalid(
      [] {
        run1([](Builder&, Value v) { return round_bit_pattern(v, 4); }, Tensor::vector({kMax}));
      },
      {"round_1", "64 bits"});
}

TEST(Evaluate, OverflowNamesTheNode) {
  expect_invalid([] { run1([](Builder&, Value v) { return v + 1; }, Tensor::vector({kMax})); },
                 {"add_2", "64 bits"});
  expect_invalid([] { run1([](Builder&, Value v) { return v - 1; }, Tensor::vector({kMin})); },
                 {"sub_2", "64 bits"});
  expect_invalid([] { run1([](Builder&, Value v) { return -v; }, Tensor::vector({kMin})); },
                 {"neg_1", "64 bits"});
  expect_invalid([] { run1([](Builder&, Value v) { return v * 3; }, Tensor::vector({kMax / 2})); },
                 {"mul_2", "64 bits"});
  expect_invalid(
      [] {
        run1([](Builder&, Value v) { return sum(v); }, Tensor::vector({kMax, 1}));
      },
      {"sum_1", "64 bits"});
  expect_invalid(
      [] {
        run1([](Builder&, Value v) { return sum_pool2d(v); },
             Tensor({1, 1, 2, 2}, {kMax, 1, 0, 0}));
      },
      {"sum_pool2d_1", "64 bits"});
  // Comparisons of extreme values overflow in x - y.
  expect_invalid(
      [] {
        run1([](Builder&, Value v) { return less(v, Tensor::vector({1})); },
             Tensor::vector({kMin}));
      },
      {"sub_", "64 bits"});
}

TEST(Evaluate, InputsAreChecked) {
  Builder b;
  Value x = b.input("x", {3});
  Value y = b.input("y", {2, 2}, false);
  b.output(sum(x) + sum(y));
  const Program p = b.build();
  const Tensor good_x = Tensor::vector({1, 2, 3});
  const Tensor good_y = Tensor::matrix({{1, 1}, {1, 1}});
  EXPECT_EQ(evaluate_clear(p, std::vector<Tensor>{good_x, good_y})[0], Tensor::scalar(10));
  expect_invalid([&] { evaluate_clear(p, std::vector<Tensor>{good_x}); },
                 {"evaluate_clear", "2 input(s)", "got 1"});
  expect_invalid(
      [&] {
        evaluate_clear(p, std::vector<Tensor>{good_x, Tensor::vector({1, 2, 3, 4})});
      },
      {"'y'", "(4,)", "(2, 2)"});
  expect_invalid(
      [&] {
        evaluate_clear(p, std::vector<Tensor>{Tensor::scalar(1), good_y});
      },
      {"'x'", "()", "(3,)"});
}

TEST(Evaluate, ObserverSeesEveryNodeOnce) {
  Builder b;
  Value x = b.input("x", {2, 2});
  Value y = relu(matmul(x, Tensor::matrix({{1, -1}, {2, 0}})));
  b.output(y);
  b.output(sum(y));
  const Program p = b.build();
  std::vector<NodeId> seen;
  std::vector<Tensor> values;
  const auto out = evaluate_clear(p, std::vector<Tensor>{Tensor::matrix({{1, 2}, {-3, 1}})},
                                  [&](NodeId id, const Tensor& t) {
                                    seen.push_back(id);
                                    values.push_back(t);
                                  });
  ASSERT_EQ(seen.size(), p.nodes.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], static_cast<NodeId>(i));
    EXPECT_EQ(values[i].shape(), p.nodes[i].shape);
  }
  EXPECT_EQ(values[2], Tensor::matrix({{5, -1}, {-1, 3}}));
  EXPECT_EQ(out[0], Tensor::matrix({{5, 0}, {0, 3}}));
  EXPECT_EQ(out[1], Tensor::scalar(8));
}

TEST(Evaluate, EvaluateNodeChecksItsOperands) {
  Builder b;
  Value x = b.input("x", {2, 3});
  Value y = sum(x, {1});
  const Node& node = b.node(y.id());
  const Tensor good = iota({2, 3});
  const Tensor* operands[] = {&good};
  EXPECT_EQ(evaluate_node(node, operands), Tensor::vector({3, 12}));
  const Tensor bad = iota({3, 3});
  const Tensor* bad_operands[] = {&bad};
  expect_invalid([&] { evaluate_node(node, bad_operands); }, {"sum_1", "(3,)", "(2,)"});
  expect_invalid([&] { evaluate_node(node, {}); }, {"sum_1", "operand"});
  expect_invalid([&] { evaluate_node(b.node(x.id()), {}); }, {"input_0", "input"});
}

}  // namespace
}  // namespace torusml::circuit::testing
