// Clear evaluation of programs: exact int64 arithmetic, the reference semantics of every
// operation, used to measure value ranges at compile time and by the "clear" execution mode.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit {

/// Called with every node's value during an evaluation (e.g. to record its range).
using NodeObserver = std::function<void(NodeId, const Tensor&)>;

/// Evaluates `program` on one tensor per program input (shapes must match: InvalidArgument
/// otherwise, naming the input). Round nodes round as RoundAttr says (both modes exactly);
/// table nodes call their functions. An int64 overflow throws InvalidArgument naming the node.
std::vector<Tensor> evaluate_clear(const Program& program, std::span<const Tensor> inputs,
                                   const NodeObserver& observe = {});

/// The value of a single node from its input values (the per-op reference implementation).
Tensor evaluate_node(const Node& node, std::span<const Tensor* const> inputs);

}  // namespace torusml::circuit
