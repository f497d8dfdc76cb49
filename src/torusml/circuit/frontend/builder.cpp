// Builder, Value, arithmetic, matmul/dot/gemm, sum, table lookups, rounding, conv2d and pools.
// Data movement is in builder_layout.cpp and composite operations in builder_composite.cpp.
#include "torusml/circuit/frontend/builder.h"

#include <algorithm>
#include <limits>
#include <string>

#include "torusml/circuit/frontend/builder_detail.h"
#include "torusml/circuit/ir/messages.h"
#include "torusml/circuit/ir/shape_inference.h"
#include "torusml/common/check.h"

namespace torusml::circuit {

namespace detail {

Builder& builder_of(const Value& v, std::string_view what) {
  if (!v.valid()) {
    fail(what, "an operand is an empty Value; use Values returned by a Builder");
  }
  return v.builder();
}

Builder& common_builder(const std::vector<Operand>& operands, std::string_view what) {
  Builder* builder = nullptr;
  for (const Operand& operand : operands) {
    if (operand.tensor != nullptr) continue;
    Builder& b = builder_of(operand.value, what);
    if (builder != nullptr && builder != &b) {
      fail(what,
           "the operands come from different Builders; trace the whole program with one "
           "Builder");
    }
    builder = &b;
  }
  if (builder == nullptr) fail(what, "at least one operand must be a traced Value");
  return *builder;
}

Value make_node(OpKind op, const std::vector<Operand>& operands, Attributes attributes,
                std::string_view what) {
  Builder& b = common_builder(operands, what);
  std::vector<const Shape*> shapes;
  std::size_t encrypted = 0;
  for (const Operand& operand : operands) {
    if (operand.tensor != nullptr) {
      shapes.push_back(&operand.tensor->shape());
    } else {
      shapes.push_back(&b.node(operand.value.id()).shape);
      if (b.node(operand.value.id()).encrypted) ++encrypted;
    }
  }
  Shape shape = infer_shape(op, shapes, attributes, what);
  const bool is_encrypted = infer_encrypted(op, encrypted, what);
  std::vector<NodeId> inputs;
  for (const Operand& operand : operands) {
    inputs.push_back(operand.tensor != nullptr ? b.constant(*operand.tensor).id()
                                               : operand.value.id());
  }
  return b.add_node(op, std::move(inputs), std::move(attributes), std::move(shape), is_encrypted);
}

std::int64_t normalize_axis(std::int64_t axis, std::size_t rank, std::string_view what) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r) {
    fail(what, "axis ", axis, " is out of range for an operand of rank ", rank,
         " (axes must be in [", -r, ", ", r, "))");
  }
  return axis < 0 ? axis + r : axis;
}

Value table_lookup(Value x, std::vector<TableFunction> tables,
                   std::vector<std::int32_t> element_table, std::string_view what) {
  return make_node(OpKind::TableLookup, {x}, TableAttr{std::move(tables), std::move(element_table)},
                   what);
}

}  // namespace detail

namespace {

using detail::fail;
using detail::make_node;

// t * factor, elementwise, for folding gemm's alpha and beta into clear operands.
Tensor scale_tensor(const Tensor& t, std::int64_t factor, const char* name) {
  Tensor result = t;
  for (std::int64_t& v : result.values()) {
    if (__builtin_mul_overflow(v, factor, &v)) {
      fail("gemm", name, " * ", factor, " overflows int64; use smaller coefficients");
    }
  }
  return result;
}

Tensor transpose_matrix(const Tensor& t) {
  const std::int64_t rows = t.shape()[0], columns = t.shape()[1];
  Tensor result = Tensor::zeros({columns, rows});
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < columns; ++c) {
      result[static_cast<std::size_t>(c * rows + r)] = t[static_cast<std::size_t>(r * columns + c)];
    }
  }
  return result;
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Value and Builder

const Shape& Value::shape() const {
  return detail::builder_of(*this, "Value::shape").node(id_).shape;
}

bool Value::encrypted() const {
  return detail::builder_of(*this, "Value::encrypted").node(id_).encrypted;
}

