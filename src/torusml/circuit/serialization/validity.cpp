// What a valid object of the circuit layer is (validity.h): server programs, client
// specifications, key sets and encrypted tensors.
#include <bit>
#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <variant>

#include "torusml/circuit/compile/linear_map.h"
#include "torusml/circuit/serialization/serialization_detail.h"
#include "torusml/circuit/serialization/validity.h"
#include "torusml/tfhe/validity.h"

namespace torusml::circuit {

namespace sdc = serialization_detail;

namespace {

template <class... Args>
[[noreturn]] void invalid(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw InvalidArgument(os.str());
}

std::string describe_node(const Program& p, std::size_t i) {
  const std::string& label = p.nodes[i].label;
  return "node %" + std::to_string(i) + " (" + (label.empty() ? "?" : label) + ")";
}

const char* kind_name(InstructionKind kind) {
  switch (kind) {
    case InstructionKind::Input:
      return "Input";
    case InstructionKind::Clear:
      return "Clear";
    case InstructionKind::Linear:
      return "Linear";
    case InstructionKind::Alias:
      return "Alias";
    case InstructionKind::Bootstrap:
      return "Bootstrap";
    case InstructionKind::ExactRound:
      return "ExactRound";
    case InstructionKind::FusedLookup:
      return "FusedLookup";
  }
  return "unknown";
}

bool known_op(OpKind op) {
  return static_cast<std::uint8_t>(op) >= static_cast<std::uint8_t>(OpKind::Input) &&
         static_cast<std::uint8_t>(op) <= static_cast<std::uint8_t>(OpKind::SumPool2d);
}

// Whether `a` holds the attributes operation `op` takes.
bool attributes_match(OpKind op, const Attributes& a) {
  switch (op) {
    case OpKind::Input:
      return std::holds_alternative<InputAttr>(a);
    case OpKind::Constant:
      return std::holds_alternative<ConstantAttr>(a);
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Neg:
    case OpKind::Mul:
    case OpKind::MatMul:
      return std::holds_alternative<std::monostate>(a);
    case OpKind::Sum:
      return std::holds_alternative<SumAttr>(a);
    case OpKind::Reshape:
      return std::holds_alternative<ReshapeAttr>(a);
    case OpKind::Transpose:
      return std::holds_alternative<TransposeAttr>(a);
    case OpKind::BroadcastTo:
      return std::holds_alternative<BroadcastAttr>(a);
    case OpKind::Concatenate:
      return std::holds_alternative<ConcatAttr>(a);
    case OpKind::Slice:
      return std::holds_alternative<SliceAttr>(a);
    case OpKind::Take:
      return std::holds_alternative<TakeAttr>(a);
    case OpKind::Pad:
      return std::holds_alternative<PadAttr>(a);
    case OpKind::TableLookup:
      return std::holds_alternative<TableAttr>(a);
    case OpKind::Round:
      return std::holds_alternative<RoundAttr>(a);
    case OpKind::Conv2d:
      return std::holds_alternative<Conv2dAttr>(a);
    case OpKind::SumPool2d:
      return std::holds_alternative<Pool2dAttr>(a);
  }
  return false;
}

void check_name(const std::string& name, const std::string& where, const char* what) {
  if (name.size() > sdc::kMaxStringBytes)
    invalid(where, ": its ", what, " has ", name.size(), " bytes, more than ",
            sdc::kMaxStringBytes);
}

// Rank <= kMaxRank, extents in [0, kMaxSerializedElements], at most kMaxSerializedElements
// elements.
void check_shape(const Shape& s, const std::string& where) {
  if (s.size() > sdc::kMaxRank) invalid(where, ": rank ", s.size(), " exceeds ", sdc::kMaxRank);
  std::int64_t count = 1;
  for (std::int64_t e : s) {
    if (e < 0 || e > kMaxSerializedElements || __builtin_mul_overflow(count, e, &count) ||
        count > kMaxSerializedElements) {
      invalid(where, ": shape ", shape_to_string(s),
              " has a negative extent or more than 2^48 elements");
    }
  }
}

void check_magnitudes(std::span<const std::int64_t> values, const std::string& where,
                      const char* field) {
  for (std::int64_t v : values) {
    if (v < -sdc::kMaxAttributeMagnitude || v > sdc::kMaxAttributeMagnitude)
      invalid(where, ": attribute '", field, "' holds ", v, ", outside [-2^48, 2^48]");
  }
}

// The integer attributes describing shapes stay far from int64 overflow.
struct AttributeBounds {
  const std::string& where;
  void check(std::int64_t v, const char* field) const { check_magnitudes({&v, 1}, where, field); }

