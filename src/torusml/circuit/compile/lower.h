// Lowering: from a program and its input set to what the runtime executes. analyze_program
// measures ranges and widths; the parameters come from the optimizer (or the presets); every node
// becomes an instruction (tables materialized over their PBS indices); the client specification
// and the circuit statistics are derived from the same choices.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/optimizer/optimizer.h"

namespace torusml::circuit {

struct CompileOptions {
  /// Failure probability of each PBS (Concrete's p_error); ignored if global_p_error is set.
  double p_error = 0x1.0p-40;
  /// Failure probability of a whole circuit evaluation (Concrete's global_p_error).
  std::optional<double> global_p_error;
  /// Widest table input accepted.
  unsigned max_table_bits = 10;
  /// Declared value ranges (node -> range), unioned with the ranges measured on the input set
  /// (see AnalysisOptions::range_hints): sound bounds for values the input set cannot reach.
  std::map<NodeId, ValueRange> range_hints;
  /// Bounds of the parameter search.
  OptimizerOptions optimizer;
  /// Where circuits with bootstraps get their parameters: the optimizer, falling back to the
  /// engine's presets if its search fails (Optimizer); or the cheapest preset that meets the
  /// requirements (Presets).
  enum class ParameterSource : std::uint8_t { Optimizer = 1, Presets = 2 };
  ParameterSource parameter_source = ParameterSource::Optimizer;
  /// Evaluate table lookups that read the same encrypted value with one many-LUT bootstrap per
  /// element where the circuit's widest read allows it (compile/many_lut.h).
  bool many_lut = true;
  /// Give lookups of different precisions their own parameter sets (compile/partition.h) when the
  /// cost model finds it at least `multi_parameter_gain` times cheaper per sample than one set
  /// (the extra keys cost key generation and transfer). Optimizer parameter source only.
  bool multi_parameter = true;
  double multi_parameter_gain = 1.15;
  /// Encrypt the inputs under the small key where the circuit allows it and the cost model finds
  /// it cheaper (compile/small_key_inputs.h): lookups on fresh inputs skip the keyswitch.
  /// Optimizer parameter source only; single-parameter circuits.
  bool small_key_inputs = true;
};

/// The products of compilation, before they are wrapped in a CompiledCircuit (compiler.h).
struct LoweredCircuit {
  ServerProgram server;
  ClientSpecification client;
  ProgramAnalysis analysis;
  CircuitStatistics statistics;
};

/// Measures `program` over `inputset`, chooses the parameters and lowers it. Throws CompileError
/// (op, measured range, fix) or InvalidArgument (bad input set).
LoweredCircuit lower_program(const Program& program, std::span<const std::vector<Tensor>> inputset,
                             const CompileOptions& options = {});

}  // namespace torusml::circuit