Value Builder::input(std::string name, Shape shape, bool encrypted) {
  if (name.empty()) fail("Builder::input", "an input needs a non-empty name");
  for (NodeId id : program_.inputs) {
    if (std::get<InputAttr>(node(id).attributes).name == name) {
      fail("Builder::input", "an input named '", name, "' already exists; names must be unique");
    }
  }
  try {
    element_count(shape);
  } catch (const InvalidArgument& e) {
    fail("Builder::input", "input '", name, "': ", e.what());
  }
  Value v = add_node(OpKind::Input, {}, InputAttr{std::move(name), encrypted}, std::move(shape),
                     encrypted);
  program_.inputs.push_back(v.id());
  return v;
}

Value Builder::constant(Tensor value) {
  Shape shape = value.shape();
  return add_node(OpKind::Constant, {}, ConstantAttr{std::move(value)}, std::move(shape), false);
}

void Builder::output(Value v) {
  if (&detail::builder_of(v, "Builder::output") != this) {
    fail("Builder::output",
         "the value was traced by another Builder; trace the whole program "
         "with one Builder");
  }
  program_.outputs.push_back(v.id());
}

Program Builder::build() const {
  Program program = program_;
  program.validate();
  return program;
}

Value Builder::add_node(OpKind op, std::vector<NodeId> inputs, Attributes attributes, Shape shape,
                        bool encrypted) {
  const auto id = static_cast<NodeId>(program_.nodes.size());
  TORUSML_CHECK(
      program_.nodes.size() < static_cast<std::size_t>(std::numeric_limits<NodeId>::max()),
      "too many nodes");
  for (NodeId input : inputs) TORUSML_CHECK(input >= 0 && input < id, "operand %" << input);
  Node node;
  node.op = op;
  node.inputs = std::move(inputs);
  node.attributes = std::move(attributes);
  node.shape = std::move(shape);
  node.encrypted = encrypted;
  node.label = std::string(to_string(op)) + "_" + std::to_string(id);
  program_.nodes.push_back(std::move(node));
  return Value(this, id);
}

// ----------------------------------------------------------------------------------------------
// Arithmetic

Value operator+(Value x, Value y) {
  return make_node(OpKind::Add, {x, y}, {}, "add (operator+)");
}
Value operator+(Value x, const Tensor& y) {
  return make_node(OpKind::Add, {x, y}, {}, "add (operator+)");
}
Value operator+(const Tensor& x, Value y) {
  return make_node(OpKind::Add, {x, y}, {}, "add (operator+)");
}
Value operator+(Value x, std::int64_t y) {
  return x + Tensor::scalar(y);
}
Value operator+(std::int64_t x, Value y) {
  return Tensor::scalar(x) + y;
}

Value operator-(Value x, Value y) {
  return make_node(OpKind::Sub, {x, y}, {}, "sub (operator-)");
}
Value operator-(Value x, const Tensor& y) {
  return make_node(OpKind::Sub, {x, y}, {}, "sub (operator-)");
}
Value operator-(const Tensor& x, Value y) {
  return make_node(OpKind::Sub, {x, y}, {}, "sub (operator-)");
}
Value operator-(Value x, std::int64_t y) {
  return x - Tensor::scalar(y);
}
Value operator-(std::int64_t x, Value y) {
  return Tensor::scalar(x) - y;
}
Value operator-(Value x) {
  return make_node(OpKind::Neg, {x}, {}, "neg (operator-)");
}

Value operator*(Value x, Value y) {
  return make_node(OpKind::Mul, {x, y}, {}, "mul (operator*)");
}
Value operator*(Value x, const Tensor& y) {
  return make_node(OpKind::Mul, {x, y}, {}, "mul (operator*)");
}
Value operator*(const Tensor& x, Value y) {
  return make_node(OpKind::Mul, {x, y}, {}, "mul (operator*)");
}
Value operator*(Value x, std::int64_t y) {
  return x * Tensor::scalar(y);
}
Value operator*(std::int64_t x, Value y) {
  return Tensor::scalar(x) * y;
}

// ----------------------------------------------------------------------------------------------
// Products and reductions

Value matmul(Value x, Value y) {
  return make_node(OpKind::MatMul, {x, y}, {}, "matmul");
}
Value matmul(Value x, const Tensor& w) {
  return make_node(OpKind::MatMul, {x, w}, {}, "matmul");
}
Value matmul(const Tensor& w, Value x) {
  return make_node(OpKind::MatMul, {w, x}, {}, "matmul");
}