  void operator()(const std::monostate&) const {}
  void operator()(const InputAttr& a) const { check_name(a.name, where, "input name"); }
  void operator()(const ConstantAttr& a) const { check_shape(a.value.shape(), where); }
  void operator()(const SumAttr& a) const { check_magnitudes(a.axes, where, "axes"); }
  void operator()(const ReshapeAttr& a) const { check_magnitudes(a.shape, where, "shape"); }
  void operator()(const TransposeAttr& a) const { check_magnitudes(a.perm, where, "perm"); }
  void operator()(const BroadcastAttr& a) const { check_magnitudes(a.shape, where, "shape"); }
  void operator()(const ConcatAttr& a) const { check(a.axis, "axis"); }
  void operator()(const SliceAttr& a) const {
    check_magnitudes(a.starts, where, "starts");
    check_magnitudes(a.stops, where, "stops");
    check_magnitudes(a.steps, where, "steps");
  }
  void operator()(const TakeAttr& a) const {
    check(a.axis, "axis");
    check_magnitudes(a.indices, where, "indices");
  }
  void operator()(const PadAttr& a) const {
    check_magnitudes(a.before, where, "before");
    check_magnitudes(a.after, where, "after");
  }
  void operator()(const TableAttr& a) const {
    for (const TableFunction& t : a.tables) check_name(t.name, where, "table function name");
  }
  void operator()(const RoundAttr& a) const { check(a.lsbs_to_remove, "lsbs_to_remove"); }
  void operator()(const Conv2dAttr& a) const {
    check_magnitudes(a.strides, where, "strides");
    check_magnitudes(a.pads, where, "pads");
    check_magnitudes(a.dilations, where, "dilations");
    check(a.groups, "groups");
  }
  void operator()(const Pool2dAttr& a) const {
    check_magnitudes(a.kernel, where, "kernel");
    check_magnitudes(a.strides, where, "strides");
    check_magnitudes(a.pads, where, "pads");
  }
};

// What Program::validate() needs to run safely: known operations, operands preceding their node,
// the attributes of the operation, bounded attribute values and shapes, inputs in node order.
void check_program_ranges(const Program& p) {
  if (p.nodes.size() > static_cast<std::size_t>(INT32_MAX))
    invalid("the program has ", p.nodes.size(), " nodes, more than 32-bit node ids can name");
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const Node& n = p.nodes[i];
    const std::string where = describe_node(p, i);
    if (!known_op(n.op)) invalid(where, ": unknown operation kind ", static_cast<unsigned>(n.op));
    for (NodeId in : n.inputs) {
      if (in < 0 || static_cast<std::size_t>(in) >= i)
        invalid(where, ": operand %", in, " does not precede the node");
    }
    if (!attributes_match(n.op, n.attributes)) {
      invalid(where, ": a ", to_string(n.op), " node cannot hold attributes of variant index ",
              n.attributes.index());
    }
    std::visit(AttributeBounds{where}, n.attributes);
    check_shape(n.shape, where);
    check_name(n.label, where, "label");
  }
  for (std::size_t k = 1; k < p.inputs.size(); ++k) {
    if (p.inputs[k] <= p.inputs[k - 1]) {
      invalid(
          "program inputs must be listed in node order (the runtime binds arguments in that "
          "order), got %",
          p.inputs[k - 1], " before %", p.inputs[k]);
    }
  }
}

void check_encoding(const Node& n, const Encoding& e, const CircuitParameters& params,
                    const std::string& where) {
  if (!n.encrypted && (e.width != 0 || e.is_signed || e.partition != 0))
    invalid(where,
            ": a clear value needs the empty encoding (width 0, unsigned, partition 0), got "
            "width ",
            e.width, " and partition ", e.partition);
  if (n.encrypted && (e.width < 1 || e.width > 62))
    invalid(where, ": encoding width ", e.width, " is outside [1, 62]");
  if (n.encrypted && e.partition >= params.partition_count())
    invalid(where, ": encoding partition ", e.partition, " does not exist (the circuit has ",
            params.partition_count(), ")");
}

// The partition of node i's ciphertexts (encodings checked before: in range).
std::uint32_t partition_of(const ServerProgram& sp, std::size_t i) {
  return sp.encodings[i].partition;
}

// The polynomial size of partition q's bootstraps (PBS circuits).
std::uint64_t polynomial_size_of(const ServerProgram& sp, std::uint32_t q) {
  return sp.parameters.partition(q).polynomial_size.value();
}

// A Linear or Alias node combines (or is) ciphertexts of its own partition only: its encrypted
// operands' big key is its own.
void check_same_partition_operands(const ServerProgram& sp, std::size_t i,
                                   const std::string& where) {
  const Node& n = sp.program.nodes[i];
  for (NodeId in : n.inputs) {
    const auto src = static_cast<std::size_t>(in);
    if (sp.program.nodes[src].encrypted && partition_of(sp, src) != partition_of(sp, i))
      invalid(where, ": it is in partition ", partition_of(sp, i), " but its operand %", in,
              " in partition ", partition_of(sp, src),
              " (linear operations and fused roundings stay in their operands' partition)");
  }
}

bool map_is_empty(const LinearMap& m) {
  return m.outputs == 0 && m.row_start.empty() && m.slot.empty() && m.index.empty() &&
         m.coeff.empty() && m.constant.empty();
}

bool bootstrap_is_empty(const BootstrapInstruction& b) {
  return b.source == -1 && b.input_width == 0 && b.lsbs_removed == 0 && b.offset == 0 &&
         b.tables.empty() && b.element_table.empty() && b.noise_std_lsb == 0 &&
         b.log2_p_error == 0 && b.fused_into == -1;
}

// The per-node facts the instruction checks need.
struct ProgramFacts {
  std::vector<std::int64_t> elements;
  std::vector<bool> fused_rounding;  // is_fused_rounding(), for every node in one pass
};

ProgramFacts program_facts(const Program& p) {
  const std::size_t count = p.nodes.size();
  ProgramFacts f;
  f.elements.resize(count);
  std::vector<bool> consumed(count), consumed_by_other(count), output(count);
  for (std::size_t i = 0; i < count; ++i) {
    f.elements[i] = element_count(p.nodes[i].shape);
    for (NodeId in : p.nodes[i].inputs) {
      consumed[static_cast<std::size_t>(in)] = true;
      if (p.nodes[i].op != OpKind::TableLookup)
        consumed_by_other[static_cast<std::size_t>(in)] = true;
    }
  }
  for (NodeId out : p.outputs) output[static_cast<std::size_t>(out)] = true;
  f.fused_rounding.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Node& n = p.nodes[i];
    f.fused_rounding[i] = n.op == OpKind::Round && n.encrypted &&
                          std::get<RoundAttr>(n.attributes).mode == RoundingMode::Approximate &&
                          consumed[i] && !consumed_by_other[i] && !output[i];
  }
  return f;
}

