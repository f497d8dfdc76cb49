// Many-LUT fusion: table lookups that read the same encrypted value evaluated by one bootstrap
// per element (tfhe/many_lut.h, PBSmanyLUT).
//
// Which lookups. Encrypted TableLookup nodes whose input is the same node read the same
// ciphertexts element by element (a lookup is elementwise), through the same source, offset and
// fused rounding: one bootstrap can serve all of them, its test polynomial packing their tables
// (each node's per-element table choice included). With p the bits each table reads (the
// input's class width minus a fused rounding's bits, NodeAnalysis::pbs_precision) and c lookups,
// theta = ceil(log2 c), the bootstrap is for the noise budget a read of p + theta bits
// (tfhe/many_lut.h: exactly a p-bit read with the modulus switch to 2N / 2^theta, bounded by the
// (p + theta)-bit read) and needs N >= 2^(p + theta + 1).
//
// Rule. Let W be the circuit's widest bootstrap read (the largest precision of its unfused
// requirements). Lookups of one input are grouped, in program order, by up to 2^(W - p): every
// group's read, p + theta, stays within W, so the circuit keeps one parameter set of W bits
// (N >= 2^(W+1) already). A group of one is an ordinary lookup; an input read at W bits is never
// fused. The fused read is an optimizer requirement of precision p + theta on the input's
// variance, counted once per element for the whole group, replacing the group's c requirements.
//
// Decision (choose_many_lut_parameters). A group whose fused requirement is implied by an
// unfused one (precision at least p + theta and noise weights at least the input's) cannot make
// the parameters costlier: it is always fused. The others (inputs noisier than the widest
// read's) could: the parameters are chosen with all groups fused and with the implied ones only,
// and the plan with the lower estimated cost (seconds per bootstrap times bootstraps) kept.
//
// Lowering (lower.cpp). The first lookup of a group (its leader) keeps a Bootstrap instruction
// and runs the many-LUT bootstrap, output j for the group's j-th lookup; the others get
// FusedLookup instructions naming the leader (BootstrapInstruction::fused_into), with their own
// tables for the clear and simulated modes. Every member's noise_std_lsb is that of the p-bit
// read with the coarser modulus switch, its log2_p_error the (p + theta)-bit read's, counted once
// per element of the group in the circuit's failure probability.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/optimizer/optimizer.h"

namespace torusml::circuit {

/// Table lookups evaluated by one many-LUT bootstrap per element.
struct ManyLutGroup {
  /// The TableLookup nodes, in program order (all read the same input node); output j of the
  /// bootstrap is lookups[j]'s, lookups[0] (the leader) runs it.
  std::vector<NodeId> lookups;
  unsigned input_bits = 0;  // p: the bits each table reads
  unsigned log2_slots = 0;  // theta = ceil(log2 lookups.size())
  std::uint64_t elements = 0;
  /// The precision of the fused read, p + theta.
  unsigned read_bits() const { return input_bits + log2_slots; }
};

struct ManyLutPlan {
  std::vector<ManyLutGroup> groups;
  bool empty() const { return groups.empty(); }
  /// The group of each of the program's `nodes` nodes (-1: not fused).
  std::vector<std::int32_t> group_of(std::size_t nodes) const;
  /// Lookups evaluated in groups, and the bootstraps they take, per sample.
  std::uint64_t fused_lookups() const;
  std::uint64_t bootstraps() const;
};

/// The groups of the rule above (every candidate, before the decision).
ManyLutPlan find_many_lut_groups(const Program& program, const ProgramAnalysis& analysis);

/// analysis.pbs_requirements with each group's requirements replaced by one: precision p + theta,
/// the input's weights, the group's element count.
std::vector<PbsRequirement> many_lut_requirements(const ProgramAnalysis& analysis,
                                                  const ManyLutPlan& plan);

/// The groups of `plan` whose fused requirement is implied by an unfused requirement.
ManyLutPlan implied_many_lut_groups(const ProgramAnalysis& analysis, const ManyLutPlan& plan);

struct ManyLutChoice {
  ManyLutPlan plan;  // the groups kept (empty: no fusion)
  OptimizerResult parameters;
};

/// The decision above: `choose` returns the parameters for a list of PBS requirements (the
/// optimizer or the presets; it throws CompileError when none fit). Throws what `choose` throws
/// on the unfused requirements.
ManyLutChoice choose_many_lut_parameters(
    const ProgramAnalysis& analysis, const ManyLutPlan& candidates,
    const std::function<OptimizerResult(std::span<const PbsRequirement>)>& choose);

}  // namespace torusml::circuit
