// libFuzzer target: encrypted tensors, tensor lists and run arguments of the circuit layer.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deserialize_encrypted_tensor,
// 1 deserialize_encrypted_tensors, 2 deserialize_run_arguments (any kind: full, seeded, packed;
// the seeded ones re-serialized as sent), all against the leveled
// fixture's parameters (bit 7: the small PBS fixture's). After a load: re-serialization
// (canonical encoding), decryption of every ciphertext with the fixture's client keys (and of a
// list with decrypt_outputs against the fixture's specification); run arguments are run with the
// fixture's program and evaluation keys and the outputs decrypted (PBS fixture: with bit 6, deep).
#include <cstdint>
#include <variant>

#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace c = torusml::circuit;

namespace {

void decrypt_all(const c::KeySet& keys, const c::EncryptedTensor& t) {
  attempt("decrypt", [&] {
    const tfhe::LweCiphertextList unpacked =
        t.packed ? tfhe::unpack_lwe_list(*t.packed) : tfhe::LweCiphertextList();
    const tfhe::LweCiphertextList& list = t.packed ? unpacked : t.ciphertexts;
    // Inputs of circuits with small-key inputs are under the small key.
    const c::CircuitParameters& p = keys.client.parameters;
    const bool small = p.small_key_inputs && list.dimension() == p.input_dimension();
    const tfhe::GlweSecretKey input_key =
        small ? keys.client.input_encryption_key() : tfhe::GlweSecretKey{};
    const auto& key = small ? input_key.as_lwe_key() : keys.client.encryption_key();
    for (std::size_t k = 0; k < list.size(); ++k)
      (void)c::decode_value(tfhe::decrypt_lwe(key, list[k]), 8);
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_circuit_ciphertexts");
  keys_for(leveled_fixture().program.parameters);
  keys_for(small_pbs_fixture().program.parameters);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 3, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const CircuitFixture& f = in.alt ? small_pbs_fixture() : leveled_fixture();
    const c::CircuitParameters& params = f.program.parameters;
    const c::KeySet& keys = *keys_for(params);
    switch (in.loader) {
      case 0: {
        const c::EncryptedTensor t = c::deserialize_encrypted_tensor(bytes, params);
        check_canonical<c::EncryptedTensor>(
            "EncryptedTensor", bytes, t,
            [&](const c::EncryptedTensor& x) { return c::serialize_encrypted_tensor(x, params); },
            [&](std::span<const std::uint8_t> b) {
              return c::deserialize_encrypted_tensor(b, params);
            });
        decrypt_all(keys, t);
        break;
      }
      case 1: {
        const std::vector<c::EncryptedTensor> ts = c::deserialize_encrypted_tensors(bytes, params);
        check_canonical<std::vector<c::EncryptedTensor>>(
            "EncryptedTensorList", bytes, ts,
            [&](const std::vector<c::EncryptedTensor>& x) {
              return c::serialize_encrypted_tensors(x, params);
            },
            [&](std::span<const std::uint8_t> b) {
              return c::deserialize_encrypted_tensors(b, params);
            });
        for (const auto& t : ts) decrypt_all(keys, t);
        attempt("decrypt_outputs", [&] { (void)c::decrypt_outputs(keys.client, f.spec, ts); });
        break;
      }
      default: {
        // Seeded uploads (SeededRunArguments, PackedRunArguments) re-serialize as sent; their
        // masks are then regenerated as the server does.
        const auto sent = c::deserialize_run_arguments_as_sent(bytes, params);
        if (const auto* seeded = std::get_if<c::SeededRunArguments>(&sent)) {
          check_canonical<c::SeededRunArguments>(
              "SeededRunArguments", bytes, *seeded,
              [&](const c::SeededRunArguments& x) {
                return c::serialize_seeded_run_arguments(x, params);
              },
              [&](std::span<const std::uint8_t> b) {
                return std::get<c::SeededRunArguments>(
                    c::deserialize_run_arguments_as_sent(b, params));
              });
        }
        const c::RunArguments args = c::deserialize_run_arguments(bytes, params);
        if (std::holds_alternative<c::RunArguments>(sent))
          check_canonical<c::RunArguments>(
              "RunArguments", bytes, args,
              [&](const c::RunArguments& x) { return c::serialize_run_arguments(x, params); },
              [&](std::span<const std::uint8_t> b) {
                return c::deserialize_run_arguments(b, params);
              });
        for (const auto& t : args.encrypted) decrypt_all(keys, t);
        if (params.uses_pbs && !in.deep) break;
        attempt("run", [&] {
          const auto outs = c::run(f.program, args, keys.evaluation);
          (void)c::decrypt_outputs(keys.client, f.spec, outs);
        });
        break;
      }
    }
  });
}
