#include "torusml/circuit/compile/analysis.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "torusml/circuit/compile/exact_rounding.h"
#include "torusml/circuit/compile/linear_map.h"
#include "torusml/circuit/evaluate/evaluate.h"
#include "torusml/common/check.h"
#include "torusml/common/error.h"

namespace torusml::circuit {

namespace {

unsigned bit_length(std::uint64_t v) {
  return static_cast<unsigned>(std::bit_width(v));
}

struct UnionFind {
  std::vector<std::int32_t> parent;
  explicit UnionFind(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  std::int32_t find(std::int32_t x) {
    while (parent[static_cast<std::size_t>(x)] != x) {
      parent[static_cast<std::size_t>(x)] =
          parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(x)])];
      x = parent[static_cast<std::size_t>(x)];
    }
    return x;
  }
  void unite(std::int32_t a, std::int32_t b) {
    parent[static_cast<std::size_t>(find(a))] = find(b);
  }
};

// Largest squared value of a clear operand: exact for constants, from the measured range else.
double max_square(const Program& program, const std::vector<NodeAnalysis>& nodes, NodeId id) {
  const Node& n = program.node(id);
  if (n.op == OpKind::Constant) {
    double m = 0;
    for (std::int64_t v : std::get<ConstantAttr>(n.attributes).value.values())
      m = std::max(m, static_cast<double>(v) * static_cast<double>(v));
    return m;
  }
  const ValueRange& r = nodes[static_cast<std::size_t>(id)].range;
  const double a =
      std::max(std::fabs(static_cast<double>(r.min)), std::fabs(static_cast<double>(r.max)));
  return a * a;
}

// Largest sum of squares of the weights reaching one output element of a linear op whose clear
// operand is `w` (a constant, or a runtime clear value bounded by its range).
double matmul_norm2(const Program& program, const std::vector<NodeAnalysis>& nodes,
                    const Node& node) {
  const Node& x = program.node(node.inputs[0]);
  const NodeId clear_id = x.encrypted ? node.inputs[1] : node.inputs[0];
  const Node& w = program.node(clear_id);
  const bool weights_right = x.encrypted;  // x @ W: sum over W's second-to-last axis
  const Shape& ws = w.shape;
  if (w.op != OpKind::Constant) {
    const std::int64_t reduced =
        weights_right ? (ws.size() >= 2 ? ws[ws.size() - 2] : ws[0]) : ws.back();
    return static_cast<double>(reduced) * max_square(program, nodes, clear_id);
  }
  const Tensor& t = std::get<ConstantAttr>(w.attributes).value;
  const auto v = t.values();
  if (ws.size() == 1) {
    double s = 0;
    for (std::int64_t a : v) s += static_cast<double>(a) * static_cast<double>(a);
    return s;
  }
  // Batched: treat the constant as a stack of matrices (rows x cols).
  const std::size_t rows = static_cast<std::size_t>(ws[ws.size() - 2]),
                    cols = static_cast<std::size_t>(ws.back());
  const std::size_t mats = v.size() / (rows * cols);
  double best = 0;
  for (std::size_t m = 0; m < mats; ++m) {
    const std::int64_t* base = v.data() + m * rows * cols;
    if (weights_right) {  // column sums of squares
      for (std::size_t c = 0; c < cols; ++c) {
        double s = 0;
        for (std::size_t r = 0; r < rows; ++r)
          s += static_cast<double>(base[r * cols + c]) * static_cast<double>(base[r * cols + c]);
        best = std::max(best, s);
      }
    } else {  // W @ x: row sums of squares
      for (std::size_t r = 0; r < rows; ++r) {
        double s = 0;
        for (std::size_t c = 0; c < cols; ++c)
          s += static_cast<double>(base[r * cols + c]) * static_cast<double>(base[r * cols + c]);
        best = std::max(best, s);
      }
    }
  }
  return best;
}

double conv_norm2(const Program& program, const std::vector<NodeAnalysis>& nodes,
                  const Node& node) {
  const NodeId wid = node.inputs[1];
  const Node& w = program.node(wid);
  const Shape& ws = w.shape;  // O, I/groups, kh, kw
  const std::int64_t per_output = ws[1] * ws[2] * ws[3];
  if (w.op != OpKind::Constant)
    return static_cast<double>(per_output) * max_square(program, nodes, wid);
  const auto v = std::get<ConstantAttr>(w.attributes).value.values();
  double best = 0;
  for (std::int64_t o = 0; o < ws[0]; ++o) {
    double s = 0;
    for (std::int64_t i = 0; i < per_output; ++i) {
      const double a = static_cast<double>(v[static_cast<std::size_t>(o * per_output + i)]);
      s += a * a;
    }
    best = std::max(best, s);
  }
  return best;
}