InstructionKind expected_kind(const Program& p, const ProgramFacts& f, std::size_t i) {
  const Node& n = p.nodes[i];
  if (!n.encrypted) return InstructionKind::Clear;
  if (n.op == OpKind::Input) return InstructionKind::Input;
  if (f.fused_rounding[i]) return InstructionKind::Alias;
  if (is_linear_op(n)) return InstructionKind::Linear;
  if (n.op == OpKind::TableLookup || n.op == OpKind::Round) return InstructionKind::Bootstrap;
  invalid(describe_node(p, i), ": an encrypted ", to_string(n.op), " node cannot be lowered");
}

void check_linear_map(const Program& p, const ProgramFacts& f, std::size_t i, const LinearMap& m,
                      const std::string& where) {
  const Node& n = p.nodes[i];
  for (NodeId in : n.inputs) {
    const Node& src = p.nodes[static_cast<std::size_t>(in)];
    if (!src.encrypted && src.op != OpKind::Constant) {
      invalid(where, ": a static linear map needs constant clear operands, but operand %", in,
              " is a clear ", to_string(src.op), " (its map must be built at run time)");
    }
  }
  const std::int64_t outputs = f.elements[i];
  if (m.outputs != outputs)
    invalid(where, ": its linear map has ", m.outputs, " outputs, the node ", outputs, " elements");
  if (m.row_start.size() != static_cast<std::size_t>(outputs) + 1)
    invalid(where, ": its linear map has ", m.row_start.size(), " row starts, not outputs + 1");
  const std::size_t terms = m.coeff.size();
  if (m.slot.size() != terms || m.index.size() != terms) {
    invalid(where, ": its linear map has ", terms, " coefficients but ", m.slot.size(),
            " slots and ", m.index.size(), " indices");
  }
  if (m.row_start.front() != 0) invalid(where, ": its linear map's first row start is not 0");
  for (std::size_t r = 0; r + 1 < m.row_start.size(); ++r) {
    if (m.row_start[r + 1] < m.row_start[r])
      invalid(where, ": its linear map's row starts decrease at row ", r);
  }
  if (m.row_start.back() != static_cast<std::int64_t>(terms))
    invalid(where, ": its linear map's last row start is not its number of terms (", terms, ")");
  if (!m.constant.empty() && m.constant.size() != static_cast<std::size_t>(outputs))
    invalid(where, ": its linear map has ", m.constant.size(), " constants for ", outputs,
            " outputs");
  for (std::size_t t = 0; t < terms; ++t) {
    const std::int32_t slot = m.slot[t];
    if (slot < 0 || static_cast<std::size_t>(slot) >= n.inputs.size())
      invalid(where, ": linear map term ", t, " reads operand slot ", slot, " of ",
              n.inputs.size());
    const auto src = static_cast<std::size_t>(n.inputs[static_cast<std::size_t>(slot)]);
    if (!p.nodes[src].encrypted)
      invalid(where, ": linear map term ", t, " reads clear operand %", src);
    if (m.index[t] < 0 || m.index[t] >= f.elements[src]) {
      invalid(where, ": linear map term ", t, " reads element ", m.index[t], " of operand %", src,
              ", which has ", f.elements[src]);
    }
  }
}

