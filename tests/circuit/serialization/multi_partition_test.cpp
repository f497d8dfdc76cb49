// Multi-parameter circuits (issue 12) in the circuit layer's serialization and validity checks:
// circuits whose lookups are split into partitions with their own KS-PBS parameter sets and keys,
// and cross keyswitching keys between them. The programs are compiled with one parameter set and
// moved to two partitions by hand (tfhe_2bit: big key dimension 1536, N = 512; tfhe_3bit: 2048,
// N = 1024), so that these tests do not depend on the compiler's partitioning.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "serialization_test_util.h"
#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::circuit::testing {
namespace {

// ---- Fixtures --------------------------------------------------------------------------------

// Partition 0: tfhe_2bit, partition 1: tfhe_3bit, cross keyswitches both ways (each with the
// decomposition of its destination's own keyswitch).
CircuitParameters two_partitions() {
  const tfhe::PbsParameters& a = tfhe::preset_by_name("tfhe_2bit");
  const tfhe::PbsParameters& b = tfhe::preset_by_name("tfhe_3bit");
  CircuitParameters p;
  p.uses_pbs = true;
  p.pbs = a;
  p.extra_partitions = {b};
  p.cross_keyswitches = {{0, 1, b.ks}, {1, 0, a.ks}};
  return p;
}

// The same sets without the keyswitch 0 -> 1.
CircuitParameters without_cross_0_to_1() {
  CircuitParameters p = two_partitions();
  p.cross_keyswitches.erase(p.cross_keyswitches.begin());
  return p;
}

// A compiled circuit moved to `params`: encrypted inputs by name, Bootstrap lookups in node order
// from `lookups`, FusedLookups in their leader's partition and every other encrypted node in its
// first encrypted operand's; the client specification follows the program's encodings.
struct Moved {
  ServerProgram program;
  ClientSpecification spec;
};

Moved move_to_partitions(const CompiledCircuit& c, const CircuitParameters& params,
                         const std::map<std::string, std::uint32_t>& inputs,
                         const std::vector<std::uint32_t>& lookups) {
  Moved m{c.server_program(), c.client_specification()};
  m.program.parameters = params;
  m.spec.parameters = params;
  const Program& p = m.program.program;
  std::size_t next_lookup = 0;
  for (std::size_t i = 0; i < p.nodes.size(); ++i) {
    const Node& n = p.nodes[i];
    const Instruction& ins = m.program.instructions[i];
    std::uint32_t& q = m.program.encodings[i].partition;
    if (!n.encrypted) {
      q = 0;
    } else if (n.op == OpKind::Input) {
      q = inputs.at(std::get<InputAttr>(n.attributes).name);
    } else if (ins.kind == InstructionKind::Bootstrap) {
      q = lookups.at(next_lookup++);
    } else if (ins.kind == InstructionKind::FusedLookup) {
      q = m.program.encodings[static_cast<std::size_t>(ins.bootstrap.fused_into)].partition;
    } else {
      for (NodeId in : n.inputs) {
        if (p.nodes[static_cast<std::size_t>(in)].encrypted) {
          q = m.program.encodings[static_cast<std::size_t>(in)].partition;
          break;
        }
      }
    }
  }
  EXPECT_EQ(next_lookup, lookups.size());
  for (std::size_t k = 0; k < p.inputs.size(); ++k)
    if (m.spec.inputs[k].encrypted)
      m.spec.inputs[k].encoding = m.program.encodings[static_cast<std::size_t>(p.inputs[k])];
  for (std::size_t k = 0; k < p.outputs.size(); ++k)
    if (m.spec.outputs[k].encrypted)
      m.spec.outputs[k].encoding = m.program.encodings[static_cast<std::size_t>(p.outputs[k])];
  return m;
}

// x (partition 0) -> flip (partition 1, keyswitched 0 -> 1) -> + u (partition 1) -> half
// (partition 0, keyswitched 1 -> 0); a clear input and a clear output.
Program two_partition_program() {
  Builder b;
  Value x = b.input("x", {4});
  Value u = b.input("u", {4});
  Value k = b.input("k", {4}, /*encrypted=*/false);
  Value y = apply_table(
      x, [](std::int64_t v) { return 1 - v; }, "flip");
  Value z = y + u;
  b.output(apply_table(
      z, [](std::int64_t v) { return v / 2; }, "half"));
  b.output(z);
  b.output(k + 1);
  return b.build();
}

std::vector<std::vector<Tensor>> two_partition_inputset() {
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 8; ++i)
    set.push_back({Tensor::vector({i % 2, (i / 2) % 2, 1, 0}),
                   Tensor::vector({(i / 4) % 2, i % 2, 0, 1}), Tensor::vector({i % 4, 3, 0, 2})});
  return set;
}

struct MultiFixture {
  CompiledCircuit reference;  // single-parameter: clear evaluation
  ServerProgram program;
  ClientSpecification spec;
  ClientKeySet client;
  EvaluationKeySet evaluation;  // compressed only
  std::vector<Tensor> batch;
};

