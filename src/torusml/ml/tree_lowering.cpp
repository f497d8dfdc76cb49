#include "torusml/ml/tree_lowering.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/check.h"

namespace torusml::ml {

namespace {

using circuit::NodeId;
using circuit::Tensor;
using circuit::Value;
using circuit::ValueRange;

// The distinct (feature, threshold) pairs of the ensemble, in increasing order.
struct Comparisons {
  std::vector<std::int32_t> feature;
  std::vector<std::int64_t> threshold;
  std::map<std::pair<std::int32_t, std::int64_t>, std::size_t> index;

  std::size_t of(const IntegerTree& t, std::size_t node) const {
    return index.at({t.feature[node], t.threshold[node]});
  }
};

Comparisons collect_comparisons(std::span<const IntegerTree> trees) {
  Comparisons c;
  for (const IntegerTree& t : trees)
    for (std::size_t i = 0; i < t.size(); ++i)
      if (!t.is_leaf(i)) c.index.emplace(std::pair{t.feature[i], t.threshold[i]}, 0);
  for (auto& [key, d] : c.index) {
    d = c.feature.size();
    c.feature.push_back(key.first);
    c.threshold.push_back(key.second);
  }
  return c;
}

// bias + sum_d weights[d] c_d, c_d = [x_{f_d} > T_d].
struct LinearForm {
  std::map<std::size_t, std::int64_t> weights;
  std::int64_t bias = 0;
};

// Extremes of a linear form over the grid [0, q_max]^n_features and grid inputs reaching them.
struct Extremes {
  std::int64_t min = 0, max = 0;
  std::vector<std::int64_t> arg_min, arg_max;
};

// The form is a sum over features of step functions of one feature each, g_f(v) = sum of w_d
// over the comparisons d of f with v > T_d: each is extremal at v = 0 or just above one of its
// thresholds (T_d + 1 <= q_max), independently of the other features.
Extremes extremes(const LinearForm& form, const Comparisons& cmp, std::size_t n_features) {
  std::map<std::int32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> per_feature;
  for (const auto& [d, w] : form.weights)
    if (w != 0) per_feature[cmp.feature[d]].push_back({cmp.threshold[d], w});
  Extremes e{form.bias, form.bias, std::vector<std::int64_t>(n_features, 0),
             std::vector<std::int64_t>(n_features, 0)};
  for (const auto& [f, terms] : per_feature) {
    std::int64_t lo = 0, hi = 0, arg_lo = 0, arg_hi = 0;  // at v = 0 every step is 0
    for (const auto& candidate : terms) {
      const std::int64_t v = candidate.first + 1;
      std::int64_t g = 0;
      for (const auto& [t, w] : terms) g += v > t ? w : 0;
      if (g < lo) {
        lo = g;
        arg_lo = v;
      }
      if (g > hi) {
        hi = g;
        arg_hi = v;
      }
    }
    e.min += lo;
    e.max += hi;
    e.arg_min[static_cast<std::size_t>(f)] = arg_lo;
    e.arg_max[static_cast<std::size_t>(f)] = arg_hi;
  }
  return e;
}

// A subtree of one tree whose leaf is selected by one lookup input (see the header comment):
// index = code + 2^|L| A_g.
struct Group {
  std::size_t tree = 0;
  std::size_t prefix = 0;            // |P|
  unsigned local_bits = 0;           // |L|
  LinearForm index;                  // code + 2^|L| A_g
  std::vector<std::size_t> leaf_at;  // per code: the leaf it reaches
  std::vector<std::size_t> leaves;   // the subtree's leaves, depth first
  std::size_t size() const { return (prefix + 1) << local_bits; }  // index values
  bool reached(std::size_t i) const { return (i >> local_bits) == prefix; }
  std::size_t leaf_of(std::size_t i) const { return leaf_at[i & (leaf_at.size() - 1)]; }
};

std::size_t internal_nodes(const IntegerTree& t, std::size_t node) {
  return t.is_leaf(node) ? 0
                         : 1 + internal_nodes(t, static_cast<std::size_t>(t.left[node])) +
                               internal_nodes(t, static_cast<std::size_t>(t.right[node]));
}

std::size_t depth(const IntegerTree& t, std::size_t node) {
  return t.is_leaf(node) ? 0
                         : 1 + std::max(depth(t, static_cast<std::size_t>(t.left[node])),
                                        depth(t, static_cast<std::size_t>(t.right[node])));
}

Group make_group(const IntegerTree& t, std::size_t tree, std::size_t root,
                 const std::vector<std::pair<std::size_t, bool>>& path, const Comparisons& cmp) {
  Group g;
  g.tree = tree;
  g.prefix = path.size();
  std::vector<std::size_t> locals;  // internal nodes of the subtree, depth first
  std::map<std::size_t, std::size_t> local_of;
  std::function<void(std::size_t)> walk = [&](std::size_t node) {
    if (t.is_leaf(node)) {
      g.leaves.push_back(node);
      return;
    }
    local_of[node] = locals.size();
    locals.push_back(node);
    walk(static_cast<std::size_t>(t.left[node]));
    walk(static_cast<std::size_t>(t.right[node]));
  };
  walk(root);
  g.local_bits = static_cast<unsigned>(locals.size());
  for (std::size_t j = 0; j < locals.size(); ++j)
    g.index.weights[cmp.of(t, locals[j])] += std::int64_t{1} << j;
  // A_g counts the prefix conditions that hold: c_i where the path turns right, 1 - c_i where it
  // turns left.
  const std::int64_t unit = std::int64_t{1} << g.local_bits;
  for (const auto& [node, right] : path) {
    g.index.weights[cmp.of(t, node)] += right ? unit : -unit;
    g.index.bias += right ? 0 : unit;
  }
  g.leaf_at.resize(std::size_t{1} << locals.size());
  for (std::size_t code = 0; code < g.leaf_at.size(); ++code) {
    std::size_t node = root;
    while (!t.is_leaf(node))
      node = static_cast<std::size_t>((code >> local_of[node]) & 1 ? t.right[node] : t.left[node]);
    g.leaf_at[code] = node;
  }
  return g;
}

// Cuts tree `tree` into groups whose indices fit `bits` bits, top down.
void cut_into_groups(const IntegerTree& t, std::size_t tree, unsigned bits, const Comparisons& cmp,
                     std::vector<Group>& groups) {
  std::vector<std::pair<std::size_t, bool>> path;
  std::function<void(std::size_t)> visit = [&](std::size_t node) {
    const std::size_t locals = internal_nodes(t, node);
    if (locals <= bits && ((path.size() + 1) << locals) <= (std::size_t{1} << bits)) {
      groups.push_back(make_group(t, tree, node, path, cmp));
      return;
    }
    TORUSML_CHECK(!t.is_leaf(node), "a leaf group always fits: its path is shorter than 2^bits");
    path.push_back({node, false});
    visit(static_cast<std::size_t>(t.left[node]));
    path.back().second = true;
    visit(static_cast<std::size_t>(t.right[node]));
    path.pop_back();
  };
  visit(0);
}

// One table lookup of the leaf stage: a table over its group's index values, and the weights
// of its result in the output columns.
struct Lookup {
  std::size_t group = 0;
  std::vector<std::int64_t> table;
  std::vector<std::pair<std::size_t, std::int64_t>> outputs;  // (column, weight)
  std::string name;
};

// A grid input reaching every leaf of `t` (per feature, the lowest value its path allows).
void leaf_inputs(const IntegerTree& t, std::size_t n_features,
                 std::set<std::vector<std::int64_t>>& inputs) {
  std::vector<std::int64_t> lo(n_features, 0);
  std::function<void(std::size_t)> visit = [&](std::size_t node) {
    if (t.is_leaf(node)) {
      inputs.insert(lo);
      return;
    }
    const auto f = static_cast<std::size_t>(t.feature[node]);
    visit(static_cast<std::size_t>(t.left[node]));
    const std::int64_t saved = lo[f];
    lo[f] = std::max(lo[f], t.threshold[node] + 1);
    visit(static_cast<std::size_t>(t.right[node]));
    lo[f] = saved;
  };
  visit(0);
}

ValueRange hull(const ValueRange& a, const ValueRange& b) {
  return {std::min(a.min, b.min), std::max(a.max, b.max)};
}

Tensor matrix_tensor(std::size_t rows, std::size_t cols, std::vector<std::int64_t> values) {
  return Tensor({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)},
                std::move(values));
}

// The leaf stage of an ensemble: groups, their lookups, and per output column the sum of the
// trees' smallest leaf values (clear constants) and of their largest.
struct LeafStage {
  std::vector<Group> groups;
  std::vector<Lookup> lookups;
  std::vector<std::int64_t> bias, high;
};

// Cuts every tree into groups of `bits`-bit indices and plans their lookups: per group, one per
// output whose values vary over its leaves, or (when fewer) one indicator per such leaf.
LeafStage plan_leaf_stage(std::span<const IntegerTree> trees, const Comparisons& cmp, unsigned bits,
                          std::size_t n_outputs, bool fhe_sum) {
  const std::size_t columns = fhe_sum ? n_outputs : trees.size() * n_outputs;
  const auto column = [&](std::size_t t, std::size_t k) { return fhe_sum ? k : t * n_outputs + k; };
  LeafStage stage{
      {}, {}, std::vector<std::int64_t>(columns, 0), std::vector<std::int64_t>(columns, 0)};
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const IntegerTree& tree = trees[t];
    std::vector<std::int64_t> base(n_outputs, std::numeric_limits<std::int64_t>::max()),
        top(n_outputs, std::numeric_limits<std::int64_t>::min());
    for (std::size_t i = 0; i < tree.size(); ++i)
      if (tree.is_leaf(i))
        for (std::size_t k = 0; k < n_outputs; ++k) {
          base[k] = std::min(base[k], tree.leaf_value(i)[k]);
          top[k] = std::max(top[k], tree.leaf_value(i)[k]);
        }
    for (std::size_t k = 0; k < n_outputs; ++k) {
      stage.bias[column(t, k)] += base[k];
      stage.high[column(t, k)] += top[k];
    }
    if (tree.is_leaf(0)) continue;  // a constant tree: its values are the clear constants
    const std::size_t first = stage.groups.size();
    cut_into_groups(tree, t, bits, cmp, stage.groups);
    const auto delta = [&](std::size_t leaf, std::size_t k) {
      return tree.leaf_value(leaf)[k] - base[k];
    };
    for (std::size_t gi = first; gi < stage.groups.size(); ++gi) {
      const Group& g = stage.groups[gi];
      std::vector<std::size_t> live_outputs, live_leaves;
      for (std::size_t k = 0; k < n_outputs; ++k)
        if (std::ranges::any_of(g.leaves, [&](std::size_t l) { return delta(l, k) != 0; }))
          live_outputs.push_back(k);
      for (std::size_t l : g.leaves)
        for (std::size_t k = 0; k < n_outputs; ++k)
          if (delta(l, k) != 0) {
            live_leaves.push_back(l);
            break;
          }
      const std::string name = "tree" + std::to_string(t) + ".group" + std::to_string(gi - first);
      if (live_outputs.size() <= live_leaves.size()) {
        for (std::size_t k : live_outputs) {
          Lookup u{gi,
                   std::vector<std::int64_t>(g.size(), 0),
                   {{column(t, k), 1}},
                   name + ".output" + std::to_string(k)};
          for (std::size_t i = 0; i < g.size(); ++i)
            if (g.reached(i)) u.table[i] = delta(g.leaf_of(i), k);
          stage.lookups.push_back(std::move(u));
        }
      } else {
        for (std::size_t l : live_leaves) {
          Lookup u{
              gi, std::vector<std::int64_t>(g.size(), 0), {}, name + ".leaf" + std::to_string(l)};
          for (std::size_t i = 0; i < g.size(); ++i) u.table[i] = g.reached(i) && g.leaf_of(i) == l;
          for (std::size_t k = 0; k < n_outputs; ++k)
            if (delta(l, k) != 0) u.outputs.push_back({column(t, k), delta(l, k)});
          stage.lookups.push_back(std::move(u));
        }
      }
    }
  }
  return stage;
}

