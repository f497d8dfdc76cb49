// Clear evaluation of the composite operations and of convolution and pooling: encrypted
// multiplication, comparisons, minimum/maximum and ReLU over whole ranges, conv2d against a naive
// ONNX reference, sum and average pooling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "front_end_test_util.h"
#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/circuit/frontend/builder.h"

namespace torusml::circuit::testing {
namespace {

// Pairs (x, y) for x, y in [lo, hi]: x of shape (n, 1) and y of shape (n,) broadcast to (n, n).
struct PairGrid {
  Tensor x, y;
  PairGrid(std::int64_t lo, std::int64_t hi) {
    std::vector<std::int64_t> v;
    for (std::int64_t i = lo; i <= hi; ++i) v.push_back(i);
    const auto n = static_cast<std::int64_t>(v.size());
    x = Tensor({n, 1}, v);
    y = Tensor::vector(v);
  }
  // f(x[i], y[j]) over the grid.
  Tensor expected(const std::function<std::int64_t(std::int64_t, std::int64_t)>& f) const {
    const std::int64_t n = y.shape()[0];
    std::vector<std::int64_t> out;
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j)
        out.push_back(f(x[static_cast<std::size_t>(i)], y[static_cast<std::size_t>(j)]));
    }
    return Tensor({n, n}, out);
  }
  Tensor run(const std::function<Value(Value, Value)>& f, bool y_encrypted = true) const {
    Builder b;
    Value vx = b.input("x", x.shape());
    Value vy = b.input("y", y.shape(), y_encrypted);
    b.output(f(vx, vy));
    return evaluate_clear(b.build(), std::vector<Tensor>{x, y})[0];
  }
};

TEST(Evaluate, MultiplyEncryptedByEncryptedIsExact) {
  const PairGrid grid(-20, 20);
  const Tensor want = grid.expected([](std::int64_t a, std::int64_t b) { return a * b; });
  EXPECT_EQ(grid.run([](Value a, Value b) { return multiply(a, b); }), want);
  EXPECT_EQ(grid.run([](Value a, Value b) { return multiply(a, b); }, false), want);
  EXPECT_EQ(
      run1([](Builder&, Value v) { return multiply(v, v); }, Tensor::vector({-7, 0, 3, 1000001})),
      Tensor::vector({49, 0, 9, 1000002000001}));
  // (x + y)^2 / 4 beyond 64 bits.
  expect_invalid(
      [] {
        run1([](Builder&, Value v) { return multiply(v, v); },
             Tensor::vector({std::int64_t{1} << 33}));
      },
      {"multiply", "64 bits"});
}

TEST(Evaluate, ComparisonsMinimumMaximumAndRelu) {
  const PairGrid grid(-12, 12);
  using F = std::function<std::int64_t(std::int64_t, std::int64_t)>;
  using G = std::function<Value(Value, Value)>;
  const std::vector<std::pair<G, F>> cases = {
      {[](Value a, Value b) { return less(a, b); }, [](auto a, auto b) { return a < b ? 1 : 0; }},
      {[](Value a, Value b) { return less_equal(a, b); },
       [](auto a, auto b) { return a <= b ? 1 : 0; }},
      {[](Value a, Value b) { return greater(a, b); },
       [](auto a, auto b) { return a > b ? 1 : 0; }},
      {[](Value a, Value b) { return greater_equal(a, b); },
       [](auto a, auto b) { return a >= b ? 1 : 0; }},
      {[](Value a, Value b) { return equal(a, b); }, [](auto a, auto b) { return a == b ? 1 : 0; }},
      {[](Value a, Value b) { return not_equal(a, b); },
       [](auto a, auto b) { return a != b ? 1 : 0; }},
      {[](Value a, Value b) { return maximum(a, b); },
       [](auto a, auto b) { return std::max(a, b); }},
      {[](Value a, Value b) { return minimum(a, b); },
       [](auto a, auto b) { return std::min(a, b); }},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(grid.run(cases[i].first), grid.expected(cases[i].second)) << "case " << i;
    EXPECT_EQ(grid.run(cases[i].first, false), grid.expected(cases[i].second)) << "case " << i;
  }
  const Tensor threshold = Tensor::vector({-1, 0, 1});
  const Tensor x = Tensor({3, 1}, {-1, 0, 1});
  EXPECT_EQ(run1([&](Builder&, Value v) { return less(v, threshold); }, x),
            Tensor::matrix({{0, 1, 1}, {0, 0, 1}, {0, 0, 0}}));
  EXPECT_EQ(run1([&](Builder&, Value v) { return less_equal(v, threshold); }, x),
            Tensor::matrix({{1, 1, 1}, {0, 1, 1}, {0, 0, 1}}));
  EXPECT_EQ(run1([&](Builder&, Value v) { return greater(v, threshold); }, x),
            Tensor::matrix({{0, 0, 0}, {1, 0, 0}, {1, 1, 0}}));
  EXPECT_EQ(run1([&](Builder&, Value v) { return greater_equal(v, threshold); }, x),
            Tensor::matrix({{1, 0, 0}, {1, 1, 0}, {1, 1, 1}}));
  std::vector<std::int64_t> values, relu_values;
  for (std::int64_t v = -50; v <= 50; ++v) {
    values.push_back(v);
    relu_values.push_back(std::max<std::int64_t>(v, 0));
  }
  EXPECT_EQ(run1([](Builder&, Value v) { return relu(v); }, Tensor::vector(values)),
            Tensor::vector(relu_values));
}

