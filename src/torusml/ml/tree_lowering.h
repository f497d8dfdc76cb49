// Lowering of a quantized tree ensemble to an integer circuit with far fewer table lookups than
// the reference method (one per internal node and one per leaf, for every tree).
//
// The program takes the quantized features x (n_features values, n bits each) and computes:
//  1. Comparisons, shared by all trees: one lookup per distinct (feature f_d, threshold T_d) pair,
//     c_d = [x_{f_d} > T_d] (1: go right), all in one table node over take(x, f). D lookups.
//  2. Leaf selection by groups. Each tree is cut into groups: subtrees rooted at a node g, with
//     the prefix path P(g) from the root (ancestors and the direction taken) and the internal
//     nodes L(g) of the subtree (numbered j = 0, 1, ... depth first). With s_i = c_i where the
//     path turns right at i and 1 - c_i where it turns left, A_g = sum_{i in P} s_i lies in
//     [0, |P|] and equals |P| iff the input reaches g; code = sum_j c_{L_j} 2^j names the leaf
//     reached inside the group. The group index code + 2^|L| A_g is linear in c: all indices
//     come from one matrix product with a clear matrix plus a clear bias. (Of the two mixed-radix
//     orders, this one has the smaller sum of squared weights, i.e. the smaller noise growth:
//     (4^|L| - 1) / 3 + |P| 4^|L| against |P| + (|P| + 1)^2 (4^|L| - 1) / 3.) One table per group
//     and output reads it: the quantized leaf value (minus the tree's smallest, added back as a
//     clear constant) when A_g = |P|, else 0; so a tree's output is the sum of its groups' lookups
//     (exactly one group is reached). Outputs constant over a group's leaves need no lookup; a
//     group with fewer (non-constant) leaves than outputs uses one indicator lookup per leaf
//     ([index selects that leaf]) whose values enter the output map instead: per group,
//     min(outputs, leaves) lookups. Groups are chosen top down: a node is a group root if its
//     index fits B bits ((|P| + 1) 2^|L| <= 2^B), else its children are tried (a leaf always
//     fits: B is at least the bit length of the deepest path, and 2). Wider groups mean fewer
//     lookups but larger index weights, hence more noise: the caller picks B (by default as wide
//     as the comparisons' inputs, n_bits).
//     To keep every intermediate non-negative (negative values would need a sign bit, hence a
//     wider lookup), the index is computed as (c @ M+ + bias) - c @ M-, M+ and M- the positive
//     and negative parts of the index matrix.
//  3. Outputs: one more clear matrix product (no lookup): per tree and output, shape
//     (n_trees, n_outputs), or summed over the trees under encryption (fhe_sum), shape
//     (1, n_outputs).
// Ranges: every encrypted value gets a sound declared range (CompileOptions::range_hints): exact
// extremes over the input grid for the comparisons' and indices' linear forms (a sum over
// features of functions of one feature each, maximized feature by feature), and [sum of the
// trees' smallest values, sum of their largest] for the outputs. The synthetic grid inputs reach
// every leaf and every index's extremes, so the measured ranges agree wherever they can.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/ml/tree_model.h"

namespace torusml::ml {

/// The cost of an ensemble's circuit, per sample.
struct TreeLookupStatistics {
  std::size_t comparison_lookups = 0;  // D: distinct (feature, threshold) pairs after pruning
  std::size_t leaf_lookups = 0;        // group lookups (values and indicators)
  std::size_t lookups_per_sample = 0;  // comparison_lookups + leaf_lookups
  /// The reference method's count for the float model: internal nodes + leaves of every tree.
  std::size_t reference_lookups_per_sample = 0;
  std::size_t groups = 0;        // groups of the non-constant trees
  std::size_t pruned_nodes = 0;  // nodes removed by quantization (decided or constant subtrees)
  unsigned group_bits = 0;       // B
  /// Input bits of the lookups -> lookups per sample at that precision.
  std::map<unsigned, std::size_t> precisions;
  bool operator==(const TreeLookupStatistics&) const = default;
};

/// The integer program of an ensemble and what its compilation needs.
struct LoweredTrees {
  /// x (n_features,) encrypted -> (n_trees, n_outputs), or (1, n_outputs) with fhe_sum.
  circuit::Program program;
  /// Sound ranges of the program's encrypted values over every grid input (node -> range).
  std::map<circuit::NodeId, circuit::ValueRange> range_hints;
  /// Grid inputs that reach every leaf and every index's extremes, plus all zeros and all
  /// 2^n - 1 (n_features values each, deduplicated).
  std::vector<std::vector<std::int64_t>> grid_inputs;
  /// Lookup counts, groups and precisions (reference_lookups_per_sample and pruned_nodes are
  /// left 0: they describe the float model, which the caller knows).
  TreeLookupStatistics statistics;
  /// Widest lookup input (bits): the compile option max_table_bits must allow it.
  unsigned max_lookup_bits = 0;
};

/// Lowers `trees` (integer trees over n_features features with n_bits-bit inputs, n_outputs
/// values each, as produced by prune_decided_nodes: thresholds in [0, 2^n_bits - 2], leaf values
/// >= 0) as described in the header comment, with groups of B = max(group_bits (n_bits if 0),
/// 2, bit length of the deepest path) bits. Preconditions (checked, InternalError otherwise): at
/// least one tree, n_bits in [1, 8], group_bits <= 16; trees invalid for these sizes throw
/// InvalidArgument (validate_integer_tree).
LoweredTrees lower_tree_ensemble(std::span<const IntegerTree> trees, std::size_t n_features,
                                 std::size_t n_outputs, unsigned n_bits, unsigned group_bits,
                                 bool fhe_sum);

}  // namespace torusml::ml
