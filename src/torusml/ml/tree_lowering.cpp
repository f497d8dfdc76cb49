#include "torusml/ml/tree_lowering.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "torusml/circuit/frontend/builder.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"

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

// A lookup result the leaf stage reads: a function of one feature's quantized input q, tabulated
// over the whole grid [0, q_max].
struct Signal {
  std::int32_t feature = 0;
  std::vector<std::int64_t> values;
};

// bias + sum_s weights[s] signal_s.
struct LinearForm {
  std::map<std::size_t, std::int64_t> weights;
  std::int64_t bias = 0;
};

// The tables of the first stage, on one element x of the program input (q or a digit).
enum class DigitTable : std::uint8_t {
  Greater = 1,  // [x > t]
  Three = 2,    // 2 [x > t] + [x == t]
};

std::int64_t apply_digit_table(DigitTable table, std::int64_t t, std::int64_t x) {
  return table == DigitTable::Greater ? (x > t ? 1 : 0) : 2 * (x > t ? 1 : 0) + (x == t ? 1 : 0);
}

struct InputLookup {
  std::int64_t input = 0;  // element of the program input
  DigitTable table = DigitTable::Greater;
  std::int64_t t = 0;
};

// How the leaf stage reads comparison d: c_d = [q > T_d] as a signal (a first-stage lookup, or
// a c lookup on v), and with 2 digits and T_l < L, v = a + b with c = [v >= 2].
struct ComparisonPlan {
  std::optional<std::size_t> c;  // the signal of c_d, once some group needs it
  bool summed = false;           // v below is defined
  LinearForm sum;                // v over first-stage signals
  std::int64_t sum_min = 0, sum_max = 0;
  std::int64_t radix() const { return sum_max - sum_min + 1; }
};

// The signals: first the first-stage lookups (one per entry of `inputs`), then the c lookups on
// v (one per entry of `sums`, a comparison).
struct Signals {
  std::vector<Signal> signals;
  std::vector<InputLookup> inputs;
  std::vector<std::size_t> sums;
  std::vector<ComparisonPlan> comparisons;
  std::int64_t q_max = 0;
  unsigned input_bits = 0;      // bits of the program input's elements
  std::int64_t input_max = 0;   // their largest value
  std::size_t input_width = 0;  // elements of the program input
  bool taken = false;           // Thermometer: the signals are input bits (inputs[i].input)
  std::size_t lookups() const { return taken ? 0 : signals.size(); }
};

// g(q) = sum over the terms of `form` on `feature` (bias excluded), for q in [0, q_max].
std::vector<std::int64_t> tabulate(const LinearForm& form, const std::vector<Signal>& signals,
                                   std::int32_t feature, std::int64_t q_max) {
  std::vector<std::int64_t> g(static_cast<std::size_t>(q_max + 1), 0);
  for (const auto& [s, w] : form.weights)
    if (w != 0 && signals[s].feature == feature)
      for (std::size_t q = 0; q < g.size(); ++q) g[q] += w * signals[s].values[q];
  return g;
}

// With 2 digits, the middle thresholds t in [1, H - 1] of one feature whose a is read as
// [h > t] + [h > t - 1] rather than from a lookup 2 [h > t] + [h == t] of its own: the set S of
// [h > u] lookups (containing `forced`) minimizing |S| + (middle thresholds not covered by S),
// by exhaustive search over the candidates t and t - 1 (at most H - 1 <= 14 of them); on ties
// the smaller S (a sum of two lookups is noisier than one lookup).
std::set<std::int64_t> choose_pairs(const std::set<std::int64_t>& forced,
                                    const std::set<std::int64_t>& middle) {
  std::vector<std::int64_t> optional;
  for (std::int64_t t : middle)
    for (std::int64_t u : {t - 1, t})
      if (!forced.contains(u) && std::ranges::find(optional, u) == optional.end())
        optional.push_back(u);
  TORUSML_CHECK(optional.size() <= 16, "at most 15 high-digit thresholds");
  // Per middle threshold, the optional lookups its pair needs (forced ones are always there).
  std::vector<std::uint32_t> needs;
  for (std::int64_t t : middle) {
    std::uint32_t need = 0;
    for (std::size_t i = 0; i < optional.size(); ++i)
      if (optional[i] == t || optional[i] == t - 1) need |= std::uint32_t{1} << i;
    needs.push_back(need);
  }
  std::pair<std::size_t, int> best{std::numeric_limits<std::size_t>::max(), 0};
  std::uint32_t best_mask = 0;
  for (std::uint32_t mask = 0; mask < (std::uint32_t{1} << optional.size()); ++mask) {
    const int lookups = std::popcount(mask);
    std::size_t cost = static_cast<std::size_t>(lookups);
    for (std::uint32_t need : needs) cost += (mask & need) == need ? 0 : 1;
    if (std::pair{cost, lookups} < best) {
      best = {cost, lookups};
      best_mask = mask;
    }
  }
  std::set<std::int64_t> pairs;
  std::size_t k = 0;
  for (std::int64_t t : middle) {
    if ((best_mask & needs[k]) == needs[k]) pairs.insert(t);
    ++k;
  }
  return pairs;
}