void check_bootstrap(const ServerProgram& sp, const ProgramFacts& f, std::size_t i,
                     const std::string& where) {
  const Program& p = sp.program;
  const Node& n = p.nodes[i];
  const BootstrapInstruction& b = sp.instructions[i].bootstrap;
  if (!sp.parameters.uses_pbs)
    invalid(where, ": a bootstrap in a circuit without PBS parameters (leveled)");
  NodeId source = n.inputs[0];
  if (n.op == OpKind::TableLookup && f.fused_rounding[static_cast<std::size_t>(source)])
    source = p.nodes[static_cast<std::size_t>(source)].inputs[0];
  if (b.source != source)
    invalid(where, ": its bootstrap reads %", b.source, " instead of %", source);
  const unsigned width = sp.encodings[static_cast<std::size_t>(source)].width;
  if (b.input_width != width)
    invalid(where, ": its bootstrap input width ", b.input_width, " is not its source's ", width);
  if (b.lsbs_removed > b.input_width)
    invalid(where, ": its bootstrap removes ", b.lsbs_removed, " bits of ", b.input_width);
  const unsigned index_bits = b.input_width - b.lsbs_removed;
  // Partition q's bootstrap, on an input keyswitched from its source's partition.
  const std::uint32_t q = partition_of(sp, i);
  const std::uint32_t from = partition_of(sp, static_cast<std::size_t>(source));
  if (from != q && sp.parameters.cross_keyswitch_index(from, q) < 0)
    invalid(where, ": its bootstrap in partition ", q, " reads %", source, " of partition ", from,
            ", but the parameters have no cross keyswitch ", from, " -> ", q);
  const std::uint64_t poly = polynomial_size_of(sp, q);
  if ((std::uint64_t{2} << index_bits) > poly) {
    invalid(where, ": tables of 2^", index_bits, " entries do not fit polynomial size ", poly,
            " of partition ", q, " (2^(bits + 1) <= N needed)");
  }
  if (b.offset != 0 && b.offset != (std::int64_t{1} << (b.input_width - 1)))
    invalid(where, ": bootstrap offset ", b.offset, " is neither 0 nor 2^(input_width - 1)");
  const TableAttr* attr = std::get_if<TableAttr>(&n.attributes);
  const std::size_t table_count = attr != nullptr ? attr->tables.size() : 1;
  if (b.tables.size() != table_count)
    invalid(where, ": its bootstrap has ", b.tables.size(), " tables, the node ", table_count);
  const std::size_t entries = std::size_t{1} << index_bits;
  for (std::size_t t = 0; t < b.tables.size(); ++t) {
    if (b.tables[t].size() != entries) {
      invalid(where, ": bootstrap table ", t, " has ", b.tables[t].size(), " entries instead of 2^",
              index_bits, " = ", entries);
    }
  }
  const std::vector<std::int32_t> none;
  if (b.element_table != (attr != nullptr ? attr->element_table : none))
    invalid(where, ": its bootstrap's element_table differs from the node's");
  if (!(b.noise_std_lsb >= 0 && b.noise_std_lsb <= kMaxNoiseStdLsb)) {
    invalid(where, ": bootstrap noise_std_lsb = ", b.noise_std_lsb,
            " is out of range (allowed: [0, 2^32])");
  }
  if (!(b.log2_p_error >= -1e6 && b.log2_p_error <= 0)) {
    invalid(where, ": bootstrap log2_p_error = ", b.log2_p_error,
            " is out of range (allowed: [-1e6, 0])");
  }
}

// An exact rounding by digits: its source and widths are its node's, and every step can run
// (shifts below 64, tables of 2^p entries that fit the PBS polynomial, noise values in range).
void check_exact_round(const ServerProgram& sp, std::size_t i, const std::string& where) {
  const Program& p = sp.program;
  const Node& n = p.nodes[i];
  const ExactRoundInstruction& e = sp.instructions[i].rounding;
  if (!sp.parameters.uses_pbs)
    invalid(where, ": an exact rounding by digits in a circuit without PBS parameters (leveled)");
  if (e.source != n.inputs[0])
    invalid(where, ": its exact rounding reads %", e.source, " instead of %", n.inputs[0]);
  const unsigned width = sp.encodings[static_cast<std::size_t>(e.source)].width;
  const std::uint32_t q = partition_of(sp, i);
  if (partition_of(sp, static_cast<std::size_t>(e.source)) != q)
    invalid(where, ": its exact rounding is in partition ", q, " but its source in partition ",
            partition_of(sp, static_cast<std::size_t>(e.source)), " (the same needed)");
  if (e.input_width != width || sp.encodings[i].width != width) {
    invalid(where, ": its exact rounding has input width ", e.input_width, ", its source ", width,
            " and its result ", sp.encodings[i].width, " (all equal needed)");
  }
  const std::int64_t r = std::get<RoundAttr>(n.attributes).lsbs_to_remove;
  if (static_cast<std::int64_t>(e.lsbs_removed) != r || r < 1 || r >= width)
    invalid(where, ": its exact rounding removes ", e.lsbs_removed, " bits (the node ", r, ") of ",
            width, " (1 <= bits < width needed)");
  if (e.steps.empty() || e.steps.size() > 2 * e.lsbs_removed + 1)
    invalid(where, ": its exact rounding has ", e.steps.size(), " steps (allowed: 1 to 2r + 1)");
  const std::uint64_t poly = polynomial_size_of(sp, q);
  for (std::size_t k = 0; k < e.steps.size(); ++k) {
    const RoundingStep& step = e.steps[k];
    if (step.shift > 63) invalid(where, ": exact rounding step ", k, " shifts by ", step.shift);
    const std::size_t entries = step.table.size();
    if (entries < 2 || !std::has_single_bit(entries) || 2 * entries > poly) {
      invalid(where, ": exact rounding step ", k, " has a table of ", entries,
              " entries (needed: 2^p, p >= 1, with 2^(p + 1) <= N = ", poly, ")");
    }
    if (!(step.noise_std_box >= 0 && step.noise_std_box <= kMaxNoiseStdLsb)) {
      invalid(where, ": exact rounding step ", k, " noise_std_box = ", step.noise_std_box,
              " is out of range (allowed: [0, 2^32])");
    }
    if (!(step.log2_p_error >= -1e6 && step.log2_p_error <= 0)) {
      invalid(where, ": exact rounding step ", k, " log2_p_error = ", step.log2_p_error,
              " is out of range (allowed: [-1e6, 0])");
    }
  }
}

