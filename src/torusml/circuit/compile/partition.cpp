#include "torusml/circuit/compile/partition.h"

#include <algorithm>
#include <string>

#include "torusml/common/error.h"

namespace torusml::circuit {

namespace {

std::size_t class_of(const ProgramAnalysis& analysis, NodeId node) {
  const std::int32_t c = analysis.nodes[static_cast<std::size_t>(node)].encoding;
  return static_cast<std::size_t>(c);
}

}  // namespace

std::vector<unsigned> class_precisions(const ProgramAnalysis& analysis) {
  std::vector<unsigned> precision(analysis.classes.size(), 0);
  for (std::size_t r = 0; r < analysis.pbs_requirements.size(); ++r) {
    unsigned& p = precision[class_of(analysis, analysis.pbs_nodes[r])];
    p = std::max(p, analysis.pbs_requirements[r].precision_bits);
  }
  return precision;
}

std::vector<unsigned> distinct_precisions(const ProgramAnalysis& analysis) {
  std::vector<unsigned> p = class_precisions(analysis);
  std::sort(p.begin(), p.end(), std::greater<>());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  if (!p.empty() && p.back() == 0) p.pop_back();
  return p;
}

PartitionPlan plan_partitions(const Program& program, const ProgramAnalysis& analysis,
                              std::size_t partition_count,
                              const std::function<std::uint32_t(unsigned)>& group_of_precision) {
  constexpr std::uint32_t kNone = ~std::uint32_t{0};
  const std::vector<unsigned> precision = class_precisions(analysis);
  PartitionPlan plan;
  plan.partition_count = partition_count;
  plan.class_partition.assign(analysis.classes.size(), kNone);
  std::vector<bool> used(partition_count, false);
  for (std::size_t c = 0; c < precision.size(); ++c) {
    if (precision[c] == 0) continue;
    const std::uint32_t p = group_of_precision(precision[c]);
    if (p >= partition_count)
      throw InvalidArgument("plan_partitions: precision " + std::to_string(precision[c]) +
                            " mapped to partition " + std::to_string(p) + " of " +
                            std::to_string(partition_count));
    plan.class_partition[c] = p;
    used[p] = true;
  }
  if (std::find(used.begin(), used.end(), false) != used.end())
    throw InvalidArgument("plan_partitions: a partition has no bootstrap");
  // Classes without bootstraps of their own: the partition of the first bootstrap reading them.
  for (std::size_t r = 0; r < analysis.pbs_requirements.size(); ++r) {
    std::uint32_t& from = plan.class_partition[class_of(analysis, analysis.pbs_sources[r])];
    if (from == kNone) from = plan.class_partition[class_of(analysis, analysis.pbs_nodes[r])];
  }
  for (std::uint32_t& p : plan.class_partition)
    if (p == kNone) p = 0;

  for (std::size_t r = 0; r < analysis.pbs_requirements.size(); ++r)
    plan.pbs.push_back({analysis.pbs_requirements[r],
                        plan.class_partition[class_of(analysis, analysis.pbs_nodes[r])],
                        plan.class_partition[class_of(analysis, analysis.pbs_sources[r])]});
  std::size_t o = 0;
  for (NodeId out : program.outputs) {
    if (!program.node(out).encrypted) continue;
    plan.outputs.push_back(
        {analysis.output_requirements.at(o++), plan.class_partition[class_of(analysis, out)]});
  }
  return plan;
}

std::optional<PartitionChoice> choose_partitions(const Program& program,
                                                 const ProgramAnalysis& analysis,
                                                 const OptimizerOptions& options,
                                                 double keep_below) {
  const std::vector<unsigned> precisions = distinct_precisions(analysis);  // decreasing
  if (precisions.size() < 2) return std::nullopt;
  // Candidate groupings, as the first precision index of each partition after the first.
  std::vector<std::vector<std::size_t>> candidates;
  std::vector<std::size_t> all;
  for (std::size_t i = 1; i < std::min(precisions.size(), kMaxPartitions); ++i) all.push_back(i);
  candidates.push_back(all);
  if (precisions.size() > 2)
    for (std::size_t i = 1; i < precisions.size(); ++i) candidates.push_back({i});
  std::optional<PartitionChoice> best;
  for (const std::vector<std::size_t>& starts : candidates) {
    const auto group = [&](unsigned precision) {
      const auto at = static_cast<std::size_t>(
          std::find(precisions.begin(), precisions.end(), precision) - precisions.begin());
      return static_cast<std::uint32_t>(std::upper_bound(starts.begin(), starts.end(), at) -
                                        starts.begin());
    };
    PartitionPlan plan = plan_partitions(program, analysis, starts.size() + 1, group);
    try {
      PartitionedOptimizerResult r =
          optimize_partitioned_parameters(plan.pbs, plan.outputs, plan.partition_count, options);
      if (r.estimated_batched_total_seconds < keep_below &&
          (!best ||
           r.estimated_batched_total_seconds < best->result.estimated_batched_total_seconds))
        best = PartitionChoice{std::move(plan), std::move(r)};
    } catch (const CompileError&) {
      // No parameters for this grouping: weigh the others.
    }
  }
  return best;
}

}  // namespace torusml::circuit