const MultiFixture& multi() {
  static const MultiFixture f = [] {
    MultiFixture m;
    const auto set = two_partition_inputset();
    m.reference = compile(two_partition_program(), set, keyswitched_inputs());
    Moved moved = move_to_partitions(m.reference, two_partitions(), {{"x", 0}, {"u", 1}}, {1, 0});
    m.program = std::move(moved.program);
    m.spec = std::move(moved.spec);
    m.client = generate_client_keys(m.spec.parameters, seed_of(21));
    m.evaluation = generate_evaluation_keys(m.client, seed_of(22));
    m.batch = stack(set);
    return m;
  }();
  return f;
}

// ---- Parameters, programs and specifications -------------------------------------------------

TEST(MultiPartitionSerialization, ParametersAndSpecificationRoundTrip) {
  const MultiFixture& f = multi();
  ASSERT_NO_THROW(validate_server_program(f.program));
  ASSERT_NO_THROW(validate_client_specification(f.spec));
  ASSERT_NO_THROW(check_client_specification(f.program, f.spec));
  const Bytes bytes = serialize_client_specification(f.spec);
  EXPECT_EQ(payload_of(bytes)[0], sdc::kMultiParameterTag);
  const ClientSpecification loaded = deserialize_client_specification(bytes, &f.spec.parameters);
  EXPECT_EQ(loaded.parameters, f.spec.parameters);
  ASSERT_EQ(loaded.parameters.partition_count(), 2u);
  EXPECT_EQ(loaded.parameters.partition(1).fingerprint(),
            tfhe::preset_by_name("tfhe_3bit").fingerprint());
  EXPECT_EQ(loaded.parameters.partition(1).name, "tfhe_3bit");
  EXPECT_EQ(loaded.parameters.cross_keyswitches, f.spec.parameters.cross_keyswitches);
  expect_same_arguments(loaded.inputs, f.spec.inputs);
  expect_same_arguments(loaded.outputs, f.spec.outputs);
  EXPECT_EQ(loaded.inputs[1].encoding.partition, 1u);   // u
  EXPECT_EQ(loaded.outputs[1].encoding.partition, 1u);  // z
  EXPECT_EQ(serialize_client_specification(loaded), bytes);
  // The single-parameter layouts are unchanged: tag 1 (3 with small-key inputs), encodings
  // without a partition.
  EXPECT_EQ(payload_of(serialize_client_specification(rich().circuit.client_specification()))[0],
            sdc::kSmallKeyInputsTag);
  const CompiledCircuit keyswitched =
      compile(rich_program(), rich_inputset(), keyswitched_inputs());
  EXPECT_EQ(payload_of(serialize_client_specification(keyswitched.client_specification()))[0], 1u);
  // Another circuit's parameters: the partitions are part of the fingerprint.
  CircuitParameters single = f.spec.parameters;
  single.extra_partitions.clear();
  single.cross_keyswitches.clear();
  EXPECT_NE(single.fingerprint(), f.spec.parameters.fingerprint());
  EXPECT_THROW(deserialize_client_specification(bytes, &single), ParameterMismatch);
  const CircuitParameters fewer = without_cross_0_to_1();
  EXPECT_THROW(deserialize_client_specification(bytes, &fewer), ParameterMismatch);
}

TEST(MultiPartitionSerialization, ServerProgramRoundTrip) {
  const MultiFixture& f = multi();
  const Bytes bytes = serialize_server_program(f.program);
  const ServerProgram loaded = deserialize_server_program(bytes, &f.program.parameters);
  expect_same_server_program(f.program, loaded);
  std::set<std::uint32_t> partitions;
  for (const Encoding& e : loaded.encodings) partitions.insert(e.partition);
  EXPECT_EQ(partitions, (std::set<std::uint32_t>{0, 1}));
  EXPECT_NO_THROW(check_client_specification(loaded, f.spec));
  EXPECT_EQ(interpret(loaded, f.spec, f.batch, false, 0),
            f.reference.evaluate(f.batch, Mode::Clear));
}