// Many-LUT groups (compile/many_lut.h): every FusedLookup names an earlier Bootstrap table lookup
// of the same input (source, widths, offset, shape), and each group's tables of 2^p entries fit
// the polynomial with their slots: 2^(p + theta + 1) <= N, theta = ceil(log2 group size).
void check_many_lut_groups(const ServerProgram& sp) {
  const Program& p = sp.program;
  std::vector<std::size_t> group_size(p.nodes.size(), 1);
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const Instruction& ins = sp.instructions[i];
    if (ins.kind != InstructionKind::FusedLookup) continue;
    const std::string where = describe_node(p, i);
    const NodeId leader = ins.bootstrap.fused_into;
    if (leader < 0 || static_cast<std::size_t>(leader) >= i)
      invalid(where, ": its many-LUT bootstrap is node %", leader, ", not an earlier node");
    const auto l = static_cast<std::size_t>(leader);
    const BootstrapInstruction& a = sp.instructions[l].bootstrap;
    const BootstrapInstruction& b = ins.bootstrap;
    if (sp.instructions[l].kind != InstructionKind::Bootstrap ||
        p.nodes[l].op != OpKind::TableLookup)
      invalid(where, ": its many-LUT bootstrap, node %", leader,
              ", is not a Bootstrap table lookup");
    if (a.source != b.source || a.input_width != b.input_width ||
        a.lsbs_removed != b.lsbs_removed || a.offset != b.offset ||
        p.nodes[l].inputs[0] != p.nodes[i].inputs[0] || p.nodes[l].shape != p.nodes[i].shape)
      invalid(where, ": it does not read the same input as its many-LUT bootstrap, node %", leader);
    if (partition_of(sp, i) != partition_of(sp, l))
      invalid(where, ": it is in partition ", partition_of(sp, i),
              " but its many-LUT bootstrap, node %", leader, ", in partition ", partition_of(sp, l),
              " (the same needed)");
    ++group_size[l];
  }
  for (std::size_t l = 0; l < p.nodes.size(); ++l) {
    if (group_size[l] == 1) continue;
    const BootstrapInstruction& a = sp.instructions[l].bootstrap;
    // No many-LUT bootstrap across partitions: the group's input is in its own partition.
    const std::uint32_t q = partition_of(sp, l);
    if (partition_of(sp, static_cast<std::size_t>(a.source)) != q)
      invalid(describe_node(p, l), ": its many-LUT bootstrap in partition ", q, " reads %",
              a.source, " of partition ", partition_of(sp, static_cast<std::size_t>(a.source)),
              " (a many-LUT bootstrap stays in its input's partition)");
    const std::uint64_t poly = polynomial_size_of(sp, q);
    const unsigned theta = static_cast<unsigned>(std::bit_width(group_size[l] - 1));
    const unsigned bits = a.input_width - a.lsbs_removed + theta;
    if (bits >= 63 || (std::uint64_t{2} << bits) > poly)
      invalid(describe_node(p, l), ": its many-LUT bootstrap of ", group_size[l], " tables of 2^",
              a.input_width - a.lsbs_removed, " entries does not fit polynomial size ", poly,
              " (2^(bits + theta + 1) <= N needed)");
  }
}

void check_clear_tables(const Node& n, const Instruction& ins, const std::string& where) {
  const auto& attr = std::get<TableAttr>(n.attributes);
  if (ins.clear_tables.size() != attr.tables.size()) {
    invalid(where, ": ", ins.clear_tables.size(), " clear tables for ", attr.tables.size(),
            " table functions");
  }
  // The lookups compute value - clear_table_min: keep the start far from the int64 limits.
  constexpr std::int64_t kMaxStart = std::int64_t{1} << 62;
  if (ins.clear_table_min < -kMaxStart || ins.clear_table_min > kMaxStart)
    invalid(where, ": clear tables start at ", ins.clear_table_min, ", outside [-2^62, 2^62]");
  for (const auto& t : ins.clear_tables) {
    if (t.empty() || t.size() > (std::size_t{1} << 24))
      invalid(where, ": a clear table has ", t.size(), " entries, outside [1, 2^24]");
  }
}

void check_instruction(const ServerProgram& sp, const ProgramFacts& f, std::size_t i) {
  const Program& p = sp.program;
  const Node& n = p.nodes[i];
  const Instruction& ins = sp.instructions[i];
  const std::string where = describe_node(p, i);
  if (ins.node != static_cast<NodeId>(i))
    invalid(where, ": its instruction names node %", ins.node);
  InstructionKind kind = expected_kind(p, f, i);
  // An encrypted exact rounding is lowered by table (Bootstrap) or by digits (ExactRound).
  if (kind == InstructionKind::Bootstrap && ins.kind == InstructionKind::ExactRound &&
      n.op == OpKind::Round && std::get<RoundAttr>(n.attributes).mode == RoundingMode::Exact)
    kind = InstructionKind::ExactRound;
  // A table lookup may be computed by an earlier lookup's many-LUT bootstrap (FusedLookup).
  if (kind == InstructionKind::Bootstrap && ins.kind == InstructionKind::FusedLookup &&
      n.op == OpKind::TableLookup)
    kind = InstructionKind::FusedLookup;
  if (ins.kind != kind) {
    invalid(where, ": has a ", kind_name(ins.kind), " instruction (",
            static_cast<unsigned>(ins.kind), ") but needs a ", kind_name(kind), " one");
  }
  const bool clear_lookup = kind == InstructionKind::Clear && n.op == OpKind::TableLookup;
  if ((kind != InstructionKind::Linear || !ins.map_is_static) &&
      (ins.map_is_static || !map_is_empty(ins.map)))
    invalid(where, ": its instruction holds a linear map it does not use");
  const bool bootstraps =
      kind == InstructionKind::Bootstrap || kind == InstructionKind::FusedLookup;
  if (!bootstraps && !bootstrap_is_empty(ins.bootstrap))
    invalid(where, ": its instruction holds bootstrap data it does not use");
  if (kind != InstructionKind::ExactRound && !(ins.rounding == ExactRoundInstruction{}))
    invalid(where, ": its instruction holds exact rounding data it does not use");
  if (!clear_lookup && (ins.clear_table_min != 0 || !ins.clear_tables.empty()))
    invalid(where, ": its instruction holds clear tables it does not use");
  if (kind == InstructionKind::Linear || kind == InstructionKind::Alias)
    check_same_partition_operands(sp, i, where);
  if (kind == InstructionKind::Linear && ins.map_is_static)
    check_linear_map(p, f, i, ins.map, where);
  if (bootstraps) check_bootstrap(sp, f, i, where);
  if (kind == InstructionKind::Bootstrap && ins.bootstrap.fused_into != -1)
    invalid(where, ": a Bootstrap instruction names a many-LUT leader (FusedLookup only)");
  if (kind == InstructionKind::ExactRound) check_exact_round(sp, i, where);
  if (clear_lookup) check_clear_tables(n, ins, where);
}

