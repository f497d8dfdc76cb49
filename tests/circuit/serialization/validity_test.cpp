// The validity checks of the circuit layer (serialization/validity.h) and the regressions of
// issue 8: huge noise values in loaded programs and specifications, insecure parameters, nested
// records that disagree with their container, canonical encodings of every object kind.
#include "torusml/circuit/serialization/validity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "serialization_test_util.h"
#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/tfhe/security.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::circuit::testing {
namespace {

// Parameters of the leveled fixture with the key dimension cut to 8: well formed, insecure.
CircuitParameters insecure_leveled() {
  CircuitParameters p = leveled().circuit.parameters();
  p.leveled_dimension = tfhe::LweDimension(8);
  return p;
}

template <class Fn>
void expect_insecure(const Fn& fn, const char* what) {
  SCOPED_TRACE(what);
  try {
    fn();
    ADD_FAILURE() << "no InsecureParameters";
  } catch (const InsecureParameters& e) {
    EXPECT_NE(std::string(e.what()).find("128-bit security"), std::string::npos) << e.what();
  }
}

// Issue 8, defect 2: a client specification whose output noise is huge but finite.
TEST(CircuitValidity, HugeOutputNoiseIsRefused) {
  ClientSpecification spec = rich().circuit.client_specification();
  ASSERT_TRUE(spec.outputs[0].encrypted);
  spec.output_noise_std_lsb[0] = 1e300;
  EXPECT_THROW(validate_client_specification(spec), InvalidArgument);
  EXPECT_THROW(serialize_client_specification(spec), InvalidArgument);
  expect_serialization_error([](auto b) { deserialize_client_specification(b); }, craft_spec(spec),
                             "output_noise_std_lsb = 1e+300 is out of range");
  spec.output_noise_std_lsb[0] = std::nan("");
  expect_serialization_error([](auto b) { deserialize_client_specification(b); }, craft_spec(spec),
                             "output_noise_std_lsb");
}

// Issue 8, defects 1 and 2 beyond validation: the interpreter's arithmetic is safe for any finite
// noise (programs built in memory are not validated on every call); under UBSan this test fails
// on any float-to-integer overflow.
TEST(CircuitValidity, SimulationWithHugeNoiseIsDefined) {
  const Fixture& f = rich();
  ServerProgram sp = f.circuit.server_program();
  ClientSpecification spec = f.circuit.client_specification();
  for (auto& ins : sp.instructions)
    if (ins.kind == InstructionKind::Bootstrap) ins.bootstrap.noise_std_lsb = 1e300;
  for (std::size_t o = 0; o < spec.outputs.size(); ++o)
    if (spec.outputs[o].encrypted) spec.output_noise_std_lsb[o] = 1e300;
  const std::vector<Tensor> out = interpret(sp, spec, f.batch, /*simulate=*/true, 7);
  ASSERT_EQ(out.size(), spec.outputs.size());
  for (std::size_t o = 0; o < out.size(); ++o) {
    if (!spec.outputs[o].encrypted) continue;
    const unsigned w = spec.outputs[o].encoding.width;
    for (std::int64_t v : out[o].values()) {
      EXPECT_GE(v, -(std::int64_t{1} << w));
      EXPECT_LT(v, std::int64_t{1} << w);
    }
  }
}

// Issue 8, defect 3: every loader and key generation refuses parameters below 128-bit security.
TEST(CircuitValidity, EveryLoaderRefusesInsecureParameters) {
  const CircuitParameters bad = insecure_leveled();
  expect_insecure([&] { bad.validate(); }, "validate");
  expect_insecure([&] { generate_client_keys(bad, seed_of(1)); }, "generate_client_keys");

  ClientSpecification spec = leveled().circuit.client_specification();
  spec.parameters = bad;
  ServerProgram sp = leveled().circuit.server_program();
  sp.parameters = bad;
  expect_insecure([&] { serialize_client_specification(spec); }, "serialize spec");
  expect_insecure([&] { deserialize_client_specification(craft_spec(spec)); }, "load spec");
  expect_insecure([&] { deserialize_server_program(craft_program(sp)); }, "load program");

  // Keys and ciphertexts written while insecure parameters were allowed (as a stranger could).
  Bytes client_keys, evaluation_keys, tensor, tensors, arguments;
  {
    tfhe::ScopedInsecureParametersForTesting allow;
    const ClientKeySet ck = generate_client_keys(bad, seed_of(2));
    client_keys = serialize_client_keys(ck);
    evaluation_keys = serialize_evaluation_keys(generate_evaluation_keys(ck, seed_of(3)));
    ClientSpecification s = leveled().circuit.client_specification();
    s.parameters = bad;
    const RunArguments args = encrypt_inputs(ck, s, leveled().batch);
    tensor = serialize_encrypted_tensor(args.encrypted[0], bad);
    tensors = serialize_encrypted_tensors(args.encrypted, bad);
    arguments = serialize_run_arguments(args, bad);
  }
  expect_insecure([&] { deserialize_client_keys(client_keys); }, "client keys");
  expect_insecure([&] { deserialize_evaluation_keys(evaluation_keys); }, "evaluation keys");
  expect_insecure([&] { deserialize_encrypted_tensor(tensor, bad); }, "tensor");
  expect_insecure([&] { deserialize_encrypted_tensors(tensors, bad); }, "tensors");
  expect_insecure([&] { deserialize_run_arguments(arguments, bad); }, "run arguments");

  // The PBS path: a client key set whose TFHE parameters have a tiny small-key dimension.
  CircuitParameters pbs_bad = rich().circuit.parameters();
  pbs_bad.pbs.lwe_dimension = tfhe::LweDimension(32);  // a multiple of the packing size
  expect_insecure([&] { pbs_bad.validate(); }, "pbs validate");
  expect_insecure([&] { generate_client_keys(pbs_bad, seed_of(4)); }, "pbs keygen");
  Bytes pbs_keys;
  {
    tfhe::ScopedInsecureParametersForTesting allow;
    pbs_keys = serialize_client_keys(generate_client_keys(pbs_bad, seed_of(5)));
  }
  expect_insecure([&] { deserialize_client_keys(pbs_keys); }, "pbs client keys");
}

// Issue 8, defect 4: a leveled client key set whose embedded key carries a parameter fingerprint
// (the canonical form has none) is refused instead of loading and re-serializing differently.
TEST(CircuitValidity, LeveledKeySetWithForeignInnerFingerprintIsRefused) {
  const ClientKeySet& keys = leveled().client;
  const tfhe::PbsParameters& some = rich().circuit.parameters().pbs;
  // The same key bits under a header naming another parameter set.
  tfhe::PbsParameters shaped = some;
  shaped.lwe_dimension = keys.leveled_key.dimension();
  Bytes inner;
  {
    tfhe::ScopedInsecureParametersForTesting allow;  // the shaped set is only a label here
    inner = tfhe::serialize_lwe_secret_key(keys.leveled_key, &shaped);
  }
  ByteWriter w;
  sdc::write_parameters(w, keys.parameters);
  sdc::write_blob(w, inner);
  const Bytes crafted =
      reseal(SerializedKind::CircuitClientKeys, keys.parameters.fingerprint(), w.take());
  expect_serialization_error([](auto b) { deserialize_client_keys(b); }, crafted, "required: 0");
  // The canonical bytes load and re-serialize identically.
  const Bytes canonical = serialize_client_keys(keys);
  EXPECT_EQ(serialize_client_keys(deserialize_client_keys(canonical)), canonical);
}

TEST(CircuitValidity, NestedRecordsMustMatchTheirContainer) {
  ClientKeySet keys = rich().client;
  keys.pbs_key.parameters.max_two_norm += 1;  // not in the fingerprint: still the same set
  EXPECT_NO_THROW(validate_client_keys(keys));
  keys.pbs_key.parameters.pbs.level_count = tfhe::DecompositionLevelCount(2);
  EXPECT_THROW(validate_client_keys(keys), ParameterMismatch);
  EvaluationKeySet ev = leveled().evaluation;
  ev.compressed = rich().evaluation.compressed;
  EXPECT_THROW(validate_evaluation_keys(ev), InvalidArgument);
  EncryptedTensor t =
      encrypt_inputs(rich().client, rich().circuit.client_specification(), rich().batch)
          .encrypted[0];
  EXPECT_NO_THROW(validate_encrypted_tensor(t, rich().circuit.parameters()));
  t.shape[0] += 1;
  EXPECT_THROW(validate_encrypted_tensor(t, rich().circuit.parameters()), InvalidArgument);
  EXPECT_THROW(validate_encrypted_tensor(t, leveled().circuit.parameters()), ParameterMismatch);
}

// Loading then saving gives the same bytes, for every object kind of the circuit layer.
TEST(CircuitValidity, EveryObjectKindIsCanonical) {
  for (const Fixture* f : {&rich(), &leveled()}) {
    const CircuitParameters& p = f->circuit.parameters();
    SCOPED_TRACE(p.uses_pbs ? "pbs" : "leveled");
    const Bytes sp = serialize_server_program(f->circuit.server_program());
    EXPECT_EQ(serialize_server_program(deserialize_server_program(sp)), sp);
    const Bytes spec = serialize_client_specification(f->circuit.client_specification());
    EXPECT_EQ(serialize_client_specification(deserialize_client_specification(spec)), spec);
    const Bytes ck = serialize_client_keys(f->client);
    EXPECT_EQ(serialize_client_keys(deserialize_client_keys(ck)), ck);
    const Bytes ek = serialize_evaluation_keys(f->evaluation);
    EXPECT_EQ(serialize_evaluation_keys(deserialize_evaluation_keys(ek, nullptr, false)), ek);
    const RunArguments args =
        encrypt_inputs(f->client, f->circuit.client_specification(), f->batch);
    const Bytes t = serialize_encrypted_tensor(args.encrypted[0], p);
    EXPECT_EQ(serialize_encrypted_tensor(deserialize_encrypted_tensor(t, p), p), t);
    const Bytes ts = serialize_encrypted_tensors(args.encrypted, p);
    EXPECT_EQ(serialize_encrypted_tensors(deserialize_encrypted_tensors(ts, p), p), ts);
    const Bytes ra = serialize_run_arguments(args, p);
    EXPECT_EQ(serialize_run_arguments(deserialize_run_arguments(ra, p), p), ra);
  }
}

}  // namespace
}  // namespace torusml::circuit::testing
