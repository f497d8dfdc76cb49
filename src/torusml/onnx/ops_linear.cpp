// Linear operators: Gemm, MatMul (numpy semantics, batched and broadcast) and
// BatchNormalization (inference form); and the normalizations along one axis that end
// classifiers: Softmax and LogSoftmax (opset 13 semantics: one axis, default -1; for older opsets
// they agree with it on the usual 2-D (batch, classes) inputs).
#include <algorithm>
#include <cmath>
#include <limits>

#include "torusml/onnx/ops.h"

namespace torusml::onnx::detail {

namespace {

std::vector<FloatTensor> eval_gemm(const OpContext& ctx) {
  const FloatTensor& a = ctx.input(0);
  const FloatTensor& b = ctx.input(1);
  if (a.rank() != 2 || b.rank() != 2)
    ctx.fail("A and B must be 2-D, not of shapes " + shape_to_string(a.shape()) + " and " +
             shape_to_string(b.shape()));
  const bool ta = ctx.node.int_attribute("transA", 0) != 0;
  const bool tb = ctx.node.int_attribute("transB", 0) != 0;
  const double alpha = ctx.node.float_attribute("alpha", 1.0);
  const double beta = ctx.node.float_attribute("beta", 1.0);
  const std::int64_t m = ta ? a.dim(1) : a.dim(0);
  const std::int64_t k = ta ? a.dim(0) : a.dim(1);
  const std::int64_t kb = tb ? b.dim(1) : b.dim(0);
  const std::int64_t n = tb ? b.dim(0) : b.dim(1);
  if (k != kb)
    ctx.fail("inner dimensions differ: A is " + shape_to_string(a.shape()) +
             (ta ? " (transposed)" : "") + ", B is " + shape_to_string(b.shape()) +
             (tb ? " (transposed)" : ""));
  FloatTensor y = ctx.allocate({m, n});
  const auto A = [&](std::int64_t i, std::int64_t j) {
    return a[static_cast<std::size_t>(ta ? j * m + i : i * k + j)];
  };
  const auto B = [&](std::int64_t i, std::int64_t j) {
    return b[static_cast<std::size_t>(tb ? j * k + i : i * n + j)];
  };
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t p = 0; p < k; ++p) {
      const double av = alpha * A(i, p);
      if (av == 0) continue;
      double* row = &y[static_cast<std::size_t>(i * n)];
      for (std::int64_t j = 0; j < n; ++j) row[j] += av * B(p, j);
    }
  if (ctx.has_input(2) && beta != 0) {
    const FloatTensor& c = ctx.input(2);
    const Shape shapes[2] = {y.shape(), c.shape()};
    if (broadcast_shapes(ctx, shapes) != y.shape())
      ctx.fail("C of shape " + shape_to_string(c.shape()) + " does not broadcast to " +
               shape_to_string(y.shape()));
    for_each_broadcast(y.shape(), shapes, [&](std::int64_t i, std::span<const std::int64_t> o) {
      y[static_cast<std::size_t>(i)] += beta * c[static_cast<std::size_t>(o[1])];
    });
  }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_matmul(const OpContext& ctx) {
  FloatTensor a = ctx.input(0);
  FloatTensor b = ctx.input(1);
  if (a.rank() == 0 || b.rank() == 0) ctx.fail("its inputs must have rank >= 1");
  const bool a_vec = a.rank() == 1;
  const bool b_vec = b.rank() == 1;
  if (a_vec) a = a.reshaped({1, a.dim(0)});
  if (b_vec) b = b.reshaped({b.dim(0), 1});
  const std::int64_t m = a.dim(a.rank() - 2);
  const std::int64_t k = a.dim(a.rank() - 1);
  const std::int64_t n = b.dim(b.rank() - 1);
  if (b.dim(b.rank() - 2) != k)
    ctx.fail("inner dimensions differ: " + shape_to_string(ctx.input(0).shape()) + " x " +
             shape_to_string(ctx.input(1).shape()));
  const Shape batch_shapes[2] = {Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2)};
  Shape out_shape = broadcast_shapes(ctx, batch_shapes);
  const Shape batch = out_shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  FloatTensor y = ctx.allocate(out_shape);
  const std::int64_t a_mat = m * k;
  const std::int64_t b_mat = k * n;
  const std::int64_t y_mat = m * n;
  for_each_broadcast(batch, batch_shapes, [&](std::int64_t bi, std::span<const std::int64_t> o) {
    const double* pa = &a.data()[static_cast<std::size_t>(o[0] * a_mat)];
    const double* pb = b.data().data() + o[1] * b_mat;
    double* py = y.data().data() + bi * y_mat;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t p = 0; p < k; ++p) {
        const double av = pa[i * k + p];
        for (std::int64_t j = 0; j < n; ++j) py[i * n + j] += av * pb[p * n + j];
      }
  });
  Shape final_shape = batch;
  if (!a_vec) final_shape.push_back(m);
  if (!b_vec) final_shape.push_back(n);
  return {y.reshaped(final_shape)};
}

