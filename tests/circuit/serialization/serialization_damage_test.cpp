// Damaged and crafted bytes for the circuit layer's loaders (circuit/serialization.h): every
// truncation and single-byte corruption is rejected, payloads changed behind a valid checksum
// never crash, and hand-broken programs (bad node ids, huge counts, bad tags, inconsistent linear
// maps, wrong table sizes, ...) are rejected with a message naming the damage.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "serialization_test_util.h"

namespace torusml::circuit::testing {
namespace {

// ---- Damaged bytes ---------------------------------------------------------------------------

// One loader per object used in the truncation, corruption and crafting tests.
using Sample = LoadSample;

std::vector<Sample> samples() {
  const Fixture& l = leveled();
  const Fixture& r = rich();
  const CircuitParameters lp = l.circuit.parameters(), rp = r.circuit.parameters();
  // One sample each: the byte-level tests visit every position of the smaller objects.
  const RunArguments args =
      encrypt_inputs(l.client, l.circuit.client_specification(), stack({leveled_inputset()[0]}));
  const RunArguments rich_args =
      encrypt_inputs(r.client, r.circuit.client_specification(), stack({rich_inputset()[0]}));
  return {
      {"leveled_server_program", serialize_server_program(l.circuit.server_program()),
       [](auto b) { deserialize_server_program(b); }},
      {"rich_server_program", serialize_server_program(r.circuit.server_program()),
       [](auto b) { deserialize_server_program(b); }},
      {"leveled_client_specification",
       serialize_client_specification(l.circuit.client_specification()),
       [](auto b) { deserialize_client_specification(b); }},
      {"rich_client_specification",
       serialize_client_specification(r.circuit.client_specification()),
       [](auto b) { deserialize_client_specification(b); }},
      {"leveled_client_keys", serialize_client_keys(l.client),
       [](auto b) { deserialize_client_keys(b); }},
      {"leveled_evaluation_keys", serialize_evaluation_keys(l.evaluation),
       [](auto b) { deserialize_evaluation_keys(b); }},
      {"encrypted_tensor", serialize_encrypted_tensor(args.encrypted[0], lp),
       [lp](auto b) { deserialize_encrypted_tensor(b, lp); }},
      {"encrypted_tensors", serialize_encrypted_tensors(args.encrypted, lp),
       [lp](auto b) { deserialize_encrypted_tensors(b, lp); }},
      {"run_arguments", serialize_run_arguments(args, lp),
       [lp](auto b) { deserialize_run_arguments(b, lp); }},
      {"rich_run_arguments", serialize_run_arguments(rich_args, rp),
       [rp](auto b) { deserialize_run_arguments(b, rp); }},
  };
}

TEST(CircuitSerializationDamage, EveryTruncationIsRejected) {
  for (const Sample& s : samples()) {
    SCOPED_TRACE(s.name);
    ASSERT_NO_THROW(s.load(s.bytes));
    for (std::size_t len : positions(s.bytes.size(), 300)) {
      const Bytes cut(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      EXPECT_THROW(s.load(cut), SerializationError) << len;
    }
    Bytes longer = s.bytes;
    longer.push_back(0);
    expect_serialization_error(s.load, longer, "trailing");
  }
}

TEST(CircuitSerializationDamage, EverySingleByteCorruptionIsRejected) {
  for (const Sample& s : samples()) {
    SCOPED_TRACE(s.name);
    Bytes bytes = s.bytes;
    for (std::size_t pos : positions(bytes.size(), 300)) {
      for (int flip : {0x01, 0x80, 0xff}) {
        bytes[pos] = static_cast<std::uint8_t>(bytes[pos] ^ flip);
        EXPECT_THROW(s.load(bytes), SerializationError) << pos;
        bytes[pos] = s.bytes[pos];
      }
    }
  }
}

// Payloads changed behind a valid checksum: byte flips everywhere, extreme u64 values at every
// offset of the payload's head, and truncations. Every outcome is a valid object or a
// SerializationError: never a crash (ASan/UBSan builds), another exception or a huge allocation.
TEST(CircuitSerializationDamage, CraftedPayloadsNeverCrash) {
  const std::uint64_t extremes[] = {0, 1, 1ull << 31, 1ull << 48, 1ull << 63, ~std::uint64_t{0}};
  for (const Sample& s : samples()) {
    SCOPED_TRACE(s.name);
    CraftedLoader try_load(s);
    const Bytes& payload = try_load.payload();
    // Programs and specifications: every offset of the first KiB, every third one beyond.
    // Ciphertexts (bulk data): the head, where the parameters, shapes and counts are.
    const bool structured = payload.size() <= 8192;
    const std::size_t dense = structured ? std::min<std::size_t>(payload.size(), 1024) : 96;
    for (std::size_t pos = 0; pos + 8 <= payload.size(); pos += pos < dense ? 1 : 3) {
      if (!structured && pos >= dense) break;
      for (std::uint64_t v : extremes) {
        Bytes crafted = payload;
        put_u64(crafted, pos, v);
        try_load(std::move(crafted));
      }
    }
    for (std::size_t pos : positions(payload.size(), 100)) {
      for (int flip : {0x01, 0x80, 0xff}) {
        if (pos >= dense && flip == 0xff) continue;
        if (!structured && pos >= dense && flip != 0x01) continue;  // bulk data: one flip
        Bytes crafted = payload;
        crafted[pos] = static_cast<std::uint8_t>(crafted[pos] ^ flip);
        try_load(std::move(crafted));
      }
    }
    for (std::size_t len : positions(payload.size(), 300)) {
      if (len == payload.size()) continue;
      EXPECT_THROW(s.load(try_load.sealed(Bytes(payload.begin(), payload.begin() + len))),
                   SerializationError)
          << len;
    }
    try_load(payload);
    EXPECT_GE(try_load.loaded(), 1u);
  }
}

// ---- Crafted programs --------------------------------------------------------------------

// A hand-broken program is refused by the validator, the serializer and, if the damage shows in
// its bytes (`in_bytes`; e.g. unused instruction fields are not written), by the loader of its
// bytes crafted behind a valid checksum, with a message containing `needle`.
void expect_rejected(const ServerProgram& sp, const std::string& needle, bool in_bytes) {
  EXPECT_THROW(validate_server_program(sp), InvalidArgument) << needle;
  EXPECT_THROW(serialize_server_program(sp), InvalidArgument) << needle;
  if (in_bytes)
    expect_serialization_error([](auto b) { deserialize_server_program(b); }, craft_program(sp),
                               needle);
}

// The first node whose instruction has kind `kind` (and satisfies `pred`).
std::size_t find_instruction(const ServerProgram& sp, InstructionKind kind,
                             const std::function<bool(const Instruction&)>& pred = {}) {
  for (std::size_t i = 0; i < sp.instructions.size(); ++i)
    if (sp.instructions[i].kind == kind && (!pred || pred(sp.instructions[i]))) return i;
  ADD_FAILURE() << "no such instruction";
  return 0;
}

// Exact roundings by digits: what the runtime indexes by (source, widths, step shifts, table
// sizes) and the data of other kinds are checked.
TEST(CircuitSerializationDamage, CraftedExactRoundingsAreRejected) {
  const ServerProgram& base = wide_rounding().server_program();
  ASSERT_NO_THROW(deserialize_server_program(craft_program(base)));
  const std::size_t er = find_instruction(base, InstructionKind::ExactRound);
  const std::size_t boot = find_instruction(base, InstructionKind::Bootstrap);
  auto mutate = [&](const std::function<void(ServerProgram&)>& change, const std::string& needle,
                    bool in_bytes = true) {
    SCOPED_TRACE(needle);
    ServerProgram sp = base;
    change(sp);
    expect_rejected(sp, needle, in_bytes);
  };
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.source = 0; }, "reads %");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.input_width = 11; }, "input width");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.lsbs_removed = 5; }, "removes");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.steps.clear(); }, "steps");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.steps[1].shift = 64; }, "shifts");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.steps[2].table.pop_back(); },
         "entries");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.steps[0].table = {1}; }, "entries");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.steps[0].noise_std_box = -1; },
         "noise_std_box");
  mutate([&](ServerProgram& sp) { sp.instructions[er].rounding.steps[0].log2_p_error = 1; },
         "log2_p_error");
  mutate([&](ServerProgram& sp) { sp.instructions[boot].rounding = sp.instructions[er].rounding; },
         "exact rounding data", /*in_bytes=*/false);  // not written for a Bootstrap
  mutate(
      [&](ServerProgram& sp) {
        sp.instructions[er].kind = InstructionKind::Bootstrap;
        sp.instructions[er].rounding = {};
      },
      "bootstrap");
}