std::string describe_range(const ValueRange& r) {
  std::ostringstream os;
  os << "[" << r.min << ", " << r.max << "]";
  return os.str();
}

}  // namespace

unsigned ValueRange::width() const {
  if (min >= 0) return std::max(1u, bit_length(static_cast<std::uint64_t>(max)));
  const std::uint64_t neg = static_cast<std::uint64_t>(-(min + 1));
  const std::uint64_t pos = max > 0 ? static_cast<std::uint64_t>(max) : 0;
  return 1 + std::max(bit_length(neg), bit_length(pos));
}

bool is_fused_rounding(const Program& program, NodeId id) {
  const Node& n = program.node(id);
  if (n.op != OpKind::Round || !n.encrypted) return false;
  if (std::get<RoundAttr>(n.attributes).mode != RoundingMode::Approximate) return false;
  bool any = false;
  for (std::size_t i = static_cast<std::size_t>(id) + 1; i < program.nodes.size(); ++i) {
    const Node& c = program.nodes[i];
    if (std::find(c.inputs.begin(), c.inputs.end(), id) == c.inputs.end()) continue;
    if (c.op != OpKind::TableLookup) return false;
    any = true;
  }
  for (NodeId out : program.outputs)
    if (out == id) return false;
  return any;
}

namespace {

// Steps 2 and 3 of analyze_program (classes, encodings, noise weights, requirements) for a choice
// of lowering of the encrypted exact roundings: digits[i] != 0 lowers node i by digits. Resets
// what a previous call derived. Returns the roundings by digits that cannot be lowered so (then
// nothing else is derived): the caller lowers them by table and calls again.
std::vector<NodeId> derive(const Program& program, ProgramAnalysis& a,
                           const AnalysisOptions& options, const std::vector<char>& digits) {
  const std::size_t count = program.nodes.size();
  a.classes.clear();
  a.pbs_requirements.clear();
  a.pbs_nodes.clear();
  a.pbs_sources.clear();
  a.output_requirements.clear();
  for (NodeAnalysis& na : a.nodes) {
    const ValueRange range = na.range;
    na = NodeAnalysis{};
    na.range = range;
  }

  // 2. Encoding classes.
  UnionFind uf(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = program.nodes[i];
    if (!n.encrypted) continue;
    const bool joins =
        is_linear_op(n) || is_fused_rounding(program, static_cast<NodeId>(i)) || digits[i] != 0;
    if (!joins) continue;
    for (NodeId in : n.inputs)
      if (program.node(in).encrypted) uf.unite(static_cast<std::int32_t>(i), in);
  }
  // The members whose value is read, not only combined linearly: program inputs (encrypted by
  // the client) and outputs (decrypted), and the inputs of bootstraps. Only they must fit the
  // class width. Linear operations are exact modulo 2^(W+1) (the torus is Z / 2^64, the encoding
  // scales by 2^(63-W)), so an intermediate sum may wrap as long as what is read fits: e.g. an
  // accumulator minus a per-element offset is read by its lookup centred, however wide the
  // accumulator itself.
  std::vector<bool> read(count, false);
  for (NodeId id : program.inputs) read[static_cast<std::size_t>(id)] = true;
  for (NodeId id : program.outputs) read[static_cast<std::size_t>(id)] = true;
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = program.nodes[i];
    if (!n.encrypted || is_linear_op(n)) continue;  // a fused rounding's input is read too
    for (NodeId in : n.inputs) read[static_cast<std::size_t>(in)] = true;
  }
  std::vector<std::int32_t> class_of_root(count, -1);
  std::vector<unsigned> widest_member;  // per class, over all members (the 62-bit limit)
  std::vector<bool> any_read;
  for (std::size_t i = 0; i < count; ++i) {
    if (!program.nodes[i].encrypted) continue;
    const std::int32_t root = uf.find(static_cast<std::int32_t>(i));
    auto& c = class_of_root[static_cast<std::size_t>(root)];
    if (c < 0) {
      c = static_cast<std::int32_t>(a.classes.size());
      a.classes.push_back({});
      widest_member.push_back(1);
      any_read.push_back(false);
    }
    a.nodes[i].encoding = c;
    auto& cls = a.classes[static_cast<std::size_t>(c)];
    cls.members.push_back(static_cast<NodeId>(i));
    const auto ci = static_cast<std::size_t>(c);
    widest_member[ci] = std::max(widest_member[ci], a.nodes[i].range.width());
    if (read[i]) {
      cls.width = std::max(cls.width, a.nodes[i].range.width());
      any_read[ci] = true;
    }
  }
  for (std::size_t c = 0; c < a.classes.size(); ++c)
    if (!any_read[c]) a.classes[c].width = widest_member[c];  // nothing reads it: as wide as any
  for (std::size_t c = 0; c < a.classes.size(); ++c) {
    const EncodingClass& cls = a.classes[c];
    if (widest_member[c] > 62) {
      const NodeId widest =
          *std::max_element(cls.members.begin(), cls.members.end(), [&](NodeId x, NodeId y) {
            return a.nodes[static_cast<std::size_t>(x)].range.width() <
                   a.nodes[static_cast<std::size_t>(y)].range.width();
          });
      std::ostringstream os;
      os << "compile: '" << program.node(widest).label << "' needs " << widest_member[c]
         << " bits (measured range "
         << describe_range(a.nodes[static_cast<std::size_t>(widest)].range)
         << "); encrypted values are limited to 62 bits: quantize to fewer bits";
      throw CompileError(os.str());
    }
  }
  // Exact roundings by digits need 1 <= r < W and W - r bits a lookup may read.
  std::vector<NodeId> by_table;
  for (std::size_t i = 0; i < count; ++i) {
    if (!digits[i]) continue;
    const auto r = std::get<RoundAttr>(program.nodes[i].attributes).lsbs_to_remove;
    const unsigned w = a.classes[static_cast<std::size_t>(a.nodes[i].encoding)].width;
    if (r >= static_cast<std::int64_t>(w) || w - static_cast<unsigned>(r) > options.max_table_bits)
      by_table.push_back(static_cast<NodeId>(i));
  }
  if (!by_table.empty()) return by_table;

