// Elementwise operators: activations and math functions, broadcasting arithmetic, comparisons and
// logic, Where, Clip, Cast, QuantizeLinear and DequantizeLinear.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "torusml/onnx/ops.h"

namespace torusml::onnx::detail {

namespace {

using Unary = std::function<double(double)>;

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

Unary unary_function(const OpContext& ctx) {
  const Node& n = ctx.node;
  const std::string& op = n.op_type;
  if (op == "Identity" || op == "Dropout") return [](double x) { return x; };
  if (op == "Neg") return [](double x) { return -x; };
  if (op == "Abs") return [](double x) { return std::fabs(x); };
  if (op == "Sign") return [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); };
  if (op == "Relu") return [](double x) { return x > 0 ? x : 0.0; };
  if (op == "LeakyRelu") {
    const double a = n.float_attribute("alpha", 0.01);
    return [a](double x) { return x >= 0 ? x : a * x; };
  }
  if (op == "Elu") {
    const double a = n.float_attribute("alpha", 1.0);
    return [a](double x) { return x >= 0 ? x : a * std::expm1(x); };
  }
  if (op == "Selu") {
    const double a = n.float_attribute("alpha", 1.67326319217681884765625);
    const double g = n.float_attribute("gamma", 1.05070102214813232421875);
    return [a, g](double x) { return x > 0 ? g * x : g * a * std::expm1(x); };
  }
  if (op == "Celu") {
    const double a = n.float_attribute("alpha", 1.0);
    if (a == 0) ctx.fail("alpha must be non-zero");
    return [a](double x) { return std::max(0.0, x) + std::min(0.0, a * std::expm1(x / a)); };
  }
  if (op == "Sigmoid") return sigmoid;
  if (op == "HardSigmoid") {
    const double a = n.float_attribute("alpha", 0.2);
    const double b = n.float_attribute("beta", 0.5);
    return [a, b](double x) { return std::clamp(a * x + b, 0.0, 1.0); };
  }
  if (op == "HardSwish") return [](double x) { return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0); };
  if (op == "ThresholdedRelu") {
    const double a = n.float_attribute("alpha", 1.0);
    return [a](double x) { return x > a ? x : 0.0; };
  }
  if (op == "Tanh") return [](double x) { return std::tanh(x); };
  if (op == "Softplus")
    return [](double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); };
  if (op == "Softsign") return [](double x) { return x / (1.0 + std::fabs(x)); };
  if (op == "Erf") return [](double x) { return std::erf(x); };
  if (op == "Gelu") {
    const std::string approx = n.string_attribute("approximate", "none");
    if (approx == "tanh") {
      return [](double x) {
        const double c = std::sqrt(2.0 / std::numbers::pi);
        return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
      };
    }
    if (approx != "none") ctx.unsupported("approximate='" + approx + "'");
    return [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); };
  }
  if (op == "Exp") return [](double x) { return std::exp(x); };
  if (op == "Log") return [](double x) { return std::log(x); };
  if (op == "Sqrt") return [](double x) { return std::sqrt(x); };
  if (op == "Reciprocal") return [](double x) { return 1.0 / x; };
  if (op == "Floor") return [](double x) { return std::floor(x); };
  if (op == "Ceil") return [](double x) { return std::ceil(x); };
  if (op == "Round") return [](double x) { return std::nearbyint(x); };
  if (op == "Not") return [](double x) { return x == 0 ? 1.0 : 0.0; };
  if (op == "Sin") return [](double x) { return std::sin(x); };
  if (op == "Cos") return [](double x) { return std::cos(x); };
  if (op == "Tan") return [](double x) { return std::tan(x); };
  if (op == "Asin") return [](double x) { return std::asin(x); };
  if (op == "Acos") return [](double x) { return std::acos(x); };
  if (op == "Atan") return [](double x) { return std::atan(x); };
  if (op == "Sinh") return [](double x) { return std::sinh(x); };
  if (op == "Cosh") return [](double x) { return std::cosh(x); };
  if (op == "Asinh") return [](double x) { return std::asinh(x); };
  if (op == "Acosh") return [](double x) { return std::acosh(x); };
  if (op == "Atanh") return [](double x) { return std::atanh(x); };
  ctx.unsupported("operator " + op);
}

std::vector<FloatTensor> eval_unary(const OpContext& ctx) {
  const Unary f = unary_function(ctx);
  FloatTensor out = ctx.input(0);
  for (double& v : out.data()) v = f(v);
  if (ctx.node.op_type == "Dropout") {
    if (ctx.node.int_attribute("training_mode", 0) != 0 ||
        (ctx.has_input(2) && ctx.input(2).size() == 1 && ctx.input(2)[0] != 0))
      ctx.unsupported("Dropout in training mode");
    FloatTensor mask(out.shape(), std::vector<double>(out.size(), 1.0));
    return {std::move(out), std::move(mask)};
  }
  return {std::move(out)};
}

using Binary = double (*)(double, double);

