// Validity of TFHE parameter sets and keys (validity.h, PbsParameters::validate(), security.h):
// every key generation and every loader refuses parameters below 128-bit security, refusals name
// the field, its value and the allowed range, and every object kind encodes canonically.
#include "torusml/tfhe/validity.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "torusml/common/error.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"
#include "torusml/tfhe/serialization.h"

namespace torusml::tfhe {
namespace {

using Bytes = std::vector<std::uint8_t>;

Seed seed_of(std::uint8_t v) {
  Seed s{};
  s.fill(v);
  return s;
}

// A well-formed set far below 128-bit security (n = 16, k*N = 256), with tiny keys.
PbsParameters insecure_params() {
  PbsParameters p = preset_for_bits(2);
  p.name = "validity_test_insecure";
  p.lwe_dimension = LweDimension(16);
  p.polynomial_size = PolynomialSize(256);
  return p;
}

template <class Fn>
void expect_insecure(const Fn& fn, const char* what, const char* needle = "128-bit security") {
  SCOPED_TRACE(what);
  try {
    fn();
    ADD_FAILURE() << "no InsecureParameters";
  } catch (const InsecureParameters& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

template <class Fn>
void expect_invalid(const Fn& fn, const std::string& needle) {
  SCOPED_TRACE(needle);
  try {
    fn();
    ADD_FAILURE() << "no InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Validity, EveryPresetIsValidAndSecure) {
  for (const PbsParameters& p : all_presets()) {
    EXPECT_NO_THROW(p.validate()) << p.name;
    EXPECT_TRUE(is_128_bit_secure(p)) << p.name;
  }
}

TEST(Validity, RefusalsNameFieldValueAndRange) {
  PbsParameters p = preset_for_bits(4);
  p.polynomial_size = PolynomialSize(3000);
  expect_invalid([&] { p.validate(); },
                 "polynomial_size = 3000 is out of range (allowed: a power of two in");
  p = preset_for_bits(4);
  p.ks.level_count = DecompositionLevelCount(40);
  expect_invalid([&] { p.validate(); }, "ks level_count = 40 is out of range (allowed: [1, 32])");
  p = preset_for_bits(4);
  p.glwe_noise = NoiseDistribution::gaussian(1.0);
  expect_invalid([&] { p.validate(); }, "glwe_noise Gaussian std_dev = 1");
  p = preset_for_bits(4);
  p.lwe_noise = NoiseDistribution::tuniform(2);
  expect_insecure([&] { p.validate(); }, "noise", "lwe_noise (small key, n) noise TUniform(2^2)");
  expect_insecure([&] { insecure_params().validate(); }, "dimension", "dimension 16");
}

TEST(Validity, KeyGenerationRefusesInsecureParameters) {
  expect_insecure([] { generate_client_key(insecure_params(), seed_of(1)); }, "client key");
  ClientKey key;
  {
    ScopedInsecureParametersForTesting allow;
    key = generate_client_key(insecure_params(), seed_of(1));
  }
  expect_insecure([&] { generate_compressed_server_key(key, seed_of(2)); }, "server key");
}

TEST(Validity, EveryLoaderRefusesInsecureParameters) {
  const PbsParameters bad = insecure_params();
  Bytes params, client, compressed, lwe_key, glwe_key, ct, list, seeded, ksk, sksk, bsk, sbsk;
  {
    ScopedInsecureParametersForTesting allow;
    params = serialize_parameters(bad);
    const ClientKey key = generate_client_key(bad, seed_of(3));
    const CompressedServerKey ck = generate_compressed_server_key(key, seed_of(4));
    const ServerKey sk = decompress_server_key(ck);
    client = serialize_client_key(key);
    compressed = serialize_compressed_server_key(ck);
    lwe_key = serialize_lwe_secret_key(key.small_key, &bad);
    glwe_key = serialize_glwe_secret_key(key.big_key, &bad);
    EncryptionGenerator gen(seed_of(5), seed_of(6));
    const LweCiphertext c = encrypt(key, 1, gen);
    ct = serialize_lwe_ciphertext(c, bad);
    LweCiphertextList l(c.dimension(), 2);
    list = serialize_lwe_ciphertext_list(l, bad);
    sksk = serialize_seeded_keyswitch_key(ck.keyswitch_key, &bad);
    sbsk = serialize_seeded_bootstrap_key(ck.bootstrap_key, &bad);
    ksk = serialize_keyswitch_key(sk.keyswitch_key, &bad);
  }
  expect_insecure([&] { deserialize_parameters(params); }, "parameters");
  expect_insecure([&] { deserialize_client_key(client); }, "client key");
  expect_insecure([&] { deserialize_compressed_server_key(compressed); }, "compressed server key");
  expect_insecure([&] { load_server_key(compressed); }, "load_server_key");
  // Components read against insecure expected parameters.
  expect_insecure([&] { deserialize_lwe_secret_key(lwe_key, &bad); }, "lwe key");
  expect_insecure([&] { deserialize_glwe_secret_key(glwe_key, &bad); }, "glwe key");
  expect_insecure([&] { deserialize_lwe_ciphertext(ct, bad); }, "ciphertext");
  expect_insecure([&] { deserialize_lwe_ciphertext_list(list, bad); }, "ciphertext list");
  expect_insecure([&] { deserialize_seeded_keyswitch_key(sksk, &bad); }, "seeded ksk");
  expect_insecure([&] { deserialize_seeded_bootstrap_key(sbsk, &bad); }, "seeded bsk");
  expect_insecure([&] { deserialize_keyswitch_key(ksk, &bad); }, "ksk");
}

TEST(Validity, KeysMustHaveTheirParametersShapes) {
  ScopedInsecureParametersForTesting allow;  // tiny keys; shapes are what is tested
  const ClientKey key = generate_client_key(insecure_params(), seed_of(7));
  EXPECT_NO_THROW(validate_client_key(key));
  ClientKey wrong = key;
  wrong.small_key.bits[3] = 2;
  expect_invalid([&] { validate_client_key(wrong); }, "coefficient 3 = 2 (required: 0 or 1)");
  wrong = key;
  wrong.big_key.flat.bits.pop_back();
  expect_invalid([&] { validate_client_key(wrong); }, "big_key dimension");
  CompressedServerKey ck = generate_compressed_server_key(key, seed_of(8));
  EXPECT_NO_THROW(validate_compressed_server_key(ck));
  ck.bootstrap_key.bodies.pop_back();
  expect_invalid([&] { validate_compressed_server_key(ck); }, "bootstrapping key body count");
}

// Loading then saving gives the same bytes, for every object kind of the engine.
TEST(Validity, EveryObjectKindIsCanonical) {
  ScopedInsecureParametersForTesting allow;  // tiny keys: canonical form does not need security
  const PbsParameters p = insecure_params();
  const ClientKey key = generate_client_key(p, seed_of(9));
  const CompressedServerKey ck = generate_compressed_server_key(key, seed_of(10));
  const ServerKey sk = decompress_server_key(ck);
  EncryptionGenerator gen(seed_of(11), seed_of(12));
  const LweCiphertext c = encrypt(key, 1, gen);
  LweCiphertextList list(c.dimension(), 3);
  auto same = [](const Bytes& a, const Bytes& b, const char* what) { EXPECT_EQ(a, b) << what; };
  Bytes b = serialize_parameters(p);
  same(serialize_parameters(deserialize_parameters(b)), b, "parameters");
  b = serialize_client_key(key);
  same(serialize_client_key(deserialize_client_key(b)), b, "client key");
  b = serialize_lwe_secret_key(key.small_key, &p);
  same(serialize_lwe_secret_key(deserialize_lwe_secret_key(b, &p), &p), b, "lwe key");
  b = serialize_glwe_secret_key(key.big_key, &p);
  same(serialize_glwe_secret_key(deserialize_glwe_secret_key(b, &p), &p), b, "glwe key");
  b = serialize_lwe_ciphertext(c, p);
  same(serialize_lwe_ciphertext(deserialize_lwe_ciphertext(b, p), p), b, "ciphertext");
  b = serialize_lwe_ciphertext_list(list, p);
  same(serialize_lwe_ciphertext_list(deserialize_lwe_ciphertext_list(b, p), p), b, "list");
  b = serialize_keyswitch_key(sk.keyswitch_key, &p);
  same(serialize_keyswitch_key(deserialize_keyswitch_key(b, &p), &p), b, "ksk");
  b = serialize_seeded_keyswitch_key(ck.keyswitch_key, &p);
  same(serialize_seeded_keyswitch_key(deserialize_seeded_keyswitch_key(b, &p), &p), b, "sksk");
  b = serialize_seeded_bootstrap_key(ck.bootstrap_key, &p);
  same(serialize_seeded_bootstrap_key(deserialize_seeded_bootstrap_key(b, &p), &p), b, "sbsk");
  b = serialize_compressed_server_key(ck);
  same(serialize_compressed_server_key(deserialize_compressed_server_key(b)), b, "server key");
}

}  // namespace
}  // namespace torusml::tfhe