TEST(MultiPartitionSerialization, KeySetsRoundTrip) {
  const MultiFixture& f = multi();
  const CircuitParameters& p = f.spec.parameters;
  const Bytes ck = serialize_client_keys(f.client);
  const ClientKeySet client = deserialize_client_keys(ck, &p);
  ASSERT_EQ(client.extra_pbs_keys.size(), 1u);
  EXPECT_EQ(client.encryption_key(0).bits, f.client.encryption_key(0).bits);
  EXPECT_EQ(client.encryption_key(1).bits, f.client.encryption_key(1).bits);
  EXPECT_EQ(client.partition_key(1).small_key.bits, f.client.partition_key(1).small_key.bits);
  EXPECT_EQ(serialize_client_keys(client), ck);

  const Bytes ek = serialize_evaluation_keys(f.evaluation);
  const EvaluationKeySet evaluation = deserialize_evaluation_keys(ek, &p);
  ASSERT_EQ(evaluation.extra_compressed.size(), 1u);
  ASSERT_EQ(evaluation.cross_compressed.size(), 2u);
  EXPECT_EQ(evaluation.cross_compressed[0], f.evaluation.cross_compressed[0]);
  EXPECT_EQ(evaluation.cross_compressed[1], f.evaluation.cross_compressed[1]);
  EXPECT_FALSE(evaluation.is_expanded());
  EXPECT_EQ(serialize_evaluation_keys(evaluation), ek);

  const EvaluationKeySet expanded = deserialize_evaluation_keys(ek, nullptr, /*expand=*/true);
  EXPECT_TRUE(expanded.is_expanded());
  EXPECT_EQ(expanded.extra_server_keys.size(), 1u);
  ASSERT_EQ(expanded.cross_keys.size(), 2u);
  EXPECT_EQ(expanded.cross_keys[0].shape.input_lwe_dimension, p.encryption_dimension(0));
  EXPECT_EQ(expanded.cross_keys[0].shape.output_lwe_dimension, p.partition(1).lwe_dimension);
  EXPECT_EQ(expanded.cross_keys[1].shape.input_lwe_dimension, p.encryption_dimension(1));
  EXPECT_EQ(expanded.cross_keys[1].shape.output_lwe_dimension, p.partition(0).lwe_dimension);
  EXPECT_NO_THROW(validate_evaluation_keys(expanded));
  EXPECT_EQ(serialize_evaluation_keys(expanded), ek);
  // Only the compressed forms are serialized.
  EvaluationKeySet expanded_only = expanded;
  expanded_only.extra_compressed.clear();
  EXPECT_NO_THROW(validate_evaluation_keys(expanded_only));
  EXPECT_THROW(serialize_evaluation_keys(expanded_only), InvalidArgument);
  expanded_only = expanded;
  expanded_only.cross_compressed.clear();
  EXPECT_THROW(serialize_evaluation_keys(expanded_only), InvalidArgument);

  // The keys of another circuit (the first partition's set alone).
  CircuitParameters single = p;
  single.extra_partitions.clear();
  single.cross_keyswitches.clear();
  expect_parameter_mismatch([&] { deserialize_client_keys(ck, &single); }, "generate keys");
  expect_parameter_mismatch([&] { deserialize_evaluation_keys(ek, &single, true); },
                            "CircuitEvaluationKeys");
}

// ---- Ciphertexts and the deployment split --------------------------------------------------

TEST(MultiPartitionSerialization, EncryptedTensorsOfBothDimensions) {
  const MultiFixture& f = multi();
  const CircuitParameters& p = f.spec.parameters;
  ASSERT_NE(p.encryption_dimension(0), p.encryption_dimension(1));
  const RunArguments args = encrypt_inputs(f.client, f.spec, f.batch);
  ASSERT_EQ(args.encrypted.size(), 2u);
  EXPECT_EQ(args.encrypted[0].dimension(), p.encryption_dimension(0));  // x
  EXPECT_EQ(args.encrypted[1].dimension(), p.encryption_dimension(1));  // u
  for (const EncryptedTensor& t : args.encrypted) {
    EXPECT_NO_THROW(validate_encrypted_tensor(t, p));
    const EncryptedTensor loaded =
        deserialize_encrypted_tensor(serialize_encrypted_tensor(t, p), p);
    EXPECT_EQ(loaded.shape, t.shape);
    EXPECT_EQ(loaded.ciphertexts, lwe_form(t));
  }
  expect_same_tensors(
      deserialize_encrypted_tensors(serialize_encrypted_tensors(args.encrypted, p), p),
      args.encrypted);
  const Bytes ra = serialize_run_arguments(args, p);
  const RunArguments loaded = deserialize_run_arguments(ra, p);
  expect_same_tensors(loaded.encrypted, args.encrypted);
  EXPECT_EQ(loaded.clear, args.clear);
  EXPECT_EQ(serialize_run_arguments(loaded, p), ra);
  // A partition-1 ciphertext does not belong to the first partition's set alone.
  CircuitParameters single = p;
  single.extra_partitions.clear();
  single.cross_keyswitches.clear();
  EXPECT_NO_THROW(validate_encrypted_tensor(args.encrypted[0], single));
  expect_parameter_mismatch([&] { validate_encrypted_tensor(args.encrypted[1], single); },
                            "dimension 2048");
  // A dimension of neither partition.
  EncryptedTensor odd{{1}, tfhe::LweCiphertextList(tfhe::LweDimension(1000), 1), {}};
  expect_parameter_mismatch([&] { serialize_encrypted_tensor(odd, p); }, "1536 or 2048");
  // Crafted: a tensor of dimension 1000 behind a valid checksum.
  ByteWriter w;
  sdc::write_encrypted_tensor(w, odd);
  expect_serialization_error([&](auto b) { deserialize_encrypted_tensor(b, p); },
                             reseal(SerializedKind::EncryptedTensor, p.fingerprint(), w.take()),
                             "encrypts with dimension 1536 or 2048");
}

