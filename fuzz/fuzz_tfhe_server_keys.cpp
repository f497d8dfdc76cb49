// libFuzzer target: compressed server keys of the TFHE layer.
//
// Loaders (control byte bits 0-2, fuzz_common.h): 0 deserialize_compressed_server_key,
// 1 load_server_key (which also expands the key); with bit 5 the optional expected parameters
// are fuzz_parameters(). After a load: re-serialization (canonical encoding), expansion
// (decompress_server_key; for loader 0 only with bit 6, deep), and a keyswitch + bootstrap with
// the expanded key: of an encryption under the fixture's client key, decrypted, when the key has
// the fixture's parameters, else of a trivial ciphertext.
#include <cstdint>

#include "fuzz_common.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/serialization.h"

using namespace torusml;
using namespace torusml::fuzz;
namespace tf = torusml::tfhe;

namespace {

void use(const tf::ServerKey& key) {
  attempt("keyswitch + bootstrap", [&] {
    const tf::PbsParameters& p = key.parameters;
    const tf::LookupTable lut = tf::make_identity_table(p);
    if (p.fingerprint() == fuzz_parameters().fingerprint()) {
      tf::Seed mask{}, noise{};
      mask.fill(1);
      noise.fill(2);
      tf::EncryptionGenerator gen(mask, noise);
      const tf::LweCiphertext in = tf::encrypt(fuzz_client_key(), 1, gen);
      (void)tf::decrypt(fuzz_client_key(), tf::keyswitch_bootstrap(key, in, lut));
    } else {
      const tf::LweCiphertext in = tf::trivial_lwe(p.big_lwe_dimension(), p.delta());
      (void)tf::keyswitch_bootstrap(key, in, lut);
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_target("fuzz_tfhe_server_keys");
  fuzz_client_key();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return run_one(data, size, 2, [](const Input& in) {
    const std::span<const std::uint8_t> bytes(in.bytes);
    const tf::PbsParameters* expected = in.expected ? &fuzz_parameters() : nullptr;
    auto reload = [&](std::span<const std::uint8_t> b) {
      return tf::deserialize_compressed_server_key(b, expected);
    };
    if (in.loader == 0) {
      const tf::CompressedServerKey key = tf::deserialize_compressed_server_key(bytes, expected);
      check_canonical<tf::CompressedServerKey>("CompressedServerKey", bytes, key,
                                               tf::serialize_compressed_server_key, reload);
      if (!in.deep) return;
      tf::ServerKey expanded;
      if (attempt("decompress", [&] { expanded = tf::decompress_server_key(key); })) use(expanded);
    } else {
      const tf::ServerKey key = tf::load_server_key(bytes, expected);
      const tf::CompressedServerKey compressed = reload(bytes);
      check_canonical<tf::CompressedServerKey>("load_server_key", bytes, compressed,
                                               tf::serialize_compressed_server_key, reload);
      use(key);
    }
  });
}
