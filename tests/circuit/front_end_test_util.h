// Helpers for the tests of the circuit front end (builder, program, clear evaluation).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/error.h"

namespace torusml::circuit::testing {

/// Runs f, which must throw InvalidArgument whose message contains every one of `needles`.
template <class F>
void expect_invalid(F&& f, std::initializer_list<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument mentioning '" << *needles.begin() << "'";
  } catch (const InvalidArgument& e) {
    const std::string message = e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "message '" << message << "' lacks '" << needle << "'";
    }
  }
}

/// A tensor of `shape` with values uniform in [lo, hi].
inline Tensor random_tensor(std::mt19937_64& rng, const Shape& shape, std::int64_t lo,
                            std::int64_t hi) {
  std::uniform_int_distribution<std::int64_t> d(lo, hi);
  std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(shape)));
  for (auto& x : v) x = d(rng);
  return Tensor(shape, std::move(v));
}

/// 0, 1, 2, ... (plus `start`) in a tensor of `shape`.
inline Tensor iota(const Shape& shape, std::int64_t start = 0) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(element_count(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<std::int64_t>(i);
  return Tensor(shape, std::move(v));
}

/// Marks y as the next output, builds (and so validates) the program, evaluates it and returns
/// y's value.
inline Tensor run(Builder& b, Value y, const std::vector<Tensor>& inputs) {
  b.output(y);
  const Program p = b.build();
  return evaluate_clear(p, inputs).back();
}

/// A multi-index.
using Index = std::vector<std::int64_t>;

/// The multi-index of a row-major flat index in `shape`.
inline Index unravel(std::int64_t flat, const Shape& shape) {
  Index index(shape.size());
  for (std::size_t i = shape.size(); i > 0; --i) {
    index[i - 1] = flat % shape[i - 1];
    flat /= shape[i - 1];
  }
  return index;
}

/// The row-major flat index of a multi-index in `shape`.
inline std::int64_t ravel(const Index& index, const Shape& shape) {
  std::int64_t flat = 0;
  for (std::size_t i = 0; i < shape.size(); ++i) flat = flat * shape[i] + index[i];
  return flat;
}

/// t's element at a multi-index.
inline std::int64_t at(const Tensor& t, const Index& index) {
  return t[static_cast<std::size_t>(ravel(index, t.shape()))];
}

/// t's element read at `index` of a broadcast shape (aligned right, extents of 1 repeated).
inline std::int64_t broadcast_at(const Tensor& t, const Index& index) {
  Index own(t.rank());
  for (std::size_t i = 0; i < t.rank(); ++i) {
    const std::int64_t v = index[index.size() - t.rank() + i];
    own[i] = t.shape()[i] == 1 ? 0 : v;
  }
  return at(t, own);
}

/// numpy's broadcast shape of two compatible shapes (reference, no checks).
inline Shape broadcast_shape(const Shape& a, const Shape& b) {
  Shape r(std::max(a.size(), b.size()));
  for (std::size_t i = 0; i < r.size(); ++i) {
    const std::int64_t ea = i < a.size() ? a[a.size() - 1 - i] : 1;
    const std::int64_t eb = i < b.size() ? b[b.size() - 1 - i] : 1;
    r[r.size() - 1 - i] = ea == 1 ? eb : ea;
  }
  return r;
}

/// Evaluates f(builder, x) on the single input x (encrypted or clear).
inline Tensor run1(const std::function<Value(Builder&, Value)>& f, const Tensor& x,
                   bool encrypted = true) {
  Builder b;
  Value in = b.input("x", x.shape(), encrypted);
  return run(b, f(b, in), {x});
}

}  // namespace torusml::circuit::testing
