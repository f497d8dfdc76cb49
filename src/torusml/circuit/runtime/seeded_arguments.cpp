#include "torusml/circuit/runtime/seeded_arguments.h"

#include <utility>

#include "torusml/circuit/runtime/interpreter.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/random.h"

namespace torusml::circuit {

SeededRunArguments encrypt_inputs_seeded(const ClientKeySet& keys, const ClientSpecification& spec,
                                         std::span<const Tensor> batched_inputs) {
  if (keys.parameters.fingerprint() != spec.parameters.fingerprint())
    throw ParameterMismatch(
        "encrypt_inputs_seeded: the keys were generated for other parameters than this "
        "circuit's; generate keys for this compiled circuit (its parameters change when it is "
        "recompiled)");
  (void)batch_size_of(batched_inputs, spec);  // count and batch checks
  SeededRunArguments args;
  tfhe::Csprng noise_rng(tfhe::random_seed());
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const auto& in = spec.inputs[i];
    const Tensor& t = batched_inputs[i];
    split_batch(t, in.shape, in.name);  // shape check
    if (!in.encrypted) {
      args.clear.push_back(t);
      continue;
    }
    require_encodable(in, t);
    std::vector<tfhe::Torus> plaintexts(t.size());
    for (std::size_t k = 0; k < t.size(); ++k)
      plaintexts[k] = encode_value(t[k], in.encoding.width);
    const tfhe::NoiseDistribution noise = spec.parameters.input_noise(in.encoding.partition);
    SeededEncryptedTensor et;
    et.shape = t.shape();
    if (spec.parameters.uses_pbs) {
      et.packed =
          tfhe::encrypt_lwe_list_packed_seeded(keys.input_encryption_key(in.encoding.partition),
                                               plaintexts, noise, tfhe::random_seed(), noise_rng);
      args.encrypted.push_back(std::move(et));
      continue;
    }
    const tfhe::LweSecretKey& key = keys.encryption_key(in.encoding.partition);
    // A fresh mask seed per tensor: two lists must never share one.
    et.ciphertexts =
        tfhe::encrypt_lwe_list_seeded(key, plaintexts, noise, tfhe::random_seed(), noise_rng);
    args.encrypted.push_back(std::move(et));
  }
  return args;
}

RunArguments decompress_run_arguments(const SeededRunArguments& arguments) {
  RunArguments out;
  out.clear = arguments.clear;
  out.encrypted.reserve(arguments.encrypted.size());
  for (const SeededEncryptedTensor& t : arguments.encrypted) {
    if (t.packed)
      out.encrypted.push_back({t.shape, {}, tfhe::decompress_packed_lwe_list(*t.packed)});
    else
      out.encrypted.push_back({t.shape, tfhe::decompress_lwe_list(t.ciphertexts), std::nullopt});
  }
  return out;
}

}  // namespace torusml::circuit
