// ServerProgram payloads: nodes with their attributes, instructions and encodings (layout in
// serialization_detail.h). The reader only checks what it needs to build the objects safely
// (bounded counts, known tags, operands preceding their node); validate_server_program() checks
// the whole program afterwards.
#include <string>
#include <type_traits>
#include <variant>

#include "torusml/circuit/serialization/serialization_detail.h"

namespace torusml::circuit::serialization_detail {

namespace {

// Attribute variant tags. Part of the format: never renumber or reuse one.
enum class AttributeTag : std::uint8_t {
  None = 0,
  Input = 1,
  Constant = 2,
  Sum = 3,
  Reshape = 4,
  Transpose = 5,
  BroadcastTo = 6,
  Concat = 7,
  Slice = 8,
  Take = 9,
  Pad = 10,
  Table = 11,
  Round = 12,
  Conv2d = 13,
  Pool2d = 14,
};

bool known_op(std::uint8_t op) {
  return op >= static_cast<std::uint8_t>(OpKind::Input) &&
         op <= static_cast<std::uint8_t>(OpKind::SumPool2d);
}

bool known_instruction(std::uint8_t kind) {
  return kind >= static_cast<std::uint8_t>(InstructionKind::Input) &&
         kind <= static_cast<std::uint8_t>(InstructionKind::FusedLookup);
}

void write_tag(ByteWriter& w, AttributeTag tag) {
  w.u8(static_cast<std::uint8_t>(tag));
}

struct AttributeWriter {
  ByteWriter& w;