void check_argument(const ClientSpecification::Argument& a, const CircuitParameters& params,
                    const std::string& where) {
  if (a.name.empty()) invalid(where, ": empty name");
  check_name(a.name, where, "name");
  check_shape(a.shape, where);
  if (!a.encrypted && (a.encoding.width != 0 || a.encoding.is_signed || a.encoding.partition != 0))
    invalid(where, ": a clear argument needs the empty encoding (width 0, unsigned, partition 0)");
  if (a.encrypted && (a.encoding.width < 1 || a.encoding.width > 62))
    invalid(where, ": encoding width ", a.encoding.width, " is outside [1, 62]");
  if (a.encrypted && a.encoding.partition >= params.partition_count())
    invalid(where, ": encoding partition ", a.encoding.partition,
            " does not exist (the circuit has ", params.partition_count(), ")");
}

void require_same_argument(const ClientSpecification::Argument& a, const std::string& name,
                           const Node& n, const Encoding& e, const std::string& where) {
  const char* what = a.name != name                                    ? "name"
                     : a.shape != n.shape                              ? "shape"
                     : a.encrypted != n.encrypted                      ? "encryption"
                     : !(a.encoding == (n.encrypted ? e : Encoding{})) ? "encoding"
                                                                       : nullptr;
  if (what != nullptr) {
    throw ParameterMismatch(
        "the client specification does not describe this server program: " + where + " ('" +
        a.name + "') has another " + what + " than the program's ('" + name +
        "'): use the client specification saved with this server program "
        "(save_circuit() writes both parts of one compiled circuit)");
  }
}

}  // namespace

void validate_server_program(const ServerProgram& sp) {
  sdc::validate_parameters(sp.parameters);
  const Program& p = sp.program;
  check_program_ranges(p);
  p.validate();
  if (sp.instructions.size() != p.nodes.size() || sp.encodings.size() != p.nodes.size()) {
    invalid("the program has ", p.nodes.size(), " nodes but ", sp.instructions.size(),
            " instructions and ", sp.encodings.size(), " encodings (one of each per node)");
  }
  const ProgramFacts facts = program_facts(p);
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    check_encoding(p.nodes[i], sp.encodings[i], sp.parameters, describe_node(p, i));
    check_instruction(sp, facts, i);
  }
  check_many_lut_groups(sp);
}

void validate_client_specification(const ClientSpecification& spec) {
  sdc::validate_parameters(spec.parameters);
  std::set<std::string> names;
  for (std::size_t k = 0; k < spec.inputs.size(); ++k) {
    const std::string where = "input " + std::to_string(k);
    check_argument(spec.inputs[k], spec.parameters, where);
    if (!names.insert(spec.inputs[k].name).second)
      invalid(where, ": the name '", spec.inputs[k].name, "' is used twice");
  }
  for (std::size_t k = 0; k < spec.outputs.size(); ++k)
    check_argument(spec.outputs[k], spec.parameters, "output " + std::to_string(k));
  if (spec.output_noise_std_lsb.size() != spec.outputs.size()) {
    invalid(spec.output_noise_std_lsb.size(), " output noise values for ", spec.outputs.size(),
            " outputs");
  }
  for (std::size_t k = 0; k < spec.output_noise_std_lsb.size(); ++k) {
    const double v = spec.output_noise_std_lsb[k];
    if (!(v >= 0 && v <= kMaxNoiseStdLsb)) {
      invalid("output ", k, ": output_noise_std_lsb = ", v,
              " is out of range (allowed: [0, 2^32])");
    }
    if (!spec.outputs[k].encrypted && v != 0)
      invalid("output ", k, ": a clear output has output_noise_std_lsb = ", v, " (allowed: 0)");
  }
}

