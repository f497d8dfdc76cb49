// Clear post-processing: sigmoid, softmax, row normalization, argmax and inverse links.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "torusml/common/error.h"
#include "torusml/ml/postprocessing.h"

namespace torusml::ml {
namespace {

TEST(Postprocessing, SigmoidIsStableAtTheExtremes) {
  EXPECT_DOUBLE_EQ(sigmoid(0.0), 0.5);
  EXPECT_DOUBLE_EQ(sigmoid(1000.0), 1.0);
  EXPECT_DOUBLE_EQ(sigmoid(-1000.0), 0.0);
  EXPECT_NEAR(sigmoid(2.0) + sigmoid(-2.0), 1.0, 1e-15);
  const Matrix m = sigmoid(Matrix(1, 3, {-1.0, 0.0, 1.0}));
  EXPECT_NEAR(m(0, 0), 1.0 / (1.0 + std::exp(1.0)), 1e-15);
  EXPECT_THROW(sigmoid(std::numeric_limits<double>::quiet_NaN()), InvalidArgument);
}

TEST(Postprocessing, SoftmaxRowsSumToOne) {
  const Matrix p = softmax(Matrix(2, 3, {1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0}));
  for (std::size_t r = 0; r < 2; ++r) EXPECT_NEAR(p(r, 0) + p(r, 1) + p(r, 2), 1.0, 1e-12);
  EXPECT_NEAR(p(0, 2), std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)), 1e-12);
  EXPECT_DOUBLE_EQ(p(1, 0), 0.5);
  EXPECT_DOUBLE_EQ(p(1, 2), 0.0);
  const double inf = std::numeric_limits<double>::infinity();
  const Matrix q = softmax(Matrix(1, 3, {inf, 0.0, inf}));
  EXPECT_DOUBLE_EQ(q(0, 0), 0.5);
  EXPECT_DOUBLE_EQ(q(0, 1), 0.0);
}

TEST(Postprocessing, NormalizeRowsMakesZeroRowsUniform) {
  const Matrix p = normalize_rows(Matrix(2, 2, {1.0, 3.0, 0.0, 0.0}));
  EXPECT_DOUBLE_EQ(p(0, 0), 0.25);
  EXPECT_DOUBLE_EQ(p(0, 1), 0.75);
  EXPECT_DOUBLE_EQ(p(1, 0), 0.5);
}

TEST(Postprocessing, ArgmaxTakesTheFirstMaximum) {
  const Matrix x(3, 3, {0.0, 2.0, 2.0, -1.0, -5.0, -1.0, 3.0, 1.0, 2.0});
  EXPECT_EQ(argmax(x), (std::vector<std::int64_t>{1, 0, 0}));
  EXPECT_THROW(argmax(Matrix(2, 0)), InvalidArgument);
  EXPECT_THROW(argmax(Matrix(1, 2, {0.0, std::numeric_limits<double>::quiet_NaN()})),
               InvalidArgument);
}

TEST(Postprocessing, InverseLinks) {
  const Matrix x(1, 2, {0.0, 1.0});
  EXPECT_EQ(apply_inverse_link(x, Link::Identity), x);
  const Matrix e = apply_inverse_link(x, parse_link("log"));
  EXPECT_DOUBLE_EQ(e(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(e(0, 1), std::exp(1.0));
  EXPECT_EQ(parse_link("identity"), Link::Identity);
  EXPECT_THROW(parse_link("logit"), InvalidArgument);
}

TEST(Matrix, ShapesAndChecks) {
  EXPECT_THROW(Matrix(2, 2, {1.0}), InvalidArgument);
  EXPECT_THROW(Matrix::from_rows({{1.0, 2.0}, {3.0}}), InvalidArgument);
  const Matrix m = Matrix::from_rows({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  EXPECT_EQ(m.transposed()(2, 1), 6.0);
  EXPECT_EQ(m.at(1, 0), 4.0);
  EXPECT_THROW(m.at(2, 0), InvalidArgument);
  EXPECT_EQ(shape_to_string(m), "(2, 3)");
  EXPECT_THROW(require_finite(Matrix(1, 1, {std::numeric_limits<double>::infinity()}), "X"),
               InvalidArgument);
  const Matrix t = to_matrix(circuit::Tensor({1, 2}, {3, -4}));
  EXPECT_EQ(t(0, 1), -4.0);
}

}  // namespace
}  // namespace torusml::ml
