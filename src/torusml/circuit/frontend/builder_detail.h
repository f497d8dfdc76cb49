// Tracing helpers shared by the builder's source files (internal header).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "torusml/circuit/frontend/builder.h"

namespace torusml::circuit::detail {

/// An operand of a node being traced: a traced Value or a clear Tensor. A Tensor becomes a
/// Constant node only once the whole node has been checked, so that a rejected operation leaves
/// the Builder unchanged.
struct Operand {
  Operand(Value v) : value(v) {}            // NOLINT: implicit by design
  Operand(const Tensor& t) : tensor(&t) {}  // NOLINT: implicit by design
  Value value;
  const Tensor* tensor = nullptr;
};

/// The builder of v; throws InvalidArgument (naming `what`) if v is an empty handle.
Builder& builder_of(const Value& v, std::string_view what);

/// The builder shared by the Value operands; throws InvalidArgument if there is none, if one is an
/// empty handle or if they come from different Builders.
Builder& common_builder(const std::vector<Operand>& operands, std::string_view what);

/// Checks and appends a primitive node: shapes and encryption inferred from the operands
/// (InvalidArgument naming `what` on any inconsistency), Tensor operands added as constants.
Value make_node(OpKind op, const std::vector<Operand>& operands, Attributes attributes,
                std::string_view what);

/// An axis in [-rank, rank) mapped to [0, rank); throws InvalidArgument otherwise.
std::int64_t normalize_axis(std::int64_t axis, std::size_t rank, std::string_view what);

/// apply_tables with the operation named `what` in messages.
Value table_lookup(Value x, std::vector<TableFunction> tables,
                   std::vector<std::int32_t> element_table, std::string_view what);

}  // namespace torusml::circuit::detail