namespace {

// Parameters of a single-parameter PBS circuit, to describe a nested key's parameter set.
CircuitParameters single(const tfhe::PbsParameters& p) {
  CircuitParameters c;
  c.uses_pbs = true;
  c.pbs = p;
  return c;
}

std::string partition_label(std::size_t q) {
  return q == 0 ? std::string() : " of partition " + std::to_string(q);
}

// The full or seeded keyswitching key of cross keyswitch i: the shape (from's big key -> to's
// small key, its decomposition), else ParameterMismatch; `stored` values, else InvalidArgument.
void check_cross_key(const CircuitParameters& p, std::size_t i, const tfhe::KeyswitchKeyShape& s,
                     std::size_t stored, std::size_t per_ciphertext, const char* form) {
  const CrossKeyswitchParameters& c = p.cross_keyswitches[i];
  const tfhe::KeyswitchKeyShape want{p.encryption_dimension(c.from),
                                     p.partition(c.to).lwe_dimension, c.ks};
  auto describe = [](const tfhe::KeyswitchKeyShape& k) {
    return std::to_string(k.input_lwe_dimension.value()) + " -> " +
           std::to_string(k.output_lwe_dimension.value()) + ", 2^" +
           std::to_string(k.decomposition.base_log.value()) + " x " +
           std::to_string(k.decomposition.level_count.value());
  };
  if (s != want) {
    throw ParameterMismatch(
        "the evaluation key set's " + std::string(form) + " cross keyswitching key " +
        std::to_string(i) + " (" + std::to_string(c.from) + " -> " + std::to_string(c.to) +
        ") has shape " + describe(s) + " but the parameters give " + describe(want) +
        ": generate the evaluation keys from the matching client keys");
  }
  if (stored != want.ciphertexts() * per_ciphertext)
    invalid("the evaluation key set's ", form, " cross keyswitching key ", i, " holds ", stored,
            " values (required: ", want.ciphertexts() * per_ciphertext, ")");
}

}  // namespace

void validate_client_keys(const ClientKeySet& keys) {
  const CircuitParameters& p = keys.parameters;
  p.validate();
  if (p.uses_pbs) {
    if (keys.extra_pbs_keys.size() != p.extra_partitions.size())
      invalid("the client key set holds ", keys.extra_pbs_keys.size(),
              " client keys of partitions 1.. but the parameters have ", p.extra_partitions.size(),
              " extra partitions: generate the keys with generate_client_keys()");
    for (std::size_t q = 0; q < p.partition_count(); ++q) {
      const tfhe::ClientKey& key = keys.partition_key(q);
      if (key.parameters.fingerprint() != p.partition(q).fingerprint()) {
        throw ParameterMismatch("the client key set's TFHE client key" + partition_label(q) +
                                " belongs to " + sdc::describe_parameters(single(key.parameters)) +
                                ", not to the key set's " + sdc::describe_parameters(p) +
                                ": generate the keys again for these parameters");
      }
      tfhe::validate_client_key(key);
    }
    if (!keys.leveled_key.bits.empty())
      invalid("a PBS circuit's client key set also holds a leveled key (allowed: none)");
  } else {
    tfhe::validate_lwe_secret_key(keys.leveled_key, p.leveled_dimension, "leveled key");
    if (!keys.pbs_key.small_key.bits.empty() || !keys.pbs_key.big_key.flat.bits.empty() ||
        !keys.extra_pbs_keys.empty())
      invalid("a leveled circuit's client key set also holds a TFHE client key (allowed: none)");
  }
}

void validate_evaluation_keys(const EvaluationKeySet& keys) {
  const CircuitParameters& p = keys.parameters;
  p.validate();
  if (!p.uses_pbs) {
    if (keys.compressed.has_value() || keys.server_key.has_value() ||
        !keys.extra_compressed.empty() || !keys.extra_server_keys.empty() ||
        !keys.cross_compressed.empty() || !keys.cross_keys.empty())
      invalid("a leveled circuit's evaluation key set holds a server key (allowed: none)");
    return;
  }
  if (!keys.compressed.has_value() && !keys.server_key.has_value())
    invalid("a PBS circuit's evaluation key set holds no server key");
  // Partitions 1.. and cross keyswitches: each form (compressed, expanded) has all or none of
  // its keys, and every key has one form at least.
  const std::size_t extra = p.extra_partitions.size(), cross = p.cross_keyswitches.size();
  auto check_count = [](std::size_t found, std::size_t want, const char* what) {
    if (found != 0 && found != want)
      invalid("the evaluation key set holds ", found, " ", what, " (required: ", want,
              " as the parameters give, or none)");
  };
  check_count(keys.extra_compressed.size(), extra, "compressed server keys of partitions 1..");
  check_count(keys.extra_server_keys.size(), extra, "expanded server keys of partitions 1..");
  check_count(keys.cross_compressed.size(), cross, "compressed cross keyswitching keys");
  check_count(keys.cross_keys.size(), cross, "expanded cross keyswitching keys");
  if (extra != 0 && keys.extra_compressed.empty() && keys.extra_server_keys.empty())
    invalid("the evaluation key set holds no server keys of partitions 1.. (the parameters have ",
            extra, "): generate them with generate_evaluation_keys()");
  if (cross != 0 && keys.cross_compressed.empty() && keys.cross_keys.empty())
    invalid("the evaluation key set holds no cross keyswitching keys (the parameters have ", cross,
            "): generate them with generate_evaluation_keys()");
  auto check_parameters = [&](const tfhe::PbsParameters& found, std::size_t q) {
    if (found.fingerprint() != p.partition(q).fingerprint()) {
      throw ParameterMismatch("the evaluation key set's server key" + partition_label(q) +
                              " belongs to " + sdc::describe_parameters(single(found)) +
                              ", not to the key set's " + sdc::describe_parameters(p) +
                              ": generate the evaluation keys from the matching client keys");
    }
  };
  if (keys.compressed) check_parameters(keys.compressed->parameters, 0);
  if (keys.server_key) check_parameters(keys.server_key->parameters, 0);
  for (std::size_t k = 0; k < keys.extra_compressed.size(); ++k)
    check_parameters(keys.extra_compressed[k].parameters, k + 1);
  for (std::size_t k = 0; k < keys.extra_server_keys.size(); ++k)
    check_parameters(keys.extra_server_keys[k].parameters, k + 1);
  if (keys.compressed) tfhe::validate_compressed_server_key(*keys.compressed);
  if (keys.server_key) tfhe::validate_server_key(*keys.server_key);
  for (const tfhe::CompressedServerKey& k : keys.extra_compressed)
    tfhe::validate_compressed_server_key(k);
  for (const tfhe::ServerKey& k : keys.extra_server_keys) tfhe::validate_server_key(k);
  for (std::size_t i = 0; i < keys.cross_compressed.size(); ++i) {
    const tfhe::SeededLweKeyswitchKey& k = keys.cross_compressed[i];
    check_cross_key(p, i, k.shape, k.bodies.size(), 1, "compressed");
  }
  for (std::size_t i = 0; i < keys.cross_keys.size(); ++i) {
    const tfhe::LweKeyswitchKey& k = keys.cross_keys[i];
    check_cross_key(p, i, k.shape, k.data.size(), k.shape.output_lwe_dimension.value() + 1,
                    "expanded");
  }
}