TEST(MultiPartitionSerialization, SeededRunArgumentsOfBothDimensions) {
  const MultiFixture& f = multi();
  const CircuitParameters& p = f.spec.parameters;
  const SeededRunArguments seeded = encrypt_inputs_seeded(f.client, f.spec, f.batch);
  ASSERT_EQ(seeded.encrypted.size(), 2u);
  EXPECT_EQ(seeded.encrypted[1].dimension(), p.encryption_dimension(1));
  const Bytes bytes = serialize_seeded_run_arguments(seeded, p);
  const RunArguments args = deserialize_run_arguments(bytes, p);
  ASSERT_EQ(args.encrypted.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    const ClientSpecification::Argument& in = f.spec.inputs[k];
    const EncryptedTensor& t = args.encrypted[k];
    EXPECT_EQ(t.dimension(), p.encryption_dimension(in.encoding.partition));
    const tfhe::LweCiphertextList list = lwe_form(t);
    for (std::size_t e = 0; e < list.size(); ++e)
      EXPECT_EQ(
          decode_value(tfhe::decrypt_lwe(f.client.encryption_key(in.encoding.partition), list[e]),
                       in.encoding.width),
          f.batch[k][e]);
  }
  // GLWEs of a shape that no partition has.
  SeededRunArguments odd = seeded;
  ASSERT_TRUE(odd.encrypted[0].packed.has_value());
  odd.encrypted[0].packed->glwe_dimension = tfhe::GlweDimension(1);
  odd.encrypted[0].packed->polynomial_size = tfhe::PolynomialSize(4096);
  EXPECT_THROW(serialize_seeded_run_arguments(odd, p), ParameterMismatch);
}

// Only bytes cross between the client and the server; both partitions' keys and the cross
// keyswitching keys run the program, whose outputs come back in both dimensions.
TEST(MultiPartitionSerialization, EndToEndThroughBytes) {
  const MultiFixture& f = multi();
  const Bytes spec_bytes = serialize_client_specification(f.spec);
  const Bytes program_bytes = serialize_server_program(f.program);
  const Bytes ck_bytes = serialize_client_keys(f.client);
  const Bytes ek_bytes = serialize_evaluation_keys(f.evaluation);

  const ClientSpecification spec = deserialize_client_specification(spec_bytes);
  const ClientKeySet ck = deserialize_client_keys(ck_bytes, &spec.parameters);
  const Bytes arg_bytes =
      serialize_seeded_run_arguments(encrypt_inputs_seeded(ck, spec, f.batch), spec.parameters);

  const ServerProgram sp = deserialize_server_program(program_bytes);
  check_client_specification(sp, spec);
  const EvaluationKeySet ek = deserialize_evaluation_keys(ek_bytes, &sp.parameters, true);
  const std::vector<EncryptedTensor> out =
      run(sp, deserialize_run_arguments(arg_bytes, sp.parameters), ek);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].ciphertexts.dimension(), sp.parameters.encryption_dimension(0));  // half
  EXPECT_EQ(out[1].ciphertexts.dimension(), sp.parameters.encryption_dimension(1));  // z
  const Bytes out_bytes = serialize_encrypted_tensors(out, sp.parameters);

  const std::vector<EncryptedTensor> outputs =
      deserialize_encrypted_tensors(out_bytes, spec.parameters);
  EXPECT_EQ(decrypt_outputs(ck, spec, outputs), f.reference.evaluate(f.batch, Mode::Clear));
}

// ---- Validity ------------------------------------------------------------------------------