TEST(CircuitSerializationDamage, CraftedProgramsAreRejected) {
  const ServerProgram& base = rich().circuit.server_program();
  ASSERT_NO_THROW(deserialize_server_program(craft_program(base)));
  const std::size_t lin = find_instruction(base, InstructionKind::Linear,
                                           [](const Instruction& i) { return i.map.terms() >= 2; });
  const std::size_t dyn = find_instruction(base, InstructionKind::Linear,
                                           [](const Instruction& i) { return !i.map_is_static; });
  const std::size_t per =
      find_instruction(base, InstructionKind::Bootstrap,
                       [](const Instruction& i) { return !i.bootstrap.element_table.empty(); });
  const std::size_t boot = find_instruction(base, InstructionKind::Bootstrap);
  const std::size_t clear = find_instruction(
      base, InstructionKind::Clear, [](const Instruction& i) { return !i.clear_tables.empty(); });
  const std::size_t input = find_instruction(base, InstructionKind::Input);
  auto mutate = [&](const std::function<void(ServerProgram&)>& change, const std::string& needle,
                    bool in_bytes = true) {
    SCOPED_TRACE(needle);
    ServerProgram sp = base;
    change(sp);
    expect_rejected(sp, needle, in_bytes);
  };
  const auto n = static_cast<NodeId>(base.program.nodes.size());

  // Node ids.
  mutate([&](ServerProgram& sp) { sp.program.nodes[lin].inputs[0] = static_cast<NodeId>(lin); },
         "does not precede");
  mutate([&](ServerProgram& sp) { sp.program.nodes[lin].inputs[0] = -1; }, "does not precede");
  mutate([&](ServerProgram& sp) { sp.program.outputs[0] = n; }, "is not a node of the program");
  mutate([&](ServerProgram& sp) { std::swap(sp.program.inputs[0], sp.program.inputs[1]); },
         "node order");
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.source = n + 5; }, "reads %");
  // Attributes, shapes and labels.
  mutate([&](ServerProgram& sp) { sp.program.nodes[lin].attributes = SumAttr{}; },
         "cannot hold attributes");
  mutate(
      [&](ServerProgram& sp) {
        for (Node& node : sp.program.nodes)
          if (auto* a = std::get_if<SliceAttr>(&node.attributes)) a->steps[0] = 1ll << 62;
      },
      "outside [-2^48, 2^48]");
  mutate([&](ServerProgram& sp) { sp.program.nodes[0].shape = {1ll << 30, 1ll << 30}; }, "2^48");
  mutate([&](ServerProgram& sp) { sp.program.nodes[lin].label = sp.program.nodes[0].label; },
         "unique");
  mutate(
      [&](ServerProgram& sp) {
        std::get<TableAttr>(sp.program.nodes[per].attributes).element_table[0] = 9;
        sp.instructions[per].bootstrap.element_table[0] = 9;
      },
      "element_table");
  // Linear maps (CSR).
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.row_start[0] = 1; }, "first row start");
  mutate(
      [&](ServerProgram& sp) {
        auto& rs = sp.instructions[lin].map.row_start;
        rs[1] = rs[2] + 1;
      },
      "decrease");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.row_start.back() += 1; },
         "last row start");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.row_start.pop_back(); }, "row starts");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.slot[0] = 7; }, "operand slot");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.index[0] = 1ll << 40; },
         "reads element");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.coeff.pop_back(); }, "coefficients");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.outputs += 1; }, "outputs");
  mutate([&](ServerProgram& sp) { sp.instructions[lin].map.constant.push_back(1); }, "constants");
  mutate(
      [&](ServerProgram& sp) {
        sp.instructions[dyn].map_is_static = true;
        sp.instructions[dyn].map = sp.instructions[lin].map;
      },
      "constant clear operands");
  // Bootstraps.
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.tables[0].pop_back(); },
         "entries instead of");
  mutate([&](ServerProgram& sp) { sp.instructions[per].bootstrap.tables.pop_back(); }, "tables");
  mutate([&](ServerProgram& sp) { sp.instructions[per].bootstrap.element_table.pop_back(); },
         "differs from the node's");
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.input_width = 63; },
         "input_width");
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.offset = 3; }, "offset");
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.noise_std_lsb = -1; }, "noise");
  // Issue 8, defect 1: a huge but finite noise once reached a float-to-int64 conversion.
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.noise_std_lsb = 1e300; },
         "noise_std_lsb = 1e+300 is out of range (allowed: [0, 2^32])");
  mutate([&](ServerProgram& sp) { sp.instructions[boot].bootstrap.log2_p_error = -1e300; },
         "log2_p_error");
  mutate(
      [&](ServerProgram& sp) {
        sp.parameters.uses_pbs = false;
        sp.parameters.leveled_dimension = tfhe::LweDimension(1024);
        sp.parameters.leveled_noise = tfhe::NoiseDistribution::tuniform(45);
      },
      "without PBS parameters");
  // Instruction kinds, unused fields, clear tables and encodings.
  mutate(
      [&](ServerProgram& sp) {
        sp.instructions[boot].kind = InstructionKind::Linear;
        sp.instructions[boot].bootstrap = {};
      },
      "needs a Bootstrap");
  mutate([&](ServerProgram& sp) { sp.instructions[input].clear_tables = {{1}}; }, "does not use",
         false);
  mutate([&](ServerProgram& sp) { sp.instructions[input].node = 1; }, "names node", false);
  mutate([&](ServerProgram& sp) { sp.instructions[clear].clear_tables.clear(); }, "clear tables");
  mutate([&](ServerProgram& sp) { sp.instructions[clear].clear_tables[0].clear(); },
         "outside [1, 2^24]");
  mutate([&](ServerProgram& sp) { sp.encodings[boot].width = 63; }, "width 63");
  mutate([&](ServerProgram& sp) { sp.encodings[clear].width = 5; }, "empty encoding");
  mutate([&](ServerProgram& sp) { sp.instructions.pop_back(); }, "instructions", false);
}

