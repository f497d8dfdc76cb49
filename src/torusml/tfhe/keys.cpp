#include "torusml/tfhe/keys.h"

#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/validity.h"

namespace torusml::tfhe {

namespace {
enum SeedLabel : std::uint64_t {
  kSmallKey = 1,
  kBigKey = 2,
  kKskMask = 3,
  kKskNoise = 4,
  kBskMask = 5,
  kBskNoise = 6,
  kMsZerosMask = 7,
  kMsZerosNoise = 8,
  kMultiBitBskMask = 9,
  kMultiBitBskNoise = 10,
};
}  // namespace

ClientKey generate_client_key(const PbsParameters& params, const Seed& seed) {
  params.validate();
  Csprng small_rng(derive_seed(seed, kSmallKey));
  Csprng big_rng(derive_seed(seed, kBigKey));
  ClientKey key{params, generate_lwe_secret_key(params.lwe_dimension, small_rng),
                generate_glwe_secret_key(params.glwe_dimension, params.polynomial_size, big_rng)};
  return key;
}

CompressedServerKey generate_compressed_server_key(const ClientKey& client, const Seed& seed) {
  validate_client_key(client);
  const PbsParameters& p = client.parameters;
  CompressedServerKey out;
  out.parameters = p;
  out.keyswitch_key = generate_seeded_keyswitch_key(client.big_key.as_lwe_key(), client.small_key,
                                                    p.ks, p.lwe_noise, derive_seed(seed, kKskMask),
                                                    derive_seed(seed, kKskNoise));
  if (p.is_multi_bit()) {
    out.multi_bit_bootstrap_key = generate_seeded_multi_bit_bootstrap_key(
        client.small_key, client.big_key, p.grouping_factor, p.pbs, p.glwe_noise,
        derive_seed(seed, kMultiBitBskMask), derive_seed(seed, kMultiBitBskNoise));
  } else {
    out.bootstrap_key =
        generate_seeded_bootstrap_key(client.small_key, client.big_key, p.pbs, p.glwe_noise,
                                      derive_seed(seed, kBskMask), derive_seed(seed, kBskNoise));
  }
  if (uses_noise_reduction(p.modulus_switch)) {
    out.ms_noise_reduction_zeros = generate_modulus_switch_zeros(
        client.small_key, p, derive_seed(seed, kMsZerosMask), derive_seed(seed, kMsZerosNoise));
  }
  return out;
}

ServerKey decompress_server_key(const CompressedServerKey& compressed) {
  validate_compressed_server_key(compressed);
  ServerKey out;
  out.parameters = compressed.parameters;
  out.keyswitch_key = decompress_keyswitch_key(compressed.keyswitch_key);
  if (out.parameters.is_multi_bit()) {
    out.multi_bit_bootstrap_key = convert_multi_bit_bootstrap_key_to_fourier(
        decompress_multi_bit_bootstrap_key(*compressed.multi_bit_bootstrap_key));
  } else {
    out.bootstrap_key =
        convert_bootstrap_key_to_fourier(decompress_bootstrap_key(compressed.bootstrap_key));
  }
  if (uses_noise_reduction(out.parameters.modulus_switch)) {
    out.ms_noise_reduction_key = expand_noise_reduction_key(
        compressed.ms_noise_reduction_zeros, out.parameters.polynomial_size,
        out.parameters.ms_noise_reduction.max_rounds);
  }
  return out;
}

ServerKey generate_server_key(const ClientKey& client, const Seed& seed) {
  return decompress_server_key(generate_compressed_server_key(client, seed));
}

LweCiphertext encrypt(const ClientKey& key, std::int64_t message, EncryptionGenerator& gen) {
  const auto& p = key.parameters;
  return encrypt_lwe(key.big_key.as_lwe_key(), encode_message(message, p.message_bits),
                     p.glwe_noise, gen);
}

std::uint64_t decrypt(const ClientKey& key, LweView ct) {
  return decode_message(decrypt_lwe(key.big_key.as_lwe_key(), ct), key.parameters.message_bits);
}

std::int64_t decrypt_signed(const ClientKey& key, LweView ct) {
  return decode_signed_message(decrypt_lwe(key.big_key.as_lwe_key(), ct),
                               key.parameters.message_bits);
}

}  // namespace torusml::tfhe