  // 3. Noise weights and requirements, in topological order.
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = program.nodes[i];
    NodeAnalysis& na = a.nodes[i];
    if (!n.encrypted) continue;
    auto in = [&](std::size_t k) -> const NodeAnalysis& {
      return a.nodes[static_cast<std::size_t>(n.inputs[k])];
    };
    auto enc = [&](std::size_t k) { return program.node(n.inputs[k]).encrypted; };
    const bool fused = is_fused_rounding(program, static_cast<NodeId>(i));
    if (digits[i]) {
      // Exact rounding by digits: its bootstraps read (multiples of) the input; the result is
      // the input plus their outputs, in the input's class.
      const NodeAnalysis& src = in(0);
      const auto r = static_cast<unsigned>(std::get<RoundAttr>(n.attributes).lsbs_to_remove);
      const unsigned w = a.classes[static_cast<std::size_t>(na.encoding)].width;
      na.rounding_by_digits = true;
      na.rounding_chunks = exact_rounding_chunks(w, r, options.max_table_bits);
      const ExactRoundingPlan plan =
          plan_exact_rounding(w, r, src.range.is_signed(), na.rounding_chunks);
      for (const ExactRoundingStep& step : plan.steps) {
        const double scale = std::ldexp(1.0, 2 * static_cast<int>(step.shift));
        a.pbs_nodes.push_back(static_cast<NodeId>(i));
        a.pbs_sources.push_back(n.inputs[0]);
        a.pbs_requirements.push_back(
            {step.precision_bits, (src.pbs_weight + step.outputs_before) * scale,
             src.fresh_weight * scale, static_cast<std::uint64_t>(element_count(n.shape))});
        na.pbs_precision = std::max(na.pbs_precision, step.precision_bits);
      }
      na.pbs_weight = src.pbs_weight + static_cast<double>(plan.steps.size());
      na.fresh_weight = src.fresh_weight;
      na.input_lsbs_removed = r;
      continue;
    }
    switch (n.op) {
      case OpKind::Input:
        na.fresh_weight = 1.0;
        break;
      case OpKind::Add:
      case OpKind::Sub:
        for (std::size_t k = 0; k < 2; ++k)
          if (enc(k)) {
            na.pbs_weight += in(k).pbs_weight;
            na.fresh_weight += in(k).fresh_weight;
          }
        break;
      case OpKind::Concatenate:
        for (std::size_t k = 0; k < n.inputs.size(); ++k)
          if (enc(k)) {
            na.pbs_weight = std::max(na.pbs_weight, in(k).pbs_weight);
            na.fresh_weight = std::max(na.fresh_weight, in(k).fresh_weight);
          }
        break;
      case OpKind::Mul: {
        const std::size_t e = enc(0) ? 0 : 1;
        const double s = max_square(program, a.nodes, n.inputs[1 - e]);
        na.pbs_weight = in(e).pbs_weight * s;
        na.fresh_weight = in(e).fresh_weight * s;
        break;
      }
      case OpKind::MatMul: {
        const std::size_t e = enc(0) ? 0 : 1;
        const double s = matmul_norm2(program, a.nodes, n);
        na.pbs_weight = in(e).pbs_weight * s;
        na.fresh_weight = in(e).fresh_weight * s;
        break;
      }
      case OpKind::Conv2d: {
        const double s = conv_norm2(program, a.nodes, n);
        na.pbs_weight = in(0).pbs_weight * s;
        na.fresh_weight = in(0).fresh_weight * s;
        break;
      }
      case OpKind::Sum: {
        const double s = static_cast<double>(element_count(program.node(n.inputs[0]).shape)) /
                         static_cast<double>(std::max<std::int64_t>(1, element_count(n.shape)));
        na.pbs_weight = in(0).pbs_weight * s;
        na.fresh_weight = in(0).fresh_weight * s;
        break;
      }
      case OpKind::SumPool2d: {
        const auto& k = std::get<Pool2dAttr>(n.attributes).kernel;
        const double s = static_cast<double>(k[0] * k[1]);
        na.pbs_weight = in(0).pbs_weight * s;
        na.fresh_weight = in(0).fresh_weight * s;
        break;
      }
      case OpKind::TableLookup:
      case OpKind::Round:
        if (fused) {
          na.pbs_weight = in(0).pbs_weight;
          na.fresh_weight = in(0).fresh_weight;
        } else {
          na.pbs_weight = 1.0;
        }
        break;
      default:  // Neg and data movement keep the weights.
        na.pbs_weight = in(0).pbs_weight;
        na.fresh_weight = in(0).fresh_weight;
        break;
    }

