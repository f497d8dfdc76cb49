#include "torusml/ml/compiled_model.h"

#include <algorithm>
#include <vector>

#include "torusml/circuit/runtime/chunked_run.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"
#include "torusml/common/thread_pool.h"

namespace torusml::ml {

const CompiledModel& require_compiled(const CompiledModel* model) {
  if (model == nullptr)
    throw InvalidArgument("the model is not compiled: call compile(X) with representative data");
  return *model;
}

std::shared_ptr<const circuit::CompiledCircuit> shared_circuit_of(
    std::shared_ptr<const CompiledModel> model) {
  if (!model) return nullptr;
  const circuit::CompiledCircuit* target = &model->circuit;
  return std::shared_ptr<const circuit::CompiledCircuit>(std::move(model), target);
}

circuit::Tensor run_compiled(const CompiledModel* model, const circuit::Tensor& inputs,
                             circuit::Mode mode, std::uint64_t simulation_seed) {
  if (model == nullptr)
    throw InvalidArgument(
        "the model is not compiled: call compile(X) with representative data before running in "
        "simulation or under FHE");
  if (mode == circuit::Mode::Simulate) {
    const circuit::Tensor batch[] = {inputs};
    return std::move(
        model->circuit.evaluate(batch, circuit::Mode::Simulate, simulation_seed).at(0));
  }
  if (mode != circuit::Mode::Execute)
    throw InvalidArgument("run_compiled runs the simulate and execute modes only");
  return execute_in_chunks(*model, inputs);
}

circuit::Tensor execute_in_chunks(const CompiledModel& model, const circuit::Tensor& inputs) {
  TORUSML_CHECK_EQ(inputs.rank(), 2u);
  const auto rows = static_cast<std::size_t>(inputs.shape()[0]);
  const auto columns = static_cast<std::size_t>(inputs.shape()[1]);
  // Rows per chunk (each chunk runs on one core), by the server's rule (circuit::rows_per_chunk):
  // the largest ciphertext of the circuit's partitions in LWE form, and as encrypted (PBS
  // circuits: packed, k + 1 values of a GLWE per input).
  const circuit::CircuitParameters& params = model.circuit.parameters();
  std::size_t widest = 0, widest_packed = 0;
  for (std::size_t q = 0; q < params.partition_count(); ++q) {
    widest = std::max(widest, params.encryption_dimension(static_cast<std::uint32_t>(q)).value());
    widest_packed = std::max(
        widest_packed, params.uses_pbs
                           ? params.input_glwe_dimension(static_cast<std::uint32_t>(q)).value()
                           : params.encryption_dimension().value());
  }
  const std::size_t chunk = circuit::rows_per_chunk(
      columns * (widest + 1) * sizeof(tfhe::Torus),
      columns * (widest_packed + 1) * sizeof(tfhe::Torus), model.circuit.statistics().pbs_count);
  const std::size_t chunks = (rows + chunk - 1) / chunk;
  if (chunks < default_thread_pool().size()) {
    const circuit::Tensor batch[] = {inputs};
    return std::move(model.circuit.encrypt_run_decrypt(model.keys, batch).at(0));
  }
  std::vector<circuit::Tensor> parts(chunks);
  const auto all = inputs.values();
  parallel_for(chunks, [&](std::size_t c) {
    const std::size_t start = c * chunk, count = std::min(chunk, rows - start);
    const auto first = all.begin() + static_cast<std::ptrdiff_t>(start * columns);
    const circuit::Tensor batch[] = {circuit::Tensor(
        {static_cast<std::int64_t>(count), static_cast<std::int64_t>(columns)},
        std::vector<std::int64_t>(first, first + static_cast<std::ptrdiff_t>(count * columns)))};
    parts[c] = std::move(model.circuit.encrypt_run_decrypt(model.keys, batch).at(0));
  });
  circuit::Shape shape = parts[0].shape();
  shape[0] = static_cast<std::int64_t>(rows);
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(circuit::element_count(shape)));
  for (const auto& p : parts) out.insert(out.end(), p.values().begin(), p.values().end());
  return circuit::Tensor(std::move(shape), std::move(out));
}

}  // namespace torusml::ml