Value dot(Value x, const Tensor& w) {
  detail::builder_of(x, "dot");
  if (x.shape().size() != 1 || w.rank() != 1) {
    fail("dot", "both operands must be 1-D, got shapes ", shape_to_string(x.shape()), " and ",
         shape_to_string(w.shape()), "; use matmul() for higher ranks");
  }
  return make_node(OpKind::MatMul, {x, w}, {}, "dot");
}

Value gemm(Value a, const Tensor& b, std::optional<Tensor> c, std::int64_t alpha, std::int64_t beta,
           bool transpose_a, bool transpose_b) {
  detail::builder_of(a, "gemm");
  if (a.shape().size() != 2 || b.rank() != 2) {
    fail("gemm", "a and b must be 2-D, got shapes ", shape_to_string(a.shape()), " and ",
         shape_to_string(b.shape()), "; use matmul() for other ranks");
  }
  const Shape& sa = a.shape();
  const std::int64_t m = transpose_a ? sa[1] : sa[0], k_a = transpose_a ? sa[0] : sa[1];
  const std::int64_t k_b = transpose_b ? b.shape()[1] : b.shape()[0];
  const std::int64_t n = transpose_b ? b.shape()[0] : b.shape()[1];
  if (k_a != k_b) {
    fail("gemm", "op(a) is ", m, "x", k_a, " and op(b) is ", k_b, "x", n, " (shapes ",
         shape_to_string(sa), " and ", shape_to_string(b.shape()), ", transpose_a = ", transpose_a,
         ", transpose_b = ", transpose_b, "); their inner extents must match");
  }
  const bool use_c = c.has_value() && beta != 0;
  if (use_c && detail::broadcast_shapes(c->shape(), {m, n}, "gemm") != Shape{m, n}) {
    fail("gemm", "c of shape ", shape_to_string(c->shape()),
         " cannot be broadcast to the result shape ", shape_to_string({m, n}));
  }
  // alpha * (op(a) @ op(b)) == op(a) @ (alpha * op(b)): fold the clear factors into the weights.
  Tensor weights = transpose_b ? transpose_matrix(b) : b;
  if (alpha != 1) weights = scale_tensor(weights, alpha, "alpha * b");
  Tensor bias = use_c ? scale_tensor(*c, beta, "beta * c") : Tensor();
  Value lhs = transpose_a ? make_node(OpKind::Transpose, {a}, TransposeAttr{{1, 0}}, "gemm") : a;
  Value y = make_node(OpKind::MatMul, {lhs, weights}, {}, "gemm");
  return use_c ? make_node(OpKind::Add, {y, bias}, {}, "gemm") : y;
}

Value sum(Value x, std::vector<std::int64_t> axes, bool keepdims) {
  const std::size_t rank = detail::builder_of(x, "sum").node(x.id()).shape.size();
  for (std::int64_t& axis : axes) axis = detail::normalize_axis(axis, rank, "sum");
  std::vector<std::int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    fail("sum", "axes ", detail::list_str(axes), " (normalised) repeat an axis; list each once");
  }
  return make_node(OpKind::Sum, {x}, SumAttr{std::move(sorted), keepdims}, "sum");
}

// ----------------------------------------------------------------------------------------------
// Table lookups and rounding

Value apply_table(Value x, Function f, std::string name) {
  if (!f) fail("apply_table", "the function is empty; pass a callable");
  return detail::table_lookup(x, {TableFunction{std::move(f), std::move(name)}}, {}, "apply_table");
}

Value apply_tables(Value x, std::vector<TableFunction> tables,
                   std::vector<std::int32_t> element_table) {
  return detail::table_lookup(x, std::move(tables), std::move(element_table), "apply_tables");
}

Value round_bit_pattern(Value x, std::int64_t lsbs_to_remove, RoundingMode mode) {
  return make_node(OpKind::Round, {x}, RoundAttr{lsbs_to_remove, mode}, "round_bit_pattern");
}

// ----------------------------------------------------------------------------------------------
// Convolution and pooling

Value conv2d(Value x, const Tensor& weights, std::optional<Tensor> bias, Conv2dAttr attributes) {
  if (bias.has_value()) {
    return make_node(OpKind::Conv2d, {x, weights, *bias}, std::move(attributes), "conv2d");
  }
  return make_node(OpKind::Conv2d, {x, weights}, std::move(attributes), "conv2d");
}

Value sum_pool2d(Value x, Pool2dAttr attributes) {
  return make_node(OpKind::SumPool2d, {x}, std::move(attributes), "sum_pool2d");
}

}  // namespace torusml::circuit
