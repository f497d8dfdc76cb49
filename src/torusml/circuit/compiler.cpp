#include "torusml/circuit/compiler.h"

#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/common/error.h"

namespace torusml::circuit {

Mode parse_mode(const std::string& name) {
  if (name == "disable" || name == "clear") return Mode::Clear;
  if (name == "simulate") return Mode::Simulate;
  if (name == "execute") return Mode::Execute;
  throw InvalidArgument("unknown FHE mode '" + name +
                        "': use \"disable\", \"simulate\" or \"execute\"");
}

CompiledCircuit::CompiledCircuit(ServerProgram server, ClientSpecification client,
                                 ProgramAnalysis analysis, CircuitStatistics statistics)
    : server_(std::move(server)),
      client_(std::move(client)),
      analysis_(std::move(analysis)),
      statistics_(std::move(statistics)) {}

std::string CompiledCircuit::describe() const {
  return statistics_.to_string(server_.parameters);
}

std::vector<Tensor> CompiledCircuit::evaluate(std::span<const Tensor> batched_inputs, Mode mode,
                                              std::uint64_t simulation_seed) const {
  if (mode == Mode::Execute)
    throw InvalidArgument(
        "evaluate() runs the clear or simulated modes; use encrypt_run_decrypt() to execute in "
        "FHE");
  return interpret(server_, client_, batched_inputs, mode == Mode::Simulate, simulation_seed);
}

KeySet CompiledCircuit::generate_keys(const tfhe::Seed& seed) const {
  KeySet keys;
  keys.client = generate_client_keys(server_.parameters, tfhe::derive_seed(seed, 1));
  keys.evaluation = generate_evaluation_keys(keys.client, tfhe::derive_seed(seed, 2));
  keys.evaluation.expand();
  return keys;
}

std::vector<Tensor> CompiledCircuit::encrypt_run_decrypt(
    const KeySet& keys, std::span<const Tensor> batched_inputs) const {
  const RunArguments args = encrypt_inputs(keys.client, client_, batched_inputs);
  const std::vector<EncryptedTensor> out = run(server_, args, keys.evaluation);
  return decrypt_outputs(keys.client, client_, out);
}

CompiledCircuit compile(const Program& program, std::span<const std::vector<Tensor>> inputset,
                        const CompileOptions& options) {
  LoweredCircuit l = lower_program(program, inputset, options);
  return CompiledCircuit(std::move(l.server), std::move(l.client), std::move(l.analysis),
                         std::move(l.statistics));
}

}  // namespace torusml::circuit
