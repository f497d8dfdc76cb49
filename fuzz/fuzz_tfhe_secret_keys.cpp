// libFuzzer target: parameter sets and secret keys of the TFHE layer.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deserialize_parameters,
// 1 deserialize_lwe_secret_key, 2 deserialize_glwe_secret_key, 3 deserialize_client_key; with
// bit 5 the optional expected parameters are fuzz_parameters(). After a load: re-serialization
// (canonical encoding), encryption and decryption with the loaded key (which must round trip:
// the noise is small), and for parameters (deep) key generation, encryption and decryption.
#include <cmath>
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/tfhe/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace tf = torusml::tfhe;

namespace {

tf::Seed seed(std::uint8_t v) {
  tf::Seed s{};
  s.fill(v);
  return s;
}

// |phase - plaintext| must stay far below the noise it was encrypted with times 64.
void expect_close(tf::Torus phase, tf::Torus plaintext, const char* what) {
  const auto error = static_cast<std::int64_t>(phase - plaintext);
  if (error > (std::int64_t{1} << 50) || error < -(std::int64_t{1} << 50))
    finding(std::string(what) + ": decrypt(encrypt(m)) with a loaded key is off by " +
            std::to_string(error) + " torus units (noise 2^-20)");
}

const tf::NoiseDistribution kSmallNoise = tf::NoiseDistribution::gaussian(std::exp2(-20.0));
constexpr tf::Torus kPlaintext = tf::Torus{3} << 61;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_tfhe_secret_keys");
  fuzz_client_key();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 4, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const tf::PbsParameters* expected = in.expected ? &fuzz_parameters() : nullptr;
    const auto header = read_header(bytes);
    // Components are re-serialized with the parameters only if their fingerprint was stored.
    const bool stored = header && header->fingerprint != 0;
    const tf::PbsParameters* params = stored ? expected : nullptr;
    const std::optional<std::uint64_t> outer =
        stored && params == nullptr ? std::optional(header->fingerprint) : std::nullopt;

    switch (in.loader) {
      case 0: {
        const tf::PbsParameters p = tf::deserialize_parameters(bytes);
        check_canonical<tf::PbsParameters>("PbsParameters", bytes, p, tf::serialize_parameters,
                                           tf::deserialize_parameters);
        attempt("describe", [&] {
          (void)tf::describe_serialized(bytes);
          (void)tf::read_serialized_header(bytes);
        });
        if (in.deep && p.lwe_dimension.value() + p.big_lwe_dimension().value() <= (1u << 14)) {
          attempt("key generation", [&] {
            const tf::ClientKey k = tf::generate_client_key(p, seed(7));
            tf::EncryptionGenerator gen(seed(8), seed(9));
            const tf::LweCiphertext ct = tf::encrypt(k, 1, gen);
            (void)tf::decrypt(k, ct);
          });
        }
        break;
      }
      case 1: {
        const tf::LweSecretKey key = tf::deserialize_lwe_secret_key(bytes, expected);
        check_canonical<tf::LweSecretKey>(
            "LweSecretKey", bytes, key,
            [&](const tf::LweSecretKey& k) { return tf::serialize_lwe_secret_key(k, params); },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_lwe_secret_key(b, expected);
            },
            true, outer);
        attempt("encrypt/decrypt", [&] {
          tf::EncryptionGenerator gen(seed(1), seed(2));
          const tf::LweCiphertext ct = tf::encrypt_lwe(key, kPlaintext, kSmallNoise, gen);
          expect_close(tf::decrypt_lwe(key, ct), kPlaintext, "LweSecretKey");
        });
        break;
      }
      case 2: {
        const tf::GlweSecretKey key = tf::deserialize_glwe_secret_key(bytes, expected);
        check_canonical<tf::GlweSecretKey>(
            "GlweSecretKey", bytes, key,
            [&](const tf::GlweSecretKey& k) { return tf::serialize_glwe_secret_key(k, params); },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_glwe_secret_key(b, expected);
            },
            true, outer);
        attempt("encrypt/decrypt", [&] {
          const std::size_t n = key.polynomial_size.value();
          std::vector<tf::Torus> message(n, kPlaintext);
          std::vector<tf::Torus> ct((key.glwe_dimension.value() + 1) * n);
          tf::EncryptionGenerator gen(seed(3), seed(4));
          tf::encrypt_glwe(key, message, kSmallNoise, gen, ct);
          const std::vector<tf::Torus> phase = tf::decrypt_glwe(key, ct);
          for (std::size_t i = 0; i < phase.size(); ++i)
            expect_close(phase[i], kPlaintext, "GlweSecretKey");
          tf::EncryptionGenerator gen2(seed(5), seed(6));
          const tf::LweCiphertext lwe =
              tf::encrypt_lwe(key.as_lwe_key(), kPlaintext, kSmallNoise, gen2);
          expect_close(tf::decrypt_lwe(key.as_lwe_key(), lwe), kPlaintext, "GlweSecretKey (flat)");
        });
        break;
      }
      default: {
        const tf::ClientKey key = tf::deserialize_client_key(bytes, expected);
        check_canonical<tf::ClientKey>("ClientKey", bytes, key, tf::serialize_client_key,
                                       [&](std::span<const std::uint8_t> b) {
                                         return tf::deserialize_client_key(b, expected);
                                       });
        attempt("encrypt/decrypt", [&] {
          tf::EncryptionGenerator gen(seed(1), seed(2));
          for (std::int64_t m = 0; m < 4; ++m) {
            const tf::LweCiphertext ct = tf::encrypt(key, m, gen);
            const std::uint64_t back = tf::decrypt(key, ct);
            // Only the fuzz parameters are known to decrypt fresh ciphertexts exactly.
            if (key.parameters.fingerprint() == fuzz_parameters().fingerprint() &&
                back != static_cast<std::uint64_t>(m) % (1u << key.parameters.message_bits))
              finding("ClientKey: decrypt(encrypt(m)) != m with a loaded key of fuzz_parameters");
          }
        });
        break;
      }
    }
  });
}