// Grid inputs reaching the extremes of x, every leaf and every group index's extremes.
std::vector<std::vector<std::int64_t>> grid_inputs(std::span<const IntegerTree> trees,
                                                   const std::vector<Group>& groups,
                                                   const Comparisons& cmp, std::size_t n_features,
                                                   std::int64_t q_max) {
  std::set<std::vector<std::int64_t>> grid;
  grid.insert(std::vector<std::int64_t>(n_features, 0));
  grid.insert(std::vector<std::int64_t>(n_features, q_max));
  for (const IntegerTree& t : trees) leaf_inputs(t, n_features, grid);
  for (const Group& g : groups) {
    Extremes e = extremes(g.index, cmp, n_features);
    grid.insert(std::move(e.arg_min));
    grid.insert(std::move(e.arg_max));
  }
  return {grid.begin(), grid.end()};
}

// c_d = [x_{f_d} > T_d], one table per distinct threshold value.
Value lower_comparisons(Value x, const Comparisons& cmp, std::int64_t q_max, LoweredTrees& out) {
  std::vector<std::int64_t> features(cmp.feature.begin(), cmp.feature.end());
  const Value taken = circuit::take(x, features, 0);
  out.range_hints[taken.id()] = {0, q_max};
  std::vector<circuit::TableFunction> tables;
  std::map<std::int64_t, std::int32_t> table_of_threshold;
  std::vector<std::int32_t> element_table;
  for (std::int64_t t : cmp.threshold) {
    auto [it, added] = table_of_threshold.emplace(t, static_cast<std::int32_t>(tables.size()));
    if (added)
      tables.push_back({[t](std::int64_t v) -> std::int64_t { return v > t ? 1 : 0; },
                        "x>" + std::to_string(t)});
    element_table.push_back(it->second);
  }
  const Value c = circuit::apply_tables(taken, std::move(tables), std::move(element_table));
  out.range_hints[c.id()] = {0, 1};
  return c;
}