  void operator()(const std::monostate&) const { write_tag(w, AttributeTag::None); }
  void operator()(const InputAttr& a) const {
    write_tag(w, AttributeTag::Input);
    write_string(w, a.name, "input name");
    write_bool(w, a.encrypted);
  }
  void operator()(const ConstantAttr& a) const {
    write_tag(w, AttributeTag::Constant);
    write_tensor(w, a.value);
  }
  void operator()(const SumAttr& a) const {
    write_tag(w, AttributeTag::Sum);
    write_i64s(w, a.axes);
    write_bool(w, a.keepdims);
  }
  void operator()(const ReshapeAttr& a) const {
    write_tag(w, AttributeTag::Reshape);
    write_i64s(w, a.shape);
  }
  void operator()(const TransposeAttr& a) const {
    write_tag(w, AttributeTag::Transpose);
    write_i64s(w, a.perm);
  }
  void operator()(const BroadcastAttr& a) const {
    write_tag(w, AttributeTag::BroadcastTo);
    write_i64s(w, a.shape);
  }
  void operator()(const ConcatAttr& a) const {
    write_tag(w, AttributeTag::Concat);
    w.i64(a.axis);
  }
  void operator()(const SliceAttr& a) const {
    write_tag(w, AttributeTag::Slice);
    write_i64s(w, a.starts);
    write_i64s(w, a.stops);
    write_i64s(w, a.steps);
  }
  void operator()(const TakeAttr& a) const {
    write_tag(w, AttributeTag::Take);
    w.i64(a.axis);
    write_i64s(w, a.indices);
  }
  void operator()(const PadAttr& a) const {
    write_tag(w, AttributeTag::Pad);
    write_i64s(w, a.before);
    write_i64s(w, a.after);
    w.i64(a.value);
  }
  void operator()(const TableAttr& a) const {
    write_tag(w, AttributeTag::Table);
    w.u64(a.tables.size());
    for (const TableFunction& t : a.tables) write_string(w, t.name, "table function name");
    write_i32s(w, a.element_table);
  }
  void operator()(const RoundAttr& a) const {
    write_tag(w, AttributeTag::Round);
    w.i64(a.lsbs_to_remove);
    w.u8(static_cast<std::uint8_t>(a.mode));
  }
  void operator()(const Conv2dAttr& a) const {
    write_tag(w, AttributeTag::Conv2d);
    write_i64s(w, a.strides);
    write_i64s(w, a.pads);
    write_i64s(w, a.dilations);
    w.i64(a.groups);
  }
  void operator()(const Pool2dAttr& a) const {
    write_tag(w, AttributeTag::Pool2d);
    write_i64s(w, a.kernel);
    write_i64s(w, a.strides);
    write_i64s(w, a.pads);
  }
};

// The function given to the tables of a loaded program: only their materialized values exist.
std::int64_t unserialized_table_function(std::int64_t) {
  throw InvalidArgument(kTableFunctionsNotSerialized);
}

Attributes read_attributes(ByteReader& r) {
  const std::uint8_t tag = r.u8("attribute tag");
  switch (static_cast<AttributeTag>(tag)) {
    case AttributeTag::None:
      return std::monostate{};
    case AttributeTag::Input: {
      InputAttr a;
      a.name = read_string(r, "input name");
      a.encrypted = read_bool(r, "input encrypted");
      return a;
    }
    case AttributeTag::Constant:
      return ConstantAttr{read_tensor(r, "constant value")};
    case AttributeTag::Sum: {
      SumAttr a;
      a.axes = read_i64s(r, "sum axes");
      a.keepdims = read_bool(r, "sum keepdims");
      return a;
    }
    case AttributeTag::Reshape:
      return ReshapeAttr{read_i64s(r, "reshape shape")};
    case AttributeTag::Transpose:
      return TransposeAttr{read_i64s(r, "transpose perm")};
    case AttributeTag::BroadcastTo:
      return BroadcastAttr{read_i64s(r, "broadcast shape")};
    case AttributeTag::Concat:
      return ConcatAttr{r.i64("concatenate axis")};
    case AttributeTag::Slice: {
      SliceAttr a;
      a.starts = read_i64s(r, "slice starts");
      a.stops = read_i64s(r, "slice stops");
      a.steps = read_i64s(r, "slice steps");
      return a;
    }
    case AttributeTag::Take: {
      TakeAttr a;
      a.axis = r.i64("take axis");
      a.indices = read_i64s(r, "take indices");
      return a;
    }
    case AttributeTag::Pad: {
      PadAttr a;
      a.before = read_i64s(r, "pad before");
      a.after = read_i64s(r, "pad after");
      a.value = r.i64("pad value");
      return a;
    }
    case AttributeTag::Table: {
      TableAttr a;
      const std::uint64_t count = tfhe::serialization_detail::read_count(r, "table count", 4);
      a.tables.reserve(count);
      for (std::uint64_t i = 0; i < count; ++i)
        a.tables.push_back({unserialized_table_function, read_string(r, "table function name")});
      a.element_table = read_i32s(r, "element_table");
      return a;
    }
    case AttributeTag::Round: {
      RoundAttr a;
      a.lsbs_to_remove = r.i64("round lsbs_to_remove");
      const std::uint8_t mode = r.u8("rounding mode");
      if (mode != static_cast<std::uint8_t>(RoundingMode::Exact) &&
          mode != static_cast<std::uint8_t>(RoundingMode::Approximate))
        fail("unknown rounding mode " + std::to_string(mode));
      a.mode = static_cast<RoundingMode>(mode);
      return a;
    }
    case AttributeTag::Conv2d: {
      Conv2dAttr a;
      a.strides = read_i64s(r, "conv2d strides");
      a.pads = read_i64s(r, "conv2d pads");
      a.dilations = read_i64s(r, "conv2d dilations");
      a.groups = r.i64("conv2d groups");
      return a;
    }
    case AttributeTag::Pool2d: {
      Pool2dAttr a;
      a.kernel = read_i64s(r, "pool kernel");
      a.strides = read_i64s(r, "pool strides");
      a.pads = read_i64s(r, "pool pads");
      return a;
    }
  }
  fail("unknown attribute tag " + std::to_string(tag) + " (corrupted, or a newer format?)");
}

void write_node(ByteWriter& w, const Node& n) {
  w.u8(static_cast<std::uint8_t>(n.op));
  write_i32s(w, n.inputs);
  std::visit(AttributeWriter{w}, n.attributes);
  write_shape(w, n.shape);
  write_bool(w, n.encrypted);
  write_string(w, n.label, "node label");
}

Node read_node(ByteReader& r, std::size_t index) {
  const std::string where = "node %" + std::to_string(index);
  Node n;
  const std::uint8_t op = r.u8("operation");
  if (!known_op(op)) fail(where + ": unknown operation kind " + std::to_string(op));
  n.op = static_cast<OpKind>(op);
  n.inputs = read_i32s(r, "operands");
  for (NodeId in : n.inputs) {
    if (in < 0 || static_cast<std::size_t>(in) >= index) {
      fail(where + ": operand %" + std::to_string(in) +
           " does not precede the node (nodes are in topological order)");
    }
  }
  n.attributes = read_attributes(r);
  n.shape = read_shape(r, "node shape");
  n.encrypted = read_bool(r, "node encrypted");
  n.label = read_string(r, "node label");
  return n;
}

void write_instruction(ByteWriter& w, const Instruction& ins) {
  w.u8(static_cast<std::uint8_t>(ins.kind));
  switch (ins.kind) {
    case InstructionKind::Input:
    case InstructionKind::Alias:
      break;
    case InstructionKind::Clear:
      w.i64(ins.clear_table_min);
      w.u64(ins.clear_tables.size());
      for (const auto& t : ins.clear_tables) write_i64s(w, t);
      break;
    case InstructionKind::Linear:
      write_bool(w, ins.map_is_static);
      if (ins.map_is_static) {
        const LinearMap& m = ins.map;
        w.i64(m.outputs);
        write_i64s(w, m.row_start);
        write_i32s(w, m.slot);
        write_i64s(w, m.index);
        write_i64s(w, m.coeff);
        write_i64s(w, m.constant);
      }
      break;
    case InstructionKind::Bootstrap:
    case InstructionKind::FusedLookup: {
      const BootstrapInstruction& b = ins.bootstrap;
      w.u32(static_cast<std::uint32_t>(b.source));
      w.u8(static_cast<std::uint8_t>(b.input_width));
      w.u8(static_cast<std::uint8_t>(b.lsbs_removed));
      w.i64(b.offset);
      w.u64(b.tables.size());
      for (const auto& t : b.tables) write_i64s(w, t);
      write_i32s(w, b.element_table);
      w.f64(b.noise_std_lsb);
      w.f64(b.log2_p_error);
      if (ins.kind == InstructionKind::FusedLookup) w.u32(static_cast<std::uint32_t>(b.fused_into));
      break;
    }
    case InstructionKind::ExactRound: {
      const ExactRoundInstruction& e = ins.rounding;
      w.u32(static_cast<std::uint32_t>(e.source));
      w.u8(static_cast<std::uint8_t>(e.input_width));
      w.u8(static_cast<std::uint8_t>(e.lsbs_removed));
      w.i64(e.initial);
      w.u64(e.steps.size());
      for (const RoundingStep& step : e.steps) {
        w.u8(static_cast<std::uint8_t>(step.shift));
        w.u64(step.offset);
        w.i64(step.constant);
        write_i64s(w, step.table);
        w.f64(step.noise_std_box);
        w.f64(step.log2_p_error);
      }
      break;
    }
  }
}

std::vector<std::vector<std::int64_t>> read_tables(ByteReader& r, const char* field) {
  const std::uint64_t count = tfhe::serialization_detail::read_count(r, field, 8);
  std::vector<std::vector<std::int64_t>> tables;
  for (std::uint64_t i = 0; i < count; ++i) tables.push_back(read_i64s(r, field));
  return tables;
}

Instruction read_instruction(ByteReader& r, std::size_t index) {
  Instruction ins;
  ins.node = static_cast<NodeId>(index);
  const std::uint8_t kind = r.u8("instruction kind");
  if (!known_instruction(kind)) {
    fail("instruction of node %" + std::to_string(index) + ": unknown kind " +
         std::to_string(kind));
  }
  ins.kind = static_cast<InstructionKind>(kind);
  switch (ins.kind) {
    case InstructionKind::Input:
    case InstructionKind::Alias:
      break;
    case InstructionKind::Clear:
      ins.clear_table_min = r.i64("clear_table_min");
      ins.clear_tables = read_tables(r, "clear tables");
      break;
    case InstructionKind::Linear:
      ins.map_is_static = read_bool(r, "map_is_static");
      if (ins.map_is_static) {
        LinearMap& m = ins.map;
        m.outputs = r.i64("linear map outputs");
        m.row_start = read_i64s(r, "linear map row_start");
        m.slot = read_i32s(r, "linear map slots");
        m.index = read_i64s(r, "linear map indices");
        m.coeff = read_i64s(r, "linear map coefficients");
        m.constant = read_i64s(r, "linear map constants");
      }
      break;
    case InstructionKind::Bootstrap:
    case InstructionKind::FusedLookup: {
      BootstrapInstruction& b = ins.bootstrap;
      b.source = static_cast<NodeId>(r.u32("bootstrap source"));
      b.input_width = r.u8("bootstrap input_width");
      b.lsbs_removed = r.u8("bootstrap lsbs_removed");
      if (b.input_width > 62 || b.lsbs_removed > b.input_width) {
        fail("bootstrap of node %" + std::to_string(index) + ": input_width " +
             std::to_string(b.input_width) + " and lsbs_removed " + std::to_string(b.lsbs_removed) +
             " are not 0 <= lsbs_removed <= input_width <= 62");
      }
      b.offset = r.i64("bootstrap offset");
      b.tables = read_tables(r, "bootstrap tables");
      b.element_table = read_i32s(r, "bootstrap element_table");
      b.noise_std_lsb = r.f64("bootstrap noise_std_lsb");
      b.log2_p_error = r.f64("bootstrap log2_p_error");
      if (ins.kind == InstructionKind::FusedLookup) {
        b.fused_into = static_cast<NodeId>(r.u32("fused lookup leader"));
        if (b.fused_into < 0 || static_cast<std::size_t>(b.fused_into) >= index) {
          fail("fused lookup of node %" + std::to_string(index) + ": its bootstrap is node %" +
               std::to_string(b.fused_into) + ", not an earlier node");
        }
      }
      break;
    }
    case InstructionKind::ExactRound: {
      ExactRoundInstruction& e = ins.rounding;
      e.source = static_cast<NodeId>(r.u32("exact rounding source"));
      e.input_width = r.u8("exact rounding input_width");
      e.lsbs_removed = r.u8("exact rounding lsbs_removed");
      e.initial = r.i64("exact rounding initial");
      // Each step takes at least 41 bytes (shift, offset, constant, table count, two f64).
      const std::uint64_t steps =
          tfhe::serialization_detail::read_count(r, "exact rounding steps", 41);
      for (std::uint64_t k = 0; k < steps; ++k) {
        RoundingStep step;
        step.shift = r.u8("exact rounding step shift");
        step.offset = r.u64("exact rounding step offset");
        step.constant = r.i64("exact rounding step constant");
        step.table = read_i64s(r, "exact rounding step table");
        step.noise_std_box = r.f64("exact rounding step noise_std_box");
        step.log2_p_error = r.f64("exact rounding step log2_p_error");
        e.steps.push_back(std::move(step));
      }
      break;
    }
  }
  return ins;
}

std::vector<NodeId> read_node_ids(ByteReader& r, const char* field, std::size_t nodes) {
  std::vector<NodeId> ids = read_i32s(r, field);
  for (NodeId id : ids) {
    if (id < 0 || static_cast<std::size_t>(id) >= nodes) {
      fail(std::string(field) + ": %" + std::to_string(id) + " is not a node of the program (" +
           std::to_string(nodes) + " nodes)");
    }
  }
  return ids;
}

}  // namespace

void write_server_program(ByteWriter& w, const ServerProgram& sp) {
  write_parameters(w, sp.parameters);
  const Program& p = sp.program;
  w.u64(p.nodes.size());
  for (const Node& n : p.nodes) write_node(w, n);
  write_i32s(w, p.inputs);
  write_i32s(w, p.outputs);
  for (const Instruction& ins : sp.instructions) write_instruction(w, ins);
  const bool partitions = has_partitions(sp.parameters);
  for (const Encoding& e : sp.encodings) write_encoding(w, e, partitions);
}

ServerProgram read_server_program(ByteReader& r) {
  ServerProgram sp;
  sp.parameters = read_parameters(r);
  // Each node takes at least 26 bytes: 23 for itself (op, operand count, tag, rank, encrypted,
  // label length), 1 for its instruction and 2 for its encoding.
  const std::uint64_t count = tfhe::serialization_detail::read_count(r, "node count", 26);
  if (count > static_cast<std::uint64_t>(INT32_MAX)) fail("too many nodes for 32-bit node ids");
  Program& p = sp.program;
  // Reserved once (the count is bounded by the input size): no growth by doubling.
  p.nodes.reserve(count);
  sp.instructions.reserve(count);
  sp.encodings.reserve(count);
  for (std::size_t i = 0; i < count; ++i) p.nodes.push_back(read_node(r, i));
  p.inputs = read_node_ids(r, "program inputs", p.nodes.size());
  p.outputs = read_node_ids(r, "program outputs", p.nodes.size());
  for (std::size_t i = 0; i < count; ++i) sp.instructions.push_back(read_instruction(r, i));
  const bool partitions = has_partitions(sp.parameters);
  for (std::size_t i = 0; i < count; ++i)
    sp.encodings.push_back(read_encoding(r, "encoding", partitions));
  return sp;
}

}  // namespace torusml::circuit::serialization_detail
