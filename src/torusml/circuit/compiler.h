// Compilation of integer programs to FHE circuits, and the three execution modes.
//
//   circuit::CompiledCircuit c = circuit::compile(program, inputset);   // measure, choose params
//   std::cout << c.describe();                                           // statistics
//   auto y  = c.evaluate(x, circuit::Mode::Clear);                        // exact integers
//   auto ys = c.evaluate(x, circuit::Mode::Simulate);                     // + PBS noise, no crypto
//   auto keys = c.generate_keys();                                        // client + evaluation
//   auto ye = c.encrypt_run_decrypt(keys, x);                             // real FHE
//
// Inputs of every mode are batched: one tensor per program input, of shape (batch, *input_shape).
// Rows of a batch are independent samples; the runtime spreads samples and elements over every
// core. The input set of compile() is a list of samples, each one tensor per program input
// (without the batch axis).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/compile/lower.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/runtime/runtime.h"
#include "torusml/tfhe/random.h"

namespace torusml::circuit {

enum class Mode : std::uint8_t { Clear = 1, Simulate = 2, Execute = 3 };

/// Parses "disable"/"clear", "simulate", "execute" (the Python spelling); InvalidArgument else.
Mode parse_mode(const std::string& name);

class CompiledCircuit {
 public:
  CompiledCircuit() = default;
  CompiledCircuit(ServerProgram server, ClientSpecification client, ProgramAnalysis analysis,
                  CircuitStatistics statistics);

  const ServerProgram& server_program() const { return server_; }
  const ClientSpecification& client_specification() const { return client_; }
  const ProgramAnalysis& analysis() const { return analysis_; }
  const CircuitStatistics& statistics() const { return statistics_; }
  const CircuitParameters& parameters() const { return server_.parameters; }
  /// Multi-line statistics: PBS count, widths, parameters, estimated cost and latency, key sizes.
  std::string describe() const;

  /// Clear or simulated evaluation of a batch. Values that leave the range measured at compile
  /// time (so would wrap under encryption) throw InvalidArgument naming the operation.
  std::vector<Tensor> evaluate(std::span<const Tensor> batched_inputs, Mode mode,
                               std::uint64_t simulation_seed = 0) const;

  KeySet generate_keys(const tfhe::Seed& seed = tfhe::random_seed()) const;
  /// Encrypts the batch, runs it under encryption with the evaluation keys, decrypts.
  std::vector<Tensor> encrypt_run_decrypt(const KeySet& keys,
                                          std::span<const Tensor> batched_inputs) const;

 private:
  ServerProgram server_;
  ClientSpecification client_;
  ProgramAnalysis analysis_;
  CircuitStatistics statistics_;
};

/// Measures `program` over `inputset`, chooses the parameters and lowers it. Throws CompileError
/// (op, measured range, fix) or InvalidArgument (bad input set).
CompiledCircuit compile(const Program& program, std::span<const std::vector<Tensor>> inputset,
                        const CompileOptions& options = {});

}  // namespace torusml::circuit
