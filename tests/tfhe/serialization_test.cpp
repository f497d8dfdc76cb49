// Tests of the versioned binary format (serialization.h): round trips of every kind, truncation,
// corruption, crafted payloads with a valid checksum, wrong kinds and versions, parameter
// mismatches, and known-answer digests that pin the format.
#include "torusml/tfhe/serialization.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"
// White-box: seal() re-frames a modified payload with a valid checksum, to reach the payload
// checks behind the checksum.
#include "torusml/tfhe/serialization_detail.h"

#include "test_keys.h"

namespace torusml::tfhe {
namespace {

using Bytes = std::vector<std::uint8_t>;

Seed seed_of(std::uint8_t v) {
  Seed s{};
  s.fill(v);
  return s;
}

// The byte-level tests need keys of a few KiB: small_params() is well formed but far below 128-bit
// security, which every loader and key generation refuses (validity_test.cpp checks that), so
// this suite allows insecure parameters while each of its tests runs.
class Serialization : public ::testing::Test {
 private:
  ScopedInsecureParametersForTesting allow_small_params_;
};

// Small well-formed parameters: keys of a few hundred KiB at most, for the byte-level tests.
PbsParameters small_params() {
  PbsParameters p = testing::insecure_small_parameters("serialization_test_small", 8,
                                                       "tests/tfhe/serialization_test.cpp");
  p.max_two_norm = 2.5;
  return p;
}

struct KeySet {
  ClientKey client;
  CompressedServerKey compressed;
};

// Generated once per test binary: tfhe_4bit key generation takes a fraction of a second.
const KeySet& keys_4bit() {
  static const KeySet keys = [] {
    KeySet k;
    k.client = generate_client_key(preset_by_name("tfhe_4bit"), seed_of(0x11));
    k.compressed = generate_compressed_server_key(k.client, seed_of(0x22));
    return k;
  }();
  return keys;
}

const KeySet& keys_small() {
  static const KeySet keys = [] {
    KeySet k;
    k.client = generate_client_key(small_params(), seed_of(0x33));
    k.compressed = generate_compressed_server_key(k.client, seed_of(0x44));
    return k;
  }();
  return keys;
}

void expect_same_parameters(const PbsParameters& a, const PbsParameters& b) {
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.message_bits, b.message_bits);
  EXPECT_EQ(a.lwe_dimension, b.lwe_dimension);
  EXPECT_EQ(a.glwe_dimension, b.glwe_dimension);
  EXPECT_EQ(a.polynomial_size, b.polynomial_size);
  EXPECT_EQ(a.lwe_noise, b.lwe_noise);
  EXPECT_EQ(a.glwe_noise, b.glwe_noise);
  EXPECT_EQ(a.pbs, b.pbs);
  EXPECT_EQ(a.ks, b.ks);
  EXPECT_EQ(a.modulus_switch, b.modulus_switch);
  EXPECT_EQ(a.max_two_norm, b.max_two_norm);
}

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  char buf[3];
  for (std::uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

// The stored checksum: BLAKE2b-256 of the header and payload.
std::string digest_hex(const Bytes& bytes) {
  return hex(std::span(bytes).last(kSerializedChecksumBytes));
}

Bytes payload_of(const Bytes& bytes) {
  return Bytes(bytes.begin() + kSerializedHeaderBytes, bytes.end() - kSerializedChecksumBytes);
}

std::uint64_t fingerprint_of(const Bytes& bytes) {
  return ByteReader(std::span(bytes).subspan(8, 8)).u64("fingerprint");
}

Bytes reseal(SerializedKind kind, std::uint64_t fingerprint, Bytes payload) {
  return serialization_detail::seal(kind, fingerprint, std::move(payload));
}

// The object re-framed as format version `version`, with a valid checksum.
Bytes as_version(const Bytes& bytes, std::uint16_t version) {
  const SerializedHeader h = read_serialized_header(bytes);
  Bytes framed = reseal(h.kind, h.parameters_fingerprint, payload_of(bytes));
  framed[4] = static_cast<std::uint8_t>(version & 0xff);
  framed[5] = static_cast<std::uint8_t>(version >> 8);
  const std::size_t body = framed.size() - kSerializedChecksumBytes;
  crypto_generichash(framed.data() + body, kSerializedChecksumBytes, framed.data(), body, nullptr,
                     0);
  return framed;
}

void put_u64(Bytes& bytes, std::size_t offset, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Runs load(bytes) and requires a SerializationError whose message contains `needle`.
template <class Load>
void expect_serialization_error(const Load& load, const Bytes& bytes, const std::string& needle) {
  try {
    load(std::span<const std::uint8_t>(bytes));
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Every position of a small object (up to 4 KiB); for a larger one, the first 256 (headers and
// shapes), about `spaced` positions spread over the rest, and the last 40 (the checksum).
std::vector<std::size_t> positions(std::size_t size, std::size_t spaced) {
  const std::size_t dense = size <= 4096 ? size : 256;
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < dense; ++i) out.push_back(i);
  if (size > dense) {
    const std::size_t step = std::max<std::size_t>(1, (size - dense) / spaced);
    for (std::size_t i = dense; i < size; i += step) out.push_back(i);
  }
  for (std::size_t i = size > 40 ? size - 40 : 0; i < size; ++i)
    if (out.empty() || i > out.back()) out.push_back(i);
  return out;
}

// One loader per object used in the truncation and corruption tests.
struct Sample {
  std::string name;
  Bytes bytes;
  std::function<void(std::span<const std::uint8_t>)> load;
  std::size_t inner_section = 0;  // payload offset of a nested object's header, if any
};

std::vector<Sample> small_samples() {
  const KeySet& k = keys_small();
  const PbsParameters& p = k.client.parameters;
  EncryptionGenerator gen(seed_of(1), seed_of(2));
  const LweCiphertext ct = encrypt(k.client, 3, gen);
  LweCiphertextList list(p.big_lwe_dimension(), 3);
  for (std::size_t i = 0; i < 3; ++i)
    encrypt_lwe(k.client.big_key.as_lwe_key(), 0, p.glwe_noise, gen, list[i]);
  Csprng noise(seed_of(3));
  const std::vector<Torus> plain = {encode_message(1, 2), encode_message(2, 2)};
  const auto seeded = encrypt_lwe_list_seeded(k.client.big_key.as_lwe_key(), plain, p.glwe_noise,
                                              seed_of(4), noise);
  const std::size_t bsk_section =
      payload_of(serialize_parameters(p)).size() +
      payload_of(serialize_seeded_keyswitch_key(k.compressed.keyswitch_key)).size();
  return {
      {"parameters", serialize_parameters(p), [](auto b) { deserialize_parameters(b); }},
      {"lwe_secret_key", serialize_lwe_secret_key(k.client.small_key, &p),
       [](auto b) { deserialize_lwe_secret_key(b); }},
      {"glwe_secret_key", serialize_glwe_secret_key(k.client.big_key),
       [](auto b) { deserialize_glwe_secret_key(b); }},
      {"client_key", serialize_client_key(k.client), [](auto b) { deserialize_client_key(b); }},
      {"lwe_ciphertext", serialize_lwe_ciphertext(ct, p),
       [p](auto b) { deserialize_lwe_ciphertext(b, p); }},
      {"lwe_ciphertext_list", serialize_lwe_ciphertext_list(list, p),
       [p](auto b) { deserialize_lwe_ciphertext_list(b, p); }},
      {"seeded_list", serialize_seeded_lwe_ciphertext_list(seeded, p),
       [p](auto b) { deserialize_seeded_lwe_ciphertext_list(b, p); }},
      {"seeded_keyswitch_key", serialize_seeded_keyswitch_key(k.compressed.keyswitch_key, &p),
       [](auto b) { deserialize_seeded_keyswitch_key(b); }},
      {"keyswitch_key",
       serialize_keyswitch_key(decompress_keyswitch_key(k.compressed.keyswitch_key)),
       [](auto b) { deserialize_keyswitch_key(b); }},
      {"seeded_bootstrap_key", serialize_seeded_bootstrap_key(k.compressed.bootstrap_key, &p),
       [](auto b) { deserialize_seeded_bootstrap_key(b); }},
      {"bootstrap_key",
       serialize_bootstrap_key(decompress_bootstrap_key(k.compressed.bootstrap_key), &p),
       [](auto b) { deserialize_bootstrap_key(b); }},
      {"compressed_server_key", serialize_compressed_server_key(k.compressed),
       [](auto b) { deserialize_compressed_server_key(b); }, bsk_section},
  };
}

// ---- Round trips ---------------------------------------------------------------------------

TEST_F(Serialization, ParametersRoundTripEveryPreset) {
  for (const PbsParameters& p : all_presets()) {
    const Bytes bytes = serialize_parameters(p);
    expect_same_parameters(deserialize_parameters(bytes), p);
    EXPECT_EQ(fingerprint_of(bytes), p.fingerprint());
  }
  expect_same_parameters(deserialize_parameters(serialize_parameters(small_params())),
                         small_params());
  PbsParameters bad = small_params();
  bad.polynomial_size = PolynomialSize(300);
  EXPECT_THROW(serialize_parameters(bad), InvalidArgument);
}

TEST_F(Serialization, ClientKeyRoundTripDecryptsOldCiphertexts) {
  const ClientKey& client = keys_4bit().client;
  EncryptionGenerator gen(seed_of(5), seed_of(6));
  std::vector<LweCiphertext> cts;
  for (std::int64_t m = 0; m < 16; ++m) cts.push_back(encrypt(client, m, gen));

  const ClientKey loaded = deserialize_client_key(serialize_client_key(client), &client.parameters);
  expect_same_parameters(loaded.parameters, client.parameters);
  EXPECT_EQ(loaded.small_key.bits, client.small_key.bits);
  EXPECT_EQ(loaded.big_key.flat.bits, client.big_key.flat.bits);
  EXPECT_EQ(loaded.big_key.glwe_dimension, client.big_key.glwe_dimension);
  EXPECT_EQ(loaded.big_key.polynomial_size, client.big_key.polynomial_size);
  for (std::int64_t m = 0; m < 16; ++m) EXPECT_EQ(decrypt(loaded, cts[m]), std::uint64_t(m));
}

TEST_F(Serialization, SecretKeysRoundTrip) {
  const ClientKey& client = keys_4bit().client;
  const PbsParameters& p = client.parameters;
  for (const PbsParameters* params : {static_cast<const PbsParameters*>(nullptr), &p}) {
    EXPECT_EQ(
        deserialize_lwe_secret_key(serialize_lwe_secret_key(client.small_key, params), &p).bits,
        client.small_key.bits);
    const LweSecretKey big =
        deserialize_lwe_secret_key(serialize_lwe_secret_key(client.big_key.flat, params), &p);
    EXPECT_EQ(big.bits, client.big_key.flat.bits);
    const GlweSecretKey glwe =
        deserialize_glwe_secret_key(serialize_glwe_secret_key(client.big_key, params), &p);
    EXPECT_EQ(glwe.flat.bits, client.big_key.flat.bits);
    EXPECT_EQ(glwe.glwe_dimension, p.glwe_dimension);
    EXPECT_EQ(glwe.polynomial_size, p.polynomial_size);
  }
  LweSecretKey not_binary{{0, 1, 2}};
  EXPECT_THROW(serialize_lwe_secret_key(not_binary), InvalidArgument);
  EXPECT_THROW(serialize_lwe_secret_key(LweSecretKey{}), InvalidArgument);
}

TEST_F(Serialization, CiphertextsRoundTrip) {
  const ClientKey& client = keys_4bit().client;
  const PbsParameters& p = client.parameters;
  EncryptionGenerator gen(seed_of(7), seed_of(8));
  const LweCiphertext ct = encrypt(client, 11, gen);
  const LweCiphertext ct2 = deserialize_lwe_ciphertext(serialize_lwe_ciphertext(ct, p), p);
  EXPECT_EQ(ct2, ct);
  EXPECT_EQ(decrypt(client, ct2), 11u);

  LweCiphertextList list(p.big_lwe_dimension(), 5);
  for (std::size_t i = 0; i < 5; ++i) {
    encrypt_lwe(client.big_key.as_lwe_key(), encode_message(std::int64_t(i), p.message_bits),
                p.glwe_noise, gen, list[i]);
  }
  const LweCiphertextList list2 =
      deserialize_lwe_ciphertext_list(serialize_lwe_ciphertext_list(list, p), p);
  EXPECT_EQ(list2, list);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(decrypt(client, list2[i]), i);
  const LweCiphertextList empty(p.big_lwe_dimension(), 0);
  EXPECT_EQ(deserialize_lwe_ciphertext_list(serialize_lwe_ciphertext_list(empty, p), p), empty);

  std::vector<Torus> plain;
  for (std::int64_t m = 0; m < 16; ++m) plain.push_back(encode_message(m, p.message_bits));
  Csprng noise(seed_of(9));
  const auto seeded =
      encrypt_lwe_list_seeded(client.big_key.as_lwe_key(), plain, p.glwe_noise, seed_of(10), noise);
  const auto seeded2 =
      deserialize_seeded_lwe_ciphertext_list(serialize_seeded_lwe_ciphertext_list(seeded, p), p);
  EXPECT_EQ(seeded2, seeded);
  const LweCiphertextList expanded = decompress_lwe_list(seeded2);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(decrypt(client, expanded[i]), i);

  // A ciphertext under the small key (after a keyswitch) belongs to the parameters too.
  const LweCiphertext small =
      encrypt_lwe(client.small_key, encode_message(5, p.message_bits), p.lwe_noise, gen);
  EXPECT_EQ(deserialize_lwe_ciphertext(serialize_lwe_ciphertext(small, p), p), small);
  EXPECT_THROW(serialize_lwe_ciphertext(LweCiphertext(LweDimension(100)), p), ParameterMismatch);
  EXPECT_THROW(serialize_lwe_ciphertext(LweCiphertext(), p), InvalidArgument);
}

TEST_F(Serialization, EvaluationKeysRoundTrip) {
  const KeySet& k = keys_small();
  const PbsParameters& p = k.client.parameters;
  for (const PbsParameters* params : {static_cast<const PbsParameters*>(nullptr), &p}) {
    const auto& sksk = k.compressed.keyswitch_key;
    EXPECT_EQ(deserialize_seeded_keyswitch_key(serialize_seeded_keyswitch_key(sksk, params), &p),
              sksk);
    const LweKeyswitchKey ksk = decompress_keyswitch_key(sksk);
    EXPECT_EQ(deserialize_keyswitch_key(serialize_keyswitch_key(ksk, params), &p), ksk);
    const auto& sbsk = k.compressed.bootstrap_key;
    EXPECT_EQ(deserialize_seeded_bootstrap_key(serialize_seeded_bootstrap_key(sbsk, params), &p),
              sbsk);
    const LweBootstrapKey bsk = decompress_bootstrap_key(sbsk);
    EXPECT_EQ(deserialize_bootstrap_key(serialize_bootstrap_key(bsk, params), &p), bsk);
  }
  LweKeyswitchKey broken = decompress_keyswitch_key(k.compressed.keyswitch_key);
  broken.data.pop_back();
  EXPECT_THROW(serialize_keyswitch_key(broken), InvalidArgument);
  EXPECT_THROW(
      serialize_seeded_keyswitch_key(k.compressed.keyswitch_key, &keys_4bit().client.parameters),
      ParameterMismatch);
}

TEST_F(Serialization, LoadedServerKeyBootstrapsCorrectly) {
  const KeySet& k = keys_4bit();
  const PbsParameters& p = k.client.parameters;
  const Bytes bytes = serialize_compressed_server_key(k.compressed);
  const CompressedServerKey compressed = deserialize_compressed_server_key(bytes, &p);
  EXPECT_EQ(compressed.keyswitch_key, k.compressed.keyswitch_key);
  EXPECT_EQ(compressed.bootstrap_key, k.compressed.bootstrap_key);
  expect_same_parameters(compressed.parameters, p);

  const ServerKey server = load_server_key(bytes, &p);
  const LookupTable lut =
      make_lookup_table(p, [](std::uint64_t m) { return std::int64_t(3 * m + 1); });
  EncryptionGenerator gen(seed_of(12), seed_of(13));
  for (std::int64_t m : {0, 1, 7, 15}) {
    const LweCiphertext out = keyswitch_bootstrap(server, encrypt(k.client, m, gen), lut);
    EXPECT_EQ(decrypt(k.client, out), std::uint64_t(3 * m + 1) % 16) << m;
  }
  EXPECT_THROW(load_server_key(bytes, &preset_by_name("tfhe_3bit")), ParameterMismatch);
}

// ---- Damaged bytes -------------------------------------------------------------------------

TEST_F(Serialization, EveryTruncationIsRejected) {
  for (const Sample& s : small_samples()) {
    SCOPED_TRACE(s.name);
    ASSERT_NO_THROW(s.load(s.bytes));
    // Every prefix of the small objects; a sample of lengths (all of the header) for the keys.
    for (std::size_t len : positions(s.bytes.size(), 300)) {
      const Bytes cut(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      EXPECT_THROW(s.load(cut), SerializationError) << len;
    }
    EXPECT_THROW(s.load(Bytes(s.bytes.begin(), s.bytes.end() - 1)), SerializationError);
    Bytes longer = s.bytes;
    longer.push_back(0);
    expect_serialization_error(s.load, longer, "trailing");
  }
  // The large tfhe_4bit key too, at a few lengths.
  const Bytes key = serialize_compressed_server_key(keys_4bit().compressed);
  for (std::size_t len : {std::size_t{0}, std::size_t{3}, std::size_t{23}, std::size_t{24},
                          std::size_t{1000}, key.size() / 2, key.size() - 32, key.size() - 1}) {
    EXPECT_THROW(deserialize_compressed_server_key(std::span(key).first(len)), SerializationError);
  }
}

TEST_F(Serialization, EverySingleByteCorruptionIsRejected) {
  for (const Sample& s : small_samples()) {
    SCOPED_TRACE(s.name);
    Bytes bytes = s.bytes;
    for (std::size_t pos : positions(bytes.size(), 200)) {
      for (int flip : {0x01, 0x80, 0xff}) {
        if (pos >= 256 && flip != 0x01) continue;  // the bulk: one flip is enough
        bytes[pos] = static_cast<std::uint8_t>(bytes[pos] ^ flip);
        EXPECT_THROW(s.load(bytes), SerializationError) << pos;
        bytes[pos] = s.bytes[pos];
      }
    }
  }
}

// Payloads changed behind a valid checksum (crafted files): single-byte flips, extreme u64 values
// at every offset of the heads of the payloads (dimensions, counts, parameters) and truncations.
// Every outcome is a valid object or a SerializationError: never a crash (ASan/UBSan builds),
// another exception or a huge allocation.
TEST_F(Serialization, CraftedPayloadsNeverCrash) {
  const std::uint64_t extremes[] = {
      0, 1, 255, std::uint64_t{1} << 17, (1u << 21) + 1, 1ull << 32, 1ull << 63, ~std::uint64_t{0}};
  for (const Sample& s : small_samples()) {
    SCOPED_TRACE(s.name);
    const auto kind = static_cast<SerializedKind>(s.bytes[6]);
    const std::uint64_t fp = fingerprint_of(s.bytes);
    const Bytes payload = payload_of(s.bytes);
    auto try_load = [&](Bytes crafted) {
      try {
        s.load(reseal(kind, fp, std::move(crafted)));
      } catch (const SerializationError&) {
      }
    };
    std::vector<std::size_t> head;  // where the dimensions and counts are
    for (std::size_t i = 0; i < (payload.size() <= 4096 ? 256 : 96); ++i) head.push_back(i);
    for (std::size_t i = 0; s.inner_section != 0 && i < 96; ++i)
      head.push_back(s.inner_section + i);
    for (std::size_t pos : head) {
      for (std::uint64_t v : extremes) {
        if (pos + 8 > payload.size()) break;
        Bytes crafted = payload;
        put_u64(crafted, pos, v);
        try_load(std::move(crafted));
      }
    }
    for (std::size_t pos : positions(payload.size(), 100)) {
      for (int flip : {0x01, 0x40, 0xff}) {
        if (pos >= 256 && flip != 0x01) continue;
        Bytes crafted = payload;
        crafted[pos] = static_cast<std::uint8_t>(crafted[pos] ^ flip);
        try_load(std::move(crafted));
      }
    }
    for (std::size_t len : positions(payload.size(), 100)) {
      EXPECT_THROW(s.load(reseal(kind, fp, Bytes(payload.begin(), payload.begin() + len))),
                   SerializationError);
    }
  }
}

TEST_F(Serialization, CraftedSizesAreCheckedBeforeAllocating) {
  const PbsParameters& p = keys_small().client.parameters;
  const std::uint64_t fp = p.fingerprint();
  const std::uint64_t kN = p.big_lwe_dimension().value();
  auto list = [&](auto b) { deserialize_lwe_ciphertext_list(b, p); };
  {  // An LweCiphertextList claiming 2^60 ciphertexts.
    Bytes payload(16, 0);
    put_u64(payload, 0, kN);
    put_u64(payload, 8, std::uint64_t{1} << 60);
    expect_serialization_error(list, reseal(SerializedKind::LweCiphertextList, fp, payload),
                               "ciphertext count");
    put_u64(payload, 0, ~std::uint64_t{0});  // dimension
    expect_serialization_error(list, reseal(SerializedKind::LweCiphertextList, fp, payload),
                               "ciphertext dimension");
  }
  {  // A seeded keyswitching key whose body count disagrees with its shape.
    Bytes bytes = serialize_seeded_keyswitch_key(keys_small().compressed.keyswitch_key);
    Bytes payload = payload_of(bytes);
    put_u64(payload, 32 + 32, std::uint64_t{1} << 62);
    expect_serialization_error([](auto b) { deserialize_seeded_keyswitch_key(b); },
                               reseal(SerializedKind::SeededLweKeyswitchKey, 0, payload),
                               "bodies but its shape");
  }
  {  // A bootstrapping key with huge dimensions.
    Bytes payload(40, 0);
    put_u64(payload, 0, std::uint64_t{1} << 21);
    put_u64(payload, 8, 16);
    put_u64(payload, 16, std::uint64_t{1} << 17);
    put_u64(payload, 24, 1);
    put_u64(payload, 32, 63);
    expect_serialization_error([](auto b) { deserialize_bootstrap_key(b); },
                               reseal(SerializedKind::LweBootstrapKey, 0, payload), "remain");
    put_u64(payload, 16, 1000);  // not a power of two
    expect_serialization_error([](auto b) { deserialize_bootstrap_key(b); },
                               reseal(SerializedKind::LweBootstrapKey, 0, payload), "power of two");
  }
  {  // A secret key bit that is not 0 or 1.
    Bytes payload = payload_of(serialize_lwe_secret_key(LweSecretKey{{0, 1, 1, 0}}));
    payload[8 + 2] = 2;
    expect_serialization_error([](auto b) { deserialize_lwe_secret_key(b); },
                               reseal(SerializedKind::LweSecretKey, 0, payload), "not 0 or 1");
  }
  {  // A client key whose header fingerprint is not that of its parameters.
    const Bytes bytes = serialize_client_key(keys_small().client);
    expect_serialization_error([](auto b) { deserialize_client_key(b); },
                               reseal(SerializedKind::ClientKey, fp ^ 1, payload_of(bytes)),
                               "inconsistent");
  }
  {  // A ciphertext stored with the right fingerprint but another dimension.
    Bytes payload(8 * 12, 0);
    put_u64(payload, 0, 10);
    expect_serialization_error([&](auto b) { deserialize_lwe_ciphertext(b, p); },
                               reseal(SerializedKind::LweCiphertext, fp, payload), "inconsistent");
  }
}

// ---- Headers: kind, version, parameters ----------------------------------------------------

TEST_F(Serialization, WrongKindSaysWhatWasFound) {
  const KeySet& k = keys_small();
  EncryptionGenerator gen(seed_of(14), seed_of(15));
  const Bytes ct = serialize_lwe_ciphertext(encrypt(k.client, 1, gen), k.client.parameters);
  expect_serialization_error([](auto b) { deserialize_client_key(b); }, ct,
                             "expected a serialized ClientKey but found a LweCiphertext");
  expect_serialization_error([](auto b) { load_server_key(b); }, serialize_client_key(k.client),
                             "found a ClientKey");
  Bytes unknown = ct;
  unknown[6] = 99;
  expect_serialization_error([](auto b) { read_serialized_header(b); }, unknown,
                             "unknown object kind 99");
  Bytes not_ours = ct;
  not_ours[0] = 'X';
  expect_serialization_error([](auto b) { read_serialized_header(b); }, not_ours,
                             "not a TorusML object");
}

TEST_F(Serialization, NewerVersionIsRejectedClearly) {
  const Bytes bytes = serialize_parameters(small_params());
  Bytes newer = bytes;
  newer[4] = 3;
  expect_serialization_error([](auto b) { deserialize_parameters(b); }, newer,
                             "written by a newer TorusML (format version 3");
  Bytes zero = bytes;
  zero[4] = 0;
  expect_serialization_error([](auto b) { deserialize_parameters(b); }, zero, "version 0");
  EXPECT_NE(describe_serialized(newer).find("newer than this build"), std::string::npos);
}

// Format version 2 changed only the keyswitching key (64-bit, then 32-bit): version 1 objects of
// other kinds still load, and those that hold a keyswitching key are refused with the fix.
TEST_F(Serialization, Version1LoadsExceptKeyswitchingKeys) {
  const KeySet& k = keys_4bit();
  const Bytes key_v1 = as_version(serialize_lwe_secret_key(k.client.small_key), 1);
  EXPECT_EQ(read_serialized_header(key_v1).version, 1);
  EXPECT_EQ(deserialize_lwe_secret_key(key_v1).bits, k.client.small_key.bits);
  const Bytes ksk_v1 = as_version(serialize_seeded_keyswitch_key(k.compressed.keyswitch_key), 1);
  expect_serialization_error([](auto b) { deserialize_seeded_keyswitch_key(b); }, ksk_v1,
                             "generate the keys again");
  const Bytes server_v1 = as_version(serialize_compressed_server_key(k.compressed), 1);
  expect_serialization_error([](auto b) { deserialize_compressed_server_key(b); }, server_v1,
                             "64-bit");
}

TEST_F(Serialization, MismatchedParametersThrowParameterMismatch) {
  const PbsParameters& p3 = preset_by_name("tfhe_3bit");
  const PbsParameters& p4 = preset_by_name("tfhe_4bit");
  const LweCiphertext ct(p3.big_lwe_dimension());
  const Bytes bytes = serialize_lwe_ciphertext(ct, p3);
  try {
    deserialize_lwe_ciphertext(bytes, p4);
    ADD_FAILURE() << "no ParameterMismatch";
  } catch (const ParameterMismatch& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("belongs to parameter set tfhe_3bit"), std::string::npos) << what;
    EXPECT_NE(what.find("tfhe_4bit"), std::string::npos) << what;
    EXPECT_NE(what.find("encrypt with the client key"), std::string::npos) << what;
  }
  EXPECT_THROW(deserialize_lwe_ciphertext_list(
                   serialize_lwe_ciphertext_list(LweCiphertextList(p3.lwe_dimension, 2), p3), p4),
               ParameterMismatch);
  const KeySet& k = keys_small();
  EXPECT_THROW(deserialize_client_key(serialize_client_key(k.client), &p4), ParameterMismatch);
  EXPECT_THROW(
      deserialize_compressed_server_key(serialize_compressed_server_key(k.compressed), &p4),
      ParameterMismatch);
  // Stored with parameters: the fingerprint decides; stored without: the shape.
  EXPECT_THROW(
      deserialize_seeded_bootstrap_key(
          serialize_seeded_bootstrap_key(k.compressed.bootstrap_key, &k.client.parameters), &p4),
      ParameterMismatch);
  EXPECT_THROW(deserialize_seeded_keyswitch_key(
                   serialize_seeded_keyswitch_key(k.compressed.keyswitch_key), &p4),
               ParameterMismatch);
  EXPECT_THROW(deserialize_lwe_secret_key(serialize_lwe_secret_key(k.client.small_key), &p4),
               ParameterMismatch);
}

TEST_F(Serialization, DescribeAndReadHeader) {
  const Bytes bytes = serialize_client_key(keys_4bit().client);
  const SerializedHeader h = read_serialized_header(bytes);
  EXPECT_EQ(h.kind, SerializedKind::ClientKey);
  EXPECT_EQ(h.version, kSerializationFormatVersion);
  EXPECT_EQ(h.parameters_fingerprint, preset_by_name("tfhe_4bit").fingerprint());
  EXPECT_EQ(h.payload_bytes, bytes.size() - kSerializedHeaderBytes - kSerializedChecksumBytes);
  const std::string d = describe_serialized(bytes);
  for (const char* needle : {"ClientKey", "format version 2", "tfhe_4bit", "checksum ok"})
    EXPECT_NE(d.find(needle), std::string::npos) << d;
  EXPECT_NE(describe_serialized(std::span(bytes).first(100)).find("TRUNCATED"), std::string::npos);
  Bytes damaged = bytes;
  damaged[200] ^= 1;
  EXPECT_NE(describe_serialized(damaged).find("MISMATCH"), std::string::npos);
  EXPECT_THROW(describe_serialized(Bytes{'T', 'R'}), SerializationError);
}

// ---- Known answers -------------------------------------------------------------------------
// These pin format version 2 byte for byte. If one changes, the bytes written changed: that is a
// format change, which needs kSerializationFormatVersion bumped (and old versions still read), or
// a change of key generation or of the seeded-mask streams, which breaks every seeded object
// already stored. Do not just update the strings.

TEST_F(Serialization, KnownAnswerBytes) {
  // A tiny object, byte for byte: header, payload, then the BLAKE2b-256 of both.
  const Bytes bytes = serialize_lwe_secret_key(LweSecretKey{{1, 0, 1}});
  EXPECT_EQ(hex(std::span(bytes).first(bytes.size() - kSerializedChecksumBytes)),
            "54524d4c"
            "0200"
            "0200"
            "0000000000000000"
            "0b00000000000000"
            "0300000000000000"
            "010001");
  EXPECT_EQ(digest_hex(bytes), "a99f86e2ca6bae63de20ebde192aa92c0dce887b7c797e577e59551a9dcb5a3c");
}

TEST_F(Serialization, KnownAnswerDigestsForTfhe4bit) {
  // TUniform noise (integer-only sampling) and ChaCha20 streams: platform-independent. Name and
  // source are fixed here so that editing the preset's description does not move the digest.
  PbsParameters p = preset_by_name("tfhe_4bit");
  p.name = "kat";
  p.source = "known-answer test";
  const ClientKey client = generate_client_key(p, seed_of(0x11));
  const Bytes client_bytes = serialize_client_key(client);
  EXPECT_EQ(client_bytes.size(), 3169u);
  EXPECT_EQ(digest_hex(client_bytes),
            "a416707cee35606bac17bbc054b8c7b658b2d19a05987e46ea875c29ed88c668");

  // keys_4bit(): client key from seed 0x11 (the same bits as `client`), server key from 0x22.
  const Bytes ksk_bytes = serialize_seeded_keyswitch_key(keys_4bit().compressed.keyswitch_key, &p);
  EXPECT_EQ(ksk_bytes.size(), 32896u);  // 8192 bodies of 4 bytes
  EXPECT_EQ(digest_hex(ksk_bytes),
            "22cacc0c0b58f2a4ca03db8e3ab3e65f9d92f208819465ee1d7eb05bb8ceec8c");

  std::vector<Torus> plain;
  for (std::int64_t m = 0; m < 16; ++m) plain.push_back(encode_message(m, p.message_bits));
  Csprng noise(seed_of(0x55));
  const auto list = encrypt_lwe_list_seeded(client.big_key.as_lwe_key(), plain, p.glwe_noise,
                                            seed_of(0x66), noise);
  const Bytes list_bytes = serialize_seeded_lwe_ciphertext_list(list, p);
  EXPECT_EQ(list_bytes.size(), 24u + 8 + 32 + 8 + 16 * 8 + 32);
  EXPECT_EQ(digest_hex(list_bytes),
            "4c0341f4d7cca41785f57ae76eb0e3264ae68a4b8638e1b4c81771ce8ecaecf0");
}

}  // namespace
}  // namespace torusml::tfhe