// One index per lookup, (c @ M+ + bias) - c @ M-: every intermediate stays non-negative. Sets
// out.max_lookup_bits to the width of the indices' encoding class.
Value lower_indices(Value c, const LeafStage& stage, const Comparisons& cmp, std::size_t n_features,
                    unsigned bits, LoweredTrees& out) {
  const std::size_t d_count = cmp.feature.size(), l_count = stage.lookups.size();
  std::vector<std::int64_t> plus(d_count * l_count, 0), minus(d_count * l_count, 0),
      index_bias(l_count, 0);
  ValueRange r_plus{0, 0}, r_biased{0, 0}, r_minus{0, 0}, r_index{0, 0};
  bool any_minus = false;
  for (std::size_t u = 0; u < l_count; ++u) {
    const LinearForm& form = stage.groups[stage.lookups[u].group].index;
    LinearForm pos, neg;
    for (const auto& [d, w] : form.weights) {
      (w > 0 ? plus : minus)[d * l_count + u] = std::abs(w);
      (w > 0 ? pos : neg).weights[d] = std::abs(w);
      any_minus = any_minus || w < 0;
    }
    index_bias[u] = form.bias;
    const Extremes ep = extremes(pos, cmp, n_features), en = extremes(neg, cmp, n_features),
                   ei = extremes(form, cmp, n_features);
    r_plus = hull(r_plus, {ep.min, ep.max});
    r_biased = hull(r_biased, {ep.min + form.bias, ep.max + form.bias});
    r_minus = hull(r_minus, {en.min, en.max});
    r_index = hull(r_index, {ei.min, ei.max});
  }
  TORUSML_CHECK(r_index.min >= 0 && r_biased.max < (std::int64_t{1} << bits),
                "group indices lie in [0, 2^bits)");
  const Value product = circuit::matmul(c, matrix_tensor(d_count, l_count, std::move(plus)));
  out.range_hints[product.id()] = r_plus;
  Value index = product + Tensor::vector(index_bias);
  out.range_hints[index.id()] = r_biased;
  if (any_minus) {
    const Value subtrahend = circuit::matmul(c, matrix_tensor(d_count, l_count, std::move(minus)));
    out.range_hints[subtrahend.id()] = r_minus;
    index = index - subtrahend;
    out.range_hints[index.id()] = r_index;
  }
  const ValueRange index_class = hull(hull(hull(r_biased, r_index), r_minus), {0, 1});
  out.max_lookup_bits = static_cast<unsigned>(
      std::bit_width(static_cast<std::uint64_t>(std::max<std::int64_t>(index_class.max, 1))));
  return index;
}