Binary binary_function(const OpContext& ctx) {
  const std::string& op = ctx.node.op_type;
  const bool integer = is_integer(ctx.input_type(0));
  if (op == "Add" || op == "Sum") return [](double a, double b) { return a + b; };
  if (op == "Sub") return [](double a, double b) { return a - b; };
  if (op == "Mul") return [](double a, double b) { return a * b; };
  if (op == "Div") {
    if (integer) return [](double a, double b) { return b == 0 ? 0.0 : std::trunc(a / b); };
    return [](double a, double b) { return a / b; };
  }
  if (op == "Pow") {
    if (integer) return [](double a, double b) { return std::trunc(std::pow(a, b)); };
    return [](double a, double b) { return std::pow(a, b); };
  }
  if (op == "Max") return [](double a, double b) { return std::isnan(a) || a >= b ? a : b; };
  if (op == "Min") return [](double a, double b) { return std::isnan(a) || a <= b ? a : b; };
  if (op == "PRelu") return [](double x, double s) { return x >= 0 ? x : s * x; };
  if (op == "Greater") return [](double a, double b) { return a > b ? 1.0 : 0.0; };
  if (op == "GreaterOrEqual") return [](double a, double b) { return a >= b ? 1.0 : 0.0; };
  if (op == "Less") return [](double a, double b) { return a < b ? 1.0 : 0.0; };
  if (op == "LessOrEqual") return [](double a, double b) { return a <= b ? 1.0 : 0.0; };
  if (op == "Equal") return [](double a, double b) { return a == b ? 1.0 : 0.0; };
  if (op == "And") return [](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; };
  if (op == "Or") return [](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; };
  if (op == "Xor") return [](double a, double b) { return (a != 0) != (b != 0) ? 1.0 : 0.0; };
  ctx.unsupported("operator " + op);
}

FloatTensor broadcast_binary(const OpContext& ctx, const FloatTensor& a, const FloatTensor& b,
                             Binary f) {
  if (a.shape() == b.shape()) {
    FloatTensor out = a;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = f(a[i], b[i]);
    return out;
  }
  const Shape shapes[2] = {a.shape(), b.shape()};
  FloatTensor out = ctx.allocate(broadcast_shapes(ctx, shapes));
  for_each_broadcast(out.shape(), shapes, [&](std::int64_t i, std::span<const std::int64_t> o) {
    out[static_cast<std::size_t>(i)] =
        f(a[static_cast<std::size_t>(o[0])], b[static_cast<std::size_t>(o[1])]);
  });
  return out;
}

std::vector<FloatTensor> eval_binary(const OpContext& ctx) {
  const Binary f = binary_function(ctx);
  FloatTensor out = broadcast_binary(ctx, ctx.input(0), ctx.input(1), f);
  if (ctx.node.op_type == "PRelu" && out.shape() != ctx.input(0).shape())
    ctx.fail("its slope of shape " + shape_to_string(ctx.input(1).shape()) +
             " does not broadcast to its input's shape " + shape_to_string(ctx.input(0).shape()));
  return {std::move(out)};
}

// Max, Min, Sum, Mean: any number of inputs, broadcast together.
std::vector<FloatTensor> eval_variadic(const OpContext& ctx) {
  const bool mean = ctx.node.op_type == "Mean";
  const Binary f = mean ? [](double a, double b) { return a + b; } : binary_function(ctx);
  FloatTensor acc = ctx.input(0);
  for (std::size_t i = 1; i < ctx.input_count(); ++i)
    acc = broadcast_binary(ctx, acc, ctx.input(i), f);
  if (mean)
    for (double& v : acc.data()) v /= static_cast<double>(ctx.input_count());
  return {std::move(acc)};
}

std::vector<FloatTensor> eval_where(const OpContext& ctx) {
  const FloatTensor& c = ctx.input(0);
  const FloatTensor& x = ctx.input(1);
  const FloatTensor& y = ctx.input(2);
  const Shape shapes[3] = {c.shape(), x.shape(), y.shape()};
  FloatTensor out = ctx.allocate(broadcast_shapes(ctx, shapes));
  for_each_broadcast(out.shape(), shapes, [&](std::int64_t i, std::span<const std::int64_t> o) {
    out[static_cast<std::size_t>(i)] = c[static_cast<std::size_t>(o[0])] != 0
                                           ? x[static_cast<std::size_t>(o[1])]
                                           : y[static_cast<std::size_t>(o[2])];
  });
  return {std::move(out)};
}

std::vector<FloatTensor> eval_clip(const OpContext& ctx) {
  const double lo = ctx.node.float_attribute("min", -INFINITY);
  const double hi = ctx.node.float_attribute("max", INFINITY);
  FloatTensor out = ctx.input(0);
  for (double& v : out.data()) v = std::min(std::max(v, lo), hi);
  return {std::move(out)};
}

// The value of a double stored as the integer type t: truncated, then wrapped (two's complement)
// for the types narrower than 64 bits, saturated for the 64-bit ones.
double cast_to_integer(double v, ElementType t) {
  if (t == ElementType::Bool) return v != 0 ? 1.0 : 0.0;
  if (std::isnan(v)) return 0.0;
  const double x = std::trunc(v);
  if (t == ElementType::Int64 || t == ElementType::UInt64)
    return std::clamp(x, type_min(t), type_max(t));
  const double span = type_max(t) - type_min(t) + 1.0;
  if (!std::isfinite(x)) return 0.0;
  double r = std::fmod(x - type_min(t), span);
  if (r < 0) r += span;
  return r + type_min(t);
}

