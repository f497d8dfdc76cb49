// Lowering of a quantized tree ensemble to an integer circuit with far fewer table lookups than
// the reference method (one per internal node and one per leaf, for every tree).
//
// The program takes the quantized features (n_features values of n bits each) in one of three
// client-side encodings (TreeInputEncoding, encode_tree_inputs):
//   Value      : x = q, the n-bit values;
//   Digits     : x = (h_0 .. h_{F-1}, l_0 .. l_{F-1}), q = h 2^lb + l with lb = floor(n / 2) low
//                bits and n - lb high bits, so that no lookup reads more than n - lb bits of an
//                input;
//   Thermometer: x = ([q_0 > 0], [q_0 > 1] .. [q_0 > 2^n - 2], [q_1 > 0] ..), the unary code of
//                every feature: 2^n - 1 bits per feature, every possible threshold, so the client
//                learns nothing of the model's thresholds. Every comparison is an input bit: no
//                lookup computes one, and the signals are fresh encryptions (small noise). The
//                price is 2^n - 1 input ciphertexts per feature (cheap to encrypt; in seeded form
//                a few bytes each), which compile() weighs against the lookups saved.
// and computes:
//  1. Comparisons, shared by all trees: c_d = [q_{f_d} > T_d] (1: go right) for each distinct
//     (feature f_d, threshold T_d) pair. Thermometer: c_d is input bit f_d (2^n - 1) + T_d
//     (taken, no lookup). Value: one lookup each on q. With 2 digits, with
//     T_h = T >> lb, T_l = T & (2^lb - 1), H = 2^(n - lb) - 1 and L = 2^lb - 1,
//         [q > T] = [h > T_h] or ([h == T_h] and [l > T_l]) = [a + b >= 2],
//     a = 2 [h > T_h] + [h == T_h] in {0, 1, 2}, b = [l > T_l]; from first-stage lookups on the
//     digits, each shared by every comparison that needs it:
//       - T_l = L: c = [h > T_h] itself (no b, no second lookup);
//       - T_h = 0: a = 1 + [h > 0]; T_h = H: a = [h > H - 1] (the lookups of T_l = L cases);
//       - else a is one lookup 2 [h > T_h] + [h == T_h], or the sum [h > T_h] + [h > T_h - 1] of
//         two [h > t] lookups when those are cheaper in total (the choice per feature minimizes
//         the number of distinct lookups on h);
//       - b = [l > T_l], one lookup per distinct (f, T_l);
//     then c = [v >= 2] on v = a + b (a 2-bit lookup) for the comparisons that need c. A
//     comparison that is only ever a local node of groups (below) need not: the group index can
//     take v - min(v) (3 or 4 values) in place of c (2 values) when it still fits (local_sums).
//     All first-stage lookups are on one table node over take(x, ...), the c lookups on a second.
//  2. Leaf selection by groups. Each tree is cut into groups: subtrees rooted at a node g, with
//     the prefix path P(g) from the root (ancestors and the direction taken) and the internal
//     nodes L(g) of the subtree (numbered j = 0, 1, ...). With s_i = c_i where the path turns
//     right at i and 1 - c_i where it turns left, A_g = sum_{i in P} s_i lies in [0, |P|] and
//     equals |P| iff the input reaches g; code = sum_j u_j w_j (mixed radix: u_j = c_j, radix 2,
//     or v_j - min(v_j), radix r_j; w_0 = 1, w_{j+1} = w_j r_j; radix-2 digits first, which keeps
//     the weights, hence the noise, small) names the leaf reached inside the group. The group
//     index code + R A_g, R = prod r_j, is linear in the signals (the first-stage and c lookups):
//     all indices come from one matrix product with a clear matrix plus a clear bias. (Of the two
//     mixed-radix orders of code and A_g, this one has the smaller sum of squared weights, i.e.
//     the smaller noise growth.) One table per group and output reads it: the quantized leaf
//     value (minus the tree's smallest, added back as a clear constant) when A_g = |P|, else 0;
//     so a tree's output is the sum of its groups' lookups (exactly one group is reached).
//     Outputs constant over a group's leaves need no lookup; a group with fewer (non-constant)
//     leaves than outputs uses one indicator lookup per leaf ([index selects that leaf]) whose
//     values enter the output map instead: per group, min(outputs, leaves) lookups. Groups are
//     chosen top down: a node is a group root if its index fits B bits ((|P| + 1) 2^|L| <= 2^B),
//     else its children are tried (a leaf always fits: B is at least the bit length of the
//     deepest path, and 2); local_sums then widens digits to v where (|P| + 1) R still fits.
//     Wider groups mean fewer lookups but larger index weights, hence more noise: the caller
//     picks B.
//     To keep every intermediate non-negative (negative values would need a sign bit, hence a
//     wider lookup), the index is computed as (s @ M+ + bias) - s @ M-, M+ and M- the positive
//     and negative parts of the index matrix over the signals s.
//  3. Outputs: one more clear matrix product (no lookup): per tree and output, shape
//     (n_trees, n_outputs), or summed over the trees under encryption (fhe_sum), shape
//     (1, n_outputs).
// Encodings and precisions: the input digits form one encoding class (n bits with 1 digit,
// n - lb with 2, 1 with the thermometer code): the first-stage lookups read that many bits. Their
// outputs, the sums v, the c lookups and the group indices form another, of B bits (v <= 3 < 2^B):
// the c and leaf lookups read B bits. The circuit's parameters serve its widest lookup: max(n, B)
// bits with 1 digit, max(n - lb, B) with 2. Ranges: every encrypted value gets a sound declared
// range (CompileOptions::range_hints): exact extremes over the input grid for the linear forms (a
// sum over features of functions of one feature each, extremal feature by feature, each function
// evaluated on its whole grid), exact value sets for the lookups, and [sum of the trees' smallest
// values, sum of their largest] for the outputs. The synthetic grid inputs reach every leaf and
// every index's extremes, so the measured ranges agree wherever they can.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "torusml/circuit/compile/analysis.h"
#include "torusml/circuit/ir/program.h"
#include "torusml/circuit/ir/tensor.h"
#include "torusml/ml/tree_model.h"

