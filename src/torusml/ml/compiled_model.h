// What the ml layer's compiled models share: a compiled circuit with its keys, held immutable and
// swapped atomically by compile(), and the encrypted execution of a batch in bounded memory.
#pragma once

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

/// Encrypts, runs and decrypts `inputs` (rows, columns) through a one-input, one-output circuit:
/// (rows, *output shape). The batch runs in chunks of at most 512 KiB of input ciphertexts, one
/// chunk per core at a time (the runtime's own loops run serially inside a pool worker), so memory
/// stays bounded for any batch and buffers small enough for the allocator to reuse; with fewer
/// chunks than cores it runs as one batch, whose lookups the runtime spreads over every core.
circuit::Tensor execute_in_chunks(const CompiledModel& model, const circuit::Tensor& inputs);

}  // namespace torusml::ml