// Thermometer: every comparison is an input bit, taken as its c signal.
Signals plan_taken_signals(const Comparisons& cmp, std::size_t n_features, unsigned n_bits) {
  Signals s;
  s.q_max = (std::int64_t{1} << n_bits) - 1;
  s.comparisons.resize(cmp.feature.size());
  s.input_bits = 1;
  s.input_max = 1;
  s.input_width = encoded_input_width(n_features, n_bits, TreeInputEncoding::Thermometer);
  s.taken = true;
  for (std::size_t d = 0; d < cmp.feature.size(); ++d) {
    Signal signal{cmp.feature[d], std::vector<std::int64_t>(static_cast<std::size_t>(s.q_max + 1))};
    for (std::int64_t q = 0; q <= s.q_max; ++q)
      signal.values[static_cast<std::size_t>(q)] = q > cmp.threshold[d] ? 1 : 0;
    s.comparisons[d].c = s.signals.size();
    s.signals.push_back(std::move(signal));
    s.inputs.push_back({static_cast<std::int64_t>(cmp.feature[d]) * s.q_max + cmp.threshold[d],
                        DigitTable::Greater, cmp.threshold[d]});
  }
  return s;
}

// The first-stage lookups and, per comparison, its c signal (1 digit, or T_l = L) or its v.
Signals plan_signals(const Comparisons& cmp, std::size_t n_features, unsigned n_bits,
                     TreeInputEncoding encoding) {
  if (encoding == TreeInputEncoding::Thermometer)
    return plan_taken_signals(cmp, n_features, n_bits);
  const unsigned digits = encoding == TreeInputEncoding::Digits ? 2 : 1;
  Signals s;
  s.q_max = (std::int64_t{1} << n_bits) - 1;
  s.comparisons.resize(cmp.feature.size());
  const unsigned lb = digits == 2 ? low_digit_bits(n_bits) : 0;
  const std::int64_t low_max = (std::int64_t{1} << lb) - 1;
  const std::int64_t high_max = (std::int64_t{1} << (n_bits - lb)) - 1;
  s.input_bits = n_bits - lb;
  s.input_max = high_max;
  s.input_width = n_features * digits;
  std::map<std::tuple<std::int64_t, DigitTable, std::int64_t>, std::size_t> made;
  const auto lookup = [&](std::int32_t f, bool low, DigitTable table, std::int64_t t) {
    const auto fi = static_cast<std::int64_t>(f);
    const std::int64_t input = low ? static_cast<std::int64_t>(n_features) + fi : fi;
    const auto [it, added] = made.emplace(std::tuple{input, table, t}, s.signals.size());
    if (added) {
      Signal signal{f, std::vector<std::int64_t>(static_cast<std::size_t>(s.q_max + 1))};
      for (std::int64_t q = 0; q <= s.q_max; ++q) {
        const std::int64_t x = digits == 1 ? q : (low ? q & low_max : q >> lb);
        signal.values[static_cast<std::size_t>(q)] = apply_digit_table(table, t, x);
      }
      s.signals.push_back(std::move(signal));
      s.inputs.push_back({input, table, t});
    }
    return it->second;
  };
  if (digits == 1) {
    for (std::size_t d = 0; d < cmp.feature.size(); ++d)
      s.comparisons[d].c = lookup(cmp.feature[d], false, DigitTable::Greater, cmp.threshold[d]);
    return s;
  }
  std::map<std::int32_t, std::vector<std::size_t>> of_feature;
  for (std::size_t d = 0; d < cmp.feature.size(); ++d) of_feature[cmp.feature[d]].push_back(d);
  for (const auto& [f, ds] : of_feature) {
    // [h > u] lookups needed anyway (T_l = L, and a for T_h = 0 or H); middle T_h's a.
    std::set<std::int64_t> forced, middle;
    for (std::size_t d : ds) {
      const std::int64_t th = cmp.threshold[d] >> lb, tl = cmp.threshold[d] & low_max;
      if (tl == low_max)
        forced.insert(th);
      else if (th == 0)
        forced.insert(0);
      else if (th == high_max)
        forced.insert(high_max - 1);
      else
        middle.insert(th);
    }
    const std::set<std::int64_t> pairs = choose_pairs(forced, middle);
    for (std::size_t d : ds) {
      const std::int64_t th = cmp.threshold[d] >> lb, tl = cmp.threshold[d] & low_max;
      ComparisonPlan& plan = s.comparisons[d];
      if (tl == low_max) {  // [l > L] = 0: c = [h > T_h]
        plan.c = lookup(f, false, DigitTable::Greater, th);
        continue;
      }
      plan.summed = true;
      LinearForm& v = plan.sum;
      if (th == 0) {  // a = 2 [h > 0] + [h == 0] = 1 + [h > 0]
        v.weights[lookup(f, false, DigitTable::Greater, 0)] += 1;
        v.bias = 1;
      } else if (th == high_max) {  // a = [h == H] = [h > H - 1]
        v.weights[lookup(f, false, DigitTable::Greater, high_max - 1)] += 1;
      } else if (pairs.contains(th)) {  // a = [h > T_h] + [h >= T_h]
        v.weights[lookup(f, false, DigitTable::Greater, th)] += 1;
        v.weights[lookup(f, false, DigitTable::Greater, th - 1)] += 1;
      } else {
        v.weights[lookup(f, false, DigitTable::Three, th)] += 1;
      }
      v.weights[lookup(f, true, DigitTable::Greater, tl)] += 1;
      const std::vector<std::int64_t> g = tabulate(v, s.signals, f, s.q_max);
      const auto [lo, hi] = std::ranges::minmax_element(g);
      plan.sum_min = *lo + v.bias;
      plan.sum_max = *hi + v.bias;
      TORUSML_CHECK(
          plan.sum_min >= 0 && plan.sum_min <= 1 && plan.sum_max >= 2 && plan.sum_max <= 3,
          "a + b takes values in [0, 3] on both sides of 2");
    }
  }
  return s;
}

