// Tests of the circuit layer's serialization (circuit/serialization.h): round trips of every
// object, the client/server deployment end to end under real encryption, wrong kinds, parameter
// mismatches, serializer checks, and a known-answer digest that pins the format. Damaged and
// crafted bytes: serialization_damage_test.cpp.
#include "torusml/circuit/serialization/serialization.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "serialization_test_util.h"
#include "torusml/circuit/runtime/interpreter.h"

namespace torusml::circuit::testing {
namespace {

// ---- Round trips -----------------------------------------------------------------------------

TEST(CircuitSerialization, ServerProgramRoundTrip) {
  for (const Fixture* f : {&rich(), &leveled()}) {
    const ServerProgram& sp = f->circuit.server_program();
    const ServerProgram loaded = deserialize_server_program(serialize_server_program(sp));
    expect_same_server_program(sp, loaded);
    // The loaded program interprets like the original, in both modes.
    const ClientSpecification& spec = f->circuit.client_specification();
    EXPECT_EQ(interpret(loaded, spec, f->batch, false, 0),
              f->circuit.evaluate(f->batch, Mode::Clear));
    EXPECT_EQ(interpret(loaded, spec, f->batch, true, 9),
              f->circuit.evaluate(f->batch, Mode::Simulate, 9));
  }
  const ServerProgram& sp = rich().circuit.server_program();
  EXPECT_TRUE(sp.parameters.uses_pbs);
  // The rich program has every kind of instruction.
  std::set<InstructionKind> kinds;
  bool dynamic = false, static_map = false, per_element = false, clear_table = false;
  for (const Instruction& ins : sp.instructions) {
    kinds.insert(ins.kind);
    dynamic |= ins.kind == InstructionKind::Linear && !ins.map_is_static;
    static_map |= ins.map_is_static;
    per_element |= !ins.bootstrap.element_table.empty();
    clear_table |= !ins.clear_tables.empty();
  }
  EXPECT_EQ(kinds.size(), 5u);
  EXPECT_TRUE(dynamic && static_map && per_element && clear_table);
  // Table functions are not serialized: names only, and a function that says so.
  const ServerProgram loaded = deserialize_server_program(serialize_server_program(sp));
  for (const Node& n : loaded.program.nodes) {
    if (const auto* attr = std::get_if<TableAttr>(&n.attributes)) {
      ASSERT_FALSE(attr->tables.empty());
      EXPECT_FALSE(attr->tables[0].name.empty());
      try {
        attr->tables[0].fn(1);
        ADD_FAILURE() << "a loaded table function returned";
      } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()), kTableFunctionsNotSerialized);
      }
    }
  }
}

TEST(CircuitSerialization, ClientSpecificationRoundTrip) {
  for (const Fixture* f : {&rich(), &leveled()}) {
    const ClientSpecification& spec = f->circuit.client_specification();
    const Bytes bytes = serialize_client_specification(spec);
    const ClientSpecification loaded = deserialize_client_specification(bytes, &spec.parameters);
    EXPECT_EQ(loaded.parameters, spec.parameters);
    expect_same_arguments(loaded.inputs, spec.inputs);
    expect_same_arguments(loaded.outputs, spec.outputs);
    EXPECT_EQ(loaded.output_noise_std_lsb, spec.output_noise_std_lsb);
    EXPECT_EQ(serialize_client_specification(loaded), bytes);
    EXPECT_NO_THROW(check_client_specification(f->circuit.server_program(), loaded));
  }
}

TEST(CircuitSerialization, KeySetsRoundTrip) {
  for (const Fixture* f : {&rich(), &leveled()}) {
    const Bytes ck = serialize_client_keys(f->client);
    const ClientKeySet client = deserialize_client_keys(ck, &f->circuit.parameters());
    EXPECT_EQ(client.parameters, f->client.parameters);
    EXPECT_EQ(client.encryption_key().bits, f->client.encryption_key().bits);
    EXPECT_EQ(serialize_client_keys(client), ck);

    const Bytes ek = serialize_evaluation_keys(f->evaluation);
    const EvaluationKeySet evaluation = deserialize_evaluation_keys(ek, &f->circuit.parameters());
    EXPECT_EQ(evaluation.parameters, f->evaluation.parameters);
    EXPECT_EQ(evaluation.compressed.has_value(), f->circuit.parameters().uses_pbs);
    EXPECT_FALSE(evaluation.server_key.has_value());
    EXPECT_EQ(serialize_evaluation_keys(evaluation), ek);
    if (f->circuit.parameters().uses_pbs) {
      const EvaluationKeySet expanded = deserialize_evaluation_keys(ek, nullptr, /*expand=*/true);
      EXPECT_TRUE(expanded.server_key.has_value());
      EXPECT_TRUE(expanded.compressed.has_value());
      EXPECT_EQ(serialize_evaluation_keys(expanded), ek);
    }
  }
}

