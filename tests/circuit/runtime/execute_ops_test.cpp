// Every operation executed under real encryption (fresh keys, real bootstraps) equals its clear
// evaluation, and simulation equals the clear result at the default failure probability.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "circuit_test_util.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/circuit/ir/int_math.h"

namespace torusml::circuit::testing {
namespace {

struct InputSpec {
  Shape shape;
  std::int64_t lo, hi;
  bool encrypted = true;
};

// Traces `f` on inputs of `specs`, compiles over 40 random samples (plus all-lo and all-hi ones),
// and compares clear, simulated and encrypted results on 6 of them.
void check(const std::vector<InputSpec>& specs,
           const std::function<Value(Builder&, std::vector<Value>&)>& f,
           bool allow_off_by_one = false, std::uint64_t seed = 1) {
  Builder b;
  std::vector<Value> in;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::string name = "x";
    name += std::to_string(i);
    in.push_back(b.input(name, specs[i].shape, specs[i].encrypted));
  }
  b.output(f(b, in));
  const Program program = b.build();
  std::mt19937_64 rng(seed);
  std::vector<std::vector<Tensor>> inputset;
  for (int k = 0; k < 40; ++k) {
    std::vector<Tensor> sample;
    for (const auto& s : specs) sample.push_back(random_tensors(rng, s.shape, s.lo, s.hi, 1)[0]);
    inputset.push_back(std::move(sample));
  }
  for (bool high : {false, true}) {
    std::vector<Tensor> sample;
    for (const auto& s : specs) sample.push_back(Tensor::full(s.shape, high ? s.hi : s.lo));
    inputset.push_back(std::move(sample));
  }
  const CompiledCircuit c = compile(program, inputset);
  std::vector<std::vector<Tensor>> test(inputset.begin() + 36, inputset.end());
  const std::vector<Tensor> x = stack(test);
  const auto clear = c.evaluate(x, Mode::Clear);
  const auto simulated = c.evaluate(x, Mode::Simulate, 7);
  const auto executed = c.encrypt_run_decrypt(keys_for(c), x);
  ASSERT_EQ(clear.size(), executed.size());
  for (std::size_t o = 0; o < clear.size(); ++o) {
    EXPECT_EQ(clear[o].shape(), executed[o].shape());
    if (allow_off_by_one) {
      for (std::size_t k = 0; k < clear[o].size(); ++k) {
        EXPECT_LE(std::abs(clear[o][k] - executed[o][k]), 1) << "element " << k;
        EXPECT_LE(std::abs(clear[o][k] - simulated[o][k]), 1) << "element " << k;
      }
    } else {
      EXPECT_EQ(clear[o], executed[o]) << program.to_text();
      EXPECT_EQ(clear[o], simulated[o]);
    }
  }
}

const Tensor kW = Tensor::matrix({{1, -2, 3}, {0, 4, -1}, {2, 2, -3}, {-1, 0, 1}});

TEST(ExecuteOps, AddSubNegEncryptedAndClear) {
  check({{{4}, -8, 7}, {{4}, 0, 15}},
        [](Builder&, std::vector<Value>& v) { return v[0] + v[1] - (-v[0]) + 3; });
  check({{{2, 3}, 0, 9}}, [](Builder&, std::vector<Value>& v) {
    return v[0] - Tensor::vector({1, 2, 3});
  });
}

TEST(ExecuteOps, ClearProducts) {
  check({{{4}, -5, 5}}, [](Builder&, std::vector<Value>& v) {
    return v[0] * Tensor::vector({3, -1, 0, 2}) * 2;
  });
  check({{{4}, 0, 10}, {{4}, -3, 3, false}},
        [](Builder&, std::vector<Value>& v) { return v[0] * v[1]; });
}

TEST(ExecuteOps, MatmulDotGemm) {
  check({{{4}, 0, 15}}, [](Builder&, std::vector<Value>& v) { return matmul(v[0], kW); });
  check({{{2, 4}, -4, 4}}, [](Builder&, std::vector<Value>& v) { return matmul(v[0], kW); });
  check({{{3, 2}, 0, 7}}, [](Builder&, std::vector<Value>& v) { return matmul(kW, v[0]); });
  check({{{4}, 0, 31}}, [](Builder&, std::vector<Value>& v) {
    return dot(v[0], Tensor::vector({1, 2, 3, 4}));
  });
  check({{{2, 4}, 0, 5}}, [](Builder&, std::vector<Value>& v) {
    return gemm(v[0], kW, Tensor::vector({1, 2, 3}), 2, 3);
  });
}

TEST(ExecuteOps, SumAndDataMovement) {
  check({{{2, 3, 2}, -3, 3}}, [](Builder&, std::vector<Value>& v) {
    return sum(v[0], {0, -1}, true);
  });
  check({{{2, 3}, 0, 15}}, [](Builder&, std::vector<Value>& v) {
    Value t = transpose(reshape(v[0], {3, 2}));
    Value s = slice(t, {0, 2}, {2, -4}, {1, -1});
    Value k = take(broadcast_to(reshape(v[0], {1, 6}), {2, 6}), {5, 0, -1}, 1);
    Value p = pad(k, {1, 0}, {0, 2}, 4);
    Value parts[] = {reshape(s, {-1}), reshape(p, {-1})};
    return concatenate(parts, 0);
  });
}

TEST(ExecuteOps, TableLookups) {
  check({{{5}, 0, 15}}, [](Builder&, std::vector<Value>& v) {
    return apply_table(
        v[0], [](std::int64_t x) { return (x * x) % 13 - 4; }, "square_mod");
  });
  check({{{4}, -8, 7}}, [](Builder&, std::vector<Value>& v) {
    return relu(v[0]) + apply_table(v[0], [](std::int64_t x) { return x / 3; });
  });
  check({{{2, 2}, 0, 7}}, [](Builder&, std::vector<Value>& v) {
    std::vector<TableFunction> fs = {{[](std::int64_t x) { return x + 1; }, "inc"},
                                     {[](std::int64_t x) { return 7 - x; }, "rev"}};
    return apply_tables(v[0], fs, {0, 1, 1, 0});
  });
}

TEST(ExecuteOps, EncryptedMultiplicationAndComparisons) {
  check({{{3}, -4, 4}, {{3}, -3, 5}},
        [](Builder&, std::vector<Value>& v) { return multiply(v[0], v[1]); });
  check({{{3}, 0, 7}, {{3}, 0, 7}}, [](Builder&, std::vector<Value>& v) {
    Value parts[] = {less(v[0], v[1]), greater_equal(v[0], v[1]), equal(v[0], v[1]),
                     maximum(v[0], v[1]), minimum(v[0], v[1])};
    return concatenate(parts, 0);
  });
  check({{{3}, 0, 15}}, [](Builder&, std::vector<Value>& v) {
    return less_equal(v[0], Tensor::vector({3, 8, 12}));
  });
}

TEST(ExecuteOps, Rounding) {
  // Exact rounding (by digits here: exact_rounding.h).
  check({{{6}, -60, 60}},
        [](Builder&, std::vector<Value>& v) { return round_bit_pattern(v[0], 3); });
  // Approximate rounding fused into a lookup: reads the 4 kept bits of an 8-bit value.
  check(
      {{{6}, 0, 255}},
      [](Builder&, std::vector<Value>& v) {
        return apply_table(round_bit_pattern(v[0] + 1, 4, RoundingMode::Approximate),
                           [](std::int64_t x) { return x / 16; });
      },
      true);
}

// An accumulator of `width` bits (the sum of two encrypted inputs) rounded exactly to its `kept`
// most significant bits, then looked up: wider than any lookup may read, so by digits. Executed
// with real keys, the rounded values and the lookup equal the clear ones on every element of a
// set of accumulators around both signs' ties (k 2^r + h), their neighbours, zero and the
// extremes; simulated, on every accumulator of the range.
void check_wide_exact_rounding(unsigned width, unsigned kept, std::size_t chunks) {
  const unsigned lsbs = width - kept;
  const std::int64_t h = std::int64_t{1} << (lsbs - 1), step = std::int64_t{1} << lsbs;
  const std::int64_t half_range = (std::int64_t{1} << (width - 2)) - h;  // of each input
  std::set<std::int64_t> targets = {-2 * half_range, 2 * half_range, 0, -1, 1};
  const std::int64_t top = std::int64_t{1} << (kept - 1);
  for (std::int64_t k : {-top + 1, -1L, 0L, 1L, top - 2}) {
    for (std::int64_t d : {-h, -h + 1, -1L, 0L, h - 1, h}) {
      const std::int64_t t = k * step + d;
      if (t >= -2 * half_range && t <= 2 * half_range) targets.insert(t);
    }
  }
  const auto n = static_cast<std::int64_t>(targets.size());
  Builder b;
  Value acc = b.input("a", {n}) + b.input("b", {n});
  Value rounded = round_bit_pattern(acc, lsbs, RoundingMode::Exact);
  b.output(rounded);
  b.output(apply_table(
      rounded, [step](std::int64_t v) { return (v / step) * 3 % 29; }, "mix"));
  const Program program = b.build();
  std::mt19937_64 rng(width);
  std::vector<std::vector<Tensor>> inputset;
  for (int k = 0; k < 20; ++k)
    inputset.push_back(random_tensors(rng, {n}, -half_range, half_range, 2));
  inputset.push_back({Tensor::full({n}, -half_range), Tensor::full({n}, -half_range)});
  inputset.push_back({Tensor::full({n}, half_range), Tensor::full({n}, half_range)});
  const CompiledCircuit c = compile(program, inputset);
  const NodeAnalysis& na = c.analysis().nodes[static_cast<std::size_t>(rounded.id())];
  ASSERT_TRUE(na.rounding_by_digits) << c.describe();
  EXPECT_EQ(na.rounding_chunks.size(), chunks);
  EXPECT_EQ(c.server_program().encodings[static_cast<std::size_t>(acc.id())].width, width);
  EXPECT_EQ(c.statistics().max_table_bits, kept) << c.describe();
  // The targets, split between the two inputs.
  std::vector<std::int64_t> a, bv;
  for (std::int64_t t : targets) {
    a.push_back(t / 2);
    bv.push_back(t - t / 2);
  }
  const std::vector<Tensor> x = {Tensor({1, n}, a), Tensor({1, n}, bv)};
  const auto clear = c.evaluate(x, Mode::Clear);
  for (std::size_t k = 0; k < a.size(); ++k) {  // the clear semantics: ties away from zero
    std::int64_t expected = 0;
    ASSERT_TRUE(detail::round_bit_pattern_value(a[k] + bv[k], lsbs, &expected));
    EXPECT_EQ(clear[0][k], expected);
  }
  const auto executed = c.encrypt_run_decrypt(keys_for(c), x);
  for (std::size_t o = 0; o < clear.size(); ++o)
    for (std::size_t k = 0; k < clear[o].size(); ++k)
      EXPECT_EQ(executed[o][k], clear[o][k]) << "output " << o << ", accumulator " << a[k] + bv[k];
  // Simulation: every accumulator of the range, in batches of n.
  std::vector<std::int64_t> all_a, all_b;
  for (std::int64_t t = -2 * half_range; t <= 2 * half_range; ++t) {
    all_a.push_back(t / 2);
    all_b.push_back(t - t / 2);
  }
  while (all_a.size() % static_cast<std::size_t>(n) != 0) {
    all_a.push_back(0);
    all_b.push_back(0);
  }
  const auto rows = static_cast<std::int64_t>(all_a.size()) / n;
  const std::vector<Tensor> everything = {Tensor({rows, n}, all_a), Tensor({rows, n}, all_b)};
  EXPECT_EQ(c.evaluate(everything, Mode::Simulate, 11), c.evaluate(everything, Mode::Clear));
}

TEST(ExecuteOps, WideAccumulatorsRoundedExactly) {
  check_wide_exact_rounding(12, 6, 1);  // one chunk of 6 bits: 3 bootstraps
  check_wide_exact_rounding(14, 6, 2);  // chunks of 7 and 1 bits: 4 bootstraps
  check_wide_exact_rounding(14, 4, 2);  // chunks of 5 and 5 bits: 5 bootstraps
}

TEST(ExecuteOps, ConvolutionAndPooling) {
  const Tensor w({2, 1, 2, 2}, {1, -1, 2, 0, 0, 1, 1, -2});
  check({{{1, 1, 4, 4}, 0, 7}}, [&](Builder&, std::vector<Value>& v) {
    Conv2dAttr a;
    a.pads = {1, 1, 0, 0};
    return conv2d(v[0], w, Tensor::vector({3, -1}), a);
  });
  check({{{1, 2, 4, 4}, 0, 3}}, [](Builder&, std::vector<Value>& v) { return sum_pool2d(v[0]); });
  check({{{1, 1, 4, 4}, 0, 15}}, [](Builder&, std::vector<Value>& v) { return avg_pool2d(v[0]); });
}

}  // namespace
}  // namespace torusml::circuit::testing