// Extremes of a linear form over the grid [0, q_max]^n_features and grid inputs reaching them.
struct Extremes {
  std::int64_t min = 0, max = 0;
  std::vector<std::int64_t> arg_min, arg_max;
};

// The form is a sum over features of functions of one feature each: each is tabulated over its
// grid and extremal independently of the other features.
Extremes extremes(const LinearForm& form, const std::vector<Signal>& signals,
                  std::size_t n_features, std::int64_t q_max) {
  std::set<std::int32_t> features;
  for (const auto& [s, w] : form.weights)
    if (w != 0) features.insert(signals[s].feature);
  Extremes e{form.bias, form.bias, std::vector<std::int64_t>(n_features, 0),
             std::vector<std::int64_t>(n_features, 0)};
  for (std::int32_t f : features) {
    const std::vector<std::int64_t> g = tabulate(form, signals, f, q_max);
    const auto lo = std::ranges::min_element(g), hi = std::ranges::max_element(g);
    e.min += *lo;
    e.max += *hi;
    e.arg_min[static_cast<std::size_t>(f)] = lo - g.begin();
    e.arg_max[static_cast<std::size_t>(f)] = hi - g.begin();
  }
  return e;
}

// A subtree of one tree whose leaf is selected by one lookup input (see the header comment):
// index = code + R A_g.
struct Group {
  std::size_t tree = 0, root = 0;
  std::vector<std::pair<std::size_t, bool>> path;  // prefix: (node, turns right)
  std::vector<std::size_t> locals;                 // internal nodes of the subtree, depth first
  std::vector<std::size_t> leaves;                 // the subtree's leaves, depth first
  std::vector<std::int64_t> radix;                 // per local: 2 (c) or the values of v
  std::vector<char> summed;                        // per local: reads v (else c)
  // Set by finish_group:
  std::size_t codes = 0;  // R, the product of the radices
  LinearForm index;
  std::vector<std::size_t> leaf_at;  // per code: the leaf it reaches

  std::size_t required() const {  // index values: (|P| + 1) R
    std::size_t r = path.size() + 1;
    for (std::int64_t x : radix) r *= static_cast<std::size_t>(x);
    return r;
  }
  std::size_t size() const { return (path.size() + 1) * codes; }
  bool reached(std::size_t i) const { return i / codes == path.size(); }
  std::size_t leaf_of(std::size_t i) const { return leaf_at[i % codes]; }
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
                 const std::vector<std::pair<std::size_t, bool>>& path) {
  Group g;
  g.tree = tree;
  g.root = root;
  g.path = path;
  std::function<void(std::size_t)> walk = [&](std::size_t node) {
    if (t.is_leaf(node)) {
      g.leaves.push_back(node);
      return;
    }
    g.locals.push_back(node);
    walk(static_cast<std::size_t>(t.left[node]));
    walk(static_cast<std::size_t>(t.right[node]));
  };
  walk(root);
  g.radix.assign(g.locals.size(), 2);
  g.summed.assign(g.locals.size(), 0);
  return g;
}