    // Bootstraps: table lookups and non-fused roundings read their (encrypted) input.
    const bool is_pbs =
        (n.op == OpKind::TableLookup || (n.op == OpKind::Round && !fused)) && enc(0);
    if (!is_pbs) continue;
    // A lookup whose input is a fused rounding reads the rounding's input with fewer bits.
    NodeId source = n.inputs[0];
    std::int64_t lsbs = 0;
    if (n.op == OpKind::Round) {
      lsbs = std::get<RoundAttr>(n.attributes).mode == RoundingMode::Approximate
                 ? std::get<RoundAttr>(n.attributes).lsbs_to_remove
                 : 0;
    } else if (is_fused_rounding(program, source)) {
      lsbs = std::get<RoundAttr>(program.node(source).attributes).lsbs_to_remove;
      source = program.node(source).inputs[0];
    } else if (const Node& in0 = program.node(source);
               in0.op == OpKind::Round &&
               std::get<RoundAttr>(in0.attributes).mode == RoundingMode::Exact) {
      // An exact rounding's result is a multiple of 2^r: its low bits need no reading.
      const auto r = std::get<RoundAttr>(in0.attributes).lsbs_to_remove;
      const unsigned w =
          a.classes[static_cast<std::size_t>(a.nodes[static_cast<std::size_t>(source)].encoding)]
              .width;
      if (r < static_cast<std::int64_t>(w)) lsbs = r;
    }
    const NodeAnalysis& src = a.nodes[static_cast<std::size_t>(source)];
    const unsigned class_width = a.classes[static_cast<std::size_t>(src.encoding)].width;
    if (lsbs >= static_cast<std::int64_t>(class_width)) {
      std::ostringstream os;
      os << "compile: '" << n.label << "' rounds away " << lsbs << " bits of a " << class_width
         << "-bit value: nothing would be left; remove fewer bits";
      throw CompileError(os.str());
    }
    na.pbs_precision = class_width - static_cast<unsigned>(lsbs);
    na.input_lsbs_removed = lsbs;
    if (na.pbs_precision > options.max_table_bits) {
      const NodeAnalysis& direct = a.nodes[static_cast<std::size_t>(n.inputs[0])];
      std::ostringstream os;
      os << "compile: table lookup '" << n.label << "' needs a " << na.pbs_precision
         << "-bit input (measured range of its input '" << program.node(n.inputs[0]).label
         << "': " << describe_range(direct.range) << ", encoded with " << class_width
         << " bits because of the values it is added to); at most " << options.max_table_bits
         << " bits are supported. Fix: quantize to fewer bits, or round the input with "
            "round_bit_pattern(x, "
         << (na.pbs_precision - options.max_table_bits)
         << ", RoundingMode::Approximate) (or more bits) before the lookup";
      throw CompileError(os.str());
    }
    a.pbs_nodes.push_back(static_cast<NodeId>(i));
    a.pbs_sources.push_back(source);
    a.pbs_requirements.push_back({na.pbs_precision, src.pbs_weight, src.fresh_weight,
                                  static_cast<std::uint64_t>(element_count(n.shape))});
  }
  for (NodeId out : program.outputs) {
    const Node& n = program.node(out);
    if (!n.encrypted) continue;
    const NodeAnalysis& na = a.nodes[static_cast<std::size_t>(out)];
    a.output_requirements.push_back({a.classes[static_cast<std::size_t>(na.encoding)].width,
                                     na.pbs_weight, na.fresh_weight,
                                     static_cast<std::uint64_t>(element_count(n.shape))});
  }
  return {};
}

}  // namespace