// The leaf lookups (identical tables shared), then their sums per output column (without the
// constants).
Value lower_leaf_lookups(Value index, std::vector<Lookup>& lookups, std::size_t columns,
                         const ValueRange& sums_range, LoweredTrees& out) {
  const std::size_t l_count = lookups.size();
  std::vector<circuit::TableFunction> tables;
  std::map<std::vector<std::int64_t>, std::int32_t> table_of;
  std::vector<std::int32_t> element_table;
  std::vector<std::int64_t> output_map(l_count * columns, 0);
  std::int64_t largest = 0;
  for (std::size_t u = 0; u < l_count; ++u) {
    Lookup& l = lookups[u];
    for (std::int64_t v : l.table) largest = std::max(largest, v);
    for (const auto& [col, w] : l.outputs) output_map[u * columns + col] += w;
    auto [it, added] = table_of.emplace(l.table, static_cast<std::int32_t>(tables.size()));
    if (added) {
      auto values = std::make_shared<const std::vector<std::int64_t>>(std::move(l.table));
      tables.push_back({[values](std::int64_t v) -> std::int64_t {
                          return v >= 0 && static_cast<std::size_t>(v) < values->size()
                                     ? (*values)[static_cast<std::size_t>(v)]
                                     : 0;
                        },
                        l.name});
    }
    element_table.push_back(it->second);
  }
  const Value y = circuit::apply_tables(index, std::move(tables), std::move(element_table));
  out.range_hints[y.id()] = {0, largest};
  const Value sums = circuit::matmul(y, matrix_tensor(l_count, columns, std::move(output_map)));
  out.range_hints[sums.id()] = sums_range;
  return sums;
}

}  // namespace