// Cuts tree `tree` into groups whose indices fit `bits` bits with c for every node, top down.
void cut_into_groups(const IntegerTree& t, std::size_t tree, unsigned bits,
                     std::vector<Group>& groups) {
  std::vector<std::pair<std::size_t, bool>> path;
  std::function<void(std::size_t)> visit = [&](std::size_t node) {
    const std::size_t locals = internal_nodes(t, node);
    if (locals <= bits && ((path.size() + 1) << locals) <= (std::size_t{1} << bits)) {
      groups.push_back(make_group(t, tree, node, path));
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

// local_sums: a comparison with a v that no prefix reads needs no c lookup if every group
// reading it takes v instead (radix r_d instead of 2) and still fits `bits` bits. Comparisons
// are tried by fewest uses first (each use costs room in its group).
void sum_local_comparisons(std::vector<Group>& groups, std::span<const IntegerTree> trees,
                           const Comparisons& cmp, const Signals& s, unsigned bits) {
  const std::size_t d_count = cmp.feature.size();
  std::vector<char> in_prefix(d_count, 0);
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> uses(d_count);  // (group, local)
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    const IntegerTree& t = trees[g.tree];
    for (const auto& step : g.path) in_prefix[cmp.of(t, step.first)] = 1;
    for (std::size_t j = 0; j < g.locals.size(); ++j)
      uses[cmp.of(t, g.locals[j])].push_back({gi, j});
  }
  std::vector<std::size_t> order;
  for (std::size_t d = 0; d < d_count; ++d)
    if (s.comparisons[d].summed && !in_prefix[d] && !uses[d].empty()) order.push_back(d);
  std::ranges::stable_sort(order, {}, [&](std::size_t d) { return uses[d].size(); });
  const std::size_t capacity = std::size_t{1} << bits;
  for (std::size_t d : order) {
    const auto r = static_cast<std::size_t>(s.comparisons[d].radix());
    std::map<std::size_t, std::size_t> grown;  // group -> index values once widened
    for (const auto& [gi, j] : uses[d]) {
      auto it = grown.try_emplace(gi, groups[gi].required()).first;
      it->second = it->second / 2 * r;
    }
    if (std::ranges::all_of(grown, [&](const auto& e) { return e.second <= capacity; }))
      for (const auto& [gi, j] : uses[d]) {
        groups[gi].radix[j] = static_cast<std::int64_t>(r);
        groups[gi].summed[j] = 1;
      }
  }
}

// A c lookup (signal [q > T]) for every comparison with a v that a prefix or a radix-2 local
// reads.
void add_c_lookups(const std::vector<Group>& groups, std::span<const IntegerTree> trees,
                   const Comparisons& cmp, Signals& s) {
  std::set<std::size_t> needed;
  for (const Group& g : groups) {
    const IntegerTree& t = trees[g.tree];
    for (const auto& step : g.path) needed.insert(cmp.of(t, step.first));
    for (std::size_t j = 0; j < g.locals.size(); ++j)
      if (!g.summed[j]) needed.insert(cmp.of(t, g.locals[j]));
  }
  for (std::size_t d : needed) {
    ComparisonPlan& plan = s.comparisons[d];
    if (plan.c) continue;
    TORUSML_CHECK(plan.summed, "a comparison without a first-stage c has a + b");
    Signal signal{cmp.feature[d], std::vector<std::int64_t>(static_cast<std::size_t>(s.q_max + 1))};
    for (std::int64_t q = 0; q <= s.q_max; ++q)
      signal.values[static_cast<std::size_t>(q)] = q > cmp.threshold[d] ? 1 : 0;
    plan.c = s.signals.size();
    s.signals.push_back(std::move(signal));
    s.sums.push_back(d);
  }
}

// The group's mixed-radix index over the signals and its leaf per code.
void finish_group(Group& g, const IntegerTree& t, const Comparisons& cmp, const Signals& s) {
  std::vector<std::size_t> order(g.locals.size());
  for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::ranges::stable_sort(order, {}, [&](std::size_t j) { return g.radix[j]; });
  std::vector<std::int64_t> weight(g.locals.size(), 0);
  std::int64_t w = 1;
  for (std::size_t j : order) {
    weight[j] = w;
    w *= g.radix[j];
  }
  g.codes = static_cast<std::size_t>(w);
  std::map<std::size_t, std::size_t> local_of;
  for (std::size_t j = 0; j < g.locals.size(); ++j) {
    local_of[g.locals[j]] = j;
    const ComparisonPlan& plan = s.comparisons[cmp.of(t, g.locals[j])];
    if (!g.summed[j]) {
      g.index.weights[*plan.c] += weight[j];
    } else {
      for (const auto& [signal, v] : plan.sum.weights) g.index.weights[signal] += weight[j] * v;
      g.index.bias += weight[j] * (plan.sum.bias - plan.sum_min);
    }
  }
  // A_g counts the prefix conditions that hold: c_i where the path turns right, 1 - c_i where it
  // turns left.
  const std::int64_t unit = w;
  for (const auto& [node, right] : g.path) {
    g.index.weights[*s.comparisons[cmp.of(t, node)].c] += right ? unit : -unit;
    g.index.bias += right ? 0 : unit;
  }
  g.leaf_at.resize(g.codes);
  for (std::size_t code = 0; code < g.codes; ++code) {
    std::size_t node = g.root;
    while (!t.is_leaf(node)) {
      const std::size_t j = local_of.at(node);
      const std::int64_t digit = (static_cast<std::int64_t>(code) / weight[j]) % g.radix[j];
      const bool right = g.summed[j]
                             ? digit + s.comparisons[cmp.of(t, node)].sum_min >= 2  // v >= 2
                             : digit == 1;
      node = static_cast<std::size_t>(right ? t.right[node] : t.left[node]);
    }
    g.leaf_at[code] = node;
  }
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

unsigned bits_of(const ValueRange& r) {
  return static_cast<unsigned>(
      std::bit_width(static_cast<std::uint64_t>(std::max<std::int64_t>(r.max, 1))));
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

// Cuts every tree into groups of `bits`-bit indices (widening locals to v with local_sums),
// adds the c lookups they need, and plans their lookups: per group, one per output whose values
// vary over its leaves, or (when fewer) one indicator per such leaf.
LeafStage plan_leaf_stage(std::span<const IntegerTree> trees, const Comparisons& cmp, Signals& s,
                          unsigned bits, std::size_t n_outputs, bool fhe_sum, bool local_sums) {
  const std::size_t columns = fhe_sum ? n_outputs : trees.size() * n_outputs;
  const auto column = [&](std::size_t t, std::size_t k) { return fhe_sum ? k : t * n_outputs + k; };
  LeafStage stage{
      {}, {}, std::vector<std::int64_t>(columns, 0), std::vector<std::int64_t>(columns, 0)};
  std::vector<std::vector<std::int64_t>> base(trees.size());
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const IntegerTree& tree = trees[t];
    base[t].assign(n_outputs, std::numeric_limits<std::int64_t>::max());
    std::vector<std::int64_t> top(n_outputs, std::numeric_limits<std::int64_t>::min());
    for (std::size_t i = 0; i < tree.size(); ++i)
      if (tree.is_leaf(i))
        for (std::size_t k = 0; k < n_outputs; ++k) {
          base[t][k] = std::min(base[t][k], tree.leaf_value(i)[k]);
          top[k] = std::max(top[k], tree.leaf_value(i)[k]);
        }
    for (std::size_t k = 0; k < n_outputs; ++k) {
      stage.bias[column(t, k)] += base[t][k];
      stage.high[column(t, k)] += top[k];
    }
    if (!tree.is_leaf(0)) cut_into_groups(tree, t, bits, stage.groups);
    // else a constant tree: its values are the clear constants
  }
  if (local_sums) sum_local_comparisons(stage.groups, trees, cmp, s, bits);
  add_c_lookups(stage.groups, trees, cmp, s);
  std::size_t first_of_tree = 0;
  for (std::size_t gi = 0; gi < stage.groups.size(); ++gi) {
    Group& g = stage.groups[gi];
    const std::size_t t = g.tree;
    const IntegerTree& tree = trees[t];
    if (gi == 0 || stage.groups[gi - 1].tree != t) first_of_tree = gi;
    finish_group(g, tree, cmp, s);
    const auto delta = [&](std::size_t leaf, std::size_t k) {
      return tree.leaf_value(leaf)[k] - base[t][k];
    };
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
    const std::string name =
        "tree" + std::to_string(t) + ".group" + std::to_string(gi - first_of_tree);
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
  return stage;
}

// Grid inputs reaching the extremes of x, every leaf and every group index's extremes.
std::vector<std::vector<std::int64_t>> grid_inputs(std::span<const IntegerTree> trees,
                                                   const std::vector<Group>& groups,
                                                   const Signals& s, std::size_t n_features) {
  std::set<std::vector<std::int64_t>> grid;
  grid.insert(std::vector<std::int64_t>(n_features, 0));
  grid.insert(std::vector<std::int64_t>(n_features, s.q_max));
  for (const IntegerTree& t : trees) leaf_inputs(t, n_features, grid);
  for (const Group& g : groups) {
    Extremes e = extremes(g.index, s.signals, n_features, s.q_max);
    grid.insert(std::move(e.arg_min));
    grid.insert(std::move(e.arg_max));
  }
  return {grid.begin(), grid.end()};
}

// The signals as one vector: the first-stage lookups on take(x, ...) (one table per distinct
// function), then, if any, v = first @ Mv + bias and the c lookups [v >= 2], concatenated; with
// Thermometer, the input bits taken. `signal_class` receives the hull of these values' ranges
// (they share the indices' encoding).
Value lower_signals(Value x, const Signals& s, ValueRange& signal_class, LoweredTrees& out) {
  if (s.taken) {
    std::vector<std::int64_t> elements;
    for (const InputLookup& l : s.inputs) elements.push_back(l.input);
    const Value taken = circuit::take(x, std::move(elements), 0);
    out.range_hints[taken.id()] = {0, 1};
    signal_class = {0, 1};
    return taken;
  }
  std::vector<std::int64_t> elements;
  std::vector<circuit::TableFunction> tables;
  std::map<std::pair<DigitTable, std::int64_t>, std::int32_t> table_of;
  std::vector<std::int32_t> element_table;
  for (const InputLookup& l : s.inputs) {
    elements.push_back(l.input);
    auto [it, added] =
        table_of.emplace(std::pair{l.table, l.t}, static_cast<std::int32_t>(tables.size()));
    if (added) {
      const DigitTable table = l.table;
      const std::int64_t t = l.t;
      tables.push_back(
          {[table, t](std::int64_t v) { return apply_digit_table(table, t, v); },
           (table == DigitTable::Greater ? "x>" : "2[x>t]+[x==t],t=") + std::to_string(t)});
    }
    element_table.push_back(it->second);
  }
  const std::size_t first_count = s.inputs.size();
  ValueRange first_range{0, 0};
  for (std::size_t i = 0; i < first_count; ++i) {
    const auto [lo, hi] = std::ranges::minmax_element(s.signals[i].values);
    first_range = hull(first_range, {*lo, *hi});
  }
  const Value taken = circuit::take(x, std::move(elements), 0);
  out.range_hints[taken.id()] = {0, s.input_max};
  const Value first = circuit::apply_tables(taken, std::move(tables), std::move(element_table));
  out.range_hints[first.id()] = first_range;
  signal_class = first_range;
  if (s.sums.empty()) return first;

  const std::size_t sum_count = s.sums.size();
  std::vector<std::int64_t> mv(first_count * sum_count, 0), bias(sum_count, 0);
  ValueRange r_product{std::numeric_limits<std::int64_t>::max(), 0}, r_sum = r_product;
  for (std::size_t u = 0; u < sum_count; ++u) {
    const ComparisonPlan& plan = s.comparisons[s.sums[u]];
    for (const auto& [signal, w] : plan.sum.weights) mv[signal * sum_count + u] = w;
    bias[u] = plan.sum.bias;
    r_product.min = std::min(r_product.min, plan.sum_min - plan.sum.bias);
    r_product.max = std::max(r_product.max, plan.sum_max - plan.sum.bias);
    r_sum.min = std::min(r_sum.min, plan.sum_min);
    r_sum.max = std::max(r_sum.max, plan.sum_max);
  }
  Value v = circuit::matmul(first, matrix_tensor(first_count, sum_count, std::move(mv)));
  out.range_hints[v.id()] = r_product;
  if (std::ranges::any_of(bias, [](std::int64_t b) { return b != 0; })) {
    v = v + Tensor::vector(bias);
    out.range_hints[v.id()] = r_sum;
  }
  const Value c = circuit::apply_table(
      v, [](std::int64_t a_plus_b) -> std::int64_t { return a_plus_b >= 2 ? 1 : 0; }, "a+b>=2");
  out.range_hints[c.id()] = {0, 1};
  const Value parts[] = {first, c};
  const Value all = circuit::concatenate(parts, 0);
  out.range_hints[all.id()] = hull(first_range, {0, 1});
  signal_class = hull(hull(hull(first_range, r_product), r_sum), {0, 1});
  return all;
}

// One index per lookup, (s @ M+ + bias) - s @ M-: every intermediate stays non-negative. Returns
// the width of the indices' encoding class (with the signals' values, `signal_class`).
Value lower_indices(Value signals, const LeafStage& stage, const Signals& s, std::size_t n_features,
                    unsigned bits, const ValueRange& signal_class, unsigned& class_bits,
                    LoweredTrees& out) {
  const std::size_t d_count = s.signals.size(), l_count = stage.lookups.size();
  std::vector<std::int64_t> plus(d_count * l_count, 0), minus(d_count * l_count, 0),
      index_bias(l_count, 0);
  ValueRange r_plus{0, 0}, r_biased{0, 0}, r_minus{0, 0}, r_index{0, 0};
  bool any_minus = false;
  for (std::size_t u = 0; u < l_count; ++u) {
    const LinearForm& form = stage.groups[stage.lookups[u].group].index;
    LinearForm pos, neg;
    for (const auto& [d, w] : form.weights) {
      if (w == 0) continue;
      (w > 0 ? plus : minus)[d * l_count + u] = std::abs(w);
      (w > 0 ? pos : neg).weights[d] = std::abs(w);
      any_minus = any_minus || w < 0;
    }
    index_bias[u] = form.bias;
    const Extremes ep = extremes(pos, s.signals, n_features, s.q_max),
                   en = extremes(neg, s.signals, n_features, s.q_max),
                   ei = extremes(form, s.signals, n_features, s.q_max);
    r_plus = hull(r_plus, {ep.min, ep.max});
    r_biased = hull(r_biased, {ep.min + form.bias, ep.max + form.bias});
    r_minus = hull(r_minus, {en.min, en.max});
    r_index = hull(r_index, {ei.min, ei.max});
  }
  TORUSML_CHECK(r_index.min >= 0 && r_biased.max < (std::int64_t{1} << bits),
                "group indices lie in [0, 2^bits)");
  const Value product = circuit::matmul(signals, matrix_tensor(d_count, l_count, std::move(plus)));
  out.range_hints[product.id()] = r_plus;
  Value index = product + Tensor::vector(index_bias);
  out.range_hints[index.id()] = r_biased;
  if (any_minus) {
    const Value subtrahend =
        circuit::matmul(signals, matrix_tensor(d_count, l_count, std::move(minus)));
    out.range_hints[subtrahend.id()] = r_minus;
    index = index - subtrahend;
    out.range_hints[index.id()] = r_index;
  }
  class_bits = bits_of(hull(hull(hull(hull(r_biased, r_index), r_minus), signal_class), {0, 1}));
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

const char* to_string(TreeInputEncoding encoding) {
  switch (encoding) {
    case TreeInputEncoding::Auto:
      return "auto";
    case TreeInputEncoding::Value:
      return "value";
    case TreeInputEncoding::Digits:
      return "digits";
    case TreeInputEncoding::Thermometer:
      return "thermometer";
  }
  return "unknown";
}

TreeInputEncoding parse_tree_input_encoding(const std::string& name) {
  for (const TreeInputEncoding e : {TreeInputEncoding::Auto, TreeInputEncoding::Value,
                                    TreeInputEncoding::Digits, TreeInputEncoding::Thermometer})
    if (name == to_string(e)) return e;
  throw InvalidArgument("unknown input encoding '" + name +
                        "': use 'auto' (chosen at compile), 'value' (one n_bits value per "
                        "input), 'digits' (two digits per input) or 'thermometer' (2^n_bits - 1 "
                        "bits per input)");
}

std::size_t encoded_input_width(std::size_t n_features, unsigned n_bits,
                                TreeInputEncoding encoding) {
  switch (encoding) {
    case TreeInputEncoding::Digits:
      return 2 * n_features;
    case TreeInputEncoding::Thermometer:
      return n_features * ((std::size_t{1} << n_bits) - 1);
    default:
      return n_features;
  }
}

circuit::Tensor encode_tree_inputs(const circuit::Tensor& q_x, unsigned n_bits,
                                   TreeInputEncoding encoding) {
  TORUSML_CHECK(
      encoding != TreeInputEncoding::Auto && q_x.rank() >= 1 && n_bits >= 1 && n_bits <= 8,
      "encode_tree_inputs: an encoding of a tensor of samples");
  if (encoding == TreeInputEncoding::Value) return q_x;
  circuit::Shape shape = q_x.shape();
  const auto f = static_cast<std::size_t>(shape.back());
  const std::size_t rows = f == 0 ? 0 : q_x.size() / f;
  const std::size_t width = encoded_input_width(f, n_bits, encoding);
  std::vector<std::int64_t> out(rows * width, 0);
  const auto in = q_x.values();
  if (encoding == TreeInputEncoding::Thermometer) {
    const std::size_t levels = (std::size_t{1} << n_bits) - 1;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < f; ++j) {
        const auto q = static_cast<std::size_t>(
            std::clamp<std::int64_t>(in[r * f + j], 0, static_cast<std::int64_t>(levels)));
        std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(r * width + j * levels), q, 1);
      }
  } else {
    const unsigned lb = low_digit_bits(n_bits);
    const std::int64_t low_mask = (std::int64_t{1} << lb) - 1;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < f; ++j) {
        const std::int64_t q = in[r * f + j];
        out[r * width + j] = q >> lb;
        out[r * width + f + j] = q & low_mask;
      }
  }
  shape.back() = static_cast<std::int64_t>(width);
  return circuit::Tensor(std::move(shape), std::move(out));
}

LoweredTrees lower_tree_ensemble(std::span<const IntegerTree> trees, std::size_t n_features,
                                 std::size_t n_outputs, const TreeLoweringOptions& options) {
  const unsigned n_bits = options.n_bits;
  const TreeInputEncoding encoding = options.input_encoding;
  TORUSML_CHECK(!trees.empty() && n_bits >= 1 && n_bits <= 8 && n_features > 0 && n_outputs > 0 &&
                    options.group_bits <= 16 && encoding != TreeInputEncoding::Auto &&
                    (encoding != TreeInputEncoding::Digits || n_bits >= 2),
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
  const unsigned bits = std::max({options.group_bits == 0 ? n_bits : options.group_bits, 2u,
                                  static_cast<unsigned>(std::bit_width(max_depth))});
  out.options = options;
  out.options.group_bits = bits;
  Signals s = plan_signals(cmp, n_features, n_bits, encoding);
  LeafStage stage = plan_leaf_stage(trees, cmp, s, bits, n_outputs, options.fhe_sum,
                                    options.local_sums && encoding == TreeInputEncoding::Digits);
  stats.group_bits = bits;
  stats.input_encoding = encoding;
  stats.input_ciphertexts = s.input_width;
  stats.comparisons = cmp.feature.size();
  stats.comparison_lookups = s.lookups();
  stats.input_lookups = s.taken ? 0 : s.inputs.size();
  stats.summed_comparisons = static_cast<std::size_t>(std::ranges::count_if(
      s.comparisons, [](const ComparisonPlan& p) { return p.summed && !p.c; }));
  stats.leaf_lookups = stage.lookups.size();
  stats.lookups_per_sample = stats.comparison_lookups + stats.leaf_lookups;
  stats.groups = stage.groups.size();
  TORUSML_CHECK_EQ(s.signals.empty(), stats.leaf_lookups == 0);
  out.grid_inputs = grid_inputs(trees, stage.groups, s, n_features);

  // Ranges of the outputs: each tree contributes one of its leaves' values.
  const std::size_t columns = stage.bias.size();
  ValueRange sums{0, 0}, outputs{stage.bias[0], stage.bias[0]};
  for (std::size_t c = 0; c < columns; ++c) {
    sums = hull(sums, {0, stage.high[c] - stage.bias[c]});
    outputs = hull(outputs, {stage.bias[c], stage.high[c]});
  }

  circuit::Builder b;
  const Value x = b.input("x", {static_cast<std::int64_t>(s.input_width)});
  out.range_hints[x.id()] = {0, s.input_max};
  Value result;
  if (stage.lookups.empty()) {
    // Constant trees only: a leveled circuit returning the constants.
    result = circuit::matmul(x, Tensor::zeros({static_cast<std::int64_t>(s.input_width),
                                               static_cast<std::int64_t>(columns)}));
    out.range_hints[result.id()] = {0, 0};
  } else {
    ValueRange signal_class;
    const Value signals = lower_signals(x, s, signal_class, out);
    unsigned class_bits = 0;
    const Value index =
        lower_indices(signals, stage, s, n_features, bits, signal_class, class_bits, out);
    result = lower_leaf_lookups(index, stage.lookups, columns, sums, out);
    if (stats.input_lookups > 0) stats.precisions[s.input_bits] += stats.input_lookups;
    stats.precisions[class_bits] += s.sums.size() + stats.leaf_lookups;
    out.max_lookup_bits = class_bits;
  }
  out.max_lookup_bits = std::max(out.max_lookup_bits, s.input_bits);
  result = result + Tensor::vector(stage.bias);
  out.range_hints[result.id()] = outputs;
  result = circuit::reshape(result, {options.fhe_sum ? 1 : static_cast<std::int64_t>(trees.size()),
                                     static_cast<std::int64_t>(n_outputs)});
  out.range_hints[result.id()] = outputs;
  b.output(result);
  out.program = b.build();
  return out;
}

}  // namespace torusml::ml