struct ConvCase {
  Shape x, w;
  Conv2dAttr attr;
  bool bias;
};

Tensor reference_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dAttr& a) {
  const auto& xs = x.shape();
  const auto& ws = w.shape();
  const std::int64_t oh =
      (xs[2] + a.pads[0] + a.pads[2] - a.dilations[0] * (ws[2] - 1) - 1) / a.strides[0] + 1;
  const std::int64_t ow =
      (xs[3] + a.pads[1] + a.pads[3] - a.dilations[1] * (ws[3] - 1) - 1) / a.strides[1] + 1;
  const Shape shape{xs[0], ws[0], oh, ow};
  std::vector<std::int64_t> out;
  for (std::int64_t flat = 0; flat < element_count(shape); ++flat) {
    const Index o = unravel(flat, shape);
    const std::int64_t group = o[1] / (ws[0] / a.groups);
    std::int64_t acc = bias != nullptr ? (*bias)[static_cast<std::size_t>(o[1])] : 0;
    for (std::int64_t c = 0; c < ws[1]; ++c) {
      for (std::int64_t i = 0; i < ws[2]; ++i) {
        for (std::int64_t j = 0; j < ws[3]; ++j) {
          const std::int64_t ih = o[2] * a.strides[0] - a.pads[0] + i * a.dilations[0];
          const std::int64_t iw = o[3] * a.strides[1] - a.pads[1] + j * a.dilations[1];
          if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
          acc += at(x, {o[0], group * ws[1] + c, ih, iw}) * at(w, {o[1], c, i, j});
        }
      }
    }
    out.push_back(acc);
  }
  return Tensor(shape, out);
}

Conv2dAttr conv_attr(std::vector<std::int64_t> strides, std::vector<std::int64_t> pads,
                     std::vector<std::int64_t> dilations, std::int64_t groups) {
  Conv2dAttr a;
  a.strides = std::move(strides);
  a.pads = std::move(pads);
  a.dilations = std::move(dilations);
  a.groups = groups;
  return a;
}

TEST(Evaluate, Conv2dMatchesNaiveReference) {
  std::mt19937_64 rng(5);
  const std::vector<ConvCase> cases = {
      {{1, 1, 5, 5}, {1, 1, 3, 3}, conv_attr({1, 1}, {0, 0, 0, 0}, {1, 1}, 1), false},
      {{2, 3, 7, 6}, {4, 3, 3, 2}, conv_attr({1, 1}, {1, 1, 1, 1}, {1, 1}, 1), true},
      {{1, 2, 8, 9}, {3, 2, 3, 3}, conv_attr({2, 3}, {1, 0, 2, 1}, {1, 1}, 1), true},
      {{1, 2, 9, 9}, {2, 2, 3, 2}, conv_attr({1, 2}, {2, 2, 0, 1}, {2, 3}, 1), false},
      {{2, 4, 6, 5}, {6, 2, 2, 3}, conv_attr({1, 1}, {0, 1, 1, 0}, {1, 1}, 2), true},
      {{1, 6, 5, 5}, {6, 1, 3, 3}, conv_attr({2, 2}, {1, 1, 1, 1}, {1, 1}, 6), true},  // depthwise
      {{1, 1, 3, 3}, {2, 1, 3, 3}, conv_attr({5, 5}, {4, 4, 4, 4}, {1, 1}, 1), true},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& c = cases[i];
    const Tensor x = random_tensor(rng, c.x, -8, 8);
    const Tensor w = random_tensor(rng, c.w, -8, 8);
    const Tensor bias = random_tensor(rng, {c.w[0]}, -50, 50);
    const Tensor want = reference_conv2d(x, w, c.bias ? &bias : nullptr, c.attr);
    const Tensor got = run1(
        [&](Builder&, Value v) {
          return conv2d(v, w, c.bias ? std::optional<Tensor>(bias) : std::nullopt, c.attr);
        },
        x);
    EXPECT_EQ(got, want) << "case " << i;
  }
  // Large weights take the checked kernel; an overflowing one throws.
  const std::int64_t big = std::int64_t{1} << 40;
  const Tensor x = Tensor({1, 1, 1, 2}, {1 << 22, -(1 << 22)});
  EXPECT_EQ(run1(
                [&](Builder&, Value v) {
                  return conv2d(v, Tensor({1, 1, 1, 2}, {big, big}));
                },
                x),
            Tensor({1, 1, 1, 1}, {0}));
  expect_invalid(
      [&] {
        run1(
            [&](Builder&, Value v) {
              return conv2d(v, Tensor({1, 1, 1, 2}, {big, big}));
            },
            Tensor({1, 1, 1, 2}, {1 << 22, 1 << 22}));
      },
      {"conv2d_", "64 bits"});
}

