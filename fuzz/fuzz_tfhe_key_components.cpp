// libFuzzer target: keyswitching and bootstrapping keys of the TFHE layer, full and seeded.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deserialize_keyswitch_key,
// 1 deserialize_seeded_keyswitch_key, 2 deserialize_bootstrap_key,
// 3 deserialize_seeded_bootstrap_key; with bit 5 the optional expected parameters are
// fuzz_parameters(). After a load: re-serialization (canonical encoding), expansion of seeded keys
// (and their re-serialization as full keys), the Fourier form of bootstrapping keys, a keyswitch
// of a trivial ciphertext (and of a real one under the fixture key when the shape is the fixture
// parameters'), and with bit 6 (deep) a bootstrap of a trivial ciphertext (bit 7: standard
// modulus switch instead of the centered one).
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace tf = torusml::tfhe;

namespace {

constexpr tf::Torus kPlaintext = tf::Torus{1} << 61;

void use_keyswitch_key(const tf::LweKeyswitchKey& key) {
  attempt("keyswitch (trivial)", [&] {
    const tf::LweCiphertext in = tf::trivial_lwe(key.shape.input_lwe_dimension, kPlaintext);
    tf::LweCiphertext out(key.shape.output_lwe_dimension);
    tf::keyswitch(key, in, out);
  });
  const tf::PbsParameters& p = fuzz_parameters();
  if (key.shape.input_lwe_dimension != p.big_lwe_dimension() ||
      key.shape.output_lwe_dimension != p.lwe_dimension)
    return;
  attempt("keyswitch (encrypted)", [&] {
    tf::Seed mask{}, noise{};
    mask.fill(1);
    noise.fill(2);
    tf::EncryptionGenerator gen(mask, noise);
    const tf::LweCiphertext in = tf::encrypt(fuzz_client_key(), 1, gen);
    tf::LweCiphertext out(key.shape.output_lwe_dimension);
    tf::keyswitch(key, in, out);
    (void)tf::decrypt_lwe(fuzz_client_key().small_key, out);
  });
}

void use_bootstrap_key(const tf::LweBootstrapKey& key, bool deep, bool standard) {
  tf::FourierBootstrapKey fourier;
  if (!attempt("to Fourier", [&] { fourier = tf::convert_bootstrap_key_to_fourier(key); })) return;
  const std::size_t n = key.shape.ggsw.polynomial_size.value();
  if (!deep || n < 4) return;
  attempt("bootstrap (trivial)", [&] {
    const std::vector<tf::Torus> outputs = {0, tf::Torus{1} << 62};
    const tf::LookupTable lut = tf::make_lookup_table(key.shape.ggsw.polynomial_size, 1, outputs);
    const tf::LweCiphertext in = tf::trivial_lwe(key.shape.input_lwe_dimension, kPlaintext);
    tf::LweCiphertext out(tf::LweDimension(key.shape.ggsw.glwe_dimension.value() * n));
    tf::bootstrap(fourier,
                  standard ? tf::ModulusSwitchKind::Standard : tf::ModulusSwitchKind::CenteredMean,
                  in, lut, out);
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_tfhe_key_components");
  fuzz_client_key();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 4, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const tf::PbsParameters* expected = in.expected ? &fuzz_parameters() : nullptr;
    const auto header = read_header(bytes);
    const bool stored = header && header->fingerprint != 0;
    const tf::PbsParameters* params = stored ? expected : nullptr;
    const std::optional<std::uint64_t> outer =
        stored && params == nullptr ? std::optional(header->fingerprint) : std::nullopt;

    switch (in.loader) {
      case 0: {
        const tf::LweKeyswitchKey key = tf::deserialize_keyswitch_key(bytes, expected);
        check_canonical<tf::LweKeyswitchKey>(
            "LweKeyswitchKey", bytes, key,
            [&](const tf::LweKeyswitchKey& k) { return tf::serialize_keyswitch_key(k, params); },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_keyswitch_key(b, expected);
            },
            true, outer);
        use_keyswitch_key(key);
        break;
      }
      case 1: {
        const tf::SeededLweKeyswitchKey key = tf::deserialize_seeded_keyswitch_key(bytes, expected);
        check_canonical<tf::SeededLweKeyswitchKey>(
            "SeededLweKeyswitchKey", bytes, key,
            [&](const tf::SeededLweKeyswitchKey& k) {
              return tf::serialize_seeded_keyswitch_key(k, params);
            },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_seeded_keyswitch_key(b, expected);
            },
            true, outer);
        // Expanded, a seeded key grows (n + 1)-fold: valid keys of a few KB can expand to GBs
        // (servers bound expansions with tfhe::kMaxExpandedServerKeyBytes). Here the key and its
        // serialization must fit the fuzzer's 4 GB: only keys up to 1 GB expanded are expanded.
        const std::uint64_t expanded = static_cast<std::uint64_t>(key.shape.ciphertexts()) *
                                       (key.shape.output_lwe_dimension.value() + 1) *
                                       sizeof(tf::KeyswitchTorus);
        if (expanded > (std::uint64_t{1} << 30)) break;
        tf::LweKeyswitchKey full;
        if (!attempt("decompress", [&] { full = tf::decompress_keyswitch_key(key); })) break;
        try {
          const tf::LweKeyswitchKey again =
              tf::deserialize_keyswitch_key(tf::serialize_keyswitch_key(full, params), expected);
          if (!(again == full)) finding("an expanded keyswitching key changed in a round trip");
        } catch (const std::exception& e) {
          finding(std::string("the expansion of a loaded seeded keyswitching key does not round "
                              "trip: ") +
                  e.what());
        }
        use_keyswitch_key(full);
        break;
      }
      case 2: {
        const tf::LweBootstrapKey key = tf::deserialize_bootstrap_key(bytes, expected);
        check_canonical<tf::LweBootstrapKey>(
            "LweBootstrapKey", bytes, key,
            [&](const tf::LweBootstrapKey& k) { return tf::serialize_bootstrap_key(k, params); },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_bootstrap_key(b, expected);
            },
            true, outer);
        use_bootstrap_key(key, in.deep, in.alt);
        break;
      }
      default: {
        const tf::SeededLweBootstrapKey key = tf::deserialize_seeded_bootstrap_key(bytes, expected);
        check_canonical<tf::SeededLweBootstrapKey>(
            "SeededLweBootstrapKey", bytes, key,
            [&](const tf::SeededLweBootstrapKey& k) {
              return tf::serialize_seeded_bootstrap_key(k, params);
            },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_seeded_bootstrap_key(b, expected);
            },
            true, outer);
        tf::LweBootstrapKey full;
        if (!attempt("decompress", [&] { full = tf::decompress_bootstrap_key(key); })) break;
        try {
          const tf::LweBootstrapKey again =
              tf::deserialize_bootstrap_key(tf::serialize_bootstrap_key(full, params), expected);
          if (!(again == full)) finding("an expanded bootstrapping key changed in a round trip");
        } catch (const std::exception& e) {
          finding(std::string("the expansion of a loaded seeded bootstrapping key does not round "
                              "trip: ") +
                  e.what());
        }
        use_bootstrap_key(full, in.deep, in.alt);
        break;
      }
    }
  });
}
