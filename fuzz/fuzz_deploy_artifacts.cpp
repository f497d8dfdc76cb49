// libFuzzer target: the deploy layer's client artifacts and seeded run arguments.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deploy::deserialize_client_artifact (with
// bit 5: against the leveled fixture's parameters), then the client's clear steps on the loaded
// artifact (prepare_input on a row of zeros, dequantize_output and postprocess on zeros) and a
// re-serialization that must load again to the same bytes; 1 circuit::deserialize_run_arguments
// against the leveled fixture's parameters (bit 7: the small PBS fixture's), which accepts the
// seeded kind and regenerates its masks, then decryption with the fixture's keys and (leveled,
// or with bit 6) an encrypted run.
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/circuit/serialization/serialization.h"
#include "torusml/deploy/client_artifact_io.h"
#include "torusml/deploy/client_pipeline.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace c = torusml::circuit;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_deploy_artifacts");
  keys_for(leveled_fixture().program.parameters);
  keys_for(small_pbs_fixture().program.parameters);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 2, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    if (in.loader == 0) {
      const c::CircuitParameters& p = leveled_fixture().program.parameters;
      const deploy::ClientArtifact a =
          deploy::deserialize_client_artifact(bytes, in.expected ? &p : nullptr);
      attempt("reserialize", [&] {
        const auto once = deploy::serialize_client_artifact(a);
        const auto twice =
            deploy::serialize_client_artifact(deploy::deserialize_client_artifact(once));
        if (once != twice) finding("a client artifact does not re-serialize to the same bytes");
      });
      // The harness's own buffers follow the artifact's declared sizes (up to 2^48 elements
      // are valid): a client's come from its data, so only modest ones are exercised here.
      constexpr std::int64_t kMaxHarnessElements = std::int64_t{1} << 20;
      if (static_cast<std::int64_t>(a.input.n_features) <= kMaxHarnessElements)
        attempt("prepare_input",
                [&] { (void)deploy::prepare_input(a, ml::Matrix(1, a.input.n_features)); });
      attempt("dequantize", [&] {
        const c::Shape& s = a.specification.outputs.at(0).shape;
        c::Shape batched = {1};
        batched.insert(batched.end(), s.begin(), s.end());
        if (c::element_count(batched) > kMaxHarnessElements) return;
        const c::Tensor zeros(batched, std::vector<std::int64_t>(
                                           static_cast<std::size_t>(c::element_count(batched))));
        (void)deploy::postprocess(a, deploy::dequantize_output(a, zeros));
      });
      return;
    }
    const CircuitFixture& f = in.alt ? small_pbs_fixture() : leveled_fixture();
    const c::CircuitParameters& params = f.program.parameters;
    const c::KeySet& keys = *keys_for(params);
    const c::RunArguments args = c::deserialize_run_arguments(bytes, params);
    attempt("decrypt", [&] {
      // Inputs of circuits with small-key inputs are under the small key.
      const bool small = params.small_key_inputs;
      const tfhe::GlweSecretKey input_key =
          small ? keys.client.input_encryption_key() : tfhe::GlweSecretKey{};
      const auto& key = small ? input_key.as_lwe_key() : keys.client.encryption_key();
      for (const auto& t : args.encrypted)
        for (std::size_t k = 0; k < t.ciphertexts.size(); ++k)
          (void)c::decode_value(tfhe::decrypt_lwe(key, t.ciphertexts[k]), 8);
    });
    if (params.uses_pbs && !in.deep) return;
    attempt("run", [&] {
      const auto outs = c::run(f.program, args, keys.evaluation);
      (void)c::decrypt_outputs(keys.client, f.spec, outs);
    });
  });
}
