#include "torusml/circuit/compile/many_lut.h"

#include <algorithm>
#include <bit>
#include <map>
#include <optional>

#include "torusml/common/error.h"

namespace torusml::circuit {

namespace {

unsigned ceil_log2(std::size_t c) {
  return c <= 1 ? 0 : static_cast<unsigned>(std::bit_width(c - 1));
}

// Whether requirement a implies b: a bound at least as tight on at least as much noise.
bool implies(const PbsRequirement& a, const PbsRequirement& b) {
  return a.precision_bits >= b.precision_bits && a.pbs_weight >= b.pbs_weight &&
         a.fresh_weight >= b.fresh_weight;
}

// The node whose noise the group's bootstrap reads: the leader's requirement carries it.
std::optional<PbsRequirement> leader_requirement(const ProgramAnalysis& analysis,
                                                 const ManyLutGroup& g) {
  for (std::size_t r = 0; r < analysis.pbs_nodes.size(); ++r)
    if (analysis.pbs_nodes[r] == g.lookups[0]) {
      PbsRequirement q = analysis.pbs_requirements[r];
      q.precision_bits = g.read_bits();
      q.count = g.elements;
      return q;
    }
  return std::nullopt;
}

double total_seconds(const OptimizerResult& r, std::span<const PbsRequirement> requirements) {
  std::uint64_t count = 0;
  for (const auto& q : requirements) count += q.count;
  return estimate_batched_pbs_seconds(r.parameters) * static_cast<double>(count);
}

}  // namespace

std::vector<std::int32_t> ManyLutPlan::group_of(std::size_t nodes) const {
  std::vector<std::int32_t> g(nodes, -1);
  for (std::size_t i = 0; i < groups.size(); ++i)
    for (NodeId id : groups[i].lookups)
      g.at(static_cast<std::size_t>(id)) = static_cast<std::int32_t>(i);
  return g;
}

std::uint64_t ManyLutPlan::fused_lookups() const {
  std::uint64_t n = 0;
  for (const auto& g : groups) n += g.elements * g.lookups.size();
  return n;
}

std::uint64_t ManyLutPlan::bootstraps() const {
  std::uint64_t n = 0;
  for (const auto& g : groups) n += g.elements;
  return n;
}

ManyLutPlan find_many_lut_groups(const Program& program, const ProgramAnalysis& analysis) {
  ManyLutPlan plan;
  unsigned widest = 0;
  for (const auto& r : analysis.pbs_requirements) widest = std::max(widest, r.precision_bits);
  // The bootstrapped lookups of each input node, in program order.
  std::map<NodeId, std::vector<NodeId>> readers;
  for (NodeId id : analysis.pbs_nodes) {
    const Node& n = program.node(id);
    if (n.op != OpKind::TableLookup || !n.encrypted || !program.node(n.inputs[0]).encrypted)
      continue;
    auto& list = readers[n.inputs[0]];
    if (list.empty() || list.back() != id) list.push_back(id);
  }
  for (const auto& [input, lookups] : readers) {
    const unsigned p = analysis.nodes[static_cast<std::size_t>(lookups[0])].pbs_precision;
    if (lookups.size() < 2 || p == 0 || p >= widest) continue;
    const std::size_t cap = std::size_t{1} << std::min(widest - p, 20u);
    for (std::size_t begin = 0; begin + 1 < lookups.size(); begin += cap) {
      const std::size_t size = std::min(cap, lookups.size() - begin);
      if (size < 2) break;
      ManyLutGroup g;
      g.lookups.assign(lookups.begin() + static_cast<std::ptrdiff_t>(begin),
                       lookups.begin() + static_cast<std::ptrdiff_t>(begin + size));
      g.input_bits = p;
      g.log2_slots = ceil_log2(size);
      g.elements = static_cast<std::uint64_t>(element_count(program.node(g.lookups[0]).shape));
      plan.groups.push_back(std::move(g));
    }
  }
  std::sort(
      plan.groups.begin(), plan.groups.end(),
      [](const ManyLutGroup& a, const ManyLutGroup& b) { return a.lookups[0] < b.lookups[0]; });
  return plan;
}

std::vector<PbsRequirement> many_lut_requirements(const ProgramAnalysis& analysis,
                                                  const ManyLutPlan& plan) {
  const std::vector<std::int32_t> group = plan.group_of(analysis.nodes.size());
  std::vector<PbsRequirement> out;
  std::vector<bool> emitted(plan.groups.size(), false);
  for (std::size_t r = 0; r < analysis.pbs_requirements.size(); ++r) {
    const std::int32_t g = group[static_cast<std::size_t>(analysis.pbs_nodes[r])];
    if (g < 0) {
      out.push_back(analysis.pbs_requirements[r]);
    } else if (!emitted[static_cast<std::size_t>(g)]) {
      emitted[static_cast<std::size_t>(g)] = true;
      PbsRequirement q = analysis.pbs_requirements[r];
      q.precision_bits = plan.groups[static_cast<std::size_t>(g)].read_bits();
      q.count = plan.groups[static_cast<std::size_t>(g)].elements;
      out.push_back(q);
    }
  }
  return out;
}

ManyLutPlan implied_many_lut_groups(const ProgramAnalysis& analysis, const ManyLutPlan& plan) {
  ManyLutPlan kept;
  for (const ManyLutGroup& g : plan.groups) {
    const std::optional<PbsRequirement> fused = leader_requirement(analysis, g);
    if (!fused) continue;
    if (std::any_of(analysis.pbs_requirements.begin(), analysis.pbs_requirements.end(),
                    [&](const PbsRequirement& r) { return implies(r, *fused); }))
      kept.groups.push_back(g);
  }
  return kept;
}

ManyLutChoice choose_many_lut_parameters(
    const ProgramAnalysis& analysis, const ManyLutPlan& candidates,
    const std::function<OptimizerResult(std::span<const PbsRequirement>)>& choose) {
  if (candidates.empty()) return {ManyLutPlan{}, choose(analysis.pbs_requirements)};
  // The implied groups never make the parameters costlier than no fusion.
  const ManyLutPlan implied = implied_many_lut_groups(analysis, candidates);
  const auto implied_reqs = many_lut_requirements(analysis, implied);
  ManyLutChoice best{implied, choose(implied_reqs)};
  if (implied.groups.size() == candidates.groups.size()) return best;
  const auto all_reqs = many_lut_requirements(analysis, candidates);
  try {
    OptimizerResult all = choose(all_reqs);
    if (total_seconds(all, all_reqs) <= total_seconds(best.parameters, implied_reqs))
      return {candidates, std::move(all)};
  } catch (const CompileError&) {
    // No parameters for the fused reads of noisy inputs: keep the implied groups only.
  }
  return best;
}

}  // namespace torusml::circuit