Tensor reference_pool(const Tensor& x, const Pool2dAttr& a, bool average, bool count_pad) {
  const auto& xs = x.shape();
  const std::int64_t oh = (xs[2] + a.pads[0] + a.pads[2] - a.kernel[0]) / a.strides[0] + 1;
  const std::int64_t ow = (xs[3] + a.pads[1] + a.pads[3] - a.kernel[1]) / a.strides[1] + 1;
  const Shape shape{xs[0], xs[1], oh, ow};
  std::vector<std::int64_t> out;
  for (std::int64_t flat = 0; flat < element_count(shape); ++flat) {
    const Index o = unravel(flat, shape);
    std::int64_t acc = 0, inside = 0;
    for (std::int64_t i = 0; i < a.kernel[0]; ++i) {
      for (std::int64_t j = 0; j < a.kernel[1]; ++j) {
        const std::int64_t ih = o[2] * a.strides[0] - a.pads[0] + i;
        const std::int64_t iw = o[3] * a.strides[1] - a.pads[1] + j;
        if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
        acc += at(x, {o[0], o[1], ih, iw});
        ++inside;
      }
    }
    if (average) {
      const std::int64_t d =
          count_pad ? a.kernel[0] * a.kernel[1] : std::max<std::int64_t>(inside, 1);
      acc = std::llround(static_cast<double>(acc) / static_cast<double>(d));
    }
    out.push_back(acc);
  }
  return Tensor(shape, out);
}

TEST(Evaluate, SumAndAveragePoolsMatchReference) {
  std::mt19937_64 rng(6);
  std::vector<Pool2dAttr> attrs(4);
  attrs[1].kernel = {3, 3};
  attrs[1].strides = {1, 1};
  attrs[1].pads = {1, 1, 1, 1};
  attrs[2].kernel = {3, 2};
  attrs[2].strides = {2, 1};
  attrs[2].pads = {0, 1, 2, 0};
  attrs[3].kernel = {1, 1};
  attrs[3].strides = {1, 1};
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    const Tensor x = random_tensor(rng, {2, 3, 6, 7}, -20, 20);
    EXPECT_EQ(run1([&](Builder&, Value v) { return sum_pool2d(v, attrs[i]); }, x),
              reference_pool(x, attrs[i], false, true))
        << i;
    for (bool count_pad : {true, false}) {
      EXPECT_EQ(run1([&](Builder&, Value v) { return avg_pool2d(v, attrs[i], count_pad); }, x),
                reference_pool(x, attrs[i], true, count_pad))
          << i << " count_include_pad " << count_pad;
    }
  }
  // Hand-computed: the 2 x 2 averages of [[1, 2], [3, 5]] = 11 / 4 -> 3 and of negatives -> -3;
  // a tie 2 / 4 = 0.5 rounds to 1 and -2 / 4 to -1.
  EXPECT_EQ(run1([](Builder&, Value v) { return avg_pool2d(v); },
                 Tensor({1, 1, 2, 8}, {1, 2, -1, -2, 1, 1, -1, 0, 3, 5, -3, -5, 0, 0, 0, -1})),
            Tensor({1, 1, 1, 4}, {3, -3, 1, -1}));
}

}  // namespace
}  // namespace torusml::circuit::testing
