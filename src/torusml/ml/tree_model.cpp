#include "torusml/ml/tree_model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "torusml/common/error.h"

namespace torusml::ml {

namespace {

[[noreturn]] void throw_tree_error(std::size_t tree, std::size_t node, const std::string& what) {
  std::ostringstream os;
  os << "tree " << tree << ", node " << node << ": " << what;
  throw InvalidArgument(os.str());
}

// The structural rules shared by float and integer trees: leaves (left == right == -1) with a
// negative feature, internal nodes with a feature in [0, n_features) and children in [1, n),
// every node reached exactly once from the root.
template <class Index, class Feature>
void validate_structure(std::span<const Feature> feature, std::span<const Index> left,
                        std::span<const Index> right, std::size_t n_features, std::size_t tree) {
  const std::size_t n = feature.size();
  if (n == 0) {
    std::ostringstream os;
    os << "tree " << tree << " has no node: a tree needs at least its root (node 0)";
    throw InvalidArgument(os.str());
  }
  if (left.size() != n || right.size() != n) {
    std::ostringstream os;
    os << "tree " << tree << ": 'feature' has " << n << " entries but 'left' has " << left.size()
       << " and 'right' " << right.size() << "; pass one entry per node in every array";
    throw InvalidArgument(os.str());
  }
  for (std::size_t i = 0; i < n; ++i) {
    const bool leaf_left = left[i] == -1, leaf_right = right[i] == -1;
    if (leaf_left != leaf_right)
      throw_tree_error(tree, i,
                       "exactly one child is -1; a leaf has left = right = -1, an internal node "
                       "two children");
    if (leaf_left) {
      if (feature[i] >= 0)
        throw_tree_error(tree, i, "a leaf (no children) must have a negative feature (-1)");
      continue;
    }
    if (feature[i] < 0 || static_cast<std::uint64_t>(feature[i]) >= n_features) {
      std::ostringstream os;
      os << "feature " << feature[i] << " is outside [0, " << n_features
         << "); the calibration data must have a column for every feature the trees split on";
      throw_tree_error(tree, i, os.str());
    }
    for (const Index child : {left[i], right[i]}) {
      if (child < 1 || static_cast<std::uint64_t>(child) >= n) {
        std::ostringstream os;
        os << "child index " << child << " is outside [1, " << n
           << "); children are node indices of the same tree (node 0 is the root)";
        throw_tree_error(tree, i, os.str());
      }
    }
  }
  // Every node reached exactly once: visiting a node twice means a shared child or a cycle.
  std::vector<char> seen(n, 0);
  std::vector<std::size_t> stack{0};
  seen[0] = 1;
  while (!stack.empty()) {
    const std::size_t i = stack.back();
    stack.pop_back();
    if (left[i] == -1) continue;
    for (const Index child : {left[i], right[i]}) {
      const auto c = static_cast<std::size_t>(child);
      if (seen[c])
        throw_tree_error(tree, c,
                         "reached twice from the root (a cycle or a shared child); each node "
                         "must have exactly one parent");
      seen[c] = 1;
      stack.push_back(c);
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!seen[i])
      throw_tree_error(tree, i,
                       "is not reachable from the root (node 0); pass only the nodes of the tree");
}

}  // namespace

SplitRule parse_split_rule(const std::string& text) {
  if (text == "<=") return SplitRule::LessEqual;
  if (text == "<") return SplitRule::Less;
  throw InvalidArgument("unknown split rule '" + text +
                        "': use \"<=\" (scikit-learn: x <= t goes left) or \"<\" (XGBoost: x < t "
                        "goes left)");
}

const char* to_string(SplitRule rule) {
  return rule == SplitRule::Less ? "<" : "<=";
}

void validate_tree(const DecisionTree& tree, std::size_t n_features, std::size_t n_outputs,
                   std::size_t index) {
  const std::size_t n = tree.feature.size();
  validate_structure<std::int64_t, std::int64_t>(tree.feature, tree.left, tree.right, n_features,
                                                 index);
  if (tree.threshold.size() != n) {
    std::ostringstream os;
    os << "tree " << index << ": 'threshold' has " << tree.threshold.size() << " entries for " << n
       << " nodes; pass one per node";
    throw InvalidArgument(os.str());
  }
  if (tree.value.rows() != n || tree.value.cols() != n_outputs) {
    std::ostringstream os;
    os << "tree " << index << ": 'value' has shape " << shape_to_string(tree.value)
       << ", expected (" << n << ", " << n_outputs
       << "): one row per node, one column per output, the same outputs in every tree";
    throw InvalidArgument(os.str());
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (tree.left[i] != -1) {
      if (!std::isfinite(tree.threshold[i]))
        throw_tree_error(index, i,
                         "the threshold is NaN or infinite; retrain on finite data (NaN-routing "
                         "splits are not supported)");
      continue;
    }
    for (double v : tree.value.row(i))
      if (!std::isfinite(v))
        throw_tree_error(index, i, "a leaf value is NaN or infinite; check the trained model");
  }
}

std::int64_t integer_threshold(const UniformQuantizer& quantizer, double threshold,
                               SplitRule rule) {
  const std::int64_t lo = quantizer.q_min(), hi = quantizer.q_max();
  const auto goes_left = [&](std::int64_t q) {
    const double d = quantizer.dequantize(q);
    return rule == SplitRule::LessEqual ? d <= threshold : d < threshold;
  };
  // An estimate within a step or two of T (clamped first: t / s may be huge), then exact steps.
  double estimate =
      std::floor(threshold / quantizer.scale()) + static_cast<double>(quantizer.zero_point());
  estimate = std::clamp(estimate, static_cast<double>(lo - 1), static_cast<double>(hi));
  auto t = static_cast<std::int64_t>(estimate);
  while (t < hi && goes_left(t + 1)) ++t;
  while (t >= lo && !goes_left(t)) --t;
  return t;
}

std::size_t IntegerTree::leaf_of(std::span<const std::int64_t> q) const {
  std::size_t node = 0;
  while (feature[node] >= 0)
    node = static_cast<std::size_t>(
        q[static_cast<std::size_t>(feature[node])] <= threshold[node] ? left[node] : right[node]);
  return node;
}

void validate_integer_tree(const IntegerTree& tree, std::size_t n_features, std::size_t n_outputs,
                           std::int64_t q_max, std::int64_t value_max, std::size_t index) {
  validate_structure<std::int32_t, std::int32_t>(tree.feature, tree.left, tree.right, n_features,
                                                 index);
  const std::size_t n = tree.size();
  if (tree.threshold.size() != n || tree.n_outputs != n_outputs ||
      tree.value.size() != n * n_outputs) {
    std::ostringstream os;
    os << "integer tree " << index << ": " << tree.threshold.size() << " thresholds and "
       << tree.value.size() << " values for " << n << " nodes and " << n_outputs
       << " outputs; pass one threshold per node and n_outputs values per node";
    throw InvalidArgument(os.str());
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!tree.is_leaf(i) && (tree.threshold[i] < 0 || tree.threshold[i] >= q_max)) {
      std::ostringstream os;
      os << "the integer threshold " << tree.threshold[i] << " is outside [0, " << q_max - 1
         << "]: such a split is decided on the grid and must have been pruned";
      throw_tree_error(index, i, os.str());
    }
    for (std::size_t k = 0; k < n_outputs; ++k) {
      const std::int64_t v = tree.value[i * n_outputs + k];
      if (v < 0 || v > value_max) {
        std::ostringstream os;
        os << "the quantized value " << v << " is outside [0, " << value_max << "]";
        throw_tree_error(index, i, os.str());
      }
    }
  }
}

IntegerTree to_integer_tree(const DecisionTree& tree, std::span<const UniformQuantizer> quantizers,
                            SplitRule rule, std::vector<std::size_t>& origin) {
  IntegerTree t;
  const std::size_t n = tree.feature.size();
  t.n_outputs = tree.value.cols();
  t.feature.resize(n, -1);
  t.threshold.resize(n, 0);
  t.left.resize(n, -1);
  t.right.resize(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (tree.left[i] == -1) continue;
    const auto& q = quantizers[static_cast<std::size_t>(tree.feature[i])];
    t.feature[i] = static_cast<std::int32_t>(tree.feature[i]);
    t.threshold[i] = integer_threshold(q, tree.threshold[i], rule);
    t.left[i] = static_cast<std::int32_t>(tree.left[i]);
    t.right[i] = static_cast<std::int32_t>(tree.right[i]);
  }
  origin = prune_decided_nodes(t, quantizers.empty() ? 0 : quantizers.front().q_max());
  return t;
}

std::vector<std::size_t> prune_decided_nodes(IntegerTree& tree, std::int64_t q_max) {
  std::int32_t features = 0;
  for (std::int32_t f : tree.feature) features = std::max(features, f + 1);
  // The grid values still possible for each feature on the current path: [lo, hi].
  std::vector<std::int64_t> lo(static_cast<std::size_t>(features), 0),
      hi(static_cast<std::size_t>(features), q_max);
  IntegerTree out;
  out.n_outputs = tree.n_outputs;
  std::vector<std::size_t> origin;
  std::function<std::int32_t(std::size_t)> visit = [&](std::size_t node) -> std::int32_t {
    while (!tree.is_leaf(node)) {
      const auto f = static_cast<std::size_t>(tree.feature[node]);
      const std::int64_t t = tree.threshold[node];
      if (t >= hi[f])
        node = static_cast<std::size_t>(tree.left[node]);
      else if (t < lo[f])
        node = static_cast<std::size_t>(tree.right[node]);
      else
        break;
    }
    const auto self = static_cast<std::int32_t>(out.feature.size());
    origin.push_back(node);
    out.feature.push_back(tree.feature[node]);
    out.threshold.push_back(tree.threshold[node]);
    out.left.push_back(-1);
    out.right.push_back(-1);
    if (tree.is_leaf(node)) return self;
    const auto f = static_cast<std::size_t>(tree.feature[node]);
    const std::int64_t t = tree.threshold[node];
    const std::int64_t saved_hi = hi[f];
    hi[f] = t;
    const std::int32_t l = visit(static_cast<std::size_t>(tree.left[node]));
    hi[f] = saved_hi;
    const std::int64_t saved_lo = lo[f];
    lo[f] = t + 1;
    const std::int32_t r = visit(static_cast<std::size_t>(tree.right[node]));
    lo[f] = saved_lo;
    out.left[static_cast<std::size_t>(self)] = l;
    out.right[static_cast<std::size_t>(self)] = r;
    return self;
  };
  visit(0);
  if (!tree.value.empty()) {
    out.value.reserve(origin.size() * tree.n_outputs);
    for (std::size_t node : origin) {
      const auto v = tree.leaf_value(node);
      out.value.insert(out.value.end(), v.begin(), v.end());
    }
  }
  tree = std::move(out);
  return origin;
}

std::size_t merge_constant_subtrees(IntegerTree& tree) {
  const std::size_t n = tree.size();
  // constant[i]: a leaf of i's subtree whose values every leaf of the subtree shares, or -1.
  std::vector<std::int64_t> constant(n, -1);
  const auto same = [&](std::size_t a, std::size_t b) {
    return std::ranges::equal(tree.leaf_value(a), tree.leaf_value(b));
  };
  std::function<void(std::size_t)> measure = [&](std::size_t node) {
    if (tree.is_leaf(node)) {
      constant[node] = static_cast<std::int64_t>(node);
      return;
    }
    const auto l = static_cast<std::size_t>(tree.left[node]),
               r = static_cast<std::size_t>(tree.right[node]);
    measure(l);
    measure(r);
    if (constant[l] >= 0 && constant[r] >= 0 &&
        same(static_cast<std::size_t>(constant[l]), static_cast<std::size_t>(constant[r])))
      constant[node] = constant[l];
  };
  measure(0);
  IntegerTree out;
  out.n_outputs = tree.n_outputs;
  std::function<std::int32_t(std::size_t)> copy = [&](std::size_t node) -> std::int32_t {
    const auto self = static_cast<std::int32_t>(out.feature.size());
    const bool collapse = constant[node] >= 0;
    const std::size_t source = collapse ? static_cast<std::size_t>(constant[node]) : node;
    out.feature.push_back(collapse ? -1 : tree.feature[node]);
    out.threshold.push_back(collapse ? 0 : tree.threshold[node]);
    out.left.push_back(-1);
    out.right.push_back(-1);
    const auto v = tree.leaf_value(source);
    if (collapse) {
      out.value.insert(out.value.end(), v.begin(), v.end());
      return self;
    }
    out.value.insert(out.value.end(), tree.n_outputs, 0);
    const std::int32_t l = copy(static_cast<std::size_t>(tree.left[node]));
    const std::int32_t r = copy(static_cast<std::size_t>(tree.right[node]));
    out.left[static_cast<std::size_t>(self)] = l;
    out.right[static_cast<std::size_t>(self)] = r;
    return self;
  };
  copy(0);
  const std::size_t removed = n - out.size();
  tree = std::move(out);
  return removed;
}

}  // namespace torusml::ml