TEST(CircuitSerialization, EncryptedTensorsAndArgumentsRoundTrip) {
  for (const Fixture* f : {&rich(), &leveled()}) {
    const CircuitParameters& p = f->circuit.parameters();
    const RunArguments args =
        encrypt_inputs(f->client, f->circuit.client_specification(), f->batch);
    ASSERT_FALSE(args.encrypted.empty());
    ASSERT_FALSE(args.clear.empty());
    const EncryptedTensor t =
        deserialize_encrypted_tensor(serialize_encrypted_tensor(args.encrypted[0], p), p);
    EXPECT_EQ(t.shape, args.encrypted[0].shape);
    EXPECT_EQ(t.ciphertexts, lwe_form(args.encrypted[0]));
    // PBS circuits' inputs are packed, leveled ones' are not.
    EXPECT_EQ(args.encrypted[0].packed.has_value(), p.uses_pbs);
    const RunArguments loaded = deserialize_run_arguments(serialize_run_arguments(args, p), p);
    expect_same_tensors(loaded.encrypted, args.encrypted);
    EXPECT_EQ(loaded.clear, args.clear);
    const std::vector<EncryptedTensor> list = {args.encrypted[0], args.encrypted[0]};
    expect_same_tensors(deserialize_encrypted_tensors(serialize_encrypted_tensors(list, p), p),
                        list);
    EXPECT_TRUE(deserialize_encrypted_tensors(serialize_encrypted_tensors({}, p), p).empty());
  }
}

TEST(CircuitSerialization, SaveAndLoadFiles) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("torusml_circuit_serialization_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string server = (dir / "model.server").string(),
                    client = (dir / "model.client").string();
  const CompiledCircuit& c = rich().circuit;
  save_circuit(c, server, client);
  const SerializedCircuit parts = serialize_circuit(c);
  EXPECT_EQ(read_file_bytes(server), parts.server_program);
  EXPECT_EQ(read_file_bytes(client), parts.client_specification);
  const ServerProgram sp = load_server_program(server, &c.parameters());
  const ClientSpecification spec = load_client_specification(client, &c.parameters());
  expect_same_server_program(sp, c.server_program());
  EXPECT_NO_THROW(check_client_specification(sp, spec));
  EXPECT_THROW(load_server_program((dir / "missing").string()), Error);
  std::filesystem::remove_all(dir);
}

// ---- End to end --------------------------------------------------------------------------

// The deployment split: only bytes cross between the compiler, the client and the server.
TEST(CircuitSerialization, EndToEndThroughBytes) {
  for (const Fixture* f : {&leveled(), &rich()}) {
    const CompiledCircuit& c = f->circuit;
    const SerializedCircuit parts = serialize_circuit(c);
    const Bytes ck_bytes = serialize_client_keys(f->client);
    const Bytes ek_bytes = serialize_evaluation_keys(f->evaluation);

    // Client: specification and keys from bytes; encrypts.
    const ClientSpecification spec = deserialize_client_specification(parts.client_specification);
    const ClientKeySet ck = deserialize_client_keys(ck_bytes, &spec.parameters);
    const Bytes arg_bytes =
        serialize_run_arguments(encrypt_inputs(ck, spec, f->batch), spec.parameters);

    // Server: program, evaluation keys and arguments from bytes; runs.
    const ServerProgram sp = deserialize_server_program(parts.server_program);
    check_client_specification(sp, spec);
    const EvaluationKeySet ek = deserialize_evaluation_keys(ek_bytes, &sp.parameters, true);
    const RunArguments args = deserialize_run_arguments(arg_bytes, sp.parameters);
    const Bytes out_bytes = serialize_encrypted_tensors(run(sp, args, ek), sp.parameters);

    // Client: decrypts.
    const std::vector<EncryptedTensor> outputs =
        deserialize_encrypted_tensors(out_bytes, spec.parameters);
    EXPECT_EQ(decrypt_outputs(ck, spec, outputs), c.evaluate(f->batch, Mode::Clear));
  }
}

