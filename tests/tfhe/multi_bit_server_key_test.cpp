// Multi-bit parameter sets end to end (PbsParameters::grouping_factor > 1): validation,
// fingerprints (the classic sets' unchanged), the parameter codec, the noise model's dispatch
// (variance_pbs_output), server keys holding the multi-bit bootstrapping key instead of the classic
// one, the bootstraps of bootstrap.h and many_lut.h dispatching on it (with a cross keyswitching
// key too), the compressed key codec and the load-time validation. Tiny insecure parameters
// (N = 256) keep the keys small.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <vector>

#include "test_keys.h"
#include "torusml/common/byte_io.h"
#include "torusml/common/error.h"
#include "torusml/tfhe/bootstrap.h"
#include "torusml/tfhe/encoding.h"
#include "torusml/tfhe/keyswitch_key.h"
#include "torusml/tfhe/lookup_table.h"
#include "torusml/tfhe/many_lut.h"
#include "torusml/tfhe/multi_bit_bootstrap.h"
#include "torusml/tfhe/noise_model.h"
#include "torusml/tfhe/presets.h"
#include "torusml/tfhe/security.h"
#include "torusml/tfhe/serialization.h"
#include "torusml/tfhe/serialization_detail.h"
#include "torusml/tfhe/validity.h"