// Byte-level crafting where no in-memory object can express the damage.
TEST(CircuitSerializationDamage, CraftedCountsAndTagsAreRejected) {
  const auto load = [](auto b) { deserialize_server_program(b); };
  for (const Fixture* f : {&leveled(), &rich()}) {
    const ServerProgram& sp = f->circuit.server_program();
    const Bytes payload = payload_of(serialize_server_program(sp));
    ByteWriter params;
    sdc::write_parameters(params, sp.parameters);
    const std::size_t count_at = params.size();  // the node count follows the parameters
    const std::size_t op_at = count_at + 8, tag_at = op_at + 1 + 8;  // first node: no operands
    const std::uint64_t fp = sp.parameters.fingerprint();
    auto crafted = [&](const std::function<void(Bytes&)>& change) {
      Bytes b = payload;
      change(b);
      return reseal(SerializedKind::ServerProgram, fp, std::move(b));
    };
    for (std::uint64_t huge : {std::uint64_t{1} << 40, std::uint64_t{1} << 62, ~std::uint64_t{0}})
      expect_serialization_error(load, crafted([&](Bytes& b) { put_u64(b, count_at, huge); }),
                                 "remain");
    expect_serialization_error(load, crafted([&](Bytes& b) { b[op_at] = 0; }),
                               "unknown operation kind 0");
    expect_serialization_error(load, crafted([&](Bytes& b) { b[op_at] = 200; }),
                               "unknown operation kind 200");
    expect_serialization_error(load, crafted([&](Bytes& b) { b[tag_at] = 99; }),
                               "unknown attribute tag 99");
    expect_serialization_error(load, crafted([&](Bytes& b) { put_u64(b, op_at + 1, 1ull << 61); }),
                               "remain");
    // The parameters' tag: 0 leveled, 1 PBS, 2 multi-parameter PBS (multi_partition_test.cpp),
    // 3 PBS with small-key inputs.
    expect_serialization_error(load, crafted([&](Bytes& b) { b[0] = 4; }),
                               "not 0 (leveled), 1 (PBS), 2 (multi-parameter PBS) or 3");
    expect_serialization_error(load, crafted([&](Bytes& b) { b[0] = 0xff; }), "'uses_pbs' is 255");
  }
  // Hand-written payloads: a node with an unknown instruction kind, and a huge tensor.
  const CircuitParameters& p = leveled().circuit.parameters();
  ByteWriter w;
  sdc::write_parameters(w, p);
  w.u64(1);  // one node
  w.u8(static_cast<std::uint8_t>(OpKind::Input));
  w.u64(0);  // no operands
  w.u8(1);   // InputAttr
  w.string("x");
  w.u8(1);
  w.u64(1);  // shape (2,)
  w.i64(2);
  w.u8(1);
  w.string("x");
  w.u64(1);  // inputs
  w.u32(0);
  w.u64(1);  // outputs
  w.u32(0);
  const Bytes head = w.data();
  Bytes bad_kind = head;
  bad_kind.push_back(9);  // instruction kind 9
  bad_kind.insert(bad_kind.end(), {3, 0});
  expect_serialization_error(load, reseal(SerializedKind::ServerProgram, p.fingerprint(), bad_kind),
                             "unknown kind 9");
  Bytes good = head;
  good.push_back(static_cast<std::uint8_t>(InstructionKind::Input));
  good.insert(good.end(), {3, 0});  // encoding: 3 bits, unsigned
  const ServerProgram tiny =
      deserialize_server_program(reseal(SerializedKind::ServerProgram, p.fingerprint(), good));
  EXPECT_EQ(tiny.program.nodes.size(), 1u);
  // A wrong header fingerprint for the stored parameters.
  expect_serialization_error(load, reseal(SerializedKind::ServerProgram, p.fingerprint() ^ 1, good),
                             "header's fingerprint");
}

}  // namespace
}  // namespace torusml::circuit::testing
