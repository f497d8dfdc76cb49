// Gemm, MatMul, BatchNormalization, Softmax and LogSoftmax against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "model_builder.h"
#include "torusml/common/error.h"

namespace torusml::onnx {
namespace {

using namespace testing;

const FloatTensor kA = T({2, 3}, {1, 2, 3, 4, 5, 6});
const FloatTensor kB = T({3, 2}, {1, 0, 0, 1, 1, 1});

TEST(OpsLinear, SoftmaxAndLogSoftmaxAlongOneAxis) {
  const FloatTensor x = T({2, 2}, {0, 2, 1, 1});
  const double e2 = std::exp(2.0), e1 = std::exp(1.0);
  expect_near(run_op1("Softmax", {{x}}),  // axis -1: rows
              T({2, 2}, {1 / (1 + e2), e2 / (1 + e2), 0.5, 0.5}));
  expect_near(run_op1("LogSoftmax", {{x}}),
              T({2, 2}, {-std::log(1 + e2), 2 - std::log(1 + e2), std::log(0.5), std::log(0.5)}));
  expect_near(run_op1("Softmax", {{x}}, [](auto& n) { set_int(n, "axis", 0); }),  // columns
              T({2, 2}, {1 / (1 + e1), e2 / (e2 + e1), e1 / (1 + e1), e1 / (e2 + e1)}));
}

TEST(OpsLinear, GemmPlain) {
  expect_near(run_op1("Gemm", {{kA}, constant(kB)}), T({2, 2}, {4, 5, 10, 11}));
  expect_near(run_op1("Gemm", {{kA}, constant(kB), constant(T({2}, {10, 20}))}),
              T({2, 2}, {14, 25, 20, 31}));
  // C of shape (2, 1) broadcast over columns.
  expect_near(run_op1("Gemm", {{kA}, constant(kB), constant(T({2, 1}, {1, 2}))}),
              T({2, 2}, {5, 6, 12, 13}));
}

TEST(OpsLinear, GemmTransposesAndScales) {
  const FloatTensor bt = T({2, 3}, {1, 0, 1, 0, 1, 1});
  expect_near(run_op1("Gemm", {{kA}, constant(bt)}, [](auto& n) { set_int(n, "transB", 1); }),
              T({2, 2}, {4, 5, 10, 11}));
  const FloatTensor at = T({3, 2}, {1, 4, 2, 5, 3, 6});
  expect_near(run_op1("Gemm", {{at}, constant(kB), constant(T({2}, {10, 20}))},
                      [](auto& n) {
                        set_int(n, "transA", 1);
                        set_float(n, "alpha", 2.0f);
                        set_float(n, "beta", 0.5f);
                      }),
              T({2, 2}, {13, 20, 25, 32}));
}

TEST(OpsLinear, MatMulNumpySemantics) {
  const FloatTensor m = T({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_near(run_op1("MatMul", {{T({2}, {1, 2})}, constant(m)}), T({3}, {9, 12, 15}));
  expect_near(run_op1("MatMul", {{T({2, 2}, {1, 2, 3, 4})}, constant(T({2}, {1, 1}))}),
              T({2}, {3, 7}));
  // Batched (2, 2, 2) x (2, 2), the matrix broadcast over the batch.
  expect_near(run_op1("MatMul", {{T({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})},
                                 constant(T({2, 2}, {1, 1, 0, 1}))}),
              T({2, 2, 2}, {1, 3, 3, 7, 5, 11, 7, 15}));
  // Both batched, with broadcasting batch dimensions (2, 1) and (3).
  const FloatTensor a = T({2, 1, 1, 1}, {1, 2});
  const FloatTensor b = T({3, 1, 1}, {1, 10, 100});
  expect_near(run_op1("MatMul", {{a}, {b}}), T({2, 3, 1, 1}, {1, 10, 100, 2, 20, 200}));
}

TEST(OpsLinear, MatMulRejectsMismatchedInnerDimensions) {
  EXPECT_THROW(run_op1("MatMul", {{T({2, 3}, {1, 2, 3, 4, 5, 6})}, constant(T({2}, {1, 1}))}),
               Error);
}

TEST(OpsLinear, BatchNormalizationInference) {
  const FloatTensor x = T({1, 2, 1, 2}, {1, 2, 3, 4});
  expect_near(run_op1("BatchNormalization",
                      {{x},
                       constant(T({2}, {1, 2})),
                       constant(T({2}, {0, 1})),
                       constant(T({2}, {1, 3})),
                       constant(T({2}, {3, 0}))},
                      [](auto& n) { set_float(n, "epsilon", 1.0f); }),
              T({1, 2, 1, 2}, {0, 0.5, 1, 3}));
  // 2-D input (N, C), the default epsilon.
  expect_near(run_op1("BatchNormalization", {{T({2, 1}, {2, 4})},
                                             constant(T({1}, {1})),
                                             constant(T({1}, {0})),
                                             constant(T({1}, {0})),
                                             constant(T({1}, {1}))}),
              T({2, 1}, {2 / std::sqrt(1 + 1e-5), 4 / std::sqrt(1 + 1e-5)}), 1e-6);
}

}  // namespace
}  // namespace torusml::onnx
