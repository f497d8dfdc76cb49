// libFuzzer target: LWE ciphertexts, ciphertext lists and seeded lists of the TFHE layer.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deserialize_lwe_ciphertext,
// 1 deserialize_lwe_ciphertext_list, 2 deserialize_seeded_lwe_ciphertext_list, all against
// fuzz_parameters() (bit 7: against the tfhe_1bit preset instead, for which no key is held).
// After a load: re-serialization (canonical encoding), expansion of seeded lists (and their
// re-serialization as full lists), decryption with the fixture's client key (big or small key by
// dimension) and, with bit 6 (deep), a keyswitch + bootstrap (or a bootstrap of small-key
// ciphertexts) with the fixture's server key, decrypted.
#include <algorithm>
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/seeded_lwe.h"
#include "torusml/tfhe/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace tf = torusml::tfhe;

namespace {

constexpr std::size_t kMaxBootstraps = 1;

// Decrypts with the fixture key of the ciphertext's dimension; bootstraps it when deep.
void use(tf::LweView ct, bool deep) {
  const tf::ClientKey& key = fuzz_client_key();
  const tf::PbsParameters& p = fuzz_parameters();
  const bool big = ct.dimension() == p.big_lwe_dimension();
  attempt("decrypt", [&] {
    if (big)
      (void)tf::decrypt(key, ct);
    else
      (void)tf::decrypt_lwe(key.small_key, ct);
  });
  if (!deep) return;
  attempt("bootstrap", [&] {
    static const tf::LookupTable lut = tf::make_identity_table(p);
    const tf::ServerKey& server = fuzz_server_key();
    tf::LweCiphertext out(p.big_lwe_dimension());
    if (big)
      tf::keyswitch_bootstrap(server, ct, lut, out);
    else
      tf::bootstrap(server.bootstrap_key, p.modulus_switch, ct, lut, out);
    (void)tf::decrypt(key, out);
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_tfhe_ciphertexts");
  fuzz_server_key();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 3, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const bool own = !in.alt;
    const tf::PbsParameters& params = own ? fuzz_parameters() : tf::preset_by_name("tfhe_1bit");
    switch (in.loader) {
      case 0: {
        const tf::LweCiphertext ct = tf::deserialize_lwe_ciphertext(bytes, params);
        check_canonical<tf::LweCiphertext>(
            "LweCiphertext", bytes, ct,
            [&](const tf::LweCiphertext& c) { return tf::serialize_lwe_ciphertext(c, params); },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_lwe_ciphertext(b, params);
            });
        if (own) use(ct, in.deep);
        break;
      }
      case 1: {
        const tf::LweCiphertextList list = tf::deserialize_lwe_ciphertext_list(bytes, params);
        check_canonical<tf::LweCiphertextList>(
            "LweCiphertextList", bytes, list,
            [&](const tf::LweCiphertextList& l) {
              return tf::serialize_lwe_ciphertext_list(l, params);
            },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_lwe_ciphertext_list(b, params);
            });
        if (own)
          for (std::size_t i = 0; i < list.size(); ++i) use(list[i], in.deep && i < kMaxBootstraps);
        break;
      }
      default: {
        const tf::SeededLweCiphertextList seeded =
            tf::deserialize_seeded_lwe_ciphertext_list(bytes, params);
        check_canonical<tf::SeededLweCiphertextList>(
            "SeededLweCiphertextList", bytes, seeded,
            [&](const tf::SeededLweCiphertextList& l) {
              return tf::serialize_seeded_lwe_ciphertext_list(l, params);
            },
            [&](std::span<const std::uint8_t> b) {
              return tf::deserialize_seeded_lwe_ciphertext_list(b, params);
            });
        tf::LweCiphertextList full;
        if (!attempt("decompress", [&] { full = tf::decompress_lwe_list(seeded); })) break;
        if (full.size() != seeded.size() || full.dimension() != seeded.dimension)
          finding("decompress_lwe_list changed the count or the dimension of a loaded list");
        // The expanded list is an ordinary list of the same parameters: it must serialize and load.
        tf::LweCiphertextList again;
        try {
          again = tf::deserialize_lwe_ciphertext_list(
              tf::serialize_lwe_ciphertext_list(full, params), params);
        } catch (const std::exception& e) {
          finding(std::string("the expansion of a loaded seeded list does not round trip: ") +
                  e.what());
        }
        if (!(again == full))
          finding("the expansion of a loaded seeded list changed in a round trip");
        if (own)
          for (std::size_t i = 0; i < full.size(); ++i) use(full[i], in.deep && i < kMaxBootstraps);
        break;
      }
    }
  });
}
