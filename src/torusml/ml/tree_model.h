// Decision trees as arrays (scikit-learn's layout) and their exact integer counterpart on a
// quantized input grid.
//
// A float tree has n nodes, node 0 its root. Internal node i compares feature[i] with
// threshold[i] and goes to left[i] or right[i]; a leaf has left and right -1 and a negative
// feature (-1, or scikit-learn's -2) and carries value(i, k) for each of the n_outputs outputs. The
// split rule of an ensemble is
//     LessEqual (scikit-learn):  go left iff x[f] <= t
//     Less      (XGBoost):       go left iff x[f] < t.
//
// On the quantized grid (feature f quantized by an unsigned n-bit quantizer, dequantized as
// d(q) = s (q - z), q in [0, 2^n - 1]), the rule d(q) <= t (or < t) holds exactly for q <= T,
// T the largest integer satisfying it (d is non-decreasing in q): an integer tree compares
// quantized features with integer thresholds, go left iff q[f] <= T. Nodes whose outcome is
// decided by the grid bounds and their ancestors' comparisons (T below or above every value
// still possible for the feature there) are replaced by the child taken: every remaining
// internal node can go both ways and every remaining leaf is reached by some grid input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "torusml/ml/matrix.h"
#include "torusml/ml/quantizer.h"

namespace torusml::ml {

enum class SplitRule : std::uint8_t {
  LessEqual = 1,  // x <= t goes left (scikit-learn)
  Less = 2,       // x < t goes left (XGBoost)
};

/// Parses "<=" or "<" (InvalidArgument otherwise, listing both).
SplitRule parse_split_rule(const std::string& text);
/// "<=" or "<".
const char* to_string(SplitRule rule);

/// A float decision tree in scikit-learn's array layout (see the header comment).
struct DecisionTree {
  std::vector<std::int64_t> feature;      // -1 at leaves
  std::vector<double> threshold;          // ignored at leaves
  std::vector<std::int64_t> left, right;  // child indices, -1 at leaves
  Matrix value;                           // (n_nodes, n_outputs); read at leaves only
};

/// Throws InvalidArgument (naming tree `index` and the node, with what to do) unless `tree` is a
/// well-formed tree over `n_features` features with `n_outputs` outputs: at least one node,
/// arrays of equal length, value of shape (n_nodes, n_outputs), leaves with left and right -1 and
/// a negative feature, internal nodes with a feature in [0, n_features), a finite threshold and
/// both children in [1, n_nodes), every node reached exactly once from node 0 (no cycle, no
/// shared or orphan node), finite leaf values.
void validate_tree(const DecisionTree& tree, std::size_t n_features, std::size_t n_outputs,
                   std::size_t index);

/// The integer threshold of a split on the grid of `quantizer`: the largest grid integer T with
/// dequantize(T) <= t (LessEqual) or < t (Less), so that a quantized input q goes left iff
/// q <= T. Returns -1 when no grid value goes left (always right) and q_max when every one does
/// (always left). Exact: T is verified by evaluating dequantize at T and T + 1.
std::int64_t integer_threshold(const UniformQuantizer& quantizer, double threshold, SplitRule rule);

/// A tree over quantized inputs: go left iff q[feature] <= threshold; value holds the quantized
/// leaf values, (n_nodes * n_outputs) row-major (zeros at internal nodes).
struct IntegerTree {
  std::vector<std::int32_t> feature;      // -1 at leaves
  std::vector<std::int64_t> threshold;    // T; 0 at leaves
  std::vector<std::int32_t> left, right;  // -1 at leaves
  std::vector<std::int64_t> value;        // n_nodes * n_outputs
  std::size_t n_outputs = 0;

  std::size_t size() const { return feature.size(); }
  bool is_leaf(std::size_t node) const { return feature[node] < 0; }
  /// The leaf reached by one quantized sample (n_features values).
  std::size_t leaf_of(std::span<const std::int64_t> q) const;
  /// The quantized values of `leaf` (n_outputs of them).
  std::span<const std::int64_t> leaf_value(std::size_t leaf) const {
    return {value.data() + leaf * n_outputs, n_outputs};
  }
  bool operator==(const IntegerTree&) const = default;
};

/// Throws InvalidArgument (naming tree `index`) unless `tree` is a well-formed integer tree over
/// `n_features` features whose thresholds lie in [0, q_max - 1] and whose leaf values lie in
/// [0, value_max] (the structural rules of validate_tree apply, with n_outputs outputs).
void validate_integer_tree(const IntegerTree& tree, std::size_t n_features, std::size_t n_outputs,
                           std::int64_t q_max, std::int64_t value_max, std::size_t index);

/// The integer tree of `tree` on the grid of `quantizers` (one per feature, all unsigned with the
/// same bits, so that every grid is [0, q_max]): thresholds mapped by
/// integer_threshold, then prune_decided_nodes. Its value is left empty; `origin` receives, per
/// node of the result, its node in `tree` (to read the float leaf values).
IntegerTree to_integer_tree(const DecisionTree& tree, std::span<const UniformQuantizer> quantizers,
                            SplitRule rule, std::vector<std::size_t>& origin);

/// Replaces every internal node whose outcome is decided on the grid [0, q_max] of its feature,
/// given the comparisons of its ancestors (T below every value still possible: always right; T
/// at or above every one: always left), by the child taken; values (if any) follow their leaves.
/// Returns, per node of the result, its index in the input tree (nodes keep their depth-first
/// order, left before right). Afterwards every internal node goes both ways for some grid input
/// and its threshold lies in [0, q_max - 1]; idempotent.
std::vector<std::size_t> prune_decided_nodes(IntegerTree& tree, std::int64_t q_max);

/// Replaces every subtree whose leaves all carry the same values by one leaf of those values
/// (exact on every input). Returns the number of nodes removed.
std::size_t merge_constant_subtrees(IntegerTree& tree);

}  // namespace torusml::ml
