// The clear and simulated execution modes: the server program's instructions run on integers.
//
// Clear: exact integers with the program's semantics; a value that does not fit the encoding
// measured at compile time (so would wrap under encryption) throws InvalidArgument naming the
// operation, the value and the range. Simulate: the same, but every bootstrap reads its input
// with Gaussian noise of the variance the chosen parameters give (so it picks a neighbouring
// table entry with the modelled probability, negacyclically beyond the last one), outputs get
// their decryption noise, and values wrap as under encryption instead of being reported.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/ir/tensor.h"

namespace torusml::circuit {

/// Runs a batch (one tensor per program input, shape (batch, *input_shape)); returns one batched
/// tensor per output. Parallel over samples.
std::vector<Tensor> interpret(const ServerProgram& program, const ClientSpecification& spec,
                              std::span<const Tensor> batched_inputs, bool simulate,
                              std::uint64_t seed);

/// Checks one batched argument against its specification and splits it into samples
/// (InvalidArgument naming the input on a shape mismatch). Shared with the FHE runtime.
std::vector<Tensor> split_batch(const Tensor& batched, const Shape& sample_shape,
                                const std::string& name);
/// The batch size of a list of batched arguments (all equal; InvalidArgument otherwise).
std::size_t batch_size_of(std::span<const Tensor> batched_inputs, const ClientSpecification& spec);

/// round(v / 2^k) with ties away from zero (the clear semantics of rounding).
std::int64_t round_shift(std::int64_t v, unsigned k);

}  // namespace torusml::circuit
