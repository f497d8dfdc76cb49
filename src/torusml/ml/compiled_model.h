// What the ml layer's compiled models share: a compiled circuit with its keys, held immutable and
// swapped atomically by compile(), and the encrypted execution of a batch in bounded memory.
#pragma once

#include <cstdint>
#include <memory>

#include "torusml/circuit/compiler.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::ml {

/// A model's compiled circuit and keys; immutable once built (models hold it through a
/// shared_ptr<const CompiledModel> replaced with atomic_store, so runs keep the one they started
/// with).
struct CompiledModel {
  circuit::CompiledCircuit circuit;
  circuit::KeySet keys;
};

/// *model; throws InvalidArgument ("not compiled: call compile(X)") if it is null.
const CompiledModel& require_compiled(const CompiledModel* model);

/// The circuit of `model`, sharing its ownership (it outlives a later recompilation); null if
/// `model` is null.
std::shared_ptr<const circuit::CompiledCircuit> shared_circuit_of(
    std::shared_ptr<const CompiledModel> model);

/// `inputs` (rows, columns) through the model's one-input, one-output circuit in Simulate mode
/// (with `simulation_seed`) or Execute mode (execute_in_chunks). Throws InvalidArgument for
/// Clear (the models evaluate their own integer semantics) or a null model.
circuit::Tensor run_compiled(const CompiledModel* model, const circuit::Tensor& inputs,
                             circuit::Mode mode, std::uint64_t simulation_seed);

/// Encrypts, runs and decrypts `inputs` (rows, columns) through a one-input, one-output circuit:
/// (rows, *output shape). The batch runs in chunks of at most 512 KiB of input ciphertexts, one
/// chunk per core at a time (the runtime's own loops run serially inside a pool worker), so memory
/// stays bounded for any batch and buffers small enough for the allocator to reuse; with fewer
/// chunks than cores it runs as one batch, whose lookups the runtime spreads over every core.
circuit::Tensor execute_in_chunks(const CompiledModel& model, const circuit::Tensor& inputs);

}  // namespace torusml::ml
