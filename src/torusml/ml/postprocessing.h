// Post-processing in the clear after decryption and dequantization: the functions that turn the
// real-valued outputs of a linear model into probabilities, class indices or regression targets.
//
//   sigmoid(x)          = 1 / (1 + exp(-x))                  (elementwise, no overflow)
//   softmax(x)[r, k]    = exp(x[r, k] - m_r) / sum_k' exp(x[r, k'] - m_r),  m_r = max_k x[r, k]
//   normalize_rows(p)   = p[r, k] / sum_k' p[r, k']          (rows summing to 0: uniform)
//   argmax(x)[r]        = the first k maximizing x[r, k]     (ties: the lowest index, as numpy)
//   inverse link        : identity, or exp for the log link of Poisson / Gamma / Tweedie models
// Every function throws InvalidArgument for NaN inputs (and argmax for rows without columns).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "torusml/ml/matrix.h"

namespace torusml::ml {

double sigmoid(double x);
Matrix sigmoid(const Matrix& x);
Matrix softmax(const Matrix& x);
Matrix normalize_rows(const Matrix& p);
std::vector<std::int64_t> argmax(const Matrix& x);

/// The link function g of a generalized linear model, y = g^-1(x @ W + b).
enum class Link : std::uint8_t { Identity = 1, Log = 2 };
/// Parses "identity" or "log" (scikit-learn's spellings); InvalidArgument otherwise.
Link parse_link(const std::string& name);
/// g^-1 elementwise: the identity, or exp (overflowing to +inf as numpy.exp does).
Matrix apply_inverse_link(const Matrix& x, Link link);

}  // namespace torusml::ml