namespace torusml::tfhe::testing {
namespace {

using Bytes = std::vector<std::uint8_t>;

PbsParameters with_factor(PbsParameters p, std::size_t g) {
  p.grouping_factor = GroupingFactor(g);
  return p;
}

// 3-bit messages on N = 256, n = 16 (g = 3 leaves a partial last group of one bit).
PbsParameters small_params(std::size_t g) {
  PbsParameters p =
      insecure_small_parameters("multi_bit_small", 16, "tests/tfhe/multi_bit_server_key_test.cpp");
  p.message_bits = 3;
  return with_factor(p, g);
}

class MultiBitServerKey : public ::testing::Test {
 private:
  ScopedInsecureParametersForTesting allow_small_params_;
};

// ---- Parameters ----------------------------------------------------------------------------

TEST(MultiBitParameters, Validate) {
  const PbsParameters base = preset_for_bits(4);
  EXPECT_FALSE(base.is_multi_bit());
  EXPECT_EQ(base.grouping_factor, GroupingFactor(1));
  for (std::size_t g = 1; g <= 4; ++g) {
    EXPECT_NO_THROW(with_factor(base, g).validate()) << g;
    EXPECT_EQ(with_factor(base, g).is_multi_bit(), g > 1);
    PbsParameters standard = with_factor(base, g);
    standard.modulus_switch = ModulusSwitchKind::Standard;
    EXPECT_NO_THROW(standard.validate()) << g;
  }
  EXPECT_THROW(with_factor(base, 0).validate(), InvalidArgument);
  EXPECT_THROW(with_factor(base, 5).validate(), InvalidArgument);
  // The multi-bit blind rotation has no noise reduction: the Drift kinds are refused.
  for (auto kind : {ModulusSwitchKind::Drift, ModulusSwitchKind::DriftCenteredMean}) {
    PbsParameters drift = base;
    drift.modulus_switch = kind;
    drift.ms_noise_reduction = {1024, 2, base.lwe_noise};
    EXPECT_NO_THROW(drift.validate());
    try {
      with_factor(drift, 2).validate();
      ADD_FAILURE() << "a multi-bit Drift set validated";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("grouping_factor"), std::string::npos) << e.what();
    }
  }
}

// The presets' digests are those of the versions before grouping factors (pinned: every stored
// key and ciphertext carries them); a factor enters only when > 1. Do not just update the values.
TEST(MultiBitParameters, FingerprintsOfClassicSetsUnchanged) {
  const std::vector<std::pair<const char*, std::uint64_t>> pinned = {
      {"tfhe_1bit", 0xfb9f1b91a0e3dcd7u}, {"tfhe_2bit", 0x655c2e4df5b4d312u},
      {"tfhe_3bit", 0x132c1bf3a196febeu}, {"tfhe_4bit", 0xb147ad7567998dc9u},
      {"tfhe_5bit", 0xfe2e4ceecaeee23fu}, {"tfhe_6bit", 0x68656a4360328d28u},
      {"tfhe_7bit", 0xc5806c4acfdd1d03u}, {"tfhe_8bit", 0x2071ebae169735c2u},
  };
  ASSERT_EQ(all_presets().size(), pinned.size());
  for (const auto& [name, fp] : pinned) {
    const PbsParameters& p = preset_by_name(name);
    EXPECT_EQ(p.fingerprint(), fp) << name;
    EXPECT_EQ(with_factor(p, 1).fingerprint(), fp) << name;
    std::uint64_t last = fp;
    for (std::size_t g = 2; g <= 4; ++g) {
      const std::uint64_t f = with_factor(p, g).fingerprint();
      EXPECT_NE(f, fp) << name << " g=" << g;
      EXPECT_NE(f, last) << name << " g=" << g;
      last = f;
    }
  }
  PbsParameters standard = preset_for_bits(4);
  standard.modulus_switch = ModulusSwitchKind::Standard;
  EXPECT_EQ(standard.fingerprint(), 0xb147aa75679988b0u);
  EXPECT_NE(with_factor(standard, 2).fingerprint(),
            with_factor(preset_for_bits(4), 2).fingerprint());
}

TEST(MultiBitParameters, Printed) {
  std::ostringstream classic, multi;
  classic << preset_for_bits(4);
  multi << with_factor(preset_for_bits(4), 3);
  EXPECT_EQ(classic.str().find("multi-bit"), std::string::npos) << classic.str();
  EXPECT_NE(multi.str().find("multi-bit g=3"), std::string::npos) << multi.str();
}

TEST(MultiBitParameters, SerializeRoundTrip) {
  for (const PbsParameters& preset : all_presets()) {
    const Bytes classic = serialize_parameters(preset);
    for (std::size_t g = 2; g <= 4; ++g) {
      for (auto kind : {ModulusSwitchKind::Standard, ModulusSwitchKind::CenteredMean}) {
        PbsParameters p = with_factor(preset, g);
        p.modulus_switch = kind;
        const Bytes bytes = serialize_parameters(p);
        const PbsParameters back = deserialize_parameters(bytes);
        EXPECT_EQ(back.grouping_factor, GroupingFactor(g));
        EXPECT_EQ(back.modulus_switch, kind);
        EXPECT_EQ(back.fingerprint(), p.fingerprint());
        // One trailing u64 more than the classic set.
        EXPECT_EQ(bytes.size(), classic.size() + 8);
      }
    }
    EXPECT_EQ(deserialize_parameters(classic).grouping_factor, GroupingFactor(1));
  }
}

TEST(MultiBitParameters, CraftedFactorsRefused) {
  // The payload of a multi-bit 4-bit set with its stored factor replaced (last 8 bytes), and the
  // header fingerprint recomputed: 1 (a second encoding of the classic set), 0 and 5 are refused.
  const PbsParameters p = with_factor(preset_for_bits(4), 2);
  const Bytes bytes = serialize_parameters(p);
  const Bytes payload(bytes.begin() + kSerializedHeaderBytes,
                      bytes.end() - kSerializedChecksumBytes);
  for (std::uint64_t g : {0u, 1u, 5u, 1000u}) {
    Bytes crafted = payload;
    ByteWriter w;
    w.u64(g);
    std::copy(w.data().begin(), w.data().end(), crafted.end() - 8);
    PbsParameters q = p;
    q.grouping_factor = GroupingFactor(g);
    const Bytes framed = serialization_detail::seal(SerializedKind::PbsParameters, q.fingerprint(),
                                                    std::move(crafted));
    EXPECT_THROW(deserialize_parameters(framed), SerializationError) << g;
  }
}

// load_server_key's bound: the multi-bit key's GGSWs replace the classic key's n; every preset
// stays far below kMaxExpandedServerKeyBytes with every factor.
TEST(MultiBitParameters, ExpandedServerKeyBytes) {
  for (const PbsParameters& preset : all_presets()) {
    for (std::size_t g = 1; g <= 4; ++g) {
      const PbsParameters p = with_factor(preset, g);
      const KeyswitchKeyShape ks = keyswitch_key_shape(p);
      const std::uint64_t ksk = ks.ciphertexts() * (p.lwe_dimension.value() + 1) * 8;
      const std::uint64_t bsk =
          g == 1 ? p.lwe_dimension.value() * bootstrap_key_shape(p).ggsw.torus_elements() * 16
                 : 2 * multi_bit_bootstrap_key_shape(p).key_bytes();
      EXPECT_EQ(expanded_server_key_bytes(p), ksk + bsk) << p.name << " g=" << g;
      EXPECT_LT(expanded_server_key_bytes(p), kMaxExpandedServerKeyBytes / 2) << p.name;
    }
  }
}

// ---- Noise ---------------------------------------------------------------------------------

TEST(MultiBitParameters, NoiseModelDispatch) {
  for (unsigned bits : {2u, 4u, 6u}) {
    const PbsParameters& p = preset_for_bits(bits);
    const double classic = variance_blind_rotation(p.lwe_dimension, p.glwe_dimension,
                                                   p.polynomial_size, p.pbs, p.glwe_noise);
    EXPECT_EQ(variance_pbs_output(p), classic);
    EXPECT_EQ(pbs_noise(p, 1e-12, 2.0).output, classic);
    for (std::size_t g = 2; g <= 4; ++g) {
      const PbsParameters q = with_factor(p, g);
      const double multi =
          variance_multi_bit_blind_rotation(p.lwe_dimension, GroupingFactor(g), p.glwe_dimension,
                                            p.polynomial_size, p.pbs, p.glwe_noise);
      EXPECT_EQ(variance_pbs_output(q), multi);
      EXPECT_GT(multi, classic);
      const PbsNoise a = pbs_noise(q, 1e-12, 2.0);
      const PbsNoise b = multi_bit_pbs_noise(p, GroupingFactor(g), 1e-12, 2.0);
      EXPECT_EQ(a.output, multi);
      EXPECT_EQ(a.output, b.output);
      EXPECT_EQ(a.total, b.total);
      EXPECT_EQ(a.log2_p_fail, pbs_noise(p, 1e-12, 2.0).log2_p_fail);
      EXPECT_EQ(log2_pbs_failure_probability(q),
                log2_multi_bit_pbs_failure_probability(p, GroupingFactor(g)));
      EXPECT_EQ(many_lut_pbs_noise(q, bits - 1, 1, 1e-12, 2.0).output, multi);
    }
  }
}

// ---- Keys and bootstraps -------------------------------------------------------------------

void expect_multi_bit_keys(const ServerKey& server, std::size_t g) {
  ASSERT_TRUE(server.multi_bit_bootstrap_key.has_value());
  EXPECT_EQ(server.multi_bit_bootstrap_key->shape.grouping_factor, GroupingFactor(g));
  EXPECT_EQ(server.multi_bit_bootstrap_key->shape,
            multi_bit_bootstrap_key_shape(server.parameters));
  EXPECT_TRUE(server.bootstrap_key.data.empty());
  EXPECT_EQ(server.bootstrap_key.shape, BootstrapKeyShape{});
  EXPECT_NO_THROW(validate_server_key(server));
}

TEST_F(MultiBitServerKey, KeysHoldOneKindOfBootstrappingKey) {
  const ClientKey client = generate_client_key(small_params(2), fixed_seed(1));
  const CompressedServerKey compressed = generate_compressed_server_key(client, fixed_seed(2));
  ASSERT_TRUE(compressed.multi_bit_bootstrap_key.has_value());
  EXPECT_TRUE(compressed.bootstrap_key.bodies.empty());
  EXPECT_NO_THROW(validate_compressed_server_key(compressed));
  expect_multi_bit_keys(decompress_server_key(compressed), 2);
  // Deterministic in the seed.
  EXPECT_EQ(generate_compressed_server_key(client, fixed_seed(2)).multi_bit_bootstrap_key,
            compressed.multi_bit_bootstrap_key);

  const ClientKey classic_client = generate_client_key(small_params(1), fixed_seed(1));
  const CompressedServerKey classic = generate_compressed_server_key(classic_client, fixed_seed(2));
  EXPECT_FALSE(classic.multi_bit_bootstrap_key.has_value());
  EXPECT_FALSE(classic.bootstrap_key.bodies.empty());

  // The wrong kind, or both kinds, are refused.
  CompressedServerKey both = compressed;
  both.bootstrap_key = classic.bootstrap_key;
  EXPECT_THROW(validate_compressed_server_key(both), InvalidArgument);
  CompressedServerKey none = compressed;
  none.multi_bit_bootstrap_key.reset();
  EXPECT_THROW(validate_compressed_server_key(none), InvalidArgument);
  CompressedServerKey short_key = compressed;
  short_key.multi_bit_bootstrap_key->bodies.pop_back();
  EXPECT_THROW(validate_compressed_server_key(short_key), InvalidArgument);
  CompressedServerKey other_factor = compressed;
  other_factor.parameters.grouping_factor = GroupingFactor(3);
  EXPECT_THROW(validate_compressed_server_key(other_factor), InvalidArgument);
  CompressedServerKey classic_with_multi = classic;
  classic_with_multi.multi_bit_bootstrap_key = compressed.multi_bit_bootstrap_key;
  EXPECT_THROW(validate_compressed_server_key(classic_with_multi), InvalidArgument);
  EXPECT_THROW(decompress_server_key(none), InvalidArgument);

  ServerKey server = decompress_server_key(compressed);
  const LookupTable identity = make_identity_table(server.parameters);
  EncryptionGenerator gen(fixed_seed(3), fixed_seed(4));
  const LweCiphertext ct = encrypt(client, 5, gen);
  server.multi_bit_bootstrap_key.reset();
  EXPECT_THROW(validate_server_key(server), InvalidArgument);
  EXPECT_THROW(keyswitch_bootstrap(server, ct, identity), InvalidArgument);
}

TEST_F(MultiBitServerKey, BootstrapsEveryMessageSingleAndBatch) {
  for (std::size_t g : {2u, 3u}) {
    SCOPED_TRACE("g = " + std::to_string(g));
    const PbsParameters p = small_params(g);
    const TestKeys& keys = keys_for(p);
    expect_multi_bit_keys(keys.server, g);
    const std::size_t count = std::size_t{1} << p.message_bits;
    const auto f = [&](std::uint64_t m) { return static_cast<std::int64_t>((3 * m + 1) % count); };
    const LookupTable table = make_lookup_table(p, f);
    EncryptionGenerator gen(fixed_seed(5), fixed_seed(6));
    // Every message twice, with a table per input: f, then the identity.
    const LookupTable identity = make_identity_table(p);
    LweCiphertextList in(p.big_lwe_dimension(), 2 * count);
    std::vector<const LookupTable*> tables;
    for (std::size_t i = 0; i < 2 * count; ++i) {
      const LweCiphertext ct = encrypt(keys.client, static_cast<std::int64_t>(i % count), gen);
      std::copy(ct.data().begin(), ct.data().end(), in[i].data().begin());
      tables.push_back(i < count ? &table : &identity);
    }
    LweCiphertextList out;
    keyswitch_bootstrap_batch(keys.server, in, tables, out);
    ASSERT_EQ(out.size(), in.size());
    for (std::size_t i = 0; i < 2 * count; ++i) {
      const std::uint64_t m = i % count;
      const std::uint64_t want = i < count ? static_cast<std::uint64_t>(f(m)) : m;
      EXPECT_EQ(decrypt(keys.client, out[i]), want) << "input " << i;
      // Bit-identical to the single form, which is the multi-bit bootstrap.
      const LweCiphertext single = keyswitch_bootstrap(keys.server, in[i], *tables[i]);
      EXPECT_TRUE(std::equal(single.data().begin(), single.data().end(), out[i].data().begin()))
          << "input " << i;
      LweCiphertext direct(p.big_lwe_dimension());
      keyswitch_multi_bit_bootstrap(keys.server.keyswitch_key, *keys.server.multi_bit_bootstrap_key,
                                    p.modulus_switch, in[i], *tables[i], direct);
      EXPECT_EQ(direct, single) << "input " << i;
    }
    // One table for all, and bootstrapping the outputs again (PBS outputs as inputs).
    LweCiphertextList again;
    const LookupTable* one[] = {&table};
    keyswitch_bootstrap_batch(keys.server, out, one, again);
    for (std::size_t i = 0; i < 2 * count; ++i)
      EXPECT_EQ(decrypt(keys.client, again[i]),
                static_cast<std::uint64_t>(f(decrypt(keys.client, out[i]))))
          << "input " << i;
    // A table of another N is refused up front.
    const LookupTable wrong = make_identity_table(preset_for_bits(3));
    const LookupTable* bad[] = {&wrong};
    EXPECT_THROW(keyswitch_bootstrap_batch(keys.server, in, bad, out), ParameterMismatch);
  }
}

// A multi-parameter circuit's cross keyswitch: inputs under another set's big key (here a
// classic set with k = 2) keyswitched to the multi-bit set's small key.
TEST_F(MultiBitServerKey, BatchWithCrossKeyswitchingKey) {
  PbsParameters source = small_params(1);
  source.name = "multi_bit_cross_source";
  source.glwe_dimension = GlweDimension(2);
  const TestKeys& from = keys_for(source);
  for (std::size_t g : {2u, 3u}) {
    SCOPED_TRACE("g = " + std::to_string(g));
    const PbsParameters p = small_params(g);
    const TestKeys& to = keys_for(p);
    const LweKeyswitchKey cross = decompress_keyswitch_key(
        generate_seeded_keyswitch_key(from.client.big_key.as_lwe_key(), to.client.small_key, p.ks,
                                      p.lwe_noise, fixed_seed(7), fixed_seed(8)));
    const std::size_t count = std::size_t{1} << p.message_bits;
    EncryptionGenerator gen(fixed_seed(9), fixed_seed(10));
    LweCiphertextList in(source.big_lwe_dimension(), count);
    for (std::size_t m = 0; m < count; ++m) {
      const LweCiphertext ct = encrypt(from.client, static_cast<std::int64_t>(m), gen);
      std::copy(ct.data().begin(), ct.data().end(), in[m].data().begin());
    }
    const auto f = [&](std::uint64_t m) { return static_cast<std::int64_t>(count - 1 - m); };
    const LookupTable table = make_lookup_table(p, f);
    const LookupTable* one[] = {&table};
    LweCiphertextList out;
    keyswitch_bootstrap_batch(to.server, in, one, out, &cross);
    ASSERT_EQ(out.dimension(), p.big_lwe_dimension());
    for (std::size_t m = 0; m < count; ++m)
      EXPECT_EQ(decrypt(to.client, out[m]), static_cast<std::uint64_t>(f(m))) << m;
    // Without the cross key the inputs have the wrong dimension.
    EXPECT_THROW(keyswitch_bootstrap_batch(to.server, in, one, out), ParameterMismatch);
  }
}

TEST_F(MultiBitServerKey, ManyLutSingleAndBatch) {
  for (std::size_t g : {2u, 3u}) {
    SCOPED_TRACE("g = " + std::to_string(g));
    const PbsParameters p = small_params(g);
    const TestKeys& keys = keys_for(p);
    // Two functions of 2-bit inputs (theta = 1) from one multi-bit blind rotation.
    const std::vector<std::function<std::int64_t(std::uint64_t)>> fs = {
        [](std::uint64_t m) { return static_cast<std::int64_t>(m + 1); },
        [](std::uint64_t m) { return static_cast<std::int64_t>(m * m); }};
    const ManyLookupTable lut = make_many_lookup_table(p, fs);
    ASSERT_EQ(lut.input_bits, 2u);
    const std::uint64_t mod = std::uint64_t{1} << p.message_bits;
    EncryptionGenerator gen(fixed_seed(11), fixed_seed(12));
    LweCiphertextList in(p.big_lwe_dimension(), 4);
    for (std::size_t m = 0; m < 4; ++m) {
      const LweCiphertext ct = encrypt(keys.client, static_cast<std::int64_t>(m << 1), gen);
      std::copy(ct.data().begin(), ct.data().end(), in[m].data().begin());
    }
    std::vector<LweCiphertextList> out;
    const ManyLookupTable* one[] = {&lut};
    keyswitch_many_lut_bootstrap_batch(keys.server, in, one, out);
    ASSERT_EQ(out.size(), 2u);
    for (std::size_t m = 0; m < 4; ++m) {
      const std::vector<LweCiphertext> single =
          keyswitch_many_lut_bootstrap(keys.server, in[m], lut);
      for (std::size_t j = 0; j < 2; ++j) {
        EXPECT_EQ(decrypt(keys.client, out[j][m]), static_cast<std::uint64_t>(fs[j](m)) % mod)
            << "m " << m << " f" << j;
        EXPECT_TRUE(
            std::equal(single[j].data().begin(), single[j].data().end(), out[j][m].data().begin()))
            << "m " << m << " f" << j;
      }
    }
    // A table per input (two packings of two functions, alternating).
    const std::vector<std::function<std::int64_t(std::uint64_t)>> gs = {
        [](std::uint64_t m) { return static_cast<std::int64_t>(3 - m); },
        [](std::uint64_t m) { return static_cast<std::int64_t>(2 * m + 1); }};
    const ManyLookupTable other = make_many_lookup_table(p, gs);
    const ManyLookupTable* per_input[] = {&lut, &other, &lut, &other};
    keyswitch_many_lut_bootstrap_batch(keys.server, in, per_input, out);
    for (std::size_t m = 0; m < 4; ++m)
      for (std::size_t j = 0; j < 2; ++j) {
        const auto& f = m % 2 == 0 ? fs[j] : gs[j];
        EXPECT_EQ(decrypt(keys.client, out[j][m]), static_cast<std::uint64_t>(f(m)) % mod)
            << "per-input tables, m " << m << " f" << j;
      }
  }
}

// ---- Serialization -------------------------------------------------------------------------

TEST_F(MultiBitServerKey, CompressedKeyRoundTripAndLoad) {
  for (std::size_t g : {2u, 3u}) {
    SCOPED_TRACE("g = " + std::to_string(g));
    const PbsParameters p = small_params(g);
    const ClientKey client = generate_client_key(p, fixed_seed(13));
    const CompressedServerKey compressed = generate_compressed_server_key(client, fixed_seed(14));
    const Bytes bytes = serialize_compressed_server_key(compressed);
    EXPECT_EQ(read_serialized_header(bytes).parameters_fingerprint, p.fingerprint());

    const CompressedServerKey back = deserialize_compressed_server_key(bytes, &p);
    EXPECT_EQ(back.parameters.fingerprint(), p.fingerprint());
    EXPECT_EQ(back.parameters.grouping_factor, GroupingFactor(g));
    EXPECT_EQ(back.keyswitch_key, compressed.keyswitch_key);
    EXPECT_EQ(back.bootstrap_key, compressed.bootstrap_key);
    EXPECT_EQ(back.multi_bit_bootstrap_key, compressed.multi_bit_bootstrap_key);
    // The size: the classic key's section replaced by the multi-bit one.
    const MultiBitBootstrapKeyShape& s = compressed.multi_bit_bootstrap_key->shape;
    const Bytes classic_bytes = serialize_compressed_server_key(generate_compressed_server_key(
        generate_client_key(small_params(1), fixed_seed(13)), fixed_seed(14)));
    const std::size_t classic_bsk = p.lwe_dimension.value() * 2 * 256 * 8;
    EXPECT_EQ(bytes.size(), classic_bytes.size() + 8 /* factor in the parameters */ +
                                8 /* g in the shape */ + s.seeded_key_bytes() - 32 - classic_bsk);

    // Loaded and expanded, it bootstraps.
    const ServerKey server = load_server_key(bytes, &p);
    expect_multi_bit_keys(server, g);
    EncryptionGenerator gen(fixed_seed(15), fixed_seed(16));
    const LookupTable table =
        make_lookup_table(p, [](std::uint64_t m) { return static_cast<std::int64_t>(m ^ 5); });
    for (std::int64_t m = 0; m < 8; ++m) {
      const LweCiphertext ct = encrypt(client, m, gen);
      EXPECT_EQ(decrypt(client, keyswitch_bootstrap(server, ct, table)),
                static_cast<std::uint64_t>(m ^ 5));
    }
    // Against the classic set of the same values: another fingerprint.
    const PbsParameters classic = small_params(1);
    EXPECT_THROW(deserialize_compressed_server_key(bytes, &classic), ParameterMismatch);
    // Client keys of a multi-bit set round-trip too (their parameters carry the factor).
    const ClientKey loaded = deserialize_client_key(serialize_client_key(client), &p);
    EXPECT_EQ(loaded.parameters.grouping_factor, GroupingFactor(g));

    // A malformed key cannot be written.
    CompressedServerKey none = compressed;
    none.multi_bit_bootstrap_key.reset();
    EXPECT_THROW(serialize_compressed_server_key(none), InvalidArgument);
  }
}

TEST_F(MultiBitServerKey, CraftedCompressedKeysRefused) {
  const PbsParameters p = small_params(2);
  const ClientKey client = generate_client_key(p, fixed_seed(17));
  const CompressedServerKey compressed = generate_compressed_server_key(client, fixed_seed(18));
  const Bytes bytes = serialize_compressed_server_key(compressed);
  const Bytes payload(bytes.begin() + kSerializedHeaderBytes,
                      bytes.end() - kSerializedChecksumBytes);
  const auto reseal = [&](Bytes b) {
    return serialization_detail::seal(SerializedKind::CompressedServerKey, p.fingerprint(),
                                      std::move(b));
  };
  EXPECT_NO_THROW(deserialize_compressed_server_key(reseal(payload)));
  // Locate the multi-bit shape: it follows the parameters and the seeded keyswitching key.
  ByteWriter params;
  serialization_detail::write_parameters(params, p);
  const std::size_t ksk_bytes = 4 * 8 + 32 + 8 + compressed.keyswitch_key.bodies.size() * 4;
  const std::size_t shape_at = params.data().size() + ksk_bytes;
  const auto put_u64 = [](Bytes& b, std::size_t at, std::uint64_t v) {
    ByteWriter w;
    w.u64(v);
    std::copy(w.data().begin(), w.data().end(), b.begin() + static_cast<std::ptrdiff_t>(at));
  };
  {  // The stored n, as read, is the parameters' one.
    ByteReader r{std::span(payload).subspan(shape_at, 16)};
    ASSERT_EQ(r.u64("n"), p.lwe_dimension.value());
    ASSERT_EQ(r.u64("g"), 2u);
  }
  for (std::uint64_t g : {1u, 3u, 5u}) {  // another grouping factor than the parameters'
    Bytes crafted = payload;
    put_u64(crafted, shape_at + 8, g);
    EXPECT_THROW(deserialize_compressed_server_key(reseal(crafted)), SerializationError) << g;
  }
  {  // a body count that is not the shape's
    Bytes crafted = payload;
    const std::size_t count_at = shape_at + 6 * 8 + 32;
    put_u64(crafted, count_at, compressed.multi_bit_bootstrap_key->bodies.size() - 1);
    EXPECT_THROW(deserialize_compressed_server_key(reseal(crafted)), SerializationError);
  }
  {  // truncated
    Bytes crafted(payload.begin(), payload.end() - 8);
    EXPECT_THROW(deserialize_compressed_server_key(reseal(crafted)), SerializationError);
  }
}

}  // namespace
}  // namespace torusml::tfhe::testing