namespace torusml::ml {

/// How the client encodes each quantized input (see the header comment).
enum class TreeInputEncoding : std::uint8_t {
  Auto = 0,         // chosen by compile() (QuantizedTreeEnsemble); not a lowering
  Value = 1,        // one n-bit value
  Digits = 2,       // two digits, high and low (n >= 2)
  Thermometer = 3,  // 2^n - 1 bits [q > t], t = 0 .. 2^n - 2
};

/// "auto", "value", "digits", "thermometer".
const char* to_string(TreeInputEncoding encoding);

/// The encoding named `name` (to_string's names). Throws InvalidArgument for another name.
TreeInputEncoding parse_tree_input_encoding(const std::string& name);

/// Program input elements per sample: n_features, 2 n_features or n_features (2^n_bits - 1).
std::size_t encoded_input_width(std::size_t n_features, unsigned n_bits,
                                TreeInputEncoding encoding);

/// The cost of an ensemble's circuit, per sample.
struct TreeLookupStatistics {
  std::size_t comparisons = 0;         // D: distinct (feature, threshold) pairs after pruning
  std::size_t comparison_lookups = 0;  // lookups computing them (D with Value; with Digits, the
                                       // digit lookups plus the c = [a + b >= 2] lookups; 0 with
                                       // Thermometer)
  std::size_t input_lookups = 0;       // of those, the lookups on the inputs (q or digits)
  std::size_t leaf_lookups = 0;        // group lookups (values and indicators)
  std::size_t lookups_per_sample = 0;  // comparison_lookups + leaf_lookups
  /// The reference method's count for the float model: internal nodes + leaves of every tree.
  std::size_t reference_lookups_per_sample = 0;
  std::size_t groups = 0;        // groups of the non-constant trees
  std::size_t pruned_nodes = 0;  // nodes removed by quantization (decided or constant subtrees)
  unsigned group_bits = 0;       // B
  TreeInputEncoding input_encoding = TreeInputEncoding::Value;  // client-side encoding
  std::size_t input_ciphertexts = 0;  // encrypted program inputs per sample
  /// With Digits: comparisons read by their groups as a + b, without a c lookup.
  std::size_t summed_comparisons = 0;
  /// Input bits of the lookups -> lookups per sample at that precision.
  std::map<unsigned, std::size_t> precisions;
  bool operator==(const TreeLookupStatistics&) const = default;
};

/// How an ensemble is lowered (see the header comment).
struct TreeLoweringOptions {
  unsigned n_bits = 6;      // input bits, in [1, 8]
  unsigned group_bits = 0;  // B (at least 2 and the deepest path's bit length; 0: n_bits)
  bool fhe_sum = false;     // sum the trees under encryption
  TreeInputEncoding input_encoding = TreeInputEncoding::Value;  // not Auto; Digits: n_bits >= 2
  /// With Digits: let groups read a + b instead of c where that saves a c lookup.
  bool local_sums = true;
};

/// Low bits of the 2-digit encoding of n_bits-bit inputs: floor(n_bits / 2).
constexpr unsigned low_digit_bits(unsigned n_bits) {
  return n_bits / 2;
}

/// The program input for quantized inputs q_x (rows, n_features): q_x itself with Value; with
/// Digits, per row the high digits q >> lb of every feature, then the low digits q & (2^lb - 1),
/// lb = low_digit_bits(n_bits): (rows, 2 n_features); with Thermometer, per row and feature the
/// bits [q > t] for t = 0 .. 2^n_bits - 2: (rows, n_features (2^n_bits - 1)). Values are not
/// checked (they must lie in [0, 2^n_bits - 1]).
circuit::Tensor encode_tree_inputs(const circuit::Tensor& q_x, unsigned n_bits,
                                   TreeInputEncoding encoding);

/// The integer program of an ensemble and what its compilation needs.
struct LoweredTrees {
  /// x (encoded_input_width,) (encode_tree_inputs), encrypted ->
  /// (n_trees, n_outputs), or (1, n_outputs) with fhe_sum.
  circuit::Program program;
  /// Sound ranges of the program's encrypted values over every grid input (node -> range).
  std::map<circuit::NodeId, circuit::ValueRange> range_hints;
  /// Grid inputs, as quantized values q (encode them for the program), that reach every leaf and
  /// every index's extremes, plus all zeros and all 2^n - 1 (n_features values each,
  /// deduplicated).
  std::vector<std::vector<std::int64_t>> grid_inputs;
  /// Lookup counts, groups and precisions (reference_lookups_per_sample and pruned_nodes are
  /// left 0: they describe the float model, which the caller knows).
  TreeLookupStatistics statistics;
  /// Widest lookup input (bits): the compile option max_table_bits must allow it.
  unsigned max_lookup_bits = 0;
  /// The options it was lowered with (group_bits: B as used).
  TreeLoweringOptions options;
};

/// Lowers `trees` (integer trees over n_features features with n_bits-bit inputs, n_outputs
/// values each, as produced by prune_decided_nodes: thresholds in [0, 2^n_bits - 2], leaf values
/// >= 0) as described in the header comment, with groups of B = max(group_bits (n_bits if 0),
/// 2, bit length of the deepest path) bits. Preconditions (checked, InternalError otherwise): at
/// least one tree, n_bits in [1, 8], group_bits <= 16, input_encoding not Auto (Digits with
/// n_bits >= 2);
/// trees invalid for these sizes throw InvalidArgument (validate_integer_tree).
LoweredTrees lower_tree_ensemble(std::span<const IntegerTree> trees, std::size_t n_features,
                                 std::size_t n_outputs, const TreeLoweringOptions& options);

}  // namespace torusml::ml