// ---- Kinds and parameters ----------------------------------------------------------------

TEST(CircuitSerialization, WrongKindSaysWhatWasFound) {
  const Fixture& f = leveled();
  const Bytes spec = serialize_client_specification(f.circuit.client_specification());
  expect_serialization_error([](auto b) { deserialize_server_program(b); }, spec,
                             "found a ClientSpecification: load it with "
                             "circuit::deserialize_client_specification()");
  const Bytes keys = serialize_client_keys(f.client);
  expect_serialization_error([](auto b) { tfhe::deserialize_client_key(b); }, keys,
                             "found a CircuitClientKeys");
  expect_serialization_error([](auto b) { deserialize_evaluation_keys(b); }, keys,
                             "expected a serialized CircuitEvaluationKeys");
  const CircuitParameters p = f.circuit.parameters();
  const RunArguments args = encrypt_inputs(f.client, f.circuit.client_specification(), f.batch);
  expect_serialization_error([p](auto b) { deserialize_encrypted_tensors(b, p); },
                             serialize_run_arguments(args, p), "found a RunArguments");
  EXPECT_EQ(tfhe::read_serialized_header(spec).kind, SerializedKind::ClientSpecification);
  EXPECT_NE(tfhe::describe_serialized(spec).find("ClientSpecification"), std::string::npos);
  EXPECT_NE(tfhe::describe_serialized(spec).find("checksum ok"), std::string::npos);
}

TEST(CircuitSerialization, MismatchedParametersThrowParameterMismatch) {
  const Fixture& l = leveled();
  const Fixture& r = rich();
  const CircuitParameters lp = l.circuit.parameters(), rp = r.circuit.parameters();
  ASSERT_NE(lp.fingerprint(), rp.fingerprint());
  // A second leveled circuit with other parameters.
  const auto set = leveled_inputset();
  const CompiledCircuit wide = compile(leveled_program(2000), set);
  const CircuitParameters wp = wide.parameters();
  ASSERT_NE(wp.fingerprint(), lp.fingerprint());

  // Keys of another circuit.
  expect_parameter_mismatch([&] { deserialize_client_keys(serialize_client_keys(l.client), &rp); },
                            "generate keys");
  expect_parameter_mismatch([&] { deserialize_client_keys(serialize_client_keys(l.client), &wp); },
                            "CircuitClientKeys belongs to");
  expect_parameter_mismatch(
      [&] { deserialize_evaluation_keys(serialize_evaluation_keys(r.evaluation), &lp, true); },
      "CircuitEvaluationKeys");
  // Ciphertexts of another circuit.
  const RunArguments args = encrypt_inputs(l.client, l.circuit.client_specification(), l.batch);
  expect_parameter_mismatch(
      [&] { deserialize_encrypted_tensor(serialize_encrypted_tensor(args.encrypted[0], lp), wp); },
      "encrypted for");
  expect_parameter_mismatch(
      [&] { deserialize_run_arguments(serialize_run_arguments(args, lp), rp); }, "RunArguments");
  expect_parameter_mismatch(
      [&] { deserialize_encrypted_tensors(serialize_encrypted_tensors(args.encrypted, lp), wp); },
      "EncryptedTensorList");
  // Programs and specifications of another circuit.
  expect_parameter_mismatch(
      [&] {
        deserialize_server_program(serialize_server_program(l.circuit.server_program()), &wp);
      },
      "ServerProgram");
  expect_parameter_mismatch(
      [&] {
        deserialize_client_specification(
            serialize_client_specification(r.circuit.client_specification()), &lp);
      },
      "ClientSpecification");
  expect_parameter_mismatch(
      [&] { check_client_specification(wide.server_program(), l.circuit.client_specification()); },
      "save_circuit()");
  // Same parameters, other program: the specification does not describe it.
  const CompiledCircuit other = compile(leveled_program(6), set);
  ClientSpecification renamed = other.client_specification();
  renamed.inputs[0].name = "y";
  expect_parameter_mismatch([&] { check_client_specification(other.server_program(), renamed); },
                            "another name");
  // Writing with the wrong parameters.
  expect_parameter_mismatch([&] { serialize_encrypted_tensor(args.encrypted[0], rp); },
                            "cannot serialize");
}

