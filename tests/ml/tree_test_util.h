// Helpers for the tree-ensemble tests: random data and random float trees, and the float model's
// reference evaluation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <vector>

#include "torusml/ml/tree_model.h"
#include "torusml/tfhe/random.h"

namespace torusml::ml::testing {

/// rows x cols uniform values, column j in [j - 1, j + 2 * (j + 1)) (different ranges).
inline Matrix random_data(std::mt19937_64& rng, std::size_t rows, std::size_t cols) {
  Matrix m(rows, cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < cols; ++j) {
      const double lo = static_cast<double>(j) - 1, hi = lo + 2.0 * static_cast<double>(j + 1);
      m(r, j) = std::uniform_real_distribution<double>(lo, hi)(rng);
    }
  return m;
}

/// A random tree of depth at most `depth` (full when leaf_probability is 0) whose thresholds are
/// values of x's columns (or midpoints of two), leaf values uniform in [-1, 1) (or 0 for the
/// outputs not in `live_outputs`, if given).
inline DecisionTree random_tree(std::mt19937_64& rng, unsigned depth, const Matrix& x,
                                std::size_t n_outputs, double leaf_probability = 0.0,
                                std::vector<std::size_t> live_outputs = {}) {
  DecisionTree t;
  std::vector<std::vector<double>> values;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::function<std::int64_t(unsigned)> grow = [&](unsigned d) -> std::int64_t {
    const auto self = static_cast<std::int64_t>(t.feature.size());
    t.feature.push_back(-1);
    t.threshold.push_back(-2.0);
    t.left.push_back(-1);
    t.right.push_back(-1);
    values.emplace_back(n_outputs, 0.0);
    const auto s = static_cast<std::size_t>(self);
    if (d == 0 || (d < depth && unit(rng) < leaf_probability)) {
      for (std::size_t k = 0; k < n_outputs; ++k) {
        const bool live =
            live_outputs.empty() ||
            std::find(live_outputs.begin(), live_outputs.end(), k) != live_outputs.end();
        values[s][k] = live ? 2.0 * unit(rng) - 1.0 : 0.0;
      }
      return self;
    }
    const std::size_t f = rng() % x.cols();
    const double a = x(rng() % x.rows(), f), b = x(rng() % x.rows(), f);
    t.feature[s] = static_cast<std::int64_t>(f);
    t.threshold[s] = rng() % 2 ? a : (a + b) / 2;
    const std::int64_t l = grow(d - 1);
    const std::int64_t r = grow(d - 1);
    t.left[s] = l;
    t.right[s] = r;
    return self;
  };
  grow(depth);
  t.value = Matrix(values.size(), n_outputs);
  for (std::size_t i = 0; i < values.size(); ++i)
    for (std::size_t k = 0; k < n_outputs; ++k) t.value(i, k) = values[i][k];
  return t;
}

/// The leaf the float tree reaches for one sample.
inline std::size_t float_leaf(const DecisionTree& t, std::span<const double> x, SplitRule rule) {
  std::size_t node = 0;
  while (t.left[node] != -1) {
    const double v = x[static_cast<std::size_t>(t.feature[node])];
    const bool left = rule == SplitRule::LessEqual ? v <= t.threshold[node] : v < t.threshold[node];
    node = static_cast<std::size_t>(left ? t.left[node] : t.right[node]);
  }
  return node;
}

inline tfhe::Seed test_seed() {
  tfhe::Seed s{};
  s.fill(0x42);
  return s;
}

}  // namespace torusml::ml::testing
