// libFuzzer target: server programs and client specifications of the circuit layer.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deserialize_server_program,
// 1 deserialize_client_specification; with bit 5 the optional expected parameters are the
// leveled fixture's (bit 7: the small PBS fixture's). After a load: re-serialization (canonical
// encoding), then runs on one sample (programs of at most kMaxRunElements elements):
//  * a server program: with the client specification derived from it (checked with
//    check_client_specification), interpret() in clear and simulate mode, and with bit 6 (deep)
//    for the parameters whose keys the fixtures hold, an encrypted run (encrypt_inputs, run,
//    decrypt_outputs; at most kMaxEncryptedPbs bootstraps) whose outputs are serialized again;
//  * a client specification: for every fixture program it describes (check_client_specification),
//    interpret() in clear and simulate mode with it, and with bit 6 an encrypted run.
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/circuit/serialization/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace c = torusml::circuit;

namespace {

void run_modes(const c::ServerProgram& program, const c::ClientSpecification& spec, bool deep) {
  if (total_elements(program.program) > kMaxRunElements) return;
  const auto batch = batch_for(spec, kMaxRunElements);
  if (!batch) return;
  attempt("interpret (clear)", [&] { (void)c::interpret(program, spec, *batch, false, 0); });
  attempt("interpret (simulate)", [&] { (void)c::interpret(program, spec, *batch, true, 1); });
  if (!deep || bootstrapped_elements(program) > kMaxEncryptedPbs) return;
  const c::KeySet* keys = keys_for(program.parameters);
  if (keys == nullptr) return;
  attempt("encrypted run", [&] {
    const c::RunArguments args = c::encrypt_inputs(keys->client, spec, *batch);
    const std::vector<c::EncryptedTensor> outs = c::run(program, args, keys->evaluation);
    (void)c::decrypt_outputs(keys->client, spec, outs);
    const auto bytes = c::serialize_encrypted_tensors(outs, program.parameters);
    (void)c::deserialize_encrypted_tensors(bytes, program.parameters);
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_circuit_programs");
  keys_for(leveled_fixture().program.parameters);
  keys_for(small_pbs_fixture().program.parameters);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 2, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const c::CircuitParameters* expected = !in.expected ? nullptr
                                           : in.alt     ? &small_pbs_fixture().program.parameters
                                                        : &leveled_fixture().program.parameters;
    if (in.loader == 0) {
      const c::ServerProgram program = c::deserialize_server_program(bytes, expected);
      check_canonical<c::ServerProgram>("ServerProgram", bytes, program,
                                        c::serialize_server_program,
                                        [&](std::span<const std::uint8_t> b) {
                                          return c::deserialize_server_program(b, expected);
                                        });
      c::ClientSpecification spec;
      if (!attempt("derive the client specification", [&] {
            spec = specification_of(program);
            c::check_client_specification(program, spec);
          }))
        return;
      run_modes(program, spec, in.deep);
    } else {
      const c::ClientSpecification spec = c::deserialize_client_specification(bytes, expected);
      check_canonical<c::ClientSpecification>(
          "ClientSpecification", bytes, spec, c::serialize_client_specification,
          [&](std::span<const std::uint8_t> b) {
            return c::deserialize_client_specification(b, expected);
          });
      for (const CircuitFixture& f : circuit_fixtures()) {
        if (f.program.parameters.fingerprint() != spec.parameters.fingerprint()) continue;
        if (!attempt("check_client_specification",
                     [&] { c::check_client_specification(f.program, spec); }))
          continue;
        run_modes(f.program, spec, in.deep);
      }
    }
  });
}
