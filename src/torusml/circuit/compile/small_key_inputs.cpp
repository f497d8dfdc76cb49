#include "torusml/circuit/compile/small_key_inputs.h"

#include "torusml/circuit/compile/linear_map.h"

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

}  // namespace torusml::circuit
