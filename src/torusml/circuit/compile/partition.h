// Multi-parameter partitioning (issue 12; Concrete's multi-parameter optimization, Bergerat et al.,
// "Parameter Optimization and Larger Precision for (T)FHE", JoC 2023, section 6).
//
// The cost of a bootstrap grows steeply with its precision, so a circuit whose lookups read
// different precisions (3-bit comparisons and 7-bit activations) pays the widest one's price for
// every lookup when it has one parameter set. Partitioning gives each group of lookups its own
// KS-PBS set and keys.
//
// What may be partitioned. Values joined by linear operations share one encoding class
// (analysis.h) and must be encrypted under one key: a class lives in one partition. A bootstrap
// runs with the key of the class its output joins (for an exact rounding by digits, its input's
// class), so a class's lookups share a partition, whose precision is their widest read. A
// bootstrap reading a value of another partition keyswitches it from that partition's big key to
// its own small key (a cross keyswitch: CircuitParameters::cross_keyswitches). A class without
// bootstraps of its own (inputs and what is computed linearly from them only) joins the partition
// of the first bootstrap that reads it, or partition 0.
//
// Grouping. Classes are grouped by their widest read: `group_of_precision` maps each precision to
// a partition. compile() weighs one partition per precision and every split in two by a
// threshold against the single parameter set, with the optimizer's cost model
// (lower.cpp), and keeps the partitioned circuit only when it is clearly cheaper.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/compile/compiled_circuit.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/optimizer/optimizer.h"

namespace torusml::circuit {

struct PartitionPlan {
  std::size_t partition_count = 1;
  std::vector<std::uint32_t> class_partition;  // one per encoding class
  std::vector<PartitionedPbsRequirement> pbs;  // analysis.pbs_requirements, tagged, same order
  std::vector<PartitionedOutputRequirement> outputs;  // analysis.output_requirements, tagged
};

/// The widest read of the bootstraps of each encoding class (0 for a class without bootstraps).
std::vector<unsigned> class_precisions(const ProgramAnalysis& analysis);

/// The distinct widest reads of the classes with bootstraps, in decreasing order.
std::vector<unsigned> distinct_precisions(const ProgramAnalysis& analysis);

/// Partitions the classes: a class with bootstraps goes to group_of_precision(its widest read)
/// (values in [0, partition_count), every one used), the others as the header says. Throws
/// InvalidArgument if the grouping leaves a partition without bootstraps or maps out of range.
PartitionPlan plan_partitions(const Program& program, const ProgramAnalysis& analysis,
                              std::size_t partition_count,
                              const std::function<std::uint32_t(unsigned)>& group_of_precision);

/// A partitioned parameter choice: the plan and the optimizer's result for it.
struct PartitionChoice {
  PartitionPlan plan;
  PartitionedOptimizerResult result;
};

/// Weighs the partitionings of the header (one partition per distinct precision, and every split
/// in two by a precision threshold) with optimize_partitioned_parameters and returns the cheapest
/// by the cost model in batches (estimated_batched_total_seconds) if its total is below
/// `keep_below` seconds per sample (the single set's total, scaled by the margin the caller wants),
/// else nullopt (also for circuits of one precision, and when no partitioning has feasible
/// parameters).
std::optional<PartitionChoice> choose_partitions(const Program& program,
                                                 const ProgramAnalysis& analysis,
                                                 const OptimizerOptions& options,
                                                 double keep_below);

}  // namespace torusml::circuit
