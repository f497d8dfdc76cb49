// Every operation executed under real encryption (fresh keys, real bootstraps) equals its clear
// evaluation, and simulation equals the clear result at the default failure probability.
#include <gtest/gtest.h>

#include <functional>

#include "circuit_test_util.h"
#include "torusml/circuit/frontend/builder.h"

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
  // Exact rounding is a table over the full width.
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