std::vector<FloatTensor> eval_batch_normalization(const OpContext& ctx) {
  if (ctx.node.int_attribute("training_mode", 0) != 0)
    ctx.unsupported("BatchNormalization in training mode");
  FloatTensor y = ctx.input(0);
  if (y.rank() < 2) ctx.fail("its input must have rank >= 2 (N, C, ...)");
  const std::int64_t c = y.dim(1);
  for (std::size_t i = 1; i <= 4; ++i)
    if (ctx.input(i).size() != static_cast<std::size_t>(c))
      ctx.fail("input " + std::to_string(i) + " must hold " + std::to_string(c) +
               " values (one per channel), not " + std::to_string(ctx.input(i).size()));
  const double eps = ctx.node.float_attribute("epsilon", 1e-5);
  const FloatTensor& scale = ctx.input(1);
  const FloatTensor& bias = ctx.input(2);
  const FloatTensor& mean = ctx.input(3);
  const FloatTensor& var = ctx.input(4);
  std::int64_t inner = 1;
  for (std::size_t d = 2; d < y.rank(); ++d) inner *= y.dim(d);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const auto ch = static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % c);
    y[i] = scale[ch] * (y[i] - mean[ch]) / std::sqrt(var[ch] + eps) + bias[ch];
  }
  return {std::move(y)};
}

// exp(x - max) / sum, along one axis (LogSoftmax: its logarithm, computed as x - max - log sum).
std::vector<FloatTensor> eval_softmax(const OpContext& ctx, bool log) {
  const FloatTensor& x = ctx.input(0);
  FloatTensor y = ctx.allocate(x.shape());
  if (x.rank() == 0) ctx.fail("its input must have rank >= 1");
  const std::size_t axis = normalize_axis(ctx, ctx.node.int_attribute("axis", -1), x.rank());
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (std::size_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const std::int64_t n = x.dim(axis);
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      const auto at = [&](std::int64_t k) {
        return static_cast<std::size_t>((o * n + k) * inner + i);
      };
      double top = -std::numeric_limits<double>::infinity();
      for (std::int64_t k = 0; k < n; ++k) top = std::max(top, x[at(k)]);
      double sum = 0;
      for (std::int64_t k = 0; k < n; ++k) sum += std::exp(x[at(k)] - top);
      for (std::int64_t k = 0; k < n; ++k)
        y[at(k)] = log ? x[at(k)] - top - std::log(sum) : std::exp(x[at(k)] - top) / sum;
    }
  return {std::move(y)};
}

std::vector<FloatTensor> eval_softmax(const OpContext& ctx) {
  return eval_softmax(ctx, false);
}
std::vector<FloatTensor> eval_log_softmax(const OpContext& ctx) {
  return eval_softmax(ctx, true);
}

}  // namespace

void register_linear_ops(OpTable& t) {
  t["Softmax"] = {eval_softmax, 1, 1};
  t["LogSoftmax"] = {eval_log_softmax, 1, 1};
  t["Gemm"] = {eval_gemm, 2, 3};
  t["MatMul"] = {eval_matmul, 2, 2};
  t["BatchNormalization"] = {eval_batch_normalization, 5, 5};
}

}  // namespace torusml::onnx::detail
