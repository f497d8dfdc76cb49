// libFuzzer target: client key sets of the circuit layer.
//
// Loader: deserialize_client_keys; with bit 5 the optional expected parameters are the leveled
// fixture's (bit 7: the small PBS fixture's). After a load: re-serialization (canonical encoding);
// for the parameters of a fixture, its sample is encrypted with the loaded keys and decrypted
// again (which must round trip), and with bit 6 (deep) run with the fixture's evaluation keys and
// the outputs decrypted with the loaded keys, and evaluation keys generated from the loaded keys
// (leveled ones always, PBS ones with bit 7 too).
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace c = torusml::circuit;

namespace {

const CircuitFixture* fixture_for(const c::CircuitParameters& p) {
  if (p.fingerprint() == leveled_fixture().program.parameters.fingerprint())
    return &leveled_fixture();
  if (p.fingerprint() == small_pbs_fixture().program.parameters.fingerprint())
    return &small_pbs_fixture();
  return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_circuit_client_keys");
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
    const c::ClientKeySet keys = c::deserialize_client_keys(bytes, expected);
    check_canonical<c::ClientKeySet>(
        "ClientKeySet", bytes, keys, c::serialize_client_keys,
        [&](std::span<const std::uint8_t> b) { return c::deserialize_client_keys(b, expected); });
    const CircuitFixture* f = fixture_for(keys.parameters);
    if (f == nullptr) return;
    c::RunArguments args;
    if (!attempt("encrypt", [&] { args = c::encrypt_inputs(keys, f->spec, f->batch); })) return;
    // Fresh encryptions decrypt to the sample with any binary key of these parameters.
    attempt("decrypt the inputs", [&] {
      const auto& key = keys.encryption_key();
      std::size_t e = 0;
      for (std::size_t i = 0; i < f->spec.inputs.size(); ++i) {
        if (!f->spec.inputs[i].encrypted) continue;
        const c::EncryptedTensor& t = args.encrypted.at(e++);
        const unsigned width = f->spec.inputs[i].encoding.width;
        for (std::size_t k = 0; k < t.ciphertexts.size(); ++k) {
          const std::int64_t v = c::decode_value(tfhe::decrypt_lwe(key, t.ciphertexts[k]), width);
          if (v != f->batch[i][k])
            finding("decrypt(encrypt(x)) != x with loaded client keys of the " + f->name +
                    " fixture");
        }
      }
    });
    if (!in.deep) return;
    attempt("run", [&] {
      const c::KeySet* fixture_keys = keys_for(keys.parameters);
      const auto outs = c::run(f->program, args, fixture_keys->evaluation);
      (void)c::decrypt_outputs(keys, f->spec, outs);
    });
    if (!keys.parameters.uses_pbs || in.alt) {
      attempt("evaluation key generation", [&] {
        tfhe::Seed s{};
        s.fill(9);
        const c::EvaluationKeySet ek = c::generate_evaluation_keys(keys, s);
        (void)c::serialize_evaluation_keys(ek);
      });
    }
  });
}