template <class Fn>
void expect_invalid(const Fn& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no InvalidArgument; expected one containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// The node of the first instruction of `kind`.
std::size_t first_of(const ServerProgram& sp, InstructionKind kind) {
  for (std::size_t i = 0; i < sp.instructions.size(); ++i)
    if (sp.instructions[i].kind == kind) return i;
  ADD_FAILURE() << "no instruction of kind " << static_cast<int>(kind);
  return 0;
}

TEST(MultiPartitionValidity, ProgramPartitionsAreChecked) {
  const MultiFixture& f = multi();
  auto load = [](auto b) { deserialize_server_program(b); };
  // An encoding partition that does not exist.
  ServerProgram sp = f.program;
  const std::size_t linear = first_of(sp, InstructionKind::Linear);
  sp.encodings[linear].partition = 2;
  expect_invalid([&] { validate_server_program(sp); }, "encoding partition 2 does not exist");
  expect_serialization_error(load, craft_program(sp), "encoding partition 2");
  // A linear operation across partitions: y (1) + u moved to partition 0.
  sp = f.program;
  const NodeId u = sp.program.inputs[1];
  sp.encodings[static_cast<std::size_t>(u)].partition = 0;
  expect_invalid([&] { validate_server_program(sp); }, "stay in their operands' partition");
  expect_serialization_error(load, craft_program(sp), "stay in their operands' partition");
  // A bootstrap across partitions without its cross keyswitch.
  sp = f.program;
  sp.parameters = without_cross_0_to_1();
  expect_invalid([&] { validate_server_program(sp); }, "no cross keyswitch 0 -> 1");
  expect_serialization_error(load, craft_program(sp), "no cross keyswitch 0 -> 1");
  // A clear value in another partition.
  sp = f.program;
  const NodeId k = sp.program.inputs[2];
  ASSERT_FALSE(sp.program.node(k).encrypted);
  sp.encodings[static_cast<std::size_t>(k)].partition = 1;
  expect_invalid([&] { validate_server_program(sp); }, "partition 0");
  // A leveled or single-parameter program has partition 0 only.
  sp = f.program;
  sp.parameters.extra_partitions.clear();
  sp.parameters.cross_keyswitches.clear();
  expect_invalid([&] { validate_server_program(sp); }, "does not exist (the circuit has 1)");
}

// A table must fit its own partition's polynomial: a 9-bit lookup fits tfhe_3bit (N = 1024) but
// not tfhe_2bit (N = 512).
TEST(MultiPartitionValidity, TablesFitTheirPartition) {
  Builder b;
  Value x = b.input("x", {2});
  b.output(apply_table(
      x, [](std::int64_t v) { return v % 3; }, "mod3"));
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 8; ++i) set.push_back({Tensor::vector({i * 40, 300 - i * 40})});
  const CompiledCircuit c = compile(b.build(), set);
  const ServerProgram& compiled = c.server_program();
  const BootstrapInstruction& bi =
      compiled.instructions[first_of(compiled, InstructionKind::Bootstrap)].bootstrap;
  ASSERT_EQ(bi.input_width - bi.lsbs_removed, 9u) << c.describe();
  const Moved fits = move_to_partitions(c, two_partitions(), {{"x", 0}}, {1});
  EXPECT_NO_THROW(validate_server_program(fits.program));
  EXPECT_NO_THROW(check_client_specification(fits.program, fits.spec));
  const Moved too_small = move_to_partitions(c, two_partitions(), {{"x", 1}}, {0});
  expect_invalid([&] { validate_server_program(too_small.program); },
                 "do not fit polynomial size 512 of partition 0");
}

// Exact roundings by digits stay in their source's partition.
TEST(MultiPartitionValidity, ExactRoundingsStayInTheirPartition) {
  const CompiledCircuit& c = wide_rounding();
  const Moved ok = move_to_partitions(c, two_partitions(), {{"a", 1}, {"b", 1}}, {0});
  EXPECT_NO_THROW(validate_server_program(ok.program));
  Moved bad = ok;
  const std::size_t r = first_of(bad.program, InstructionKind::ExactRound);
  bad.program.encodings[r].partition = 0;
  expect_invalid([&] { validate_server_program(bad.program); },
                 "its exact rounding is in partition 0 but its source in partition 1");
}

// No many-LUT bootstrap across partitions: its members share the leader's partition, which is
// its input's. Two lookups of x fuse (a 2-bit read) within the circuit's widest read (w, 4 bits).
TEST(MultiPartitionValidity, ManyLutGroupsStayInTheirInputsPartition) {
  Builder b;
  Value x = b.input("x", {3});
  Value w = b.input("w", {2});
  b.output(apply_table(
      x, [](std::int64_t v) { return 1 - v; }, "flip"));
  b.output(apply_table(
      x, [](std::int64_t v) { return v * 2; }, "twice"));
  b.output(apply_table(
      w, [](std::int64_t v) { return v / 2; }, "halve"));
  std::vector<std::vector<Tensor>> set;
  for (std::int64_t i = 0; i < 16; ++i)
    set.push_back({Tensor::vector({i % 2, (i / 2) % 2, 1}), Tensor::vector({i, 15 - i})});
  const CompiledCircuit c = compile(b.build(), set, keyswitched_inputs());
  const std::size_t member = first_of(c.server_program(), InstructionKind::FusedLookup);
  ASSERT_GT(member, 0u) << c.describe();
  // Bootstrap lookups in node order: the group's leader (flip), then halve.
  const Moved same = move_to_partitions(c, two_partitions(), {{"x", 1}, {"w", 0}}, {1, 0});
  EXPECT_NO_THROW(validate_server_program(same.program));
  // The group keyswitched to another partition.
  const Moved across = move_to_partitions(c, two_partitions(), {{"x", 0}, {"w", 0}}, {1, 0});
  expect_invalid([&] { validate_server_program(across.program); },
                 "a many-LUT bootstrap stays in its input's partition");
  // A member outside its leader's partition.
  Moved split = same;
  split.program.encodings[member].partition = 0;
  expect_invalid([&] { validate_server_program(split.program); }, "(the same needed)");
}

TEST(MultiPartitionValidity, SpecificationPartitionsAreChecked) {
  const MultiFixture& f = multi();
  auto load = [](auto b) { deserialize_client_specification(b); };
  ClientSpecification spec = f.spec;
  spec.inputs[1].encoding.partition = 2;
  expect_invalid([&] { validate_client_specification(spec); },
                 "encoding partition 2 does not exist");
  expect_serialization_error(load, craft_spec(spec), "encoding partition 2 does not exist");
  spec = f.spec;
  ASSERT_FALSE(spec.inputs[2].encrypted);
  spec.inputs[2].encoding.partition = 1;
  expect_invalid([&] { validate_client_specification(spec); }, "partition 0");
  // Another partition than the program's: the specification does not describe it.
  spec = f.spec;
  spec.outputs[1].encoding.partition = 0;
  EXPECT_NO_THROW(validate_client_specification(spec));
  expect_parameter_mismatch([&] { check_client_specification(f.program, spec); },
                            "another encoding");
}