LoweredTrees lower_tree_ensemble(std::span<const IntegerTree> trees, std::size_t n_features,
                                 std::size_t n_outputs, unsigned n_bits, unsigned group_bits,
                                 bool fhe_sum) {
  TORUSML_CHECK(!trees.empty() && n_bits >= 1 && n_bits <= 8 && n_features > 0 && n_outputs > 0 &&
                    group_bits <= 16,
                "lower_tree_ensemble: invalid sizes");
  const std::int64_t q_max = (std::int64_t{1} << n_bits) - 1;
  for (std::size_t t = 0; t < trees.size(); ++t)
    validate_integer_tree(trees[t], n_features, n_outputs, q_max,
                          std::numeric_limits<std::int64_t>::max(), t);
  LoweredTrees out;
  TreeLookupStatistics& stats = out.statistics;
  const Comparisons cmp = collect_comparisons(trees);
  std::size_t max_depth = 0;
  for (const IntegerTree& t : trees) max_depth = std::max(max_depth, depth(t, 0));
  const unsigned bits = std::max({group_bits == 0 ? n_bits : group_bits, 2u,
                                  static_cast<unsigned>(std::bit_width(max_depth))});
  LeafStage stage = plan_leaf_stage(trees, cmp, bits, n_outputs, fhe_sum);
  stats.group_bits = bits;
  stats.comparison_lookups = cmp.feature.size();
  stats.leaf_lookups = stage.lookups.size();
  stats.lookups_per_sample = stats.comparison_lookups + stats.leaf_lookups;
  stats.groups = stage.groups.size();
  TORUSML_CHECK_EQ(stats.comparison_lookups == 0, stats.leaf_lookups == 0);
  out.grid_inputs = grid_inputs(trees, stage.groups, cmp, n_features, q_max);

  // Ranges of the outputs: each tree contributes one of its leaves' values.
  const std::size_t columns = stage.bias.size();
  ValueRange sums{0, 0}, outputs{stage.bias[0], stage.bias[0]};
  for (std::size_t c = 0; c < columns; ++c) {
    sums = hull(sums, {0, stage.high[c] - stage.bias[c]});
    outputs = hull(outputs, {stage.bias[c], stage.high[c]});
  }

  circuit::Builder b;
  const Value x = b.input("x", {static_cast<std::int64_t>(n_features)});
  out.range_hints[x.id()] = {0, q_max};
  Value result;
  if (stage.lookups.empty()) {
    // Constant trees only: a leveled circuit returning the constants.
    result = circuit::matmul(x, Tensor::zeros({static_cast<std::int64_t>(n_features),
                                               static_cast<std::int64_t>(columns)}));
    out.range_hints[result.id()] = {0, 0};
  } else {
    const Value c = lower_comparisons(x, cmp, q_max, out);
    const Value index = lower_indices(c, stage, cmp, n_features, bits, out);
    result = lower_leaf_lookups(index, stage.lookups, columns, sums, out);
    stats.precisions[n_bits] += stats.comparison_lookups;
    stats.precisions[out.max_lookup_bits] += stats.leaf_lookups;
  }
  out.max_lookup_bits = std::max(out.max_lookup_bits, n_bits);
  result = result + Tensor::vector(stage.bias);
  out.range_hints[result.id()] = outputs;
  result = circuit::reshape(result, {fhe_sum ? 1 : static_cast<std::int64_t>(trees.size()),
                                     static_cast<std::int64_t>(n_outputs)});
  out.range_hints[result.id()] = outputs;
  b.output(result);
  out.program = b.build();
  return out;
}

}  // namespace torusml::ml
