#include "torusml/circuit/compile/small_key_inputs.h"

#include <algorithm>

#include "torusml/circuit/compile/linear_map.h"
#include "torusml/common/error.h"

namespace torusml::circuit {

std::vector<char> small_key_region(const Program& program) {
  std::vector<char> region(program.nodes.size(), 0);
  for (std::size_t i = 0; i < program.nodes.size(); ++i) {
    const Node& n = program.nodes[i];
    if (!n.encrypted) continue;
    if (n.op == OpKind::Input) {
      region[i] = 1;
      continue;
    }
    const bool alias = is_fused_rounding(program, static_cast<NodeId>(i));
    if (!alias && !is_linear_op(n)) continue;
    bool all = true, any = false;
    for (NodeId in : n.inputs) {
      if (!program.node(in).encrypted) continue;
      any = true;
      all = all && region[static_cast<std::size_t>(in)];
    }
    region[i] = any && all ? 1 : 0;
  }
  return region;
}

bool allows_small_key_inputs(const Program& program, const ProgramAnalysis& analysis) {
  const std::vector<char> region = small_key_region(program);
  bool any_lookup = false;
  for (std::size_t i = 0; i < program.nodes.size(); ++i) {
    const Node& n = program.nodes[i];
    if (!n.encrypted || region[i]) continue;
    // A reader outside the region: it must be a lookup through one bootstrap.
    bool reads_region = false;
    for (NodeId in : n.inputs) reads_region = reads_region || region[static_cast<std::size_t>(in)];
    if (!reads_region) continue;
    const bool lookup = (n.op == OpKind::TableLookup || n.op == OpKind::Round) &&
                        !analysis.nodes[i].rounding_by_digits &&
                        !is_fused_rounding(program, static_cast<NodeId>(i));
    if (!lookup) return false;
    any_lookup = true;
  }
  for (NodeId out : program.outputs)
    if (region[static_cast<std::size_t>(out)]) return false;
  return any_lookup;
}

std::optional<SmallKeyChoice> choose_small_key_inputs(const Program& program,
                                                      const ProgramAnalysis& analysis,
                                                      const OptimizerOptions& options,
                                                      double current_batched_seconds) {
  if (analysis.pbs_requirements.empty() || !allows_small_key_inputs(program, analysis))
    return std::nullopt;
  const std::vector<char> region = small_key_region(program);
  std::vector<PbsRequirement> reqs = analysis.pbs_requirements;
  std::uint64_t bootstraps = 0, keyswitched = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].small_key_input = region[static_cast<std::size_t>(analysis.pbs_sources[i])] != 0;
    bootstraps += reqs[i].count;
    if (!reqs[i].small_key_input) keyswitched += reqs[i].count;
  }
  SmallKeyChoice choice;
  try {
    choice.result = optimize_pbs_parameters(reqs, analysis.output_requirements, options);
  } catch (const CompileError&) {
    return std::nullopt;  // e.g. large weights on the small key's noise: keep the keyswitches
  }
  const tfhe::PbsParameters& q = choice.result.parameters;
  const double own = static_cast<double>(keyswitched) /
                     static_cast<double>(std::max<std::uint64_t>(bootstraps, 1));
  choice.batched_seconds_per_pbs =
      own * estimate_batched_pbs_seconds(q) +
      (1.0 - own) * estimate_batched_pbs_seconds(q, tfhe::LweDimension(0));
  if (!(choice.batched_seconds_per_pbs * static_cast<double>(bootstraps) < current_batched_seconds))
    return std::nullopt;
  return choice;
}

}  // namespace torusml::circuit
