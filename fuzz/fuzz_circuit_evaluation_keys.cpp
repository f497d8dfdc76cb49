// libFuzzer target: evaluation key sets of the circuit layer.
//
// Loader: deserialize_evaluation_keys; with bit 5 the optional expected parameters are the
// leveled fixture's (bit 7: the small PBS fixture's); bit 6 (deep) loads with expand = true.
// After a load: re-serialization (canonical encoding); with bit 6, for the parameters of a
// fixture, its sample is encrypted with the fixture's client keys, run with the loaded (expanded)
// keys and decrypted.
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace c = torusml::circuit;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_circuit_evaluation_keys");
  keys_for(leveled_fixture().program.parameters);
  keys_for(small_pbs_fixture().program.parameters);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 1, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const c::CircuitParameters* expected = !in.expected ? nullptr
                                           : in.alt     ? &small_pbs_fixture().program.parameters
                                                        : &leveled_fixture().program.parameters;
    const c::EvaluationKeySet keys = c::deserialize_evaluation_keys(bytes, expected, in.deep);
    check_canonical<c::EvaluationKeySet>(
        "EvaluationKeySet", bytes, keys, c::serialize_evaluation_keys,
        [&](std::span<const std::uint8_t> b) {
          return c::deserialize_evaluation_keys(b, expected, false);
        });
    if (!in.deep) return;
    if (keys.parameters.uses_pbs && !keys.server_key)
      finding("deserialize_evaluation_keys(expand = true) returned PBS keys without a server key");
    const c::KeySet* fixture_keys = keys_for(keys.parameters);
    if (fixture_keys == nullptr) return;
    const CircuitFixture& f = keys.parameters.uses_pbs ? small_pbs_fixture() : leveled_fixture();
    attempt("run", [&] {
      const c::RunArguments args = c::encrypt_inputs(fixture_keys->client, f.spec, f.batch);
      const auto outs = c::run(f.program, args, keys);
      (void)c::decrypt_outputs(fixture_keys->client, f.spec, outs);
    });
  });
}