ProgramAnalysis analyze_program(const Program& program,
                                std::span<const std::vector<Tensor>> inputset,
                                const AnalysisOptions& options) {
  program.validate();
  if (inputset.empty())
    throw InvalidArgument(
        "compile: the input set is empty; pass representative samples (e.g. the training data)");
  ProgramAnalysis a;
  const std::size_t count = program.nodes.size();
  a.nodes.resize(count);
  a.sample_count = inputset.size();

  // 1. Ranges over the input set.
  std::vector<bool> seen(count, false);
  for (const auto& sample : inputset) {
    if (sample.size() != program.inputs.size()) {
      std::ostringstream os;
      os << "compile: each input-set sample must have " << program.inputs.size()
         << " tensors (one per program input), got " << sample.size();
      throw InvalidArgument(os.str());
    }
    evaluate_clear(program, sample, [&](NodeId id, const Tensor& value) {
      auto& r = a.nodes[static_cast<std::size_t>(id)].range;
      for (std::int64_t v : value.values()) {
        if (!seen[static_cast<std::size_t>(id)]) {
          r.min = r.max = v;
          seen[static_cast<std::size_t>(id)] = true;
        }
        r.min = std::min(r.min, v);
        r.max = std::max(r.max, v);
      }
    });
  }

  // Declared ranges widen the measured ones.
  for (const auto& [id, hint] : options.range_hints) {
    if (id < 0 || static_cast<std::size_t>(id) >= count || hint.min > hint.max) {
      std::ostringstream os;
      os << "compile: range hint " << describe_range(hint) << " for node " << id
         << " is invalid: name a node of the program (0 to " << count
         << " - 1) and give min <= max";
      throw InvalidArgument(os.str());
    }
    auto& r = a.nodes[static_cast<std::size_t>(id)].range;
    if (!seen[static_cast<std::size_t>(id)]) {
      r = hint;
      seen[static_cast<std::size_t>(id)] = true;
    }
    r.min = std::min(r.min, hint.min);
    r.max = std::max(r.max, hint.max);
  }

  // 2 and 3, with every exact rounding that can be lowered by digits so lowered, then the cost
  // rule (exact_rounding.h): by table when its input is no wider than both max_table_bits and
  // the widest precision the circuit needs anyway.
  std::vector<char> digits(count, 0);
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = program.nodes[i];
    if (n.op == OpKind::Round && n.encrypted) {
      const auto& attr = std::get<RoundAttr>(n.attributes);
      digits[i] = attr.mode == RoundingMode::Exact && attr.lsbs_to_remove >= 1;
    }
  }
  bool cost_rule_applied = false;
  for (;;) {
    const std::vector<NodeId> by_table = derive(program, a, options, digits);
    for (NodeId id : by_table) digits[static_cast<std::size_t>(id)] = 0;
    if (!by_table.empty()) continue;
    if (cost_rule_applied) break;
    cost_rule_applied = true;
    unsigned widest = 0;
    for (const PbsRequirement& r : a.pbs_requirements) widest = std::max(widest, r.precision_bits);
    bool changed = false;
    for (std::size_t i = 0; i < count; ++i) {
      if (!digits[i]) continue;
      const unsigned w = a.classes[static_cast<std::size_t>(a.nodes[i].encoding)].width;
      if (w <= widest && w <= options.max_table_bits) {
        digits[i] = 0;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return a;
}

}  // namespace torusml::circuit
