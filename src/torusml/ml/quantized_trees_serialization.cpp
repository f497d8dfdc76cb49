// Serialization of a quantized tree ensemble's parameters (for pickling). Layout, little-endian:
//   u64 magic "TMLTREES" | u32 version (2) | u8 n_bits, leaf_bits, split rule, fhe_sum,
//   group_bits, input encoding (0 auto, 1 value, 2 digits, 3 thermometer; absent in version 1,
//   which is still read: auto) |
//   u64 n_features, n_outputs, n_trees, reference lookups, pruned nodes |
//   per feature, then per output: f64 scale, i64 zero point (unsigned quantizers) |
//   per tree: u64 n_nodes, per node i64 feature, threshold, left, right, then n_nodes * n_outputs
//   i64 leaf values | u64 FNV-1a checksum of everything before it.
// Loading checks the framing and checksum, bounds every count by the bytes left before
// allocating, and validates the model as a whole (quantizers, trees) before lowering it.
#include <limits>
#include <sstream>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/ml/quantized_trees.h"

namespace torusml::ml {

namespace {

constexpr std::uint64_t kMagic = 0x53454552544c4d54ULL;  // "TMLTREES"
constexpr std::uint32_t kVersion = 2;

[[noreturn]] void throw_invalid(const std::string& what) {
  throw SerializationError("QuantizedTreeEnsemble: invalid serialized model: " + what);
}

std::uint64_t bounded_count(ByteReader& r, const char* field, std::size_t bytes_each) {
  const std::uint64_t n = r.u64(field);
  if (n > r.remaining() / bytes_each) {
    std::ostringstream os;
    os << field << " = " << n << " exceeds what the remaining " << r.remaining()
       << " bytes can hold";
    throw_invalid(os.str());
  }
  return n;
}

}  // namespace

std::vector<std::uint8_t> QuantizedTreeEnsemble::serialize() const {
  ByteWriter w;
  w.u64(kMagic);
  w.u32(kVersion);
  w.u8(static_cast<std::uint8_t>(options_.n_bits));
  w.u8(static_cast<std::uint8_t>(options_.leaf_bits));
  w.u8(static_cast<std::uint8_t>(options_.split_rule));
  w.u8(options_.fhe_sum ? 1 : 0);
  w.u8(static_cast<std::uint8_t>(options_.group_bits));
  w.u8(static_cast<std::uint8_t>(options_.input_encoding));
  w.u64(n_features());
  w.u64(n_outputs());
  w.u64(n_trees());
  w.u64(reference_lookups_);
  w.u64(pruned_nodes_);
  for (const auto* list : {&input_quantizers_, &leaf_quantizers_})
    for (const UniformQuantizer& q : *list) {
      w.f64(q.scale());
      w.i64(q.zero_point());
    }
  for (const IntegerTree& t : trees_) {
    w.u64(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
      w.i64(t.feature[i]);
      w.i64(t.threshold[i]);
      w.i64(t.left[i]);
      w.i64(t.right[i]);
    }
    for (std::int64_t v : t.value) w.i64(v);
  }
  w.u64(fnv1a64(w.data()));
  return w.take();
}

QuantizedTreeEnsemble QuantizedTreeEnsemble::deserialize(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 16) throw_invalid("too short (truncated)");
  const auto body = bytes.first(bytes.size() - 8);
  ByteReader tail(bytes.last(8));
  if (tail.u64("checksum") != fnv1a64(body))
    throw_invalid("checksum mismatch (corrupted or truncated bytes)");
  ByteReader r(body);
  if (r.u64("magic") != kMagic) throw_invalid("not a serialized QuantizedTreeEnsemble");
  const std::uint32_t version = r.u32("version");
  if (version != 1 && version != kVersion) {
    std::ostringstream os;
    os << "format version " << version << " is not supported (this build reads versions 1 to "
       << kVersion << "); recreate the model from the float trees";
    throw_invalid(os.str());
  }
  QuantizedTreeEnsemble m;
  m.options_.n_bits = r.u8("n_bits");
  m.options_.leaf_bits = r.u8("leaf_bits");
  const std::uint8_t rule = r.u8("split_rule");
  const std::uint8_t fhe_sum = r.u8("fhe_sum");
  m.options_.group_bits = r.u8("group_bits");
  m.options_.input_encoding =
      static_cast<TreeInputEncoding>(version >= 2 ? r.u8("input_encoding") : 0);
  if (rule != static_cast<std::uint8_t>(SplitRule::LessEqual) &&
      rule != static_cast<std::uint8_t>(SplitRule::Less))
    throw_invalid("unknown split rule");
  if (fhe_sum > 1) throw_invalid("fhe_sum is not a boolean");
  m.options_.split_rule = static_cast<SplitRule>(rule);
  m.options_.fhe_sum = fhe_sum == 1;
  const std::uint64_t n_features = bounded_count(r, "n_features", 16);
  const std::uint64_t n_outputs = bounded_count(r, "n_outputs", 16);
  const std::uint64_t n_trees = bounded_count(r, "n_trees", 8);
  const std::uint64_t reference = r.u64("reference lookups");
  const std::uint64_t pruned = r.u64("pruned nodes");
  if (n_features == 0 || n_outputs == 0 || n_trees == 0)
    throw_invalid("no feature, output or tree");
  try {
    validate_options(m.options_);
    for (std::uint64_t j = 0; j < n_features + n_outputs; ++j) {
      const double scale = r.f64("scale");
      const std::int64_t zero_point = r.i64("zero point");
      const unsigned bits = j < n_features ? m.options_.n_bits : m.options_.leaf_bits;
      (j < n_features ? m.input_quantizers_ : m.leaf_quantizers_)
          .emplace_back(QuantizerOptions{bits, false, false}, scale, zero_point);
    }
    const std::int64_t q_max = (std::int64_t{1} << m.options_.n_bits) - 1;
    const std::int64_t value_max = (std::int64_t{1} << m.options_.leaf_bits) - 1;
    for (std::uint64_t t = 0; t < n_trees; ++t) {
      const std::uint64_t n = bounded_count(r, "n_nodes", 32 + 8 * n_outputs);
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
        throw_invalid("a tree has too many nodes");
      IntegerTree tree;
      tree.n_outputs = n_outputs;
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::int64_t f = r.i64("feature"), th = r.i64("threshold"), left = r.i64("left"),
                           right = r.i64("right");
        const auto fits32 = [](std::int64_t v) {
          return v >= std::numeric_limits<std::int32_t>::min() &&
                 v <= std::numeric_limits<std::int32_t>::max();
        };
        if (!fits32(f) || !fits32(left) || !fits32(right)) throw_invalid("a node index overflows");
        tree.feature.push_back(static_cast<std::int32_t>(f));
        tree.threshold.push_back(th);
        tree.left.push_back(static_cast<std::int32_t>(left));
        tree.right.push_back(static_cast<std::int32_t>(right));
      }
      tree.value.resize(n * n_outputs);
      for (auto& v : tree.value) v = r.i64("leaf value");
      validate_integer_tree(tree, n_features, n_outputs, q_max, value_max, t);
      prune_decided_nodes(tree, q_max);  // no-ops on a model this library wrote
      merge_constant_subtrees(tree);
      m.trees_.push_back(std::move(tree));
    }
  } catch (const InvalidArgument& e) {
    throw_invalid(e.what());
  }
  r.expect_end("QuantizedTreeEnsemble");
  m.reference_lookups_ = reference;
  m.pruned_nodes_ = pruned;
  m.lowered_ = m.lower_default();
  return m;
}

}  // namespace torusml::ml