TEST(MultiPartitionValidity, KeySetsMustHoldEveryPartitionsKeys) {
  const MultiFixture& f = multi();
  // Client keys: the extra partition's key missing, or of the wrong parameters.
  ClientKeySet ck = f.client;
  ck.extra_pbs_keys.clear();
  expect_invalid([&] { serialize_client_keys(ck); }, "0 client keys of partitions 1..");
  ck = f.client;
  ck.extra_pbs_keys[0] = f.client.pbs_key;
  expect_parameter_mismatch([&] { validate_client_keys(ck); }, "client key of partition 1");
  ck = f.client;
  ck.extra_pbs_keys.push_back(f.client.partition_key(1));
  EXPECT_THROW(validate_client_keys(ck), InvalidArgument);
  // Evaluation keys: missing, partial or misshapen keys of the partitions.
  EvaluationKeySet ek = f.evaluation;
  ek.extra_compressed.clear();
  expect_invalid([&] { validate_evaluation_keys(ek); }, "no server keys of partitions 1..");
  ek = f.evaluation;
  ek.cross_compressed.pop_back();
  expect_invalid([&] { validate_evaluation_keys(ek); }, "1 compressed cross keyswitching keys");
  ek = f.evaluation;
  ek.cross_compressed.clear();
  expect_invalid([&] { validate_evaluation_keys(ek); }, "no cross keyswitching keys");
  ek = f.evaluation;
  std::swap(ek.cross_compressed[0], ek.cross_compressed[1]);
  expect_parameter_mismatch([&] { validate_evaluation_keys(ek); },
                            "cross keyswitching key 0 (0 -> 1) has shape 2048 -> 775");
  ek = f.evaluation;
  ek.cross_compressed[1].bodies.pop_back();
  expect_invalid([&] { validate_evaluation_keys(ek); }, "compressed cross keyswitching key 1");
  ek = f.evaluation;
  ek.extra_compressed[0] = *f.evaluation.compressed;
  expect_parameter_mismatch([&] { validate_evaluation_keys(ek); }, "server key of partition 1");
  // A leveled key set holds none of them.
  EvaluationKeySet lev = leveled().evaluation;
  lev.cross_compressed = f.evaluation.cross_compressed;
  EXPECT_THROW(validate_evaluation_keys(lev), InvalidArgument);
}

// ---- Damaged and crafted bytes ----------------------------------------------------------------