std::vector<FloatTensor> eval_cast(const OpContext& ctx) {
  const ElementType to = element_type_from_onnx(ctx.node.int_attribute("to", 1));
  FloatTensor out = ctx.input(0);
  if (is_integer(to))
    for (double& v : out.data()) v = cast_to_integer(v, to);
  return {std::move(out)};
}

// Per-tensor or per-axis parameter p (scalar or 1-D of the size of x's axis) at x's index i.
struct AxisParameter {
  const FloatTensor* p;
  std::int64_t inner = 1;
  std::int64_t dim = 1;
  double at(std::size_t i) const {
    if (p->size() == 1) return (*p)[0];
    return (*p)[static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % dim)];
  }
};

AxisParameter axis_parameter(const OpContext& ctx, const FloatTensor& x, const FloatTensor& p,
                             const char* what) {
  AxisParameter a{&p};
  if (p.size() == 1 && p.rank() <= 1) return a;
  if (p.rank() != 1)
    ctx.fail(std::string("its ") + what + " must be a scalar or a 1-D tensor, not of shape " +
             shape_to_string(p.shape()));
  const std::size_t axis = normalize_axis(ctx, ctx.node.int_attribute("axis", 1), x.rank());
  if (x.dim(axis) != p.dim(0))
    ctx.fail(std::string("its per-axis ") + what + " has " + std::to_string(p.dim(0)) +
             " values for an axis of size " + std::to_string(x.dim(axis)));
  a.dim = x.dim(axis);
  for (std::size_t d = axis + 1; d < x.rank(); ++d) a.inner *= x.dim(d);
  return a;
}

std::vector<FloatTensor> eval_quantize(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const FloatTensor& scale = ctx.input(1);
  const FloatTensor zero = FloatTensor::scalar(0.0);
  const FloatTensor& zp = ctx.has_input(2) ? ctx.input(2) : zero;
  const ElementType t = ctx.has_input(2) ? ctx.input_type(2) : ElementType::UInt8;
  if (!is_integer(t) || t == ElementType::Bool)
    ctx.unsupported("a zero point of type " + to_string(t));
  const AxisParameter s = axis_parameter(ctx, x, scale, "scale");
  const AxisParameter z = axis_parameter(ctx, x, zp, "zero point");
  FloatTensor out = x;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double q = std::nearbyint(x[i] / s.at(i)) + z.at(i);
    out[i] = std::isnan(q) ? z.at(i) : std::clamp(q, type_min(t), type_max(t));
  }
  return {std::move(out)};
}

std::vector<FloatTensor> eval_dequantize(const OpContext& ctx) {
  const FloatTensor& x = ctx.input(0);
  const FloatTensor zero = FloatTensor::scalar(0.0);
  const FloatTensor& zp = ctx.has_input(2) ? ctx.input(2) : zero;
  const AxisParameter s = axis_parameter(ctx, x, ctx.input(1), "scale");
  const AxisParameter z = axis_parameter(ctx, x, zp, "zero point");
  FloatTensor out = x;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = (x[i] - z.at(i)) * s.at(i);
  return {std::move(out)};
}

}  // namespace

void register_elementwise_ops(OpTable& t) {
  for (const char* op : {"Identity",
                         "Neg",
                         "Abs",
                         "Sign",
                         "Relu",
                         "LeakyRelu",
                         "Elu",
                         "Selu",
                         "Celu",
                         "Sigmoid",
                         "HardSigmoid",
                         "HardSwish",
                         "ThresholdedRelu",
                         "Tanh",
                         "Softplus",
                         "Softsign",
                         "Erf",
                         "Gelu",
                         "Exp",
                         "Log",
                         "Sqrt",
                         "Reciprocal",
                         "Floor",
                         "Ceil",
                         "Round",
                         "Not",
                         "Sin",
                         "Cos",
                         "Tan",
                         "Asin",
                         "Acos",
                         "Atan",
                         "Sinh",
                         "Cosh",
                         "Asinh",
                         "Acosh",
                         "Atanh"})
    t[op] = {eval_unary, 1, 1};
  t["Dropout"] = {eval_unary, 1, 3};
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Greater", "GreaterOrEqual",
                         "Less", "LessOrEqual", "Equal", "And", "Or", "Xor"})
    t[op] = {eval_binary, 2, 2};
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) t[op] = {eval_variadic, 1, 1024};
  t["Where"] = {eval_where, 3, 3};
  t["Clip"] = {eval_clip, 1, 1};
  t["Cast"] = {eval_cast, 1, 1};
  t["QuantizeLinear"] = {eval_quantize, 2, 3};
  t["DequantizeLinear"] = {eval_dequantize, 2, 3};
}

}  // namespace torusml::onnx::detail