TEST(CircuitSerialization, SerializersRejectInvalidObjects) {
  const Fixture& r = rich();
  EvaluationKeySet expanded_only = r.evaluation;
  expanded_only.compressed.reset();
  EXPECT_THROW(serialize_evaluation_keys(expanded_only), InvalidArgument);
  ClientKeySet wrong = leveled().client;
  wrong.leveled_key.bits.pop_back();
  EXPECT_THROW(serialize_client_keys(wrong), InvalidArgument);
  EncryptedTensor t{
      {3, 1}, tfhe::LweCiphertextList(r.circuit.parameters().encryption_dimension(), 2), {}};
  EXPECT_THROW(serialize_encrypted_tensor(t, r.circuit.parameters()), InvalidArgument);
  ClientSpecification spec = r.circuit.client_specification();
  spec.output_noise_std_lsb.pop_back();
  EXPECT_THROW(serialize_client_specification(spec), InvalidArgument);
  spec = r.circuit.client_specification();
  spec.inputs[1].name = spec.inputs[0].name;
  EXPECT_THROW(serialize_client_specification(spec), InvalidArgument);
  ServerProgram sp = r.circuit.server_program();
  sp.program.nodes[0].label = std::string(5000, 'a');
  EXPECT_THROW(serialize_server_program(sp), InvalidArgument);
}

// An exact rounding by digits (kind ExactRound, added to format version 2 without changing the
// other instructions' layout) survives the round trip and interprets like the original.
TEST(CircuitSerialization, ExactRoundingByDigitsRoundTrip) {
  const CompiledCircuit& c = wide_rounding();
  const ServerProgram& sp = c.server_program();
  std::size_t digits = 0;
  for (const Instruction& ins : sp.instructions)
    if (ins.kind == InstructionKind::ExactRound) {
      ++digits;
      EXPECT_EQ(ins.rounding.input_width, 12u);
      EXPECT_EQ(ins.rounding.steps.size(), 3u);  // the sign, one chunk of 6 bits
    }
  ASSERT_EQ(digits, 1u) << c.describe();
  const ServerProgram loaded = deserialize_server_program(serialize_server_program(sp));
  expect_same_server_program(sp, loaded);
  const auto set = wide_rounding_inputset();
  const auto batch = stack(set);
  EXPECT_EQ(interpret(loaded, c.client_specification(), batch, false, 0),
            c.evaluate(batch, Mode::Clear));
  EXPECT_EQ(interpret(loaded, c.client_specification(), batch, true, 5),
            c.evaluate(batch, Mode::Simulate, 5));
  EXPECT_EQ(c.evaluate(batch, Mode::Simulate, 5), c.evaluate(batch, Mode::Clear));
}

// ---- Known answer ----------------------------------------------------------------------------

// Pins the format: a fixed leveled program compiled from a fixed input set, with fixed parameters
// (so that the digest does not depend on the optimizer's floating-point search), serializes to
// these bytes (the digest is the object's BLAKE2b checksum). A change here means that the payload
// layout changed (or the compiler's lowering of this program): a format change needs a new format
// version (tfhe::kSerializationFormatVersion) and an updated digest.
TEST(CircuitSerialization, KnownAnswerDigest) {
  const CompiledCircuit c = compile(leveled_program(6), leveled_inputset());
  ServerProgram sp = c.server_program();
  ASSERT_FALSE(sp.parameters.uses_pbs);
  sp.parameters.leveled_dimension = tfhe::LweDimension(1024);
  sp.parameters.leveled_noise = tfhe::NoiseDistribution::tuniform(42);  // 128-bit secure
  const Bytes bytes = serialize_server_program(sp);
  EXPECT_EQ(hex(std::span(bytes).first(8)), "54524d4c02006400");  // "TRML", v2, kind 100
  EXPECT_EQ(hex(std::span(bytes).last(tfhe::kSerializedChecksumBytes)),
            "b82c0efc689c253d87f3e3ac6fb44d2cc1a6e1ebbf0d52595c6dd47f62b5cdb5");
}

}  // namespace
}  // namespace torusml::circuit::testing