TEST(MultiPartitionDamage, TruncationsAndCorruptionsAreRejected) {
  const MultiFixture& f = multi();
  const CircuitParameters p = f.spec.parameters;
  const RunArguments args = encrypt_inputs(f.client, f.spec, stack({two_partition_inputset()[0]}));
  struct Sample {
    std::string name;
    Bytes bytes;
    std::function<void(std::span<const std::uint8_t>)> load;
    std::size_t spaced;
  };
  const std::vector<Sample> samples = {
      {"specification", serialize_client_specification(f.spec),
       [](auto b) { deserialize_client_specification(b); }, 300},
      {"program", serialize_server_program(f.program),
       [](auto b) { deserialize_server_program(b); }, 300},
      {"client_keys", serialize_client_keys(f.client), [](auto b) { deserialize_client_keys(b); },
       300},
      {"run_arguments", serialize_run_arguments(args, p),
       [p](auto b) { deserialize_run_arguments(b, p); }, 300},
      {"evaluation_keys", serialize_evaluation_keys(f.evaluation),
       [](auto b) { deserialize_evaluation_keys(b); }, 4},
  };
  for (const Sample& s : samples) {
    SCOPED_TRACE(s.name);
    ASSERT_NO_THROW(s.load(s.bytes));
    const std::vector<std::size_t> at =
        s.spaced >= 300
            ? positions(s.bytes.size(), s.spaced)
            : std::vector<std::size_t>{
                  0, 23, 24, 100, s.bytes.size() / 2, s.bytes.size() - 33, s.bytes.size() - 1};
    for (std::size_t len : at) {
      const Bytes cut(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      EXPECT_THROW(s.load(cut), SerializationError) << len;
    }
    Bytes bytes = s.bytes;
    for (std::size_t pos : at) {
      bytes[pos] ^= 0x01;
      EXPECT_THROW(s.load(bytes), SerializationError) << pos;
      bytes[pos] = s.bytes[pos];
    }
  }
}

// Payloads changed behind a valid checksum (extreme u64 values and byte flips at every offset of
// the structured objects, at the head of the ciphertexts): a valid object or a
// SerializationError, never a crash or another exception.
TEST(MultiPartitionDamage, CraftedPayloadsNeverCrash) {
  const MultiFixture& f = multi();
  const CircuitParameters p = f.spec.parameters;
  const RunArguments args = encrypt_inputs(f.client, f.spec, stack({two_partition_inputset()[0]}));
  const std::vector<LoadSample> samples = {
      {"specification", serialize_client_specification(f.spec),
       [](auto b) { deserialize_client_specification(b); }},
      {"program", serialize_server_program(f.program),
       [](auto b) { deserialize_server_program(b); }},
      {"client_keys", serialize_client_keys(f.client), [](auto b) { deserialize_client_keys(b); }},
      {"run_arguments", serialize_run_arguments(args, p),
       [p](auto b) { deserialize_run_arguments(b, p); }},
  };
  const std::uint64_t extremes[] = {0, 1, 2, 1ull << 31, 1ull << 63, ~std::uint64_t{0}};
  for (const LoadSample& s : samples) {
    SCOPED_TRACE(s.name);
    CraftedLoader try_load(s);
    const Bytes& payload = try_load.payload();
    const std::size_t dense = payload.size() <= 16384 ? payload.size() : 128;
    for (std::size_t pos = 0; pos + 8 <= dense; ++pos) {
      for (std::uint64_t v : extremes) {
        Bytes crafted = payload;
        put_u64(crafted, pos, v);
        try_load(std::move(crafted));
      }
    }
    for (std::size_t pos = 0; pos < dense; ++pos) {
      for (int flip : {0x01, 0x80}) {
        Bytes crafted = payload;
        crafted[pos] = static_cast<std::uint8_t>(crafted[pos] ^ flip);
        try_load(std::move(crafted));
      }
    }
    try_load(payload);
    EXPECT_GE(try_load.loaded(), 1u);
  }
}

TEST(MultiPartitionDamage, CraftedParametersAreRejected) {
  const MultiFixture& f = multi();
  const CircuitParameters& p = f.spec.parameters;
  auto load = [](auto b) { deserialize_client_specification(b); };
  // The specification's payload after its parameters, behind crafted parameters.
  ByteWriter params;
  sdc::write_parameters(params, p);
  const Bytes payload = payload_of(serialize_client_specification(f.spec));
  const Bytes rest(payload.begin() + static_cast<std::ptrdiff_t>(params.size()), payload.end());
  auto crafted = [&](const std::function<void(ByteWriter&)>& write_params) {
    ByteWriter w;
    write_params(w);
    w.bytes(rest);
    return reseal(SerializedKind::ClientSpecification, p.fingerprint(), w.take());
  };
  const Bytes a = tfhe::serialize_parameters(p.pbs);
  const Bytes b = tfhe::serialize_parameters(p.partition(1));
  expect_serialization_error(load, crafted([&](ByteWriter& w) { w.u8(4); }),
                             "not 0 (leveled), 1 (PBS), 2 (multi-parameter PBS) or 3");
  // Tag 2 with no extra partition: single-parameter circuits have one encoding only (tag 1).
  expect_serialization_error(load, crafted([&](ByteWriter& w) {
                               w.u8(2);
                               sdc::write_blob(w, a);
                               w.u64(0);
                               w.u64(0);
                             }),
                             "partitions (allowed: 2 to 16)");
  expect_serialization_error(load, crafted([&](ByteWriter& w) {
                               w.u8(2);
                               sdc::write_blob(w, a);
                               w.u64(~std::uint64_t{0});
                             }),
                             "remain");
  // A cross keyswitch from a partition to itself.
  expect_serialization_error(load, crafted([&](ByteWriter& w) {
                               w.u8(2);
                               sdc::write_blob(w, a);
                               w.u64(1);
                               sdc::write_blob(w, b);
                               w.u64(1);
                               w.u32(1);
                               w.u32(1);
                               tfhe::serialization_detail::write_decomposition(w, p.pbs.ks);
                             }),
                             "stored parameters are invalid");
  // A valid crafted copy loads (the framing above is the real one).
  const ClientSpecification same = deserialize_client_specification(
      crafted([&](ByteWriter& w) { sdc::write_parameters(w, p); }));
  EXPECT_EQ(same.parameters, p);
}

TEST(MultiPartitionDamage, CraftedKeySetsAreRejected) {
  const MultiFixture& f = multi();
  const CircuitParameters& p = f.spec.parameters;
  const std::uint64_t fp = p.fingerprint();
  auto load_ck = [](auto b) { deserialize_client_keys(b); };
  auto load_ek = [](auto b) { deserialize_evaluation_keys(b); };
  const Bytes key0 = tfhe::serialize_client_key(f.client.pbs_key);
  const Bytes key1 = tfhe::serialize_client_key(f.client.partition_key(1));
  auto client_keys = [&](const std::vector<const Bytes*>& extra) {
    ByteWriter w;
    sdc::write_parameters(w, p);
    sdc::write_blob(w, key0);
    w.u64(extra.size());
    for (const Bytes* k : extra) sdc::write_blob(w, *k);
    return reseal(SerializedKind::CircuitClientKeys, fp, w.take());
  };
  EXPECT_NO_THROW(deserialize_client_keys(client_keys({&key1})));
  expect_serialization_error(load_ck, client_keys({}),
                             "holds 0 partition client keys but its parameters need 1");
  expect_serialization_error(load_ck, client_keys({&key1, &key1}), "holds 2 partition client keys");
  expect_serialization_error(load_ck, client_keys({&key0}),
                             "client key of partition 1 does not match");

  const Bytes server0 = tfhe::serialize_compressed_server_key(*f.evaluation.compressed);
  const Bytes server1 = tfhe::serialize_compressed_server_key(f.evaluation.extra_compressed[0]);
  const Bytes cross01 = tfhe::serialize_seeded_keyswitch_key(f.evaluation.cross_compressed[0]);
  const Bytes cross10 = tfhe::serialize_seeded_keyswitch_key(f.evaluation.cross_compressed[1]);
  auto evaluation_keys = [&](const std::vector<const Bytes*>& servers,
                             const std::vector<const Bytes*>& cross) {
    ByteWriter w;
    sdc::write_parameters(w, p);
    sdc::write_bool(w, true);
    sdc::write_blob(w, server0);
    w.u64(servers.size());
    for (const Bytes* k : servers) sdc::write_blob(w, *k);
    w.u64(cross.size());
    for (const Bytes* k : cross) sdc::write_blob(w, *k);
    return reseal(SerializedKind::CircuitEvaluationKeys, fp, w.take());
  };
  EXPECT_EQ(evaluation_keys({&server1}, {&cross01, &cross10}),
            serialize_evaluation_keys(f.evaluation));
  expect_serialization_error(load_ek, evaluation_keys({}, {&cross01, &cross10}),
                             "holds 0 partition server keys but its parameters need 1");
  expect_serialization_error(load_ek, evaluation_keys({&server0}, {&cross01, &cross10}),
                             "server key of partition 1 does not match");
  expect_serialization_error(load_ek, evaluation_keys({&server1}, {&cross01}),
                             "holds 1 cross keyswitching keys but its parameters need 2");
  expect_serialization_error(load_ek, evaluation_keys({&server1}, {&cross10, &cross01}),
                             "cross keyswitching key 0 (0 -> 1) has shape");
  expect_serialization_error(load_ek, evaluation_keys({&server1}, {&cross01, &server1}),
                             "expected a serialized SeededLweKeyswitchKey");
  // A cross keyswitching key stored with a parameter fingerprint (the canonical form has none).
  tfhe::PbsParameters shaped = p.partition(1);
  shaped.glwe_dimension = tfhe::GlweDimension(3);
  shaped.polynomial_size = tfhe::PolynomialSize(512);  // big key 1536 -> small key 857: key 0's
  Bytes labelled;
  {
    tfhe::ScopedInsecureParametersForTesting allow;  // only a label here
    labelled = tfhe::serialize_seeded_keyswitch_key(f.evaluation.cross_compressed[0], &shaped);
  }
  expect_serialization_error(load_ek, evaluation_keys({&server1}, {&labelled, &cross10}),
                             "required: 0");
}

// ---- Known answer ----------------------------------------------------------------------------

// Pins the multi-parameter layouts (parameters tag 2 with the partitions' PbsParameters records
// and the cross keyswitches, encodings with their partition), added to format version 2 without
// changing the single-parameter layouts (whose digests, in serialization_test.cpp and
// tests/tfhe, are unchanged). A fixed specification, no randomness; names and sources fixed so
// that editing a preset's description does not move the digest. A change here is a format change.
TEST(MultiPartitionSerialization, KnownAnswerDigest) {
  tfhe::PbsParameters a = tfhe::preset_by_name("tfhe_2bit");
  tfhe::PbsParameters b = tfhe::preset_by_name("tfhe_3bit");
  a.name = "kat_a";
  b.name = "kat_b";
  a.source = b.source = "known-answer test";
  ClientSpecification spec;
  spec.parameters.uses_pbs = true;
  spec.parameters.pbs = a;
  spec.parameters.extra_partitions = {b};
  spec.parameters.cross_keyswitches = {{0, 1, b.ks}, {1, 0, a.ks}};
  spec.inputs = {{"x", {1, 4}, true, {1, false, 0}},
                 {"u", {1, 4}, true, {2, true, 1}},
                 {"k", {1, 4}, false, {}}};
  spec.outputs = {{"w", {1, 4}, true, {1, false, 0}}, {"z", {1, 4}, true, {2, false, 1}}};
  spec.output_noise_std_lsb = {0.125, 0.25};
  const Bytes bytes = serialize_client_specification(spec);
  EXPECT_EQ(hex(std::span(bytes).first(8)), "54524d4c02006500");  // "TRML", v2, kind 101
  EXPECT_EQ(payload_of(bytes)[0], 2u);
  EXPECT_EQ(hex(std::span(bytes).last(tfhe::kSerializedChecksumBytes)),
            "f85991279d1f694376ae6d60e874b692de09b6d1dc6eeb8b936f21a622608433");
}

}  // namespace
}  // namespace torusml::circuit::testing