void validate_encrypted_tensor(const EncryptedTensor& t, const CircuitParameters& p) {
  if (t.packed) {
    const tfhe::PackedLweCiphertextList& packed = *t.packed;
    const bool shape_ok =
        p.is_input_packing_shape(packed.glwes.glwe_dimension(), packed.glwes.polynomial_size());
    if (!shape_ok || !t.ciphertexts.data().empty())
      throw ParameterMismatch(
          "a packed encrypted tensor of GLWE dimension " +
          std::to_string(packed.glwes.glwe_dimension().value()) + " and polynomial size " +
          std::to_string(packed.glwes.polynomial_size().value()) + " (LWE dimension " +
          std::to_string(packed.dimension().value()) + ") does not belong to " +
          sdc::describe_parameters(p) + ": use the parameters of the circuit it was encrypted for");
    const std::size_t big_n = packed.glwes.polynomial_size().value();
    if (packed.offset >= big_n || packed.glwes.size() * big_n < packed.offset + packed.size())
      invalid("a packed encrypted tensor's ", packed.glwes.size(), " GLWEs cannot hold ",
              packed.size(), " elements from coefficient ", packed.offset);
    check_shape(t.shape, "an encrypted tensor");
    if (static_cast<std::size_t>(element_count(t.shape)) != packed.size())
      invalid("an encrypted tensor of shape ", shape_to_string(t.shape), " holds ", packed.size(),
              " ciphertexts (required: one per element)");
    return;
  }
  const std::size_t n = t.ciphertexts.dimension().value();
  if (!p.is_encryption_dimension(t.ciphertexts.dimension())) {
    throw ParameterMismatch("an encrypted tensor of LWE dimension " + std::to_string(n) +
                            " does not belong to " + sdc::describe_parameters(p) +
                            ", whose ciphertexts have dimension " +
                            sdc::describe_encryption_dimensions(p) +
                            ": use the parameters of the circuit it was encrypted for");
  }
  if (t.ciphertexts.data().size() != t.ciphertexts.size() * (n + 1)) {
    invalid("an encrypted tensor's ciphertext list holds ", t.ciphertexts.data().size(),
            " values for ", t.ciphertexts.size(), " ciphertexts of dimension ", n,
            " (required: count * (dimension + 1))");
  }
  check_shape(t.shape, "an encrypted tensor");
  if (static_cast<std::size_t>(element_count(t.shape)) != t.ciphertexts.size()) {
    invalid("an encrypted tensor of shape ", shape_to_string(t.shape), " holds ",
            t.ciphertexts.size(), " ciphertexts (required: one per element)");
  }
}

void check_client_specification(const ServerProgram& sp, const ClientSpecification& spec) {
  if (sp.parameters.fingerprint() != spec.parameters.fingerprint()) {
    throw ParameterMismatch(
        "the client specification belongs to " + sdc::describe_parameters(spec.parameters) +
        " but the server program to " + sdc::describe_parameters(sp.parameters) +
        ": use the client specification saved with this server program "
        "(save_circuit() writes both parts of one compiled circuit)");
  }
  const Program& p = sp.program;
  if (spec.inputs.size() != p.inputs.size() || spec.outputs.size() != p.outputs.size()) {
    throw ParameterMismatch("the client specification has " + std::to_string(spec.inputs.size()) +
                            " inputs and " + std::to_string(spec.outputs.size()) +
                            " outputs, the server program " + std::to_string(p.inputs.size()) +
                            " and " + std::to_string(p.outputs.size()) +
                            ": use the client specification saved with this server program");
  }
  for (std::size_t k = 0; k < p.inputs.size(); ++k) {
    const Node& n = p.node(p.inputs[k]);
    require_same_argument(spec.inputs[k], std::get<InputAttr>(n.attributes).name, n,
                          sp.encodings.at(static_cast<std::size_t>(p.inputs[k])),
                          "input " + std::to_string(k));
  }
  for (std::size_t k = 0; k < p.outputs.size(); ++k) {
    const Node& n = p.node(p.outputs[k]);
    require_same_argument(spec.outputs[k], n.label, n,
                          sp.encodings.at(static_cast<std::size_t>(p.outputs[k])),
                          "output " + std::to_string(k));
  }
}

}  // namespace torusml::circuit
